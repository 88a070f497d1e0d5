"""The tab's Train section: profile, memory check, Train / Interrupt, live progress and loss plot.

Training runs in a worker thread (training.train); the click handler is a generator that
polls the progress the host reports and yields the status and the loss plot about twice a
second, so gradio streams them. Interrupt sets the run's `threading.Event`; the host then
saves the adapter and a checkpoint, and a later run with "Resume" continues from it.
One run at a time per tab. The section reads the tab's Model, Dataset name and Template
through `DatasetParts` and hands Compare its own LoRA name through `TrainParts`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Any

from discord_echo.core.errors import EchoError
from discord_echo.frontends.ui.choices import REFRESH, lora_names
from discord_echo.frontends.ui.events import on_page_load
from discord_echo.frontends.ui.forms import config_from, widget_value, widgets_for
from discord_echo.frontends.ui.guard import guarded, owner_only
from discord_echo.frontends.ui.parts import DatasetParts, TrainParts
from discord_echo.frontends.ui.render import error_html
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import TrainProgress, TrainResult
from discord_echo.train.profiles import DEFAULT_PROFILE, PROFILES

log = logging.getLogger("discord_echo")
PREFIX = "discord-echo-train"
SERIES = ("train", "held-out")
COMPARING = "Compare/Evaluate is using the model; wait or cancel it"
_CARD = re.compile(r"(\d+) GB")


def card_gb(profile_name: str) -> float | None:
    """The card size a profile is named for (None for the CPU profile)."""
    match = _CARD.search(profile_name)
    return float(match[1]) if match else None


def memory_html(model: str, settings: TrainConfig, profile_name: str) -> tuple[str, bool]:
    """``(html, worrying)``: the VRAM estimate for a local model folder, with suggestions if it may not fit."""
    from discord_echo.train.vram import ModelShape, estimate_vram

    card = card_gb(profile_name)
    if not model or not (Path(model) / "config.json").is_file():
        return "<p>Memory check: give a local model folder to estimate GPU memory.</p>", False
    estimate = estimate_vram(ModelShape.from_pretrained_folder(model), settings)
    text = f"<b>Estimated GPU memory:</b> {estimate.total:.1f} GB ({escape(estimate.summary())})"
    if card is None:
        return f"<p>{text}. CPU profile: this runs in system memory instead.</p>", False
    tips = "".join(f"<li>{escape(t)}</li>" for t in estimate.suggest(card))
    if not estimate.fits(card):
        return f'<p style="color:#b91c1c">{text}: more than the {card:.0f} GB card. Try:</p><ul>{tips}</ul>', True
    if estimate.tight(card):
        return f'<p style="color:#a16207">{text}: tight on {card:.0f} GB. To be safe:</p><ul>{tips}</ul>', True
    return f"<p>{text}: fits the {card:.0f} GB card.</p>", False


def gpu_warning(profile_name: str, cuda: bool) -> str:
    """A warning for a graphics-card profile on a machine without CUDA (empty when there is nothing to say)."""
    if cuda or card_gb(profile_name) is None:
        return ""
    return (
        f'<p style="color:#a16207"><b>No CUDA GPU here:</b> the {escape(profile_name)} profile is made for a '
        "graphics card (4-bit loading, 8-bit optimizer). Training would fall back to full precision on the CPU, "
        "slowly; pick “CPU (no GPU)” for a small model on this machine.</p>"
    )


@dataclass
class _Job:
    """A training run in its worker thread: what it reported so far and how it ended (``result``/``error``)."""

    worker: threading.Thread
    stop: threading.Event | None = None  # what Interrupt sets for this run
    seen: list[TrainProgress] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


def progress_html(progress: TrainProgress | None, started: float) -> str:
    if progress is None:
        return "<p>Loading the model and the dataset…</p>"
    parts = [escape(p) for p in progress.parts()] + [f"epoch {progress.epoch:.2f}"]
    parts.append(f"{_duration(time.monotonic() - started)} so far")
    note = f"<br><i>{escape(progress.message)}</i>" if progress.message else ""
    return "<p><b>" + parts[0] + "</b> · " + " · ".join(parts[1:]) + note + "</p>"


def result_html(result: TrainResult) -> str:
    what = "Interrupted; saved" if result.interrupted else "Done. Saved"
    lines = [f"<b>{what}</b> the LoRA to {escape(str(result.adapter_dir))} after {result.steps} steps."]
    if result.final_eval_loss is not None:
        lines.append(f"Held-out loss: {result.final_eval_loss:.3f}.")
    if result.train_loss and result.train_loss[-1][1] < 1.0:
        lines.append(
            "Warning: training loss fell below 1.0, a sign of memorizing rather than learning a style; "
            "fewer epochs or a lower learning rate usually help."
        )
    if result.dropped_rows:
        lines.append(f"{result.dropped_rows} rows were longer than the cutoff and skipped.")
    if result.interrupted:
        from discord_echo.train.driver import newest_checkpoint

        if newest_checkpoint(Path(result.adapter_dir)) is not None:
            lines.append("Tick “Resume” and press Train to continue from the last checkpoint.")
        else:
            lines.append("No checkpoint was saved before the interrupt; Train again to start over.")
    lines += [escape(n) for n in result.notes]
    return "<p>" + "<br>".join(lines) + "</p>"


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return (
        f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m {seconds % 60:02d}s"
    )


def _loss_frame(points: list[tuple[int, float, str]]):
    """The loss plot's data; both series are always present (an empty one as a single NaN point).

    gradio 5's LinePlot fixes its colour legend from the first frame it gets, so a held-out
    series that appears only after some steps would never be drawn.
    """
    import pandas as pd

    rows = list(points)
    for series in SERIES:
        if not any(s == series for _, _, s in rows):
            rows.append((rows[0][0] if rows else 0, float("nan"), series))
    return pd.DataFrame(rows, columns=["step", "loss", "series"])


def _html(panel: TrainPanel, html: str) -> str:
    """A failed handler's output where it returns one HTML block."""
    return html


