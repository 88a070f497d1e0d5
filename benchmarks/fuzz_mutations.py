"""Mutations of real DiscordChatExporter exports, and the check that a reader handled them.

Shared by ``benchmarks/fuzz.py`` (thousands of seeded cases per format) and
``tests/ingest/fuzz/test_fuzz_readers.py`` (a small hypothesis budget in CI); this is the only copy.

Takes the real samples (``../shared/samples/dce``) and a `random.Random`; gives `Case`s: the
bytes of one broken export and a description of what was done to it. Every mutator draws
only a few numbers from the generator it is given (loops that need many draw from a
generator seeded by one draw), so a hypothesis-controlled ``Random`` works as well as a
seeded one. Formats: ``json`` (parsed and re-serialized trees as well as raw bytes), ``csv``,
``txt``, ``html`` and ``zip`` (archives of samples, broken at the archive level).

`run_case` writes a case to a file and reads it through the public API (`read_export`, or
`read_exports` for zips), under a time limit. "Handled" means: it finished (warnings are
fine) or raised an `EchoError` whose message names the file; messages that come out are
well-formed. Anything else is "unhandled": another exception, a hang, a message that does
not name the file, a message of thousands of characters, or a malformed `Message`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import re
import signal
import struct
import threading
import traceback
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from discord_echo.core.errors import EchoError, ExportParseError
from discord_echo.core.messages import Message
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import read_export, read_exports

FORMATS = ("json", "csv", "txt", "html", "zip")
MB = 1 << 20
# An error message longer than this (beyond the file names it quotes) is no clear message.
MAX_MESSAGE_CHARS = 2000

Corpus = dict[str, list[tuple[str, bytes]]]  # format -> [(sample name, bytes)]
Mutator = Callable[[bytes, random.Random, Corpus], tuple[bytes, str]]


@dataclass(frozen=True)
class Case:
    """One fuzz input: the bytes of a file named ``file_name`` and how they were made."""

    fmt: str
    file_name: str
    data: bytes
    description: str


@dataclass(frozen=True)
class Outcome:
    """How the readers took a case: ``ok``, ``clean`` (an EchoError) or ``unhandled``."""

    kind: str
    detail: str = ""
    positioned: bool = False  # a clean error that names a position in the file


def load_corpus(samples_dir: Path) -> Corpus:
    """The real samples by format; the zip target builds archives from all of them."""
    corpus: Corpus = {fmt: [] for fmt in FORMATS}
    for path in sorted(samples_dir.iterdir()):
        fmt = path.name.split("_", 1)[0].split("-", 1)[0]
        if fmt in corpus and path.is_file():
            corpus[fmt].append((path.name, path.read_bytes()))
    corpus["zip"] = [item for fmt in ("json", "csv", "txt", "html") for item in corpus[fmt]]
    return corpus


def make_case(fmt: str, rng: random.Random, corpus: Corpus) -> Case:
    """A mutated sample of ``fmt``: one to three mutations, format-specific or generic."""
    name, data = rng.choice(corpus[fmt])
    if fmt == "zip":
        data, steps = _make_zip(rng, corpus)
        return Case(fmt, "export.zip", data, " + ".join(steps))
    steps = [name]
    if fmt == "json" and rng.random() < 0.45:
        data, step = json_tree(data, rng, corpus)
        steps.append(step)
    elif fmt == "csv" and rng.random() < 0.3:
        data, step = csv_modernize(data, rng, corpus)
        steps.append(step)
    for _ in range(_count(rng)):
        mutator = rng.choice(_SPECIFIC[fmt]) if rng.random() < 0.5 else rng.choice(GENERIC)
        data, step = mutator(data, rng, corpus)
        steps.append(step)
    suffix = name[name.rfind(".") :]
    return Case(fmt, "case" + suffix, data, " + ".join(steps))


def _count(rng: random.Random) -> int:
    return 1 if rng.random() < 0.6 else 2 if rng.random() < 0.7 else 3


# -- generic byte mutations (every format, zip members too) ----------------------------------

TOKENS = (
    b"\x00", b"\xff", b"\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b'"', b"'",
    b"\\", b"\\u", b"\\ud800", b"{", b"}", b"[", b"]", b",", b":", b";", b"\n", b"\r", b"\r\n", b"\t",
    b"<", b">", b"</div>", b"<div>", b"<!--", b"-->", b"<![CDATA[", b"&", b"&#0;", b"&#xD800;", b"=" * 62,
    b"null", b"true", b"-1", b"1e999", b"9" * 30, b"NaN", b"Infinity", "\u2028".encode(), "\u202e".encode(),
    b"\x85", b"\x0c", b"\x1c", "é".encode(), "😀".encode(), b"PK\x03\x04", b"PK\x05\x06",
)  # fmt: skip


def truncate(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    at = rng.randrange(len(data) + 1)
    return data[:at], f"truncate at {at}"


def flip_bytes(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    if not data:
        return data, "flip (empty)"
    sub, out = random.Random(rng.getrandbits(64)), bytearray(data)
    count = rng.randint(1, 16)
    for _ in range(count):
        out[sub.randrange(len(out))] ^= sub.choice((1 << sub.randrange(8), 0xFF, sub.randrange(1, 256)))
    return bytes(out), f"flip {count} bytes"


def insert_token(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    at, token = rng.randrange(len(data) + 1), rng.choice(TOKENS)
    return data[:at] + token + data[at:], f"insert {token[:12]!r} at {at}"


def delete_span(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    at = rng.randrange(len(data) + 1)
    size = rng.choice((1, 2, 3, rng.randint(1, 64), rng.randint(1, 4096)))
    return data[:at] + data[at + size :], f"delete {size} at {at}"


def splice(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """A chunk of this or another sample of any format, inserted or written over."""
    _, other = rng.choice([item for items in corpus.values() for item in items] or [("", data)])
    start = rng.randrange(len(other) + 1)
    chunk = other[start : start + rng.randint(1, 8192)]
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        return data[:at] + chunk + data[at:], f"splice {len(chunk)} bytes in at {at}"
    return data[:at] + chunk + data[at + len(chunk) :], f"splice {len(chunk)} bytes over {at}"


_ENCODINGS = ("utf-16-le+bom", "utf-16-be+bom", "utf-16-le", "latin-1", "cp1252", "utf-8+bom", "bom twice", "utf-32")


def reencode(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """The same text re-saved by an editor in another encoding."""
    how = rng.choice(_ENCODINGS)
    text = data.decode("utf-8", "replace")
    if how == "utf-16-le+bom":
        out = codecs.BOM_UTF16_LE + text.encode("utf-16-le", "surrogatepass")
    elif how == "utf-16-be+bom":
        out = codecs.BOM_UTF16_BE + text.encode("utf-16-be", "surrogatepass")
    elif how in ("latin-1", "cp1252", "utf-16-le", "utf-32"):
        out = text.encode(how, "replace")
    elif how == "utf-8+bom":
        out = codecs.BOM_UTF8 + data
    else:
        out = codecs.BOM_UTF8 * 2 + data
    return out, f"re-encode as {how}"


_HUGE = (b"a", "é".encode(), "😀".encode(), b"\\", b'"', b"\n", b" ", b"[", b"{", b"<div>", b"=", b";", b"\x00")


def huge_insert(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """A few MB of one repeated unit: a huge field, thousands of lines, deep brackets."""
    unit, at = rng.choice(_HUGE), rng.randrange(len(data) + 1)
    size = rng.randint(MB // 2, 4 * MB)
    return data[:at] + unit * (size // len(unit)) + data[at:], f"insert {size // MB} MB of {unit!r} at {at}"


def lines_op(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """Drop, duplicate or swap lines; or change every line ending."""
    lines = data.split(b"\n")
    how = rng.choice(("drop", "duplicate", "swap", "crlf", "cr", "no final newline", "blank"))
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if how == "drop":
        del lines[i]
    elif how == "duplicate":
        lines.insert(i, lines[j])
    elif how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "crlf":
        return data.replace(b"\n", b"\r\n"), "CRLF line endings"
    elif how == "cr":
        return data.replace(b"\n", b"\r"), "CR line endings"
    elif how == "blank":
        lines[i] = b""
    else:
        return data.rstrip(b"\r\n"), "no final newline"
    return b"\n".join(lines), f"{how} line {i + 1} ({j + 1})"


GENERIC: tuple[Mutator, ...] = (
    truncate, truncate, flip_bytes, flip_bytes, insert_token, insert_token, delete_span, splice,
    reencode, lines_op, huge_insert,
)  # fmt: skip


# -- JSON: the parsed tree, mutated and written back ------------------------------------------

_KEYS = frozenset(
    "id timestamp timestampEdited author name nickname isBot content type reference messageId attachments "
    "fileName url stickers embeds forwardedMessage isPinned messageCount guild channel messages".split()
)
_PLACEHOLDER = "\x01fuzz-raw-{}\x01"


def _wrong_values(rng: random.Random) -> Any:
    return rng.choice(
        (
            None, True, False, 0, -1, 1.5, 2**63, 2**64, -(2**63), "", "x", "0", "00001", "18446744073709551616",
            "not a date", "2024-13-45T99:99:99", "9999-12-31T23:59:59.9999999-14:00",
            "0001-01-01T00:00:00.0000000+14:00", "2024-02-30T10:00:00+00:00", "\ud800", "\x00", [], {}, [None],
            [1, "a"], {"id": None}, [{}], {"content": 5}, ["x" * 10],
        )
    )  # fmt: skip


def _raw_values(rng: random.Random) -> str:
    """JSON text a tree cannot hold: huge or odd numbers, deep nesting, broken literals."""
    depth = rng.choice((100, 1000, 1100, 5000, 10_000, 100_000))
    return rng.choice(
        (
            "1" + "0" * rng.choice((19, 20, 400, 4300, 5000, 20_000)), "-" + "9" * 5000, "1e999", "-1e999",
            "1.0e-400", "NaN", "Infinity", "-Infinity", "-0", "0x1F", "01", "+1", ".5", "1.", "tru", "nul",
            "'single'", '"\\ud800"', '"\\udc00x\\ud83d"', '"\\u0000"', '"\\uZZZZ"', '"unterminated',
            "[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth, '"' + "\\" * 3 + '"',
            '{"id": "1", "id": 2}', "[1,]", "{,}", "",
        )
    )  # fmt: skip


def _slots(tree: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of the tree, without recursion."""
    out: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            out.append((node, key))
            if isinstance(value, (dict, list)):
                stack.append(value)
    return out


