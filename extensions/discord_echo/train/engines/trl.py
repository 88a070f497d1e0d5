"""TRL export: ``trl_config.yaml``, a launcher ``train_trl.py``, an accelerate ZeRO-2 config, the marked template.

TRL's SFTTrainer with ``assistant_only_loss=True`` trains the tokens a chat template puts inside
``{% generation %}`` markers. It patches templates without markers only for the families it ships training
templates for (``trl.chat_template_utils.get_training_chat_template``) and raises for any other. So the export
writes ``chat_template.jinja``: the training template wrapped by ``masking.marked_template``, which marks exactly
our trained spans for any template; ``export`` checks it on the dataset's rows against our own labels first and
refuses the TRL export when they differ (the reason is in the error). ``max_length`` truncates longer rows where
the webui drops them; the dataset was fitted to the cutoff, and rows over it are counted in a warning.

``train_trl.py`` is plain Python run on the training machine: ``build_trainer(config_path)`` makes the trainer
(the tests call it on a CPU), ``main`` trains and saves the adapter.
"""

from __future__ import annotations

from typing import Any

from discord_echo.train.engines.common import EngineFiles, ExportContext, precision, target_modules, yaml_text
from discord_echo.train.engines.masking import marked_template

CONFIG = "trl_config.yaml"
SCRIPT = "train_trl.py"
ACCELERATE = "accelerate_zero2.yaml"
TEMPLATE = "chat_template.jinja"

LAUNCHER = '''"""Train the discord-echo LoRA with TRL's SFTTrainer: python train_trl.py trl_config.yaml

Multi-GPU: accelerate launch --config_file accelerate_zero2.yaml train_trl.py trl_config.yaml
Written by discord-echo's export; needs trl, peft, datasets, pyyaml (and bitsandbytes for 4-bit).
"""

import sys
from pathlib import Path

import yaml


def build_trainer(config_path):
    """The SFTTrainer for the config: dataset, tokenizer with the marked template, LoRA, settings."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    here = Path(config_path).resolve().parent
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    files = {"train": str(here / config["data"]["train"])}
    if config["data"].get("eval"):
        files["eval"] = str(here / config["data"]["eval"])
    data = load_dataset("json", data_files=files)
    model_cfg = config["model"]
    dtype = getattr(torch, model_cfg["dtype"])
    kwargs = {"dtype": dtype}
    if model_cfg.get("load_in_4bit"):
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=model_cfg["quant_type"],
            bnb_4bit_use_double_quant=model_cfg["double_quant"],
            bnb_4bit_compute_dtype=dtype,
        )
    tokenizer = AutoTokenizer.from_pretrained(model_cfg["path"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_cfg["path"], **kwargs)
    sft = dict(config["sft"])
    sft["chat_template_path"] = str(here / sft["chat_template_path"])
    sft.setdefault("output_dir", str(here / "output"))
    if "eval" not in files:
        sft["eval_strategy"] = "no"
    args = SFTConfig(**sft)
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data.get("eval"),
        processing_class=tokenizer,
        peft_config=LoraConfig(**config["lora"]),
    )


def main(argv):
    config_path = argv[1] if len(argv) > 1 else str(Path(__file__).with_name("trl_config.yaml"))
    trainer = build_trainer(config_path)
    trainer.train()
    trainer.save_model()


if __name__ == "__main__":
    main(sys.argv)
'''


def accelerate_zero2(processes: int = 2) -> dict[str, Any]:
    """An accelerate config for DeepSpeed ZeRO-2 on one machine (edit ``num_processes`` to the GPU count)."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {
            "deepspeed_multinode_launcher": "standard",
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": False,
            "zero_stage": 2,
        },
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": "bf16",
        "num_machines": 1,
        "num_processes": processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def config(ctx: ExportContext) -> dict[str, Any]:
    """The YAML ``train_trl.py`` reads: model, data, LoRA and SFTConfig sections, our settings mapped."""
    s = ctx.settings
    sft: dict[str, Any] = {
        "output_dir": f"output/{ctx.lora_name}",
        "assistant_only_loss": True,
        "chat_template_path": TEMPLATE,
        "max_length": s.cutoff_len,
        "packing": False,
        "per_device_train_batch_size": s.micro_batch_size,
        "gradient_accumulation_steps": s.grad_accum,
        "num_train_epochs": s.epochs,
        "learning_rate": s.learning_rate,
        "lr_scheduler_type": s.lr_scheduler,
        "warmup_steps": s.warmup_ratio,  # below 1: a share of the run (transformers 5)
        "optim": s.optimizer,
        "gradient_checkpointing": s.gradient_checkpointing,
        **precision(s),
        "seed": s.seed,
        "logging_steps": 1,
        "save_steps": s.save_steps or 500,
        "save_strategy": "steps" if s.save_steps else "no",
        "save_total_limit": s.save_total_limit or None,
        "eval_strategy": "steps" if ctx.eval_file else "no",
        "eval_steps": s.eval_steps or None,
        "report_to": "none",
    }
    return {
        "model": {
            "path": ctx.request.model,
            "dtype": s.compute_dtype,
            "load_in_4bit": s.load_in_4bit,
            "quant_type": s.quant_type,
            "double_quant": s.double_quant,
        },
        "data": {"train": ctx.train_file, "eval": ctx.eval_file},
        "lora": {
            "r": s.lora_rank,
            "lora_alpha": s.lora_alpha,
            "lora_dropout": s.lora_dropout,
            "target_modules": target_modules(s),
            "bias": "none",
            "task_type": "CAUSAL_LM",
        },
        "sft": sft,
    }


def render(ctx: ExportContext) -> EngineFiles:
    header = (
        f"TRL SFTTrainer run for the discord-echo dataset {ctx.name!r}: python {SCRIPT} {CONFIG}\n"
        "Only my turns are trained: assistant_only_loss with chat_template.jinja, whose {% generation %} markers\n"
        "cover exactly the tokens discord-echo's own trainer trains (checked on this dataset at export)."
    )
    return EngineFiles(
        files={
            CONFIG: yaml_text(config(ctx), header),
            SCRIPT: LAUNCHER,
            ACCELERATE: yaml_text(accelerate_zero2(), "accelerate + DeepSpeed ZeRO-2; set num_processes to your GPUs"),
            TEMPLATE: marked_template(ctx.chat_template),
        },
        command=f"python {SCRIPT} {CONFIG}",
        multi_gpu_command=f"accelerate launch --config_file {ACCELERATE} {SCRIPT} {CONFIG}",
    )
