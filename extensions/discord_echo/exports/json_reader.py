"""Streaming reader for DiscordChatExporter JSON exports (dce-formats.md §1.3, §1.4, §1.7, §2).

``read_json(stream, source, report, config)`` yields one `Message` per entry of the root
``messages`` array, in file order, without ever holding the whole parsed document: exports
of a busy channel run to gigabytes, and ``json.load`` of those needs several times that in RAM.

How the bytes are cut (the fast path): DCE writes the JSON indented (§1.7), so each message
object in ``messages`` ends with a line holding only ``}`` at one fixed indentation. Raw
newlines cannot occur inside JSON strings, so that ``\\n<indent>}`` marker is found with
``bytes.rfind`` without tracking strings. The file is read in chunks, each chunk is cut after
its last complete message, and that batch is parsed by one ``orjson.loads`` call. A batch
that does not parse (hand-edited indentation, bad bytes) hands over to the general path.

The general path walks the JSON structure itself: a regex finds strings and brackets, so the
extent of each value is known before orjson parses it. It reads the root object key by key
(the metadata around ``messages``), minified or oddly indented files, and finds where a
broken or truncated file goes wrong. Positions in warnings and errors are byte offsets in
the file (for UTF-16 files: in their UTF-8 re-encoding) and 1-based message numbers.

Truncated files (an interrupted export) yield every complete message and add a warning;
anything else that cannot be read raises `ExportParseError`.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from bisect import bisect_left
from collections.abc import Generator, Iterator
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, BinaryIO

import orjson

from discord_echo.config import ReadConfig
from discord_echo.errors import ExportParseError
from discord_echo.exports.base import FileReport, clip
from discord_echo.messages import Author, Channel, Message, Source, is_system_kind

# Bytes read (and parsed as one batch) at a time. Small on purpose: a batch's objects then
# stay in the CPU cache and die young, before the garbage collector promotes them; 64 KiB
# parsed a 1M-message export 3x faster than 8 MiB did (benchmarks/ingest.py).
CHUNK_SIZE = 64 * 1024
# A "message" this large means the indentation guess is wrong: give up on the fast path.
_MAX_FAST_TAIL = 64 * 1024 * 1024
# The first messages are inspected for fields that date the exporter (§2.6).
_VERSION_SAMPLE = 100

_WS = re.compile(rb"[ \t\r\n]*")
# Everything up to the next bracket, skipping whole strings. It stops at a bracket, at the
# end of data, or at a quote whose string is not terminated in data (more data needed).
_SKIP = re.compile(rb'(?:[^"{}\[\]]+|"[^"\\]*(?:\\.[^"\\]*)*")*', re.DOTALL)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_SCALAR = re.compile(rb'[^\s,:{}\[\]"]*')
# After "messages": [ -- the first message's opening line tells the indentation of all.
_FIRST_MESSAGE = re.compile(rb"[ \t]*\r?\n([ \t]+)\{[ \t]*\r?\n")
# Python 3.10's fromisoformat wants exactly 3 or 6 fraction digits; DCE writes 0-7 (§1.3).
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d)?", re.ASCII)
_UTC = timezone.utc
_SURROGATE = re.compile("[\ud800-\udfff]")

# Fields whose presence proves a minimum exporter version (dce-formats.md §2.6).
_ROOT_MARKS = {"exportedAt": (2, 40, 1)}
_CHANNEL_MARKS = {"categoryId": (2, 27), "category": (2, 20)}
_MESSAGE_MARKS = {
    "forwardedMessage": (2, 47),
    "inlineEmojis": (2, 44),
    "interaction": (2, 38),
    "stickers": (2, 33),
    "reference": (2, 26),
    "mentions": (2, 25),
    "callEndedTimestamp": (2, 23),
}
_AUTHOR_MARKS = {"roles": (2, 40, 1), "nickname": (2, 27), "color": (2, 27)}
_EMBED_MARKS = {"video": (2, 42, 9), "images": (2, 35), "color": (2, 24)}


# read_json builds Message positionally; this pins the order it relies on.
_MESSAGE_FIELDS = [
    "id", "timestamp", "author", "content", "channel", "source", "index", "type", "edited", "reply_to",
    "attachments", "embeds", "stickers", "is_forward", "forwarded_content", "is_pinned",
]  # fmt: skip
if [f.name for f in fields(Message)][: len(_MESSAGE_FIELDS)] != _MESSAGE_FIELDS:
    raise ImportError("discord_echo.messages.Message fields changed order: update read_json")


class _Cut(Exception):
    """The file ended inside the JSON document: an interrupted export (§1.7)."""


class _BadField(ValueError):
    """A message field of the wrong type or form; the text says which."""


def read_json(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one DCE JSON export, filling ``report`` with what the file says.

    ``report.channel`` is set when the ``messages`` array starts, ``report.declared_count``
    when ``messageCount`` is read; ``config`` is unused (JSON times carry their offset).
    """
    report.format = "json"
    parser = _Parser(stream, source.path, report)
    authors: dict[tuple[Any, ...], Author] = {}  # raw author fields -> the one shared Author
    distinct: dict[Author, Author] = {}  # so that e.g. nickname null and nickname == name share one too
    seen = _SeenIds()
    remember = seen.ids.append
    fromisoformat = datetime.fromisoformat
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
                    parser.sniff_version(m)
                mid = m["id"]
                if type(mid) is not str:
                    mid = _snowflake(mid, "id")
                # A snowflake as an int; -1 (the slow path) for anything int() would not round-trip.
                number = int(mid) if len(mid) < 20 and mid.isascii() and mid.isdigit() and mid[0] != "0" else -1
                if number > seen.last:  # the usual case: ids ascend (oldest first, §1.4)
                    seen.last = number
                    remember(number)
                elif not seen.add(mid, number):
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
                        parser.saw_version((2, 47))
                    if rtype == "Forward":
                        forward = True
                    elif (rtype is None or rtype == "Default") and not is_system_kind(kind):
                        # Replies are often type Default + reference (§1.4). A pin notice's
                        # reference points at the pinned message: not a reply.
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
                # Positional, in _MESSAGE_FIELDS order: three times faster than keywords.
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
    parser.finish(index)


