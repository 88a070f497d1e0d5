"""The standalone host trains a real LoRA on CPU: a tiny random-weight Llama built in the test, a dataset
built by the real pipeline, the real transformers + peft + torch stack. Nothing is mocked.

CUDA-only paths (4-bit bitsandbytes loading, the paged 8-bit optimizer) cannot run on this CPU machine; their
*selection* is tested with the CUDA / bitsandbytes / bf16 checks injected into ``StandaloneHost``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from discord_echo.core.errors import TrainingError
from discord_echo.core.safe_files import FileExistsRefusedError
from discord_echo.templates.chat import load_renderer
from discord_echo.templates.trainer_rows import read_chat_rows, tokenize_row, tokenize_rows
from discord_echo.train.config import TrainConfig
from discord_echo.train.driver import newest_checkpoint
from discord_echo.train.host import TrainRequest
from discord_echo.train.profiles import DEFAULT_PROFILE, profile
from discord_echo.train.standalone.host import StandaloneHost, model_load_kwargs

# A tiny model needs a high learning rate to move in a few dozen steps; everything else is the CPU profile.
FAST = replace(
    profile("CPU (no GPU)"),
    lora_rank=8,
    lora_alpha=16,
    lora_dropout=0.0,
    micro_batch_size=2,
    batch_size=4,
    epochs=4,
    learning_rate=1e-2,
    save_steps=10,
    save_total_limit=2,
    eval_steps=10,
    gradient_checkpointing=True,
    cutoff_len=256,
)


LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _request(model: Path, user_data: Path, loras: Path, settings: TrainConfig, **kwargs) -> TrainRequest:
    datasets = user_data / "training" / "datasets"
    return TrainRequest(
        model=str(model),
        dataset=datasets / "echo.json",
        eval_dataset=datasets / "echo-eval.json",
        lora_name=kwargs.pop("lora_name", "echo"),
        loras_dir=loras,
        settings=settings,
        **kwargs,
    )


@pytest.fixture(scope="module")
def trained(tiny_model, user_data, tmp_path_factory):
    request = _request(tiny_model, user_data, tmp_path_factory.mktemp("loras"), FAST)
    progress = []
    result = StandaloneHost().train(request, progress.append, threading.Event())
    return request, result, progress


def test_a_real_lora_learns_and_reports_held_out_loss(trained):
    request, result, _ = trained
    rows = len(read_chat_rows(request.dataset))
    total = FAST.total_steps(rows)  # 56-60 optimizer steps on the bundled sample
    assert total > 50 and result.total_steps == total and result.steps == total and not result.interrupted
    steps, losses = zip(*result.train_loss, strict=True)
    assert list(steps) == list(range(1, total + 1)) and all(math.isfinite(x) for x in losses)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert first - last > 1.0, (first, last)  # measured: ~7.7 -> ~4
    assert result.final_eval_loss is not None and result.final_eval_loss < result.eval_loss[0][1]
    every_ten = list(range(10, total, 10))
    assert [s for s, _ in result.eval_loss] == [*every_ten, total]  # every eval_steps and at the end
    assert result.dropped_rows == 0  # the pipeline never writes rows over the cutoff


def test_progress_reports_steps_loss_speed_and_eta(trained):
    _, result, progress = trained
    steps = [p for p in progress if not p.message]
    assert [p.step for p in steps] == sorted(p.step for p in steps) and steps[-1].step == result.total_steps
    assert {p.total_steps for p in steps} == {result.total_steps}
    assert all(p.loss is not None and p.learning_rate is not None for p in steps if p.eval_loss is None)
    assert all(p.tokens_per_second and p.tokens_per_second > 0 for p in steps)
    assert steps[-1].eta_seconds == 0 and all(p.eta_seconds is not None and p.eta_seconds >= 0 for p in steps)
    assert progress[-1].message.startswith("done; adapter saved to")


def test_adapter_folder_matches_the_webui_layout(trained):
    request, result, _ = trained
    folder = result.adapter_dir
    assert folder == (request.loras_dir / "echo").resolve()
    assert (folder / "adapter_model.safetensors").stat().st_size > 0
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 16
    # Like the webui's: the explicit list of every Linear but the output head.
    assert {name.rsplit(".", 1)[-1] for name in config["target_modules"]} == set(LINEARS)
    params = json.loads((folder / "training_parameters.json").read_text())
    assert TrainConfig.from_dict(params["settings"]) == FAST
    assert params["effective"]["optimizer"] == "adamw_torch" and params["request"]["lora_name"] == "echo"
    log = json.loads((folder / "training_log.json").read_text())
    assert [e["step"] for e in log["log_history"] if "loss" in e] == list(range(1, result.total_steps + 1))
    assert log["final_eval_loss"] == result.final_eval_loss and log["runtime_seconds"] > 0
    assert json.loads((folder / "training_prompt.json").read_text())["template_type"] == "chat_template"


def test_checkpoints_every_save_steps_pruned_to_the_limit(trained):
    _, result, _ = trained
    total = result.total_steps
    last_ten = (total - 1) // 10 * 10  # saved at 10, 20, ... and at the last step; 2 kept
    kept = sorted((p.name for p in result.adapter_dir.glob("checkpoint-*")), key=lambda name: int(name.split("-")[1]))
    assert kept == [f"checkpoint-{last_ten}", f"checkpoint-{total}"]
    state = json.loads((result.adapter_dir / f"checkpoint-{last_ten}" / "trainer_state.json").read_text())
    logged = [e["step"] for e in state["log_history"] if "loss" in e]
    assert state["global_step"] == last_ten and logged[-1] == last_ten
    assert (result.adapter_dir / f"checkpoint-{last_ten}" / "adapter_model.safetensors").is_file()


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # peft 0.21 on transformers 5
def test_adapter_loads_back_with_peft_and_changes_the_model(trained, tiny_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    request, result, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)
    row = tokenize_row(tokenizer, read_chat_rows(request.eval_dataset)[0], tokenizer.chat_template)
    inputs = {k: torch.tensor([v]) for k, v in row.items()}
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True).eval()
    with torch.no_grad():
        base_out = base(**inputs)
        tuned = PeftModel.from_pretrained(base, str(result.adapter_dir)).eval()
        tuned_out = tuned(**inputs)
    assert (tuned_out.logits - base_out.logits).abs().max() > 0.1
    assert tuned_out.loss < base_out.loss - 1.0  # the held-out reply is far likelier with the adapter


def test_labels_unmask_exactly_the_trained_spans_of_chat_templates(tiny_model, user_data):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)
    renderer = load_renderer(tiny_model)
    rows = read_chat_rows(user_data / "training" / "datasets" / "echo.json")
    for messages in rows[:12]:
        row = tokenize_row(tokenizer, messages, tokenizer.chat_template)
        assert len(row["input_ids"]) == renderer.count_tokens(messages)
        runs, start = [], None
        for index, label in enumerate([*row["labels"], -100]):
            if label != -100 and start is None:
                start = index
            elif label == -100 and start is not None:
                runs.append(tokenizer.decode(row["input_ids"][start:index]))
                start = None
        text = renderer.render(messages)
        assert runs == [text[a:b] for a, b in renderer.trained_spans(messages)]
        assert all(x in (-100, y) for x, y in zip(row["labels"], row["input_ids"], strict=True))
        trained_text = "".join(runs)
        for message in messages:
            if message["role"] == "assistant":
                assert message["content"] + "<|im_end|>" in trained_text
            else:
                assert message["content"] not in trained_text


def test_rows_over_the_cutoff_are_dropped_and_counted(tiny_model, user_data):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)
    renderer = load_renderer(tiny_model)
    rows = read_chat_rows(user_data / "training" / "datasets" / "echo.json")
    result = tokenize_rows(tokenizer, rows, 120, tokenizer.chat_template)
    expected = sum(renderer.count_tokens(r) > 120 for r in rows)
    assert 0 < expected < len(rows) and result.dropped == expected and result.total == len(rows)
    assert len(result.rows) == len(rows) - expected and all(len(r["input_ids"]) <= 120 for r in result.rows)


def test_all_rows_over_the_cutoff_is_an_error_before_loading_the_model(tiny_model, user_data, tmp_path):
    request = _request(tiny_model, user_data, tmp_path, replace(FAST, cutoff_len=16))
    rows = len(read_chat_rows(request.dataset))
    with pytest.raises(TrainingError, match=rf"all {rows} rows of .*echo.json exceed cutoff_len 16"):
        StandaloneHost().train(request)
    assert not (tmp_path / "echo").exists()


def test_interrupted_run_saves_and_resume_continues_from_its_checkpoint(tiny_model, user_data, tmp_path):
    settings = replace(FAST, epochs=2, cutoff_len=140, save_steps=3, save_total_limit=2, eval_steps=0)
    renderer = load_renderer(tiny_model)
    datasets = user_data / "training" / "datasets"
    too_long = sum(
        renderer.count_tokens(r) > 140
        for name in ("echo", "echo-eval")
        for r in read_chat_rows(datasets / f"{name}.json")
    )
    stop = threading.Event()

    def stop_at_step_5(progress) -> None:
        if progress.step >= 5:
            stop.set()

    first = StandaloneHost().train(_request(tiny_model, user_data, tmp_path, settings), stop_at_step_5, stop)
    total = first.total_steps  # 2 epochs of the rows within 140 tokens
    assert first.interrupted and first.steps == 5 and total > 9
    assert first.dropped_rows == too_long > 0 and any("longer than cutoff_len 140" in n for n in first.notes)
    assert (first.adapter_dir / "adapter_model.safetensors").is_file() and first.final_eval_loss is None
    assert newest_checkpoint(first.adapter_dir).name == "checkpoint-5"  # saved at the stop, not only every 3

    progress = []
    again = _request(tiny_model, user_data, tmp_path, settings, resume=True)
    second = StandaloneHost().train(again, progress.append, threading.Event())
    assert not second.interrupted and second.steps == total
    assert min(p.step for p in progress if p.loss is not None) == 6  # continues; does not restart at 1
    assert [s for s, _ in second.train_loss] == list(range(1, total + 1))  # history carried over
    assert second.final_eval_loss is not None
    last_three = (total - 1) // 3 * 3  # saved every 3 steps and at the end; 2 kept
    kept = sorted(p.name for p in second.adapter_dir.glob("checkpoint-*"))
    assert sorted(kept) == sorted([f"checkpoint-{last_three}", f"checkpoint-{total}"])


def test_an_existing_lora_is_never_replaced_unless_asked(tiny_model, user_data, tmp_path):
    mine = tmp_path / "echo"
    mine.mkdir()
    (mine / "keep.txt").write_text("my earlier adapter")
    with pytest.raises(FileExistsRefusedError, match="already exists"):
        StandaloneHost().train(_request(tiny_model, user_data, tmp_path, FAST))
    with pytest.raises(TrainingError, match="nothing to resume: no checkpoint-"):
        StandaloneHost().train(_request(tiny_model, user_data, tmp_path, FAST, resume=True))
    assert (mine / "keep.txt").read_text() == "my earlier adapter"

    short = replace(FAST, epochs=0.1, eval_steps=0, save_steps=0)
    result = StandaloneHost().train(_request(tiny_model, user_data, tmp_path, short, overwrite=True))
    assert result.steps == 2 and not (mine / "keep.txt").exists()
    assert (mine / "adapter_model.safetensors").is_file() and not list(mine.glob("checkpoint-*"))


def test_a_stop_before_the_first_step_trains_and_replaces_nothing(tiny_model, user_data, tmp_path):
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "keep.txt").write_text("mine")
    stop = threading.Event()
    stop.set()
    request = _request(tiny_model, user_data, tmp_path, FAST, overwrite=True)
    result = StandaloneHost().train(request, None, stop)
    assert result.interrupted and result.steps == 0 and result.total_steps == FAST.total_steps(
        len(read_chat_rows(request.dataset))
    )
    assert [p.name for p in (tmp_path / "echo").iterdir()] == ["keep.txt"]


def test_newest_checkpoint_is_by_step_number_not_name_order(tmp_path):
    for step in (9, 10, 2):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-final").mkdir()
    assert newest_checkpoint(tmp_path).name == "checkpoint-10"
    assert newest_checkpoint(tmp_path / "checkpoint-2") is None


# --- CUDA-only paths: selection logic with the hardware checks injected ------------------------------------


def test_with_cuda_and_bitsandbytes_the_8gb_profile_loads_4bit_nf4_with_the_paged_optimizer():
    import torch

    settings = profile(DEFAULT_PROFILE)
    plan = StandaloneHost(cuda=True, bitsandbytes=True, bf16=True).plan(settings)
    assert (plan.device, plan.load_in_4bit, plan.compute_dtype, plan.optimizer) == (
        "cuda",
        True,
        "bfloat16",
        "paged_adamw_8bit",
    )
    assert plan.notes == ()
    kwargs = model_load_kwargs(settings, plan)
    quant = kwargs["quantization_config"]
    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant
    assert quant.bnb_4bit_compute_dtype == torch.bfloat16 and kwargs["dtype"] == torch.bfloat16
    assert kwargs["device_map"] == {"": 0}


def test_older_gpus_and_missing_bitsandbytes_fall_back_and_say_so():
    settings = profile(DEFAULT_PROFILE)
    turing = StandaloneHost(cuda=True, bitsandbytes=True, bf16=False).plan(settings)
    assert turing.compute_dtype == "float16" and turing.load_in_4bit and "no bfloat16" in turing.notes[0]
    plain = StandaloneHost(cuda=True, bitsandbytes=False, bf16=True).plan(settings)
    assert not plain.load_in_4bit and plain.optimizer == "adamw_torch" and plain.wanted_optimizer == "paged_adamw_8bit"
    assert "discord-echo[gpu]" in plain.notes[0]


def test_without_cuda_bitsandbytes_is_not_even_looked_up(monkeypatch):
    import torch

    real = importlib.util.find_spec

    def guarded(name, *args, **kwargs):
        assert name != "bitsandbytes", "bitsandbytes looked up without a GPU"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", guarded)
    settings = profile(DEFAULT_PROFILE)
    plan = StandaloneHost(cuda=False).plan(settings)
    assert (plan.device, plan.load_in_4bit, plan.compute_dtype, plan.optimizer) == (
        "cpu",
        False,
        "float32",
        "adamw_torch",
    )
    assert any("4-bit needs an NVIDIA GPU" in note for note in plan.notes)
    assert model_load_kwargs(settings, plan) == {"dtype": torch.float32}


def test_micro_batches_hold_rows_of_similar_length(tiny_model, user_data, tmp_path):
    """The standalone Trainer draws length-grouped micro-batches: every row once per epoch, less padding."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from discord_echo.train.driver import prepare
    from discord_echo.train.standalone import host as standalone
    from discord_echo.train.standalone.trainer import build_trainer

    settings = replace(FAST, micro_batch_size=4, batch_size=4, epochs=1)
    request = _request(tiny_model, user_data, tmp_path / "loras", settings)
    host = StandaloneHost()
    prepared = prepare(request, host, lambda: standalone._load_tokenizer(str(tiny_model)))
    rows = prepared.train_rows.rows
    model = standalone._load_model(str(tiny_model), settings, host.plan(settings))
    trainer = build_trainer(
        model, prepared.tokenizer, settings, host.plan(settings), tmp_path / "out", prepared.train_rows, None, 1
    )
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler)
    order = list(sampler)
    assert sorted(order) == list(range(len(rows)))  # each row exactly once per epoch

    def padded(indices: list[int]) -> int:
        batches = [indices[i : i + 4] for i in range(0, len(indices), 4)]
        return sum(max(len(rows[j]["input_ids"]) for j in b) * len(b) for b in batches)

    # In shuffled order (what the default sampler gives, averaged over seeds) batches carry more padding.
    import random

    shuffled = [padded(random.Random(seed).sample(range(len(rows)), len(rows))) for seed in range(20)]
    assert padded(order) < sum(shuffled) / len(shuffled)
