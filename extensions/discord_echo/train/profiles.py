"""Training settings and the hardware profiles that fill them in for a given graphics card.

``TrainSettings`` is every knob of a LoRA run, with its default and help text written once in the field
(the tab and the CLI build their widgets and flags from the metadata). ``PROFILES`` maps a card size to
settings that fit it; the default is the 8 GB one, for an RTX 3060 Ti (shared/specs/landscape.md §3.2).
``plan_hardware`` turns the settings a user *wants* into the ones this machine *can* run (no CUDA: no 4-bit,
no bitsandbytes optimizer, float32), so the difference is recorded and shown instead of crashing later.
The memory estimate for a model and settings lives in ``vram.py`` and is re-exported here.

Pure Python: no torch import. Steps (``save_steps``, ``eval_steps``, warmup) count *optimizer* steps; the
webui counts micro-batches for save/eval steps, so ``hosts/webui.py`` multiplies by ``grad_accum``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from discord_echo.core.errors import ConfigError
from discord_echo.train.vram import ModelShape, VramEstimate, estimate_vram

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "HardwarePlan",
    "ModelShape",
    "TrainSettings",
    "VramEstimate",
    "estimate_vram",
    "plan_hardware",
    "profile",
]

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
OPTIMIZERS = ("paged_adamw_8bit", "adamw_bnb_8bit", "paged_adamw_32bit", "adamw_torch", "adafactor")
BITSANDBYTES_OPTIMIZERS = ("paged_adamw_8bit", "adamw_bnb_8bit", "paged_adamw_32bit")
COMPUTE_DTYPES = ("bfloat16", "float16", "float32")
MAX_RANK = 1024


def _f(default: Any, label: str, help: str) -> Any:
    return field(default=default, metadata={"label": label, "help": help})


@dataclass(frozen=True)
class TrainSettings:
    """One LoRA training run's settings. Defaults = the 8 GB profile."""

    lora_rank: int = _f(16, "LoRA rank", "Size of the adapter. 8-16 is plenty for a writing style.")
    lora_alpha: int = _f(32, "LoRA alpha", "Scale of the adapter's update; usually twice the rank.")
    lora_dropout: float = _f(0.05, "LoRA dropout", "Share of adapter inputs dropped in training (0-0.5).")
    target_modules: str | tuple[str, ...] = _f(
        "all-linear",
        "Target modules",
        "'all-linear' (every linear layer except the output head) or layer names, e.g. q_proj,v_proj.",
    )
    micro_batch_size: int = _f(1, "Micro-batch size", "Rows per forward pass. 1 on 8 GB cards.")
    batch_size: int = _f(
        16, "Batch size", "Rows per optimizer step; gradients of batch/micro micro-batches are accumulated."
    )
    epochs: float = _f(2.0, "Epochs", "Passes over the dataset. 1-2 for chat style; more tends to overfit.")
    learning_rate: float = _f(2e-4, "Learning rate", "Peak learning rate. Lower it (1e-4) if the loss spikes.")
    lr_scheduler: Literal[
        "cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"
    ] = _f("cosine", "LR scheduler", "How the learning rate falls after warmup.")
    warmup_ratio: float = _f(
        0.05, "Warmup share", "Share of all optimizer steps spent ramping the learning rate up (0-0.5)."
    )
    optimizer: Literal["paged_adamw_8bit", "adamw_bnb_8bit", "paged_adamw_32bit", "adamw_torch", "adafactor"] = _f(
        "paged_adamw_8bit",
        "Optimizer",
        "8-bit and paged optimizers need an NVIDIA GPU and bitsandbytes; elsewhere adamw_torch is used.",
    )
    gradient_checkpointing: bool = _f(
        True, "Gradient checkpointing", "Recompute activations in the backward pass: far less memory, ~25% slower."
    )
    load_in_4bit: bool = _f(True, "Load in 4-bit", "QLoRA: base weights in 4 bits (NVIDIA GPU + bitsandbytes).")
    quant_type: Literal["nf4", "fp4"] = _f("nf4", "4-bit type", "nf4 suits normally distributed weights.")
    double_quant: bool = _f(True, "Double quantization", "Quantize the quantization constants too (~0.4 GB on 7B).")
    compute_dtype: Literal["bfloat16", "float16", "float32"] = _f(
        "bfloat16", "Compute dtype", "bfloat16 on RTX 30xx and newer; float16 on older cards; float32 on CPU."
    )
    cutoff_len: int = _f(512, "Cutoff length", "Longest row in tokens; longer rows are dropped, as the webui does.")
    save_steps: int = _f(50, "Save every N steps", "Write a resumable checkpoint every N optimizer steps; 0 = never.")
    save_total_limit: int = _f(3, "Checkpoints kept", "Older checkpoints are deleted beyond this many; 0 = keep all.")
    eval_steps: int = _f(50, "Evaluate every N steps", "Held-out loss every N optimizer steps (and at the end).")
    seed: int = _f(42, "Seed", "Seeds shuffling, dropout and adapter initialisation, for repeatable runs.")

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
        for name in ("save_steps", "save_total_limit", "eval_steps", "seed"):
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
        for name, choices in (
            ("lr_scheduler", SCHEDULERS),
            ("optimizer", OPTIMIZERS),
            ("compute_dtype", COMPUTE_DTYPES),
            ("quant_type", ("nf4", "fp4")),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(name, getattr(self, name), f"must be one of {', '.join(choices)}")
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
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        """Settings from ``to_dict`` output; keys this version does not know are dropped with a warning."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            warnings.warn(f"ignoring unknown training settings: {', '.join(unknown)}", stacklevel=2)
        return cls(**{k: v for k, v in data.items() if k in known})


# --- hardware profiles -------------------------------------------------------------------------------------

# Every value of the 8 GB default, with its evidence (shared/specs/landscape.md §3.1-3.2):
# * load_in_4bit + nf4 + double_quant: QLoRA; nf4 is "theoretically optimal" for normal weights and double
#   quant saves ~0.37 bits/param (~0.3 GB on 7B); the webui leaves double quant off, we turn it on.
# * compute bfloat16: the 3060 Ti is Ampere, which runs bf16 natively; fp16 compute made ~20% of QLoRA 7B runs
#   fail (QLoRA README, known issue 3) because fp16 overflows where bf16 keeps float32's range.
# * r16 / alpha 32 on all linear layers: peers training chat style use r16/a32 (teleclone) and alpha = 2r is
#   Unsloth's advice; r16 all-linear on 7B is 42 M params, ~0.4 GB with an 8-bit optimizer.
# * dropout 0.05: a little regularisation for small personal datasets (the webui uses 0; §3.2 fallback).
# * micro-batch 1, global batch 16 (grad-accum 16): webui docs ("4-bit ... set Micro Batch Size to 1"),
#   QLoRA guanaco-7b (1 x 16).
# * cutoff 512: chat replies are short; the webui default; 8 GB peers use 256-768. Rows are dropped, not cut.
# * lr 2e-4, cosine, 5% warmup: Unsloth and QLoRA guanaco-7b use 2e-4; warmup a share of the (short) run.
# * 2 epochs: Unsloth "1-3"; more epochs overfit chat data (wa-finetune); stop at the eval-loss minimum.
# * paged_adamw_8bit: QLoRA's paged optimizer rides out memory spikes; 8-bit states are 4x smaller.
# * gradient checkpointing: the webui default; "~20-30% slower ... no impact on accuracy".
# * save every 50 steps, keep 3: an interrupted run loses at most 50 steps; the webui never prunes
#   (56 checkpoints, 18 MB for 280 tiny steps, webui-host.md §5), which fills disks with 7B adapters.
EIGHT_GB = TrainSettings()

DEFAULT_PROFILE = "8 GB (RTX 3060 Ti)"
PROFILES: dict[str, TrainSettings] = {
    # 7B at r8 / cutoff 384 is borderline here; 3-4B models (Unsloth: 3B needs ~3.5 GB) are the safe choice.
    "6 GB (RTX 2060, 3050)": replace(EIGHT_GB, lora_rank=8, lora_alpha=16, cutoff_len=384),
    DEFAULT_PROFILE: EIGHT_GB,
    # 12 GB: HF path on 8B reaches ~1k tokens with r32 (Unsloth table); 7B at 1024 with micro 2 fits.
    "12 GB (RTX 3060 12 GB, 4070)": replace(EIGHT_GB, micro_batch_size=2, cutoff_len=1024),
    "16 GB (RTX 4060 Ti 16 GB, 4080)": replace(EIGHT_GB, micro_batch_size=4, cutoff_len=1024),
    "24 GB (RTX 3090, 4090)": replace(EIGHT_GB, lora_rank=32, lora_alpha=64, micro_batch_size=4, cutoff_len=2048),
    # No GPU: bitsandbytes 4-bit and its optimizers need CUDA; float32 is the safe CPU dtype. Only small models
    # (≤1B) train in reasonable time, so a smaller batch and cutoff keep steps short.
    "CPU (no GPU)": replace(
        EIGHT_GB,
        load_in_4bit=False,
        compute_dtype="float32",
        optimizer="adamw_torch",
        lora_rank=8,
        lora_alpha=16,
        batch_size=4,
        cutoff_len=256,
        gradient_checkpointing=False,
        save_steps=20,
        eval_steps=20,
    ),
}
# The standalone app's demo: the tiny random-weight model it builds on first run learns a style only at a
# learning rate 100x a real model's (its weights are small and random); minutes on a CPU, no download.
PROFILES["Tiny demo model (CPU)"] = replace(
    PROFILES["CPU (no GPU)"], learning_rate=2e-2, epochs=4.0, save_steps=0, eval_steps=10
)


def profile(name: str) -> TrainSettings:
    """The settings of a named hardware profile; ``ConfigError`` lists the names for an unknown one."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError("profile", name, f"must be one of: {', '.join(PROFILES)}") from None


# --- what this machine can run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HardwarePlan:
    """The settings as they will run on this machine, and why they differ from the wanted ones."""

    device: Literal["cuda", "cpu"]
    load_in_4bit: bool
    compute_dtype: str
    optimizer: str
    wanted_optimizer: str
    notes: tuple[str, ...] = ()


def plan_hardware(settings: TrainSettings, cuda: bool, bitsandbytes: bool, bf16: bool = True) -> HardwarePlan:
    """Decide device, 4-bit loading, dtype and optimizer from what is present (pure: inputs are injected).

    ``cuda``: a CUDA GPU is usable; ``bitsandbytes``: the package imports; ``bf16``: the GPU runs bfloat16
    (Ampere and newer). 4-bit weights and the 8-bit/paged optimizers exist only in bitsandbytes on CUDA.
    """
    notes: list[str] = []
    quant = settings.load_in_4bit
    optimizer = settings.optimizer
    dtype = settings.compute_dtype
    if not cuda:
        if quant:
            notes.append("no CUDA GPU: loading the model in full precision (4-bit needs an NVIDIA GPU)")
        if dtype != "float32":
            notes.append(f"no CUDA GPU: training in float32 instead of {dtype}")
        quant, dtype = False, "float32"
    elif not bitsandbytes and (quant or optimizer in BITSANDBYTES_OPTIMIZERS):
        notes.append("bitsandbytes is not installed (pip install 'discord-echo[gpu]'): no 4-bit, no 8-bit optimizer")
        quant = False
    if optimizer in BITSANDBYTES_OPTIMIZERS and not (cuda and bitsandbytes):
        notes.append(f"optimizer adamw_torch instead of {optimizer}")
        optimizer = "adamw_torch"
    if cuda and dtype == "bfloat16" and not bf16:
        notes.append("this GPU has no bfloat16 (older than Ampere): computing in float16")
        dtype = "float16"
    return HardwarePlan(
        device="cuda" if cuda else "cpu",
        load_in_4bit=quant,
        compute_dtype=dtype,
        optimizer=optimizer,
        wanted_optimizer=settings.optimizer,
        notes=tuple(notes),
    )
