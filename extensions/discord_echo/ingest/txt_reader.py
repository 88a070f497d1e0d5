"""Read DiscordChatExporter plain-text exports (docs/formats.md, TXT layout per version).

Takes a binary stream of a ``.txt`` export; gives one `Message` per message, streaming, and
fills the `FileReport` with the channel (``Guild:``/``Channel:``/``Topic:`` header), the
declared count (``Messages: N`` up to 2.15, the ``Exported N message(s)`` footer since 2.17)
and a version guess. Layout::

    ==============================================================   (62 '=')
    Guild: ... / Channel: ... / Topic: ... / Messages: ... / Range: ... / After: ... / Before: ...
    ==============================================================
    <blank>
    [<date>] <FullName>[ (pinned)]
    <content lines>
    <blank>
    {Forwarded Message} / {Attachments} / {Embed} / {Stickers} / {Reactions} blocks
    <blank>

A line is a message header only if the line before it is blank (or it is the first after
the header block) and its bracket holds a date of the file's shape, learnt from the first
header (`display_dates`). Content is everything up to the first marker line, minus the blank
lines the writer puts after it (one or two by version; Discord trims message text, so
content never ends with a blank line of its own). TXT has no ids: authors are keyed by
FullName, and messages by position.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Author, Channel, Message, Source, kind_from_fallback_text
from discord_echo.ingest.base import FileReport, clip, iter_text_lines
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.csv_reader import asset_name
from discord_echo.ingest.display_dates import (
    DisplayDateError,
    DisplayDates,
    VersionRange,
    hold_until_order_known,
    version_label,
)

__all__ = ["read_txt"]

SEPARATOR = "=" * 62
_HEADER = re.compile(r"\[(?P<date>[^\]]+)\] (?P<name>.+)")
_PREAMBLE_LINE = re.compile(r"(?P<key>Guild|Channel|Topic|Messages|Range|After|Before):(?: (?P<value>.*))?")
_RANGE_PARTS = re.compile(r"^(?:after|before) | to ")
# "N0" uses the exporting machine's group separator: 2,468 / 2.468 / 2 468 / 2'468.
_FOOTER = re.compile(r"Exported (?P<count>\d[\d.,'\s]*) message\(s\)")
_MARKERS = {
    "{Attachments}": "attachments",
    "{Embed}": "embed",
    "{Stickers}": "stickers",  # 2.33+
    "{Reactions}": "reactions",
    "{Forwarded Message}": "forward",  # 2.47+
}
_MARKER_VERSIONS: dict[str, VersionRange] = {"stickers": ((2, 33), None), "forward": ((2, 47), None)}
_PINNED = " (pinned)"


@dataclass(slots=True)
class _Raw:
    """One message as found by the scanner, before its body is interpreted."""

    line: int
    date: str
    name: str
    pinned: bool
    body: list[str] = field(default_factory=list)


@dataclass
class _State:
    """What the scanner and builder learn along the way, read when the file ends."""

    versions: list[VersionRange] = field(default_factory=list)  # evidence, strongest first
    footer_count: int | None = None
    footer_line: int | None = None

    def evidence(self, versions: VersionRange) -> None:
        if versions not in self.versions:
            self.versions.append(versions)


@dataclass
class _Context:
    """Per-file objects every message needs."""

    source: Source
    channel: Channel
    dates: DisplayDates
    state: _State
    authors: dict[str, Author] = field(default_factory=dict)  # FullName -> one shared Author


def read_txt(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one TXT export; raises `ExportParseError` where it cannot read it."""
    report.format = "txt"
    lines = _plain_lines(iter_text_lines(stream, source))
    dates = DisplayDates(config, warn=lambda text: report.warn(None, text))
    state = _State()
    channel, declared = _read_preamble(lines, source, report, dates, state)
    report.channel, report.declared_count = channel, declared
    report.exporter_version = version_label(*state.versions)
    context = _Context(source, channel, dates, state)
    count = 0
    raws = hold_until_order_known(_scan(lines, dates, source, report, state), dates, lambda raw: raw.date)
    for index, raw in enumerate(raws):
        message = _message(raw, index, context)
        if index == 0:
            report.exporter_version = version_label(*state.versions, dates.versions)
        count += 1
        yield message
    report.exporter_version = version_label(*state.versions, dates.versions)
    if state.footer_count is not None:
        report.declared_count = state.footer_count
    if report.declared_count is not None and report.declared_count != count:
        where = f"line {state.footer_line}" if state.footer_line else None
        report.warn(where, f"the export declares {report.declared_count} messages but {count} were read")


