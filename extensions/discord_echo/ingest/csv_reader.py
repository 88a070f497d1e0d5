"""Read DiscordChatExporter CSV exports (docs/formats.md, CSV headers per version).

Takes a binary stream of a ``.csv`` export; gives one `Message` per row, streaming. Both
layouts are read, told apart by the header line:

* ``;``-separated with a trailing ``;`` (2.15 and earlier): ``Author;Date;Content;Attachments;``
  (<=2.13), ``+Reactions`` (2.14), ``AuthorID;`` first (2.15);
* ``,``-separated ``AuthorID,Author,Date,Content,Attachments,Reactions`` (2.16 and later).

Dates are display strings (`display_dates`) up to 2.42.2 and ISO round-trip dates since
2.42.3. CSV has no message id, channel, bot flag, embeds or stickers: those stay empty.
Quoted fields may span lines; ``Message.line`` is the line where the row starts.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from itertools import chain
from typing import BinaryIO, Protocol
from urllib.parse import unquote

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Author, Channel, Message, Source, kind_from_fallback_text
from discord_echo.ingest.base import FileReport, clip, iter_text_lines
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.display_dates import (
    DisplayDateError,
    DisplayDates,
    VersionRange,
    hold_until_order_known,
    version_label,
)

__all__ = ["read_csv", "asset_name", "split_asset_list"]

# (delimiter, columns) -> DCE versions that wrote exactly that header (docs/formats.md, CSV headers per version).
_HEADERS: dict[tuple[str, tuple[str, ...]], VersionRange] = {
    (";", ("Author", "Date", "Content", "Attachments")): (None, (2, 13)),
    (";", ("Author", "Date", "Content", "Attachments", "Reactions")): ((2, 14), (2, 14)),
    (";", ("AuthorID", "Author", "Date", "Content", "Attachments", "Reactions")): ((2, 15), (2, 15)),
    (",", ("AuthorID", "Author", "Date", "Content", "Attachments", "Reactions")): ((2, 16), None),
}
_MODERN_HEADER = "AuthorID,Author,Date,Content,Attachments,Reactions"
# Attachment URLs are joined by "," with no escaping; a file name may itself contain a
# comma, so split only where the next URL starts (local --media paths: plain split).
_NEXT_URL = re.compile(r",(?=[A-Za-z][A-Za-z0-9+.-]*://)")


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


def asset_name(url: str) -> str:
    """The file name in an attachment/sticker URL or a downloaded asset's local path."""
    path = url.split("?", 1)[0].split("#", 1)[0] if "://" in url else url
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return unquote(name) or url


def split_asset_list(field: str) -> tuple[str, ...]:
    """Names of the attachments in a CSV ``Attachments`` field (URLs joined by ``,``)."""
    if not field:
        return ()
    parts = _NEXT_URL.split(field) if "://" in field else field.split(",")
    return tuple(asset_name(part) for part in parts if part)


def read_csv(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one CSV export; raises `ExportParseError` at the first bad row."""
    report.format = "csv"
    lines = iter_text_lines(stream, source)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise ExportParseError(source.path, "line 1", "the file is empty: a CSV export starts with a header line")
    delimiter = ";" if first[1].count(";") > first[1].count(",") else ","
    reader = csv.reader(chain([first[1]], (line for _, line in lines)), delimiter=delimiter, strict=True)
    header = _read_header(reader, delimiter, source)
    header_versions = _HEADERS[(delimiter, header)]
    report.exporter_version = version_label(header_versions)
    width = len(header) + (delimiter == ";")  # the ; layout ends every row with a separator
    column = {name: i for i, name in enumerate(header)}
    dates = DisplayDates(config, warn=lambda text: report.warn(None, text))
    date_column = column["Date"]
    rows = hold_until_order_known(_rows(reader, width, source), dates, lambda row: row[1][date_column])
    channel = Channel()
    authors: dict[tuple[str, str], Author] = {}
    id_column, name_column, content_column = column.get("AuthorID"), column["Author"], column["Content"]
    attachments_column = column.get("Attachments")
    for index, (line, fields) in enumerate(rows):
        try:
            timestamp = dates.parse(fields[date_column])
        except DisplayDateError as exc:
            raise ExportParseError(source.path, f"line {line}", f"bad Date field: {clip(str(exc))}") from exc
        if index == 0:
            modern_display = delimiter == "," and dates.kind != "iso"
            report.exporter_version = version_label(
                header_versions, (None, (2, 42, 2)) if modern_display else (None, None), dates.versions
            )
        author_id = fields[id_column] if id_column is not None else ""
        name = fields[name_column]
        author = authors.get((author_id, name))
        if author is None:
            author = authors[(author_id, name)] = Author(id=author_id or None, name=name, display_name=name)
        content = fields[content_column]
        if "\r" in content:  # a file converted to CRLF as a whole; Discord stores "\n"
            content = content.replace("\r\n", "\n")
        yield Message(
            id=None,
            timestamp=timestamp,
            author=author,
            content=content,
            channel=channel,
            source=source,
            index=index,
            type=kind_from_fallback_text(content),
            attachments=split_asset_list(fields[attachments_column]) if attachments_column is not None else (),
            line=line,
        )


def _read_header(reader: _CsvReader, delimiter: str, source: Source) -> tuple[str, ...]:
    try:
        fields = next(reader)
    except csv.Error as exc:
        raise ExportParseError(source.path, "line 1", f"unreadable CSV header ({exc})") from exc
    if delimiter == ";" and fields and fields[-1] == "":
        fields = fields[:-1]
    header = tuple(field.strip() for field in fields)
    if (delimiter, header) not in _HEADERS:
        shown = delimiter.join(header)
        shown = shown[:80] + ("..." if len(shown) > 80 else "")
        raise ExportParseError(
            source.path,
            "line 1",
            f"not a DiscordChatExporter CSV header: expected {_MODERN_HEADER!r} "
            f"(or the ';' layout of 2.15 and earlier), found {shown!r}",
        )
    return header


def _rows(reader: _CsvReader, width: int, source: Source) -> Iterator[tuple[int, list[str]]]:
    """``(start line, fields)`` of each data row, checking its field count."""
    start = reader.line_num + 1
    try:
        for fields in reader:
            if fields:  # csv gives [] for an empty line
                if len(fields) != width:
                    raise ExportParseError(
                        source.path,
                        f"line {start}",
                        f"row has {len(fields)} fields, the header has {width}; "
                        "the file may be truncated or edited by hand",
                    )
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ExportParseError(source.path, f"line {start}", f"broken CSV row ({exc})") from exc
