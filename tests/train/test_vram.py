"""The memory estimate against the published figures (docs/hardware.md), with wide tolerances:
it must say Mistral-7B QLoRA fits 8 GB, Llama-3-8B is borderline there, 70B does not fit, 1B fits, and name
concrete changes when a run does not fit. Shapes are the models' real config.json values."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.train.profiles import DEFAULT_PROFILE, profile
from discord_echo.train.vram import GB, REFERENCE_SHAPES, ModelShape, estimate_vram, lora_parameters

EIGHT = profile(DEFAULT_PROFILE)
LLAMA3_8B = REFERENCE_SHAPES["Llama-3-8B"]
MISTRAL_7B = REFERENCE_SHAPES["Mistral-7B (32k vocabulary)"]
LLAMA_70B = REFERENCE_SHAPES["Llama-3-70B"]
LLAMA_1B = REFERENCE_SHAPES["Llama-3.2-1B"]


def test_reference_shapes_have_their_published_parameter_counts():
    billions = {name: round(shape.parameters / 1e9, 1) for name, shape in REFERENCE_SHAPES.items()}
    assert billions == {
        "Llama-3-70B": 70.6,
        "Llama-3-8B": 8.0,
        "Mistral-7B (32k vocabulary)": 7.2,
        "Llama-3.2-3B": 3.2,
        "Llama-3.2-1B": 1.2,
        "Qwen2.5-0.5B": 0.5,
    }


def test_lora_size_matches_the_published_arithmetic():
    # docs/hardware.md, The 8 GB default: r16 all-linear on a 4096/1024/14336 model = 1,310,720 per layer x 32 = 41.9 M.
    assert lora_parameters(LLAMA3_8B, EIGHT) == 1_310_720 * 32
    assert lora_parameters(LLAMA3_8B, replace(EIGHT, target_modules=("q_proj", "v_proj"))) == 16 * 32 * (8192 + 5120)


def test_mistral_7b_qlora_fits_8gb_comfortably():
    estimate = estimate_vram(MISTRAL_7B, EIGHT)
    assert 4.5 <= estimate.total <= 6.5  # LLaMA-Factory: 6 GB for 7B QLoRA; Unsloth minimum: 5 GB
    assert estimate.fits(8) and not estimate.tight(8) and estimate.suggest(8) == []


def test_llama3_8b_is_borderline_on_8gb_and_gets_suggestions():
    estimate = estimate_vram(LLAMA3_8B, EIGHT)
    assert 6.5 <= estimate.total <= 8.2  # Unsloth: the HF path goes OOM for 8B on 8 GB
    assert not estimate.fits(8) or estimate.tight(8)
    tips = estimate.suggest(8)
    assert tips and "cutoff_len 384" in tips[0] and "GB" in tips[0]
    # Loaded weights of a 4-bit 8B: teleclone's notebook shows 5.98 GB (5.6 GiB) reserved after loading.
    assert 4.8 <= estimate.parts["weights"] <= 6.0


def test_70b_does_not_fit_and_a_smaller_model_is_named():
    estimate = estimate_vram(LLAMA_70B, EIGHT)
    assert estimate.total > 30 and not estimate.fits(8) and not estimate.fits(24)
    tips = estimate.suggest(8)
    assert any("cutoff_len 256" in t for t in tips) and any("lora_rank 8" in t for t in tips)
    # With those changes an 8B fits: docs/hardware.md, Llama 3 8B on 8 GB: cutoff 256-384, r 8.
    assert tips[-1].startswith("a smaller model, e.g. Llama-3-8B: ~")


def test_1b_fits_8gb():
    estimate = estimate_vram(LLAMA_1B, EIGHT)
    assert estimate.total < 4 and estimate.fits(8) and estimate.suggest(8) == []


def test_without_4bit_the_first_suggestion_is_4bit():
    full = replace(EIGHT, load_in_4bit=False)
    estimate = estimate_vram(MISTRAL_7B, full)
    assert estimate.total > 14 and estimate.suggest(8)[0].startswith("load the model in 4-bit")


@pytest.mark.parametrize(
    ("change", "part"),
    [
        ({"load_in_4bit": False}, "weights"),
        ({"double_quant": False}, "weights"),
        ({"gradient_checkpointing": False}, "activations"),
        ({"cutoff_len": 1024}, "logits"),
        ({"micro_batch_size": 2}, "activations"),
        ({"lora_rank": 64, "lora_alpha": 128}, "lora"),
        ({"optimizer": "adamw_torch"}, "optimizer"),
    ],
)
def test_each_memory_saving_setting_lowers_its_part(change, part):
    saving, costly = estimate_vram(LLAMA3_8B, EIGHT), estimate_vram(LLAMA3_8B, replace(EIGHT, **change))
    assert costly.parts[part] > saving.parts[part] and costly.total > saving.total


def test_a_128k_vocabulary_costs_more_logits_and_embeddings_than_32k():
    big, small = estimate_vram(LLAMA3_8B, EIGHT), estimate_vram(MISTRAL_7B, EIGHT)
    assert big.parts["logits"] == pytest.approx(4 * small.parts["logits"], rel=0.05)
    assert 1.0 < big.total - small.total < 2.5  # docs/hardware.md, Why vocabulary size matters


def test_upcasting_frozen_weights_like_the_webui_costs_the_embeddings_twice():
    plain, upcast = estimate_vram(LLAMA3_8B, EIGHT), estimate_vram(LLAMA3_8B, EIGHT, upcast_frozen=True)
    embeddings = 2 * 128256 * 4096 * 2 / GB  # embed + head, 2 more bytes each
    assert upcast.total - plain.total == pytest.approx(embeddings, rel=0.01) and not upcast.fits(8)


def test_shape_from_a_tiny_model_folder_counts_its_parameters_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from tiny_models import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny")
    shape = ModelShape.from_pretrained_folder(folder)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    assert (shape.layers, shape.hidden_size, shape.heads, shape.kv_heads) == (2, 64, 4, 2)


def test_shape_reads_config_json_only(tmp_path):
    config = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8}
    config |= {"intermediate_size": 14336, "vocab_size": 32768, "tie_word_embeddings": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert ModelShape.from_pretrained_folder(tmp_path) == MISTRAL_7B  # no weights in the folder
    nested = {"model_type": "llava", "text_config": config}
    assert ModelShape.from_config(nested) == MISTRAL_7B


def test_shape_errors_name_the_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"has no config.json \(not a Hugging Face model folder\)"):
        ModelShape.from_pretrained_folder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        ModelShape.from_pretrained_folder(tmp_path)
    with pytest.raises(ConfigError, match="has no hidden_size"):
        ModelShape.from_config({"vocab_size": 10})


def test_cpu_settings_estimate_in_float32_twice_the_16_bit_memory():
    cpu = profile("CPU (no GPU)")
    fp32, bf16 = estimate_vram(LLAMA_1B, cpu), estimate_vram(LLAMA_1B, replace(cpu, compute_dtype="bfloat16"))
    assert 4.4 <= fp32.parts["weights"] <= 4.8  # 1.24 B parameters, 4 bytes each, nothing quantized
    assert fp32.parts["weights"] == pytest.approx(2 * bf16.parts["weights"])
    assert fp32.parts["activations"] == pytest.approx(2 * bf16.parts["activations"])
    # float32 logits need no separate float32 copy: 12 bytes per element instead of 14.
    assert fp32.parts["logits"] == pytest.approx(bf16.parts["logits"] * 12 / 14)
    assert fp32.parts["overhead"] == bf16.parts["overhead"] == pytest.approx(0.75)  # no 4-bit dequantizing
