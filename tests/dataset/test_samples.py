"""Shaping samples from conversations: alternation, openers, reply context, budget limits."""

from __future__ import annotations

from factories import ME, SAM, Chat

from discord_echo.dataset.cleaning import CleaningConfig, CleaningReport, clean
from discord_echo.dataset.conversations import ConversationConfig, build_conversations
from discord_echo.dataset.packing import SampleBuilder
from discord_echo.dataset.participants import list_participants, resolve_identity
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.templates.chat import load_renderer


def _samples(chat: Chat, **config):
    identity = resolve_identity(list_participants(chat.messages), ["alex"])
    utterances = list(clean(chat.messages, identity, CleaningConfig(dedupe=False), CleaningReport()))
    index = {u.message.id: (u.message.author.display_name, u.text) for u in utterances}
    builder = SampleBuilder(DatasetConfig(**config), load_renderer(), "You are alex.", index)
    samples = []
    for number, conversation in enumerate(build_conversations(utterances, ConversationConfig())):
        samples += builder.build(conversation, number, group_chat=False)
    return samples, builder.report


def test_a_conversation_i_open_gets_a_stand_in_user_turn_and_roles_alternate():
    chat = Chat()
    chat.say(ME, "yo u up")
    chat.say(SAM, "I am now. What's going on?")
    chat.say(ME, "nothing lol")
    (sample,), _ = _samples(chat)
    roles = [m["role"] for m in sample.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert sample.messages[1]["content"] == "(new conversation)"


def test_a_reply_to_a_message_outside_the_sample_quotes_it():
    chat = Chat()
    question = chat.say(SAM, "Did you ever finish that book I lent you?")
    for i in range(6):
        chat.say(ME, f"filler {i}", after=400)
        chat.say(SAM, f"Filler answer {i}.")
    chat.say(ME, "yes!! loved the ending", reply_to=question.id)
    samples, _ = _samples(chat, context_turns=2)
    last_user = samples[-1].messages[-2]["content"]
    assert last_user.startswith('(replying to Sam: "Did you ever finish that book I lent you?")')
    # When the replied-to message is already in view, it is not repeated.
    chat2 = Chat()
    q = chat2.say(SAM, "Tea or coffee?")
    chat2.say(ME, "coffee", reply_to=q.id)
    (sample,), _ = _samples(chat2)
    assert sample.messages[1]["content"] == "Tea or coffee?"


def test_context_turn_limit_and_budget():
    chat = Chat()
    for i in range(10):
        chat.say(SAM, f"Question number {i}?", after=400)
        chat.say(ME, f"answer {i}")
    samples, report = _samples(chat, context_turns=4)
    assert all(len([m for m in s.messages if m["role"] != "system"]) <= 5 for s in samples)
    assert sum(len(s.my_message_ids) for s in samples) == 10 == report.my_turns


def test_a_reply_too_long_for_the_cutoff_is_counted_not_silently_lost():
    chat = Chat()
    chat.say(SAM, "Tell me everything.")
    chat.say(ME, "word " * 400)
    chat.say(SAM, "Wow. And then?", after=400)
    chat.say(ME, "then i slept")
    samples, report = _samples(chat, cutoff_len=128)
    assert report.dropped == {"reply_over_cutoff": 1}
    assert [s.messages[-1]["content"] for s in samples] == ["then i slept"]


import pytest  # noqa: E402

from discord_echo.core.errors import ConfigError  # noqa: E402


@pytest.mark.parametrize(
    ("persona", "match"),
    [("You are {name}", "may only use {me} and {others}"), ("me :} ok", "unbalanced braces")],
)
def test_persona_placeholders_are_checked_up_front(persona, match):
    with pytest.raises(ConfigError, match=match):
        DatasetConfig(persona_text=persona)
    assert DatasetConfig(persona_text="I am {me}; {others} know me. Braces: {{ok}}").persona_text


def _long_chat() -> Chat:
    chat = Chat()
    for i in range(30):
        chat.say(SAM, f"question {i}: " + "so what did you think about the thing " * (i % 7 + 1))
        chat.say(ME, f"answer {i} lol " * (i % 5 + 1))
    return chat


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from discord_echo.train.tiny_models import build_tiny_tokenizer

    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny-tokenizer"))


def _exact_samples(tiny_dir, chat: Chat, break_composition: bool):
    identity = resolve_identity(list_participants(chat.messages), ["alex"])
    utterances = list(clean(chat.messages, identity, CleaningConfig(dedupe=False), CleaningReport()))
    renderer = load_renderer(tiny_dir)
    if break_composition:
        exact_count = renderer.count_tokens_composed
        renderer.count_tokens_composed = lambda messages: exact_count(messages) - 1  # type: ignore[method-assign]
    builder = SampleBuilder(DatasetConfig(cutoff_len=96), renderer, "You are alex.", {})
    samples = []
    for number, conversation in enumerate(build_conversations(utterances, ConversationConfig())):
        samples += builder.build(conversation, number, group_chat=False)
    return samples, builder, renderer


def test_composed_counts_are_verified_and_a_wrong_one_falls_back_to_whole_rows(tiny_dir):
    good, good_builder, renderer = _exact_samples(tiny_dir, _long_chat(), break_composition=False)
    assert good_builder._compose and len(good) > 3
    assert [s.tokens for s in good] == [renderer.count_tokens(s.messages) for s in good]
    bad, bad_builder, _ = _exact_samples(tiny_dir, _long_chat(), break_composition=True)
    assert not bad_builder._compose  # the verification caught the wrong count and counted whole rows
    assert [(s.messages, s.tokens) for s in bad] == [(s.messages, s.tokens) for s in good]
    assert bad_builder.report.to_dict() == good_builder.report.to_dict()
