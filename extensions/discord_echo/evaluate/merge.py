"""Merge a LoRA into its base model: a plain Hugging Face folder any loader (the webui's too) loads as a model.

``merge_lora(base, adapter, out_dir)`` loads the base in full precision (never 4-bit: merging into quantized
weights would round the update away), applies the adapter (evaluate/model_loading.py ``apply_adapter``), folds
it in with peft's ``merge_and_unload`` and saves ``model.safetensors`` + ``config.json``, the tokenizer with the
chat template *training used* as its own (``adapter_template``: the text saved beside the adapter, so a
webui instruction template becomes the model's "Chat Template"), and ``generation_config.json`` whose
``eos_token_id`` lists the tokenizer's EOS and the template's end-of-turn token, the one the LoRA learned to
write after each reply. So chatting with the merged model renders and stops exactly as Compare does.

torch, transformers and peft are imported inside functions.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from discord_echo.core.errors import ConfigError
from discord_echo.core.safe_files import FileExistsRefusedError, replacing_folder
from discord_echo.evaluate.model_loading import adapter_template, apply_adapter, load_tokenizer

MergeDtype = Literal["auto", "float32", "bfloat16", "float16"]
_PROBE_REPLY = "zq7xv"


@dataclass(frozen=True)
class MergeResult:
    """The merged model's folder, its stop tokens and the template it carries."""

    folder: Path
    stop_token_ids: list[int]
    template_name: str
    dtype: str


def stop_token_ids(tokenizer: Any, chat_template: str) -> list[int]:
    """EOS and the template's end-of-turn token (when it is one token), as Compare stops generation."""
    probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE_REPLY}]
    full = tokenizer.apply_chat_template(probe, chat_template=chat_template, tokenize=False)
    prompt = tokenizer.apply_chat_template(
        probe[:1], chat_template=chat_template, add_generation_prompt=True, tokenize=False
    )
    tail = full[len(prompt) :] if full.startswith(prompt) else ""
    marker = tail[len(_PROBE_REPLY) :].strip() if tail.startswith(_PROBE_REPLY) else ""
    stop = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids = tokenizer.encode(marker, add_special_tokens=False) if marker else []
    if len(ids) == 1 and ids[0] not in stop:
        stop.append(ids[0])
    return stop


def merge_lora(
    base: str | Path,
    adapter: str | Path,
    out_dir: str | Path,
    *,
    dtype: MergeDtype = "auto",
    template: str | None = None,
    templates_dir: Path | None = None,
    overwrite: bool = False,
) -> MergeResult:
    """Write base + LoRA merged into ``out_dir``; an existing folder is replaced only with ``overwrite``.

    ``dtype`` "auto" keeps the base's own dtype (its config's), float32 where it names none. ``template`` None:
    the template saved with the adapter (what training rendered), else "Chat Template" or a webui template name.
    """
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(out_dir)
    adapter = Path(adapter)
    if out.exists() and not overwrite:
        raise FileExistsRefusedError(out)
    if out.resolve() in (adapter.resolve(), Path(base).expanduser().resolve()):
        raise ConfigError("out", str(out), "must not be the base model or the adapter folder")
    tokenizer = load_tokenizer(base)
    chat_template, template_name = adapter_template(adapter, tokenizer, template, templates_dir)
    chosen = _dtype(base, dtype)
    local = Path(base).expanduser().exists()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(base), local_files_only=local, dtype=getattr(torch, chosen)
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("model", str(base), f"cannot load it as a causal language model: {exc}") from exc
    merged = apply_adapter(model, adapter).merge_and_unload()
    stops = stop_token_ids(tokenizer, chat_template)
    merged.generation_config.eos_token_id = stops if len(stops) > 1 else (stops[0] if stops else None)
    if merged.generation_config.pad_token_id is None and tokenizer.pad_token_id is not None:
        merged.generation_config.pad_token_id = tokenizer.pad_token_id
    tokenizer.chat_template = chat_template

    def write() -> None:
        out.mkdir(parents=True)
        merged.save_pretrained(str(out), safe_serialization=True)
        tokenizer.save_pretrained(str(out))
        (out / "discord_echo_merge.json").write_text(
            json.dumps(
                {"base": str(base), "adapter": str(adapter), "template": template_name, "dtype": chosen,
                 "stop_token_ids": stops},
                indent=2,
            ) + "\n",
            encoding="utf-8",
        )  # fmt: skip

    if out.exists():
        with replacing_folder(out):
            write()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            write()
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
    return MergeResult(out, stops, template_name, chosen)


def _dtype(base: str | Path, dtype: MergeDtype) -> str:
    if dtype != "auto":
        return dtype
    try:
        config = json.loads((Path(base).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    named = config.get("dtype") or config.get("torch_dtype")
    return named if named in ("float32", "bfloat16", "float16") else "float32"
