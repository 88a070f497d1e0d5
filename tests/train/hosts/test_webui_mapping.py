"""Our settings -> the webui's ``do_train`` arguments, and its status strings -> progress, without a webui.

The real signatures are read from the webui's source with ``ast`` (never imported: ``modules.shared`` parses
sys.argv at import): the current trainer from ``DISCORD_ECHO_WEBUI`` or the git mirror at 1dcde41d, the
pre-2026-03 one from the mirror at 68714843. Those tests skip where neither is present (CI), so the two
parameter-name lists below, copied from those commits, are tested always.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from discord_echo.core.errors import ConfigError, HostUnavailableError
from discord_echo.dataset.writer import LEGACY_TRAIN_ONLY_AFTER
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import TrainRequest
from discord_echo.train.profiles import profile
from discord_echo.train.webui.host import optimizer_choices
from discord_echo.train.webui.mapping import (
    error_text,
    legacy_family,
    map_do_train_args,
    parse_status,
    pick_optimizer,
    signature_flavour,
)

# --- fixtures: the interface, as names only (not webui code) -----------------------------------------------
# `do_train` parameter names of text-generation-webui modules/training.py at 1dcde41d (2026-05-03).
CURRENT_PARAMS_1DCDE41D = [
    "lora_name", "always_override", "all_linear", "q_proj_en", "v_proj_en", "k_proj_en", "o_proj_en",
    "gate_proj_en", "down_proj_en", "up_proj_en", "save_steps", "micro_batch_size", "batch_size", "epochs",
    "learning_rate", "lr_scheduler_type", "lora_rank", "lora_alpha", "lora_dropout", "cutoff_len", "dataset",
    "eval_dataset", "format", "eval_steps", "text_dataset", "warmup_steps", "optimizer", "stride_length",
    "stop_at_loss", "add_eos_token", "excess_length", "report_to", "gradient_checkpointing",
]  # fmt: skip
# `do_train` parameter names at 68714843, the last trainer before the 2026-03 rewrite (format files).
LEGACY_PARAMS_68714843 = [
    "lora_name", "always_override", "q_proj_en", "v_proj_en", "k_proj_en", "o_proj_en", "gate_proj_en",
    "down_proj_en", "up_proj_en", "save_steps", "micro_batch_size", "batch_size", "epochs", "learning_rate",
    "lr_scheduler_type", "lora_rank", "lora_alpha", "lora_dropout", "cutoff_len", "dataset", "eval_dataset",
    "format", "eval_steps", "raw_text_file", "overlap_len", "newline_favor_len", "higher_rank_limit",
    "warmup_steps", "optimizer", "hard_cut_string", "train_only_after", "stop_at_loss", "add_eos_token",
    "min_chars", "report_to",
]  # fmt: skip
# The Training tab's Optimizer dropdown at both commits.
OPTIMIZER_CHOICES = ["adamw_hf", "adamw_torch", "adamw_torch_fused", "adamw_torch_xla", "adamw_apex_fused",
                     "adafactor", "adamw_bnb_8bit", "adamw_anyprecision", "sgd", "adagrad"]  # fmt: skip

MIRROR = Path(os.environ.get("DISCORD_ECHO_WEBUI_GIT", "/work/.mirror/oobabooga+text-generation-webui/repo"))
WEBUI = os.environ.get("DISCORD_ECHO_WEBUI")
INTS = ("save_steps", "micro_batch_size", "batch_size", "lora_rank", "lora_alpha", "cutoff_len", "eval_steps",
        "warmup_steps", "stride_length", "overlap_len", "newline_favor_len", "min_chars")  # fmt: skip
BOOLS = ("always_override", "all_linear", "add_eos_token", "gradient_checkpointing", "higher_rank_limit")


def _source(commit: str) -> str:
    if commit == "current" and WEBUI and (Path(WEBUI) / "modules" / "training.py").is_file():
        return (Path(WEBUI) / "modules" / "training.py").read_text(encoding="utf-8")
    rev = "1dcde41d" if commit == "current" else commit
    if not (MIRROR / "HEAD").is_file():
        pytest.skip(f"no webui source: set DISCORD_ECHO_WEBUI or DISCORD_ECHO_WEBUI_GIT (mirror {MIRROR} absent)")
    shown = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"{rev}:modules/training.py"], capture_output=True, text=True
    )
    if shown.returncode:
        pytest.skip(f"{rev}:modules/training.py not in {MIRROR}: {shown.stderr.strip()}")
    return shown.stdout


def _do_train_params(source: str) -> list[str]:
    tree = ast.parse(source)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "do_train")
    return [a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs]


def _request(tmp_path: Path, **kwargs) -> TrainRequest:
    datasets = tmp_path / "user_data" / "training" / "datasets"
    values = {
        "model": "tiny-echo",
        "dataset": datasets / "echo.json",
        "eval_dataset": datasets / "echo-eval.json",
        "lora_name": "echo",
        "loras_dir": tmp_path / "user_data" / "loras",
        "settings": TrainConfig(),
    }
    return TrainRequest(**{**values, **kwargs})


@pytest.fixture(params=["fixture", "source"])
def current_params(request) -> list[str]:
    return CURRENT_PARAMS_1DCDE41D if request.param == "fixture" else _do_train_params(_source("current"))


@pytest.fixture(params=["fixture", "source"])
def legacy_params(request) -> list[str]:
    return LEGACY_PARAMS_68714843 if request.param == "fixture" else _do_train_params(_source("68714843"))


# --- the fixtures match the source -------------------------------------------------------------------------


def test_fixture_lists_match_the_webui_source():
    current, legacy = _do_train_params(_source("current")), _do_train_params(_source("68714843"))
    assert current == CURRENT_PARAMS_1DCDE41D and len(current) == 33
    assert legacy == LEGACY_PARAMS_68714843 and len(legacy) == 35


def test_optimizer_choices_are_read_from_the_training_tab_source():
    assert optimizer_choices(_source("current")) == OPTIMIZER_CHOICES
    assert optimizer_choices(_source("68714843")) == OPTIMIZER_CHOICES
    assert optimizer_choices("no dropdown here") is None


# --- the current trainer -----------------------------------------------------------------------------------


def test_every_current_parameter_is_supplied_by_name_in_order(tmp_path, current_params):
    args = map_do_train_args(current_params, TrainConfig(), _request(tmp_path), rows=100)
    assert list(args) == current_params
    assert signature_flavour(current_params) == "current"


def test_current_argument_types(tmp_path, current_params):
    args = map_do_train_args(current_params, TrainConfig(), _request(tmp_path), rows=100)
    assert args["learning_rate"] == "0.0002" and float(args["learning_rate"]) == 2e-4
    for name in INTS:
        if name in args:
            assert type(args[name]) is int, name
    for name in BOOLS:
        if name in args:
            assert type(args[name]) is bool, name
    assert type(args["epochs"]) is int and args["epochs"] == 2
    assert type(args["lora_dropout"]) is float and type(args["stop_at_loss"]) is float
    assert args["report_to"] == "None" and args["excess_length"] == "drop" and args["text_dataset"] == "None"


def test_current_defaults_map_onto_the_webui_names(tmp_path, current_params):
    settings = TrainConfig()
    args = map_do_train_args(current_params, settings, _request(tmp_path), rows=100)
    assert args["all_linear"] is True
    assert args["dataset"] == "echo" and args["eval_dataset"] == "echo-eval"
    assert args["format"] == "Chat Template"
    assert args["lr_scheduler_type"] == "cosine" and args["optimizer"] == "paged_adamw_8bit"  # choices unknown
    assert (args["lora_rank"], args["lora_alpha"], args["cutoff_len"]) == (16, 32, 512)
    assert args["always_override"] is True and args["gradient_checkpointing"] is True


@pytest.mark.parametrize(
    ("rows", "micro", "batch", "epochs", "ratio", "optimizer_steps", "warmup"),
    [
        (100, 1, 16, 2.0, 0.05, 14, 1),  # 2 x ceil(100/16) = 14 steps; 5% = 0.7 -> 1
        (1000, 1, 16, 2.0, 0.05, 126, 6),  # 6.3 -> 6
        (54, 2, 4, 2.0, 0.2, 28, 6),  # the live test's numbers: 5.6 -> 6
        (10, 1, 16, 1.0, 0.05, 1, 0),  # a one-step run gets no warmup
        (100, 4, 16, 1.5, 0.1, 11, 1),  # ceil(1.5 x 7)
    ],
)
def test_warmup_is_the_ratio_of_the_real_optimizer_steps_in_micro_batches(
    tmp_path, rows, micro, batch, epochs, ratio, optimizer_steps, warmup
):
    settings = replace(TrainConfig(), micro_batch_size=micro, batch_size=batch, epochs=epochs, warmup_ratio=ratio)
    assert settings.total_steps(rows) == optimizer_steps == math.ceil(epochs * math.ceil(rows / batch))
    args = map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, _request(tmp_path), rows=rows)
    grad_accum = batch // micro
    assert args["warmup_steps"] == warmup * grad_accum
    # The webui computes TrainingArguments(warmup_steps=math.ceil(warmup_steps / gradient_accumulation_steps)).
    assert math.ceil(args["warmup_steps"] / grad_accum) == warmup


def test_rows_default_to_the_dataset_length(tmp_path):
    request = _request(tmp_path)
    request.dataset.parent.mkdir(parents=True)
    request.dataset.write_text("[" + ",".join(['{"messages": []}'] * 100) + "]", encoding="utf-8")
    settings = replace(TrainConfig(), warmup_ratio=0.5)
    from_file = map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, request)
    assert (
        from_file["warmup_steps"]
        == map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, request, rows=100)["warmup_steps"]
    )


def test_save_and_eval_steps_are_counted_in_micro_batches(tmp_path):
    settings = replace(TrainConfig(), micro_batch_size=2, batch_size=16, save_steps=50, eval_steps=25)
    args = map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, _request(tmp_path), rows=500)
    assert (args["save_steps"], args["eval_steps"]) == (400, 200)
    # modules/training.py: actual_save_steps = math.ceil(save_steps / gradient_accumulation_steps), same for eval.
    assert (math.ceil(args["save_steps"] / 8), math.ceil(args["eval_steps"] / 8)) == (50, 25)


def test_with_an_eval_set_saves_fall_on_evaluation_steps(tmp_path):
    # The webui sets load_best_model_at_end with an eval set; HF refuses saves between evaluations.
    never = replace(TrainConfig(), save_steps=0, eval_steps=20)
    assert map_do_train_args(CURRENT_PARAMS_1DCDE41D, never, _request(tmp_path), rows=500)["save_steps"] == 20 * 16
    without_eval = _request(tmp_path, eval_dataset=None)
    args = map_do_train_args(CURRENT_PARAMS_1DCDE41D, never, without_eval, rows=500)
    assert args["save_steps"] == 0 and args["eval_dataset"] == "None"
    odd = replace(TrainConfig(), save_steps=30, eval_steps=20)
    with pytest.raises(ConfigError, match=r"save_steps=30: must be a multiple of eval_steps \(20\)"):
        map_do_train_args(CURRENT_PARAMS_1DCDE41D, odd, _request(tmp_path), rows=500)


def test_named_target_modules_become_the_projection_checkboxes(tmp_path):
    settings = replace(TrainConfig(), target_modules="q_proj,v_proj,down_proj")
    args = map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, _request(tmp_path), rows=10)
    assert args["all_linear"] is False
    flags = {k: v for k, v in args.items() if k.endswith("_proj_en")}
    assert flags == {"q_proj_en": True, "v_proj_en": True, "k_proj_en": False, "o_proj_en": False,
                     "gate_proj_en": False, "down_proj_en": True, "up_proj_en": False}  # fmt: skip
    with pytest.raises(ConfigError, match="can target only"):
        map_do_train_args(
            CURRENT_PARAMS_1DCDE41D, replace(TrainConfig(), target_modules="c_attn"), _request(tmp_path), rows=10
        )


def test_template_resume_and_fractional_epochs(tmp_path):
    settings = replace(TrainConfig(), epochs=1.5)
    args = map_do_train_args(
        CURRENT_PARAMS_1DCDE41D, settings, _request(tmp_path, template="ChatML", resume=True), rows=10
    )
    assert args["format"] == "ChatML" and args["always_override"] is False and args["epochs"] == 1.5


@pytest.mark.parametrize(
    ("wanted", "choices", "picked"),
    [
        ("paged_adamw_8bit", OPTIMIZER_CHOICES, "adamw_bnb_8bit"),
        ("paged_adamw_8bit", [*OPTIMIZER_CHOICES, "paged_adamw_8bit"], "paged_adamw_8bit"),
        ("paged_adamw_32bit", OPTIMIZER_CHOICES, "adamw_torch"),
        ("adafactor", OPTIMIZER_CHOICES, "adafactor"),
        ("adamw_torch", ["adamw_hf"], "adamw_hf"),
        ("paged_adamw_8bit", None, "paged_adamw_8bit"),
    ],
)
def test_optimizer_is_the_closest_the_webui_offers(tmp_path, wanted, choices, picked):
    assert pick_optimizer(wanted, choices) == picked
    settings = replace(TrainConfig(), optimizer=wanted)
    args = map_do_train_args(CURRENT_PARAMS_1DCDE41D, settings, _request(tmp_path), rows=10, optimizer_choices=choices)
    assert args["optimizer"] == picked


# --- the pre-2026-03 trainer -------------------------------------------------------------------------------


CHATML_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def test_every_legacy_parameter_is_supplied_by_name(tmp_path, legacy_params):
    args = map_do_train_args(
        legacy_params, profile("CPU (no GPU)"), _request(tmp_path), rows=100, chat_template=CHATML_TEMPLATE
    )
    assert list(args) == legacy_params
    assert signature_flavour(legacy_params) == "legacy"
    for name in INTS:
        if name in args:
            assert type(args[name]) is int, name
    assert isinstance(args["learning_rate"], str)


def test_legacy_mapping_picks_the_format_file_and_train_only_after(tmp_path, legacy_params):
    args = map_do_train_args(
        legacy_params, TrainConfig(), _request(tmp_path), rows=100, chat_template=CHATML_TEMPLATE
    )
    assert args["format"] == "discord-echo-chatml"
    assert args["train_only_after"] == "<|im_start|>assistant\n" == LEGACY_TRAIN_ONLY_AFTER["chatml"]
    assert args["raw_text_file"] == "None" and args["dataset"] == "echo"
    # No all_linear before 2026-03: every projection box is ticked instead.
    assert all(args[f"{p}_proj_en"] for p in ("q", "k", "v", "o", "gate", "down", "up"))
    assert "all_linear" not in args and "excess_length" not in args


@pytest.mark.parametrize(
    ("template", "chat_template", "family"),
    [
        ("Chat Template", CHATML_TEMPLATE, "chatml"),
        ("Chat Template", "<|start_header_id|>{{ m.role }}<|end_header_id|>", "llama3"),
        ("Chat Template", "[INST] <<SYS>>{{ s }}<</SYS>>", "llama2-chat"),
        ("Chat Template", "[INST] {{ m.content }} [/INST]", "mistral"),
        ("ChatML", None, "chatml"),
        ("Llama-v3", None, "llama3"),
        ("Alpaca", None, "alpaca"),
        ("discord-echo-mistral", None, "mistral"),
    ],
)
def test_legacy_family_from_the_template(template, chat_template, family):
    assert legacy_family(template, chat_template) == family


def test_legacy_family_unknown_names_the_choices():
    with pytest.raises(ConfigError, match="needs a format file: one of llama2-chat, alpaca, chatml"):
        legacy_family("Vicuna-v1.1", "USER: {{ x }}")


# --- a signature we do not know ----------------------------------------------------------------------------


def test_unknown_signature_is_one_error_naming_the_differences(tmp_path):
    changed = [p for p in CURRENT_PARAMS_1DCDE41D if p != "format"] + ["chat_format", "seed"]
    with pytest.raises(HostUnavailableError) as caught:
        map_do_train_args(changed, TrainConfig(), _request(tmp_path), rows=10)
    message = str(caught.value)
    assert "unknown parameters: chat_format, seed" in message
    assert "missing parameters: format" in message
    assert message.count("text-generation-webui") == 1


def test_half_legacy_half_current_is_refused(tmp_path):
    mixed = [p for p in LEGACY_PARAMS_68714843 if p != "train_only_after"] + ["all_linear"]
    assert signature_flavour(mixed) is None
    with pytest.raises(HostUnavailableError, match="unknown parameters: all_linear; missing parameters: train_only"):
        map_do_train_args(mixed, TrainConfig(), _request(tmp_path), rows=10)


# --- statuses (the strings do_train yields; docs/webui-trainer.md, The trainer) ---------------------------

TRACEBACK = "\n\n".join(
    ["Traceback (most recent call last):", '  File "modules/training.py", line 524, in do_train',
     "OSError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': 'user_data/models/None'."]
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "kind", "step", "total", "eta"),
    [
        ("Preparing the input...", "note", 0, 0, None),
        ("Starting...", "note", 0, 0, None),
        ("Reloading tiny-llama...", "note", 0, 0, None),
        ("Running... **15** / **56** ... `3.14` it/s, `4` seconds / `18` seconds ... `14` seconds remaining",
         "running", 7, 28, 14.0),
        ("Running... **3** / **56** ... `1.50` s/it, `4` seconds / `84` seconds ... `80` seconds remaining",
         "running", 1, 28, 80.0),
        ("Running... **400** / **4480** ... `2.10` s/it, `14` minutes / `157` minutes ... `143` minutes remaining",
         "running", 200, 2240, 143 * 60.0),
        ("Running... **1** / **2** ... , `0` seconds / `999` seconds ... `999` seconds remaining",
         "running", 0, 1, 999.0),
        ("Interrupting, please wait... *(Run will stop after the current training step completes.)*",
         "note", 0, 0, None),
        ("Interrupted. Incomplete LoRA saved to `user_data/loras/echo_lora`.", "interrupted", 0, 0, None),
        ("Interrupted before start.", "interrupted", 0, 0, None),
        ("Done! LoRA saved to `user_data/loras/echo_lora`.\n\nBefore testing your new LoRA, make sure to first "
         "reload the model, as it is currently dirty from training.", "done", 0, 0, None),
        ("Error: LoRA training requires a model loaded with the Transformers loader. GGUF models are not "
         "supported for training.", "error", 0, 0, None),
        ("Error: all 12 conversations exceed the cutoff length of 256 tokens. Increase the cutoff length or "
         "shorten your data.", "error", 0, 0, None),
        ("Training failed: CUDA out of memory.", "error", 0, 0, None),
        (TRACEBACK, "error", 0, 0, None),
        ("Missing or invalid LoRA file name input.", "error", 0, 0, None),
        ("Cannot input zeroes.", "error", 0, 0, None),
        ("No dataset selected. Choose a Chat Dataset or a Text Dataset.", "error", 0, 0, None),
        ("Failed to load tiny-llama.", "error", 0, 0, None),
        ("You are trying to train a LoRA while you already have another LoRA loaded. This will work, but may have "
         "unexpected effects. *(Will continue anyway in 5 seconds, press `Interrupt` to stop.)*", "note", 0, 0, None),
    ],
)  # fmt: skip
def test_parse_status(text, kind, step, total, eta):
    status = parse_status(text, grad_accum=2)
    assert (status.kind, status.step, status.total, status.eta_seconds) == (kind, step, total, eta)


def test_a_yielded_traceback_reads_as_one():
    assert error_text(TRACEBACK) == TRACEBACK.replace("\n\n", "\n")
    assert error_text("Error: x\n\ny") == "Error: x\n\ny"
