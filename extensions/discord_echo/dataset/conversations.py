"""From kept utterances to conversations: sessions split by silence, bursts merged into turns.

Takes `Utterance`s (cleaning.py), gives `Conversation`s: per channel, in time order, a new
conversation after ``gap_minutes`` of silence, and one author's consecutive messages within
``burst_minutes`` of each other merged into one `Turn` (people send three short lines
where a model would write one reply; docs/why-echoes-fail.md, Bursts).

Defaults, and why: a 60-minute gap is the middle of what working peers use (30 min to 4 h;
docs/why-echoes-fail.md, Session gaps) and keeps an evening's back-and-forth together while splitting
morning and evening chats; a 5-minute burst window matches the peers that merge at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import setting
from discord_echo.core.messages import Channel, Message
from discord_echo.dataset.cleaning import Utterance


@dataclass(frozen=True)
class ConversationConfig:
    """How messages are grouped into conversations and turns (stage 2b)."""

    gap_minutes: int = setting(
        60, "Conversation gap (minutes)", "Start a new conversation after this much silence in a channel."
    )
    burst_minutes: int = setting(
        5, "Merge bursts within (minutes)", "One person's consecutive messages this close together become one turn."
    )

    def __post_init__(self) -> None:
        if self.gap_minutes <= 0:
            raise ConfigError("gap_minutes", self.gap_minutes, "must be positive")
        if self.burst_minutes < 0:
            raise ConfigError("burst_minutes", self.burst_minutes, "must be 0 or more")
        if self.burst_minutes > self.gap_minutes:
            raise ConfigError("burst_minutes", self.burst_minutes, "must not exceed gap_minutes")


@dataclass
class Turn:
    """One speaker's merged burst of messages."""

    is_me: bool
    speaker: str  # display name of the author
    speaker_key: object  # author id, or name when the format has no ids
    text: str
    start: datetime
    end: datetime
    message_ids: list[str | None]
    reply_to: str | None = None  # what the first message of the turn replied to
    message_count: int = 1


@dataclass
class Conversation:
    """One session in one channel."""

    channel: Channel
    channel_key: str
    turns: list[Turn]

    @property
    def start(self) -> datetime:
        return self.turns[0].start

    @property
    def speakers(self) -> set[object]:
        return {t.speaker_key for t in self.turns}


def channel_key(utterance: Utterance) -> str:
    """Which messages belong to one channel: its id, else the file it came from (CSV)."""
    return message_channel_key(utterance.message)


def message_channel_key(message: Message) -> str:
    """`channel_key` of a message before cleaning (the build's first pass groups by it too)."""
    channel = message.channel
    if channel.id:
        return channel.id
    if channel.name:
        return f"{channel.guild_name}/{channel.name}"
    return message.source.path


class ConversationStream:
    """Conversations made while utterances stream in, so a build never holds a whole export.

    ``add`` takes the utterances of each channel in time order (how DiscordChatExporter writes them; the
    build checks the order in its first pass and sorts the channels that are not) and returns the
    conversations it closes; ``finish`` closes the rest. Only each channel's open conversation is held.
    """

    def __init__(self, config: ConversationConfig):
        self._gap = timedelta(minutes=config.gap_minutes)
        self._burst = timedelta(minutes=config.burst_minutes)
        self._open: dict[str, Conversation] = {}
        self._last_time: dict[str, datetime] = {}

    def add(self, utterance: Utterance) -> list[Conversation]:
        """Put one utterance into its channel's open conversation; returns the one its arrival closes, if any."""
        message = utterance.message
        key = channel_key(utterance)
        closed: list[Conversation] = []
        current = self._open.get(key)
        last_time = self._last_time.get(key)
        if current is not None and last_time is not None and message.timestamp - last_time > self._gap:
            closed.append(current)
            current = None
        if current is None:
            current = self._open[key] = Conversation(message.channel, key, [])
        author_key = message.author.id or message.author.name
        previous = current.turns[-1] if current.turns else None
        if (
            previous is not None
            and previous.speaker_key == author_key
            and message.timestamp - previous.end <= self._burst
            and message.reply_to is None
        ):
            previous.text += "\n" + utterance.text
            previous.end = message.timestamp
            previous.message_ids.append(message.id)
            previous.message_count += 1
        else:
            current.turns.append(
                Turn(
                    is_me=utterance.is_me,
                    speaker=message.author.display_name,
                    speaker_key=author_key,
                    text=utterance.text,
                    start=message.timestamp,
                    end=message.timestamp,
                    message_ids=[message.id],
                    reply_to=message.reply_to,
                )
            )
        self._last_time[key] = message.timestamp
        return closed

    def finish(self) -> list[Conversation]:
        """The conversations still open, in the order their channels first appeared."""
        rest = list(self._open.values())
        self._open.clear()
        self._last_time.clear()
        return rest


def build_conversations(utterances: Iterable[Utterance], config: ConversationConfig) -> list[Conversation]:
    """Group utterances into conversations, each channel separately, sorted by start time.

    A message that replies to something starts a new turn even inside a burst, so the
    reply's target can be brought in as its context (dataset/packing.py does that).
    """
    by_channel: dict[str, list[Utterance]] = {}
    for utterance in utterances:
        by_channel.setdefault(channel_key(utterance), []).append(utterance)
    conversations: list[Conversation] = []
    for items in by_channel.values():
        # Exports are oldest-first, but --reverse (2.47+) and joined files may not be.
        items.sort(key=lambda u: (u.message.timestamp, u.message.index))
        stream = ConversationStream(config)
        for utterance in items:
            conversations.extend(stream.add(utterance))
        conversations.extend(stream.finish())
    conversations.sort(key=lambda c: c.start)
    return conversations
