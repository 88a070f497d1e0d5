"""The normalized message stream that every export reader yields.

Every DiscordChatExporter format (JSON, CSV, TXT, HTML; see docs/formats.md)
is turned into the same `Message` records, so the later stages (conversations, privacy,
datasets) never look at a file format again. Fields a format does not carry are ``None``
or empty, never guessed: TXT has no author id, CSV has no message id and no channel.

Objects shared by many messages (`Channel`, `Author`, `Source`) are created once per file
and referenced, which keeps a million-message stream cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

# Snowflake epoch: Discord ids encode their creation time (docs/formats.md, Times, time zones and snowflakes).
DISCORD_EPOCH_MS = 1420070400000

# MessageKind names DCE writes (docs/formats.md, Message types and system messages). Anything with value 1..18 is a
# system notification, named or not; unnamed kinds are written as number strings.
MESSAGE_KIND_VALUES: dict[str, int] = {
    "Default": 0,
    "RecipientAdd": 1,
    "RecipientRemove": 2,
    "Call": 3,
    "ChannelNameChange": 4,
    "ChannelIconChange": 5,
    "ChannelPinnedMessage": 6,
    "GuildMemberJoin": 7,
    "ThreadCreated": 18,
    "Reply": 19,
}


def snowflake_time(snowflake: str | int) -> datetime:
    """The UTC creation time encoded in a Discord id (exact to the millisecond)."""
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def is_system_kind(kind: str) -> bool:
    """True for join/pin/call/rename/... notifications: DCE's own 1 <= type <= 18 test."""
    if kind == "System":  # HTML 2.38+ shows unnamed notification kinds without their number
        return True
    value = MESSAGE_KIND_VALUES.get(kind)
    if value is None:
        if not kind.isdigit():
            return False
        value = int(kind)
    return 1 <= value <= 18


@dataclass(frozen=True, slots=True)
class Source:
    """Where messages came from: the file (or ``archive.zip!member``) and its format."""

    path: str
    format: str  # "json" | "csv" | "txt" | "html"


@dataclass(frozen=True, slots=True)
class Channel:
    """Channel metadata as written inside the export (never taken from the file name).

    CSV exports carry no metadata at all: every field is then ``None``.
    """

    id: str | None = None
    name: str | None = None
    type: str | None = None  # ChannelKind name, e.g. "GuildTextChat", "DirectTextChat"
    category: str | None = None  # category, or the parent channel for a thread
    topic: str | None = None
    guild_id: str | None = None
    guild_name: str | None = None

    @property
    def label(self) -> str:
        """Human-readable ``Guild / #channel`` for reports."""
        parts = [p for p in (self.guild_name, self.category, self.name) if p]
        return " / ".join(parts) if parts else "(unknown channel)"


@dataclass(frozen=True, slots=True)
class Author:
    """One identity as the export shows it.

    ``name`` is the account name as exported: the username in JSON and HTML ``title``,
    the FullName (``name#1234`` or a migrated ``name``) in CSV and TXT.
    ``display_name`` is the nickname / global name when the format has one, else ``name``.
    ``id`` is the only stable identity and is ``None`` in TXT (and CSV before 2.15).
    """

    id: str | None
    name: str
    display_name: str
    is_bot: bool = False  # bots and webhooks (JSON isBot, HTML BOT/SERVER tag)


@dataclass(slots=True)
class Message:
    """One message, normalized.

    ``content`` is the message's own text as the export shows it: mentions as ``@name``,
    custom emoji as ``:name:``, other markdown raw (HTML is turned back into that form).
    Text that is *not* the author's own words is kept out of ``content``: forwarded text
    lives in ``forwarded_content``; embeds, attachments, stickers are only counted/named.
    """

    id: str | None  # snowflake; None for CSV and TXT
    timestamp: datetime  # timezone-aware, UTC
    author: Author
    content: str
    channel: Channel
    source: Source
    index: int  # 0-based position of the message within its file
    type: str = "Default"  # MessageKind name or number string (docs/formats.md)
    edited: datetime | None = None  # UTC
    reply_to: str | None = None  # id of the replied-to message, when known
    attachments: tuple[str, ...] = ()  # file names (or URLs when no name is known)
    embeds: int = 0
    stickers: tuple[str, ...] = ()  # sticker names
    is_forward: bool = False
    forwarded_content: str = ""  # text of a forwarded message (2.47+): not the author's words
    is_pinned: bool = False
    line: int | None = None  # 1-based line of the message header (text formats)

    @property
    def is_system(self) -> bool:
        return is_system_kind(self.type)

    @property
    def position(self) -> str:
        """Where to look in the file, for warnings and errors."""
        if self.line is not None:
            return f"line {self.line}"
        return f"message #{self.index + 1}" + (f" (id {self.id})" if self.id else "")


# The synthetic English text DCE writes as `content` of system messages (docs/formats.md,
# Message types and system messages). CSV and TXT carry no message type, so this is the only way to recognise
# a join or a pin there. Patterns are anchored: a user writing "I pinned a message." is
# not matched.
_FALLBACK_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("RecipientAdd", r"Added (?:.+ to the group|a recipient)\."),
        ("RecipientRemove", r"(?:Left the group|Removed (?:.+ from the group|a recipient))\."),
        ("Call", r"Started a call(?: that lasted [\d,.]+ minutes?)?\."),
        ("ChannelNameChange", r"Changed the channel name(?:: .*|\.)"),
        ("ChannelIconChange", r"Changed the channel icon\."),
        ("ChannelPinnedMessage", r"Pinned a message\."),
        ("GuildMemberJoin", r"Joined the server\."),
        ("ThreadCreated", r"Started a thread\."),
    )
)


def kind_from_fallback_text(content: str) -> str:
    """Message type for a CSV/TXT message, recognising DCE's system-message phrases."""
    if content and len(content) < 200 and "\n" not in content:
        for kind, pattern in _FALLBACK_PHRASES:
            if pattern.fullmatch(content):
                return kind
    return "Default"
