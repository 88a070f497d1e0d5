"""`discord-echo export` / `merge` and the tab's Export section write every target (tiny model, real pipeline).

Kept beside the host tests to share their tiny model and built dataset (conftest.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from discord_echo.frontends.cli import main

ENGINE_FILES = {
    "axolotl": ("axolotl.yml", "axolotl-zero2.yml", "zero2.json"),
    "llamafactory": ("dataset_info.json", "echo_lora_sft.yaml", "echo_lora_sft_ds2.yaml", "ds_z2_config.json"),
    "trl": ("trl_config.yaml", "train_trl.py", "accelerate_zero2.yaml", "chat_template.jinja"),
}


@pytest.fixture()
def own_user_data(user_data, tmp_path) -> Path:
    folder = tmp_path / "user_data"
    shutil.copytree(user_data, folder)
    return folder


@pytest.fixture()
def random_lora(tiny_model, own_user_data) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(2)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(str(own_user_data / "loras" / "echo-lora"))
    return "echo-lora"


@pytest.mark.parametrize("engine", list(ENGINE_FILES))
def test_cli_export_writes_each_target_and_refuses_to_overwrite(engine, tiny_model, own_user_data, capsys):
    args = ["export", "echo", "--to", engine, "--user-data", str(own_user_data), "--model", str(tiny_model)]
    assert main([*args, "--profile", "CPU (no GPU)", "--cutoff", "256"]) == 0
    folder = own_user_data / "exports" / f"echo-{engine}"
    for name in (*ENGINE_FILES[engine], "README.md", "echo.json", "echo-eval.json"):
        assert (folder / name).is_file(), name
    out = capsys.readouterr().out
    assert "run it there" in out
    assert main(args) == 1 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_cli_merge_writes_a_model_folder(tiny_model, own_user_data, random_lora):
    args = ["merge", "--model", str(tiny_model), "--lora", random_lora, "--user-data", str(own_user_data)]
    assert main(args) == 0
    folder = own_user_data / "models" / f"{random_lora}-merged"
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    generation = json.loads((folder / "generation_config.json").read_text())
    assert len(generation["eos_token_id"]) == 2


def test_tab_export_and_merge_buttons(tiny_model, own_user_data, random_lora):
    pytest.importorskip("gradio")
    from discord_echo.frontends.ui.export_panel import ExportPanel
    from discord_echo.frontends.ui.parts import DatasetParts, TrainParts
    from discord_echo.frontends.ui.tab import TabContext

    context = TabContext(user_data=own_user_data, loras_dir=own_user_data / "loras")
    parts = DatasetParts(model=None, name=None, template=None, cutoff=None, tokenizer_for=lambda m: None)
    panel = ExportPanel(context, parts, TrainParts(lora=None, training=lambda: False))
    for engine in ENGINE_FILES:
        html = panel.on_export(str(tiny_model), "echo", "Chat Template", engine, False, "")
        assert "Wrote" in html, html
        assert (own_user_data / "exports" / f"echo-{engine}" / ENGINE_FILES[engine][0]).is_file()
    again = panel.on_export(str(tiny_model), "echo", "Chat Template", "trl", False, "")
    assert "already exists" in again
    html = panel.on_merge(str(tiny_model), False, random_lora)
    assert "Merged into" in html, html
    assert (own_user_data / "models" / f"{random_lora}-merged" / "model.safetensors").is_file()
    context.multi_user = True
    assert "multi-user" in panel.on_merge(str(tiny_model), True, random_lora)
