"""Held-out pairs, the flipped "their" samples, and the warnings a user can act on."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from tiny_models import build_tiny_tokenizer

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
from discord_echo.dataset.samples import Sample
from discord_echo.evaluate.metrics import (
    OPENER_PROMPT,
    PROBE,
    HeldOutPair,
    PerplexityPair,
    build_rendering,
    build_template,
    final_train_loss,
    flip_roles,
    held_out_losses,
    held_out_pairs,
    overfit_warning,
    perplexity_warnings,
    pick,
    template_warnings,
    their_samples,
    typed_pair,
)
from discord_echo.templates.chat import load_renderer

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "tests" / "data" / "instruction-templates"
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402

SYSTEM = {"role": "system", "content": "You are alex."}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def me(text: str) -> dict:
    return {"role": "assistant", "content": text}


def friend(text: str) -> dict:
    return {"role": "assistant", "content": text}


def test_held_out_pairs_one_per_reply_with_everything_before_it():
    sample = Sample([SYSTEM, user("Hey!"), me("yo"), user("How are you?"), me("good lol")], 20, 4, ["1", "2"])
    pairs = held_out_pairs([sample, {"messages": [user("Hi."), me("hii")]}])
    assert [p.reply for p in pairs] == ["yo", "good lol", "hii"]
    assert pairs[1].prompt == [SYSTEM, user("Hey!"), me("yo"), user("How are you?")]
    assert pairs[1].friend_text == "How are you?" and pairs[1].conversation == 4
    assert pairs[2].conversation == -1


def test_typed_pair_is_persona_and_one_friend_turn():
    assert typed_pair("You are alex.", "sup").prompt == [SYSTEM, user("sup")]
    assert typed_pair(None, "sup").prompt == [user("sup")] and typed_pair(None, "sup").reply == ""


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        # The friend spoke first: the stand-in opener becomes the user turn before their first line.
        (
            [SYSTEM, user("Hey!"), me("yo"), user("How are you?"), me("good")],
            [SYSTEM, user(OPENER_PROMPT), friend("Hey!"), user("yo"), friend("How are you?")],
        ),
        # I opened (the builder's stand-in was the user turn): it is dropped, my line becomes the user turn.
        (
            [SYSTEM, user(OPENER_PROMPT), me("yo"), user("Hi."), me("lol")],
            [SYSTEM, user("yo"), friend("Hi.")],
        ),
        # No system line.
        ([user("A."), me("b")], [user(OPENER_PROMPT), friend("A.")]),
        # Nothing of theirs to score.
        ([SYSTEM, user(OPENER_PROMPT), me("yo")], None),
    ],
)
def test_flip_roles(messages, expected):
    assert flip_roles(messages) == expected


def test_their_samples_skip_samples_without_their_turns():
    samples = [[user(OPENER_PROMPT), me("yo")], [user("Hey!"), me("yo")]]
    assert their_samples(samples) == [[user(OPENER_PROMPT), friend("Hey!")]]


def test_flipped_samples_render_and_mask_the_friends_words(tmp_path):
    renderer = load_renderer(build_tiny_tokenizer(tmp_path / "tok"))
    flipped = flip_roles([SYSTEM, user("Hey there!"), me("yo"), user("How are you?"), me("good")])
    trained = [text for text, on in renderer.segments(flipped) if on]
    assert [t.split("<|im_end|>")[0] for t in trained] == ["Hey there!", "How are you?"]


@pytest.mark.parametrize(("n", "expected"), [(0, []), (1, [0]), (2, [0, 9]), (4, [0, 3, 6, 9]), (20, list(range(10)))])
def test_pick_spreads_evenly_and_keeps_order(n, expected):
    pairs = [HeldOutPair([user(str(i))], str(i)) for i in range(10)]
    assert [int(p.reply) for p in pick(pairs, n)] == expected


# --- warnings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ({"log_history": [{"loss": 3.0, "step": 1}, {"eval_loss": 2.0}, {"loss": 1.0}, {"loss": 0.5}]}, 1.5),
        ({"log_history": [{"loss": float(i)} for i in range(10)]}, 7.0),  # the last five
        ({"loss": 0.7, "current_steps": 40, "train_loss": 1.9}, 0.7),  # the webui's flat dict
        ({"log_history": [{"eval_loss": 2.0}]}, None),
        ({}, None),
        ([], None),
    ],
)
def test_final_train_loss_reads_both_log_layouts(tmp_path, log, expected):
    (tmp_path / "training_log.json").write_text(json.dumps(log))
    assert final_train_loss(tmp_path) == expected


def test_final_train_loss_without_a_log(tmp_path):
    assert final_train_loss(tmp_path) is None
    (tmp_path / "training_log.json").write_text("{not json")
    assert final_train_loss(tmp_path) is None


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ({"log_history": [{"loss": 3.0}, {"eval_loss": 2.5}, {"loss": 2.0}, {"eval_loss": 2.2}]}, [2.5, 2.2]),
        ({"loss": 0.5, "eval_loss": 1.9}, [1.9]),  # the webui's flat layout: the last evaluation only
        ({"loss": 0.5}, []),
        ([], []),
    ],
)
def test_held_out_losses_reads_both_log_layouts(tmp_path, log, expected):
    (tmp_path / "training_log.json").write_text(json.dumps(log))
    assert held_out_losses(tmp_path) == expected


@pytest.mark.parametrize(
    ("losses", "warned"),
    [
        ([], False),
        ([0.2], False),  # one evaluation shows no trend, however low
        ([2.0, 1.5, 1.2], False),  # still falling
        ([2.0, 1.2, 1.25], False),  # within 5 % of the lowest: noise
        ([2.0, 1.2, 1.4], True),  # climbed back: memorising
    ],
)
def test_overfit_warning_follows_the_held_out_loss_not_a_train_loss_threshold(losses, warned):
    warning = overfit_warning(losses)
    assert (warning is not None) is warned
    if warned:
        assert warning.kind == "overfit" and "1.20" in warning.message and "1.40" in warning.message
        assert "fewer epochs" in warning.message


@pytest.mark.parametrize(
    ("mine", "theirs", "kinds"),
    [
        (PerplexityPair(100, 20), PerplexityPair(100, 80), []),
        (PerplexityPair(100, 20), None, []),
        (PerplexityPair(100, 100), PerplexityPair(100, 80), ["no_gain"]),
        (PerplexityPair(100, 120), None, ["no_gain"]),
        (PerplexityPair(100, 50), PerplexityPair(100, 40), ["not_specific"]),
        (PerplexityPair(100, 50), PerplexityPair(10, 5), ["not_specific"]),  # the same ratio is no better
    ],
)
def test_perplexity_warnings(mine, theirs, kinds):
    assert [w.kind for w in perplexity_warnings(mine, theirs)] == kinds


def test_perplexity_pair_gain_and_reduction():
    pair = PerplexityPair(200.0, 50.0, 10)
    assert pair.gain == pytest.approx(math.log(4)) and pair.reduction == pytest.approx(0.75)


def test_template_warnings_name_the_stage_and_the_first_difference():
    same = "<|im_start|>system\npersona<|im_end|>\n"
    assert template_warnings({"dataset build": same, "training": same, "comparison": same}) == []
    assert template_warnings({"dataset build": None, "training": same, "comparison": None}) == []
    found = template_warnings({"training": same, "comparison": "### Instruction:\npersona"})
    assert [w.kind for w in found] == ["template_mismatch"]
    assert "comparison" in found[0].message and "training" in found[0].message and "'<|im_start|>" in found[0].message
    assert template_warnings({"dataset build": "persona", "comparison": "<s>persona"}, ignore=["<s>"]) == []


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "dm.json"
    path.write_text(json.dumps(make_sample.build(seed=3, sessions=8)), encoding="utf-8")
    return path


@pytest.mark.parametrize("setup", ["tokenizer", "named", "builtin"])
def test_build_rendering_redoes_the_builds_template(tmp_path, export, setup):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok") if setup == "tokenizer" else None
    template = "ChatML" if setup == "named" else None
    renderer = load_renderer(tokenizer, template, TEMPLATES)
    result = build_dataset([export], ["alex"], BuildConfig(), renderer)
    sidecar = write_build(result, BuildConfig(), tmp_path / "user_data", "echo").sidecar
    assert build_template(sidecar) == ({"tokenizer": (str(tokenizer), "Chat Template")}.get(setup, (None, template)))
    assert build_rendering(sidecar, TEMPLATES) == renderer.render(list(PROBE))


def test_build_rendering_unknown(tmp_path):
    assert build_template(tmp_path / "missing.yaml") is None
    assert build_rendering(tmp_path / "missing.yaml") is None
    sidecar = tmp_path / "x.discord_echo.yaml"
    sidecar.write_text(json.dumps({"report": {"renderer": f"tokenizer {tmp_path / 'gone'}, template Chat Template"}}))
    assert build_rendering(sidecar) is None  # the model's own template, but its tokenizer is gone


def test_compare_modules_import_without_heavy_packages():
    """Importing the package (and the Compare API the UI builds widgets from) needs no torch.

    docs/architecture.md, Heavy imports stay at the edge.
    """
    import subprocess

    code = (
        "import sys, discord_echo.evaluate.comparer, discord_echo.evaluate.characters, discord_echo.evaluate.report; "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
