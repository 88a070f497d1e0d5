"""Turn the parsed objects of a DCE JSON export into `Message`, `Author` and `Channel` values.

Takes the batches of parsed message objects that `ExportParser.batches` yields (and the
root's ``guild``/``channel`` objects); gives one `Message` per message object, in file
order, with UTC timestamps, one shared `Author` per distinct author, reply and forward
links, attachment and sticker names, and duplicate ids dropped with a warning. A message
that lacks a required field or holds one of the wrong type raises `ExportParseError` naming
the field and the message's position. Implements docs/formats.md, JSON fields and JSON version hints,
Times, time zones and snowflakes, Message types and system messages, and Replies and forwards.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, Protocol

from discord_echo.core.errors import ExportParseError
from discord_echo.core.id_sets import IdSet
from discord_echo.core.messages import Author, Channel, Message, Source, is_system_kind
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.json_export.version import VersionGuess

# The first messages are inspected for fields that date the exporter (docs/formats.md, JSON version hints).
_VERSION_SAMPLE = 100
# Python 3.10's fromisoformat wants exactly 3 or 6 fraction digits; DCE writes 0-7
# (docs/formats.md, Times, time zones and snowflakes).
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d)?", re.ASCII)
_UTC = timezone.utc

# read_messages builds Message positionally; this pins the order it relies on.
MESSAGE_FIELDS = [
    "id", "timestamp", "author", "content", "channel", "source", "index", "type", "edited", "reply_to",
    "attachments", "embeds", "stickers", "is_forward", "forwarded_content", "is_pinned",
]  # fmt: skip
if [f.name for f in fields(Message)][: len(MESSAGE_FIELDS)] != MESSAGE_FIELDS:
    raise ImportError("discord_echo.core.messages.Message fields changed order: update read_messages")


class MessageBatches(Protocol):
    """What `read_messages` needs of a parser (``batches.ExportParser``), named here so the two modules import
    one way: the parser needs this module's field helpers, this module only the parser's shape."""

    channel: Channel
    versions: VersionGuess

    def batches(self) -> Iterator[tuple[list[Any], int]]: ...

    def where(self, index: int, k: int) -> str: ...


class _BadField(ValueError):
    """A message field of the wrong type or form; the text says which."""


def read_messages(parser: MessageBatches, source: Source, report: FileReport) -> Generator[Message, None, int]:
    """Yield a `Message` for each message object of ``parser``'s batches; return how many."""
    authors: dict[tuple[Any, ...], Author] = {}  # raw author fields -> the one shared Author
    distinct: dict[Author, Author] = {}  # so that e.g. nickname null and nickname == name share one too
    seen = IdSet()  # ids as 8-byte integers while they ascend (core/id_sets.py)
    remember = seen.ascending.append
    fromisoformat = datetime.fromisoformat
    versions = parser.versions
    index = 0
    for items, skip in parser.batches():
        channel = parser.channel
        k = skip
        try:
            # The hot loop, run once per message: locals only, no keyword arguments, no
            # helper calls on the common path. A key holding the wrong type raises
            # TypeError/AttributeError here, which becomes an ExportParseError below.
            for k in range(skip, len(items)):
                m = items[k]
                if index < _VERSION_SAMPLE:
                    versions.sniff_version(m)
                mid = m["id"]
                if type(mid) is not str:
                    mid = _snowflake(mid, "id")
                # A snowflake as an int (id_sets.snowflake, inlined); -1 for anything int() would not round-trip.
                number = int(mid) if len(mid) < 20 and mid.isascii() and mid.isdigit() and mid[0] != "0" else -1
                if number > seen.last:  # the usual case: ids ascend (oldest first: docs/formats.md)
                    seen.last = number
                    remember(number)
                elif not seen.add_parsed(mid, number):
                    report.warn(f"message #{index + 1}", f"duplicate message id {mid}: kept the first copy")
                    index += 1
                    continue
                a = m["author"]
                key = (a["id"], a["name"], a.get("nickname"), a.get("isBot"))
                author = authors.get(key)
                if author is None:
                    author = _author(*key)
                    author = authors[key] = distinct.setdefault(author, author)
                stamp = m["timestamp"]
                try:
                    timestamp = fromisoformat(stamp)
                except (TypeError, ValueError):
                    timestamp = _utc(stamp, "timestamp")
                if timestamp.tzinfo is not _UTC:
                    timestamp = _to_utc(timestamp)
                edited = m.get("timestampEdited")
                if edited is not None:
                    edited = _utc(edited, "timestampEdited")
                content = m.get("content")
                if type(content) is not str:
                    content = _text(content, "content")
                kind = m.get("type", "Default")
                if type(kind) is not str:
                    kind = _snowflake(kind, "type")
                reply_to = None
                forward = False
                ref = m.get("reference")
                if ref:
                    rtype = ref.get("type")
                    if rtype is not None:
                        versions.saw_version((2, 47))
                    if rtype == "Forward":
                        forward = True
                    elif (rtype is None or rtype == "Default") and not is_system_kind(kind):
                        # Replies are often type Default + reference (docs/formats.md, Replies and forwards).
                        # A pin notice's reference points at the pinned message: not a reply.
                        reply_to = ref.get("messageId")
                        if reply_to is not None and type(reply_to) is not str:
                            reply_to = _snowflake(reply_to, "reference.messageId")
                fwd = m.get("forwardedMessage")
                forwarded = ""
                if fwd:
                    forward = True
                    forwarded = _text(fwd.get("content"), "forwardedMessage.content")
                atts = m.get("attachments")
                stickers = m.get("stickers")
                embeds = m.get("embeds")
                # Positional, in MESSAGE_FIELDS order: three times faster than keywords.
                yield Message(
                    mid,
                    timestamp,
                    author,
                    content,
                    channel,
                    source,
                    index,
                    kind,
                    edited,
                    reply_to,
                    tuple([_text(x.get("fileName") or x.get("url"), "fileName") for x in atts]) if atts else (),
                    len(embeds) if embeds else 0,
                    tuple([_text(x.get("name"), "sticker name") for x in stickers]) if stickers else (),
                    forward,
                    forwarded,
                    m.get("isPinned") is True,
                )
                index += 1
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ExportParseError(source.path, parser.where(index, k), _reason(items[k], exc)) from exc
    return index


