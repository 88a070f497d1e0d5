"""A build's samples kept on disk while it runs, so memory stays flat however long the export is.

The build streams: conversations close one after another and their samples are shaped at once, but which
conversations are held out (the latest ones in time) and in which order the rows go into the dataset are
known only at the end. `SampleSpool` keeps each conversation's samples as one JSON line in an anonymous
temporary file (removed by the system when it is closed or the process ends; nothing is left in the
user's folders); `SampleView` then reads them back in the final order, as a read-only sequence of
`Sample`s that the writer, the preview and the evaluation iterate, slice and count.
"""

from __future__ import annotations

import tempfile
import threading
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate, islice
from typing import overload

import orjson

from discord_echo.dataset.samples import Sample


class SampleSpool:
    """Samples of many conversations in a temporary file; conversations are numbered 0, 1, 2... as added.

    Where each conversation's line lies is kept in three integer arrays (20 bytes a conversation): a
    million-message export has some 200,000 conversations.
    """

    def __init__(self) -> None:
        # Anonymous (unlinked at once on POSIX): closed with this object or the process, it leaves nothing.
        self._file = tempfile.TemporaryFile(prefix="discord_echo-", suffix=".samples")  # noqa: SIM115
        self._lock = threading.Lock()  # one reader or writer at a time moves the file position
        self._end = 0
        self._offsets = array("q")
        self._lengths = array("l")
        self._counts = array("l")

    def add(self, samples: Sequence[Sample]) -> int:
        """Keep the next conversation's samples (in their order); returns its number."""
        line = orjson.dumps([[s.messages, s.tokens, s.my_message_ids] for s in samples]) + b"\n" if samples else b""
        with self._lock:
            if line:
                self._file.seek(self._end)
                self._file.write(line)
            self._offsets.append(self._end)
            self._lengths.append(len(line))
            self._counts.append(len(samples))
            self._end += len(line)
        return len(self._counts) - 1

    def count(self, conversation: int) -> int:
        """How many samples conversation ``conversation`` gave (0 when none)."""
        return self._counts[conversation]

    def read(self, conversation: int, number_as: int) -> list[Sample]:
        """The samples of ``conversation``, their ``Sample.conversation`` set to ``number_as``."""
        if not self._counts[conversation]:
            return []
        offset, length = self._offsets[conversation], self._lengths[conversation]
        with self._lock:
            self._file.seek(offset)
            line = self._file.read(length)
        return [Sample(messages, tokens, number_as, ids) for messages, tokens, ids in orjson.loads(line)]

    def view(self, order: Sequence[tuple[int, int]]) -> SampleView:
        """The samples of ``(conversation, number_as)`` pairs, in that order, as one sequence."""
        return SampleView(self, [pair for pair in order if self.count(pair[0])])

    def close(self) -> None:
        self._file.close()


class SampleView(Sequence[Sample]):
    """A read-only sequence of spooled samples; each access reads them from the spool's file.

    Indexing and slicing work as on a list; ``+`` gives a list (the tests and benchmarks add train and
    held-out together). Iterating reads one conversation's line at a time, so a writer streams the whole
    dataset in the memory of one conversation.
    """

    def __init__(self, spool: SampleSpool, order: list[tuple[int, int]]):
        self._spool = spool
        self._order = order
        self._ends = list(accumulate(spool.count(conversation) for conversation, _ in order))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __iter__(self) -> Iterator[Sample]:
        for conversation, number_as in self._order:
            yield from self._spool.read(conversation, number_as)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if start >= stop:
                return []
            if step != 1:
                return list(self)[index]
            return list(islice(self._iter_from(start), stop - start))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("sample index out of range")
        return next(self._iter_from(index))

    def _iter_from(self, index: int) -> Iterator[Sample]:
        """Samples from position ``index`` on, reading only the conversations from the one that holds it."""
        first = bisect_right(self._ends, index)
        skip = index - (self._ends[first - 1] if first else 0)
        for position, (conversation, number_as) in enumerate(self._order[first:]):
            samples = self._spool.read(conversation, number_as)
            yield from samples[skip:] if position == 0 else samples

    def __add__(self, other: Sequence[Sample]) -> list[Sample]:
        return [*self, *other]

    def __repr__(self) -> str:
        return f"SampleView({len(self)} samples)"
