"""Cleaning: every input message is kept or dropped for exactly one counted reason."""

from __future__ import annotations

import pytest
from factories import BOT, ME, SAM, Chat

from discord_echo.core.errors import ConfigError
from discord_echo.dataset.cleaning import CleaningConfig, CleaningReport, clean, normalize_text
from discord_echo.dataset.participants import list_participants, resolve_identity


def _run(chat: Chat, config: CleaningConfig | None = None):
    identity = resolve_identity(list_participants(chat.messages), ["alex"])
    report = CleaningReport()
    kept = list(clean(chat.messages, identity, config or CleaningConfig(), report))
    return kept, report


def _mixed_chat() -> Chat:
    chat = Chat()
    chat.say(SAM, "Joined the server.", type="GuildMemberJoin")
    chat.say(SAM, "Hello, are you around?")
    chat.say(ME, "ye whats up")
    chat.say(BOT, "Daily reminder: drink water")
    chat.say(ME, "", is_forward=True, forwarded_content="someone else's words")
    chat.say(ME, "", attachments=("cat.png",))
    chat.say(ME, "https://example.com/x")
    chat.say(ME, "<https://example.com/y>  ")
    chat.say(ME, "look https://example.com/z lol")
    chat.say(SAM, "", embeds=1)
    chat.say(SAM, "   ")
    chat.say(ME, "ok so here's the thing")
    chat.say(ME, "Ok so here's the thing!!", after=60)  # near duplicate of the line above
    chat.messages.append(chat.messages[2])  # the same message exported twice
    chat.say(SAM, "Pinned a message.", type="ChannelPinnedMessage")
    chat.say(SAM, "boost", type="8")  # unnamed system kind, written as a number string
    return chat


def test_every_message_is_counted_once_and_only_my_words_of_my_own_stay():
    kept, report = _run(_mixed_chat())
    assert report.total == len(_mixed_chat().messages)
    assert report.total == report.kept + sum(report.dropped.values())
    assert dict(report.dropped) == {
        "system": 3,
        "bot": 1,
        "forwarded": 1,
        "attachment_only": 1,
        "link_only": 3,
        "empty": 1,
        "duplicate": 1,
        "near_duplicate": 1,
    }
    assert [u.text for u in kept] == [
        "Hello, are you around?",
        "ye whats up",
        "look https://example.com/z lol",
        "ok so here's the thing",
    ]
    assert [u.is_me for u in kept] == [False, True, True, True]
    assert report.kept_mine == 3


def test_placeholders_keep_attachment_only_messages_when_asked():
    kept, report = _run(_mixed_chat(), CleaningConfig(attachments="placeholder"))
    assert "[image]" in [u.text for u in kept]
    assert report.dropped.get("attachment_only", 0) == 0


def test_bots_can_be_kept_and_channels_filtered():
    kept, _ = _run(_mixed_chat(), CleaningConfig(drop_bots=False))
    assert "Daily reminder: drink water" in [u.text for u in kept]
    kept, report = _run(_mixed_chat(), CleaningConfig(exclude_channels=("sam",)))
    assert kept == [] and report.dropped["channel_excluded"] > 0
    kept, _ = _run(_mixed_chat(), CleaningConfig(include_channels=("900",)))
    assert kept


@pytest.mark.parametrize(
    ("raw", "clean_text"),
    [
        ("hi <@2> and <@!999>", "hi @Sam and @someone"),
        ("<:kekw:123> <a:dance:456>", ":kekw: :dance:"),
        ("see <#42> <@&7> at <t:1700000000:R>", "see #channel @role at (a time)"),
        ("line one\r\n\r\n```py\nx = 1\n```  \n", "line one\n\n```py\nx = 1\n```"),
    ],
)
def test_raw_discord_tokens_are_normalized_and_code_blocks_kept(raw, clean_text):
    assert normalize_text(raw, {"2": "Sam"}) == clean_text


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="attachments='keep': must be 'drop' or 'placeholder'"):
        CleaningConfig(attachments="keep")


def test_the_same_answer_to_two_different_questions_is_kept_and_each_stays_paired():
    from discord_echo.dataset.conversations import ConversationConfig, build_conversations

    chat = Chat()
    chat.say(SAM, "are you coming to the game tomorrow?")
    chat.say(ME, "yeah sounds good to me")
    chat.say(SAM, "and dinner after, at the usual place?", after=40)
    chat.say(ME, "yeah sounds good to me", after=40)  # the same answer, to another question: not a re-send
    chat.say(ME, "yeah sounds good to me!!", after=20)  # this one is a re-send: nobody wrote in between
    kept, report = _run(chat)
    assert [u.text for u in kept] == [
        "are you coming to the game tomorrow?",
        "yeah sounds good to me",
        "and dinner after, at the usual place?",
        "yeah sounds good to me",
    ]
    assert report.dropped["near_duplicate"] == 1
    (conversation,) = build_conversations(kept, ConversationConfig())
    assert [(t.is_me, t.text) for t in conversation.turns] == [
        (False, "are you coming to the game tomorrow?"),
        (True, "yeah sounds good to me"),
        (False, "and dinner after, at the usual place?"),
        (True, "yeah sounds good to me"),
    ]
