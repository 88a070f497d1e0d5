"""Training settings and hardware profiles: every profile is valid, the 8 GB defaults are the researched
ones, warmup is a share of the run, bad values are refused with a message naming field and value, and the
hardware plan falls back (no CUDA, no bitsandbytes, no bf16) and says why. Pure Python: no torch needed."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.train.config import TrainConfig
from discord_echo.train.profiles import DEFAULT_PROFILE, DEMO_MODEL_PROFILE, PROFILES, plan_hardware, profile


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_is_valid_and_round_trips(name):
    settings = profile(name)
    assert TrainConfig.from_dict(settings.to_dict()) == settings
    assert replace(settings) == settings  # __post_init__ accepts its own values
    assert settings.grad_accum * settings.micro_batch_size == settings.batch_size


def test_every_field_has_a_label_and_help():
    for field in fields(TrainConfig):
        assert field.metadata.get("label") and field.metadata.get("help"), field.name


def test_the_default_is_the_8gb_profile_with_the_researched_values():
    settings = profile(DEFAULT_PROFILE)
    assert DEFAULT_PROFILE.startswith("8 GB") and settings == TrainConfig()
    assert (settings.load_in_4bit, settings.quant_type, settings.double_quant, settings.compute_dtype) == (
        True,
        "nf4",
        True,
        "bfloat16",
    )
    assert (settings.lora_rank, settings.lora_alpha, settings.target_modules) == (16, 32, "all-linear")
    assert (settings.micro_batch_size, settings.batch_size, settings.grad_accum, settings.cutoff_len) == (
        1,
        16,
        16,
        512,
    )
    assert (settings.learning_rate, settings.lr_scheduler, settings.epochs) == (2e-4, "cosine", 2.0)
    assert 0.03 <= settings.warmup_ratio <= 0.05 and settings.lora_dropout == 0.05
    assert settings.optimizer == "paged_adamw_8bit" and settings.gradient_checkpointing
    assert (settings.save_steps, settings.save_total_limit) == (50, 3)


def test_cpu_profile_needs_no_gpu():
    settings = profile("CPU (no GPU)")
    assert not settings.load_in_4bit and settings.compute_dtype == "float32" and settings.optimizer == "adamw_torch"
    notes = plan_hardware(settings, cuda=False, bitsandbytes=False, cores=2).notes
    assert notes == ("CPU: training with 2 torch threads (2 cores here)",)  # nothing it asked for was changed


def test_bigger_cards_get_longer_rows_or_bigger_batches():
    sizes = [(int(name.split()[0]), s) for name, s in PROFILES.items() if name[0].isdigit()]
    sizes.sort(key=lambda item: item[0])
    budgets = [s.cutoff_len * s.micro_batch_size * s.lora_rank for _, s in sizes]
    assert budgets == sorted(budgets) and len(set(budgets)) == len(budgets)


def test_unknown_profile_lists_the_names():
    with pytest.raises(ConfigError, match=r"profile='4 GB': must be one of: 6 GB .*CPU \(no GPU\)"):
        profile("4 GB")


@pytest.mark.parametrize(
    ("total", "ratio", "warmup"),
    [(1000, 0.05, 50), (200, 0.05, 10), (100, 0.03, 3), (10, 0.05, 1), (5, 0.05, 0), (100, 0.0, 0), (0, 0.05, 0)],
)
def test_warmup_is_a_share_of_the_actual_steps(total, ratio, warmup):
    assert TrainConfig(warmup_ratio=ratio).warmup_steps(total) == warmup


def test_warmup_scales_with_the_run_not_a_fixed_100_steps():
    settings = TrainConfig()
    assert settings.warmup_steps(40) < 100 and settings.warmup_steps(4000) == 2 * settings.warmup_steps(2000)


@pytest.mark.parametrize(
    ("rows", "micro", "batch", "epochs", "steps"),
    [(54, 2, 4, 4, 56), (54, 1, 16, 2, 8), (16, 1, 16, 1, 1), (17, 1, 16, 1, 2), (100, 4, 16, 1.5, 11)],
)
def test_total_steps_counts_like_the_hf_trainer(rows, micro, batch, epochs, steps):
    # Trainer: ceil(micro-batches / grad_accum) steps per epoch, ceil(epochs * that) in all, worked out by hand
    # here; the first case is the host tests' run, where the real HF Trainer does 56 steps.
    settings = TrainConfig(micro_batch_size=micro, batch_size=batch, epochs=epochs)
    assert settings.total_steps(rows) == steps


def test_target_modules_are_normalized():
    assert TrainConfig(target_modules="q_proj, v_proj").target_modules == ("q_proj", "v_proj")
    assert TrainConfig(target_modules=["q_proj"]).target_modules == ("q_proj",)
    assert TrainConfig(target_modules=["q_proj"]).to_dict()["target_modules"] == ["q_proj"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lora_rank": 0}, r"lora_rank=0: must be a positive whole number"),
        ({"lora_rank": 2048}, r"lora_rank=2048: must be at most 1024"),
        ({"cutoff_len": True}, r"cutoff_len=True: must be a positive whole number"),
        ({"micro_batch_size": 4, "batch_size": 6}, r"batch_size=6: must be a multiple of micro_batch_size \(4\)"),
        ({"lora_dropout": 1.0}, r"lora_dropout=1.0: must be from 0 up to \(not including\) 1"),
        ({"warmup_ratio": 0.9}, r"warmup_ratio=0.9: must be a share from 0 to 0.5 of the steps"),
        ({"epochs": 0}, r"epochs=0.0: must be positive"),
        ({"learning_rate": 5}, r"learning_rate=5.0: must be between 0 and 1"),
        ({"learning_rate": float("nan")}, r"learning_rate=nan: must be between 0 and 1"),
        ({"lr_scheduler": "step"}, r"lr_scheduler='step': must be one of cosine, linear, constant"),
        ({"optimizer": "sgd"}, r"optimizer='sgd': must be one of paged_adamw_8bit"),
        ({"compute_dtype": "int8"}, r"compute_dtype='int8': must be one of bfloat16, float16, float32"),
        ({"quant_type": "int4"}, r"quant_type='int4': must be one of nf4, fp4"),
        ({"target_modules": ""}, r"target_modules=\(\): must be 'all-linear' or layer names"),
        ({"target_modules": ("q-proj",)}, r"target_modules=\('q-proj',\): must be 'all-linear' or layer names"),
        ({"save_steps": -1}, r"save_steps=-1: must be a whole number, 0 or more"),
        ({"save_total_limit": 1.5}, r"save_total_limit=1.5: must be a whole number, 0 or more"),
    ],
)
def test_bad_values_are_refused_naming_field_and_value(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_settings_from_a_newer_version_drop_unknown_keys_with_a_warning():
    data = {**TrainConfig().to_dict(), "neftune_alpha": 5}
    with pytest.warns(UserWarning, match="ignoring unknown training settings: neftune_alpha"):
        assert TrainConfig.from_dict(data) == TrainConfig()


@pytest.mark.parametrize(
    ("cuda", "bnb", "bf16", "expected", "note"),
    [
        (True, True, True, ("cuda", True, "bfloat16", "paged_adamw_8bit"), None),
        (True, True, False, ("cuda", True, "float16", "paged_adamw_8bit"), "no bfloat16"),
        (True, False, True, ("cuda", False, "bfloat16", "adamw_torch"), "bitsandbytes is not installed"),
        (False, False, False, ("cpu", False, "float32", "adamw_torch"), "no CUDA GPU"),
        (False, True, True, ("cpu", False, "float32", "adamw_torch"), "4-bit needs an NVIDIA GPU"),
    ],
)
def test_hardware_plan_keeps_what_runs_and_says_what_changed(cuda, bnb, bf16, expected, note):
    plan = plan_hardware(TrainConfig(), cuda=cuda, bitsandbytes=bnb, bf16=bf16)
    assert (plan.device, plan.load_in_4bit, plan.compute_dtype, plan.optimizer) == expected
    assert plan.wanted_optimizer == "paged_adamw_8bit"
    if note is None:
        assert plan.notes == ()
    else:
        assert any(note in n for n in plan.notes), plan.notes


def test_every_profile_has_a_short_id_that_names_it_everywhere():
    from discord_echo.train.profiles import PROFILE_IDS, profile_id, profile_label

    assert sorted(PROFILE_IDS.values()) == sorted(PROFILES), "one short id per profile in PROFILES"
    for label in PROFILES:
        short = profile_id(label)
        assert short != label and short.isascii() and " " not in short
        assert profile(short) == PROFILES[label] and profile_label(short.upper()) == label
    assert profile_id("Tiny demo model (CPU)") == "tiny" and profile("cpu") == PROFILES["CPU (no GPU)"]
    with pytest.raises(ConfigError, match=r"CPU \(no GPU\) \(cpu\)"):
        profile("gpu")


@pytest.mark.parametrize(("wanted", "cores", "threads"), [(0, 4, 4), (1, 4, 1), (8, 2, 2), (0, 1, 1)])
def test_cpu_training_uses_one_thread_per_available_core_and_never_more(wanted, cores, threads):
    plan = plan_hardware(replace(profile("cpu"), cpu_threads=wanted), cuda=False, bitsandbytes=False, cores=cores)
    assert plan.threads == threads
    assert f"training with {threads} torch thread" in " ".join(plan.notes)  # shown in the tab and the CLI


def test_a_gpu_run_leaves_torch_threads_alone():
    plan = plan_hardware(profile("8gb"), cuda=True, bitsandbytes=True, cores=16)
    assert plan.threads == 0 and not any("torch thread" in note for note in plan.notes)


def test_torch_threads_are_set_for_the_run_and_restored():
    torch = pytest.importorskip("torch")
    from discord_echo.train.standalone.trainer import torch_threads

    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with torch_threads(0):
        assert torch.get_num_threads() == before


def test_the_demo_model_profile_trains_on_a_cpu_at_a_real_models_learning_rate():
    demo = profile("smol")
    assert demo == PROFILES[DEMO_MODEL_PROFILE]
    assert not demo.load_in_4bit and demo.optimizer == "adamw_torch" and demo.compute_dtype == "float32"
    assert demo.learning_rate < profile("tiny").learning_rate
