"""Exports for axolotl, LLaMA-Factory and TRL, and the proof that TRL trains my turns only, as ours does.

The TRL round trip is real: the exported folder's own ``train_trl.py`` builds TRL's SFTTrainer on the tiny
random Llama (CPU, float32) and trains 2 steps; the labels it trains on are compared token for token with
templates/trainer_rows.py ``tokenize_row``. Nothing is mocked. axolotl and LLaMA-Factory do not install beside
this project's pins (they pull other transformers/peft/trl/gradio versions), so their configs are checked here
for the mapping and the masking options, not run.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.core.safe_files import FileExistsRefusedError
from discord_echo.templates.trainer_rows import read_chat_rows, tokenize_row
from discord_echo.train.engines.common import ExportRequest
from discord_echo.train.engines.export import export
from discord_echo.train.engines.masking import check_marked_masks, has_generation_markers, marked_template
from discord_echo.train.profiles import profile

yaml = pytest.importorskip("yaml")
SETTINGS = replace(profile("CPU (no GPU)"), micro_batch_size=2, batch_size=2, lora_dropout=0.0, learning_rate=1e-3)


def _request(tiny_model: Path, user_data: Path, out: Path, engine: str, **kwargs) -> ExportRequest:
    return ExportRequest(
        dataset=user_data / "training" / "datasets" / "echo.json",
        engine=engine,  # type: ignore[arg-type]
        out_dir=out,
        model=str(tiny_model),
        settings=kwargs.pop("settings", SETTINGS),
        **kwargs,
    )


def _tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)


def test_trl_export_trains_two_steps_on_my_turns_only(tiny_model, user_data, tmp_path):
    pytest.importorskip("trl")
    import torch

    result = export(_request(tiny_model, user_data, tmp_path / "trl", "trl"))
    folder = result.folder
    datasets = user_data / "training" / "datasets"
    for name in ("echo.json", "echo-eval.json"):  # the dataset travels unchanged
        assert (folder / name).read_bytes() == (datasets / name).read_bytes()
    config = yaml.safe_load((folder / "trl_config.yaml").read_text())
    assert config["sft"]["assistant_only_loss"] is True
    assert config["sft"]["max_length"] == SETTINGS.cutoff_len
    assert config["lora"]["r"] == SETTINGS.lora_rank and config["lora"]["lora_alpha"] == SETTINGS.lora_alpha
    assert "accelerate launch --config_file accelerate_zero2.yaml" in result.multi_gpu_command
    zero = yaml.safe_load((folder / "accelerate_zero2.yaml").read_text())
    assert zero["deepspeed_config"]["zero_stage"] == 2
    assert "python train_trl.py trl_config.yaml" in (folder / "README.md").read_text()
    assert has_generation_markers((folder / "chat_template.jinja").read_text())

    # Run the exported launcher itself: 2 optimizer steps on the CPU.
    config["sft"].update({"max_steps": 2, "output_dir": str(tmp_path / "out"), "use_cpu": True, "eval_strategy": "no"})
    (folder / "run.yaml").write_text(yaml.safe_dump(config))
    spec = importlib.util.spec_from_file_location("exported_train_trl", folder / "train_trl.py")
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    trainer = launcher.build_trainer(folder / "run.yaml")

    tokenizer = _tokenizer(tiny_model)
    ours = [tokenize_row(tokenizer, row, tokenizer.chat_template) for row in read_chat_rows(datasets / "echo.json")]
    theirs = trainer.train_dataset
    assert len(theirs) == len(ours)
    for row, mine in zip(theirs, ours, strict=True):
        assert row["input_ids"] == mine["input_ids"]
        assert row["labels"] == mine["labels"]  # loss on my turns only, token for token
    assert any(label == -100 for label in ours[0]["labels"]) and any(label != -100 for label in ours[0]["labels"])

    batch = next(iter(trainer.get_train_dataloader()))  # what the loss sees after TRL's collator
    trained = [[t for t in m["labels"] if t != -100] for m in ours]
    for labels in batch["labels"].tolist():
        assert [t for t in labels if t != -100] in trained
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    torch.manual_seed(0)
    out = trainer.train()
    assert trainer.state.global_step == 2 and math.isfinite(out.training_loss)
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[n], after[n].detach()) for n in before), "the LoRA did not change"


def test_marked_template_renders_the_same_and_marks_our_spans(tiny_model):
    tokenizer = _tokenizer(tiny_model)
    llama3 = (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    rows = [
        [{"role": "system", "content": "be alex"}, {"role": "user", "content": "Sam: hey"},
         {"role": "assistant", "content": "yo lol"}, {"role": "user", "content": "what"},
         {"role": "assistant", "content": "nm 😅"}],
    ]  # fmt: skip
    for template in (tokenizer.chat_template, llama3):
        assert check_marked_masks(tokenizer, rows, template).same
    # A template whose generation prompt runs into the reply ("wh" + "at" is one token of the tiny tokenizer):
    # our token count puts the boundary elsewhere than TRL's character-based mask; the check must see it.
    glued = (
        "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] + '\\n' }}"
        "{% else %}{{ 'wh' + m['content'] + '\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'wh' }}{% endif %}"
    )
    row = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "at"}]
    check = check_marked_masks(tokenizer, [row], glued)
    assert check.mask_differs == [0] and not check.same
    assert marked_template(marked_template(glued)) == marked_template(glued)  # markers are added once


def test_axolotl_export_maps_our_settings_and_masks_assistant_turns(tiny_model, user_data, tmp_path):
    result = export(_request(tiny_model, user_data, tmp_path / "axolotl", "axolotl"))
    config = yaml.safe_load((result.folder / "axolotl.yml").read_text())
    tokenizer = _tokenizer(tiny_model)
    assert config["chat_template"] == "jinja" and config["chat_template_jinja"] == tokenizer.chat_template
    (dataset,) = config["datasets"]
    assert dataset == {
        "path": "echo.json",
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
        "train_on_eos": "turn",
    }
    assert config["test_datasets"][0]["path"] == "echo-eval.json"
    assert config["eot_tokens"] == ["<|im_end|>"]  # the tiny model's EOS is </s>: the turn marker is named
    assert (config["sequence_len"], config["lora_r"], config["lora_alpha"]) == (256, 8, 16)
    assert config["lora_dropout"] == 0.0 and config["learning_rate"] == 1e-3 and config["num_epochs"] == 2.0
    assert config["adapter"] == "lora" and config["lora_target_linear"] is True
    assert config["micro_batch_size"] * config["gradient_accumulation_steps"] == SETTINGS.batch_size
    multi = yaml.safe_load((result.folder / "axolotl-zero2.yml").read_text())
    assert multi["deepspeed"] == "zero2.json"
    assert json.loads((result.folder / "zero2.json").read_text())["zero_optimization"]["stage"] == 2
    readme = (result.folder / "README.md").read_text()
    assert "axolotl train axolotl.yml" in readme and "<|im_end|>" in readme
    assert any("'\\n'" in w for w in result.warnings)  # ChatML's newline after <|im_end|>: said, not hidden


def test_qlora_settings_map_to_qlora_and_4bit(tiny_model, user_data, tmp_path):
    settings = profile("8 GB (RTX 3060 Ti)")
    axo = export(_request(tiny_model, user_data, tmp_path / "a", "axolotl", settings=settings))
    config = yaml.safe_load((axo.folder / "axolotl.yml").read_text())
    assert config["adapter"] == "qlora" and config["load_in_4bit"] is True and config["bf16"] is True
    assert config["optimizer"] == "paged_adamw_8bit"
    lf = export(_request(tiny_model, user_data, tmp_path / "l", "llamafactory", settings=settings))
    config = yaml.safe_load((lf.folder / "echo_lora_sft.yaml").read_text())
    assert config["quantization_bit"] == 4 and config["quantization_method"] == "bnb"


def test_llamafactory_export_registers_sharegpt_messages(tiny_model, user_data, tmp_path):
    result = export(_request(tiny_model, user_data, tmp_path / "lf", "llamafactory"))
    info = json.loads((result.folder / "dataset_info.json").read_text())
    assert info["echo"]["file_name"] == "echo.json" and info["echo-eval"]["file_name"] == "echo-eval.json"
    assert info["echo"]["formatting"] == "sharegpt" and info["echo"]["columns"] == {"messages": "messages"}
    assert info["echo"]["tags"]["user_tag"] == "user" and info["echo"]["tags"]["assistant_tag"] == "assistant"
    config = yaml.safe_load((result.folder / "echo_lora_sft.yaml").read_text())
    assert config["template"] == "chatml" and config["dataset"] == "echo" and config["eval_dataset"] == "echo-eval"
    assert config["cutoff_len"] == 256 and config["lora_rank"] == 8 and config["lora_target"] == "all"
    assert config["train_on_prompt"] is False and config["mask_history"] is False
    multi = yaml.safe_load((result.folder / "echo_lora_sft_ds2.yaml").read_text())
    assert multi["deepspeed"] == "ds_z2_config.json" and (result.folder / "ds_z2_config.json").is_file()
    assert "FORCE_TORCHRUN=1 llamafactory-cli train echo_lora_sft_ds2.yaml" in (result.folder / "README.md").read_text()


def test_llamafactory_refuses_a_template_it_has_no_name_for(tiny_model, user_data, tmp_path):
    templates = tmp_path / "instruction-templates"
    templates.mkdir()
    (templates / "Plain.yaml").write_text(
        "instruction_template: |-\n"
        "  {%- for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
        "  {% endfor %}{%- if add_generation_prompt %}assistant:{% endif %}\n"
    )
    request = _request(
        tiny_model, user_data, tmp_path / "lf", "llamafactory", template="Plain", templates_dir=templates
    )
    with pytest.raises(ConfigError, match="LLaMA-Factory renders turns with its own templates"):
        export(request)
    assert not (tmp_path / "lf").exists()
    named = export(replace(request, engine_template="default"))
    assert yaml.safe_load((named.folder / "echo_lora_sft.yaml").read_text())["template"] == "default"


def test_export_never_overwrites_unless_asked(tiny_model, user_data, tmp_path):
    out = tmp_path / "trl"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsRefusedError):
        export(_request(tiny_model, user_data, out, "axolotl"))
    assert (out / "mine.txt").read_text() == "keep"
    result = export(_request(tiny_model, user_data, out, "axolotl", overwrite=True))
    assert (result.folder / "axolotl.yml").is_file() and not (out / "mine.txt").exists()
