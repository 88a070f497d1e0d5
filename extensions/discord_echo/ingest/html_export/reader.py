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

Parser: lexbor (through selectolax), an HTML5 parser written in C. It builds the tree of a
batch about 2.5 times faster than libxml2 (lxml) did; reading the tree from Python costs about
the same with both and is most of the time, so a whole read is about 1.5 times faster
(benchmarks/html_ingest.py). It has no depth limit, so nothing is lost to deep markup; but HTML5
tree building looks through the open elements at every block tag, so its time grows with
tags x depth. A batch whose tag counts allow a costly parse (see `_costly`; a few times
what DCE writes) is parsed message by message, and markup that still nests too deep is kept to
`DEPTH_LIMIT` levels (see `_flatten`): a deeply nested message costs its formatting and a
warning, never the messages after it, nor time that grows with the square of the file.

Streaming: the bytes are cut into batches of about 256 KiB just before a message or group
start tag, and each batch is parsed as a small document of its own. Group state is carried
across batches, so memory stays flat however long the export is. A truncated file yields
every message whose markup is complete, and a warning: the last batch is parsed with a probe
element after its bytes (see `_EOF_PROBE`), and the elements the probe lands inside are the
ones only the end of the file closed. Since 2.35 a URL-only message whose URL is its
image/gifv embed has no text in HTML at all (docs/formats.md, What is not the author's own words).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO, NoReturn

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from discord_echo.core.errors import ExportParseError, UnsupportedExportError
from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport, detect_text_encoding
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.chatlog import MESSAGE, ChatlogScanner
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
DEPTH_LIMIT = 256  # levels of markup kept where a batch would take lexbor long to parse
# Tag counts (all tags x start tags) beyond which a batch may nest deep enough to parse slowly
# (at this bound, 11,000 nested <div> take 0.15 s); 256 KiB of DCE 2.47 markup has 8,000 x 4,000.
_COST_BUDGET = 1 << 27
_TAG = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*)[^>]*>")
_VOID = frozenset(b"area base br col embed hr img input keygen link meta param source track wbr".split())
_MESSAGE_ID = re.compile(rb"(?:data-message-id=|chatlog__message-container-)[\"']?(\d+)")
# Appended to the last batch: ``>"'>`` ends a tag the file was cut in, whether in its name, between
# attributes or in an unquoted, double- or single-quoted value; ``]]>`` and ``-->`` end a CDATA
# section or a comment, the end tags a raw-text element. Then the HTML5 tree builder puts the probe
# inside the innermost element still open, so its ancestors are the elements only the end of the
# file closed. (Where the probe is swallowed, in <plaintext> or in a "<!--" inside a <script>, nothing
# is taken as cut off; the file still reads as truncated.)
_EOF_TAG = "echo-eof"
_EOF_PROBE = (
    b">\"'>]]>--></style></script></textarea></title></xmp></iframe></noembed></noframes></noscript>"
    + f"<{_EOF_TAG}></{_EOF_TAG}>".encode()
)