def _pick_slot(tree: Any, rng: random.Random) -> tuple[Any, Any] | None:
    slots = _slots(tree)
    keyed = [slot for slot in slots if slot[1] in _KEYS]
    pool = keyed if keyed and rng.random() < 0.7 else slots
    return rng.choice(pool) if pool else None


def json_tree(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """Parse the sample, apply one to three tree mutations, serialize like DCE or minified."""
    try:
        tree = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # already broken by an earlier mutation
        return data, "json tree (unparseable)"
    raws: list[str] = []
    steps = [_tree_op(tree, rng, raws) for _ in range(_count(rng))]
    if isinstance(tree, dict) and "\x01root" in tree:
        tree = tree["\x01root"]
    indent = rng.choice((2, 2, 4, None, "\t"))
    text = json.dumps(
        tree, indent=indent, ensure_ascii=rng.random() < 0.3, separators=(",", ":") if indent is None else None
    )
    for number, raw in enumerate(raws):
        text = text.replace(json.dumps(_PLACEHOLDER.format(number)), raw)
    layout = "indented" if indent is not None else "minified"
    return text.encode("utf-8", "surrogatepass"), f"json tree [{'; '.join(steps)}] {layout}"


def _tree_op(tree: Any, rng: random.Random, raws: list[str]) -> str:
    how = rng.choice(("drop", "drop", "wrong type", "wrong type", "raw", "raw", "nulls", "huge", "messages", "root"))
    slot = _pick_slot(tree, rng)
    if slot is None:
        return "no slot"
    parent, key = slot
    if how == "drop":
        del parent[key]
        return f"drop {key!r}"
    if how == "wrong type":
        parent[key] = _wrong_values(rng)
        return f"{key!r} = {str(parent[key])[:30]!r}"
    if how == "raw":
        raws.append(_raw_values(rng))
        parent[key] = _PLACEHOLDER.format(len(raws) - 1)
        return f"{key!r} = raw {raws[-1][:20]!r}"
    if how == "nulls":
        sub, share = random.Random(rng.getrandbits(64)), rng.choice((0.02, 0.1, 0.5, 1.0))
        for parent, key in _slots(tree):
            if sub.random() < share:
                parent[key] = None
        return f"null {share:.0%} of values"
    if how == "huge":
        unit = rng.choice(("a", "é", "😀", "\\", '"', "\n", "\u2028"))
        parent[key] = unit * rng.randint(MB // 2, 3 * MB)
        return f"{key!r} = huge {unit!r}"
    messages = tree.get("messages") if isinstance(tree, dict) else None
    if how == "messages" and isinstance(messages, list) and messages:
        sub = random.Random(rng.getrandbits(64))
        what = rng.choice(("shuffle", "reverse", "duplicate", "replace", "not a list"))
        if what == "shuffle":
            sub.shuffle(messages)
        elif what == "reverse":
            messages.reverse()
        elif what == "duplicate":
            messages.extend(sub.choices(messages, k=sub.randint(1, 5)))
        elif what == "replace":
            messages[sub.randrange(len(messages))] = _wrong_values(sub)
        else:
            tree["messages"] = _wrong_values(sub)
        return f"messages: {what}"
    if isinstance(tree, dict):  # the root itself: wrap it, or replace it with its messages
        tree["\x01root"] = rng.choice(([tree.get("messages")], tree.get("messages"), "x", 5, None, [dict(tree)]))
        return "root replaced"
    return "root unchanged"


# -- CSV, TXT, HTML: text mutations that know the layout ------------------------------------


def _line_at(data: bytes, rng: random.Random) -> tuple[int, int]:
    """(start, end) of a random line (end excludes its newline)."""
    starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
    start = rng.choice(starts)
    end = data.find(b"\n", start)
    return start, len(data) if end < 0 else end


def _replace_match(data: bytes, rng: random.Random, pattern: bytes, new: bytes, what: str) -> tuple[bytes, str]:
    found = list(re.finditer(pattern, data))
    if not found:
        return data, f"{what} (no match)"
    m = rng.choice(found)
    return data[: m.start()] + new + data[m.end() :], f"{what} at {m.start()}"


def csv_modernize(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """The 2.15 sample rewritten as 2.42.3+ writes CSV: ',' separated, ISO round-trip dates."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=rng.choice(("\n", "\r\n")))
    for number, row in enumerate(rows):
        row = row[:-1] if row and row[-1] == "" else row
        if number and len(row) > 2:
            try:
                stamp = datetime.strptime(row[2], "%d-%b-%y %I:%M %p")
                row[2] = stamp.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")
            except ValueError:
                pass
        writer.writerow(row)
    return out.getvalue().encode(), "modern CSV layout"


def csv_fields(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    start, end = _line_at(data, rng)
    line = data[start:end]
    sep = b";" if line.count(b";") > line.count(b",") else b","
    how = rng.choice(("extra field", "missing field", "unbalanced quote", "huge field", "date", "empty row", "nul"))
    if how == "extra field":
        line += sep + b'"extra"'
    elif how == "missing field":
        line = line.rsplit(sep, rng.randint(1, 3))[0]
    elif how == "unbalanced quote":
        at = rng.randrange(len(line) + 1)
        line = line[:at] + b'"' + line[at:]
    elif how == "huge field":
        line = sep.join((b'"1"', b'"al"', b'"22-Nov-19 09:27 AM"', b'"' + b"x" * rng.randint(MB // 2, 3 * MB) + b'"'))
        line += sep + b'""' + sep + b'""' + (sep if sep == b";" else b"")
    elif how == "date":
        parts = line.split(sep)
        if len(parts) > 2:
            parts[2 if len(parts) > 5 else 1] = b'"' + rng.choice(_BAD_DATES).encode() + b'"'
        line = sep.join(parts)
    elif how == "empty row":
        line = sep * rng.randint(0, 8)
    else:
        line = line[: len(line) // 2] + b"\x00" + line[len(line) // 2 :]
    return data[:start] + line + data[end:], f"csv {how} at line start {start}"


def csv_header(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    start, end = _line_at(data, random.Random(0))  # the first line
    header = rng.choice(
        (
            b"", b"AuthorID,Author,Date,Content,Attachments,Reactions", b"AuthorID;Author;Date;Content;Attachments;",
            b"Author;Date;Content;Attachments;", b"AuthorID,Author,Content", b'"AuthorID","Author","Date"',
            b"AuthorID,Author,Date,Content,Attachments,Reactions,Extra", b"\xef\xbb\xbfAuthorID,Author",
            b'AuthorID;"Author;Date', b"Author,Date",
        )
    )  # fmt: skip
    return header + data[end:], f"csv header {header[:30]!r}"


_BAD_DATES = (
    "", " ", "99/99/9999 99:99 PM", "31-Feb-19 09:27 AM", "22-Nov-19 25:61 AM", "22-Nov-19 00:30 AM", "0",
    "99999999999999", "0000000000000", "13/13/2024 1:00 PM", "1/13/2024 1:00 PM", "2024-01-01T00:00:00",
    "0001-01-01T00:00:00.0000000+14:00", "9999-12-31T23:59:59.9999999-14:00", "9999-12-31 23:59", "0001-01-01 0:00",
    "22-Xyz-19 09:27 AM", "١٢/١٢/٢٠٢٤ ١:٠٠", "[", "]", "22-Nov-19 09:27 AM]", "2024-01-01T00:00:00+99:99",
    "1/1/0 1:00 PM", "00-Nov-19 09:27 AM", "22-Nov-0000 09:27 AM", "1" * 400,
)  # fmt: skip


def txt_header(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    lines = data.split(b"\n")
    head = min(len(lines), 9)
    how = rng.choice(("drop", "garble", "separator", "duplicate", "topic"))
    i = rng.randrange(head)
    if how == "drop":
        del lines[i]
    elif how == "garble":
        lines[i] = rng.choice((b"Guild:", b"Channel", b"Messages: many", b"Range: after x to y", b"Before: ]", b"x"))
    elif how == "separator":
        lines[i] = b"=" * rng.choice((0, 61, 63, 62000))
    elif how == "duplicate":
        lines.insert(i, lines[i])
    else:
        lines.insert(i, b"Topic: " + b"t\n" * rng.randint(1, 50))
    return b"\n".join(lines), f"txt header {how} line {i + 1}"


def txt_body(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    how = rng.choice(("date", "date", "marker", "footer", "name", "strip blanks"))
    if how == "date":
        new = b"[" + rng.choice(_BAD_DATES).encode() + b"]"
        return _replace_match(data, rng, rb"(?m)^\[[^\]\n]*\]", new, "txt garbage date")
    if how == "marker":
        start, _ = _line_at(data, rng)
        marker = rng.choice((b"{Attachments}", b"{Embed}", b"{Stickers}", b"{Reactions}", b"{Forwarded Message}"))
        extra = rng.choice((b"", b"\nOriginally sent: x", b"\n\n", b"\nhttps://x.y/a%ZZ.png"))
        return data[:start] + marker + extra + b"\n" + data[start:], f"txt {marker!r} at {start}"
    if how == "footer":
        count = rng.choice((b"100", b"1,000", b"99999999999999999999999999", b"", b"\xc2\xa0", b"1 2 3"))
        return data.rstrip() + b"\n\n" + b"=" * 62 + b"\nExported " + count + b" message(s)\n", "txt footer"
    if how == "name":
        name = rng.choice((b"", b" (pinned)", b"]", b"x" * 100_000, b"\xe2\x80\xae"))
        return _replace_match(data, rng, rb"(?m)(?<=\] )[^\n]*$", name, "txt author name")
    return data.replace(b"\n\n", b"\n"), "txt without blank lines"


_HTML_ATTRS = rb"""\s(?:data-message-id|class|title|onclick|href|src|data-user-id|id|alt)=(?:"[^"]*"|'[^']*'|[^\s>]*)"""


def html_markup(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    hows = ("unclose", "unclose", "nest", "nest in message", "drop attribute", "bad id", "drop tag", "junk", "class")
    how = rng.choice((*hows, "style"))
    if how == "nest in message":  # deep markup inside one message's content: the messages after it must survive
        found = list(re.finditer(rb'class="?chatlog__(?:content|markdown)[^>]*>', data))
        if not found:
            return data, "nest in message (none)"
        at, depth = rng.choice(found).end(), rng.choice((240, 260, 300, 1000, 3000))
        tag = rng.choice((b"span", b"b", b"em", b"div", b"blockquote"))
        nested = (b"<" + tag + b">") * depth + b"deep" + (b"</" + tag + b">") * depth * (rng.random() < 0.7)
        return data[:at] + nested + data[at:], f"html {depth} nested <{tag.decode()}> inside a message"
    if how == "unclose":
        sub, found = random.Random(rng.getrandbits(64)), list(re.finditer(rb"</[a-zA-Z]+>", data))
        if not found:
            return data, "unclose (none)"
        share = rng.choice((0.01, 0.2, 1.0))
        drop = {m.start() for m in found if sub.random() < share} or {rng.choice(found).start()}
        out, last = bytearray(), 0
        for m in found:
            if m.start() in drop:
                out += data[last : m.start()]
                last = m.end()
        return bytes(out + data[last:]), f"html drop {len(drop)} closing tags"
    if how == "nest":
        tag = rng.choice((b"<div>", b"<span>", b"<div class=chatlog__message-group>", b"<blockquote>", b"<b>", b"<ul>"))
        depth, at = rng.choice((300, 1000, 5000, 20_000, 100_000)), rng.randrange(len(data) + 1)
        closing = rng.random() < 0.5
        nested = tag * depth + (b"x" + tag.replace(b"<", b"</").split(b" ")[0].rstrip(b">") + b">") * depth * closing
        return data[:at] + nested + data[at:], f"html {depth} nested {tag!r}"
    if how == "drop attribute":
        return _replace_match(data, rng, _HTML_ATTRS, b"", "html drop attribute")
    if how == "bad id":
        value = rng.choice((b"", b"abc", b"-1", b"0", b"9" * 23, b"18446744073709551616", b"\xef\xbc\x91"))
        new = b'data-message-id="' + value + b'"'
        return _replace_match(data, rng, rb'data-message-id="?\d+"?', new, "html bad id")
    if how == "drop tag":
        return _replace_match(data, rng, rb"<[a-zA-Z][^>]*>", b"", "html drop tag")
    if how == "class":
        new = rng.choice((b"chatlog__messages", b"chatlog__message-group", b"chatlog__message", b"preamble", b"x"))
        return _replace_match(data, rng, rb"chatlog__[a-z-]+", new, "html class")
    if how == "style":
        return _replace_match(data, rng, rb"(?s)<style>.*?</style>", b"", "html drop style")
    junk = rng.choice(
        (
            b"<!--", b"<script>", b"<![CDATA[", b"<?xml version='1.0'?>", b"<!DOCTYPE x>", b"&#99999999;",
            b"<svg><use href=#x-icon></use></svg>", b"<img class=chatlog__emoji>", b"</html>", b"<html>",
            b'<div class="chatlog__message" data-message-id="1">', b"<div class=chatlog__message-container>",
        )
    )  # fmt: skip
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:], f"html insert {junk[:20]!r} at {at}"


_SPECIFIC: dict[str, tuple[Mutator, ...]] = {
    "json": (json_tree, insert_token, truncate),
    "csv": (csv_fields, csv_fields, csv_header),
    "txt": (txt_header, txt_body, txt_body),
    "html": (html_markup,),
}


# -- zip archives ------------------------------------------------------------------------------

_MEMBER_NAMES = (
    "{}", "export/{}", "../{}", "../../etc/{}", "/abs/{}", "C:\\x\\{}", "..\\..\\{}", "a/../../{}", "x [part 2]/{}",
    "{} [part 2].json", "chat-1.json", "chat-2.json", "x_Files/{}", "__MACOSX/._{}", ".{}", "dir/", "name\nline {}",
    "é/{}", "{}.zip", "\x1b]0;retitled\x07{}", "\x1b[2J\x1b[H{}", "x\r  ERROR: fake {}", "a" * 250 + "{}",
    "漢" * 90 + "{}", "\u202e{}",
)  # fmt: skip
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _make_zip(rng: random.Random, corpus: Corpus) -> tuple[bytes, list[str]]:
    buffer, steps = io.BytesIO(), []
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate member names are wanted here
        for _ in range(rng.randint(1, 3)):
            name, data = rng.choice(corpus["zip"])
            fmt = name.split("_", 1)[0].split("-", 1)[0]
            if rng.random() < 0.5:
                data, step = rng.choice(_SPECIFIC[fmt] + GENERIC)(data, rng, corpus)
                steps.append(f"{name}: {step}")
            member = rng.choice(_MEMBER_NAMES).format(name)
            if rng.random() < 0.15:  # a zip inside the zip
                inner = io.BytesIO()
                with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as nested:
                    nested.writestr(name, data)
                data, member = inner.getvalue(), member + ".zip"
                steps.append("nested zip")
            method = rng.choice(_METHODS)
            archive.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data, compress_type=method)
            steps.append(f"member {member[:40]!r} method {method}")
        if rng.random() < 0.1:  # a small bomb: many MB of spaces in a few KB
            archive.writestr("bomb.json", b"{" + b" " * 8 * MB + b"}", compress_type=zipfile.ZIP_DEFLATED)
            steps.append("bomb member")
        if rng.random() < 0.04:  # many members: the directory must be read once, and too many refused
            count = rng.choice((500, 3000, 12_000))
            for n in range(count):
                archive.writestr(f"m/{n}.json", b'{"messages": []}')
            steps.append(f"{count} tiny members")
        if rng.random() < 0.03:  # many 1 MB members: each passes the per-member ratio check, together a bomb
            count = rng.choice((20, 60))
            for n in range(count):
                archive.writestr(f"big/{n}.json", b"{" + b" " * (MB - 2) + b"}", compress_type=zipfile.ZIP_DEFLATED)
            steps.append(f"{count} members of 1 MB")
    data = buffer.getvalue()
    for _ in range(rng.randint(0, 2)):
        op = rng.choice((_lie_sizes, _lie_sizes, _patch_header, truncate, flip_bytes, delete_span, insert_token))
        data, step = op(data, rng, corpus)
        steps.append(step)
    return data, steps


def _headers(data: bytes) -> list[tuple[int, int]]:
    """(offset, kind) of each central (1) and local (0) file header."""
    return [(m.start(), 1) for m in re.finditer(rb"PK\x01\x02", data)] + [
        (m.start(), 0) for m in re.finditer(rb"PK\x03\x04", data)
    ]


def _lie_sizes(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """A header that lies about the compressed or uncompressed size of its member."""
    headers = _headers(data)
    if not headers:
        return data, "lie (no headers)"
    at, central = rng.choice(headers)
    field = rng.choice(("compressed", "uncompressed"))
    offset = at + (20 if central else 18) + (4 if field == "uncompressed" else 0)
    if offset + 4 > len(data):
        return data, "lie (short)"
    old = struct.unpack_from("<I", data, offset)[0]
    new = min(rng.choice((0, 1, old // 2, old * 2, old + 1, 0xFFFFFFFF, 0xFFFFFFFE, 10**9)), 0xFFFFFFFF)
    out = bytearray(data)
    struct.pack_into("<I", out, offset, new)
    return bytes(out), f"{'central' if central else 'local'} header: {field} size {old} -> {new}"


def _patch_header(data: bytes, rng: random.Random, corpus: Corpus) -> tuple[bytes, str]:
    """An unknown compression method, the encryption flag, a wrong CRC or member offset."""
    headers = _headers(data)
    if not headers:
        return data, "patch (no headers)"
    at, central = rng.choice(headers)
    field = rng.choice(("method", "flags", "crc", "offset", "name length"))
    spots = {"method": (10, 8, 2), "flags": (8, 6, 2), "crc": (16, 14, 4), "offset": (42, 42, 4)}
    spots["name length"] = (28, 26, 2)
    where, size = at + spots[field][0 if central else 1], spots[field][2]
    if field == "offset" and not central or where + size > len(data):
        return data, "patch (skipped)"
    values = {"method": (1, 6, 9, 12, 14, 99, 0xFFFF), "flags": (1, 0x41, 0x800, 8)}
    value = rng.choice(values.get(field, (0, 1, 7, 0xFFFF)))
    out = bytearray(data)
    out[where : where + size] = value.to_bytes(4, "little")[:size]
    return bytes(out), f"{'central' if central else 'local'} header: {field} = {value}"


# -- running one case --------------------------------------------------------------------------


_POSITION = re.compile(r"(?:: |, )(?:after )?(?:line|byte|message #|message group|messages\[)\s?\d")


class CaseTimeout(BaseException):
    """A case ran past its time limit (BaseException so no reader's handler swallows it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `CaseTimeout` in the main thread after ``seconds`` (no limit elsewhere)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"no result within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(case: Case, folder: Path, seconds: float = 10.0, config: ReadConfig | None = None) -> Outcome:
    """Write ``case`` into ``folder`` and read it through the public API; classify the result."""
    path = folder / case.file_name
    path.write_bytes(case.data)
    label = str(path)
    try:
        with time_limit(seconds):
            if case.fmt == "zip":  # many files: errors are collected per file, not raised
                reports: list = []
                messages = list(read_exports([path], config, reports))
                errors = [r.error for r in reports if r.error]
                for report in reports:
                    if report.error and (label not in report.error or report.path not in report.error):
                        return Outcome("unhandled", f"error does not name the file: {report.error[:300]}")
                    if report.error and len(report.error) - len(report.path) > MAX_MESSAGE_CHARS:
                        return Outcome("unhandled", f"error of {len(report.error)} characters: {report.error[:300]}")
            else:
                messages, _ = read_export(path, config)
                errors = []
            for message in messages:
                bad = check_message(message)
                if bad:
                    return Outcome("unhandled", f"malformed message #{message.index + 1}: {bad}")
            if errors:
                return Outcome("clean", errors[0], bool(_POSITION.search(errors[0])))
            return Outcome("ok")
    except EchoError as exc:
        text = str(exc)
        if label not in text:
            return Outcome("unhandled", f"error does not name the file: {text[:300]}")
        if len(text) - text.count(label) * len(label) > MAX_MESSAGE_CHARS:
            return Outcome("unhandled", f"error of {len(text)} characters: {text[:300]}...")
        return Outcome("clean", text, isinstance(exc, ExportParseError) and bool(exc.position))
    except CaseTimeout as exc:
        return Outcome("unhandled", f"hang: {exc}")
    except (Exception, RecursionError, MemoryError):
        return Outcome("unhandled", traceback.format_exc(limit=-8))
    finally:
        path.unlink(missing_ok=True)


def check_message(m: Any) -> str | None:
    """Why ``m`` is not a well-formed `Message` (types, aware UTC times, UTF-8-safe text)."""
    if not isinstance(m, Message):
        return f"not a Message: {type(m).__name__}"
    texts = [m.content, m.author.name, m.author.display_name, m.type, m.forwarded_content, *m.attachments, *m.stickers]
    texts += [v for v in (m.id, m.author.id, m.reply_to) if v is not None]
    for text in texts:
        if not isinstance(text, str):
            return f"a text field holds {type(text).__name__}"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text that cannot be written as UTF-8 (lone surrogate)"
    for stamp in (m.timestamp, m.edited):
        if stamp is not None and (not isinstance(stamp, datetime) or stamp.utcoffset() is None):
            return f"a time that is not an aware datetime: {stamp!r}"
    if not isinstance(m.embeds, int) or not isinstance(m.is_pinned, bool) or not isinstance(m.is_forward, bool):
        return "embeds/is_pinned/is_forward of the wrong type"
    if not isinstance(m.attachments, tuple) or not isinstance(m.stickers, tuple):
        return "attachments/stickers not tuples"
    return None
