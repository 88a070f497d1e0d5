"""The tab's Compare section: what I really said vs the base model vs the tuned one, and the numbers.

Pick a held-out conversation (from ``<dataset>-eval.json``) or type a message as the friend;
base and tuned replies stream into their columns from ONE loaded model, the adapter
switched off for the base (compare.Comparer). "Evaluate" fills a table for N held-out
prompts, scores held-out perplexity (mine and the friend's), compares style statistics,
shows warnings, and saves the Markdown report next to the LoRA. "Write character" saves
the webui character and says which mode/template makes chat render like training.
"""

from __future__ import annotations

import json
import logging
from html import escape
from pathlib import Path
from typing import Any

from discord_echo.core.errors import EchoError
from discord_echo.frontends.ui.forms import config_from, widgets_for
from discord_echo.frontends.ui.render import error_html

log = logging.getLogger("discord_echo")
PREFIX = "discord-echo-compare"
TYPED = "(type a message below)"


class ComparePanel:
    """Components and handlers of the Compare section (a part of `EchoTab`)."""

    def __init__(self, tab: Any):
        self.tab = tab
        self.context = tab.context
        self.c: dict[str, Any] = {}
        self.settings_widgets: dict[str, Any] = {}
        self._comparer: Any = None
        self._comparer_key: tuple | None = None

    def build(self) -> None:
        import gradio as gr

        from discord_echo.evaluate.comparer import CompareSettings

        c = self.c
        gr.Markdown("### Compare", elem_id=f"{PREFIX}-title")
        with gr.Row():
            c["load"] = gr.Button("Load held-out conversations", elem_id=f"{PREFIX}-load")
            c["pick"] = gr.Dropdown(
                label="Held-out conversation", choices=[TYPED], value=TYPED, elem_id=f"{PREFIX}-pick"
            )
        c["typed"] = gr.Textbox(label="…or write as your friend", elem_id=f"{PREFIX}-typed", lines=2)
        with gr.Accordion("Sampling", open=False, elem_id=f"{PREFIX}-sampling"):
            self.settings_widgets = widgets_for(CompareSettings, f"{PREFIX}-setting")
        # --multi-user: comparing loads models and applies LoRAs to the shared one, so it is off.
        c["go"] = gr.Button(
            "Compare", variant="primary", elem_id=f"{PREFIX}-go", interactive=not self.context.multi_user
        )
        c["status"] = gr.HTML(elem_id=f"{PREFIX}-status")
        c["prompt"] = gr.Textbox(label="Your friend said", interactive=False, lines=3, elem_id=f"{PREFIX}-prompt")
        with gr.Row():
            c["real"] = gr.Textbox(label="What you really said", interactive=False, lines=6, elem_id=f"{PREFIX}-real")
            c["base"] = gr.Textbox(label="Base model", interactive=False, lines=6, elem_id=f"{PREFIX}-base")
            c["tuned"] = gr.Textbox(label="Your echo (tuned)", interactive=False, lines=6, elem_id=f"{PREFIX}-tuned")
        with gr.Row():
            c["n"] = gr.Number(label="Held-out prompts to evaluate", value=8, precision=0, elem_id=f"{PREFIX}-n")
            c["evaluate"] = gr.Button(
                "Evaluate and save the report", elem_id=f"{PREFIX}-evaluate", interactive=not self.context.multi_user
            )
        c["numbers"] = gr.Dataframe(
            label="Held-out perplexity (lower is better)",
            headers=["held-out replies", "base", "tuned", "change", "scored tokens"],
            interactive=False,
            elem_id=f"{PREFIX}-numbers",
        )
        c["chart"] = gr.BarPlot(
            x="model", y="perplexity", color="replies", title="Perplexity, base vs tuned", elem_id=f"{PREFIX}-chart"
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
            elem_id=f"{PREFIX}-rows",
        )
        c["report"] = gr.HTML(elem_id=f"{PREFIX}-report")
        with gr.Row():
            c["character"] = gr.Button(
                "Write chat character", elem_id=f"{PREFIX}-character", interactive=not self.context.multi_user
            )
            c["replace_character"] = gr.Checkbox(
                label="Replace a character of that name", value=False, elem_id=f"{PREFIX}-replace-character"
            )
        c["instructions"] = gr.Markdown(elem_id=f"{PREFIX}-instructions")
        c["pairs"] = gr.State([])
        self._wire()

    def _wire(self) -> None:
        c, tab = self.c, self.tab.c
        lora = self.tab.train_panel.c["lora"]
        widgets = list(self.settings_widgets.values())
        c["load"].click(self.on_load, [tab["name"]], [c["status"], c["pick"], c["pairs"]])
        go_inputs = [tab["model"], lora, tab["template"], c["pairs"], c["pick"], c["typed"], tab["name"], *widgets]
        c["go"].click(self.on_compare, go_inputs, [c["status"], c["prompt"], c["real"], c["base"], c["tuned"]])
        eval_inputs = [tab["model"], lora, tab["template"], tab["name"], c["n"], *widgets]
        c["evaluate"].click(
            self.on_evaluate, eval_inputs, [c["status"], c["numbers"], c["chart"], c["style"], c["rows"], c["report"]]
        )
        c["character"].click(
            self.on_character, [tab["name"], tab["template"], c["replace_character"]], [c["status"], c["instructions"]]
        )

    # -- helpers ------------------------------------------------------------------------------
    def _dataset_files(self, dataset: str) -> tuple[Path, Path]:
        from discord_echo.dataset.writer import dataset_paths

        _, eval_path, sidecar = dataset_paths(self.context.user_data, (dataset or "").strip())
        return eval_path, sidecar

    def _held_out(self, dataset: str) -> list:
        eval_path, _ = self._dataset_files(dataset)
        if not eval_path.is_file():
            raise EchoError(f"{eval_path} not found: write a dataset with a held-out share first")
        try:
            rows = json.loads(eval_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EchoError(f"{eval_path}: cannot be read as a dataset ({exc}); write the dataset again") from exc
        if not isinstance(rows, list):
            raise EchoError(f"{eval_path}: not a list of rows; write the dataset again")
        return rows

    def forget(self) -> None:
        """Drop the loaded Comparer (training needs the memory, or the LoRA on disk changed)."""
        self._comparer = None
        self._comparer_key = None

    def comparer(self, model: str, lora: str, template: str) -> Any:
        """One Comparer per (model, LoRA, template); loading it is the slow part, switching is free."""
        from discord_echo.core.safe_files import contained_path, validate_name
        from discord_echo.evaluate.comparer import Comparer

        adapter = contained_path(self.context.loras_dir, validate_name((lora or "").strip(), "LoRA"))
        if not (adapter / "adapter_config.json").is_file():
            raise EchoError(f"{adapter}: no trained LoRA there yet; train one first")
        if self.context.multi_user:
            raise EchoError("comparing models is disabled in --multi-user mode")
        if self.tab.train_panel is not None and self.tab.train_panel.training:
            raise EchoError("a training run is using the model; compare when it has finished")
        model = (self.context.loaded_model() if self.context.loaded_model else model or "").strip()
        weights = adapter / "adapter_model.safetensors"
        # Retraining under the same name changes the file: the key makes us load the new adapter.
        key = (model, str(adapter), template, weights.stat().st_mtime_ns if weights.exists() else 0)
        if self._comparer_key != key:
            self._comparer = None  # free the previous model before loading another
            factory = self.context.comparer_factory or Comparer.load
            self._comparer = factory(
                model, adapter, template=template, templates_dir=self.context.user_data / "instruction-templates"
            )
            self._comparer_key = key
        return self._comparer

    def _settings(self, values: list) -> Any:
        from discord_echo.evaluate.comparer import CompareSettings

        return config_from(CompareSettings, dict(zip(self.settings_widgets, values, strict=True)))

    # -- handlers ------------------------------------------------------------------------------
    def on_load(self, dataset):
        from discord_echo.evaluate.metrics import held_out_pairs

        try:
            pairs = held_out_pairs(self._held_out(dataset))
        except (KeyError, TypeError, AttributeError) as exc:
            return (
                error_html(f"the held-out file has rows of another shape ({exc}); write the dataset again"),
                (self._dropdown([TYPED])),
                [],
            )
        except EchoError as exc:
            return error_html(str(exc)), self._dropdown([TYPED]), []
        labels = [TYPED] + [f"{i + 1}. {_short(p.friend_text)}" for i, p in enumerate(pairs)]
        status = f"{len(pairs)} held-out replies of yours. Pick one, or type a message, then Compare."
        return (
            status,
            self._dropdown(labels, labels[1] if len(labels) > 1 else TYPED),
            [{"prompt": p.prompt, "reply": p.reply} for p in pairs],
        )

    def _dropdown(self, choices: list[str], value: str = TYPED):
        import gradio as gr

        return gr.Dropdown(choices=choices, value=value)

    def on_compare(self, model, lora, template, pairs, pick, typed, dataset, *values):
        """Generator: the three columns, base then tuned streaming in."""
        from discord_echo.evaluate.characters import persona_of_build
        from discord_echo.evaluate.metrics import typed_pair

        try:
            settings = self._settings(list(values))
            if pick and pick != TYPED:
                chosen = pairs[int(pick.split(".", 1)[0]) - 1]
                prompt, real = chosen["prompt"], chosen["reply"]
            else:
                if not (typed or "").strip():
                    raise EchoError("pick a held-out conversation or type a message first")
                _, sidecar = self._dataset_files(dataset)
                persona = persona_of_build(sidecar)[1] if sidecar.is_file() else None
                pair = typed_pair(persona, typed.strip())
                prompt, real = pair.prompt, ""
            friend = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
            yield "Loading the model and the LoRA…", friend, real, "", ""
            comparer = self.comparer(model, lora, template)
            base = ""
            for base in comparer.stream(prompt, False, settings):
                yield "Base model replying…", friend, real, base, ""
            tuned = ""
            for tuned in comparer.stream(prompt, True, settings):
                yield "Your echo replying…", friend, real, base, tuned
            yield "Same prompt, same settings and seed for both.", friend, real, base, tuned
        except EchoError as exc:
            yield error_html(str(exc)), "", "", "", ""
        except Exception as exc:  # noqa: BLE001 - the UI boundary
            log.exception("Discord Echo: compare failed")
            yield error_html(f"unexpected {type(exc).__name__}: {exc} (see the console)"), "", "", "", ""

    def on_evaluate(self, model, lora, template, dataset, n, *values):
        import pandas as pd

        from discord_echo.evaluate.metrics import build_rendering
        from discord_echo.evaluate.report import (
            evaluate,
            perplexity_chart,
            perplexity_table,
            write_report,
        )
        from discord_echo.evaluate.style import style_table

        empty = pd.DataFrame()
        try:
            rows = self._held_out(dataset)
            _, sidecar = self._dataset_files(dataset)
            comparer = self.comparer(model, lora, template)
            me = _me_of(sidecar)
            rendering = build_rendering(sidecar, self.context.user_data / "instruction-templates")
            report = evaluate(comparer, rows, me, self._settings(list(values)), int(n or 8), rendering)
            report.instructions = _instructions(report.template, sidecar)
            path = None if self.context.multi_user else write_report(comparer.adapter_dir, report)
        except EchoError as exc:
            return error_html(str(exc)), empty, empty, empty, empty, ""
        except Exception as exc:  # noqa: BLE001 - the UI boundary (e.g. out of memory while scoring)
            log.exception("Discord Echo: evaluation failed")
            return (
                error_html(f"unexpected {type(exc).__name__}: {exc} (see the console)"),
                empty,
                empty,
                empty,
                empty,
                "",
            )
        headers, table = perplexity_table(report)
        style_headers, style_rows = style_table(report.style)
        side = pd.DataFrame(
            [(r.prompt, r.real, r.base, r.tuned) for r in report.rows], columns=["friend", "real", "base", "tuned"]
        )
        warnings = "".join(f'<li style="color:#a16207">{escape(w.message)}</li>' for w in report.warnings)
        saved = f"<p>Report saved to {escape(str(path))}.</p>" if path else ""
        details = f"<ul>{warnings}</ul>" if warnings else "<p>No warnings.</p>"
        status = "Evaluated on the held-out set." if not report.warnings else "Evaluated; see the warnings below."
        return (
            status,
            pd.DataFrame(table, columns=headers),
            pd.DataFrame(perplexity_chart(report)),
            pd.DataFrame(style_rows, columns=style_headers),
            side,
            saved + details,
        )

    def on_character(self, dataset, template, replace_existing):
        from discord_echo.evaluate.characters import chat_instructions, persona_of_build, write_character

        try:
            if self.context.multi_user:
                raise EchoError("writing files is disabled in --multi-user mode")
            _, sidecar = self._dataset_files(dataset)
            me, persona = persona_of_build(sidecar)
            if not persona:
                raise EchoError("this dataset was built without a persona system prompt; nothing to write")
            path = write_character(self.context.user_data, me, persona, overwrite=bool(replace_existing))
        except EchoError as exc:
            return error_html(str(exc)), ""
        return f"Wrote the character {escape(str(path))}.", chat_instructions(template, persona, character=path.stem)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _me_of(sidecar: Path) -> str:
    from discord_echo.evaluate.characters import persona_of_build

    return persona_of_build(sidecar)[0] if sidecar.is_file() else "me"


def _instructions(template: str, sidecar: Path) -> str:
    from discord_echo.evaluate.characters import chat_instructions, persona_of_build

    if not sidecar.is_file():
        return ""
    persona = persona_of_build(sidecar)[1]
    return chat_instructions(template, persona) if persona else ""
