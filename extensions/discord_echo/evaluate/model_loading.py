"""Load a base model once and apply a LoRA to it, and find the chat template the LoRA was trained with.

Takes a base model (local folder, or a hub id when online) and an adapter folder as the trainers leave it
(docs/webui-trainer.md, Output files and checkpoints: ``adapter_config.json``, ``adapter_model.safetensors``, and
``training_prompt.json`` / ``training_parameters.json`` saying how rows were rendered); gives a peft
``PeftModel`` and the template text for ``Comparer`` (evaluate/comparer.py). On a CUDA GPU the base loads
the way the LoRA was trained (``trained_settings``: its profile's 4-bit quantization and compute dtype; the
default 8 GB profile's nf4 4-bit when the adapter folder does not say, logged as a warning), elsewhere in
float32 on the CPU.

torch, transformers and peft are imported inside functions (docs/architecture.md, Heavy imports stay at the edge).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.evaluate.metrics import PROBE
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.templates.trainer_rows import chat_template_for
from discord_echo.train.config import TrainConfig
from discord_echo.train.profiles import DEFAULT_PROFILE, plan_hardware, profile

log = logging.getLogger("discord_echo")


def adapter_template(
    adapter_dir: Path, tokenizer: Any, template: str | None = None, templates_dir: Path | None = None
) -> tuple[str, str]:
    """``(jinja text, name)`` of the template to compare with: ``template`` if given, else what training used.

    Training's choice is read from the adapter folder: ``training_prompt.json`` ``template`` (the exact text,
    written by train/standalone/host.py), else ``training_parameters.json`` (``request.template`` of ours, or the
    webui's ``format``), else the tokenizer's own chat template.
    """
    if template is None:
        saved = _read_json(adapter_dir / "training_prompt.json").get("template")
        parameters = _read_json(adapter_dir / "training_parameters.json")
        name = parameters.get("request", {}).get("template") or parameters.get("format") or CHAT_TEMPLATE
        if isinstance(saved, str) and saved.strip():
            return saved, str(name)
        template = str(name)
    return chat_template_for(tokenizer, template, templates_dir), template


def trained_rendering(adapter_dir: Path | None, tokenizer: Any) -> str | None:
    """``metrics.PROBE`` rendered with the template text saved beside the adapter; None if none was saved."""
    if adapter_dir is None:
        return None
    saved = _read_json(Path(adapter_dir) / "training_prompt.json").get("template")
    if not isinstance(saved, str) or not saved.strip():
        return None
    return tokenizer.apply_chat_template(list(PROBE), chat_template=saved, tokenize=False)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _local(name: str | Path) -> bool:
    return Path(name).expanduser().exists()


def load_tokenizer(base: str | Path) -> Any:
    """The base model's tokenizer (offline for a local folder); pad set to EOS if missing, as the trainer does."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=_local(base))
    except (OSError, ValueError) as exc:
        raise ConfigError("model", str(base), f"cannot load its tokenizer: {exc}") from exc
    if tokenizer.pad_token_id is None:  # padding is masked out anyway
        tokenizer.pad_token_id = tokenizer.eos_token_id
    return tokenizer


@dataclass(frozen=True)
class TrainedWith:
    """The training settings a LoRA was made with; ``note`` is set when they are the default profile's guess."""

    settings: TrainConfig
    note: str = ""


def trained_settings(adapter_dir: str | Path) -> TrainedWith:
    """The settings the LoRA in ``adapter_dir`` was trained with, read from its ``training_parameters.json``.

    The standalone host writes them there (``settings``); the webui writes its own parameters, which do not
    say how the base model was loaded. Then, or without the file, the default profile stands in and
    ``note`` says so.
    """
    path = Path(adapter_dir) / "training_parameters.json"
    parameters = _read_json(path)
    guess = profile(DEFAULT_PROFILE)
    fallback = f"loading the base as the default profile ({DEFAULT_PROFILE}) does"
    saved = parameters.get("settings")
    if isinstance(saved, dict):
        try:
            return TrainedWith(TrainConfig.from_dict(saved))
        except (ConfigError, TypeError) as exc:
            return TrainedWith(guess, f"{path} holds settings this version cannot read ({exc}): {fallback}")
    if parameters:
        return TrainedWith(guess, f"{path} (the webui's) does not say how the base was loaded: {fallback}")
    return TrainedWith(guess, f"{path} is missing, so the training profile is unknown: {fallback}")


def compare_load_kwargs(
    cuda: bool, bitsandbytes: bool, bf16: bool, settings: TrainConfig | None = None
) -> dict[str, Any]:
    """``from_pretrained`` arguments for comparing: on a CUDA GPU, the base as ``settings`` trained it.

    Unquantised bf16 would need ~16 GB for an 8B model: on the 8 GB cards the profiles target, the
    comparison loads the base the way the profile trained it (nf4, double quant, with bitsandbytes).
    ``settings`` None: the default (8 GB) profile. On a CPU: float32, whatever the settings.
    """
    import torch

    from discord_echo.train.standalone.host import model_load_kwargs

    if not cuda:
        return {"dtype": torch.float32}
    settings = settings or profile(DEFAULT_PROFILE)
    plan = plan_hardware(settings, cuda=True, bitsandbytes=bitsandbytes, bf16=bf16)
    return model_load_kwargs(settings, plan)


def load_base_model(
    base: str | Path,
    adapter: str | Path | None = None,
    *,
    cuda: bool | None = None,
    bitsandbytes: bool | None = None,
    bf16: bool | None = None,
) -> Any:
    """The base model, loaded as the LoRA in ``adapter`` was trained (``trained_settings``).

    On a CUDA GPU: that profile's 4-bit form (with bitsandbytes) and compute dtype; the default profile's
    when the adapter folder does not say or no ``adapter`` is given, logged as a warning. On a CPU: float32.
    ``cuda``/``bitsandbytes``/``bf16`` override detection (tests inject them, as for the trainer).
    """
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available() if cuda is None else cuda
    if bitsandbytes is None:  # bitsandbytes is CUDA-only: never look it up without a GPU
        bitsandbytes = cuda and importlib.util.find_spec("bitsandbytes") is not None
    if bf16 is None:
        bf16 = cuda and torch.cuda.is_bf16_supported()
    settings = None
    if cuda:  # on a CPU every profile loads in float32: nothing to read or warn about
        trained = trained_settings(adapter) if adapter is not None else None
        settings = trained.settings if trained else None
        if trained is None or trained.note:
            log.warning("Compare: %s", trained.note if trained else "no LoRA folder given: the default profile")
    kwargs = compare_load_kwargs(cuda, bitsandbytes=bitsandbytes, bf16=bf16, settings=settings)
    try:
        return AutoModelForCausalLM.from_pretrained(str(base), local_files_only=_local(base), **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError("model", str(base), f"cannot load it as a causal language model: {exc}") from exc


def apply_adapter(model: Any, adapter: str | Path) -> Any:
    """``model`` wrapped in a peft ``PeftModel`` with the LoRA in ``adapter`` active."""
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise ConfigError("adapter", str(adapter), "no adapter_config.json here: not a LoRA folder")
    try:
        return PeftModel.from_pretrained(model, str(adapter))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError("adapter", str(adapter), f"cannot apply it to this model: {exc}") from exc


def cuda_available() -> bool:
    """True where torch sees a CUDA GPU; False without one, or without torch."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
