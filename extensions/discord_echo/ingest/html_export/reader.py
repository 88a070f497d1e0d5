"""Read DiscordChatExporter HTML exports (Dark and Light themes, layouts 2.15 to 2.47).

Takes the binary stream of one ``.html`` export; yields one `Message` per ``data-message-id``
in file order and fills the `FileReport`: format ``"html"``, an exporter version guessed from
the markup, the channel from the preamble, the declared message count. Implements
docs/formats.md, HTML markups and HTML markdown. This module cuts and feeds the bytes; the work on
the markup is split by concern:

* `chatlog`: the document walk of each batch (style, preamble, postamble, groups) and
  the end-of-file report;
* `messages`: message markup -> `Message`, per layout (≤2.33 groups, ≥2.34 containers,
  2.36+ system notifications); `message_parts`: content, edit times, attachments,
  replies, system kinds;
* `formatting`: rendered markdown -> the text the other formats show;
* `elements`: element queries by class token.

Streaming: the bytes are cut into batches of about 256 KiB just before a message or group
start tag, and each batch is parsed by lxml as a small document of its own (libxml2's HTML
push parser would hold the whole file; see `_feed`). Group state is carried across batches,
so memory stays flat however long the export is. A truncated file yields every message
whose markup is complete, and a warning. Since 2.35 a URL-only message whose URL is its
image/gifv embed has no text in HTML at all (docs/formats.md, What is not the author's own words).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO, NoReturn

from lxml import etree

from discord_echo.core.errors import ExportParseError, UnsupportedExportError
from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport, detect_text_encoding
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.chatlog import ChatlogScanner
from discord_echo.ingest.html_export.elements import CUT_ATTRIBUTE
from discord_echo.ingest.html_export.formatting import markdown_text
from discord_echo.ingest.html_export.messages import UNKNOWN_SYSTEM_KIND as UNKNOWN_SYSTEM_KIND

__all__ = ["markdown_text", "read_html"]

CHUNK_SIZE = 256 * 1024
# A DCE head (inline CSS, scripts, icon sprite) is far below 1 MiB: stop parsing a file that
# shows no DCE markup well after that instead of reading a multi-GB unrelated page.
_SNIFF_LIMIT = 8 * 1024 * 1024

# Start tags DCE writes for a group, a ≥2.34 message container and a ≤2.33 message (quoted
# or minified); batches are cut just before them.
_BOUNDARY = re.compile(
    rb"<div\s+(?:class=[\"']?chatlog__message-group[\"']?\s*>"
    rb"|id=[\"']?chatlog__message-container-\d"
    rb"|class=\"chatlog__message(?:\s[^\"]*)?\"\s+data-message-id=)"
)
_DCE_MARKUP = re.compile(rb"class=[\"']?(?:preamble|info|chatlog)[\"'\s>]")
_MAX_PIECE = 64 * 1024 * 1024  # no single DCE message or header comes near this


def read_html(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one DCE HTML export, oldest first (file order)."""
    report.format = "html"
    return _feed(stream, ChatlogScanner(source, report, config))


def _feed(stream: BinaryIO, chatlog: ChatlogScanner) -> Iterator[Message]:
    """Cut the bytes into batches that end just before a message or group start tag,
    and parse each batch as a document of its own.

    libxml2's HTML push parser keeps every byte it was fed until it is closed (its XML
    parser does not), so one HTMLPullParser over a whole export holds the whole file.
    DCE escapes message text, so a literal start tag of a group or a message can only
    be markup; batches of about CHUNK_SIZE keep memory flat, and the group state
    (author, reply, date) is carried from one batch to the next.
    """
    path = chatlog.path
    html = etree.HTMLParser(encoding="utf-8", collect_ids=False)
    buf, offset = bytearray(), 0
    for chunk in _utf8_chunks(stream, path):
        searched = max(len(buf) - 128, 1)  # a tag cut by the chunk edge is searched again
        buf += chunk
        last = None
        for last in _BOUNDARY.finditer(buf, searched):  # noqa: B007 - only the last one matters
            pass
        if last is not None:
            batch, cut = bytes(buf[: last.start()]), last.start()
            del buf[:cut]
            yield from _batch(chatlog, html, batch, offset, final=False)
            offset += cut
        elif not chatlog.is_dce and len(buf) > _SNIFF_LIMIT and not _DCE_MARKUP.search(buf):
            _not_dce(path, f"no DiscordChatExporter markup in the first {_SNIFF_LIMIT >> 20} MiB")
        elif len(buf) > _MAX_PIECE:
            if not chatlog.is_dce:
                _not_dce(path, f"no message markup in the first {_MAX_PIECE >> 20} MiB")
            raise ExportParseError(path, f"byte {offset}", f"no message start in {_MAX_PIECE >> 20} MiB")
    yield from _batch(chatlog, html, bytes(buf), offset, final=True)
    if not chatlog.is_dce:
        _not_dce(path, "no chatlog, preamble or message groups")
    chatlog.finish(bytes(buf[-64:]))