def _plain_lines(numbered: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    for number, line in numbered:
        yield number, line.rstrip("\r\n")


def _read_preamble(
    lines: Iterator[tuple[int, str]], source: Source, report: FileReport, dates: DisplayDates, state: _State
) -> tuple[Channel, int | None]:
    """Consume the header block; return the channel and the ``Messages:`` count (<=2.15)."""
    first = next(lines, None)
    if first is None:
        raise ExportParseError(source.path, "line 1", "the file is empty: a TXT export starts with a header block")
    if first[1].strip() != SEPARATOR:
        raise ExportParseError(
            source.path, "line 1", "not a DiscordChatExporter TXT export: it must start with a line of 62 '='"
        )
    fields: dict[str, str] = {}
    last_key = None
    topic: list[str] = []  # joined once at the end: += on a growing string made 2 MB of topic lines take minutes
    unexpected = 0
    for number, line in lines:
        if line.strip() == SEPARATOR:
            break
        match = _PREAMBLE_LINE.fullmatch(line)
        if match and match["key"] not in fields:
            last_key = match["key"]
            fields[last_key] = match["value"] or ""
            if last_key == "Topic":
                topic = [fields["Topic"]]
        elif last_key == "Topic":  # channel topics may span lines
            topic.append(line)
        else:
            unexpected += 1
            if unexpected == 1:
                report.warn(f"line {number}", f"unexpected line in the export header ignored: {line[:60]!r}")
    else:
        raise ExportParseError(source.path, None, "the export header block never ends (no closing line of '=')")
    if topic:
        fields["Topic"] = "\n".join(topic)
    if unexpected > 1:
        report.warn(None, f"{unexpected - 1:,} more unexpected lines in the export header were ignored")
    for key in ("Guild", "Channel"):
        if key not in fields:
            raise ExportParseError(source.path, "line 2", f"the export header has no '{key}:' line")
    old = "Messages" in fields or "Range" in fields  # 2.15 and earlier (docs/formats.md, TXT layout per version)
    state.evidence((None, (2, 15)) if old else ((2, 16), None))
    for key in ("After", "Before"):
        if key in fields:
            dates.observe(fields[key])
    for part in _RANGE_PARTS.split(fields.get("Range", "")):
        if part:
            dates.observe(part)
    name, category = fields["Channel"], None
    if not old and " / " in name:  # 2.20+: "Category / Name", 2.41+: "cat / parent / thread"
        *parents, name = name.split(" / ")
        category = parents[-1]
    channel = Channel(name=name, category=category, topic=fields.get("Topic") or None, guild_name=fields["Guild"])
    declared = _count(fields["Messages"]) if "Messages" in fields else None
    return channel, declared


def _count(text: str) -> int | None:
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None


def _scan(
    lines: Iterator[tuple[int, str]], dates: DisplayDates, source: Source, report: FileReport, state: _State
) -> Iterator[_Raw]:
    """Split the message area into raw messages; stop at the footer."""
    current: _Raw | None = None
    previous_blank = True
    separator_line: int | None = None  # a '=' line that may open the footer
    for number, line in lines:
        if separator_line is not None:
            match = _FOOTER.fullmatch(line)
            if match:
                state.footer_count, state.footer_line = _count(match["count"]), number
                state.evidence(((2, 17), None))
                _check_tail(lines, report)
                break
            if current is None:
                raise ExportParseError(source.path, f"line {separator_line}", "expected a message or the footer")
            current.body.append(SEPARATOR)  # a content line of '=' after all
            separator_line, previous_blank = None, False
        if previous_blank and line.startswith("["):
            match = _HEADER.fullmatch(line)
            if match and dates.learn(match["date"]):
                if current is not None:
                    yield current
                name = match["name"]
                pinned = name.endswith(_PINNED)
                current = _Raw(number, match["date"], name[: -len(_PINNED)] if pinned else name, pinned)
                previous_blank = False
                continue
        if previous_blank and line == SEPARATOR:
            separator_line = number
            continue
        if current is None:
            if line.strip():
                raise ExportParseError(source.path, f"line {number}", _not_a_header(line, dates))
            continue
        current.body.append(line)
        previous_blank = not line
    else:
        if separator_line is not None:
            if current is None:
                raise ExportParseError(source.path, f"line {separator_line}", "expected a message or the footer")
            current.body.append(SEPARATOR)
    if current is not None:
        yield current


def _not_a_header(line: str, dates: DisplayDates) -> str:
    shown = line[:60] + ("..." if len(line) > 60 else "")
    match = _HEADER.fullmatch(line)
    if match:
        expected = f"a date like this file's others ({dates.shape})" if dates.shape else "a date DCE writes"
        return clip(f"{match['date']!r} in {shown!r} is not {expected}")
    return f"expected a message header '[date] author' after the export header, found {shown!r}"


def _check_tail(lines: Iterator[tuple[int, str]], report: FileReport) -> None:
    for number, line in lines:
        if line.strip() and line.strip() != SEPARATOR:
            report.warn(f"line {number}", "text after the 'Exported N message(s)' footer was ignored")
            return


def _message(raw: _Raw, index: int, context: _Context) -> Message:
    """Interpret a raw message: its date and author, its content, then the marker blocks."""
    try:
        timestamp = context.dates.parse(raw.date)
    except DisplayDateError as exc:
        raise ExportParseError(context.source.path, f"line {raw.line}", f"bad message date: {clip(str(exc))}") from exc
    author = context.authors.get(raw.name)
    if author is None:
        author = context.authors[raw.name] = Author(id=None, name=raw.name, display_name=raw.name)
    body = raw.body
    end = 0
    while end < len(body) and body[end] not in _MARKERS:
        end += 1
    content_end = end
    while content_end and not body[content_end - 1]:  # the writer's separator/closing blank lines
        content_end -= 1
    content = "\n".join(body[:content_end])
    attachments: list[str] = []
    stickers: list[str] = []
    forwarded: list[str] | None = None
    embeds = 0
    mode: str | None = None
    for line in body[end:]:
        if mode == "forward":  # forwarded text runs up to its "Originally sent: <date>" line
            if line.startswith("Originally sent:"):
                mode = None
            elif forwarded is not None:
                forwarded.append(line)
            continue
        marker = _MARKERS.get(line)
        if marker is not None:
            mode = marker
            if marker == "embed":
                embeds += 1
            elif marker == "forward":
                forwarded = []
            if marker in _MARKER_VERSIONS:
                context.state.evidence(_MARKER_VERSIONS[marker])
        elif not line:
            mode = None
        elif mode == "attachments":
            attachments.append(asset_name(line))
        elif mode == "stickers":
            stickers.append(asset_name(line))
    if forwarded:
        while forwarded and not forwarded[-1]:
            forwarded.pop()
    return Message(
        id=None,
        timestamp=timestamp,
        author=author,
        content=content,
        channel=context.channel,
        source=context.source,
        index=index,
        type=kind_from_fallback_text(content),
        attachments=tuple(attachments),
        embeds=embeds,
        stickers=tuple(stickers),
        is_forward=forwarded is not None,
        forwarded_content="\n".join(forwarded or ()),
        is_pinned=raw.pinned,
        line=raw.line,
    )
