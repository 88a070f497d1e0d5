"""One channel read twice: the same export given in two formats (its CSV and its TXT, say).

DiscordChatExporter writes the same messages in every format, and the CSV carries no channel metadata at
all, so channel names cannot tell two files of one channel apart. What can: their messages. `SameChannelCheck`
sees every message as it streams by and keeps a fingerprint of each (the author's name and the text, not the
time: JSON times are UTC while TXT and CSV show the exporting machine's local time). Two files of different
formats whose fingerprints mostly coincide hold the same channel, and every message of it would be read, and
trained on, twice; `warnings` names both files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from discord_echo.core.messages import Message

MIN_MESSAGES = 5  # fewer distinct texts than this say too little to call two files the same channel
MIN_SHARED = 0.5  # the share of the smaller file's texts found in the other file that means "the same"
MAX_KEPT = 50_000  # fingerprints kept per file (its first texts): enough to tell, ~3 MB per file at most


class SameChannelCheck:
    """Fingerprints of the messages of every file seen; `warnings` for pairs that hold the same channel."""

    def __init__(self) -> None:
        self._prints: dict[str, set[int]] = {}
        self._formats: dict[str, str] = {}

    def observe(self, message: Message) -> Message:
        """Remember ``message``'s fingerprint under its file; returns the message (for ``map``).

        Runs once per message read: the file's set is looked up, not made anew for ``setdefault`` each time,
        and a file whose set is full skips the fingerprint.
        """
        words = message.content.split()
        if words:  # the same test as on the joined text: it is empty exactly when there are no words
            path = message.source.path
            prints = self._prints.get(path)
            if prints is None:
                prints = self._prints[path] = set()
                self._formats[path] = message.source.format  # the two dicts gain their keys together
            if len(prints) < MAX_KEPT:
                prints.add(hash((message.author.name.casefold(), " ".join(words))))
        return message

    def watch(self, messages: Iterable[Message]) -> Iterator[Message]:
        """``messages`` unchanged, each one observed on the way."""
        observe = self.observe
        for message in messages:
            yield observe(message)

    def pairs(self) -> list[tuple[str, str]]:
        """``(first file, second file)`` for every two files of different formats that hold the same messages."""
        found = []
        paths = list(self._prints)
        for i, first in enumerate(paths):
            for second in paths[i + 1 :]:
                if self._formats[first] == self._formats[second]:
                    continue  # partitions and copies of one format are joined by the reader
                a, b = self._prints[first], self._prints[second]
                smaller = min(len(a), len(b))
                if smaller >= MIN_MESSAGES and len(a & b) >= MIN_SHARED * smaller:
                    found.append((first, second))
        return found

    def warnings(self) -> list[str]:
        """One sentence per pair found by `pairs`, naming both files."""
        return [
            f"{first} and {second} hold the same channel in two formats ({self._formats[first]} and "
            f"{self._formats[second]}): its messages would be read twice; keep one of them (JSON is the best)"
            for first, second in self.pairs()
        ]
