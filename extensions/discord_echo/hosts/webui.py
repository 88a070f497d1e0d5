"""text-generation-webui as the host: its folders, its loaded model, its own trainer.

The only module that imports the webui's ``modules.*``, always inside functions:
``modules.shared`` parses ``sys.argv`` when first imported, so importing it at module level
would break the CLI and the tests (webui-host.md §5). Folders follow ``--user-data-dir``
and ``--lora-dir``; older webuis without those flags use ``user_data/`` beside server.py.
"""

from __future__ import annotations

from pathlib import Path

from discord_echo.ui import TabContext
from discord_echo.webui_params import read_config


def _shared():
    from modules import shared  # noqa: PLC0415 - see the module docstring

    return shared


def user_data_dir() -> Path:
    shared = _shared()
    return Path(getattr(shared, "user_data_dir", None) or getattr(shared.args, "user_data_dir", None) or "user_data")


def loras_dir() -> Path:
    return Path(getattr(_shared().args, "lora_dir", None) or user_data_dir() / "loras")


def loaded_model_folder() -> Path | None:
    """Folder of the model loaded in the webui, when it is a local Transformers model."""
    shared = _shared()
    name = getattr(shared, "model_name", None)
    if not name or name == "None":
        return None
    folder = Path(getattr(shared.args, "model_dir", None) or user_data_dir() / "models") / name
    return folder if (folder / "config.json").is_file() else None


def tab_context(params: dict) -> TabContext:
    """The tab's context inside the webui: its folders, --multi-user, the loaded model."""
    shared = _shared()
    return TabContext(
        user_data=user_data_dir(),
        loras_dir=loras_dir(),
        read_config=read_config(params),
        multi_user=bool(getattr(shared.args, "multi_user", False)),
        tokenizer_folder=loaded_model_folder,
    )
