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

from discord_echo.chat_templates import CHAT_TEMPLATE
from discord_echo.errors import ConfigError
from discord_echo.evaluation import PROBE
from discord_echo.hosts.chat_data import chat_template_for


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


def load_base_model(base: str | Path) -> Any:
    """The base model, unquantised, in eval-ready dtype on the GPU if there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if torch.cuda.is_available():
        kwargs = {"dtype": torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16, "device_map": {"": 0}}
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
