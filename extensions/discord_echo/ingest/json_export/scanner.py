"""The bytes of a JSON export as a sliding window, and a tolerant JSON scanner over it.

Takes the binary stream of one export (UTF-8, with or without a BOM, or UTF-16, which is
re-encoded to UTF-8 on the fly); gives `ByteWindow`, which holds only the unread part of the
file and finds the extent of one JSON value at a time: a regex finds strings and brackets,
so the end of each value is known before orjson parses it. `json_batches` builds the
document walk on it. Implements docs/formats.md, Encoding, line endings and truncation, and JSON fields.

This is what reads minified or oddly indented files, and what finds where a broken file
goes wrong: bad UTF-8 and bad JSON raise `ExportParseError` with the byte offset (for
UTF-16 files: in their UTF-8 re-encoding); lone UTF-16 surrogate escapes, which orjson
refuses, are replaced by U+FFFD with a warning. The end of the file in the middle of a
value raises `Cut`, for the caller to report a truncated export.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, BinaryIO

import orjson

from discord_echo.core.errors import ExportParseError
from discord_echo.ingest.base import FileReport

WS = re.compile(rb"[ \t\r\n]*")
# Everything up to the next bracket, skipping whole strings. It stops at a bracket, at the
# end of data, or at a quote whose string is not terminated in data (more data needed).
_SKIP = re.compile(rb'(?:[^"{}\[\]]+|"[^"\\]*(?:\\.[^"\\]*)*")*', re.DOTALL)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_SCALAR = re.compile(rb'[^\s,:{}\[\]"]*')
_SURROGATE = re.compile("[\ud800-\udfff]")


class Cut(Exception):
    """The file ended inside the JSON document: an interrupted export.

    See docs/formats.md, Encoding, line endings and truncation.
    """


class ByteWindow:
    """The file as a sliding window of bytes: ``data[pos:]`` is unread, ``base`` is the file
    offset of ``data[0]``. ``chunk_size`` bytes are read at a time (at least)."""

    def __init__(self, stream: BinaryIO, path: str, report: FileReport, chunk_size: int):
        self.path, self.report, self.chunk_size = path, report, chunk_size
        self.data = b""
        self.base = 0  # file offset of data[0]
        self.pos = 0  # index into data of the next unread byte
        self.eof = False
        self.note = ""  # appended to byte positions of transcoded files
        self.stream = self._open(stream)

    # -- input -------------------------------------------------------------------------------

    def _open(self, stream: BinaryIO) -> BinaryIO | Utf16ToUtf8:
        head = stream.read(self.chunk_size)
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            self.note = " of the file re-encoded from UTF-16 to UTF-8"
            utf8 = Utf16ToUtf8(head, stream, self.path)
            self.data = utf8.read(self.chunk_size)
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
        # Read at least as much as is pending, so a value far larger than chunk_size is
        # re-scanned a logarithmic, not linear, number of times.
        chunk = self.stream.read(max(self.chunk_size, len(self.data) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.base += self.pos
        self.data = self.data[self.pos :] + chunk
        self.pos = 0
        return True

    # -- scanning ----------------------------------------------------------------------------

    def _ws(self) -> int:
        """Skip whitespace and return the next byte; raise `Cut` at end of file."""
        while True:
            self.pos = WS.match(self.data, self.pos).end()
            if self.pos < len(self.data):
                return self.data[self.pos]
            if not self._more():
                raise Cut

    def _value(self) -> int:
        """End (index into data) of the JSON value at ``pos``; raise `Cut` if the file ends first."""
        while True:
            data, start = self.data, self.pos
            c = data[start]
            if c == 0x7B or c == 0x5B:  # { [
                end = container_end(data, start)
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
                raise Cut

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

    # -- positions ---------------------------------------------------------------------------

    def _position(self, byte: int, what: str | None) -> str:
        return f"{what}, byte {byte}{self.note}" if what else f"byte {byte}{self.note}"

    def _error(self, index: int, reason: str) -> ExportParseError:
        return ExportParseError(self.path, f"byte {self.base + index}{self.note}", reason)


class Utf16ToUtf8:
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


def container_end(data: bytes, start: int) -> int:
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


def _fix_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix_surrogates(x) for x in value]
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    return value
