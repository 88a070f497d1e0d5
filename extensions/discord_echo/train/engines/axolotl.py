"""axolotl export: ``axolotl.yml`` (one GPU), ``axolotl-zero2.yml`` + ``zero2.json`` (DeepSpeed ZeRO-2).

The dataset is read as ``type: chat_template`` with ``field_messages: messages`` and ``roles_to_train:
[assistant]``; the training template goes in as ``chat_template: jinja`` / ``chat_template_jinja``, so turns are
rendered exactly as in our training. axolotl unmasks each assistant reply and, with ``train_on_eot: turn``, the
end-of-turn token after it (named in ``eot_tokens``); our trainer also trains whatever the template writes after
that token within the turn (ChatML's newline): a token or so per reply, said in a warning.
"""

from __future__ import annotations

from typing import Any

from discord_echo.train.engines.common import EngineFiles, ExportContext, precision, yaml_text, zero2_json

CONFIG = "axolotl.yml"
MULTI = "axolotl-zero2.yml"
ZERO2 = "zero2.json"


def config(ctx: ExportContext) -> dict[str, Any]:
    """The single-GPU axolotl config with our settings mapped."""
    s = ctx.settings
    dataset: dict[str, Any] = {
        "path": ctx.train_file,
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn",
    }
    data: dict[str, Any] = {
        "base_model": ctx.request.model,
        "adapter": "qlora" if s.load_in_4bit else "lora",
        "load_in_4bit": s.load_in_4bit,
        "load_in_8bit": False,
        "chat_template": "jinja",
        "chat_template_jinja": ctx.chat_template,
        "datasets": [dataset],
    }
    if ctx.turn_end:
        data["eot_tokens"] = [ctx.turn_end]
        data["train_on_eot"] = "turn"
    if ctx.eval_file:
        data["test_datasets"] = [{**dataset, "path": ctx.eval_file, "split": "train"}]
    else:
        data["val_set_size"] = 0.0
    data.update(
        {
            "dataset_prepared_path": "last_run_prepared",
            "output_dir": f"./outputs/{ctx.lora_name}",
            "sequence_len": s.cutoff_len,
            "sample_packing": False,
            "pad_to_sequence_len": False,
            "lora_r": s.lora_rank,
            "lora_alpha": s.lora_alpha,
            "lora_dropout": s.lora_dropout,
        }
    )
    if s.target_modules == "all-linear":
        data["lora_target_linear"] = True
    else:
        data["lora_target_modules"] = list(s.target_modules)
    data.update(
        {
            "micro_batch_size": s.micro_batch_size,
            "gradient_accumulation_steps": s.grad_accum,
            "num_epochs": s.epochs,
            "learning_rate": s.learning_rate,
            "lr_scheduler": s.lr_scheduler,
            "warmup_ratio": s.warmup_ratio,
            "optimizer": s.optimizer,
            "gradient_checkpointing": s.gradient_checkpointing,
            **precision(s),
            "tf32": False,
            "seed": s.seed,
            "logging_steps": 1,
            "saves_per_epoch": None,
            "save_steps": s.save_steps or None,
            "save_total_limit": s.save_total_limit or None,
            "eval_steps": (s.eval_steps or None) if ctx.eval_file else None,
        }
    )
    return {k: v for k, v in data.items() if v is not None}


def render(ctx: ExportContext) -> EngineFiles:
    single = config(ctx)
    multi = {**single, "deepspeed": ZERO2}
    header = (
        f"axolotl run for the discord-echo dataset {ctx.name!r}: axolotl train {CONFIG}\n"
        "Only my turns are trained: roles_to_train [assistant], in the exact chat template training used."
    )
    if ctx.turn_end and ctx.turn_end != getattr(ctx.tokenizer, "eos_token", None):
        ctx.warnings.append(
            f"axolotl: the end-of-turn marker {ctx.turn_end!r} is not the tokenizer's EOS; it is named in eot_tokens "
            "so axolotl trains it after each reply, as ours does."
        )
    tail = _after_marker(ctx)
    if tail:
        ctx.warnings.append(
            f"axolotl trains each reply and its end-of-turn token; our trainer also trains the {tail!r} the template "
            "writes after it (about one token per reply). Replies and stopping are learned the same way."
        )
    return EngineFiles(
        files={
            CONFIG: yaml_text(single, header),
            MULTI: yaml_text(multi, header.replace(CONFIG, MULTI) + "\nMulti-GPU with DeepSpeed ZeRO-2 (zero2.json)."),
            ZERO2: zero2_json(ctx.settings),
        },
        command=f"axolotl train {CONFIG}",
        multi_gpu_command=f"axolotl train {MULTI}  (or: accelerate launch -m axolotl.cli.train {MULTI})",
    )


def _after_marker(ctx: ExportContext) -> str:
    """What the template writes after the end-of-turn marker, inside our trained span ("\\n" in ChatML)."""
    if not ctx.turn_end:
        return ""
    probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "zq7xv"}]
    text = ctx.tokenizer.apply_chat_template(probe, chat_template=ctx.chat_template, tokenize=False)
    return text.split(ctx.turn_end)[-1] if ctx.turn_end in text else ""