def _batch(
    chatlog: ChatlogScanner, html: etree.HTMLParser, data: bytes, offset: int, final: bool, split: bool = True
) -> list[Message]:
    if not data.strip():
        return []
    try:
        if final:  # elements closed only by the end of the file were cut off: mark them
            parser = etree.HTMLPullParser(events=("end",), tag="div", encoding="utf-8", collect_ids=False)
            parser.feed(data)
            for _ in parser.read_events():
                pass
            root = parser.close()
            for _, el in parser.read_events():
                el.set(CUT_ATTRIBUTE, "")
            errors = parser.error_log
        else:
            root = etree.fromstring(data, html)
            errors = html.error_log
    except etree.LxmlError as exc:
        if not chatlog.is_dce:
            _not_dce(chatlog.path, "no HTML elements")
        raise ExportParseError(chatlog.path, f"byte {offset}", f"unreadable HTML ({exc})") from exc
    if any("Excessive depth" in e.message for e in errors):
        # libxml2 stops a document at its depth limit (256) and drops everything after that point, so one
        # deeply nested message would silently take the rest of the batch with it: parse message by message.
        starts = [m.start() for m in _BOUNDARY.finditer(data)]
        if split and len(starts) > 1:
            return _pieces(chatlog, html, data, offset, final, starts)
        chatlog.too_deep(data, offset)
    out: list[Message] = []
    if root is not None:
        chatlog.scan(root, out)
    return out


def _pieces(
    chatlog: ChatlogScanner, html: etree.HTMLParser, data: bytes, offset: int, final: bool, starts: list[int]
) -> list[Message]:
    """A batch parsed piece by piece, cut before each message or group start, so nesting too deep costs
    only the message it is in (warned by `ChatlogScanner.too_deep`), never the messages after it."""
    bounds = [0, *(s for s in starts if s > 0), len(data)]
    out: list[Message] = []
    for n, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        last = n == len(bounds) - 2
        out += _batch(chatlog, html, data[start:end], offset + start, final and last, split=False)
    return out


def _not_dce(path: str, seen: str) -> NoReturn:
    raise UnsupportedExportError(path, f"an HTML page with {seen}")


def _utf8_chunks(stream: BinaryIO, path: str) -> Iterator[bytes]:
    """The stream as UTF-8 byte chunks without a BOM (UTF-16 files are transcoded)."""
    head = stream.read(max(CHUNK_SIZE, 4))
    encoding, bom = detect_text_encoding(head[:4])
    if not head[bom:].strip():
        raise ExportParseError(path, None, "the file is empty (an HTML export always has a preamble)")
    if encoding == "utf-16":
        decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        while head:
            yield decoder.decode(head).encode("utf-8")
            head = stream.read(CHUNK_SIZE)
        yield decoder.decode(b"", final=True).encode("utf-8")
        return
    if b"\x00" in head:
        raise UnsupportedExportError(path, "binary data (NUL bytes), not HTML")
    chunk = head[bom:]
    while chunk:
        yield chunk
        chunk = stream.read(CHUNK_SIZE)
