"""The Discord Echo tab: the same layout in the webui and in the standalone app.

Top to bottom: exports in -> summary and "who are you" -> options -> preview -> write the
dataset -> train (train_panel.py) -> compare (compare_panel.py). Handlers call the library
(dataset/pipeline.py, ingest/inspection.py) and return ``{component: value}`` dicts; `guarded` (guard.py) turns any
failure into a message in the tab's status box, so a bad file never shows a traceback or takes
the webui down, and refuses the owner-only actions in the webui's ``--multi-user`` mode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from discord_echo.core.errors import ConfigError, EchoError
from discord_echo.dataset.cleaning import CleaningConfig
from discord_echo.dataset.conversations import ConversationConfig
from discord_echo.dataset.pipeline import BuildConfig
from discord_echo.dataset.privacy.scrubber import PrivacyConfig
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.frontends.ui.choices import REFRESH, dataset_names, shown
from discord_echo.frontends.ui.events import on_page_load, on_page_unload
from discord_echo.frontends.ui.forms import config_from, widgets_for
from discord_echo.frontends.ui.guard import guarded, owner_only, refuse_unless_owner
from discord_echo.frontends.ui.parts import DatasetParts
from discord_echo.frontends.ui.plots import timeline_frame, zero_based
from discord_echo.frontends.ui.render import preview_html, report_html, summary_html
from discord_echo.frontends.ui.uploads import SessionUploads
from discord_echo.ingest.config import ReadConfig
from discord_echo.templates.chat import CHAT_TEMPLATE, available_instruction_templates

if TYPE_CHECKING:
    from discord_echo.frontends.ui.compare_panel import ComparePanel
    from discord_echo.frontends.ui.train_panel import TrainPanel


def _progress_default():
    """gr.Progress() as a handler default makes gradio show a progress bar; None where gradio is absent."""
    try:
        import gradio as gr
    except ImportError:
        return None
    return gr.Progress()


_PROGRESS = _progress_default()
PREFIX = "discord-echo"
STAGES = {
    "cleaning": CleaningConfig,
    "privacy": PrivacyConfig,
    "conversations": ConversationConfig,
    "dataset": DatasetConfig,
}
# Accordion titles are the BuildConfig fields' labels ("Cleaning", "Privacy", ...), written once there.
STAGE_TITLES = {f.name: f.metadata["label"] for f in fields(BuildConfig) if f.name != "read"}


@dataclass
class TabContext:
    """Where the tab reads and writes, and what the host offers. Made by script.py or app.py."""

    user_data: Path
    loras_dir: Path
    read_config: ReadConfig = field(default_factory=ReadConfig)
    multi_user: bool = False
    tokenizer_folder: Callable[[], Path | None] = lambda: None  # the loaded model's folder, if any
    host_factory: Callable[[], Any] | None = None  # makes the training Host (webui or standalone)
    loaded_model: Callable[[], str | None] | None = None  # webui: the model it has loaded
    default_model: Callable[[], str] = lambda: ""  # standalone: a model folder to offer
    sample: Path | None = None  # standalone: the bundled sample export, offered with one click
    # Makes the evaluate/comparer.py Comparer: standalone loads base + LoRA once (Comparer.load); the webui wraps
    # the model it already has loaded instead of loading a second copy.
    comparer_factory: Callable[..., Any] | None = None
    default_profile: str = "8 GB (RTX 3060 Ti)"  # profiles.DEFAULT_PROFILE; the app's demo picks its own
    # webui: reload the loaded model in 4-bit with a profile's settings; returns notes to show.
    reload_4bit: Callable[[Any], list[str]] | None = None
    cuda: Callable[[], bool] = lambda: _cuda_available()  # a CUDA GPU to train on (GPU profiles warn without)
    # webui: the Model tab's LoRA menu and a function giving its update, refreshed when training ends.
    lora_menu: tuple[Any, Callable[[], Any]] | None = None


def _cuda_available() -> bool:
    from discord_echo.evaluate.model_loading import cuda_available

    return cuda_available()


def _in_status(tab: EchoTab, html: str) -> dict:
    """A failed handler's outputs: the message in the tab's status box, nothing else changed."""
    return {tab.c["status"]: html}


def _in_write_status(tab: EchoTab, html: str) -> dict:
    """A failed Write's outputs: the message beside the Write button, nothing else changed."""
    return {tab.c["write_status"]: html}


