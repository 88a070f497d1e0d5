"""The tab inside text-generation-webui: its folders, --multi-user, its loaded model and its trainer.

``script.py`` calls ``tab_context(params)`` and hands the result to ``ui.tab.build_tab``. The webui's own
objects (``modules.shared``) are reached through ``train.webui.host``, the only module that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from discord_echo.frontends.ui.tab import TabContext
from discord_echo.frontends.webui_params import read_config
from discord_echo.train.webui.host import (
    WebuiHost,
    apply_lora,
    check_trainable_model,
    loaded_model_folder,
    loras_dir,
    reload_base_model,
    reload_in_4bit,
    user_data_dir,
    webui_shared,
)


def tab_context(params: dict) -> TabContext:
    """The tab's context inside the webui: its folders, --multi-user, the loaded model, its trainer."""
    shared = webui_shared()
    return TabContext(
        user_data=user_data_dir(),
        loras_dir=loras_dir(),
        read_config=read_config(params),
        multi_user=bool(getattr(shared.args, "multi_user", False)),
        tokenizer_folder=loaded_model_folder,
        host_factory=WebuiHost,
        loaded_model=lambda: str(getattr(webui_shared(), "model_name", "") or ""),
        default_model=lambda: str(getattr(webui_shared(), "model_name", "") or ""),
        comparer_factory=webui_comparer,
        reload_4bit=reload_in_4bit,
        lora_menu=model_tab_lora_menu(),
    )


def model_tab_lora_menu() -> tuple[Any, Callable[[], Any]] | None:
    """The Model tab's LoRA menu and its update (LoRAs on disk, the applied ones selected); None without one.

    Training applies the new LoRA (``shared.lora_names``); the tab sends this update when a run ends, so the
    menu shows it selected without pressing the Model tab's refresh.
    """
    menu = (getattr(webui_shared(), "gradio", None) or {}).get("lora_menu")
    if menu is None:
        return None

    def update() -> Any:
        import gradio as gr

        from discord_echo.frontends.ui.choices import lora_names

        applied = [str(n) for n in getattr(webui_shared(), "lora_names", None) or []]
        return gr.update(choices=sorted(set(lora_names(loras_dir())) | set(applied)), value=applied)

    return menu, update


def webui_comparer(model: str, adapter: Path, *, template: str | None = None, templates_dir: Path | None = None):
    """A Comparer over the model the webui has loaded (no second copy in VRAM), with ``adapter`` applied.

    Generation shares the webui's ``generation_lock``, so the Chat tab never generates while
    the adapter is switched off for a base reply.
    """
    from discord_echo.evaluate.comparer import Comparer
    from discord_echo.evaluate.model_loading import adapter_template

    check_trainable_model()
    shared = webui_shared()
    if list(getattr(shared, "lora_names", []) or []) != [adapter.name]:
        if shared.lora_names:
            reload_base_model()
        apply_lora(adapter.name)
    text, name = adapter_template(adapter, shared.tokenizer, template, templates_dir)
    return Comparer(
        shared.model,
        shared.tokenizer,
        text,
        template_name=name,
        adapter_dir=adapter,
        lock=getattr(shared, "generation_lock", None),
    )
