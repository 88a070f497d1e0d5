"""The tab's Export section: the dataset for axolotl / LLaMA-Factory / TRL, and the LoRA merged into its model.

Reads the tab's Model, Dataset name and Template (``DatasetParts``) and the Train section's LoRA name
(``TrainParts``); the export takes the settings of the LoRA's run when that LoRA exists, else the 8 GB profile's.
Both buttons write files, so they are the owner's only (guard.py).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from discord_echo.core.errors import EchoError
from discord_echo.frontends.export_cli import export_request
from discord_echo.frontends.ui.guard import guarded, owner_only
from discord_echo.frontends.ui.parts import DatasetParts, TrainParts
from discord_echo.train.engines.common import ENGINES

PREFIX = "discord-echo-export"


def _html(panel: ExportPanel, html: str) -> str:
    return html


class ExportPanel:
    """Components and handlers of the Export section (a part of `EchoTab`)."""

    def __init__(self, context: Any, dataset: DatasetParts, train: TrainParts | None):
        self.context = context
        self.dataset = dataset
        self.train = train
        self.c: dict[str, Any] = {}

    def build(self) -> None:
        import gradio as gr

        c = self.c
        gr.Markdown("### Export: train elsewhere, or chat without the LoRA", elem_id=f"{PREFIX}-title")
        with gr.Row():
            c["engine"] = gr.Dropdown(label="Engine", choices=list(ENGINES), value="trl", elem_id=f"{PREFIX}-engine")
            c["overwrite"] = gr.Checkbox(label="Replace an existing folder", value=False, elem_id=f"{PREFIX}-overwrite")
            c["export"] = gr.Button("Export dataset", interactive=owner_only(self.context), elem_id=f"{PREFIX}-run")
            c["merge"] = gr.Button("Merge LoRA into the model", interactive=owner_only(self.context),
                                   elem_id=f"{PREFIX}-merge")  # fmt: skip
        c["status"] = gr.HTML(elem_id=f"{PREFIX}-status")
        lora = [self.train.lora] if self.train is not None else []
        inputs = [self.dataset.model, self.dataset.name, self.dataset.template, c["engine"], c["overwrite"], *lora]
        c["export"].click(self.on_export, inputs, [c["status"]])
        c["merge"].click(self.on_merge, [self.dataset.model, c["overwrite"], *lora], [c["status"]])

    def _model(self, model: str | None) -> str:
        if self.context.loaded_model is not None:
            folder = self.context.tokenizer_folder()
            return str(folder) if folder else ""
        return (model or "").strip()

    @guarded(_html, owner="writing files")
    def on_export(self, model, name, template, engine, overwrite, lora=None):
        from discord_echo.train.engines.export import export

        lora = (lora or "").strip()
        has_run = bool(lora) and (Path(self.context.loras_dir) / lora / "training_parameters.json").is_file()
        request = export_request(
            self.context.user_data,
            (name or "").strip(),
            engine,
            model=self._model(model) or None,
            template=template or None,
            lora=lora if has_run else None,
            loras_dir=Path(self.context.loras_dir),
            overwrite=bool(overwrite),
        )
        result = export(request)
        warnings = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
        return (
            f"<p>Wrote {escape(str(result.folder))} ({len(result.files)} files; see its README.md).<br>"
            f"Run there: <code>{escape(result.command)}</code><br>"
            f"Several GPUs: <code>{escape(result.multi_gpu_command)}</code></p>"
            + (f"<ul>{warnings}</ul>" if warnings else "")
        )

    @guarded(_html, owner="writing files")
    def on_merge(self, model, overwrite, lora=None):
        from discord_echo.evaluate.merge import merge_lora

        lora = (lora or "").strip()
        if not lora:
            raise EchoError("name the LoRA to merge (the Train section's LoRA name)")
        base = self._model(model)
        if not base:
            raise EchoError("give the base model folder in the Model box")
        out = Path(self.context.user_data) / "models" / f"{lora}-merged"
        result = merge_lora(
            base,
            Path(self.context.loras_dir) / lora,
            out,
            templates_dir=Path(self.context.user_data) / "instruction-templates",
            overwrite=bool(overwrite),
        )
        return (
            f"<p>Merged into {escape(str(result.folder))} ({result.dtype}, template "
            f"{escape(result.template_name)}). Load it as a model; no LoRA needed.</p>"
        )
