"""The standalone app: the Discord Echo tab without the webui (`discord-echo app`).

Serves the same tab as the webui extension on stock gradio, bound to 127.0.0.1 (chat
exports are private), with its own data folder laid out like the webui's ``user_data``
(``training/datasets``, ``loras``, ``characters``), so what it writes can later be copied
into a webui unchanged.
"""

from __future__ import annotations

from pathlib import Path

from discord_echo.config import ReadConfig
from discord_echo.ui import TabContext, build_tab

DEFAULT_DATA = Path("data") / "user_data"


def make_context(user_data: Path, read_config: ReadConfig | None = None) -> TabContext:
    user_data = Path(user_data).resolve()
    for sub in ("training/datasets", "loras", "characters"):
        (user_data / sub).mkdir(parents=True, exist_ok=True)
    return TabContext(user_data=user_data, loras_dir=user_data / "loras", read_config=read_config or ReadConfig())


def build_app(context: TabContext):
    """The gradio Blocks holding the tab (not launched)."""
    import gradio as gr

    with gr.Blocks(title="Discord Echo", analytics_enabled=False) as demo:
        gr.Markdown("# Discord Echo")
        build_tab(context)
    return demo


def run_app(user_data: Path = DEFAULT_DATA, port: int = 7861, share: bool = False) -> None:
    """Build and serve the app until interrupted."""
    context = make_context(user_data)
    demo = build_app(context)
    print(f"Discord Echo: data folder {context.user_data}")
    demo.queue().launch(server_name="127.0.0.1", server_port=port, share=share, inbrowser=False)
