"""What every engine export shares: the request, the dataset and its sidecar, our settings, the written folder.

``export(request)`` (``train/engines/export.py``) reads a dataset written by dataset/writer.py (``<name>.json``,
``<name>-eval.json``, ``<name>.discord_echo.yaml``), resolves the chat template it was built for (the model's own
"Chat Template" or a webui instruction template), and hands an ``ExportContext`` to one engine module, which
returns the files to write. The dataset files are copied byte for byte: the ``{"messages": [...]}`` rows already
are the conversational format all three engines read.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from discord_echo.core.errors import ConfigError, EchoError
from discord_echo.core.safe_files import FileExistsRefusedError, replacing_folder
from discord_echo.dataset.writer import SIDECAR_SUFFIX
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.train.config import TrainConfig

Engine = Literal["axolotl", "llamafactory", "trl"]
ENGINES: tuple[Engine, ...] = ("axolotl", "llamafactory", "trl")
_PROBE_REPLY = "zq7xv"  # a reply no template contains, to find what a template writes after a reply


@dataclass(frozen=True)
class ExportRequest:
    """One export: which dataset, for which engine, into which folder, with which model, template and settings."""

    dataset: Path  # <user_data>/training/datasets/<name>.json
    engine: Engine
    out_dir: Path  # the folder to create
    model: str  # the base model: a local folder (its tokenizer is read) whose name goes into the config
    settings: TrainConfig
    template: str = CHAT_TEMPLATE  # "Chat Template" or a webui instruction template name
    templates_dir: Path | None = None  # <user_data>/instruction-templates, for a named template
    engine_template: str | None = None  # LLaMA-Factory only: its template name, when it cannot be told
    overwrite: bool = False


@dataclass
class ExportResult:
    """The written folder, its files, the command to run there and what the user must know."""

    folder: Path
    files: list[Path]
    command: str
    multi_gpu_command: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExportContext:
    """What an engine module renders its files from."""

    request: ExportRequest
    name: str  # the dataset name (file stem)
    train_file: str  # file names inside the export folder
    eval_file: str | None
    rows: list[list[dict[str, Any]]]  # the training rows' messages
    tokenizer: Any
    chat_template: str  # the jinja text training renders rows with
    turn_end: str  # what the template writes after my reply ("<|im_end|>"), "" if nothing
    warnings: list[str] = field(default_factory=list)

    @property
    def settings(self) -> TrainConfig:
        return self.request.settings

    @property
    def lora_name(self) -> str:
        return f"{self.name}-{self.request.engine}"


@dataclass
class EngineFiles:
    """An engine module's answer: file name -> text, and the commands for its README."""

    files: dict[str, str]
    command: str
    multi_gpu_command: str


def read_sidecar(dataset: Path) -> dict[str, Any]:
    """The dataset's ``.discord_echo.yaml`` (JSON content), or {} when there is none."""
    path = dataset.with_name(dataset.name[: -len(".json")] + SIDECAR_SUFFIX)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def turn_end(tokenizer: Any, chat_template: str) -> str:
    """The text the template writes right after an assistant reply, stripped ("<|im_end|>", "<|eot_id|>")."""
    probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE_REPLY}]
    full = tokenizer.apply_chat_template(probe, chat_template=chat_template, tokenize=False)
    prompt = tokenizer.apply_chat_template(
        probe[:1], chat_template=chat_template, add_generation_prompt=True, tokenize=False
    )
    tail = full[len(prompt) :] if full.startswith(prompt) else ""
    return tail[len(_PROBE_REPLY) :].strip() if tail.startswith(_PROBE_REPLY) else ""


def settings_from_adapter(adapter_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The settings and request a LoRA was trained with, from its ``training_parameters.json`` (ours)."""
    path = Path(adapter_dir) / "training_parameters.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError("lora", str(adapter_dir), f"cannot read {path.name}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise ConfigError("lora", str(adapter_dir), f"{path.name} holds no discord-echo settings (a webui LoRA?)")
    return TrainConfig.from_dict(data["settings"]), data.get("request") or {}


def check_target(out_dir: Path, overwrite: bool) -> None:
    """Refuse an existing folder unless ``overwrite``; refuse a file in the way always."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("out", str(out_dir), "is a file, not a folder")
    if out_dir.exists() and not overwrite:
        raise FileExistsRefusedError(out_dir)


def write_folder(out_dir: Path, dataset_files: dict[str, Path], files: dict[str, str], overwrite: bool) -> list[Path]:
    """Create ``out_dir`` with the dataset files copied unchanged and the rendered ``files``.

    An existing folder is replaced only with ``overwrite``, and then so that a failure gives the old one back.
    """
    check_target(out_dir, overwrite)
    written: list[Path] = []

    def write() -> None:
        out_dir.mkdir(parents=True)
        for name, source in dataset_files.items():
            shutil.copyfile(source, out_dir / name)
            written.append(out_dir / name)
        for name, text in files.items():
            (out_dir / name).write_text(text, encoding="utf-8")
            written.append(out_dir / name)

    if out_dir.exists():
        with replacing_folder(out_dir):
            write()
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            write()
        except BaseException:
            shutil.rmtree(out_dir, ignore_errors=True)
            raise
    return written


def yaml_text(data: dict[str, Any], header: str = "") -> str:
    """``data`` as YAML (block style, keys in the given order), after ``header`` comment lines."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml comes with the tokenize extra
        raise EchoError("writing engine configs needs pyyaml: pip install 'discord-echo[tokenize]'") from exc
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def zero2_json(settings: TrainConfig) -> str:
    """A DeepSpeed ZeRO-2 config that takes batch sizes, precision and clipping from the trainer ("auto")."""
    config = {
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "train_batch_size": "auto",
        "gradient_clipping": "auto",
        "zero_allow_untested_optimizer": True,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "zero_optimization": {
            "stage": 2,
            "overlap_comm": True,
            "contiguous_gradients": True,
            "reduce_scatter": True,
            "allgather_bucket_size": 5e8,
            "reduce_bucket_size": 5e8,
        },
    }
    return json.dumps(config, indent=2) + "\n"


def precision(settings: TrainConfig) -> dict[str, bool]:
    """bf16/fp16 flags for the compute dtype (float32: neither)."""
    return {"bf16": settings.compute_dtype == "bfloat16", "fp16": settings.compute_dtype == "float16"}


def target_modules(settings: TrainConfig) -> str | list[str]:
    """``"all-linear"`` or the list of layer names."""
    return settings.target_modules if isinstance(settings.target_modules, str) else list(settings.target_modules)
