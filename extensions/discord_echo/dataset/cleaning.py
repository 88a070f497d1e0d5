"""Drop what is not the person's own words, and normalize what is left.

Takes the normalized message stream and the chosen `Identity`; gives `Utterance`s (a
message, its cleaned text, whether it is mine) and a `CleaningReport` in which every input
message is counted exactly once: kept, or dropped for one named reason. Rules come from
docs/formats.md (Message types and system messages; What is not the author's own words) and
docs/why-echoes-fail.md (Wrong pairing): system notifications carry synthetic
English text, bots and forwards are not the author's words, attachment- and link-only
messages carry no style, and repeated exports of one channel would double-count.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, get_args

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import check_choices, setting
from discord_echo.core.id_sets import IdSet
from discord_echo.core.messages import Message
from discord_echo.dataset.participants import Identity

DROP_REASONS = (
    "system",
    "bot",
    "forwarded",
    "channel_excluded",
    "empty",
    "attachment_only",
    "link_only",
    "duplicate",
    "near_duplicate",
)


Attachments = Literal["drop", "placeholder"]
ATTACHMENT_MODES: tuple[str, ...] = get_args(Attachments)


@dataclass(frozen=True)
class CleaningConfig:
    """Which messages are kept (stage 2a)."""

    drop_bots: bool = setting(True, "Drop bots and webhooks", "Bot and webhook posts are not anyone's own writing.")
    drop_forwards: bool = setting(
        True,
        "Drop forwarded messages",
        "A forward's text was written by someone else (DiscordChatExporter 2.47+).",
    )
    attachments: Attachments = setting(
        "drop",
        "Attachment/sticker-only messages",
        "Drop them, or keep them as a short placeholder like [image] so replies stay in context.",
    )
    drop_link_only: bool = setting(True, "Drop link-only messages", "A bare URL teaches nothing about how you write.")
    dedupe: bool = setting(
        True,
        "Drop duplicates",
        "The same message exported twice (overlapping exports), and one author repeating the same "
        "text of 12+ characters within 10 minutes with nobody else writing in between (re-sends, edits). "
        "The same answer to two different questions is kept.",
    )
    include_channels: tuple[str, ...] = setting(
        (), "Only these channels", "Channel names or ids to keep; empty keeps all."
    )
    exclude_channels: tuple[str, ...] = setting(
        (),
        "Skip these channels",
        "Channel names or ids to leave out (bot, counting or spam channels).",
    )

    def __post_init__(self) -> None:
        if self.attachments not in ATTACHMENT_MODES:  # a two-way switch, worded as one
            raise ConfigError("attachments", self.attachments, f"must be {' or '.join(map(repr, ATTACHMENT_MODES))}")
        check_choices(self)
        # Lists from JSON or the UI become tuples, so configs compare and hash equal.
        object.__setattr__(self, "include_channels", tuple(self.include_channels))
        object.__setattr__(self, "exclude_channels", tuple(self.exclude_channels))


@dataclass
class CleaningReport:
    """Counts per rule. ``total == kept + sum(dropped.values())`` always holds."""

    total: int = 0
    kept: int = 0
    kept_mine: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "kept": self.kept,
            "kept_mine": self.kept_mine,
            "dropped": {r: self.dropped.get(r, 0) for r in DROP_REASONS},
        }


@dataclass(slots=True)
class Utterance:
    """A kept message with its cleaned text."""

    message: Message
    text: str
    is_me: bool


_URL = re.compile(r"<?https?://\S+>?")
_RAW_USER = re.compile(r"<@!?(\d+)>")
_RAW_ROLE = re.compile(r"<@&\d+>")
_RAW_CHANNEL = re.compile(r"<#\d+>")
_RAW_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_RAW_TIME = re.compile(r"<t:-?\d+(?::[tTdDfFR])?>")
_NEAR_WORD = re.compile(r"[^\W_]+")  # the runs of letters and digits that a near-duplicate key keeps
# The same for ASCII text, as a byte table: letters -> lower case, digits kept, every other byte (whitespace
# and "_" among them; \w is [A-Za-z0-9_] there) -> a space. (Bytes above 127 do not occur in ASCII text.)
_ASCII_KEY_BYTES = bytes(ord(chr(c).lower()) if c < 128 and chr(c).isalnum() else ord(" ") for c in range(256))
_NEAR_WINDOW_SECONDS = 600
_NEAR_MIN_CHARS = 12


def normalize_text(text: str, names_by_id: dict[str, str] | None = None) -> str:
    """Raw Discord tokens (exports made with ``--markdown false``) in the form DCE writes by default.

    ``<@123>`` -> ``@Name`` (or ``@someone``), ``<:kekw:1>`` -> ``:kekw:``, ``<#1>`` ->
    ``#channel``, ``<@&1>`` -> ``@role``, ``<t:...>`` -> ``(a time)``. Line breaks and code
    blocks are kept; only CRLF becomes LF and outer blank space is trimmed.
    """
    if "<" in text:  # every raw token starts with "<"
        names = names_by_id or {}
        text = _RAW_USER.sub(lambda m: "@" + names.get(m[1], "someone"), text)
        text = _RAW_ROLE.sub("@role", text)
        text = _RAW_CHANNEL.sub("#channel", text)
        text = _RAW_EMOJI.sub(r":\1:", text)
        text = _RAW_TIME.sub("(a time)", text)
    return text.replace("\r\n", "\n").strip()


def _channel_matches(message: Message, wanted: tuple[str, ...]) -> bool:
    channel = message.channel
    return any(w in (channel.id, channel.name) or w == f"#{channel.name}" for w in wanted)


def _placeholder(message: Message) -> str:
    if message.stickers:
        return "[sticker]"
    names = " ".join(message.attachments).lower()
    if any(ext in names for ext in (".png", ".jpg", ".jpeg", ".gif", ".webp")):
        return "[image]"
    if any(ext in names for ext in (".mp4", ".webm", ".mov")):
        return "[video]"
    return "[attachment]"


def clean(
    messages: Iterable[Message], identity: Identity, config: CleaningConfig, report: CleaningReport
) -> Iterator[Utterance]:
    """Yield the messages worth keeping, counting every decision in ``report``."""
    seen_ids = IdSet()
    seen_exact: set[int] = set()
    recent: dict[object, _RecentTexts] = {}
    turns: dict[object, tuple[object, int]] = {}
    names_by_id: dict[str, str] = {}
    for message in messages:
        report.total += 1
        author = message.author
        if author.id is not None:
            names_by_id[author.id] = author.display_name
        reason = _drop_reason(message, config)
        text = ""
        if reason is None:
            text = normalize_text(message.content, names_by_id)
            if not text:
                if message.attachments or message.stickers:
                    reason = "attachment_only" if config.attachments == "drop" else None
                    text = _placeholder(message)
                elif message.embeds == 0 or not config.drop_link_only:
                    reason = "empty"
                else:
                    reason = "link_only"  # HTML hides the URL of a URL-only message (docs/formats.md)
            # `_URL` needs a "://"; without one the text (stripped, not empty) is no link.
            elif config.drop_link_only and "://" in text and not _URL.sub("", text).strip():
                reason = "link_only"
        if reason is None and config.dedupe:
            reason = _duplicate_reason(message, text, seen_ids, seen_exact, recent, turns)
        if reason is not None:
            report.dropped[reason] += 1
            continue
        is_me = identity.matches(author)
        report.kept += 1
        report.kept_mine += is_me
        yield Utterance(message, text, is_me)


def may_keep(message: Message, config: CleaningConfig) -> bool:
    """False when ``message`` is dropped whatever its text (system, bot, forward, excluded channel).

    The build's first pass uses it to know who speaks where before the text is cleaned.
    """
    return _drop_reason(message, config) is None


def _drop_reason(message: Message, config: CleaningConfig) -> str | None:
    if message.is_system:
        return "system"
    if config.drop_bots and message.author.is_bot:
        return "bot"
    if config.drop_forwards and message.is_forward:
        return "forwarded"
    if config.include_channels and not _channel_matches(message, config.include_channels):
        return "channel_excluded"
    if config.exclude_channels and _channel_matches(message, config.exclude_channels):
        return "channel_excluded"
    return None


def _near_key(text: str) -> str:
    """The casefolded text's runs of letters and digits, one space apart: the same words whatever the
    punctuation, spacing and case.

    ASCII text (most lines) takes C-level byte methods instead of the regex, at under half its cost: casefold
    is lower case there, and mapping each other character to a space, then splitting on whitespace, gives
    exactly the runs.
    """
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII_KEY_BYTES).split()).decode()
    return " ".join(_NEAR_WORD.findall(text.casefold()))


def _duplicate_reason(
    message: Message,
    text: str,
    seen_ids: IdSet,
    seen_exact: set[int],
    recent: dict[object, _RecentTexts],
    turns: dict[object, tuple[object, int]],
) -> str | None:
    """``"duplicate"`` for a message read twice, ``"near_duplicate"`` for a re-send or edit, else None.

    A repeat counts as a re-send only when nobody else wrote in that channel in between (``turns`` numbers the
    changes of speaker per channel): the same answer to two different questions is two answers, and dropping
    the second would pair the friend's two questions with one reply.
    """
    if message.id is not None:
        if not seen_ids.add(message.id):
            return "duplicate"
    else:
        # Formats without ids (CSV, TXT): the same author, minute and text is the same message. Its hash is
        # kept, not the text (a million texts would stay alive); two messages whose 64-bit hashes collide
        # are about 1 in 10^7 for a million messages.
        key = hash((message.author.name, message.timestamp.replace(second=0, microsecond=0), text))
        if key in seen_exact:
            return "duplicate"
        seen_exact.add(key)
    speaker = message.author.id or message.author.name
    channel = (message.channel.id, message.channel.name)
    last_speaker, turn = turns.get(channel, (None, 0))
    if speaker != last_speaker:
        turn += 1
        turns[channel] = (speaker, turn)
    if len(text) < _NEAR_MIN_CHARS:
        return None
    texts = recent.get(speaker)
    if texts is None:
        texts = recent[speaker] = _RecentTexts()
    return "near_duplicate" if texts.repeats(message.timestamp.timestamp(), (_near_key(text), channel, turn)) else None


class _RecentTexts:
    """One speaker's recent near-duplicate keys (text key, channel, turn), oldest first, for `_duplicate_reason`.

    ``live`` holds the keys that ``history`` holds (a key is added only when it is not there, so each is there
    once), so whether a key is among them is one lookup however many there are. They can be many: the window
    ends at the first entry less than `_NEAR_WINDOW_SECONDS` older than the message, so a second file whose
    times come before the first file's keeps every entry of it, and scanning them all per message made two such
    37k-message files take 8 s to clean instead of 0.35 s.
    """

    __slots__ = ("history", "live")

    def __init__(self) -> None:
        self.history: deque[tuple[float, tuple]] = deque()
        self.live: set[tuple] = set()

    def repeats(self, now: float, key: tuple) -> bool:
        """True when ``key`` is in the window that ends at ``now``; else it is added, as of ``now``."""
        history, live = self.history, self.live
        while history and now - history[0][0] > _NEAR_WINDOW_SECONDS:
            live.remove(history.popleft()[1])
        if key in live:
            return True
        history.append((now, key))
        live.add(key)
        return False
