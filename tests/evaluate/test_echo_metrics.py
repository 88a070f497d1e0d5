"""Topicality, speaker specificity and style distance: the numbers that say "like me *and* on topic".

The model-side tests use a tiny random Llama with a freshly initialised LoRA (peft starts B at zero, so the
adapter changes nothing yet): enough to pin *what* is scored. Whether a trained echo is on topic is measured on
the real demo model by benchmarks/echo_quality.py and the slow test in tests/evaluate/test_real_echo.py.
"""

from __future__ import annotations

import math

import pytest

from discord_echo.evaluate.echo_metrics import (
    answers_correctly,
    other_prompt_index,
    speaker_specificity,
    style_distance,
    style_gaps,
)
from discord_echo.evaluate.metrics import PerplexityPair
from discord_echo.evaluate.style import style_stats

ME = ["ngl it's paris 😅", "tbh tuesday lol", "yeah im down 🙌", "idk man 4 i think", "lmao blue obviously"]
FORMAL = ["The capital is Paris.", "It is Tuesday, I believe.", "Yes, I would like that!", "Four, certainly.",
          "Blue, of course."]  # fmt: skip


@pytest.mark.parametrize("count", range(2, 21))
def test_every_reply_is_scored_against_a_different_prompt_and_each_prompt_is_used_once(count):
    others = [other_prompt_index(i, count) for i in range(count)]
    assert all(o != i for i, o in enumerate(others))
    assert sorted(others) == list(range(count))


def test_style_distance_is_zero_to_itself_and_smaller_for_my_voice():
    mine, formal = style_stats(ME), style_stats(FORMAL)
    assert style_distance(mine, mine) == 0
    echo_like = style_stats(["ngl paris lol", "tuesday 😅", "yeah down", "4 tbh", "blue lmao 🙌"])
    assert style_distance(echo_like, mine) < style_distance(formal, mine) / 2
    gaps = style_gaps({"real": mine, "base": formal, "tuned": echo_like})
    assert set(gaps) == {"base", "tuned"} and gaps["tuned"] < gaps["base"]
    assert 0 < gaps["base"] <= 1


def test_style_distance_of_nothing_is_not_a_number():
    assert math.isnan(style_distance(style_stats([]), style_stats(ME)))


def test_speaker_specificity_is_my_gain_minus_theirs():
    found = speaker_specificity(PerplexityPair(40.0, 4.0), PerplexityPair(20.0, 25.0))
    assert found.mine_change == pytest.approx(-0.9)
    assert found.theirs_change == pytest.approx(0.25)
    assert found.nats_per_token == pytest.approx(math.log(10) - math.log(0.8))
    assert speaker_specificity(PerplexityPair(40.0, 4.0), None) is None
    assert speaker_specificity(PerplexityPair(40.0, 4.0), PerplexityPair(float("nan"), 3.0)) is None


@pytest.mark.parametrize(
    ("reply", "accepted", "correct"),
    [
        ("ngl it's paris 😅", ["Paris"], True),
        ("PARIS obviously", ["paris"], True),
        ("comparison shopping", ["paris"], False),  # a word, not a substring of one
        ("idk lol", ["4", "four"], False),
        ("4 i think", ["4", "four"], True),
        ("14 i think", ["4", "four"], False),
    ],
)
def test_answers_are_checked_as_whole_words(reply, accepted, correct):
    assert answers_correctly(reply, accepted) is correct


# --- on a model -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparer(tmp_path_factory):
    pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from discord_echo.evaluate.comparer import Comparer
    from discord_echo.train.tiny_models import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny"))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    base = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    model = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    return Comparer(model, tokenizer, tokenizer.chat_template)


def _prompt(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_a_reply_after_one_friend_turn_scores_exactly_as_the_trainer_scores_that_row(comparer):
    from discord_echo.evaluate.echo_metrics import reply_scores

    items = [(_prompt("what is the capital of france"), "paris"), (_prompt("ok"), "yeah im down")]
    scores = reply_scores(comparer, items, adapter=False)
    for (prompt, reply), score in zip(items, scores, strict=True):
        trainer = comparer.score([[*prompt, {"role": "assistant", "content": reply}]], adapter=False)
        assert score.tokens == trainer.tokens > 0
        assert score.nll == pytest.approx(trainer.nll, rel=1e-4)


def test_only_the_last_reply_is_scored_not_my_earlier_turns(comparer):
    from discord_echo.evaluate.echo_metrics import reply_scores

    history = [*_prompt("hey"), {"role": "assistant", "content": "yo whats up lol"}, *_prompt("raid tonight?")]
    alone = reply_scores(comparer, [(_prompt("raid tonight?"), "yeah im down")], adapter=False)[0]
    after = reply_scores(comparer, [(history, "yeah im down")], adapter=False)[0]
    whole_row = comparer.score([[*history, {"role": "assistant", "content": "yeah im down"}]], adapter=False)
    assert after.tokens == alone.tokens < whole_row.tokens


def test_topicality_is_zero_when_every_prompt_is_the_same_and_signed_by_fit(comparer):
    from discord_echo.evaluate.echo_metrics import reply_scores, topicality

    same = [_prompt("hey")] * 3
    flat = topicality(comparer, same, ["a", "b", "c"])
    assert flat.replies == 3 and flat.per_token == pytest.approx(0, abs=1e-5)
    prompts = [_prompt("what is two plus two"), _prompt("name a colour"), _prompt("which day is it")]
    replies = ["4", "blue", "tuesday"]
    found = topicality(comparer, prompts, replies)
    own = reply_scores(comparer, list(zip(prompts, replies, strict=True)), False)
    other = reply_scores(comparer, [(prompts[other_prompt_index(i, 3)], r) for i, r in enumerate(replies)], False)
    expected = sum(o.nll - s.nll for s, o in zip(own, other, strict=True)) / 3
    assert found.per_reply == pytest.approx(expected, rel=1e-5)
    assert topicality(comparer, prompts[:1], replies[:1]) is None
