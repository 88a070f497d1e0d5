"""Read DiscordChatExporter exports of every format into one stream of `Message` records.

Entry points:

* `read_exports(paths, config, reports)`: files, folders and zips -> messages, partitions
  of one channel joined in order and de-duplicated by message id; one `FileReport` per
  file (format, version guess, channel, warnings, error) appended to ``reports``.
* `read_export(path)`: one file -> list of messages and its report (small files, tests).
* `sniff_format(head)`: which reader a file needs, from its first bytes (never its name,
  since real exports are often renamed: docs/formats.md, Partitions and renamed files).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from discord_echo.core.errors import EchoError, ExportParseError, UnsupportedExportError
from discord_echo.core.id_sets import IdSet
from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport, Reader, detect_text_encoding
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.inputs import ExportInput, discover

__all__ = ["FileReport", "ExportInput", "discover", "read_export", "read_exports", "sniff_format"]

# format -> (module, function); imported on first use so the HTML parser (selectolax) loads only for HTML.
_READERS = {
    "json": ("discord_echo.ingest.json_export.reader", "read_json"),
    "csv": ("discord_echo.ingest.csv_reader", "read_csv"),
    "txt": ("discord_echo.ingest.txt_reader", "read_txt"),
    "html": ("discord_echo.ingest.html_export.reader", "read_html"),
}

_SNIFF_BYTES = 4096


def sniff_format(head: bytes, label: str = "input") -> str:
    """The export format of a file from its first bytes: json, csv, txt or html.

    Raises `ExportParseError` for empty or binary files and `UnsupportedExportError` for
    text that no DCE writer produces.
    """
    encoding, bom = detect_text_encoding(head)
    if not head[bom:].strip():
        raise ExportParseError(label, None, "the file is empty (an export always has a header)")
    if encoding == "utf-16":
        text = head.decode("utf-16", errors="ignore")
    else:
        if b"\x00" in head:
            raise UnsupportedExportError(label, "binary data")
        text = head[bom:].decode("utf-8", errors="replace")
        if text.count("\ufffd") > max(8, len(text) // 50):
            raise UnsupportedExportError(label, "binary data, or text that is not UTF-8")
    start = text.lstrip()
    first_line = start.split("\n", 1)[0].strip()
    if start.startswith(("{", "[")):
        return "json"
    if start.startswith("<"):
        return "html"
    if start.startswith("=" * 20):
        return "txt"
    header = first_line.replace('"', "")
    if header.startswith(("AuthorID,", "AuthorID;", "Author;Date", "Author,Date")):
        return "csv"
    shown = first_line[:60] + ("..." if len(first_line) > 60 else "")
    raise UnsupportedExportError(label, f"it starts with {shown!r}")


def _reader(fmt: str) -> Reader:
    module, function = _READERS[fmt]
    return getattr(importlib.import_module(module), function)


def _read_input(item: ExportInput, config: ReadConfig, report: FileReport) -> Iterator[Message]:
    try:
        with item.open() as stream:
            fmt = sniff_format(stream.read(_SNIFF_BYTES), item.label)
        report.format = fmt
        with item.open() as stream:
            yield from _reader(fmt)(stream, Source(item.label, fmt), report, config)
    except OSError as exc:
        raise ExportParseError(item.label, None, f"could not be read ({exc.strerror or exc})") from exc


def read_exports(
    paths: Iterable[str | Path],
    config: ReadConfig | None = None,
    reports: list[FileReport] | None = None,
    *,
    on_error: str = "collect",
) -> Iterator[Message]:
    """Stream the messages of every export under ``paths``, file by file.

    With ``on_error="collect"`` (the default) a file that cannot be read gets its error in
    its report and the other files are still read; with ``"raise"`` the first `EchoError`
    propagates. Files inside folders and zips that turn out not to be exports are skipped
    with a note in their report. Partitions of one channel are joined and messages whose
    id was already seen in an earlier partition are dropped (partitions may overlap).
    """
    config = config or ReadConfig()
    reports = reports if reports is not None else []
    seen_ids = IdSet()
    current_group = None
    for item in _discover_each(paths, config, reports, on_error):
        if item.group != current_group:
            seen_ids.clear()
            current_group = item.group
        report = FileReport(item.label)
        reports.append(report)
        skipped_dupes = 0
        try:
            for message in _read_input(item, config, report):
                if message.id is not None and not seen_ids.add(message.id) and item.part > 1:
                    skipped_dupes += 1
                    continue
                yield message
        except UnsupportedExportError as exc:
            if not item.explicit:
                report.format = None
                report.warn(None, "skipped: not a DiscordChatExporter export")
                continue
            report.error = str(exc)
            if on_error == "raise":
                raise
        except EchoError as exc:
            report.error = str(exc)
            if on_error == "raise":
                raise
        if skipped_dupes:
            report.warn(None, f"{skipped_dupes} messages already read from an earlier partition were skipped")


def _discover_each(
    paths: Iterable[str | Path], config: ReadConfig, reports: list[FileReport], on_error: str
) -> Iterator[ExportInput]:
    """`discover` path by path, so a missing file or a zip bomb among several is that path's error."""
    for path in paths:
        try:
            found = discover([path], config)
        except EchoError as exc:
            if on_error == "raise":
                raise
            reports.append(FileReport(str(path), error=str(exc)))
            continue
        yield from found


def read_export(path: str | Path, config: ReadConfig | None = None) -> tuple[list[Message], FileReport]:
    """Read one export file completely; raises `EchoError` if it cannot be read."""
    reports: list[FileReport] = []
    messages = list(read_exports([path], config, reports, on_error="raise"))
    return messages, reports[0]