def _html_and_empty_plot(panel: TrainPanel, html: str) -> tuple[str, Any]:
    """A failed training run's outputs: the message and an empty loss plot."""
    return html, _loss_frame([])


class TrainPanel:
    """Components and handlers of the Train section (a part of `EchoTab`).

    ``dataset``: the tab's components the section reads; ``forget_comparer``: drops Compare's loaded
    model (called before training needs the memory and after the adapter on disk changed);
    ``comparing``: True while Compare or Evaluate is using the model (Train and Reload refuse then).
    """

    def __init__(
        self,
        context: Any,
        dataset: DatasetParts,
        forget_comparer: Callable[[], None] = lambda: None,
        comparing: Callable[[], bool] = lambda: False,
    ):
        self.context = context  # the tab's TabContext
        self.dataset = dataset
        self.forget_comparer = forget_comparer
        self.comparing = comparing
        self.c: dict[str, Any] = {}
        self.settings_widgets: dict[str, Any] = {}
        self.parts: TrainParts | None = None  # what Compare reads; set by build()
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._profile_name = context.default_profile  # for the card size in memory warnings
        self._job: _Job | None = None  # the running (or last) run, which a reloaded page reattaches to
        self.trained: Any = None  # the Train click's event (set by build)

    def build(self) -> None:
        import gradio as gr

        c, context = self.c, self.context
        gr.Markdown("### Train", elem_id=f"{PREFIX}-title")
        with gr.Row():
            c["lora"] = gr.Dropdown(
                label="LoRA name",
                choices=lora_names(context.loras_dir),
                value="my-echo-lora",
                allow_custom_value=True,  # a new name is typed; trained ones are offered
                elem_id=f"{PREFIX}-lora-name",
            )
            c["lora_refresh"] = gr.Button(REFRESH, elem_id=f"{PREFIX}-lora-refresh", scale=0, min_width=40)
            c["profile"] = gr.Dropdown(
                label="Hardware profile",
                choices=list(PROFILES),
                value=context.default_profile,
                elem_id=f"{PREFIX}-profile",
            )
        with gr.Accordion("Training settings", open=False, elem_id=f"{PREFIX}-settings"):
            self.settings_widgets = widgets_for(
                TrainConfig, f"{PREFIX}-setting", values=PROFILES.get(context.default_profile)
            )
        with gr.Row():
            c["resume"] = gr.Checkbox(label="Resume from the last checkpoint", value=False, elem_id=f"{PREFIX}-resume")
            c["overwrite"] = gr.Checkbox(
                label="Replace a LoRA of that name", value=False, elem_id=f"{PREFIX}-overwrite"
            )
        with gr.Row():
            c["check"] = gr.Button("Check memory", elem_id=f"{PREFIX}-check")
            if context.reload_4bit is not None:
                c["reload"] = gr.Button(
                    "Reload the model in 4-bit",
                    elem_id=f"{PREFIX}-reload-4bit",
                    interactive=owner_only(context),
                    visible=context.cuda(),  # 4-bit needs CUDA
                )
            c["train"] = gr.Button(
                "Train", variant="primary", interactive=owner_only(context), elem_id=f"{PREFIX}-start"
            )
            c["stop"] = gr.Button("Interrupt", variant="stop", elem_id=f"{PREFIX}-stop")
        c["memory"] = gr.HTML(elem_id=f"{PREFIX}-memory")  # Check memory / Reload: beside their buttons
        c["progress"] = gr.HTML(elem_id=f"{PREFIX}-progress")  # Train / Interrupt
        c["loss"] = gr.LinePlot(
            x="step", y="loss", color="series", title="Loss", x_title="step", y_title="loss", elem_id=f"{PREFIX}-loss"
        )
        self._wire()
        self.parts = TrainParts(lora=c["lora"], training=lambda: self.training, trained=self.trained)

    def _wire(self) -> None:
        c, widgets, dataset = self.c, list(self.settings_widgets.values()), self.dataset
        # The dataset's cutoff follows the profile too, so the trainer never drops a built row.
        c["profile"].change(self.on_profile, [c["profile"]], [*widgets, dataset.cutoff])
        c["profile"].change(self.on_profile_warning, [c["profile"]], [c["memory"]])  # before training, not after
        c["check"].click(self.on_check, [dataset.model, c["profile"], *widgets], [c["memory"]])
        inputs = [dataset.model, dataset.name, c["lora"], dataset.template, c["resume"], c["overwrite"], *widgets]
        if dataset.written is not None:
            inputs.append(dataset.written)  # last: on_train tells it from the settings by count
        self.trained = c["train"].click(self.on_train, inputs, [c["progress"], c["loss"]])
        self.trained.then(self.on_refresh_loras, [c["lora"]], [c["lora"]])
        if self.context.lora_menu is not None:  # webui: the Model tab's LoRA menu shows the applied LoRA
            menu, update = self.context.lora_menu
            self.trained.then(update, [], [menu])
        c["lora_refresh"].click(self.on_refresh_loras, [c["lora"]], [c["lora"]])
        c["stop"].click(self.on_stop, [], [c["progress"]])
        on_page_load(self.on_reattach, [], [c["progress"], c["loss"]])  # a reloaded page follows the run
        if "reload" in c:
            c["reload"].click(self.on_reload_4bit, widgets, [c["memory"]])

    # -- handlers ---------------------------------------------------------------------------
    def settings_from(self, values: list) -> TrainConfig:
        return config_from(TrainConfig, dict(zip(self.settings_widgets, values, strict=True)))

    def on_refresh_loras(self, current: str | None = None):
        """The LoRA dropdown with the LoRAs on disk now, keeping what is typed or picked."""
        import gradio as gr

        return gr.Dropdown(choices=lora_names(self.context.loras_dir), value=current, allow_custom_value=True)

    def on_profile_warning(self, name: str) -> str:
        """Beside Check memory when a profile is picked: a GPU profile on a machine without CUDA."""
        return gpu_warning(name, self.context.cuda())

    def on_profile(self, name: str) -> list:
        self._profile_name = name if name in PROFILES else DEFAULT_PROFILE
        settings = PROFILES.get(name, PROFILES[DEFAULT_PROFILE])
        return [widget_value(getattr(settings, field)) for field in self.settings_widgets] + [settings.cutoff_len]

    @guarded(_html, prefix="cannot estimate memory: ")
    def on_check(self, model, profile_name, *values):
        folder = self.dataset.tokenizer_for(model)
        estimate = memory_html(str(folder or ""), self.settings_from(list(values)), profile_name)[0]
        return gpu_warning(profile_name, self.context.cuda()) + estimate

    @guarded(_html, owner="reloading models")
    def on_reload_4bit(self, *values):
        """webui only: reload the loaded model with the profile's 4-bit settings (QLoRA)."""
        if self.training:
            raise EchoError("a training run is using the model; wait for it or interrupt it first")
        if self.comparing():
            raise EchoError(COMPARING)
        self.forget_comparer()
        notes = self.context.reload_4bit(self.settings_from(list(values)))
        return "<p>Reloaded in 4-bit.</p>" + "".join(f"<p>{escape(n)}</p>" for n in notes)

    def on_stop(self):
        stop = self._stop
        if stop is None:
            return "<p>Nothing is training.</p>"
        stop.set()
        job = self._job
        if job is None or job.stop is not stop:  # still rebuilding the dataset or checking memory
            return "<p>Interrupted: training will not start.</p>"
        return "<p>Stopping after the current step; the adapter and a checkpoint will be saved…</p>"

    @property
    def training(self) -> bool:
        """True while a run's worker thread is alive (other handlers refuse to touch the model then)."""
        return self._lock.locked()

    @guarded(_html_and_empty_plot, owner="training")
    def on_train(self, model, dataset, lora, template, resume, overwrite, *values):
        """Generator: yields (progress html, loss frame) while the worker thread trains.

        The worker thread owns the run (the lock and the stop event): if the browser goes away and
        gradio closes this generator, training goes on, Interrupt still reaches it, and no second
        run can start until it has finished. Errors (a refusal, a failed run) are the last update.
        """
        from discord_echo.train.driver import cutoff_mismatch, request_from_user_data

        values, written = self._split_written(values)
        if not self._lock.acquire(blocking=False):
            raise EchoError("a training run is already going; interrupt it first")
        # From here Interrupt reaches this run, also while the dataset is rebuilt before training starts.
        stop = self._stop = threading.Event()
        handed_over = False
        try:
            if self.comparing():  # asked after taking the lock: a Compare starting now sees the run and refuses
                raise EchoError(COMPARING)
            model = (self.context.loaded_model() if self.context.loaded_model else model or "").strip()
            settings = self.settings_from(list(values))

            def request_now():  # made again after a rebuild: whether <name>-eval.json exists may have changed
                request = request_from_user_data(
                    self.context.user_data,
                    (dataset or "").strip(),
                    model,
                    (lora or "").strip(),
                    settings,
                    template=template or CHAT_TEMPLATE,
                    resume=bool(resume),
                    overwrite=bool(overwrite),
                )
                return replace(request, loras_dir=self.context.loras_dir)

            request = request_now()
            if cutoff_mismatch(request) is not None and self._can_rebuild(written, request):
                # The profile was chosen after Write: build the dataset again for its cutoff instead of refusing.
                yield "<p>Rebuilding the dataset for this profile's cutoff…</p>", _loss_frame([])
                note = self.dataset.rebuild(written, settings.cutoff_len)
                yield f"<p>{escape(note)}</p>", _loss_frame([])
                request = request_now()
            try:
                folder = self.dataset.tokenizer_for(model)
                memory, worrying = memory_html(str(folder or ""), settings, self._profile_name)
            except EchoError:  # an odd config.json: the estimate is advice, never a reason not to train
                memory, worrying = "", False
            if worrying:  # shown before the model loads; the run still starts (estimates can be pessimistic)
                yield memory + "<p>Starting anyway…</p>", _loss_frame([])
            if stop.is_set():
                yield "<p>Interrupted before training started; nothing was trained.</p>", _loss_frame([])
                return
            handed_over = True
            yield from self._run(request, stop)
        finally:
            if not handed_over:
                self._stop = None
                self._lock.release()

    def _split_written(self, values: tuple) -> tuple[tuple, Any]:
        """``(settings values, what the last Write wrote)``: the State comes after the settings when wired."""
        if len(values) > len(self.settings_widgets):
            return values[: len(self.settings_widgets)], values[len(self.settings_widgets)]
        return values, None

    def _can_rebuild(self, written: Any, request: Any) -> bool:
        """True when this tab wrote the requested dataset (so it knows how) and can build it again.

        The exports it was built from must still be there: uploads are gradio's temporary copies, which the
        app deletes after a day (frontends/app.py); without them the usual cutoff refusal says what to do.
        """
        return (
            self.dataset.rebuild is not None
            and isinstance(written, dict)
            and written.get("name") == Path(request.dataset).stem
            and bool(written.get("paths"))
            and all(Path(path).exists() for path in written["paths"])
        )

    def _run(self, request, stop: threading.Event):
        """Start the worker thread with ``stop``, the event `on_train` made (Interrupt sets it), and follow it."""
        from discord_echo.train.driver import train

        self.forget_comparer()  # its model copy must not sit in memory beside training's

        def work() -> None:
            try:
                job.outcome["result"] = train(request, self.context.host_factory(), job.seen.append, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the UI thread below
                job.outcome["error"] = exc
            finally:
                self._stop = None
                self.forget_comparer()  # the adapter on disk changed
                self._lock.release()

        job = self._job = _Job(threading.Thread(target=work, name="discord-echo-train", daemon=True), stop=stop)
        job.worker.start()
        yield from self._follow(job)

    @guarded(_html_and_empty_plot)
    def on_reattach(self):
        """Generator, on page load: a run still going streams its progress into the reloaded page.

        Without a running one the page is left as it is (a single no-change update).
        """
        import gradio as gr

        job = self._job
        if job is None or not job.worker.is_alive() or not owner_only(self.context):
            yield gr.update(), gr.update()
            return
        yield from self._follow(job)

    def _follow(self, job: _Job):
        """Yield (progress html, loss frame) about twice a second until ``job`` ends, then its result."""
        seen = job.seen
        while job.worker.is_alive():
            job.worker.join(0.5)
            yield progress_html(seen[-1] if seen else None, job.started), _loss_frame(_points(seen))
        if "error" in job.outcome:
            error = job.outcome["error"]
            if isinstance(error, EchoError):
                raise error
            log.error("Discord Echo: training failed", exc_info=error)
            yield (
                error_html(f"training failed: {type(error).__name__}: {error} (see the console)"),
                _loss_frame(_points(seen)),
            )
            return
        result: TrainResult = job.outcome["result"]
        points = [(s, v, "train") for s, v in result.train_loss] + [(s, v, "held-out") for s, v in result.eval_loss]
        yield result_html(result), _loss_frame(points or _points(seen))

def _points(seen: list[TrainProgress]) -> list[tuple[int, float, str]]:
    points = [(p.step, p.loss, "train") for p in seen if p.loss is not None]
    points += [(p.step, p.eval_loss, "held-out") for p in seen if p.eval_loss is not None]
    return points
