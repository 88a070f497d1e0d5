"""The hardware profiles that fill in ``TrainConfig`` for a given graphics card, and what this machine can run.

``PROFILES`` maps a card size to settings that fit it; the default is the 8 GB one, for an RTX 3060 Ti
(docs/hardware.md). ``plan_hardware`` turns the settings a user *wants* into the ones this machine *can* run
(no CUDA: no 4-bit, no bitsandbytes optimizer, float32), so the difference is recorded and shown instead of
crashing later. The memory estimate for a model and settings lives in ``vram.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal

from discord_echo.core.errors import ConfigError
from discord_echo.train.config import BITSANDBYTES_OPTIMIZERS, TrainConfig

# --- hardware profiles -------------------------------------------------------------------------------------

# Every value of the 8 GB default, with its evidence (docs/hardware.md, The 8 GB default):
# * load_in_4bit + nf4 + double_quant: QLoRA; nf4 is "theoretically optimal" for normal weights and double
#   quant saves ~0.37 bits/param (~0.3 GB on 7B); the webui leaves double quant off, we turn it on.
# * compute bfloat16: the 3060 Ti is Ampere, which runs bf16 natively; fp16 compute made ~20% of QLoRA 7B runs
#   fail (QLoRA README, known issue 3) because fp16 overflows where bf16 keeps float32's range.
# * r16 / alpha 32 on all linear layers: peers training chat style use r16/a32 (teleclone) and alpha = 2r is
#   Unsloth's advice; r16 all-linear on 7B is 42 M params, ~0.4 GB with an 8-bit optimizer.
# * dropout 0.05: a little regularisation for small personal datasets (the webui uses 0).
# * micro-batch 1, global batch 16 (grad-accum 16): webui docs ("4-bit ... set Micro Batch Size to 1"),
#   QLoRA guanaco-7b (1 x 16).
# * cutoff 512: chat replies are short; the webui default; 8 GB peers use 256-768. Rows are dropped, not cut.
# * lr 2e-4, cosine, 5% warmup: Unsloth and QLoRA guanaco-7b use 2e-4; warmup a share of the (short) run.
# * 2 epochs: Unsloth "1-3"; more epochs overfit chat data (wa-finetune); stop at the eval-loss minimum.
# * paged_adamw_8bit: QLoRA's paged optimizer rides out memory spikes; 8-bit states are 4x smaller.
# * gradient checkpointing: the webui default; "~20-30% slower ... no impact on accuracy".
# * save every 50 steps, keep 3: an interrupted run loses at most 50 steps; the webui never prunes
#   (56 checkpoints, 18 MB for 280 tiny steps; docs/webui-trainer.md), which fills disks with 7B adapters.
EIGHT_GB = TrainConfig()

DEFAULT_PROFILE = "8 GB (RTX 3060 Ti)"
PROFILES: dict[str, TrainConfig] = {
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

# The real demo model (SmolLM2-135M-Instruct, built by install.py; train/demo_model.py) on 2 CPU cores. Measured
# with benchmarks/echo_quality.py (a chat like the bundled sample, 90 samples of at most ~140 tokens, 46 steps
# of ~2.6 s): at lr 5e-4 or 3 epochs the echo copies the voice but forgets facts (fewer correct answers than
# the base with the same prompt: "the capital of china is jinan"); 2e-4 keeps the facts but barely sounds like
# me; 3e-4 for 2 epochs does both (benchmarks/README.md, Echo quality).
DEMO_MODEL_PROFILE = "CPU demo (SmolLM2-135M)"
PROFILES[DEMO_MODEL_PROFILE] = replace(
    PROFILES["CPU (no GPU)"], learning_rate=3e-4, epochs=2.0, save_steps=15, eval_steps=15
)

# Short typeable ids, one per profile, accepted wherever a profile is named (CLI ``--profile cpu``, the tab).
PROFILE_IDS: dict[str, str] = {
    "6gb": "6 GB (RTX 2060, 3050)",
    "8gb": DEFAULT_PROFILE,
    "12gb": "12 GB (RTX 3060 12 GB, 4070)",
    "16gb": "16 GB (RTX 4060 Ti 16 GB, 4080)",
    "24gb": "24 GB (RTX 3090, 4090)",
    "cpu": "CPU (no GPU)",
    "tiny": "Tiny demo model (CPU)",
    "smol": DEMO_MODEL_PROFILE,
}


def profile_label(name: str) -> str:
    """The label of a profile given by label or by short id (``"cpu"``); ``ConfigError`` lists both for neither."""
    if name in PROFILES:
        return name
    label = PROFILE_IDS.get(name.strip().lower())
    if label in PROFILES:
        return label
    known = ", ".join(f"{label} ({profile_id(label)})" for label in PROFILES)
    raise ConfigError("profile", name, f"must be one of: {known}")


def profile_id(label: str) -> str:
    """The short id of a profile label (the label itself for a profile without one)."""
    return next((short for short, known in PROFILE_IDS.items() if known == label), label)


def profile(name: str) -> TrainConfig:
    """The settings of a profile named by label or short id; ``ConfigError`` lists the names for an unknown one."""
    return PROFILES[profile_label(name)]


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
    threads: int = 0  # torch threads on a CPU; 0 on a GPU (left as torch sets them)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, which containers narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def plan_hardware(
    settings: TrainConfig, cuda: bool, bitsandbytes: bool, bf16: bool = True, cores: int | None = None
) -> HardwarePlan:
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
    threads = 0
    if not cuda:
        cores = cores or available_cores()
        threads = min(settings.cpu_threads or cores, cores)
        notes.append(f"CPU: training with {threads} torch thread{'s' if threads != 1 else ''} ({cores} cores here)")
    return HardwarePlan(
        device="cuda" if cuda else "cpu",
        load_in_4bit=quant,
        compute_dtype=dtype,
        optimizer=optimizer,
        wanted_optimizer=settings.optimizer,
        notes=tuple(notes),
        threads=threads,
    )