class _SeenIds:
    """The message ids read so far, to drop duplicates (partition merges, hand edits: §1.2).

    DCE writes messages in id order, so while the ids ascend they are kept as 8-byte integers
    in a sorted array: 40 MB for a 5M-message export, where a set of strings takes 500 MB.
    ``read_json`` appends ids above ``last`` itself; `add` handles the rest, switching to a
    set for files in any other order (newest first, shuffled, non-numeric ids).
    """

    def __init__(self) -> None:
        self.last = -1
        self.ids = array("Q")
        self.strings: set[str] | None = None

    def add(self, mid: str, number: int) -> bool:
        """Record an id that is not above ``last``; False if it was seen before."""
        if self.strings is None:
            if number >= 0:
                at = bisect_left(self.ids, number)
                if at < len(self.ids) and self.ids[at] == number:
                    return False
            self.strings = {str(n) for n in self.ids}
            self.ids = array("Q")
            self.last = 1 << 64  # every later id comes here
        if mid in self.strings:
            return False
        self.strings.add(mid)
        return True


class _Parser:
    """The file as a sliding window of bytes, walked as a DCE export: root, messages, root."""

    def __init__(self, stream: BinaryIO, path: str, report: FileReport):
        self.path, self.report = path, report
        self.channel = Channel()
        self.meta: dict[str, Any] = {}
        self.version = (2, 18)
        self.count = 0  # complete message objects handed out
        self.seen_messages = False  # the "messages" key was reached
        self.truncated = False
        self.data = b""
        self.base = 0  # file offset of data[0]
        self.pos = 0  # index into data of the next unread byte
        self.eof = False
        self.note = ""  # appended to byte positions of transcoded files
        self.batch: tuple[bytes, int, bytes | None, int] = (b"", 0, None, 0)  # doc, offset, marker, prefix
        self.stream = self._open(stream)

    # -- input -------------------------------------------------------------------------------

    def _open(self, stream: BinaryIO) -> BinaryIO | _Utf16ToUtf8:
        head = stream.read(CHUNK_SIZE)
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            self.note = " of the file re-encoded from UTF-16 to UTF-8"
            utf8 = _Utf16ToUtf8(head, stream, self.path)
            self.data = utf8.read(CHUNK_SIZE)
            return utf8
        if head.startswith(codecs.BOM_UTF8):
            self.base, head = 3, head[3:]
        self.data = head
        self.eof = not head
        return stream

    def _more(self) -> bool:
        """Drop the bytes before ``pos`` and append the next chunk; False at end of file."""
        if self.eof:
            return False
        # Read at least as much as is pending, so a value far larger than CHUNK_SIZE is
        # re-scanned a logarithmic, not linear, number of times.
        chunk = self.stream.read(max(CHUNK_SIZE, len(self.data) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.base += self.pos
        self.data = self.data[self.pos :] + chunk
        self.pos = 0
        return True

    def _ws(self) -> int:
        """Skip whitespace and return the next byte; raise `_Cut` at end of file."""
        while True:
            self.pos = _WS.match(self.data, self.pos).end()
            if self.pos < len(self.data):
                return self.data[self.pos]
            if not self._more():
                raise _Cut

    def _value(self) -> int:
        """End (index into data) of the JSON value at ``pos``; raise `_Cut` if the file ends first."""
        while True:
            data, start = self.data, self.pos
            c = data[start]
            if c == 0x7B or c == 0x5B:  # { [
                end = _container_end(data, start)
            elif c == 0x22:  # "
                match = _STRING.match(data, start)
                end = match.end() if match else -1
            else:
                end = _SCALAR.match(data, start).end()
                if end == start:
                    raise self._error(start, f"unexpected byte 0x{c:02X} where a JSON value should start")
                if end == len(data) and not self.eof:
                    end = -1
            if end >= 0:
                return end
            if not self._more():
                raise _Cut

    def _load(self, end: int, what: str | None = None) -> Any:
        start, self.pos = self.pos, end
        try:
            return orjson.loads(memoryview(self.data)[start:end])
        except orjson.JSONDecodeError:
            return self._slow_load(self.data[start:end], self.base + start, what)

    def _slow_load(self, raw: bytes, offset: int, what: str | None) -> Any:
        """Why orjson refused ``raw``: bad UTF-8 or bad JSON (error), or lone surrogates (warning)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExportParseError(
                self.path,
                self._position(offset + exc.start, what),
                f"invalid UTF-8 (byte 0x{raw[exc.start]:02X}). DiscordChatExporter writes UTF-8; "
                "if the file was re-saved in another encoding, save it as UTF-8 again.",
            ) from None
        try:
            value = json.loads(text)
            # Python's parser accepts what orjson refuses: unpaired UTF-16 surrogate escapes (which
            # could not be encoded later), NaN, integers beyond 64 bits.
            fixed = _fix_surrogates(value)
        except json.JSONDecodeError as exc:
            byte = offset + len(text[: exc.pos].encode("utf-8"))
            raise ExportParseError(self.path, self._position(byte, what), f"invalid JSON: {exc.msg}") from None
        except ValueError as exc:  # fuzzing: an integer of over 4300 digits (int max str digits)
            reason = f"invalid JSON: {str(exc).split(';')[0]}"  # (drop the hint at sys.set_int_max_str_digits)
            raise ExportParseError(self.path, self._position(offset, what), reason) from None
        except RecursionError:  # fuzzing: thousands of nested [[[ that orjson refused too (its limit is 1024)
            reason = "invalid JSON: nested too deeply (a DCE export nests a few levels)"
            raise ExportParseError(self.path, self._position(offset, what), reason) from None
        if fixed != value:
            self.report.warn(self._position(offset, what), "unpaired UTF-16 surrogate escape replaced by U+FFFD")
        return fixed

    # -- structure ---------------------------------------------------------------------------

    def batches(self) -> Iterator[tuple[list[Any], int]]:
        """Yield ``(parsed messages, how many leading items to skip)`` for the whole file."""
        stage = "before the message list"
        try:
            try:
                c = self._ws()
            except _Cut:
                raise self._error(0, "the file is empty") from None
            if c != 0x7B:
                found = "a JSON array" if c == 0x5B else f"byte 0x{c:02X}"
                raise self._error(
                    self.pos,
                    f'found {found}, expected a JSON object with a "messages" array '
                    "(a DiscordChatExporter JSON export)",
                )
            self.pos += 1
            if self._ws() == 0x7D:  # }
                self.pos += 1
            else:
                while True:
                    if self._ws() != 0x22:
                        raise self._error(self.pos, "expected a property name in the root object")
                    key = self._load(self._value())
                    if self._ws() != 0x3A:  # :
                        raise self._error(self.pos, f'expected ":" after "{key}"')
                    self.pos += 1
                    c = self._ws()
                    if key == "messages":
                        if c != 0x5B:
                            raise self._error(self.pos, '"messages" is not an array')
                        self.pos += 1
                        self.channel = _channel(self.meta, self.path)
                        self.report.channel = self.channel
                        self._saw_root()
                        stage = "inside the message list"
                        yield from self._messages()
                        stage = "after the message list"
                    else:
                        self.meta[key] = self._load(self._value(), f'root "{key}"')
                    c = self._ws()
                    self.pos += 1
                    if c == 0x7D:
                        break
                    if c != 0x2C:  # ,
                        raise self._error(self.pos - 1, 'expected "," or "}" in the root object')
        except _Cut:
            self._truncated(stage)
            return
        while True:
            self.pos = _WS.match(self.data, self.pos).end()
            if self.pos < len(self.data):
                self.report.warn(f"byte {self.base + self.pos}", "data after the end of the JSON document was ignored")
                break
            if not self._more():
                break
        if not self.seen_messages:
            keys = clip(", ".join(self.meta) or "none")
            raise ExportParseError(
                self.path, None, f'no "messages" array (root keys: {keys}): not a DiscordChatExporter JSON export'
            )

    def _messages(self) -> Iterator[tuple[list[Any], int]]:
        self.seen_messages = True
        found = _FIRST_MESSAGE.match(self.data, self.pos)
        if found is None and len(self.data) - self.pos < 4096 and self._more():
            found = _FIRST_MESSAGE.match(self.data, self.pos)
        if found:
            marker = b"\n" + found.group(1) + b"}"
            while True:
                refused = yield from self._fast(marker)
                if refused is None:
                    break
                # Read the batch orjson refused message by message (an odd message or bad
                # bytes are found there), then go back to the fast path.
                if (yield from self._general(until=refused)):
                    return
        yield from self._general()

    def _fast(self, marker: bytes) -> Generator[tuple[list[Any], int], None, int | None]:
        """Batches cut at the closing line of the last complete message in the window.

        Returns at the end of the file, or when a cut does not parse: then with the file
        offset where that batch ends.
        """
        prefix = b"[0" if self.count else b"["
        while True:
            data, pos = self.data, self.pos
            cut = data.rfind(marker, pos)
            if cut < 0:
                if len(data) - pos > _MAX_FAST_TAIL or not self._more():
                    return None
                continue
            end = cut + len(marker)
            # Later batches start with the "," after the previous message: "[0," absorbs it.
            doc = b"".join((prefix, memoryview(data)[pos:end], b"]"))
            try:
                items = orjson.loads(doc)
            except orjson.JSONDecodeError:
                return self.base + end
            skip = len(prefix) - 1
            self.batch = (doc, self.base + pos - len(prefix), marker, skip)
            self.count += len(items) - skip
            self.pos = end
            yield items, skip
            prefix = b"[0"

    def _general(self, until: int | None = None) -> Generator[tuple[list[Any], int], None, bool]:
        """Message by message, following the JSON grammar, to the end of the array (returns
        True) or to the first message end at or after file offset ``until`` (returns False)."""
        while True:
            c = self._ws()
            if c == 0x5D:  # ]
                self.pos += 1
                return True
            if self.count:
                if c != 0x2C:
                    raise self._error(self.pos, f'expected "," or "]" after message #{self.count}')
                self.pos += 1
                self._ws()
            start = self.pos
            item = self._load(self._value(), f"message #{self.count + 1}")
            self.batch = (b"", self.base + start, None, 0)
            self.count += 1
            yield [item], 0
            if until is not None and self.base + self.pos >= until:
                return False

    # -- report ------------------------------------------------------------------------------

    def _truncated(self, stage: str) -> None:
        size = self.base + len(self.data)
        if stage == "inside the message list":
            rest = self.data[self.pos :].strip()
            if rest.startswith(b","):
                rest = rest[1:].strip()
            if rest:
                stage = f"inside message #{self.count + 1}"
            else:
                stage = f"after message #{self.count}" if self.count else "at the start of the message list"
        self.report.warn(
            None,
            f"file ends at byte {size}{self.note} {stage}: the export was cut off; "
            f"{self.count} complete messages were read",
        )
        self.truncated = True

    def finish(self, read: int) -> None:
        """Record messageCount and the version guess once the whole file has been read."""
        if not self.seen_messages:
            self.report.channel = _channel(self.meta, self.path)
        self._saw_root()
        declared = self.meta.get("messageCount")
        if type(declared) is int:
            self.report.declared_count = declared
            if declared != read and not self.truncated:
                self.report.warn(None, f"messageCount says {declared} but the file holds {read} messages")
        elif declared is not None:
            self.report.warn(None, f"messageCount is not a number ({_shown(declared)}); ignored")

    def saw_version(self, version: tuple[int, ...]) -> None:
        if version > self.version:
            self.version = version
            self.report.exporter_version = ">=" + ".".join(map(str, version))

    def _saw_root(self) -> None:
        self.report.exporter_version = ">=" + ".".join(map(str, self.version))
        for key, version in _ROOT_MARKS.items():
            if key in self.meta:
                self.saw_version(version)
        channel = self.meta.get("channel")
        if isinstance(channel, dict):
            for key, version in _CHANNEL_MARKS.items():
                if key in channel:
                    self.saw_version(version)

    def sniff_version(self, m: Any) -> None:
        """Raise the version guess from the fields one message carries (§2.6)."""
        if not isinstance(m, dict):
            return
        for key, version in _MESSAGE_MARKS.items():
            if key in m:
                self.saw_version(version)
        author = m.get("author")
        if isinstance(author, dict):
            for key, version in _AUTHOR_MARKS.items():
                if key in author:
                    self.saw_version(version)
        for reaction in _dicts(m.get("reactions")):
            if "users" in reaction:
                self.saw_version((2, 40, 4))
            if isinstance(reaction.get("emoji"), dict) and "code" in reaction["emoji"]:
                self.saw_version((2, 38))
        for embed in _dicts(m.get("embeds")):
            for key, version in _EMBED_MARKS.items():
                if key in embed:
                    self.saw_version(version)
            for part in ("thumbnail", "image", "author", "footer"):
                if isinstance(embed.get(part), dict) and any("anonicalUrl" in k for k in embed[part]):
                    self.saw_version((2, 46, 1))

    def where(self, index: int, k: int) -> str:
        """Position of item ``k`` of the current batch, which is message number ``index + 1``."""
        doc, offset, marker, skip = self.batch
        if marker is not None:  # count message ends in the batch text to find where item k starts
            start = len(b"[") + skip
            for _ in range(k - skip):
                start = doc.find(marker, start) + len(marker)
            offset += _WS.match(doc, start + 1 if doc[start : start + 1] == b"," else start).end()
        return f"message #{index + 1}, byte {offset}{self.note}"

    def _position(self, byte: int, what: str | None) -> str:
        return f"{what}, byte {byte}{self.note}" if what else f"byte {byte}{self.note}"

    def _error(self, index: int, reason: str) -> ExportParseError:
        return ExportParseError(self.path, f"byte {self.base + index}{self.note}", reason)


class _Utf16ToUtf8:
    """A binary stream giving the UTF-8 re-encoding of a UTF-16 stream (BOM included in ``head``)."""

    def __init__(self, head: bytes, stream: BinaryIO, path: str):
        self._decoder = codecs.getincrementaldecoder("utf-16")()
        self._pending, self._stream, self._path = head, stream, path
        self._fed = 0  # bytes given to the decoder, for the position of a decoding error

    def read(self, size: int) -> bytes:
        while True:
            raw = self._pending or self._stream.read(size)
            self._pending = b""
            try:
                text = self._decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:  # (exc.object is the decoder's leftover bytes + raw)
                byte = self._fed + len(raw) - len(exc.object) + exc.start
                raise ExportParseError(self._path, f"byte {byte}", f"not valid UTF-16 text ({exc.reason})") from None
            self._fed += len(raw)
            if text or not raw:
                return text.encode("utf-8", "replace")


def _container_end(data: bytes, start: int) -> int:
    """Index just past the object/array starting at ``start``; -1 if ``data`` ends first."""
    depth, size, skip = 0, len(data), _SKIP.match
    i = start
    while True:
        i = skip(data, i).end()  # over everything but brackets, strings included
        if i == size:
            return -1
        c = data[i]
        if c == 0x7B or c == 0x5B:
            depth += 1
        elif c == 0x7D or c == 0x5D:
            depth -= 1
            if depth == 0:
                return i + 1
        else:  # a quote with no closing quote in data
            return -1
        i += 1


def _channel(meta: dict[str, Any], path: str) -> Channel:
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
            raise _BadField(f"{field} {_shown(text)} is not an ISO-8601 date") from None
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
    raise TypeError(f"expected a string, found {type(value).__name__} {_shown(value)}")


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut short: fuzzing put megabytes into a field, and into the error quoting it."""
    if isinstance(value, (list, dict)):  # (whose repr may be huge, or nested past the recursion limit)
        return f"a {'list' if isinstance(value, list) else 'object'} of {len(value)} items"
    text = repr(value[: limit + 1] if isinstance(value, str) else value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


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


def _fix_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix_surrogates(x) for x in value]
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    return value
