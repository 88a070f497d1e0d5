"""The whole road on the command line, through `cli.main` with a tiny random-weight model (no GPU, no download):
build -> train -> compare -> evaluate -> character, and the cutoff trap of building for one profile and training
with another. Nothing is mocked; the tiny model comes from tests/tiny_models.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from discord_echo.frontends.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from tiny_models import build_tiny_model

    torch.set_num_threads(1)  # tiny tensors: threads only spin on this shared 2-core machine
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def _build(user_data: Path, model: Path, name: str, *extra: str) -> int:
    return main(
        ["build", str(SAMPLE), "--me", "alex", "--name", name, "--user-data", str(user_data)]
        + ["--tokenizer", str(model), "--template", "Chat Template", "--preview", "0", *extra]
    )


def test_a_dataset_built_for_one_cutoff_is_refused_by_a_shorter_profile_with_what_to_do(tmp_path, tiny_model, capsys):
    assert _build(tmp_path, tiny_model, "wide", "--cutoff", "2048") == 0
    sidecar = json.loads((tmp_path / "training" / "datasets" / "wide.discord_echo.yaml").read_text())
    longest = sidecar["report"]["samples"]["max_tokens"]
    assert sidecar["settings"]["dataset"]["cutoff_len"] == 2048 and sidecar["report"]["template"] == "Chat Template"
    short = longest - 1  # the tiny tokenizer's samples are short: a profile's cutoff, made to fall just below
    capsys.readouterr()
    args = ["train", "--model", str(tiny_model), "--dataset", "wide", "--user-data", str(tmp_path), "--lora", "w"]
    assert main([*args, "--profile", "cpu", "--cutoff", str(short)]) == 1
    captured = capsys.readouterr()
    assert "memory estimate" not in captured.out  # refused before anything else is printed
    assert f"longest sample ({longest} tokens)" in captured.err and "built for cutoff 2048" in captured.err
    assert f"--cutoff {short} --overwrite" in captured.err and f"--cutoff {longest})" in captured.err
    assert not (tmp_path / "loras" / "w").exists()


def test_train_on_a_missing_dataset_says_so_before_a_memory_estimate(tmp_path, tiny_model, capsys):
    code = main(["train", "--model", str(tiny_model), "--dataset", "nope", "--user-data", str(tmp_path), "--lora", "x"])
    captured = capsys.readouterr()
    assert code == 1 and "nope.json" in captured.err and "memory estimate" not in captured.out


def test_the_road_build_train_compare_evaluate_character(tmp_path, tiny_model, capsys):
    assert _build(tmp_path, tiny_model, "echo", "--profile", "tiny") == 0
    out = capsys.readouterr().out
    assert "(cutoff 256)" in out  # the tiny profile's cutoff, not the default 512
    user = ["--user-data", str(tmp_path)]
    train = ["train", "--model", str(tiny_model), "--dataset", "echo", *user, "--lora", "echo"]
    assert main([*train, "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "adapter:" in out and (tmp_path / "loras" / "echo" / "adapter_config.json").is_file()

    model = ["--model", str(tiny_model), "--lora", "echo", "--dataset", "echo", *user, "--max-new-tokens", "8"]
    assert main(["compare", *model, "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("friend: ") == 2 and out.count("real:   ") == 2 and out.count("tuned:  ") == 2
    assert main(["compare", *model, "--message", "hey, you around tonight?"]) == 0
    out = capsys.readouterr().out
    assert "friend: hey, you around tonight?" in out and "real:" not in out and "base:   " in out

    assert main(["evaluate", *model, "-n", "2"]) == 0
    out = capsys.readouterr().out
    report = tmp_path / "loras" / "echo" / "discord_echo_report.md"
    assert f"report: {report}" in out and report.is_file() and "tuned" in out
    assert "topicality per token (nats)" in out and "style distance to your real replies" in out  # as the tab

    assert main(["character", "--dataset", "echo", *user]) == 0
    out = capsys.readouterr().out
    assert "wrote the character" in out and (tmp_path / "characters").is_dir()
    assert main(["character", "--dataset", "echo", *user]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
