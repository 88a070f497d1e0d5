"""Walk a DCE JSON export and cut its ``messages`` array into batches of parsed objects.

Takes the binary stream of one export (through `ByteWindow`); gives ``(parsed messages, how
many leading items to skip)`` batches in file order, the root metadata around ``messages``
(``meta``, `channel`), positions for errors (`ExportParser.where`) and, once the file is
read, the ``messageCount`` check. Implements docs/formats.md, JSON fields and Encoding, line
endings and truncation.

How the bytes are cut (the fast path): DCE writes the JSON indented (docs/formats.md, Encoding,
line endings and truncation), so each message object in ``messages`` ends with a line holding
only ``}`` at one fixed indentation. Raw newlines cannot occur inside JSON strings, so that
``\\n<indent>}`` marker is found with ``bytes.rfind`` without tracking strings. The file
is read in chunks, each chunk is cut after its last complete message, and that batch is parsed
by one ``orjson.loads`` call. A batch that does not parse (hand-edited indentation, bad bytes)
hands over to the general path.

The general path follows the JSON grammar with `ByteWindow`'s scanner: the root object key
by key, and message by message for minified or oddly indented files and for the batch the
fast path refused, which finds where a broken file goes wrong. The end of the file inside
the document (an interrupted export) ends the batches with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO

import orjson

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Channel
from discord_echo.ingest.base import FileReport, clip
from discord_echo.ingest.json_export.messages import channel_from_root, shown
from discord_echo.ingest.json_export.scanner import WS, ByteWindow, Cut
from discord_echo.ingest.json_export.version import VersionGuess

# A "message" this large means the indentation guess is wrong: give up on the fast path.
_MAX_FAST_TAIL = 64 * 1024 * 1024
# After "messages": [ -- the first message's opening line tells the indentation of all.
_FIRST_MESSAGE = re.compile(rb"[ \t]*\r?\n([ \t]+)\{[ \t]*\r?\n")


class ExportParser(ByteWindow):
    """The file walked as a DCE export: root, messages, root."""

    def __init__(self, stream: BinaryIO, path: str, report: FileReport, chunk_size: int):
        self.channel = Channel()
        self.meta: dict[str, Any] = {}
        self.versions = VersionGuess(report)
        self.count = 0  # complete message objects handed out
        self.seen_messages = False  # the "messages" key was reached
        self.truncated = False
        self.batch: tuple[bytes, int, bytes | None, int] = (b"", 0, None, 0)  # doc, offset, marker, prefix
        super().__init__(stream, path, report, chunk_size)

    # -- structure ---------------------------------------------------------------------------

    def batches(self) -> Iterator[tuple[list[Any], int]]:
        """Yield ``(parsed messages, how many leading items to skip)`` for the whole file."""
        stage = "before the message list"
        try:
            try:
                c = self._ws()
            except Cut:
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
                        self.channel = channel_from_root(self.meta, self.path)
                        self.report.channel = self.channel
                        self.versions.saw_root(self.meta)
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
        except Cut:
            self._truncated(stage)
            return
        while True:
            self.pos = WS.match(self.data, self.pos).end()
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
            self.report.channel = channel_from_root(self.meta, self.path)
        self.versions.saw_root(self.meta)
        declared = self.meta.get("messageCount")
        if type(declared) is int:
            self.report.declared_count = declared
            if declared != read and not self.truncated:
                self.report.warn(None, f"messageCount says {declared} but the file holds {read} messages")
        elif declared is not None:
            self.report.warn(None, f"messageCount is not a number ({shown(declared)}); ignored")

    def where(self, index: int, k: int) -> str:
        """Position of item ``k`` of the current batch, which is message number ``index + 1``."""
        doc, offset, marker, skip = self.batch
        if marker is not None:  # count message ends in the batch text to find where item k starts
            start = len(b"[") + skip
            for _ in range(k - skip):
                start = doc.find(marker, start) + len(marker)
            offset += WS.match(doc, start + 1 if doc[start : start + 1] == b"," else start).end()
        return f"message #{index + 1}, byte {offset}{self.note}"
