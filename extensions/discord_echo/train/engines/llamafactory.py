"""LLaMA-Factory export: ``dataset_info.json``, ``echo_lora_sft.yaml`` and a DeepSpeed ZeRO-2 variant.

The dataset is registered as ``formatting: sharegpt`` with ``columns.messages: messages`` and the role tags
``user``/``assistant``/``system``. LLaMA-Factory renders turns with *its own* template, named in the YAML
(``template:``), not with the model's jinja: ``llamafactory_template`` names it from the training template's
markers (``<|im_start|>`` -> ``chatml``, ``<|start_header_id|>`` -> ``llama3``, ...), or the request names it.
With ``train_on_prompt: false`` and ``mask_history: false`` every assistant reply and its end-of-turn marker
are trained and nothing else, as in ours. Its sharegpt reader wants turns alternating user/assistant after an
optional system message: rows that do not are counted in a warning (LLaMA-Factory skips them).
"""

from __future__ import annotations

import json
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.train.engines.common import EngineFiles, ExportContext, precision, yaml_text, zero2_json

INFO = "dataset_info.json"
CONFIG = "echo_lora_sft.yaml"
MULTI = "echo_lora_sft_ds2.yaml"
ZERO2 = "ds_z2_config.json"
# Markers of the training template -> LLaMA-Factory's template of that family (first match wins).
TEMPLATE_MARKERS: tuple[tuple[str, str], ...] = (
    ("<|start_header_id|>", "llama3"),
    ("<|im_start|>", "chatml"),
    ("<start_of_turn>", "gemma"),
    ("<|assistant|>", "phi"),
    ("[INST]", "mistral"),
)


def llamafactory_template(ctx: ExportContext) -> str:
    """LLaMA-Factory's template name for the training template, or ``ConfigError`` saying how to give one."""
    if ctx.request.engine_template:
        return ctx.request.engine_template
    for marker, name in TEMPLATE_MARKERS:
        if marker in ctx.chat_template:
            return name
    raise ConfigError(
        "engine_template",
        None,
        "LLaMA-Factory renders turns with its own templates and this chat template matches none it is known to "
        "share; name the one for your model (its `template:` value, e.g. qwen, llama3, mistral)",
    )


def not_alternating(rows: list[list[dict[str, Any]]]) -> int:
    """Rows LLaMA-Factory's sharegpt reader skips: turns not user/assistant in turn after an optional system."""
    bad = 0
    for messages in rows:
        roles = [m["role"] for m in messages]
        if roles and roles[0] == "system":
            roles = roles[1:]
        expected = ["user", "assistant"] * (len(roles) // 2 + 1)
        if not roles or len(roles) % 2 or roles != expected[: len(roles)]:
            bad += 1
    return bad


def dataset_info(ctx: ExportContext) -> dict[str, Any]:
    """The ``dataset_info.json`` entries of the train (and eval) file."""
    entry = {
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }
    info = {ctx.name: {"file_name": ctx.train_file, **entry}}
    if ctx.eval_file:
        info[f"{ctx.name}-eval"] = {"file_name": ctx.eval_file, **entry}
    return info


def config(ctx: ExportContext, template: str) -> dict[str, Any]:
    """The single-GPU LoRA SFT YAML with our settings mapped."""
    s = ctx.settings
    data: dict[str, Any] = {
        "model_name_or_path": ctx.request.model,
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": s.lora_rank,
        "lora_alpha": s.lora_alpha,
        "lora_dropout": s.lora_dropout,
        "lora_target": "all" if s.target_modules == "all-linear" else ",".join(s.target_modules),
    }
    if s.load_in_4bit:
        data.update(
            {"quantization_bit": 4, "quantization_method": "bnb", "quantization_type": s.quant_type,
             "double_quantization": s.double_quant}
        )  # fmt: skip
    data.update(
        {
            "dataset": ctx.name,
            "dataset_dir": ".",
            "template": template,
            "cutoff_len": s.cutoff_len,
            "train_on_prompt": False,
            "mask_history": False,
            "overwrite_cache": True,
            "output_dir": f"saves/{ctx.lora_name}",
            "logging_steps": 1,
            "save_steps": s.save_steps or 500,
            "save_total_limit": s.save_total_limit or None,
            "plot_loss": True,
            "overwrite_output_dir": False,
            "report_to": "none",
            "per_device_train_batch_size": s.micro_batch_size,
            "gradient_accumulation_steps": s.grad_accum,
            "learning_rate": s.learning_rate,
            "num_train_epochs": s.epochs,
            "lr_scheduler_type": s.lr_scheduler,
            "warmup_steps": s.warmup_ratio,  # below 1: a share of the run (transformers 5 has no warmup_ratio)
            "optim": s.optimizer,
            "gradient_checkpointing": s.gradient_checkpointing,
            **precision(s),
            "seed": s.seed,
        }
    )
    if ctx.eval_file:
        data.update(
            {"eval_dataset": f"{ctx.name}-eval", "per_device_eval_batch_size": 1, "eval_strategy": "steps",
             "eval_steps": s.eval_steps or 50}
        )  # fmt: skip
    return {k: v for k, v in data.items() if v is not None}


def render(ctx: ExportContext) -> EngineFiles:
    template = llamafactory_template(ctx)
    skipped = not_alternating(ctx.rows)
    if skipped:
        ctx.warnings.append(
            f"LLaMA-Factory: {skipped} of {len(ctx.rows)} rows do not alternate user/assistant turns; its sharegpt "
            "reader skips them."
        )
    ctx.warnings.append(
        f"LLaMA-Factory renders turns with its own template {template!r}, not the model's chat template: check that "
        "it is the one for your model (a wrong one trains a format the model is not prompted with)."
    )
    single = config(ctx, template)
    header = (
        f"LLaMA-Factory LoRA SFT for the discord-echo dataset {ctx.name!r}: llamafactory-cli train {CONFIG}\n"
        "Only my turns are trained: train_on_prompt false, mask_history false (every reply of mine)."
    )
    return EngineFiles(
        files={
            INFO: json.dumps(dataset_info(ctx), indent=2) + "\n",
            CONFIG: yaml_text(single, header),
            MULTI: yaml_text({**single, "deepspeed": ZERO2}, header.replace(CONFIG, MULTI) + "\nDeepSpeed ZeRO-2."),
            ZERO2: zero2_json(ctx.settings),
        },
        command=f"llamafactory-cli train {CONFIG}",
        multi_gpu_command=f"FORCE_TORCHRUN=1 llamafactory-cli train {MULTI}",
    )
