"""Sessions split at silences, bursts merged into turns, per channel."""

from __future__ import annotations

import pytest
from factories import ME, SAM, Chat

from discord_echo.core.errors import ConfigError
from discord_echo.core.messages import Channel
from discord_echo.dataset.cleaning import CleaningConfig, CleaningReport, clean
from discord_echo.dataset.conversations import ConversationConfig, build_conversations
from discord_echo.dataset.participants import list_participants, resolve_identity


def _conversations(messages, **config):
    identity = resolve_identity(list_participants(messages), ["alex"])
    utterances = clean(messages, identity, CleaningConfig(dedupe=False), CleaningReport())
    return build_conversations(utterances, ConversationConfig(**config))


def test_gap_splits_sessions_and_bursts_merge():
    chat = Chat()
    chat.say(SAM, "Are you coming tonight?")
    chat.say(ME, "ye")
    chat.say(ME, "prob around 8", after=40)  # burst: same turn
    chat.say(ME, "wait 9", after=200)  # still within 5 minutes of the previous line
    chat.say(SAM, "Great, see you then.")
    chat.say(SAM, "Morning! How was it?", after=3 * 3600)  # new session
    chat.say(ME, "so good", after=10 * 60)
    conversations = _conversations(chat.messages)
    assert len(conversations) == 2
    first = conversations[0]
    assert [(t.is_me, t.text) for t in first.turns] == [
        (False, "Are you coming tonight?"),
        (True, "ye\nprob around 8\nwait 9"),
        (False, "Great, see you then."),
    ]
    assert first.turns[1].message_count == 3
    assert [t.text for t in conversations[1].turns] == ["Morning! How was it?", "so good"]


def test_messages_beyond_the_burst_window_are_separate_turns():
    chat = Chat()
    chat.say(ME, "one")
    chat.say(ME, "two", after=6 * 60)
    assert [t.text for t in _conversations(chat.messages)[0].turns] == ["one", "two"]


def test_a_reply_inside_a_burst_starts_a_new_turn():
    chat = Chat()
    question = chat.say(SAM, "Pizza or sushi?")
    chat.say(ME, "brb")
    chat.say(ME, "sushi obviously", reply_to=question.id)
    turns = _conversations(chat.messages)[0].turns
    assert [t.text for t in turns] == ["Pizza or sushi?", "brb", "sushi obviously"]
    assert turns[2].reply_to == question.id


def test_channels_are_kept_apart_and_out_of_order_input_is_sorted():
    general = Chat(Channel(id="1", name="general"))
    dm = Chat(Channel(id="2", name="dm"))
    general.say(SAM, "In general.")
    dm.say(ME, "in dm")
    later = general.say(ME, "later in general", after=60)
    earlier = general.say(SAM, "Earlier in general.", after=-120)
    conversations = _conversations([dm.messages[0], later, earlier, general.messages[0]])
    assert {c.channel.name: [t.text for t in c.turns] for c in conversations} == {
        # Sam's two lines are a minute apart once sorted: one burst.
        "general": ["Earlier in general.\nIn general.", "later in general"],
        "dm": ["in dm"],
    }


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"gap_minutes": 0}, "gap_minutes=0: must be positive"),
        ({"burst_minutes": -1}, "burst_minutes=-1: must be 0 or more"),
        ({"gap_minutes": 10, "burst_minutes": 20}, "burst_minutes=20: must not exceed gap_minutes"),
    ],
)
def test_bad_config_names_the_field(config, match):
    with pytest.raises(ConfigError, match=match):
        ConversationConfig(**config)