def read_html(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one DCE HTML export, oldest first (file order)."""
    report.format = "html"
    return _feed(stream, ChatlogScanner(source, report, config))


def _feed(stream: BinaryIO, chatlog: ChatlogScanner) -> Iterator[Message]:
    """Cut the bytes into batches that end just before a message or group start tag,
    and parse each batch as a document of its own.

    DCE escapes message text, so a literal start tag of a group or a message can only
    be markup; batches of about CHUNK_SIZE keep memory flat, and the group state
    (author, reply, date) is carried from one batch to the next.
    """
    path = chatlog.path
    buf, offset = bytearray(), 0
    for chunk in _utf8_chunks(stream, path):
        searched = max(len(buf) - 128, 1)  # a tag cut by the chunk edge is searched again
        buf += chunk
        cut = _last_boundary(buf, searched)
        if cut is not None:
            batch = bytes(buf[:cut])
            del buf[:cut]
            yield from _batch(chatlog, batch, offset, final=False)
            offset += cut
        elif not chatlog.is_dce and len(buf) > _SNIFF_LIMIT and not _DCE_MARKUP.search(buf):
            _not_dce(path, f"no DiscordChatExporter markup in the first {_SNIFF_LIMIT >> 20} MiB")
        elif len(buf) > _MAX_PIECE:
            if not chatlog.is_dce:
                _not_dce(path, f"no message markup in the first {_MAX_PIECE >> 20} MiB")
            raise ExportParseError(path, f"byte {offset}", f"no message start in {_MAX_PIECE >> 20} MiB")
    yield from _batch(chatlog, bytes(buf), offset, final=True)
    if not chatlog.is_dce:
        _not_dce(path, "no chatlog, preamble or message groups")
    chatlog.finish(bytes(buf[-64:]))


def _last_boundary(buf: bytearray, start: int) -> int | None:
    """Where the last message or group start tag at or after ``start`` begins, if any.

    Searched from the end: the last one is usually in the last kilobyte, so a batch costs
    a few tests, not one per message.
    """
    end = len(buf)
    while True:
        end = buf.rfind(b"<div", start, end)
        if end < 0:
            return None
        if _BOUNDARY.match(buf, end):
            return end


def _batch(chatlog: ChatlogScanner, data: bytes, offset: int, final: bool, split: bool = True) -> list[Message]:
    if not data.strip():
        return []
    if _costly(data):
        starts = [m.start() for m in _BOUNDARY.finditer(data)]
        if split and len(starts) > 1:
            return _pieces(chatlog, data, offset, final, starts)
        data = _flatten(chatlog, data, offset)
    try:
        tree = LexborHTMLParser(data + _EOF_PROBE if final else data)
    except (SelectolaxError, RuntimeError) as exc:  # lexbor reads any bytes; this is out of memory
        if not chatlog.is_dce:
            _not_dce(chatlog.path, "no HTML elements")
        raise ExportParseError(chatlog.path, f"byte {offset}", f"unreadable HTML ({exc})") from exc
    out: list[Message] = []
    root = tree.root
    if root is None:
        return out
    parts = chatlog.parts(root)
    # Fewer messages than message start tags: markup left open (say a <div> or a <table>) took the
    # messages after it inside its own; read message by message, so each costs at most itself.
    if split and sum(part[0] is MESSAGE for part in parts) < data.count(b"data-message-id="):
        starts = [m.start() for m in _BOUNDARY.finditer(data)]
        if len(starts) > 1:
            return _pieces(chatlog, data, offset, final, starts)
    if final:  # elements closed only by the end of the file were cut off
        probes = tree.tags(_EOF_TAG)
        node = probes[-1].parent if probes else None
        while node is not None:
            chatlog.open_at_eof.add(node.mem_id)
            node = node.parent
    chatlog.read(parts, out)
    return out


def _pieces(chatlog: ChatlogScanner, data: bytes, offset: int, final: bool, starts: list[int]) -> list[Message]:
    """A batch parsed piece by piece, cut before each message or group start, so that markup nested
    too deep or left open costs only the message it is in, never the messages after it."""
    bounds = [0, *(s for s in starts if s > 0), len(data)]
    out: list[Message] = []
    for n, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        last = n == len(bounds) - 2
        out += _batch(chatlog, data[start:end], offset + start, final and last, split=False)
    return out


def _costly(data: bytes) -> bool:
    """Whether lexbor might take long on ``data``: its time is at most about (tags x open elements),
    and the open elements are at most the start tags."""
    tags = data.count(b"<")
    return tags > 1 << 13 and tags * (tags - data.count(b"</")) > _COST_BUDGET


def _flatten(chatlog: ChatlogScanner, data: bytes, offset: int) -> bytes:
    """``data`` without the start tags (and their end tags) nested deeper than `DEPTH_LIMIT`, and a
    warning naming the message if there were any. The nesting is followed by tag names, as a
    well-formed file nests; the text stays, only formatting below the limit is lost."""
    out, last, open_tags, dropped = [], 0, [], {}
    for tag in _TAG.finditer(data):
        name = tag.group(2).lower()
        if not tag.group(1):  # a start tag
            if name in _VOID:
                continue
            if len(open_tags) < DEPTH_LIMIT:
                open_tags.append(name)
                continue
            dropped[name] = dropped.get(name, 0) + 1
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
            continue
        elif dropped.get(name):
            dropped[name] -= 1
        else:
            if name in open_tags:  # closes the elements opened after its own
                del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name) :]
            continue
        out.append(data[last : tag.start()])
        last = tag.end()
    if not out:
        return data
    found = _MESSAGE_ID.search(data)
    what = f"message {found.group(1).decode()}" if found else "the markup"
    chatlog.report.warn(
        f"byte {offset}",
        f"{what} nests its markup more than {DEPTH_LIMIT} levels deep; tags below that depth were skipped, "
        "their text kept (no DiscordChatExporter version writes this: the file was edited)",
    )
    out.append(data[last:])
    return b"".join(out)


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
