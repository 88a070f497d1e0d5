"""Streaming reader for DiscordChatExporter JSON exports (docs/formats.md: JSON fields, JSON version hints).

``read_json(stream, source, report, config)`` yields one `Message` per entry of the root
``messages`` array, in file order, without ever holding the whole parsed document: exports
of a busy channel run to gigabytes, and ``json.load`` of those needs several times that in RAM.

The work is split by concern:

* `json_scanner`: the bytes as a sliding window (UTF-8/UTF-16, BOM) and a tolerant JSON
  scanner that finds the extent of each value, for minified or broken files;
* `json_batches`: the document walk: the root object key by key, and the ``messages`` array
  cut into batches at the indentation DCE writes (one ``orjson.loads`` per batch), falling
  back to message by message where a batch does not parse;
* `json_messages`: parsed message objects -> `Message` (times, authors, replies, attachments);
* `json_version`: the exporter version guessed from the fields seen (docs/formats.md, JSON version hints).

Positions in warnings and errors are byte offsets in the file (for UTF-16 files: in their
UTF-8 re-encoding) and 1-based message numbers. Truncated files (an interrupted export)
yield every complete message and add a warning; anything else that cannot be read raises
`ExportParseError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.json_export.batches import ExportParser
from discord_echo.ingest.json_export.messages import MESSAGE_FIELDS as _MESSAGE_FIELDS  # noqa: F401 - pinned by tests
from discord_echo.ingest.json_export.messages import read_messages

# Bytes read (and parsed as one batch) at a time. Small on purpose: a batch's objects then
# stay in the CPU cache and die young, before the garbage collector promotes them; 64 KiB
# parsed a 1M-message export 3x faster than 8 MiB did (benchmarks/ingest.py).
CHUNK_SIZE = 64 * 1024


def read_json(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one DCE JSON export, filling ``report`` with what the file says.

    ``report.channel`` is set when the ``messages`` array starts, ``report.declared_count``
    when ``messageCount`` is read; ``config`` is unused (JSON times carry their offset).
    """
    report.format = "json"
    parser = ExportParser(stream, source.path, report, CHUNK_SIZE)
    read = yield from read_messages(parser, source, report)
    parser.finish(read)
