"""Train a LoRA without the webui: transformers + peft + torch, the same data semantics as the webui trainer.

``StandaloneHost().train(request, on_progress, stop)`` loads a local model folder (or a hub id, downloaded
only when the machine is online), has ``driver.prepare`` check the adapter folder and tokenize the chat
dataset exactly as the webui does (``templates/trainer_rows.py``), wraps the model in a peft LoRA and runs
the HF ``Trainer`` (``trainer.py``). The adapter folder looks like the webui's
(docs/webui-trainer.md, Output files and checkpoints): ``adapter_model.safetensors``, ``adapter_config.json``,
``training_parameters.json`` (our settings + the request), ``training_log.json`` (every logged step),
``training_prompt.json`` and ``checkpoint-K/`` folders, pruned to ``save_total_limit`` (the webui never
prunes). ``stop`` (a ``threading.Event``) ends the run after the current step, saving a checkpoint and the
adapter; ``resume=True`` continues from the newest checkpoint.

4-bit loading (bitsandbytes nf4) and the paged 8-bit optimizer are used only with a CUDA GPU; elsewhere the
model trains in float32 on the CPU (``profiles.plan_hardware`` decides, and says so in a progress message).
Unlike the webui, which calls peft's ``prepare_model_for_kbit_training``, embeddings and the output head are
not upcast to float32: that costs ~2 GB on a 128k-vocabulary 8B model (see ``vram.py``).

torch, transformers and peft are imported inside functions only, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError, HostUnavailableError, TrainingError
from discord_echo.core.safe_files import replacing_folder
from discord_echo.templates.trainer_rows import TokenizedRows
from discord_echo.train.config import TrainConfig
from discord_echo.train.driver import prepare
from discord_echo.train.host import ProgressCallback, TrainProgress, TrainRequest, TrainResult
from discord_echo.train.profiles import HardwarePlan, plan_hardware
from discord_echo.train.standalone.trainer import build_trainer, out_of_memory, progress_callback, torch_threads

REQUIRED = ("torch", "transformers", "peft", "accelerate")
INSTALL_HINT = "pip install 'discord-echo[train]' (and 'discord-echo[gpu]' on an NVIDIA GPU)"


class StandaloneHost:
    """The transformers + peft trainer. ``cuda``/``bitsandbytes`` override detection (tests inject them)."""

    name = "standalone"

    def __init__(self, cuda: bool | None = None, bitsandbytes: bool | None = None, bf16: bool | None = None):
        self._cuda = cuda
        self._bitsandbytes = bitsandbytes
        self._bf16 = bf16

    def available(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        """Packages this host needs that are not installed."""
        return [name for name in REQUIRED if importlib.util.find_spec(name) is None]

    def unavailable_reason(self) -> str:
        """The missing packages and how to install them; "" when none is missing."""
        missing = self.missing()
        return f"missing {', '.join(missing)}; {INSTALL_HINT}" if missing else ""

    def reads_legacy_datasets(self) -> bool:
        """Never: this host trains chat rows only."""
        return False

    def plan(self, settings: TrainConfig) -> HardwarePlan:
        """What the settings become on this machine (see ``profiles.plan_hardware``)."""
        import torch

        cuda = torch.cuda.is_available() if self._cuda is None else self._cuda
        bnb = self._bitsandbytes
        if bnb is None:  # bitsandbytes is CUDA-only: never import it without a GPU
            bnb = cuda and importlib.util.find_spec("bitsandbytes") is not None
        bf16 = self._bf16
        if bf16 is None:
            bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return plan_hardware(settings, cuda=cuda, bitsandbytes=bnb, bf16=bf16)

    def train(
        self, request: TrainRequest, on_progress: ProgressCallback | None = None, stop: threading.Event | None = None
    ) -> TrainResult:
        if not self.available():
            raise HostUnavailableError(self.name, self.unavailable_reason())
        settings: TrainConfig = request.settings
        report = on_progress or (lambda progress: None)
        stop = stop or threading.Event()
        prepared = prepare(request, self, lambda: _load_tokenizer(request.model))
        adapter_dir, resume_from, template = prepared.adapter_dir, prepared.resume_from, prepared.template
        if request.resume and resume_from is None:  # the HF Trainer resumes from a checkpoint folder only
            raise TrainingError(f"nothing to resume: no checkpoint-* folder in {adapter_dir}")
        tokenizer, train_rows, eval_rows = prepared.tokenizer, prepared.train_rows, prepared.eval_rows
        assert train_rows is not None  # this host reads chat rows, which prepare tokenizes

        plan = self.plan(settings)
        notes = list(plan.notes)
        for note in notes:
            report(TrainProgress(0, 0, message=note))
        dropped = prepared.dropped
        if dropped:
            notes.append(f"dropped {dropped} rows longer than cutoff_len {settings.cutoff_len} tokens")
            report(TrainProgress(0, 0, message=notes[-1]))
        total_steps = settings.total_steps(len(train_rows.rows))
        report(TrainProgress(0, total_steps, message=f"loading {request.model} ({plan.device}, {plan.compute_dtype})"))
        model = _load_model(request.model, settings, plan)

        if stop.is_set():  # stopped while loading: nothing trained, nothing replaced
            return TrainResult(adapter_dir, steps=0, interrupted=True, total_steps=total_steps, notes=notes)
        # Asked for explicitly; done only now that model and data are ready, and undone if training fails.
        replace_old = request.overwrite and adapter_dir.exists() and not request.resume
        with replacing_folder(adapter_dir) if replace_old else contextlib.nullcontext():
            adapter_dir.mkdir(parents=True, exist_ok=True)
            _write_json(adapter_dir / "training_parameters.json", _parameters(request, settings, plan, train_rows))
            _write_json(adapter_dir / "training_prompt.json", {"template_type": "chat_template", "template": template})

            trainer = build_trainer(model, tokenizer, settings, plan, adapter_dir, train_rows, eval_rows, total_steps)
            trainer.add_callback(progress_callback(report, stop))
            started = time.time()
            try:
                with torch_threads(plan.threads):
                    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
            except out_of_memory() as exc:
                raise TrainingError(
                    f"out of memory: {exc}. Lower cutoff_len or lora_rank, or pick a smaller hardware profile."
                ) from exc
            state = trainer.state
            interrupted = stop.is_set() and state.global_step < state.max_steps
            final_eval = None
            if eval_rows and eval_rows.rows and not interrupted:
                last = next((e for e in reversed(state.log_history) if "eval_loss" in e), None)
                at_end = last is not None and last["step"] == state.global_step
                final_eval = float(last["eval_loss"] if at_end else trainer.evaluate()["eval_loss"])
            model.save_pretrained(str(adapter_dir))
            result = TrainResult(
                adapter_dir=adapter_dir,
                steps=state.global_step,
                interrupted=interrupted,
                train_loss=[(e["step"], float(e["loss"])) for e in state.log_history if "loss" in e],
                eval_loss=[(e["step"], float(e["eval_loss"])) for e in state.log_history if "eval_loss" in e],
                final_eval_loss=final_eval,
                total_steps=state.max_steps,
                dropped_rows=dropped,
                notes=notes,
            )
            _write_json(adapter_dir / "training_log.json", _log(request, trainer, result, time.time() - started))
            report(
                TrainProgress(
                    state.global_step,
                    state.max_steps,
                    epoch=float(state.epoch or 0),
                    eval_loss=final_eval,
                    message=("interrupted; " if interrupted else "done; ") + f"adapter saved to {adapter_dir}",
                )
            )
            return result


# --- steps of a run ----------------------------------------------------------------------------------------


def _is_local(model: str) -> bool:
    return Path(model).expanduser().exists() or model.startswith((".", "/", "~")) or "\\" in model


def _load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    local = _is_local(model)
    if local and not Path(model).expanduser().is_dir():
        raise ConfigError("model", model, "folder not found")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(Path(model).expanduser()) if local else model, local_files_only=local
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("model", model, f"cannot load its tokenizer: {exc}") from exc
    if tokenizer.pad_token_id is None:  # as the webui does; padded positions are masked out anyway
        tokenizer.pad_token_id = tokenizer.eos_token_id
    tokenizer.padding_side = "right"
    return tokenizer


def model_load_kwargs(settings: TrainConfig, plan: HardwarePlan) -> dict[str, Any]:
    """``from_pretrained`` arguments: the dtype, bitsandbytes 4-bit settings only in a CUDA 4-bit plan."""
    import torch

    dtype = getattr(torch, plan.compute_dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if plan.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=settings.quant_type,
            bnb_4bit_use_double_quant=settings.double_quant,
            bnb_4bit_compute_dtype=dtype,
        )
    if plan.device == "cuda":
        kwargs["device_map"] = {"": 0}
    return kwargs


def _load_model(model: str, settings: TrainConfig, plan: HardwarePlan) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    local = _is_local(model)
    try:
        base = AutoModelForCausalLM.from_pretrained(
            str(Path(model).expanduser()) if local else model,
            local_files_only=local,
            **model_load_kwargs(settings, plan),
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("model", model, f"cannot load it as a causal language model: {exc}") from exc
    base.config.use_cache = False  # the KV cache is useless in training and clashes with checkpointing
    for param in base.parameters():
        param.requires_grad = False
    if settings.gradient_checkpointing:
        # Non-reentrant checkpointing works with a frozen embedding; input grads cover reentrant fallbacks.
        checkpointing = {"use_reentrant": False}
        if hasattr(base, "activation_checkpointing_enable"):  # the name since transformers 5.2x
            base.activation_checkpointing_enable(activation_checkpointing_kwargs=checkpointing)
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
        base.enable_input_require_grads()
    targets = settings.target_modules if settings.target_modules == "all-linear" else list(settings.target_modules)
    config = LoraConfig(
        r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():  # peft 0.21 still reads transformers' deprecated is_gradient_checkpointing
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(base, config)
    except ValueError as exc:  # e.g. named target modules the model does not have
        raise ConfigError("target_modules", settings.target_modules, str(exc)) from exc


# --- files -------------------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def _parameters(request: TrainRequest, settings: TrainConfig, plan: HardwarePlan, rows: TokenizedRows) -> dict:
    return {
        "settings": settings.to_dict(),
        "effective": asdict(plan),
        "grad_accum": settings.grad_accum,
        "request": {
            "model": request.model,
            "dataset": str(request.dataset),
            "eval_dataset": str(request.eval_dataset) if request.eval_dataset else None,
            "lora_name": request.lora_name,
            "template": request.template,
            "resume": request.resume,
        },
        "rows": {"train": len(rows.rows), "dropped": rows.dropped, "tokens": rows.tokens},
    }


def _log(request: TrainRequest, trainer: Any, result: TrainResult, seconds: float) -> dict:
    model = trainer.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "base_model_name": request.model,
        "base_model_class": type(model.get_base_model()).__name__,
        "trainable_params": trainable,
        "steps": result.steps,
        "max_steps": result.total_steps,
        "interrupted": result.interrupted,
        "final_eval_loss": result.final_eval_loss,
        "runtime_seconds": round(seconds, 3),
        "log_history": trainer.state.log_history,
    }
