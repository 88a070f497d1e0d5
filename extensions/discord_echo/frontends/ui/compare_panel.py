"""The tab's Compare section: what I really said vs the base model vs the tuned one, and the numbers.

Pick a held-out conversation (from ``<dataset>-eval.json``) or type a message as the friend;
base and tuned replies stream into their columns from ONE loaded model, the adapter
switched off for the base (evaluate/comparer.py). "Evaluate" fills a table for N held-out
prompts, scores held-out perplexity (mine and the friend's), compares style statistics,
shows warnings, and saves the Markdown report next to the LoRA. "Write character" saves
the webui character and says which mode/template makes chat render like training.

What it reads and decides (the held-out file, the persona, which conversation a choice means, when
the loaded Comparer is still good) is the library's `evaluate.session`; this module only lays out
and wires the components. Every handler reads the owner's data or models, so all are refused in
the webui's ``--multi-user`` mode (guard.py).
"""

from __future__ import annotations

import threading
from html import escape
from typing import Any

from discord_echo.core.errors import EchoError
from discord_echo.evaluate.session import (
    TYPED_PICK,
    ComparerCache,
    DatasetBuild,
    adapter_folder,
    chosen_prompt,
    first_pick,
    friend_of,
    is_typed,
    pair_rows,
    pick_choices,
)
from discord_echo.frontends.ui.choices import REFRESH, lora_names
from discord_echo.frontends.ui.forms import config_from, widgets_for
from discord_echo.frontends.ui.guard import guarded, owner_only
from discord_echo.frontends.ui.parts import DatasetParts, TrainParts
from discord_echo.frontends.ui.plots import perplexity_frame, zero_based
from discord_echo.frontends.ui.render import evaluation_html

PREFIX = "discord-echo-compare"


def gr_dropdown(choices: list[str], value: str | None):
    """A name dropdown's update: ``choices`` on disk, ``value`` kept (a typed new name stays)."""
    import gradio as gr

    return gr.Dropdown(choices=choices, value=value, allow_custom_value=True)


def _dropdown(choices: list[tuple[str, int]], value: int = TYPED_PICK):
    import gradio as gr

    return gr.Dropdown(choices=choices, value=value)


def _load_failed(panel: ComparePanel, html: str) -> tuple:
    return html, _dropdown(pick_choices([])), []


def _compare_failed(panel: ComparePanel, html: str) -> tuple:
    return html, "", "", "", ""


def _evaluate_failed(panel: ComparePanel, html: str) -> tuple:
    import pandas as pd

    empty = pd.DataFrame()
    return html, empty, empty, empty, empty, empty, "", None


def _blind_failed(panel: ComparePanel, html: str) -> tuple:
    return html, None, "", "", ""


def _character_failed(panel: ComparePanel, html: str) -> tuple:
    return html, ""


ECHO_HEADERS = ["measure", "real", "base", "tuned"]


def _round_fields(test: Any) -> tuple[str, str, str]:
    """The friend's message and replies A and B of the first unanswered round (empty when all are done)."""
    for round_, pick in zip(test.rounds, test.picks, strict=True):
        if pick is None:
            return round_.prompt, round_.options[0], round_.options[1]
    return "", "", ""


class EvaluationCancelled(EchoError):
    """Cancel was pressed: the evaluation stopped before its next step."""


class _Watched:
    """The Comparer as a running evaluation uses it: each slow call says what it does, and checks for Cancel.

    `report.evaluate` calls ``score`` (perplexities), ``batch`` (the replies) and ``adapter`` (topicality);
    everything else is the Comparer's own.
    """

    def __init__(self, comparer: Any, stop: threading.Event):
        self._comparer, self._stop = comparer, stop
        self.doing, self.steps = "reading the held-out set", 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._comparer, name)

    def _step(self, doing: str) -> None:
        if self._stop.is_set():
            raise EvaluationCancelled("evaluation cancelled")
        self.steps += 1
        self.doing = doing

    def score(self, rows: Any, adapter: bool, *args: Any, **kwargs: Any) -> Any:
        self._step(f"held-out perplexity with the {'tuned' if adapter else 'base'} model")
        return self._comparer.score(rows, adapter, *args, **kwargs)

    def batch(self, pairs: Any, *args: Any, **kwargs: Any) -> Any:
        self._step(f"base and tuned replies to {len(pairs)} held-out prompts")
        return self._comparer.batch(pairs, *args, **kwargs)

    def adapter(self, on: bool) -> Any:
        self._step("how on-topic the replies are")
        return self._comparer.adapter(on)