def _in_preview_status(tab: EchoTab, html: str) -> dict:
    """A failed Preview's outputs: the message beside the Preview button, nothing else changed."""
    return {tab.c["preview_status"]: html}


class EchoTab:
    """Builds the components inside the current gradio layout and wires their events."""

    def __init__(self, context: TabContext):
        self.context = context
        self.c: dict[str, Any] = {}  # name -> component
        self.forms: dict[str, dict[str, Any]] = {}
        self.parts: DatasetParts | None = None  # what Train and Compare read; set by build()
        self.train_panel: TrainPanel | None = None  # where the context has a trainer (host_factory)
        self.compare_panel: ComparePanel | None = None  # built with the Train section
        self.uploads = SessionUploads()  # what each session uploaded, removed when its page closes

    # -- layout -----------------------------------------------------------------------------
    def build(self) -> None:
        import gradio as gr

        c = self.c
        gr.Markdown("Turn your DiscordChatExporter export into a LoRA that writes like you.", elem_id=f"{PREFIX}-intro")
        with gr.Row():
            c["files"] = gr.File(
                label="Exports (JSON, CSV, TXT, HTML or zip)",
                file_count="multiple",
                type="filepath",
                elem_id=f"{PREFIX}-upload",
            )
            with gr.Column():
                c["folder"] = gr.Textbox(
                    label="…or a folder on this machine",
                    elem_id=f"{PREFIX}-folder",
                    placeholder="/path/to/exports",
                    interactive=owner_only(self.context),  # others' files must stay out of reach
                )
                c["read"] = gr.Button("Read exports", variant="primary", elem_id=f"{PREFIX}-read")
                if self.context.sample is not None:
                    c["use_sample"] = gr.Button("Use the bundled sample", elem_id=f"{PREFIX}-use-sample")
        c["status"] = gr.HTML(elem_id=f"{PREFIX}-status")
        c["summary"] = gr.HTML(elem_id=f"{PREFIX}-summary")
        with gr.Row():
            c["authors"] = gr.Dataframe(
                headers=["author", "id", "messages", "bot"],
                interactive=False,
                label="Authors",
                elem_id=f"{PREFIX}-authors",
            )
            c["timeline"] = gr.BarPlot(
                x="period", y="messages", title="Messages over time", elem_id=f"{PREFIX}-timeline", **zero_based()
            )
        c["me"] = gr.Dropdown(
            label="Which one is you?",
            choices=[],
            multiselect=True,
            elem_id=f"{PREFIX}-me",
            info="Pick every name you wrote under (old name#1234, new username...).",
        )
        from discord_echo.train.profiles import profile

        # Samples are built for the cutoff the chosen training profile uses, so the trainer drops none.
        starting = {"dataset": DatasetConfig(cutoff_len=profile(self.context.default_profile).cutoff_len)}
        for stage, cls in STAGES.items():
            with gr.Accordion(STAGE_TITLES[stage], open=False, elem_id=f"{PREFIX}-{stage}-options"):
                self.forms[stage] = widgets_for(cls, f"{PREFIX}-{stage}", values=starting.get(stage))
        with gr.Row():
            c["model"] = gr.Textbox(
                label="Model",
                value=self.context.default_model(),
                interactive=self.context.loaded_model is None,
                info="Its tokenizer counts tokens exactly; training uses it too. In the webui: the loaded model.",
                elem_id=f"{PREFIX}-model",
            )
            if self.context.loaded_model is not None:  # webui: the box follows the Model tab's model
                c["model_refresh"] = gr.Button(REFRESH, elem_id=f"{PREFIX}-model-refresh", scale=0, min_width=40)
            templates = [
                CHAT_TEMPLATE,
                *available_instruction_templates(self.context.user_data / "instruction-templates"),
            ]
            c["template"] = gr.Dropdown(
                label="Template",
                choices=templates,
                value=CHAT_TEMPLATE,
                info="How turns are written for the model, in training and in chat. 'Chat Template' = the model's own.",
                elem_id=f"{PREFIX}-template",
            )
        c["preview_button"] = gr.Button("Preview samples", elem_id=f"{PREFIX}-preview-button")
        c["preview_status"] = gr.HTML(elem_id=f"{PREFIX}-preview-status")  # Preview's result, beside its button
        c["report"] = gr.HTML(elem_id=f"{PREFIX}-report")
        c["lengths"] = gr.BarPlot(x="tokens", y="samples", title="Sample lengths", elem_id=f"{PREFIX}-lengths")
        c["preview"] = gr.HTML(elem_id=f"{PREFIX}-preview")
        with gr.Row():
            c["name"] = gr.Dropdown(
                label="Dataset name",
                choices=dataset_names(self.context.user_data),
                value="my-echo",
                allow_custom_value=True,  # a new name is typed; written ones are offered
                elem_id=f"{PREFIX}-dataset-name",
            )
            c["name_refresh"] = gr.Button(REFRESH, elem_id=f"{PREFIX}-dataset-refresh", scale=0, min_width=40)
            c["overwrite"] = gr.Checkbox(
                label="Replace a dataset of that name", value=False, elem_id=f"{PREFIX}-overwrite"
            )
            c["write"] = gr.Button(
                "Write dataset", variant="primary", interactive=owner_only(self.context), elem_id=f"{PREFIX}-write"
            )
        c["write_status"] = gr.HTML(elem_id=f"{PREFIX}-write-status")  # Write's result, beside its button
        c["paths"] = gr.State([])
        c["result"] = gr.State(None)
        c["recipe"] = gr.State(None)  # what the previewed samples were built from (Preview)
        c["written"] = gr.State(None)  # the recipe and name of the dataset Write wrote (Train can rebuild it)
        self.parts = DatasetParts(
            model=c["model"],
            name=c["name"],
            template=c["template"],
            cutoff=self.forms["dataset"]["cutoff_len"],
            tokenizer_for=self.tokenizer_for,
            written=c["written"],
            rebuild=self.rebuild,
        )
        if self.context.host_factory is not None:
            from discord_echo.frontends.ui.compare_panel import ComparePanel
            from discord_echo.frontends.ui.train_panel import TrainPanel

            self.train_panel = TrainPanel(self.context, self.parts, self.forget_comparer, self.comparing)
            self.train_panel.build()
            self.compare_panel = ComparePanel(self.context, self.parts, self.train_panel.parts)
            self.compare_panel.build()
        from discord_echo.frontends.ui.export_panel import ExportPanel

        self.export_panel = ExportPanel(self.context, self.parts, self.train_panel.parts if self.train_panel else None)
        self.export_panel.build()
        self._wire()

    def _wire(self) -> None:
        c = self.c
        option_inputs = [w for stage in STAGES for w in self.forms[stage].values()]
        read_outputs = [c["status"], c["summary"], c["authors"], c["timeline"], c["me"], c["paths"]]
        c["read"].click(self.on_read, [c["files"], c["folder"]], read_outputs)
        if "use_sample" in c:
            c["use_sample"].click(lambda: self.on_read([str(self.context.sample)], ""), [], read_outputs)
        preview_outputs = [c["preview_status"], c["report"], c["lengths"], c["preview"], c["result"], c["recipe"]]
        preview_inputs = [c["paths"], c["me"], c["model"], c["template"], *option_inputs]
        c["preview_button"].click(self.on_preview, preview_inputs, preview_outputs)
        c["write"].click(
            self.on_write,
            [c["result"], c["name"], c["overwrite"], c["recipe"]],
            [c["write_status"], c["written"], c["name"]],
        )
        c["name_refresh"].click(self.on_refresh_datasets, [c["name"]], [c["name"]])
        self._wire_upload_cleanup()
        if "model_refresh" in c:
            c["model_refresh"].click(self.on_refresh_model, [], [c["model"]])
            on_page_load(self.on_refresh_model, [], [c["model"]])

    def _wire_upload_cleanup(self) -> None:
        """Remember each session's uploads and remove gradio's copies of them when its page closes."""
        import gradio as gr

        def remember(files, request):
            if request is not None:
                self.uploads.remember(request.session_hash, [str(f) for f in files or []])

        def forget(request):
            if request is not None:
                self.uploads.forget(request.session_hash)

        # gradio hands the session's request only to a parameter annotated with its class; set at run time,
        # since this module's annotations are strings gradio would resolve in a namespace without gradio.
        remember.__annotations__["request"] = gr.Request
        forget.__annotations__["request"] = gr.Request
        self.c["files"].upload(remember, [self.c["files"]], [])
        on_page_unload(forget)

    def on_refresh_datasets(self, current: str | None = None):
        """The Dataset dropdown with the datasets on disk now, keeping what is typed or picked."""
        return _named_dropdown(dataset_names(self.context.user_data), current)

    def on_refresh_model(self) -> str:
        """webui: the model the Model tab has loaded now (the Model box shows it; every action reads it)."""
        return (self.context.loaded_model() if self.context.loaded_model else "") or ""

    # -- handlers ---------------------------------------------------------------------------
    @guarded(_in_status)
    def on_read(self, files, folder, progress=_PROGRESS):
        import pandas as pd

        from discord_echo.dataset.participants import participants_from_counts
        from discord_echo.ingest.inspection import inspect_exports

        paths = [str(f) for f in (files or [])]
        if folder and folder.strip():
            refuse_unless_owner(self.context, "reading folders on the server", "upload the files")
            if not Path(folder.strip()).is_dir():
                raise EchoError(f"{folder.strip()}: no such folder on this machine")
            paths.append(folder.strip())
        if not paths:
            raise EchoError("add export files or a folder first")
        months: Counter[str] = Counter()
        authors: Counter = Counter()
        read = 0

        def observe(message) -> None:
            nonlocal read
            read += 1
            months[f"{message.timestamp:%Y-%m}"] += 1
            authors[message.author] += 1
            if progress is not None and read % 20_000 == 0:
                progress(None, desc=f"{read:,} messages read")

        try:
            summaries = inspect_exports(paths, self.context.read_config, observe)
        except EchoError as exc:  # name an uploaded file by its own name, not gradio's temporary path
            raise EchoError(shown(str(exc), paths)) from exc
        summaries = [_shown_summary(s, paths) for s in summaries]
        people = participants_from_counts(authors)
        rows = [[p.label, ", ".join(sorted(p.ids)), p.count, "yes" if p.is_bot else ""] for p in people]
        choices = [(f"{p.label} · {p.count:,} messages", p.key) for p in people if not p.is_bot]
        timeline = timeline_frame(months)
        status = f"Read {read:,} messages from {len(summaries)} file(s). Now pick who you are."
        if not read:
            status = (
                f"No messages found in {len(summaries)} file(s); see why for each file below, "
                "then add DiscordChatExporter exports (JSON, CSV, TXT, HTML or zip)."
            )
        return {
            self.c["status"]: status,
            self.c["summary"]: summary_html(summaries),
            self.c["authors"]: pd.DataFrame(rows, columns=["author", "id", "messages", "bot"]),
            self.c["timeline"]: timeline,
            self.c["me"]: _dropdown(choices),
            self.c["paths"]: paths,
        }

    def settings_from(self, values: list) -> Any:

        configs, position = {}, 0
        for stage, cls in STAGES.items():
            names = list(self.forms[stage])
            configs[stage] = config_from(cls, dict(zip(names, values[position : position + len(names)], strict=True)))
            position += len(names)
        return BuildConfig(read=self.context.read_config, **configs)

    @guarded(_in_preview_status)
    def on_preview(self, paths, me, model, template, progress=_PROGRESS, *values):
        # progress sits before *values: gradio injects gr.Progress only into positional parameters.
        import pandas as pd

        from discord_echo.dataset.pipeline import build_dataset
        from discord_echo.templates.chat import load_renderer

        if not paths:
            raise EchoError("read your exports first")
        if not me:
            raise EchoError("pick which author is you")
        settings = self.settings_from(list(values))
        tokenizer = self.tokenizer_for(model)
        typed = (model or "").strip() and self.context.loaded_model is None
        if tokenizer is None and typed and template in (None, "", CHAT_TEMPLATE):
            # Said of the Model box itself: the renderer alone could only say a tokenizer folder is missing.
            raise ConfigError(
                "model",
                model.strip(),
                "no model folder here (one holding config.json and its tokenizer); give a local model's folder, "
                "or pick a named template to build with estimated token counts",
            )
        renderer = load_renderer(tokenizer, template, self.context.user_data / "instruction-templates")
        steps = (lambda fraction, what: progress(fraction, desc=what)) if progress is not None else None
        try:
            result = build_dataset(paths, list(me), settings, renderer, steps)
        except EchoError as exc:  # uploaded files by their own names
            raise EchoError(shown(str(exc), paths)) from exc
        report = result.report()
        report["same_channel"] = [shown(w, paths) for w in report.get("same_channel", [])]
        first = result.train[:3]
        lengths = pd.DataFrame(
            [(f"{lo}-{hi}", n) for lo, hi, n in result_histogram(report)], columns=["tokens", "samples"]
        )
        return {
            self.c[
                "preview_status"
            ]: f"{len(result.train):,} training samples ready. Check them below, then write the dataset.",
            self.c["report"]: report_html(report),
            self.c["lengths"]: lengths,
            self.c["preview"]: preview_html([renderer.segments(s.messages) for s in first], [s.tokens for s in first]),
            self.c["result"]: (result, settings),
            self.c["recipe"]: {"paths": list(paths), "me": list(me), "model": model, "template": template},
        }

    def forget_comparer(self) -> None:
        """Drop the Compare section's loaded model (training is about to use memory / changed the LoRA)."""
        if self.compare_panel is not None:
            self.compare_panel.forget()

    def comparing(self) -> bool:
        """True while the Compare section's Compare or Evaluate is using the model (Train refuses then)."""
        return self.compare_panel is not None and self.compare_panel.using_model()

    def tokenizer_for(self, model: str | None) -> Path | None:
        """The tokenizer folder for exact counts: the webui's loaded model, or the Model box's folder."""
        if self.context.loaded_model is not None:
            return self.context.tokenizer_folder()
        folder = Path((model or "").strip())
        return folder if str(folder) not in ("", ".") and (folder / "config.json").is_file() else None

    @guarded(_in_write_status, owner="writing files")
    def on_write(self, stored, name, overwrite, recipe=None):
        """Write the previewed samples as dataset ``name``; the result (or error) shows beside the button.

        ``recipe``: what Preview built them from; kept with the name so Train can rebuild the dataset for
        another profile's cutoff (`rebuild`).
        """
        from discord_echo.dataset.pipeline import write_build

        if not stored:
            raise EchoError("preview the samples first")
        result, settings = stored
        name = (name or "").strip()
        written = write_build(result, settings, self.context.user_data, name, overwrite=bool(overwrite))
        where = f"{written.train.name}" + (f" and {written.eval.name}" if written.eval else "")
        done = {**recipe, "name": name, "settings": settings} if recipe else None
        return {
            self.c["write_status"]: f"Wrote {where} to {written.train.parent} (cutoff {settings.dataset.cutoff_len}).",
            self.c["written"]: done,
            self.c["name"]: _named_dropdown(dataset_names(self.context.user_data), name),
        }

    def rebuild(self, written: dict, cutoff: int) -> str:
        """Build dataset ``written["name"]`` again from what Write wrote it from, for ``cutoff``; a note saying so.

        Train calls it when the dataset was built for a longer cutoff than the chosen profile trains with, so
        the order of choices (profile after Write) never refuses a run.
        """
        from dataclasses import replace

        from discord_echo.dataset.pipeline import build_dataset, write_build
        from discord_echo.templates.chat import load_renderer

        settings = written["settings"]
        before = settings.dataset.cutoff_len
        settings = replace(settings, dataset=replace(settings.dataset, cutoff_len=int(cutoff)))
        folder = self.tokenizer_for(written["model"])
        renderer = load_renderer(folder, written["template"], self.context.user_data / "instruction-templates")
        result = build_dataset(written["paths"], written["me"], settings, renderer)
        write_build(result, settings, self.context.user_data, written["name"], overwrite=True)
        longest = result.report()["samples"]["max_tokens"]
        return (
            f"Rebuilt dataset {written['name']} for cutoff {cutoff}, the profile's (it was written for {before}): "
            f"{len(result.train):,} training samples, longest {longest} tokens."
        )


def result_histogram(report: dict) -> list[tuple[int, int, int]]:
    return [(b["low"], b["high"], b["count"]) for b in report["samples"]["token_histogram"]]


def _shown_summary(summary: Any, paths: list[str]) -> Any:
    """``summary`` with uploaded files named by their own names (`choices.shown`) in its path, error and warnings."""
    from dataclasses import replace

    return replace(
        summary,
        path=shown(summary.path, paths),
        error=shown(summary.error, paths) if summary.error else summary.error,
        warnings=[shown(w, paths) for w in summary.warnings],
    )


def _named_dropdown(names: list[str], value: str | None):
    """A name dropdown's update: ``names`` on disk, ``value`` kept (a typed new name stays)."""
    import gradio as gr

    return gr.Dropdown(choices=names, value=value, allow_custom_value=True)


def _dropdown(choices: list[tuple[str, str]]):
    import gradio as gr

    # Choices first, value with them: the webui's gradio fork validates value against choices.
    return gr.Dropdown(choices=choices, value=None)


def build_tab(context: TabContext) -> EchoTab:
    """Build the tab inside the current gradio layout (a webui ``gr.Tab`` or the app's Blocks)."""
    tab = EchoTab(context)
    tab.build()
    return tab
