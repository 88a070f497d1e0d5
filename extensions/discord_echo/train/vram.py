"""Will this model train on this card? A memory estimate from the model's shape and the training settings.

``ModelShape.from_pretrained_folder(path)`` reads ``config.json`` only (no weights, no torch);
``estimate_vram(shape, settings)`` returns a ``VramEstimate``: a breakdown in GB, ``fits(card_gb)`` and
``suggest(card_gb)``, which names concrete changes (4-bit, checkpointing, cutoff, rank, a smaller model)
with the total each would give. "GB" here is GiB (2**30 bytes), the unit of a card's "8 GB" and nvidia-smi.

The formula, per part (evidence: docs/hardware.md, The memory estimate and Published figures):
* weights: 4-bit (bitsandbytes) replaces the Linear layers only: 0.5 byte/param plus one float32 absmax per
  64-weight block (0.0625 B), or with double quantization an 8-bit absmax plus a float32 per 256 blocks
  (0.0159 B; QLoRA paper: 0.5 -> 0.127 bits/param). Embeddings, the output head and norms stay 16-bit
  (2 B) — unless the trainer upcasts them to float32 as peft's ``prepare_model_for_kbit_training`` does
  (the webui's trainer calls it): ``upcast_frozen=True``. Without 4-bit every param takes the compute dtype.
* LoRA: r x (in + out) per adapted Linear; peft keeps adapters in float32 (4 B) with float32 grads (4 B);
  Adam holds two states: 8 B/param in 32-bit, 2 B in 8-bit (bitsandbytes).
* activations, per layer and token, in compute-dtype elements: 11 H + 3 KV + 4 I (norm inputs and their
  float32 upcasts, q/k/v before and after RoPE, attention output, gate/up/act/product of the MLP; SDPA or
  flash attention, so no s x s score matrix), plus the dropout copies of each adapted layer's input when
  lora_dropout > 0. With gradient checkpointing only each layer's input (H) is kept, plus one layer's
  activations during its recomputation.
* logits: vocab x cutoff x micro-batch x (16-bit logits + their float32 copy + float32 log-softmax + its
  float32 gradient) = 14 B/element (12 in float32): 0.86 GB per 512-token row for a 128k vocabulary
  (Llama 3) vs 0.22 GB for 32k (Mistral). A count of the 4-byte copy alone gives 0.26 GB.
* overhead: CUDA context, cuBLAS workspace and allocator fragmentation, ~0.75 GB, plus with 4-bit one
  dequantized weight matrix at a time.

Checked against the published numbers in tests/train/test_vram.py: Mistral-7B QLoRA ≈ 5-6 GB (LLaMA-Factory 6 GB,
Unsloth minimum 5 GB); Llama-3-8B at cutoff 512 is borderline on 8 GB (Unsloth: HF path OOM at 8 GB); the
weights after a 4-bit 8B load ≈ 5.7 GB (teleclone notebook: 5.98 GB reserved). A guide, not a guarantee:
MoE routing, vision towers and sequence packing are not modelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from discord_echo.core.errors import ConfigError

if TYPE_CHECKING:
    from discord_echo.train.config import TrainConfig

GB = 2**30
OVERHEAD_GB = 0.75
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
OPTIMIZER_STATE_BYTES = {
    "paged_adamw_8bit": 2,
    "adamw_bnb_8bit": 2,
    "paged_adamw_32bit": 8,
    "adamw_torch": 8,
    "adafactor": 4,
}


def _first(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a decoder-only transformer that decide its training memory."""

    layers: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    heads: int
    kv_heads: int
    tied_embeddings: bool = False
    experts: int = 1  # MoE: every expert's MLP weights are held, all of them in memory
    parameters: int = 0  # 0 = computed from the shape

    def __post_init__(self) -> None:
        for name in ("layers", "hidden_size", "intermediate_size", "vocab_size", "heads", "kv_heads", "experts"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ConfigError(name, getattr(self, name), "must be a positive whole number in the model config")
        if not self.parameters:
            object.__setattr__(self, "parameters", self.linear_parameters + self.other_parameters)

    @property
    def kv_size(self) -> int:
        return self.kv_heads * (self.hidden_size // self.heads)

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each Linear in one layer, by the Llama/Mistral/Qwen names."""
        h, i, kv = self.hidden_size, self.intermediate_size, self.kv_size
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_parameters(self) -> int:
        shapes = self.linear_shapes()
        attention = sum(a * b for n, (a, b) in shapes.items() if n.endswith(("q_proj", "k_proj", "v_proj", "o_proj")))
        mlp = sum(a * b for n, (a, b) in shapes.items() if n in ("gate_proj", "up_proj", "down_proj"))
        return self.layers * (attention + self.experts * mlp)

    @property
    def other_parameters(self) -> int:
        """Embeddings, the output head (unless tied) and norms: never quantized."""
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)
        return embeddings + (2 * self.layers + 1) * self.hidden_size

    @classmethod
    def from_config(cls, config: Any) -> ModelShape:
        """From a transformers config object or its dict (Llama/Mistral/Qwen/Gemma/GPT-2 style keys)."""
        data = config if isinstance(config, dict) else config.to_dict()
        if isinstance(data.get("text_config"), dict):  # multimodal configs nest the language model
            data = {**data, **data["text_config"]}
        hidden = _first(data, "hidden_size", "n_embd", "d_model")
        heads = _first(data, "num_attention_heads", "n_head", "num_heads")
        if hidden is None or heads is None:
            raise ConfigError("model config", sorted(data)[:12], "has no hidden_size / num_attention_heads")
        return cls(
            layers=_first(data, "num_hidden_layers", "n_layer", "num_layers"),
            hidden_size=hidden,
            intermediate_size=_first(data, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden),
            vocab_size=_first(data, "vocab_size"),
            heads=heads,
            kv_heads=_first(data, "num_key_value_heads", "n_head_kv", default=heads),
            tied_embeddings=bool(data.get("tie_word_embeddings", False)),
            experts=_first(data, "num_local_experts", "num_experts", default=1),
        )

    @classmethod
    def from_pretrained_folder(cls, path: str | Path) -> ModelShape:
        """Read ``config.json`` of a local model folder (the weights are not touched)."""
        file = Path(path) / "config.json"
        try:
            return cls.from_config(json.loads(file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigError("model", str(path), "has no config.json (not a Hugging Face model folder)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("model", str(file), f"is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class VramEstimate:
    """Estimated peak GPU memory of a training run, by part, in GB (GiB)."""

    parts: dict[str, float]
    shape: ModelShape = field(repr=False)
    settings: TrainConfig = field(repr=False)
    upcast_frozen: bool = False

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def fits(self, card_gb: float) -> bool:
        return self.total <= card_gb

    def tight(self, card_gb: float) -> bool:
        """Fits, but with less than 10% (at least 0.5 GB) to spare: fragmentation or a long row may OOM."""
        return self.fits(card_gb) and not _comfortable(self.total, card_gb)

    def summary(self) -> str:
        return ", ".join(f"{k} {v:.2f}" for k, v in self.parts.items()) + f"; total {self.total:.1f} GB"

    def suggest(self, card_gb: float) -> list[str]:
        """Concrete changes, each with the total it gives, when the run does not fit comfortably."""
        if _comfortable(self.total, card_gb):
            return []
        s = self.settings
        candidates: list[tuple[str, dict[str, Any]]] = []
        if not s.load_in_4bit:
            candidates.append(("load the model in 4-bit (QLoRA, NVIDIA GPU)", {"load_in_4bit": True}))
        if not s.gradient_checkpointing:
            candidates.append(("enable gradient checkpointing", {"gradient_checkpointing": True}))
        if s.micro_batch_size > 1:
            candidates.append(("micro-batch 1 (same batch size, more accumulation)", {"micro_batch_size": 1}))
        if OPTIMIZER_STATE_BYTES.get(s.optimizer, 8) > 2:
            candidates.append(("optimizer paged_adamw_8bit", {"optimizer": "paged_adamw_8bit"}))
        for cutoff in (384, 256):
            if s.cutoff_len > cutoff:
                candidates.append((f"cutoff_len {cutoff} (rebuild the dataset with it)", {"cutoff_len": cutoff}))
        if s.lora_rank > 8:
            candidates.append(("lora_rank 8, lora_alpha 16", {"lora_rank": 8, "lora_alpha": 16}))
        tips: list[str] = []
        changes: dict[str, Any] = {}
        for text, change in candidates:
            changes.update(change)
            total = estimate_vram(self.shape, replace(s, **changes), self.upcast_frozen).total
            tips.append(f"{text}: ~{total:.1f} GB")
            if _comfortable(total, card_gb):
                return tips
        for name, reference in REFERENCE_SHAPES.items():
            if reference.parameters >= self.shape.parameters:
                continue
            total = estimate_vram(reference, replace(s, **changes), self.upcast_frozen).total
            if _comfortable(total, card_gb):
                tips.append(f"a smaller model, e.g. {name}: ~{total:.1f} GB with the changes above")
                break
        else:
            tips.append("a smaller model: even a 0.5 B model does not fit this card; use the CPU profile")
        return tips


def _comfortable(total: float, card_gb: float) -> bool:
    return card_gb - total >= max(0.5, 0.1 * card_gb)


def lora_parameters(shape: ModelShape, settings: TrainConfig) -> int:
    """Trainable parameters of the adapter: r x (in + out) for each targeted Linear in every layer."""
    shapes = shape.linear_shapes()
    if settings.target_modules == "all-linear":
        targeted = list(shapes.values())
    else:  # unknown names are counted as hidden -> hidden layers
        targeted = [shapes.get(name, (shape.hidden_size, shape.hidden_size)) for name in settings.target_modules]
    per_layer = sum(a + b for a, b in targeted)
    return shape.layers * settings.lora_rank * per_layer


def estimate_vram(shape: ModelShape, settings: TrainConfig, upcast_frozen: bool = False) -> VramEstimate:
    """Peak training memory of ``shape`` under ``settings`` (see the module docstring for the formula)."""
    dtype = DTYPE_BYTES[settings.compute_dtype]
    frozen_bytes = 4 if upcast_frozen else dtype
    if settings.load_in_4bit:
        constants = 1 / 64 + 4 / (64 * 256) if settings.double_quant else 4 / 64
        weights = shape.linear_parameters * (0.5 + constants) + shape.other_parameters * frozen_bytes
    else:
        weights = shape.parameters * dtype

    lora = lora_parameters(shape, settings)
    optimizer = lora * OPTIMIZER_STATE_BYTES.get(settings.optimizer, 8)

    h, kv, i, layers = shape.hidden_size, shape.kv_size, shape.intermediate_size, shape.layers
    tokens = settings.micro_batch_size * settings.cutoff_len
    per_layer = 11 * h + 3 * kv + 4 * i
    if settings.lora_dropout > 0:
        shapes = shape.linear_shapes()
        names = shapes if settings.target_modules == "all-linear" else settings.target_modules
        per_layer += sum(shapes.get(n, (h, h))[0] for n in names)
    per_token = layers * h + per_layer if settings.gradient_checkpointing else layers * per_layer
    activations = tokens * per_token * dtype

    logits = tokens * shape.vocab_size * (dtype + 8 + (4 if dtype != 4 else 0))
    # bitsandbytes dequantizes one weight matrix at a time to 16-bit for the matmul.
    dequantized = max(a * b for a, b in shape.linear_shapes().values()) * 2 if settings.load_in_4bit else 0
    overhead = OVERHEAD_GB * GB + dequantized
    parts = {
        "weights": weights,
        "lora": lora * 8,  # float32 weights + gradients
        "optimizer": optimizer,
        "activations": activations,
        "logits": logits,
        "overhead": overhead,
    }
    return VramEstimate({k: v / GB for k, v in parts.items()}, shape, settings, upcast_frozen)


# Published configs (config.json of each model), largest first: the smaller-model suggestions and the tests.
REFERENCE_SHAPES: dict[str, ModelShape] = {
    "Llama-3-70B": ModelShape(80, 8192, 28672, 128256, 64, 8),
    "Llama-3-8B": ModelShape(32, 4096, 14336, 128256, 32, 8),
    "Mistral-7B (32k vocabulary)": ModelShape(32, 4096, 14336, 32768, 32, 8),
    "Llama-3.2-3B": ModelShape(28, 3072, 8192, 128256, 24, 8, tied_embeddings=True),
    "Llama-3.2-1B": ModelShape(16, 2048, 8192, 128256, 32, 8, tied_embeddings=True),
    "Qwen2.5-0.5B": ModelShape(24, 896, 4864, 151936, 14, 2, tied_embeddings=True),
}