class ComparePanel:
    """Components and handlers of the Compare section (a part of `EchoTab`).

    ``dataset``: the tab's Model, Dataset name and Template; ``train``: the Train section's LoRA name
    and whether a run is using the model.
    """

    def __init__(self, context: Any, dataset: DatasetParts, train: TrainParts):
        self.context = context  # the tab's TabContext
        self.dataset = dataset
        self.train = train
        self.c: dict[str, Any] = {}
        self.settings_widgets: dict[str, Any] = {}
        self._comparers = ComparerCache()
        self._eval_stop: threading.Event | None = None  # set by Cancel; the running evaluation stops at its next step
        # How many Compare streams and Evaluate workers are using the model now (Train refuses while any is).
        self._users = 0
        self._users_lock = threading.Lock()

    def build(self) -> None:
        import gradio as gr

        from discord_echo.evaluate.comparer import CompareConfig

        c = self.c
        gr.Markdown("### Compare", elem_id=f"{PREFIX}-title")
        with gr.Row():
            # --multi-user: the held-out conversations are the owner's chats, so loading them is off.
            c["load"] = gr.Button(
                "Load held-out conversations", elem_id=f"{PREFIX}-load", interactive=owner_only(self.context)
            )
            # (label, value) choices: a handler gets the pair's index (or TYPED_PICK), never a label to parse.
            c["pick"] = gr.Dropdown(
                label="Held-out conversation",
                choices=pick_choices([]),
                value=TYPED_PICK,
                elem_id=f"{PREFIX}-pick",
            )
            # Any trained LoRA; it follows the Train section's LoRA name until another is picked.
            c["lora"] = gr.Dropdown(
                label="LoRA to compare",
                choices=lora_names(self.context.loras_dir),
                value=self.train.lora.value,
                allow_custom_value=True,
                elem_id=f"{PREFIX}-lora",
            )
            c["lora_refresh"] = gr.Button(REFRESH, elem_id=f"{PREFIX}-lora-refresh", scale=0, min_width=40)
        c["load_status"] = gr.HTML(elem_id=f"{PREFIX}-load-status")  # Load's result, beside its button
        c["typed"] = gr.Textbox(label="…or write as your friend", elem_id=f"{PREFIX}-typed", lines=2)
        with gr.Accordion("Sampling", open=False, elem_id=f"{PREFIX}-sampling"):
            self.settings_widgets = widgets_for(CompareConfig, f"{PREFIX}-setting")
        # --multi-user: comparing loads models and applies LoRAs to the shared one, so it is off.
        c["go"] = gr.Button("Compare", variant="primary", elem_id=f"{PREFIX}-go", interactive=owner_only(self.context))
        c["status"] = gr.HTML(elem_id=f"{PREFIX}-status")
        c["prompt"] = gr.Textbox(label="Your friend said", interactive=False, lines=3, elem_id=f"{PREFIX}-prompt")
        with gr.Row():
            c["real"] = gr.Textbox(label="What you really said", interactive=False, lines=6, elem_id=f"{PREFIX}-real")
            c["base"] = gr.Textbox(label="Base model", interactive=False, lines=6, elem_id=f"{PREFIX}-base")
            c["tuned"] = gr.Textbox(label="Your echo (tuned)", interactive=False, lines=6, elem_id=f"{PREFIX}-tuned")
        with gr.Row():
            c["n"] = gr.Number(label="Held-out prompts to evaluate", value=8, precision=0, elem_id=f"{PREFIX}-n")
            c["evaluate"] = gr.Button(
                "Evaluate and save the report", elem_id=f"{PREFIX}-evaluate", interactive=owner_only(self.context)
            )
            c["cancel"] = gr.Button("Cancel", variant="stop", elem_id=f"{PREFIX}-cancel")
        c["eval_status"] = gr.HTML(elem_id=f"{PREFIX}-eval-status")  # Evaluate's progress and result
        c["numbers"] = gr.Dataframe(
            label="Held-out perplexity (lower is better)",
            headers=["held-out replies", "base", "tuned", "change", "scored tokens"],
            interactive=False,
            elem_id=f"{PREFIX}-numbers",
        )
        # One bar per (replies, model), side by side: stacking would add my perplexity to the others'.
        c["chart"] = gr.BarPlot(
            x="bar",
            y="perplexity",
            color="model",
            title="Perplexity, base vs tuned",
            elem_id=f"{PREFIX}-chart",
            **zero_based(),
        )
        c["style"] = gr.Dataframe(
            label="Style: real vs base vs tuned",
            headers=["statistic", "real", "base", "tuned"],
            interactive=False,
            elem_id=f"{PREFIX}-style",
        )
        c["rows"] = gr.Dataframe(
            label="Side by side",
            headers=["friend", "real", "base", "tuned"],
            interactive=False,
            wrap=True,  # long replies wrap, so the tuned column is seen without scrolling sideways
            column_widths=["25%", "25%", "25%", "25%"],
            elem_id=f"{PREFIX}-rows",
        )
        c["echo"] = gr.Dataframe(
            label="Like you and on topic? (topicality: base model as judge, higher = more related to the message)",
            headers=ECHO_HEADERS,
            interactive=False,
            elem_id=f"{PREFIX}-echo",
        )
        c["report"] = gr.HTML(elem_id=f"{PREFIX}-report")
        gr.Markdown(
            "#### Which one is you?\nA blind test on the evaluated prompts: your real reply and your echo's, in a "
            "random order. Pick the one you wrote; the echo passes when you pick its reply.",
            elem_id=f"{PREFIX}-blind-title",
        )
        c["blind_start"] = gr.Button(
            "Start the blind test", elem_id=f"{PREFIX}-blind-start", interactive=owner_only(self.context)
        )
        c["blind_prompt"] = gr.Textbox(label="Your friend said", interactive=False, elem_id=f"{PREFIX}-blind-prompt")
        with gr.Row():
            c["blind_a"] = gr.Textbox(label="Reply A", interactive=False, elem_id=f"{PREFIX}-blind-a")
            c["blind_b"] = gr.Textbox(label="Reply B", interactive=False, elem_id=f"{PREFIX}-blind-b")
        with gr.Row():
            c["pick_a"] = gr.Button("A is me", elem_id=f"{PREFIX}-pick-a", interactive=owner_only(self.context))
            c["pick_b"] = gr.Button("B is me", elem_id=f"{PREFIX}-pick-b", interactive=owner_only(self.context))
        c["blind_score"] = gr.HTML(elem_id=f"{PREFIX}-blind-score")
        c["evaluated"] = gr.State(None)  # the last CompareReport, which the blind test adds to
        c["blind"] = gr.State(None)
        with gr.Row():
            c["character"] = gr.Button(
                "Write chat character", elem_id=f"{PREFIX}-character", interactive=owner_only(self.context)
            )
            c["replace_character"] = gr.Checkbox(
                label="Replace a character of that name", value=False, elem_id=f"{PREFIX}-replace-character"
            )
        c["character_status"] = gr.HTML(elem_id=f"{PREFIX}-character-status")  # Write character's result
        c["instructions"] = gr.Markdown(elem_id=f"{PREFIX}-instructions")
        c["pairs"] = gr.State([])
        self._wire()

    def _wire(self) -> None:
        c, dataset, lora = self.c, self.dataset, self.c["lora"]
        widgets = list(self.settings_widgets.values())
        self.train.lora.change(lambda name: name, [self.train.lora], [lora])  # follows Train's LoRA name
        c["lora_refresh"].click(self.on_refresh_loras, [lora], [lora])
        if self.train.trained is not None:  # a run just made a new LoRA: offer it
            self.train.trained.then(self.on_refresh_loras, [lora], [lora])
        c["load"].click(self.on_load, [dataset.name], [c["load_status"], c["pick"], c["pairs"]])
        go_inputs = [dataset.model, lora, dataset.template, c["pairs"], c["pick"], c["typed"], dataset.name, *widgets]
        c["go"].click(self.on_compare, go_inputs, [c["status"], c["prompt"], c["real"], c["base"], c["tuned"]])
        eval_inputs = [dataset.model, lora, dataset.template, dataset.name, c["n"], *widgets]
        evaluating = c["evaluate"].click(
            self.on_evaluate,
            eval_inputs,
            [c["eval_status"], c["numbers"], c["chart"], c["style"], c["echo"], c["rows"], c["report"], c["evaluated"]],
        )
        c["cancel"].click(self.on_cancel_evaluate, [], [c["eval_status"]], cancels=[evaluating])
        blind_outputs = [c["blind_score"], c["blind"], c["blind_prompt"], c["blind_a"], c["blind_b"]]
        c["blind_start"].click(self.on_blind_start, [c["evaluated"]], blind_outputs)
        c["pick_a"].click(self.on_blind_pick_a, [c["evaluated"], c["blind"]], blind_outputs)
        c["pick_b"].click(self.on_blind_pick_b, [c["evaluated"], c["blind"]], blind_outputs)
        c["character"].click(
            self.on_character,
            [dataset.name, dataset.template, c["replace_character"]],
            [c["character_status"], c["instructions"]],
        )

    def on_refresh_loras(self, current: str | None = None):
        """The LoRA dropdown with the LoRAs on disk now, keeping what is typed or picked."""
        return gr_dropdown(lora_names(self.context.loras_dir), current)

    def on_cancel_evaluate(self) -> str:
        """Cancel: the running evaluation stops before its next step (its partial numbers are not saved)."""
        stop = self._eval_stop
        if stop is None:
            return "<p>Nothing is being evaluated.</p>"
        stop.set()
        return "<p>Evaluation cancelled.</p>"

    # -- helpers ------------------------------------------------------------------------------
    def _build(self, dataset: str) -> DatasetBuild:
        return DatasetBuild.named(self.context.user_data, dataset)

    def forget(self) -> None:
        """Drop the loaded Comparer (training needs the memory, or the LoRA on disk changed)."""
        self._comparers.forget()

    def using_model(self) -> bool:
        """True while a Compare stream or an Evaluate worker is using the model (Train and Reload refuse then).

        Dropping the cached Comparer (`forget`) does not stop them: they hold their own reference and keep
        generating and switching the adapter, in the webui on the very model a run would train.
        """
        with self._users_lock:
            return self._users > 0

    def _use(self) -> None:
        """Count one more user of the model; taken before `comparer` checks for training, so one of the two
        always sees the other (Train takes its lock before asking `using_model`)."""
        with self._users_lock:
            self._users += 1

    def _done(self) -> None:
        with self._users_lock:
            self._users -= 1

    def comparer(self, model: str, lora: str, template: str) -> Any:
        """One Comparer per (model, LoRA, template); loading it is the slow part, switching is free.

        Retraining under the same name changes the adapter's weights file, which makes the cache load the
        new adapter (`evaluate.session.ComparerCache`).
        """
        from discord_echo.evaluate.comparer import Comparer

        adapter = adapter_folder(self.context.loras_dir, lora)
        if self.train.training():
            raise EchoError("a training run is using the model; compare when it has finished")
        model = (self.context.loaded_model() if self.context.loaded_model else model or "").strip()

        def load() -> Any:
            factory = self.context.comparer_factory or Comparer.load
            return factory(
                model, adapter, template=template, templates_dir=self.context.user_data / "instruction-templates"
            )

        return self._comparers.get(model, adapter, template, load)

    def _settings(self, values: list) -> Any:
        from discord_echo.evaluate.comparer import CompareConfig

        return config_from(CompareConfig, dict(zip(self.settings_widgets, values, strict=True)))

    # -- handlers ------------------------------------------------------------------------------
    @guarded(_load_failed, owner="reading the held-out conversations")
    def on_load(self, dataset):
        pairs = self._build(dataset).held_out_pairs()
        status = f"{len(pairs)} held-out replies of yours. Pick one, or type a message, then Compare."
        return status, _dropdown(pick_choices(pairs), first_pick(pairs)), pair_rows(pairs)

    @guarded(_compare_failed, owner="comparing models")
    def on_compare(self, model, lora, template, pairs, pick, typed, dataset, *values):
        """Generator: the three columns, base then tuned streaming in.

        ``pick``: the Held-out conversation's value, an index into ``pairs`` or `TYPED_PICK`.
        """
        settings = self._settings(list(values))
        # The persona is read only for a typed message: a picked pair's prompt already starts with it.
        persona = self._build(dataset).persona() if is_typed(pick) and (typed or "").strip() else None
        prompt, real = chosen_prompt(pairs or [], pick, typed, persona)
        friend = friend_of(prompt)
        yield "Loading the model and the LoRA…", friend, real, "", ""
        self._use()
        try:  # held until the stream ends or gradio closes it (the page went away)
            comparer = self.comparer(model, lora, template)
            base = ""
            for base in comparer.stream(prompt, False, settings):
                yield "Base model replying…", friend, real, base, ""
            tuned = ""
            for tuned in comparer.stream(prompt, True, settings):
                yield "Your echo replying…", friend, real, base, tuned
        finally:
            self._done()
        yield "Same prompt, same settings and seed for both.", friend, real, base, tuned

    @guarded(_evaluate_failed, owner="comparing models")
    def on_evaluate(self, model, lora, template, dataset, n, *values):
        """Generator: what the evaluation is doing (beside the button) while it runs, then the tables.

        It runs in a worker thread; Cancel (`on_cancel_evaluate`) stops it before its next step.
        """
        import gradio as gr
        import pandas as pd

        from discord_echo.evaluate.metrics import held_out_pairs
        from discord_echo.evaluate.report import echo_table, perplexity_chart, perplexity_table, write_report
        from discord_echo.evaluate.style import style_table

        build = self._build(dataset)
        rows = build.held_out_rows()  # before the slow model load: a missing file is said at once
        if not held_out_pairs(rows):
            raise EchoError(
                f"nothing to evaluate: dataset {(dataset or '').strip()} holds no held-out replies of yours; "
                "write it again with a held-out share (Samples: eval fraction above 0)"
            )
        settings = self._settings(list(values))
        templates_dir = self.context.user_data / "instruction-templates"
        stop = self._eval_stop = threading.Event()
        outcome: dict[str, Any] = {}
        watched: dict[str, _Watched] = {}

        def work() -> None:
            try:
                comparer = self.comparer(model, lora, template)
                watched["comparer"] = _Watched(comparer, stop)
                outcome["report"] = build.evaluate(watched["comparer"], settings, int(n or 8), templates_dir, rows=rows)
                if not stop.is_set():
                    outcome["path"] = write_report(comparer.adapter_dir, outcome["report"])
            except BaseException as exc:  # noqa: BLE001 - handed to the UI thread below
                outcome["error"] = exc
            finally:
                self._done()  # the worker, not the page, holds the model: Cancel ends it at its next step

        worker = threading.Thread(target=work, name="discord-echo-evaluate", daemon=True)
        self._use()
        try:
            worker.start()
        except BaseException:
            self._done()
            raise
        unchanged = [gr.update()] * 7
        while worker.is_alive():
            worker.join(0.5)
            doing = watched["comparer"].doing if "comparer" in watched else "loading the model and the LoRA"
            step = f" (step {watched['comparer'].steps})" if "comparer" in watched else ""
            yield (f"<p>Evaluating: {escape(doing)}{step}…</p>", *unchanged)
        if self._eval_stop is stop:
            self._eval_stop = None
        if "error" in outcome:
            raise outcome["error"]
        if stop.is_set():
            raise EvaluationCancelled("evaluation cancelled; nothing was saved")
        report, path = outcome["report"], outcome["path"]
        headers, table = perplexity_table(report)
        style_headers, style_rows = style_table(report.style)
        side = pd.DataFrame(
            [(r.prompt, r.real, r.base, r.tuned) for r in report.rows], columns=["friend", "real", "base", "tuned"]
        )
        status = "Evaluated on the held-out set." if not report.warnings else "Evaluated; see the warnings below."
        yield (
            status,
            pd.DataFrame(table, columns=headers),
            perplexity_frame(perplexity_chart(report)),
            pd.DataFrame(style_rows, columns=style_headers),
            pd.DataFrame(echo_table(report), columns=ECHO_HEADERS),
            side,
            evaluation_html([w.message for w in report.warnings], path),
            report,
        )

    # -- the blind test ---------------------------------------------------------------------------

    @guarded(_blind_failed, owner="reading the held-out conversations")
    def on_blind_start(self, report):
        from discord_echo.evaluate.blind_test import blind_test

        if report is None:
            raise EchoError("evaluate first: the blind test uses the evaluated prompts")
        test = blind_test(report.rows, seed=int(report.settings.get("seed", 0) or 0))
        return (escape(test.summary()), test, *_round_fields(test))

    def on_blind_pick_a(self, report, test):
        return self._blind_pick(report, test, 0)

    def on_blind_pick_b(self, report, test):
        return self._blind_pick(report, test, 1)

    @guarded(_blind_failed, owner="writing files")
    def _blind_pick(self, report, test, option: int):
        """Record the pick for the first unanswered round, save it in the report, show the next round."""
        from discord_echo.evaluate.report import write_report

        if report is None or test is None:
            raise EchoError("start the blind test first")
        open_rounds = [i for i, pick in enumerate(test.picks) if pick is None]
        if not open_rounds:
            return (escape(test.summary()) + " All rounds answered.", test, "", "", "")
        test.pick(open_rounds[0], option)
        report.blind = test
        if report.adapter:
            write_report(report.adapter, report)
        return (escape(test.summary()), test, *_round_fields(test))

    @guarded(_character_failed, owner="writing files")
    def on_character(self, dataset, template, replace_existing):
        build = self._build(dataset)
        path = build.write_character(self.context.user_data, overwrite=bool(replace_existing))
        return f"Wrote the character {escape(str(path))}.", build.instructions(template, character=path.stem)
