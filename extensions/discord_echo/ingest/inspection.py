"""Summaries of export files: what `discord-echo inspect` and the tab's upload step show.

Takes export paths, gives one `FileSummary` per file (format, exporter version guess,
channel, date range, counts by message type, authors with counts, bots, problems),
computed in one streaming pass so a million-message export needs no list of messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from discord_echo.core.messages import Author, Message
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import FileReport, read_exports


@dataclass
class AuthorCount:
    id: str | None
    name: str
    display_name: str
    is_bot: bool
    count: int


@dataclass
class FileSummary:
    """Everything `inspect` says about one file."""

    path: str
    format: str | None
    exporter_version: str | None
    guild: str | None
    channel: str | None
    messages: int
    first: datetime | None
    last: datetime | None
    types: dict[str, int] = field(default_factory=dict)
    authors: list[AuthorCount] = field(default_factory=list)
    declared_count: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def bots(self) -> list[AuthorCount]:
        return [a for a in self.authors if a.is_bot]

    def to_json(self) -> dict:
        """Plain JSON-able dict (the `inspect --json` schema, one entry of ``files``)."""
        return {
            "path": self.path,
            "format": self.format,
            "exporter_version": self.exporter_version,
            "guild": self.guild,
            "channel": self.channel,
            "messages": self.messages,
            "declared_count": self.declared_count,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "types": self.types,
            "authors": [
                {"id": a.id, "name": a.name, "display_name": a.display_name, "is_bot": a.is_bot, "count": a.count}
                for a in self.authors
            ],
            "bots": [a.name for a in self.bots],
            "warnings": self.warnings,
            "error": self.error,
        }


class _Tally:
    """Running totals for one file."""

    def __init__(self) -> None:
        self.count = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.types: Counter[str] = Counter()
        self.authors: Counter[Author] = Counter()

    def add(self, message: Message) -> None:
        self.count += 1
        ts = message.timestamp
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts
        self.types[message.type] += 1
        self.authors[message.author] += 1


def inspect_exports(
    paths: Iterable[str | Path],
    config: ReadConfig | None = None,
    observe: Callable[[Message], None] | None = None,
) -> list[FileSummary]:
    """Summarize every export file under ``paths``; unreadable files carry their error.

    ``observe`` sees every message as it streams by, so a caller can gather more (the tab
    lists participants) without reading the files twice.
    """
    from discord_echo.ingest.overlap import SameChannelCheck

    reports: list[FileReport] = []
    tallies: dict[str, _Tally] = {}
    same_channel = SameChannelCheck()
    for message in same_channel.watch(read_exports(paths, config, reports)):
        if observe is not None:
            observe(message)
        tally = tallies.get(message.source.path)
        if tally is None:
            tally = tallies[message.source.path] = _Tally()
        tally.add(message)
    summaries = [_summarize(report, tallies.get(report.path, _Tally())) for report in reports]
    # One channel in two formats (its CSV and its TXT): said in both files' summaries.
    for (first, second), warning in zip(same_channel.pairs(), same_channel.warnings(), strict=True):
        for summary in summaries:
            if summary.path in (first, second):
                summary.warnings.append(warning)
    return summaries


def _summarize(report: FileReport, tally: _Tally) -> FileSummary:
    # One person can appear as several Author records (renames, nickname changes): count
    # by id where the format has ids, and show the most frequent name for it.
    by_identity: dict[object, list[tuple[Author, int]]] = {}
    for author, count in tally.authors.items():
        key = author.id if author.id is not None else ("name", author.name)
        by_identity.setdefault(key, []).append((author, count))
    authors = []
    for variants in by_identity.values():
        main = max(variants, key=lambda v: v[1])[0]
        authors.append(
            AuthorCount(
                id=main.id,
                name=main.name,
                display_name=main.display_name,
                is_bot=any(a.is_bot for a, _ in variants),
                count=sum(c for _, c in variants),
            )
        )
    authors.sort(key=lambda a: (-a.count, a.name))
    channel = report.channel
    return FileSummary(
        path=report.path,
        format=report.format,
        exporter_version=report.exporter_version,
        guild=channel.guild_name if channel else None,
        channel=channel.name if channel else None,
        messages=tally.count,
        first=tally.first,
        last=tally.last,
        types=dict(tally.types.most_common()),
        authors=authors,
        declared_count=report.declared_count,
        warnings=list(report.warnings),
        error=report.error,
    )
