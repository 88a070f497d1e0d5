"""The HF ``Trainer`` set up for train/standalone/host.py: arguments from the settings, padding, progress, stop.

``build_trainer`` maps ``TrainConfig`` + the ``HardwarePlan`` to ``TrainingArguments`` (optimizer steps
for save/eval, warmup as a share of the run, checkpoints pruned to ``save_total_limit``, micro-batches of
rows of similar length: ``length_grouping``); ``collator`` pads
like the webui's ``collate_fn`` (pad id, labels -100, attention 0); ``progress_callback`` turns the Trainer's
logs into ``TrainProgress`` (loss, eval loss, learning rate, tokens/s, ETA) and a set ``stop`` event into a
stop after the current step with a checkpoint saved. Imports torch and transformers inside functions.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from discord_echo.templates.trainer_rows import TokenizedRows
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import ProgressCallback, TrainProgress
from discord_echo.train.profiles import HardwarePlan


def build_trainer(
    model: Any,
    tokenizer: Any,
    settings: TrainConfig,
    plan: HardwarePlan,
    adapter_dir: Path,
    train_rows: TokenizedRows,
    eval_rows: TokenizedRows | None,
    total_steps: int,
) -> Any:
    from transformers import PrinterCallback, Trainer, TrainingArguments

    has_eval = bool(eval_rows and eval_rows.rows)
    args = TrainingArguments(
        output_dir=str(adapter_dir),
        per_device_train_batch_size=settings.micro_batch_size,
        per_device_eval_batch_size=settings.micro_batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps(total_steps),
        optim=plan.optimizer,
        bf16=plan.device == "cuda" and plan.compute_dtype == "bfloat16",
        fp16=plan.device == "cuda" and plan.compute_dtype == "float16",
        use_cpu=plan.device == "cpu",
        logging_steps=1,
        eval_strategy="steps" if has_eval and settings.eval_steps else "no",
        eval_steps=settings.eval_steps or None,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or None,
        save_total_limit=settings.save_total_limit or None,
        seed=settings.seed,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        **length_grouping(TrainingArguments),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_rows.rows,
        eval_dataset=eval_rows.rows if has_eval else None,
        data_collator=collator(tokenizer.pad_token_id),
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to on_progress; a library does not print
    return trainer


def length_grouping(arguments: type) -> dict[str, Any]:
    """The ``TrainingArguments`` option that batches rows of similar length together, in this transformers.

    Chat samples range from one short exchange to the cutoff; drawn at random, a micro-batch is padded to its
    longest row and most of its tokens can be padding, computed and thrown away. The Trainer's
    ``LengthGroupedSampler`` still shuffles (random mega-batches of 50 micro-batches, sorted by length inside),
    so every row is seen once per epoch as before; only which rows share a micro-batch changes, and the loss
    is still on my turns only (labels are untouched). benchmarks/train_throughput.py measures the gain.
    transformers 5 names it ``train_sampling_strategy="group_by_length"``, 4.x ``group_by_length=True``.
    """
    names = getattr(arguments, "__dataclass_fields__", {})
    if "train_sampling_strategy" in names:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True} if "group_by_length" in names else {}


def collator(pad_id: int) -> Any:
    import torch

    def collate(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(row["input_ids"]) for row in batch)

        def padded(key: str, fill: int) -> Any:
            return torch.tensor([row[key] + [fill] * (width - len(row[key])) for row in batch])

        return {
            "input_ids": padded("input_ids", pad_id),
            "labels": padded("labels", -100),
            "attention_mask": padded("attention_mask", 0),
        }

    return collate


def progress_callback(report: ProgressCallback, stop: threading.Event) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Turns the Trainer's logs into ``TrainProgress`` and ``stop`` into a clean stop with a checkpoint."""

        def __init__(self) -> None:
            self.clock: tuple[float, int, int] | None = None  # time, step, tokens at the first step of this run
            self.eval_loss: float | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if self.clock is None:
                self.clock = (time.time(), state.global_step, state.num_input_tokens_seen)

        def on_step_end(self, args, state, control, **kwargs):
            self._maybe_stop(control)

        def _maybe_stop(self, control) -> None:
            if stop.is_set():
                control.should_training_stop = True
                control.should_save = True  # a resumable checkpoint of the step just done

        def on_log(self, args, state, control, logs=None, **kwargs):
            self._report(state, logs or {})
            # The Trainer logs a step after on_step_end but before it saves: a stop asked for while this
            # step's progress is reported still stops (and checkpoints) at this step, not the next.
            self._maybe_stop(control)

        def _report(self, state, logs: dict) -> None:
            if "eval_loss" in logs:
                self.eval_loss = float(logs["eval_loss"])
            if self.clock is None or not ("loss" in logs or "eval_loss" in logs):
                return
            started, first_step, first_tokens = self.clock
            elapsed = max(time.time() - started, 1e-9)
            done = state.global_step - first_step
            rate = done / elapsed if done else None
            report(
                TrainProgress(
                    step=state.global_step,
                    total_steps=state.max_steps,
                    epoch=float(state.epoch or 0),
                    loss=float(logs["loss"]) if "loss" in logs else None,
                    eval_loss=self.eval_loss,
                    learning_rate=logs.get("learning_rate"),
                    tokens_per_second=(state.num_input_tokens_seen - first_tokens) / elapsed if done else None,
                    eta_seconds=(state.max_steps - state.global_step) / rate if rate else None,
                )
            )

    return Progress()


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the body with torch using ``threads`` threads (0: leave torch's setting), then restore it.

    On a CPU the plan picks one per core this process may use (``profiles.plan_hardware``): torch's default
    can exceed that inside containers, and threads beyond the cores spin-wait instead of working.
    """
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def out_of_memory() -> type[BaseException]:
    import torch

    return torch.OutOfMemoryError
