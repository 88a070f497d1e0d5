"""What every reader shares: the per-file report and tolerant text decoding.

A reader is a function ``read(stream, source, report, config) -> Iterator[Message]``:
``stream`` is a binary file object positioned at the start, ``report`` collects what the
reader learns about the file (format version, channel, declared count) and its warnings.
Readers raise `ExportParseError` (file + position + reason) for input they cannot read and
never let a low-level exception (KeyError, UnicodeDecodeError, csv.Error...) escape.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Channel, Message, Source
from discord_echo.ingest.config import ReadConfig


@dataclass
class FileReport:
    """What was learnt while reading one export file."""

    path: str
    format: str | None = None
    exporter_version: str | None = None  # a guess such as "<=2.15", "2.34-2.40", ">=2.47"
    channel: Channel | None = None
    declared_count: int | None = None  # messageCount / "Exported N message(s)" / "Messages: N"
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # set when the file could not be read (the message of the error)

    def warn(self, position: str | None, text: str) -> None:
        self.warnings.append(f"{position}: {text}" if position else text)


def clip(text: str, limit: int = 300) -> str:
    """``text`` with its middle cut out when longer than ``limit``: errors quote fields, and a
    field may hold megabytes (found by fuzzing); the start and the reason at the end stay."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} [... {len(text) - 2 * half:,} characters ...] {text[-half:]}"


class Reader(Protocol):
    def __call__(
        self, stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig
    ) -> Iterator[Message]: ...


def detect_text_encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length) from the first bytes. DCE writes UTF-8 without BOM; editors add one."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", 0  # the utf-16 codec reads the BOM itself
    return "utf-8", 0


def iter_text_lines(stream: BinaryIO, source: Source) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line, line ending kept, 1-based numbers.

    Decodes line by line so a bad byte is reported with its line, and so a multi-gigabyte
    TXT/CSV never sits in memory whole. Accepts LF and CRLF (docs/formats.md, Encoding, line endings and truncation).
    """
    head = stream.read(4)
    encoding, bom = detect_text_encoding(head)
    if encoding == "utf-16":
        text_stream = codecs.getreader("utf-16")(_Prepend(head, stream))
        number = 0
        try:
            for number, line in enumerate(text_stream, 1):
                yield number, line
        except UnicodeDecodeError as exc:
            # The reader decodes ahead in chunks, so only "after the last good line" is certain.
            where = f"after line {number}" if number else None
            raise ExportParseError(source.path, where, f"not valid UTF-16 text ({exc.reason})") from exc
        return
    first = True
    for number, raw in enumerate(_Prepend(head[bom:], stream), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExportParseError(
                source.path,
                f"line {number}, column {exc.start + 1}",
                "not valid UTF-8 text. DiscordChatExporter writes UTF-8; if the file was "
                "re-saved in another encoding, save it as UTF-8 again.",
            ) from exc
        if first:
            first = False
            if "\x00" in line:
                raise ExportParseError(source.path, "line 1", "contains NUL bytes: a binary file, not a text export")
        yield number, line


class _Prepend:
    """A binary line iterator/reader over ``head`` followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._stream.read(size - len(data))
            return data
        return self._stream.read(size)

    def __iter__(self) -> Iterator[bytes]:
        head, self._head = self._head, b""
        if head:
            if not head.endswith(b"\n"):
                head += self._stream.readline()
            *lines, last = head.split(b"\n")
            for line in lines:
                yield line + b"\n"
            if last:
                yield last
        yield from self._stream
