"""The standalone app: the Discord Echo tab without the webui (`discord-echo app`).

Serves the same tab as the webui extension on stock gradio, bound to 127.0.0.1 (chat
exports are private), with its own data folder laid out like the webui's ``user_data``
(``training/datasets``, ``loras``, ``characters``), so what it writes can later be copied
into a webui unchanged.
"""

from __future__ import annotations

from pathlib import Path

from discord_echo.frontends.ui.tab import TabContext, build_tab
from discord_echo.ingest.config import ReadConfig
from discord_echo.train.profiles import DEFAULT_PROFILE

DEFAULT_DATA = Path("data") / "user_data"
# The bundled synthetic two-person export (samples/make_sample.py writes it).
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "alex_and_sam.json"
DEMO_MODEL = "tiny-echo-demo"
DEMO_PROFILE = "Tiny demo model (CPU)"


def demo_model(user_data: Path) -> Path:
    """A tiny random-weight model for the bundled sample, built locally on first use.

    It cannot write well (its weights are random), but a LoRA on it visibly learns the
    sample's style in a minute or two on a CPU, which is what the demo needs to show;
    nothing is downloaded. Point the Model box at a real model folder for real use.
    """
    from discord_echo.train.tiny_models import build_tiny_model

    folder = Path(user_data) / "models" / DEMO_MODEL
    if not (folder / "config.json").is_file():
        build_tiny_model(folder)
    return folder


def make_context(user_data: Path, read_config: ReadConfig | None = None, with_demo: bool = True) -> TabContext:
    """The standalone app's context: its data folder, the standalone host, the demo model."""
    from discord_echo.train.standalone.host import StandaloneHost

    user_data = Path(user_data).resolve()
    for sub in ("training/datasets", "loras", "characters", "models"):
        (user_data / sub).mkdir(parents=True, exist_ok=True)
    model = str(demo_model(user_data)) if with_demo else ""
    return TabContext(
        user_data=user_data,
        loras_dir=user_data / "loras",
        read_config=read_config or ReadConfig(),
        tokenizer_folder=lambda: Path(model) if model else None,
        host_factory=StandaloneHost,
        default_model=lambda: model,
        sample=SAMPLE if SAMPLE.is_file() else None,
        default_profile=DEMO_PROFILE if with_demo else DEFAULT_PROFILE,
    )


def build_app(context: TabContext):
    """The gradio Blocks holding the tab (not launched)."""
    import gradio as gr

    with gr.Blocks(title="Discord Echo", analytics_enabled=False) as demo:
        gr.Markdown("# Discord Echo")
        build_tab(context)
    return demo


def run_app(
    user_data: Path = DEFAULT_DATA, port: int = 7861, share: bool = False, read_config: ReadConfig | None = None
) -> None:
    """Build and serve the app until interrupted."""
    context = make_context(user_data, read_config)
    demo = build_app(context)
    print(f"Discord Echo: data folder {context.user_data}")
    demo.queue().launch(server_name="127.0.0.1", server_port=port, share=share, inbrowser=False)
