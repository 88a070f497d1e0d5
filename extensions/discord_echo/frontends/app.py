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
from discord_echo.train.profiles import DEFAULT_PROFILE, DEMO_MODEL_PROFILE

TINY_PROFILE = "Tiny demo model (CPU)"

DEFAULT_DATA = Path("data") / "user_data"
# The bundled synthetic DM (samples/make_echo_sample.py writes it): "me" has a voice of his own and answers what
# he is asked, so base vs echo shows both "sounds like me" and "stays on topic".
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "echo_demo.json"
TINY_MODEL = "tiny-echo-demo"


def demo_model(user_data: Path) -> tuple[Path, str]:
    """The model the app starts with, and the training profile made for it.

    The real demo model (SmolLM2-135M-Instruct, which install.py builds once into ``<user_data>/models``
    from a PyPI package; train/demo_model.py) when it is there: it answers sensibly and trains on a CPU in
    minutes. Otherwise a tiny random-weight model built locally in a second, which can only show the road
    (its replies are gibberish, though a LoRA visibly shifts them toward the sample's style). Nothing is
    downloaded either way; point the Model box at any local model folder for real use.
    """
    from discord_echo.train.demo_model import demo_model_folder, is_demo_model

    real = demo_model_folder(user_data)
    if is_demo_model(real):
        return real, DEMO_MODEL_PROFILE
    from discord_echo.train.tiny_models import build_tiny_model

    folder = Path(user_data) / "models" / TINY_MODEL
    if not (folder / "config.json").is_file():
        build_tiny_model(folder)
    return folder, TINY_PROFILE


def make_context(user_data: Path, read_config: ReadConfig | None = None, with_demo: bool = True) -> TabContext:
    """The standalone app's context: its data folder, the standalone host, the demo model and its profile."""
    from discord_echo.train.standalone.host import StandaloneHost

    user_data = Path(user_data).resolve()
    for sub in ("training/datasets", "loras", "characters", "models"):
        (user_data / sub).mkdir(parents=True, exist_ok=True)
    folder, start_profile = demo_model(user_data) if with_demo else (None, DEFAULT_PROFILE)
    model = str(folder) if folder else ""
    return TabContext(
        user_data=user_data,
        loras_dir=user_data / "loras",
        read_config=read_config or ReadConfig(),
        tokenizer_folder=lambda: Path(model) if model else None,
        host_factory=StandaloneHost,
        default_model=lambda: model,
        sample=SAMPLE if SAMPLE.is_file() else None,
        default_profile=start_profile,
    )


def build_app(context: TabContext):
    """The gradio Blocks holding the tab (not launched)."""
    import gradio as gr

    # System fonts: gradio's default theme fetches Inter and IBM Plex Mono from fonts.googleapis.com on every load.
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
    )
    # Uploaded exports are copies in gradio's temporary folder: delete those older than a day, hourly and when
    # the app stops (`delete_cache`), so chats do not pile up there after their session.
    with gr.Blocks(title="Discord Echo", analytics_enabled=False, theme=theme, delete_cache=(3600, 86400)) as demo:
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
