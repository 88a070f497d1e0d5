"""What the tab's name dropdowns offer: the datasets and LoRAs that exist, and the names of uploaded files.

The Dataset and LoRA fields are dropdowns of what is on disk (a new name can still be typed), each with a
refresh button, as in the webui's Training tab. Uploaded files sit in gradio's upload folder under a
random directory; `shown` puts the file's own name back wherever a path is shown.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

REFRESH = "\U0001f504"  # the refresh buttons' label, as the webui's


def dataset_names(user_data: Path) -> list[str]:
    """Datasets written under ``<user_data>/training/datasets`` (``x.json``; held-out ``x-eval.json`` left out)."""
    folder = Path(user_data) / "training" / "datasets"
    if not folder.is_dir():
        return []
    names = {p.stem for p in folder.glob("*.json") if p.is_file()}
    return sorted(n for n in names if not (n.lower().endswith("-eval") and n[: -len("-eval")] in names))


def lora_names(loras_dir: Path) -> list[str]:
    """LoRAs trained into ``loras_dir`` (folders holding an ``adapter_config.json``)."""
    folder = Path(loras_dir)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "adapter_config.json").is_file())


def upload_folder() -> Path:
    """Where gradio 4 and 5 keep uploaded files: ``$GRADIO_TEMP_DIR``, or ``<temp>/gradio``."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def shown(text: str, paths: Iterable[str]) -> str:
    """``text`` with each uploaded file's temporary folder removed, so only the file's own name is left."""
    root = upload_folder()
    for path in paths:
        parent = Path(path).resolve().parent
        if parent != root and parent.is_relative_to(root):
            text = text.replace(str(parent) + os.sep, "").replace(str(Path(path).parent) + os.sep, "")
    return text
