"""The training driver and the ``train`` command: inputs are checked before anything heavy runs, the host
gets one complete request, nothing the user made is replaced silently, and the CLI trains a real (tiny)
LoRA end to end. A recording host stands in where only the driver's checks are under test."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from discord_echo.core.errors import ConfigError, HostUnavailableError, TrainingError
from discord_echo.core.safe_files import FileExistsRefusedError, InvalidNameError
from discord_echo.frontends.cli import main
from discord_echo.train.config import TrainConfig
from discord_echo.train.driver import prepare, request_from_user_data, train
from discord_echo.train.host import TrainProgress, TrainRequest, TrainResult
from discord_echo.train.profiles import profile
from discord_echo.train.standalone.host import StandaloneHost

ROWS = [
    {
        "messages": [
            {"role": "system", "content": "You are alex."},
            {"role": "user", "content": f"hey how are you doing today? {i}"},
            {"role": "assistant", "content": "lol yeah it was kinda wild 😅"},
            {"role": "user", "content": "wait fr?? that's insane"},
            {"role": "assistant", "content": "ngl i totally forgot about the exam"},
        ]
    }
    for i in range(12)
]


class RecordingHost:
    """A host that trains nothing: records what it was asked and reports one step."""

    name = "recording"

    def __init__(self, ready: bool = True):
        self.ready = ready
        self.requests: list[TrainRequest] = []

    def available(self) -> bool:
        return self.ready

    def unavailable_reason(self) -> str:
        return "" if self.ready else "no model is loaded"

    def reads_legacy_datasets(self) -> bool:
        return False

    def train(self, request, on_progress, stop) -> TrainResult:
        self.requests.append(request)
        on_progress(TrainProgress(step=1, total_steps=1, loss=1.0))
        return TrainResult(adapter_dir=request.loras_dir / request.lora_name, steps=1, total_steps=1)


class LegacyHost(RecordingHost):
    """A stand-in for a host on the pre-2026-03 webui trainer (the real one needs that webui running)."""

    name = "legacy"

    def reads_legacy_datasets(self) -> bool:
        return True


def _no_tokenizer():
    raise AssertionError("the tokenizer was loaded although it is not needed")


def _write_dataset(user_data: Path, name: str = "chat", rows: list | None = None, eval_rows: list | None = None):
    folder = user_data / "training" / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(ROWS if rows is None else rows))
    if eval_rows is not None:
        (folder / f"{name}-eval.json").write_text(json.dumps(eval_rows))


def test_request_uses_the_webui_folders_and_the_eval_file_when_present(tmp_path):
    _write_dataset(tmp_path, eval_rows=ROWS[:2])
    _write_dataset(tmp_path, name="solo")
    request = request_from_user_data(tmp_path, "chat", "models/x", "me", TrainConfig(), template="ChatML")
    datasets = (tmp_path / "training" / "datasets").resolve()
    assert request.dataset == datasets / "chat.json" and request.eval_dataset == datasets / "chat-eval.json"
    assert request.loras_dir == tmp_path / "loras" and request.templates_dir == tmp_path / "instruction-templates"
    assert request.template == "ChatML" and not request.resume and not request.overwrite
    assert request_from_user_data(tmp_path, "solo", "m", "me", TrainConfig()).eval_dataset is None
    with pytest.raises(InvalidNameError, match="dataset name '../x' must be a plain name"):
        request_from_user_data(tmp_path, "../x", "m", "me", TrainConfig())


def test_train_hands_the_checked_request_to_the_host_and_returns_its_result(tmp_path):
    _write_dataset(tmp_path)
    host, seen = RecordingHost(), []
    request = request_from_user_data(tmp_path, "chat", "m", "me", TrainConfig())
    result = train(request, host, seen.append, threading.Event())
    assert host.requests == [request] and result.steps == 1 and seen[0].loss == 1.0
    assert train(request, host).steps == 1  # progress and stop are optional


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        ("missing", ConfigError, r"dataset=.*chat.json'?: file not found"),
        ("text", ConfigError, r'row 0 has no "messages" or "conversations" list \(found \[\'text\'\]\)'),
        ("not json", ConfigError, r"is not valid JSON"),
        ("empty", ConfigError, r"must be a non-empty JSON array of chat rows"),
        ("bad name", InvalidNameError, r"LoRA name 'a/b' must be a plain name"),
        ("exists", FileExistsRefusedError, r"loras/me already exists"),
        ("resume+overwrite", ConfigError, r"overwrite=True: cannot be combined with resume"),
        ("no host", HostUnavailableError, r"the recording trainer is not available: no model is loaded"),
        ("settings", ConfigError, r"settings='dict': must be a config.TrainConfig"),
    ],
)
def test_bad_inputs_fail_before_the_host_is_called(tmp_path, setup, error, message):
    datasets = tmp_path / "training" / "datasets"
    if setup != "missing":
        _write_dataset(tmp_path)
    if setup == "text":
        (datasets / "chat.json").write_text(json.dumps([{"text": "raw"}]))
    elif setup == "not json":
        (datasets / "chat.json").write_text("[{")
    elif setup == "empty":
        (datasets / "chat.json").write_text("[]")
    elif setup == "exists":
        (tmp_path / "loras" / "me").mkdir(parents=True)
    host = RecordingHost(ready=setup != "no host")
    request = request_from_user_data(
        tmp_path,
        "chat",
        "m",
        "a/b" if setup == "bad name" else "me",
        TrainConfig(),
        resume=setup == "resume+overwrite",
        overwrite=setup == "resume+overwrite",
    )
    if setup == "settings":
        request = TrainRequest(**{**request.__dict__, "settings": {}})
    with pytest.raises(error, match=message):
        train(request, host)
    assert host.requests == []


def test_standalone_host_names_missing_packages(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    host = StandaloneHost()
    assert not host.available()
    assert (
        host.unavailable_reason()
        == "missing peft; pip install 'discord-echo[train]' (and 'discord-echo[gpu]' on an NVIDIA GPU)"
    )


def test_importing_the_package_loads_no_torch_transformers_or_peft():
    code = (
        "import sys, discord_echo, discord_echo.train.driver, discord_echo.train.profiles, discord_echo.train.vram, "
        "discord_echo.train.standalone.host, discord_echo.frontends.cli\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from tiny_models import build_tiny_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is as fast, and immune to a busy second core
    yield build_tiny_model(tmp_path_factory.mktemp("tiny"))
    torch.set_num_threads(threads)


def test_cli_trains_a_lora_prints_progress_and_refuses_to_replace_it(tiny_model, tmp_path, capsys):
    _write_dataset(tmp_path, eval_rows=ROWS[:3])
    handler = signal.getsignal(signal.SIGINT)
    args = ["train", "--model", str(tiny_model), "--dataset", "chat", "--user-data", str(tmp_path), "--lora", "me"]
    args += ["--profile", "CPU (no GPU)", "--epochs", "2", "--batch-size", "4", "--learning-rate", "1e-2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "memory estimate (GPU): weights" in out
    assert "step 1/6  loss " in out and "tokens/s  about 0:00:" in out and "step 6/6  held-out loss " in out
    assert f"adapter: {(tmp_path / 'loras' / 'me').resolve()} (6 steps, held-out loss " in out
    assert (tmp_path / "loras" / "me" / "adapter_model.safetensors").is_file()
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C handling is undone after the run
    params = json.loads((tmp_path / "loras" / "me" / "training_parameters.json").read_text())
    assert params["settings"] == {
        **profile("CPU (no GPU)").to_dict(),
        "epochs": 2.0,
        "batch_size": 4,
        "learning_rate": 0.01,
    }

    assert main(args) == 1
    assert capsys.readouterr().err == f"Error: {(tmp_path / 'loras' / 'me').resolve()} already exists. " + (
        "Choose another name, or pass --overwrite to replace it (or --resume to continue its training).\n"
    )
    assert main([*args, "--overwrite", "--epochs", "1"]) == 0
    assert "(3 steps, held-out loss" in capsys.readouterr().out


def test_cli_explains_an_unavailable_template(tiny_model, tmp_path, capsys):
    _write_dataset(tmp_path)
    args = ["train", "--model", str(tiny_model), "--dataset", "chat", "--user-data", str(tmp_path), "--lora", "me"]
    assert main([*args, "--profile", "CPU (no GPU)", "--template", "Nope"]) == 1
    assert "Error: instruction_templates_dir=" in capsys.readouterr().err


def test_a_host_on_the_old_webui_trainer_gets_instruction_rows_through(tmp_path):
    """Hosts that read legacy instruction/output datasets skip the chat-row check (they check rows themselves)."""
    import json
    import threading

    from discord_echo.train.config import TrainConfig
    from discord_echo.train.driver import request_from_user_data, train

    datasets = tmp_path / "training" / "datasets"
    datasets.mkdir(parents=True)
    (datasets / "old.json").write_text(json.dumps([{"instruction": "hi", "output": "yo"}]))

    host = LegacyHost()
    request = request_from_user_data(tmp_path, "old", "m", "l", TrainConfig())
    train(request, host, stop=threading.Event())
    assert host.requests == [request]


def test_prepare_checks_the_adapter_folder_before_loading_the_tokenizer(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / "loras" / "me").mkdir(parents=True)
    request = request_from_user_data(tmp_path, "chat", "m", "me", TrainConfig())
    with pytest.raises(FileExistsRefusedError, match=r"loras/me already exists"):
        prepare(request, RecordingHost(), _no_tokenizer)
    with pytest.raises(ConfigError, match=r"overwrite=True: cannot be combined with resume"):
        prepare(replace(request, resume=True, overwrite=True), RecordingHost(), _no_tokenizer)


def test_prepare_resumes_from_the_newest_checkpoint_and_only_counts_legacy_rows(tmp_path):
    datasets = tmp_path / "training" / "datasets"
    datasets.mkdir(parents=True)
    (datasets / "old.json").write_text(json.dumps([{"instruction": "hi", "output": "yo"}] * 3))
    for step in (9, 12, 100):
        (tmp_path / "loras" / "me" / f"checkpoint-{step}").mkdir(parents=True)
    request = request_from_user_data(tmp_path, "old", "m", "me", TrainConfig(), resume=True)
    prepared = prepare(request, LegacyHost(), _no_tokenizer)
    assert prepared.adapter_dir == tmp_path / "loras" / "me"
    assert prepared.resume_from.name == "checkpoint-100"
    assert (prepared.rows, prepared.dropped, prepared.tokens, prepared.train_rows) == (3, 0, 0, None)
    fresh = prepare(replace(request, lora_name="new", resume=False), LegacyHost(), _no_tokenizer)
    assert fresh.resume_from is None


def test_prepare_refuses_chat_rows_for_the_old_webui_trainer(tmp_path):
    _write_dataset(tmp_path)
    request = request_from_user_data(tmp_path, "chat", "m", "me", TrainConfig())
    with pytest.raises(TrainingError, match=r"chat.json: this webui's trainer \(before 2026-03\) reads instruction"):
        prepare(request, LegacyHost(), _no_tokenizer)


def test_a_cutoff_shorter_than_the_longest_built_sample_is_refused_before_loading(tmp_path):
    from dataclasses import replace
    from pathlib import Path

    from discord_echo.core.errors import ConfigError
    from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
    from discord_echo.templates.chat import load_renderer
    from discord_echo.train.config import TrainConfig
    from discord_echo.train.driver import request_from_user_data, train
    from discord_echo.train.standalone.host import StandaloneHost

    sample = Path(__file__).resolve().parents[2] / "samples" / "alex_and_sam.json"
    settings = BuildConfig()
    result = build_dataset([sample], ["alex"], settings, load_renderer())
    write_build(result, settings, tmp_path, "long")
    longest = result.report()["samples"]["max_tokens"]
    short = replace(TrainConfig(), cutoff_len=longest - 1)
    request = request_from_user_data(tmp_path, "long", "no-model-needed", "l", short)
    with pytest.raises(ConfigError, match=rf"longest sample \({longest} tokens\): the trainer would drop rows"):
        train(request, StandaloneHost())
