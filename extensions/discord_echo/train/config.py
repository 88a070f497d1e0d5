"""``TrainConfig``: every knob of one LoRA run, with its default, label and help written once in the field.

The tab and the CLI build their widgets and flags from the field metadata; ``profiles.py`` fills a set of
these in for a given graphics card, and ``vram.py`` estimates what they cost. Pure Python: no torch import.
Steps (``save_steps``, ``eval_steps``, warmup) count *optimizer* steps; the webui counts micro-batches for
save/eval steps, so the webui host multiplies by ``grad_accum``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import check_choices, setting
from discord_echo.dataset.samples import DEFAULT_CUTOFF_LEN

Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"]
Optimizer = Literal["paged_adamw_8bit", "adamw_bnb_8bit", "paged_adamw_32bit", "adamw_torch", "adafactor"]
QuantType = Literal["nf4", "fp4"]
ComputeDtype = Literal["bfloat16", "float16", "float32"]
# The optimizers that need bitsandbytes (and so an NVIDIA GPU); profiles.py swaps them out elsewhere.
BITSANDBYTES_OPTIMIZERS: tuple[Optimizer, ...] = ("paged_adamw_8bit", "adamw_bnb_8bit", "paged_adamw_32bit")
MAX_RANK = 1024


@dataclass(frozen=True)
class TrainConfig:
    """One LoRA training run's settings. Defaults = the 8 GB profile."""

    lora_rank: int = setting(16, "LoRA rank", "Size of the adapter. 8-16 is plenty for a writing style.")
    lora_alpha: int = setting(32, "LoRA alpha", "Scale of the adapter's update; usually twice the rank.")
    lora_dropout: float = setting(0.05, "LoRA dropout", "Share of adapter inputs dropped in training (0-0.5).")
    target_modules: str | tuple[str, ...] = setting(
        "all-linear",
        "Target modules",
        "'all-linear' (every linear layer except the output head) or layer names, e.g. q_proj,v_proj.",
    )
    micro_batch_size: int = setting(1, "Micro-batch size", "Rows per forward pass. 1 on 8 GB cards.")
    batch_size: int = setting(
        16, "Batch size", "Rows per optimizer step; gradients of batch/micro micro-batches are accumulated."
    )
    epochs: float = setting(2.0, "Epochs", "Passes over the dataset. 1-2 for chat style; more tends to overfit.")
    learning_rate: float = setting(2e-4, "Learning rate", "Peak learning rate. Lower it (1e-4) if the loss spikes.")
    lr_scheduler: Scheduler = setting("cosine", "LR scheduler", "How the learning rate falls after warmup.")
    warmup_ratio: float = setting(
        0.05, "Warmup share", "Share of all optimizer steps spent ramping the learning rate up (0-0.5)."
    )
    optimizer: Optimizer = setting(
        "paged_adamw_8bit",
        "Optimizer",
        "8-bit and paged optimizers need an NVIDIA GPU and bitsandbytes; elsewhere adamw_torch is used.",
    )
    gradient_checkpointing: bool = setting(
        True, "Gradient checkpointing", "Recompute activations in the backward pass: far less memory, ~25% slower."
    )
    load_in_4bit: bool = setting(True, "Load in 4-bit", "QLoRA: base weights in 4 bits (NVIDIA GPU + bitsandbytes).")
    quant_type: QuantType = setting("nf4", "4-bit type", "nf4 suits normally distributed weights.")
    double_quant: bool = setting(
        True, "Double quantization", "Quantize the quantization constants too (~0.4 GB on 7B)."
    )
    compute_dtype: ComputeDtype = setting(
        "bfloat16", "Compute dtype", "bfloat16 on RTX 30xx and newer; float16 on older cards; float32 on CPU."
    )
    cutoff_len: int = setting(
        DEFAULT_CUTOFF_LEN, "Cutoff length", "Longest row in tokens; longer rows are dropped, as the webui does."
    )
    save_steps: int = setting(
        50, "Save every N steps", "Write a resumable checkpoint every N optimizer steps; 0 = never."
    )
    save_total_limit: int = setting(
        3, "Checkpoints kept", "Older checkpoints are deleted beyond this many; 0 = keep all."
    )
    eval_steps: int = setting(50, "Evaluate every N steps", "Held-out loss every N optimizer steps (and at the end).")
    seed: int = setting(42, "Seed", "Seeds shuffling, dropout and adapter initialisation, for repeatable runs.")
    cpu_threads: int = setting(
        0,
        "CPU threads",
        "Threads torch trains with when there is no GPU; 0 = one per CPU core this process may use. Never more: "
        "threads beyond the cores spin-wait and make training several times slower.",
    )

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str) and self.target_modules != "all-linear":
            object.__setattr__(self, "target_modules", tuple(filter(None, self.target_modules.split(","))))
        elif isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        object.__setattr__(self, "epochs", float(self.epochs))
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        self._validate()

    def _validate(self) -> None:
        positive = ("lora_rank", "lora_alpha", "micro_batch_size", "batch_size", "cutoff_len")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(name, value, "must be a positive whole number")
        if self.lora_rank > MAX_RANK:
            raise ConfigError("lora_rank", self.lora_rank, f"must be at most {MAX_RANK}")
        for name in ("save_steps", "save_total_limit", "eval_steps", "seed", "cpu_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(name, value, "must be a whole number, 0 or more")
        if self.batch_size % self.micro_batch_size:
            raise ConfigError(
                "batch_size", self.batch_size, f"must be a multiple of micro_batch_size ({self.micro_batch_size})"
            )
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError("lora_dropout", self.lora_dropout, "must be from 0 up to (not including) 1")
        if not 0 <= self.warmup_ratio <= 0.5:
            raise ConfigError("warmup_ratio", self.warmup_ratio, "must be a share from 0 to 0.5 of the steps")
        if not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError("epochs", self.epochs, "must be positive")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate < 1):
            raise ConfigError("learning_rate", self.learning_rate, "must be between 0 and 1 (typically 1e-4 to 3e-4)")
        check_choices(self)
        if self.target_modules != "all-linear":
            names = self.target_modules if isinstance(self.target_modules, tuple) else ()
            if not names or not all(isinstance(n, str) and n.strip().isidentifier() for n in names):
                raise ConfigError(
                    "target_modules", self.target_modules, "must be 'all-linear' or layer names such as q_proj,v_proj"
                )
            object.__setattr__(self, "target_modules", tuple(n.strip() for n in names))

    # -- derived values

    @property
    def grad_accum(self) -> int:
        """Micro-batches accumulated per optimizer step."""
        return self.batch_size // self.micro_batch_size

    def steps_per_epoch(self, rows: int) -> int:
        """Optimizer steps in one pass over ``rows`` rows (the HF Trainer's count: partial steps count)."""
        micro_batches = math.ceil(rows / self.micro_batch_size)
        return max(1, math.ceil(micro_batches / self.grad_accum))

    def total_steps(self, rows: int) -> int:
        """Optimizer steps of the whole run over ``rows`` training rows."""
        return math.ceil(self.epochs * self.steps_per_epoch(rows))

    def warmup_steps(self, total_steps: int) -> int:
        """Warmup as ``warmup_ratio`` of the run's actual steps, rounded.

        A fixed count (the webui's default is 100 steps) would be the whole run on a small chat dataset.
        """
        # Rounded, not ceiled: a 10-step run at 5% gets no warmup rather than a wasted first step at lr 0.
        return math.floor(self.warmup_ratio * max(total_steps, 0) + 0.5)

    # -- (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(data["target_modules"], tuple):
            data["target_modules"] = list(data["target_modules"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Settings from ``to_dict`` output; keys this version does not know are dropped with a warning."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            warnings.warn(f"ignoring unknown training settings: {', '.join(unknown)}", stacklevel=2)
        return cls(**{k: v for k, v in data.items() if k in known})
