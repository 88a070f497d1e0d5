"""Load a base model once and apply a LoRA to it, and find the chat template the LoRA was trained with.

Takes a base model (local folder, or a hub id when online) and an adapter folder as the trainers leave it
(shared/specs/webui-host.md §5: ``adapter_config.json``, ``adapter_model.safetensors``, and
``training_prompt.json`` / ``training_parameters.json`` saying how rows were rendered); gives a peft
``PeftModel`` and the template text for ``compare.Comparer``. On CUDA the base loads in bfloat16 (float16 on
cards without it), elsewhere in float32 on the CPU.

torch, transformers and peft are imported inside functions (style.md §5.1: heavy imports at the edge).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.evaluate.metrics import PROBE
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.templates.trainer_rows import chat_template_for


def adapter_template(
    adapter_dir: Path, tokenizer: Any, template: str | None = None, templates_dir: Path | None = None
) -> tuple[str, str]:
    """``(jinja text, name)`` of the template to compare with: ``template`` if given, else what training used.

    Training's choice is read from the adapter folder: ``training_prompt.json`` ``template`` (the exact text,
    written by hosts/standalone.py), else ``training_parameters.json`` (``request.template`` of ours, or the
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
    """``evaluation.PROBE`` rendered with the template text saved beside the adapter; None if none was saved."""
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


def compare_load_kwargs(cuda: bool, bitsandbytes: bool, bf16: bool, settings: Any = None) -> dict[str, Any]:
    """``from_pretrained`` arguments for comparing: 4-bit like training on a CUDA GPU with bitsandbytes.

    Unquantised bf16 would need ~16 GB for an 8B model: on the 8 GB cards the profiles target, the
    comparison loads the base the way the profile trained it (nf4, double quant). On a CPU: float32.
    """
    import torch

    from discord_echo.train.profiles import DEFAULT_PROFILE, plan_hardware, profile
    from discord_echo.train.standalone.host import model_load_kwargs

    if not cuda:
        return {"dtype": torch.float32}
    plan = plan_hardware(settings or profile(DEFAULT_PROFILE), cuda=True, bitsandbytes=bitsandbytes, bf16=bf16)
    return model_load_kwargs(settings or profile(DEFAULT_PROFILE), plan)


def load_base_model(base: str | Path, settings: Any = None) -> Any:
    """The base model, on the GPU in the profile's 4-bit form if there is one, else float32 on the CPU."""
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    kwargs = compare_load_kwargs(
        cuda,
        bitsandbytes=importlib.util.find_spec("bitsandbytes") is not None,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        settings=settings,
    )
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


def reload_seconds(base: str | Path, adapter: str | Path, messages: Sequence[dict], repeats: int = 3) -> float:
    """Mean seconds of what a base<->tuned switch costs without disabling the adapter in place: drop the model,
    load the base from disk, apply the adapter, run one forward of one token (the prompt's last, as
    ``compare.switch_seconds`` does). For benchmarks/compare.py."""
    import torch

    tokenizer = load_tokenizer(base)
    chat_template = adapter_template(Path(adapter), tokenizer)[0]
    ids = tokenizer.apply_chat_template(
        list(messages), chat_template=chat_template, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    token = list(ids["input_ids"] if isinstance(ids, dict) else ids)[-1:]
    model = None
    started = time.perf_counter()
    for _ in range(repeats):
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        model = apply_adapter(load_base_model(base), adapter).eval()
        with torch.inference_mode():
            model(input_ids=torch.tensor([token], device=next(model.parameters()).device))
    return (time.perf_counter() - started) / repeats
