"""WebuiHost's control flow against stand-in ``modules.*`` objects: loader checks, the reload workaround, a
yielded error, a stop while the trainer is silent, the LoRA applied alone. The real webui run is in
test_webui_live.py (gated on DISCORD_ECHO_WEBUI); these run everywhere in a fraction of a second.

The stand-in ``do_train`` has the real 1dcde41d parameter names and yields the real status strings.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from train.hosts.test_webui_mapping import CURRENT_PARAMS_1DCDE41D  # tests/ is on pythonpath

from discord_echo.core.errors import HostUnavailableError, TrainingError
from discord_echo.templates.trainer_rows import TokenizedRows
from discord_echo.train import driver
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import TrainRequest
from discord_echo.train.profiles import profile
from discord_echo.train.webui import host as host_module
from discord_echo.train.webui.host import WebuiHost, check_trainable_model, reload_base_model, reload_in_4bit
from discord_echo.train.webui.mapping import Run

SETTINGS = profile("CPU (no GPU)")  # micro 1, batch 4: grad-accum 4


class FakeWebui:
    """modules.shared / models / training / LoRA, recording what the host does to them."""

    def __init__(self, tmp_path: Path, script):
        self.calls: list[tuple] = []
        self.script = script  # (fake, kwargs) -> iterator of statuses
        args = SimpleNamespace(loader="Transformers", cpu=True, lora_dir=str(tmp_path / "loras"), load_in_4bit=False)
        self.shared = SimpleNamespace(
            model=SimpleNamespace(name="base"), tokenizer=SimpleNamespace(chat_template="tpl"), model_name="tiny",
            lora_names=[], model_dirty_from_training=False, args=args, user_data_dir=tmp_path,
        )  # fmt: skip
        names = ", ".join(CURRENT_PARAMS_1DCDE41D)
        scope: dict = {}
        exec(f"def do_train({names}):\n    yield from run(locals())", {"run": self._run}, scope)  # noqa: S102
        dropdown = "label='Optimizer', choices=['adamw_torch']"  # what optimizer_choices() reads
        self.training = SimpleNamespace(do_train=scope["do_train"], do_interrupt=self._interrupt, train_log={},
                                        want_interrupt=False, create_ui=dropdown)  # fmt: skip
        self.models = SimpleNamespace(load_model=self._load, unload_model=self._unload)
        self.lora = SimpleNamespace(add_lora_to_model=lambda names: self.calls.append(("add_lora", list(names))))

    def install(self, monkeypatch) -> None:
        modules = SimpleNamespace(shared=self.shared, training=self.training, models=self.models, LoRA=self.lora)
        for name, value in {"modules": modules, "modules.shared": self.shared, "modules.training": self.training,
                            "modules.models": self.models, "modules.LoRA": self.lora}.items():  # fmt: skip
            monkeypatch.setitem(sys.modules, name, value)
        # The stand-in tokenizer cannot tokenize: driver.prepare counts 8 rows of 400 tokens in all.
        kept = TokenizedRows(rows=[{}] * 8, total=8, tokens=400)
        monkeypatch.setattr(driver, "tokenize_rows", lambda tokenizer, rows, cutoff_len, template: kept)

    def _run(self, kwargs):
        self.calls.append(("do_train", kwargs))
        self.training.want_interrupt = False  # as do_train does on entry
        yield from self.script(self, kwargs)

    def _interrupt(self):
        self.training.want_interrupt = True

    def _load(self, name):
        self.calls.append(("load_model", name))
        return SimpleNamespace(name=f"fresh {name}"), SimpleNamespace(chat_template="tpl")

    def _unload(self, keep_model_name=False):
        self.calls.append(("unload_model", keep_model_name))
        self.shared.model = self.shared.tokenizer = None
        self.shared.lora_names, self.shared.model_dirty_from_training = [], False
        if not keep_model_name:
            self.shared.model_name = "None"


def _request(tmp_path: Path, settings: TrainConfig = SETTINGS) -> TrainRequest:
    datasets = tmp_path / "training" / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    row = {"messages": [{"role": "user", "content": "hey"}, {"role": "assistant", "content": "yo"}]}
    (datasets / "echo.json").write_text(json.dumps([row] * 8))
    return TrainRequest("tiny", datasets / "echo.json", None, "echo", tmp_path / "loras", settings)


def _trains(fake: FakeWebui, kwargs: dict, steps: int = 2, running: bool = True):
    """The happy path of do_train: dirty model, Trainer local, running statuses, adapter saved."""
    yield "Preparing the input..."
    fake.shared.model_dirty_from_training = True
    trainer = SimpleNamespace(state=SimpleNamespace(log_history=[], global_step=0, max_steps=steps))  # via gi_frame
    yield "Starting..."
    for step in range(1, steps + 1):
        trainer.state.global_step = step
        trainer.state.log_history.append({"loss": 3.0 - step, "step": step, "epoch": step / steps})
        fake.training.train_log.update(loss=3.0 - step, epoch=step / steps, learning_rate=1e-4)
        if running:
            yield f"Running... **{step * 4}** / **{steps * 4}** ... `2.00` it/s, `1` seconds / `2` seconds ... `1` seconds remaining"  # noqa: E501
    adapter = Path(fake.shared.args.lora_dir) / kwargs["lora_name"]
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "adapter_config.json").write_text("{}")
    yield f"Done! LoRA saved to `{adapter}`.\n\nBefore testing your new LoRA, make sure to first reload the model."


def test_a_run_maps_arguments_clears_the_log_reloads_and_applies_one_lora(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    fake.training.train_log.update(loss=99.0, current_steps=500)  # left over from an earlier run
    progress = []
    result = WebuiHost().train(_request(tmp_path), progress.append, threading.Event())
    kwargs = next(c[1] for c in fake.calls if c[0] == "do_train")
    assert list(kwargs) == CURRENT_PARAMS_1DCDE41D and kwargs["learning_rate"] == "0.0002"
    assert kwargs["optimizer"] == "adamw_torch"
    running = [p for p in progress if p.message.startswith("Running")]
    assert [(p.step, p.total_steps, p.loss) for p in running] == [(1, 2, 2.0), (2, 2, 1.0)]
    assert all(p.loss != 99.0 for p in progress)
    # After training: unload keeping the name, load it again, then exactly one LoRA.
    after = fake.calls[fake.calls.index(("do_train", kwargs)) + 1 :]
    assert after == [("unload_model", True), ("load_model", "tiny"), ("add_lora", ["echo"])]
    assert fake.shared.model_name == "tiny" and fake.shared.model.name == "fresh tiny"
    assert (result.steps, result.total_steps, result.interrupted) == (2, 2, False)
    assert result.train_loss == [(1, 2.0), (2, 1.0)]
    assert result.adapter_dir == tmp_path / "loras" / "echo"


def test_a_dirty_model_is_reloaded_before_training_not_by_the_webui(tmp_path, monkeypatch):
    seen = {}

    def script(fake, kwargs):
        seen["dirty"], seen["name"] = fake.shared.model_dirty_from_training, fake.shared.model_name
        yield from _trains(fake, kwargs)

    fake = FakeWebui(tmp_path, script)
    fake.install(monkeypatch)
    fake.shared.model_dirty_from_training, fake.shared.lora_names = True, ["earlier"]
    WebuiHost().train(_request(tmp_path), lambda p: None, threading.Event())
    assert fake.calls[:2] == [("unload_model", True), ("load_model", "tiny")]
    assert seen == {"dirty": False, "name": "tiny"}  # do_train never reaches its broken reload_model()


@pytest.mark.parametrize(
    "failure",
    [
        "Error: all 12 conversations exceed the cutoff length of 256 tokens.",
        "Training failed: CUDA out of memory.",
        "Traceback (most recent call last):\n\n  File x\n\nOSError: Repo id must be in the form 'repo_name'",
    ],
)
def test_a_yielded_error_raises_and_leaves_the_base_model_loaded(tmp_path, monkeypatch, failure):
    def script(fake, kwargs):
        yield "Preparing the input..."
        fake.shared.model_dirty_from_training = True
        yield failure

    fake = FakeWebui(tmp_path, script)
    fake.install(monkeypatch)
    with pytest.raises(TrainingError, match="the webui trainer stopped: ") as caught:
        WebuiHost().train(_request(tmp_path), lambda p: None, threading.Event())
    assert failure.splitlines()[0] in str(caught.value)
    assert ("add_lora", ["echo"]) not in fake.calls
    assert fake.calls[-2:] == [("unload_model", True), ("load_model", "tiny")]
    assert fake.shared.model is not None and fake.shared.model_name == "tiny"


def test_an_early_error_on_a_clean_model_does_not_reload(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, lambda fake, kwargs: iter(["Preparing the input...", "Cannot input zeroes."]))
    fake.install(monkeypatch)
    with pytest.raises(TrainingError, match="Cannot input zeroes"):
        WebuiHost().train(_request(tmp_path), lambda p: None, threading.Event())
    assert [c[0] for c in fake.calls] == ["do_train"]


def test_stop_is_relayed_while_the_trainer_is_silent(tmp_path, monkeypatch):
    stop = threading.Event()

    def script(fake, kwargs):
        yield "Preparing the input..."
        fake.shared.model_dirty_from_training = True
        yield "Starting..."
        stop.set()  # the user presses Stop; do_train yields nothing until a step changes
        deadline = time.monotonic() + 5
        while not fake.training.want_interrupt and time.monotonic() < deadline:
            time.sleep(0.01)
        adapter = Path(fake.shared.args.lora_dir) / "echo"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        yield "Interrupted. Incomplete LoRA saved to `user_data/loras/echo`."

    fake = FakeWebui(tmp_path, script)
    fake.install(monkeypatch)
    result = WebuiHost().train(_request(tmp_path), lambda p: None, stop)
    assert fake.training.want_interrupt and result.interrupted
    assert fake.shared.model is not None and ("add_lora", ["echo"]) in fake.calls


def test_a_stop_before_the_run_trains_nothing(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    stop = threading.Event()
    stop.set()
    result = WebuiHost().train(_request(tmp_path), lambda p: None, stop)
    assert result.interrupted and result.steps == 0 and not fake.calls


@pytest.mark.parametrize(
    ("loader", "model", "match"),
    [
        ("llama.cpp", SimpleNamespace(), "tiny is loaded with llama.cpp, and LoRA training needs a Transformers"),
        ("ExLlamav3_HF", SimpleNamespace(), "loaded with ExLlamav3_HF"),
        (None, type("Exllamav3HF", (), {})(), "loaded with Exllamav3HF"),
        ("Transformers", None, "no model is loaded: in the Model tab choose the original"),
    ],
)
def test_only_a_loaded_transformers_model_can_train(tmp_path, monkeypatch, loader, model, match):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    fake.shared.args.loader, fake.shared.model = loader, model
    with pytest.raises(HostUnavailableError, match=match):
        check_trainable_model()
    host = WebuiHost()
    assert not host.available() and host.unavailable_reason()


def test_outside_the_webui_the_host_is_unavailable(monkeypatch):
    monkeypatch.delitem(sys.modules, "modules.shared", raising=False)
    host = WebuiHost()
    assert not host.available()
    assert host.unavailable_reason() == "not running inside text-generation-webui"


def test_reload_keeps_the_model_name(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    reload_base_model()
    assert fake.calls == [("unload_model", True), ("load_model", "tiny")] and fake.shared.model_name == "tiny"


def test_reload_in_4bit_refuses_without_a_gpu(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    with pytest.raises(HostUnavailableError, match="4-bit loading needs an NVIDIA GPU"):
        reload_in_4bit(TrainConfig())
    assert fake.shared.args.load_in_4bit is False and not fake.calls


def test_reload_in_4bit_sets_the_profile_flags_then_reloads(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    monkeypatch.setattr(host_module, "_hardware", lambda: (True, True, False))  # CUDA + bnb, no bf16 (Turing)
    fake.shared.args.cpu = False
    notes = reload_in_4bit(TrainConfig())
    args = fake.shared.args
    assert (args.load_in_4bit, args.use_double_quant, args.quant_type, args.compute_dtype) == (
        True, True, "nf4", "float16",
    )  # fmt: skip
    assert any("float16" in n for n in notes)
    assert fake.calls == [("unload_model", True), ("load_model", "tiny")]


def test_run_falls_back_to_train_log_without_a_trainer():
    training = SimpleNamespace(train_log={"loss": 1.5}, do_interrupt=lambda: None)
    run = Run(training, grad_accum=2, report=lambda p: None, tokens_per_micro=10.0)
    last = run.consume(iter(["Running... **4** / **8** ... `1.00` it/s", "Done! LoRA saved."]), threading.Event())
    result = run.result(Path("nowhere"), last, dropped=0, notes=[])
    assert last.kind == "done" and result.train_loss == [(2, 1.5)] and result.total_steps == 4


def test_a_run_too_short_for_a_running_status_still_counts_and_overwrite_clears_old_checkpoints(tmp_path, monkeypatch):
    def script(fake, kwargs):
        yield from _trains(fake, kwargs, steps=3, running=False)  # done inside do_train's first 0.5 s sleep

    fake = FakeWebui(tmp_path, script)
    fake.install(monkeypatch)
    old = tmp_path / "loras" / "echo" / "checkpoint-999"
    old.mkdir(parents=True)
    request = _request(tmp_path)
    result = WebuiHost().train(replace(request, overwrite=True), lambda p: None, threading.Event())
    assert (result.steps, result.total_steps) == (3, 3) and len(result.train_loss) == 3
    assert not old.exists() and (tmp_path / "loras" / "echo" / "adapter_config.json").is_file()


def test_an_existing_lora_in_the_webuis_folder_is_refused_whatever_the_request_names(tmp_path, monkeypatch):
    from discord_echo.core.safe_files import FileExistsRefusedError

    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    (tmp_path / "loras" / "echo").mkdir(parents=True)  # do_train would write into --lora-dir
    elsewhere = replace(_request(tmp_path), loras_dir=tmp_path / "elsewhere")
    with pytest.raises(FileExistsRefusedError, match=r"loras/echo already exists"):
        WebuiHost().train(elsewhere, lambda p: None, threading.Event())
    assert fake.calls == []


def test_every_row_over_the_cutoff_is_refused_before_the_webui_trainer_runs(tmp_path, monkeypatch):
    fake = FakeWebui(tmp_path, _trains)
    fake.install(monkeypatch)
    none_kept = TokenizedRows(rows=[], total=8, dropped=8)
    monkeypatch.setattr(driver, "tokenize_rows", lambda tokenizer, rows, cutoff_len, template: none_kept)
    with pytest.raises(TrainingError, match=r"all 8 rows of .*echo.json exceed cutoff_len 256"):
        WebuiHost().train(_request(tmp_path), lambda p: None, threading.Event())
    assert fake.calls == []
