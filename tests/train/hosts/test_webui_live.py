"""WebuiHost against a real text-generation-webui: its own trainer, loader and LoRA code, nothing mocked.

Runs only when ``DISCORD_ECHO_WEBUI`` names a webui checkout (optionally ``DISCORD_ECHO_WEBUI_PYTHON``, the
Python of the webui's environment, which needs torch, transformers, peft, datasets and a gradio the webui
imports). A subprocess started in the webui folder with that Python and ``--cpu --user-data-dir <tmp>`` builds a
tiny random-weight Llama into the temporary user_data (the checkout is not touched), writes a dataset from
samples/alex_and_sam.json with our pipeline, loads the model as server.py does, then trains through
``discord_echo.train.driver.train`` with ``WebuiHost``: a full run, a second run in the same process (the webui's
own ``reload_model()`` would fail here) and an interrupted run. It prints one JSON line of facts; this test
asserts on them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.webui

REPO = Path(__file__).resolve().parents[3]
WEBUI = os.environ.get("DISCORD_ECHO_WEBUI")
PYTHON = os.environ.get("DISCORD_ECHO_WEBUI_PYTHON", sys.executable)

SCRIPT = textwrap.dedent(
    r"""
    import json, sys, threading
    from dataclasses import replace
    from pathlib import Path

    repo, webui, user_data = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    sys.path[:0] = [str(webui), str(repo / "extensions")]
    import torch
    torch.set_num_threads(1)  # tiny tensors; 2 OpenMP threads on a busy 2-core box are ~20x slower

    from discord_echo.templates.chat import load_renderer
    from discord_echo.dataset.samples import DatasetConfig
    from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
    from discord_echo.train.profiles import profile
    from discord_echo.train.tiny_models import build_tiny_model
    from discord_echo.train import driver

    model_dir = build_tiny_model(user_data / "models" / "tiny-echo")
    build = BuildConfig(dataset=DatasetConfig(cutoff_len=256))
    written = write_build(
        build_dataset([repo / "samples" / "alex_and_sam.json"], ["alex"], build, load_renderer(model_dir)),
        build, user_data, "echo",
    )

    sys.argv = ["server.py", "--cpu", "--model", "tiny-echo", "--loader", "Transformers",
                "--user-data-dir", str(user_data)]
    from modules import shared
    from modules.models import load_model
    from modules.models_settings import get_model_metadata, update_model_parameters
    from discord_echo.train.webui.host import WebuiHost

    shared.model_name = shared.args.model
    update_model_parameters(get_model_metadata(shared.model_name), initial=True)
    shared.model, shared.tokenizer = load_model(shared.model_name)

    settings = replace(profile("CPU (no GPU)"), lora_rank=8, lora_alpha=16, lora_dropout=0.0, micro_batch_size=2,
                       batch_size=4, epochs=2, learning_rate=1e-2, warmup_ratio=0.2, save_steps=4,
                       save_total_limit=2, eval_steps=4, cutoff_len=256)
    host = WebuiHost()
    facts = {"rows": len(json.loads(written.train.read_text())), "available": host.available()}

    def run(name, stop_after_first_step=False):
        progress, stop = [], threading.Event()
        def on_progress(p):
            progress.append({"step": p.step, "total": p.total_steps, "loss": p.loss, "eta": p.eta_seconds,
                             "message": p.message[:80]})
            if stop_after_first_step and p.step >= 1:
                stop.set()
        request = driver.request_from_user_data(user_data, "echo", "tiny-echo", name, settings)
        result = driver.train(request, host, on_progress, stop)
        adapter = Path(result.adapter_dir)
        params = json.loads((adapter / "training_parameters.json").read_text())
        return {
            "adapter_dir": str(adapter),
            "files": sorted(p.name for p in adapter.iterdir()),
            "steps": result.steps, "total_steps": result.total_steps, "interrupted": result.interrupted,
            "train_loss": result.train_loss, "eval_loss": result.eval_loss, "final_eval": result.final_eval_loss,
            "notes": result.notes, "progress": progress, "params": params,
            "lora_names": list(shared.lora_names), "model_name": shared.model_name,
            "model_class": type(shared.model).__name__ if shared.model is not None else None,
            "dirty": shared.model_dirty_from_training,
        }

    facts["first"] = run("echo_first")
    facts["second"] = run("echo_second")
    facts["interrupted"] = run("echo_stopped", stop_after_first_step=True)
    print("FACTS " + json.dumps(facts))
    """
)


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    if not WEBUI:
        pytest.skip("set DISCORD_ECHO_WEBUI to a text-generation-webui checkout (and DISCORD_ECHO_WEBUI_PYTHON)")
    webui = Path(WEBUI)
    if not (webui / "modules" / "training.py").is_file():
        pytest.skip(f"{webui} is not a text-generation-webui checkout")
    tmp = tmp_path_factory.mktemp("webui_live")
    script = tmp / "live_run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    env["HF_DATASETS_CACHE"] = str(tmp / "hf-datasets")  # the webui maps datasets through load_dataset("json")
    done = subprocess.run(
        [PYTHON, str(script), str(REPO), str(webui), str(tmp / "user_data")],
        cwd=webui,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("FACTS ")), None)
    assert done.returncode == 0 and line, (
        f"live run failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    )
    return json.loads(line[len("FACTS ") :])


def test_host_is_available_with_a_transformers_model(facts):
    assert facts["available"] is True


def test_first_run_writes_the_adapter_and_selects_it(facts):
    first = facts["first"]
    assert {"adapter_model.safetensors", "adapter_config.json", "training_parameters.json"} <= set(first["files"])
    assert first["lora_names"] == ["echo_first"]
    assert first["model_class"] == "PeftModelForCausalLM"
    assert first["model_name"] == "tiny-echo"
    assert first["dirty"] is False  # reloaded before the LoRA was applied
    assert not first["interrupted"]


def test_first_run_steps_match_our_count_and_the_warmup_ratio(facts):
    first, rows = facts["first"], facts["rows"]
    expected = 2 * -(-rows // 4)  # epochs x ceil(rows / batch_size), no row of the sample exceeds 256 tokens
    assert first["total_steps"] == expected
    assert first["steps"] == expected
    params = first["params"]
    assert params["warmup_steps"] == round(0.2 * expected) * 2  # in micro-batches: x grad-accum 2
    assert params["learning_rate"] == "0.01" and params["format"] == "Chat Template"
    assert len(first["train_loss"]) == expected  # the Trainer's log history, one entry per step
    assert first["eval_loss"] and first["final_eval"] is not None


def test_first_run_reports_progress_in_optimizer_steps(facts):
    running = [p for p in facts["first"]["progress"] if p["message"].startswith("Running")]
    assert running, facts["first"]["progress"]
    assert all(p["total"] == facts["first"]["total_steps"] for p in running)
    assert [p["step"] for p in running] == sorted(p["step"] for p in running)
    assert any(p["loss"] is not None for p in running)


def test_checkpoints_are_pruned_to_the_limit(facts):
    assert len([f for f in facts["first"]["files"] if f.startswith("checkpoint-")]) <= 2


def test_a_second_run_in_the_same_process_works(facts):
    second = facts["second"]
    assert not second["interrupted"] and "adapter_model.safetensors" in second["files"]
    assert second["lora_names"] == ["echo_second"]  # one LoRA only, the new one
    assert second["train_loss"] and second["train_loss"][0][0] == 1  # fresh log, nothing from the first run


def test_an_interrupted_run_leaves_a_model_loaded(facts):
    stopped = facts["interrupted"]
    assert stopped["interrupted"] is True
    assert stopped["steps"] < stopped["total_steps"]
    assert stopped["model_name"] == "tiny-echo" and stopped["model_class"] is not None
    assert stopped["dirty"] is False