def channel_from_root(meta: dict[str, Any], path: str) -> Channel:
    """The `Channel` described by the root's ``guild`` and ``channel`` objects (docs/formats.md, JSON fields)."""
    guild, channel = meta.get("guild") or {}, meta.get("channel") or {}
    for name, value in (("guild", guild), ("channel", channel)):
        if not isinstance(value, dict):
            raise ExportParseError(path, f'root "{name}"', f"expected an object, found {type(value).__name__}")
    try:
        return Channel(
            id=_opt_str(channel.get("id")),
            name=_opt_str(channel.get("name")),
            type=_opt_str(channel.get("type")),
            category=_opt_str(channel.get("category")),
            topic=_opt_str(channel.get("topic")),
            guild_id=_opt_str(guild.get("id")),
            guild_name=_opt_str(guild.get("name")),
        )
    except TypeError as exc:
        raise ExportParseError(path, 'root "channel"/"guild"', str(exc)) from None


def _author(aid: Any, name: Any, nickname: Any, is_bot: Any) -> Author:
    aid = aid if type(aid) is str else _snowflake(aid, "author.id")
    name = _text(name, "author.name")
    nick = _text(nickname, "author.nickname") if nickname is not None else ""
    return Author(aid, name, nick or name, is_bot is True)


def _utc(text: Any, field: str) -> datetime:
    """An ISO-8601 timestamp with offset as an aware UTC datetime (naive ones are taken as UTC)."""
    try:
        dt = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        match = _ISO.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise _BadField(f"{field} {shown(text)} is not an ISO-8601 date") from None
        day, fraction, offset = match.groups()
        fraction = ((fraction or "") + "000000")[:6]
        dt = datetime.fromisoformat(f"{day}.{fraction}{'+00:00' if offset in (None, 'Z') else offset}")
    return _to_utc(dt, field)


def _to_utc(dt: datetime, field: str = "timestamp") -> datetime:
    tz = dt.tzinfo
    if tz is _UTC:
        return dt
    if tz is None:
        return dt.replace(tzinfo=_UTC)
    try:
        return dt.astimezone(_UTC)
    except OverflowError:  # fuzzing: 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise _BadField(f"{field} {dt.isoformat()} is out of range") from None


def _snowflake(value: Any, field: str) -> str:
    """Ids are strings in DCE; hand-edited files sometimes hold bare numbers."""
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return value
    raise _BadField(f"{field} must be a string, found {type(value).__name__}")


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise _BadField(f"{field} must be a string, found {type(value).__name__}")
    return value


def _opt_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise TypeError(f"expected a string, found {type(value).__name__} {shown(value)}")


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut short: fuzzing put megabytes into a field, and into the error quoting it."""
    if isinstance(value, (list, dict)):  # (whose repr may be huge, or nested past the recursion limit)
        return f"a {'list' if isinstance(value, list) else 'object'} of {len(value)} items"
    text = repr(value[: limit + 1] if isinstance(value, str) else value)
    return text if len(text) <= limit else text[:limit] + "..."


def _reason(item: Any, exc: Exception) -> str:
    """What is wrong with one message, for the error raised from the hot loop."""
    if isinstance(exc, _BadField):
        return str(exc)
    if not isinstance(item, dict):
        return f"expected a message object, found {type(item).__name__}"
    if isinstance(exc, KeyError):
        author = item.get("author")
        for name, holder, key in (
            ("id", item, "id"),
            ("timestamp", item, "timestamp"),
            ("author", item, "author"),
            ("author.id", author, "id"),
            ("author.name", author, "name"),
        ):
            if isinstance(holder, dict) and key not in holder:
                return f"missing required field {name!r} (a message needs id, timestamp, author.id, author.name)"
    for key in ("author", "reference", "forwardedMessage"):
        if key in item and item[key] is not None and not isinstance(item[key], dict):
            return f"{key} must be an object, found {type(item[key]).__name__}"
    for key in ("attachments", "stickers", "embeds"):
        value = item.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(x, dict) for x in value)):
            return f"{key} must be a list of objects"
    return f"unexpected value: {exc}"
