"""The build's token counting on a worker thread, while the build's own thread goes on shaping.

Two kinds of counting run there, for batches of conversations:

1. *pieces*: the pieces of each conversation's turns not counted yet (``uncounted_pieces``), and those of
   the trim candidates it will likely try (`SampleBuilder.likely_trims`); packing composes every candidate
   sample's count from them (dataset/packing.py);
2. *checks*: every packed sample's rendered row, tokenized whole: the trainer's own count, which
   `SampleBuilder.check` compares with the composed one.

A trim candidate not guessed is counted on the build's thread when packing asks for it. Counting every
candidate ahead was tried and cost more than it saved; so did letting packing pause for the worker.

Rendering is Python work and stays on the build's thread; tokenizing is most of the cost, and the tokenizer
runs it without holding the GIL, so on a second core it runs beside the build almost for free.
Conversations go to the worker in batches (``BATCH_TEXTS`` texts, at most ``BATCH_CONVERSATIONS``
conversations): each hand-over makes the two threads wait for the GIL once, and one per conversation cost
more than the tokenizing saved. The worker takes pieces before checks (packing waits for pieces, nothing
waits for checks until the end). At most ``MAX_BATCHES`` batches of pieces and ``MAX_CHECK_BATCHES`` of
checks are under way; the build waits for the oldest beyond that, so what waits in memory is bounded (some
hundreds of conversations, at most ~4,000 samples). Conversations come back in the order they were
prepared, so the spool numbers them as before. At the end, what the worker has not started is counted on
the build's thread beside it. One worker thread: the tokenizer's own thread pool is not asked for more.

A renderer whose tokenizer is not safe to call from two threads (``counts_in_background`` False), or one
without composed counts, is counted on the caller's thread, conversation by conversation.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from discord_echo.dataset.packing import PreparedConversation, SampleBuilder, ShapedConversation
from discord_echo.dataset.samples import TokenCounter

BATCH_TEXTS = 512
BATCH_CONVERSATIONS = 256
MAX_BATCHES = 2  # batches of pieces under way: packing waits for them
MAX_CHECK_BATCHES = 8  # batches of checks under way (their samples wait in memory: 4,096 at most)
PIECES, CHECKS = range(2)


class _Worker:
    """One thread counting batches, most urgent first: packing waits for its pieces, and nothing waits for
    checks until the end, so a batch of checks never holds up the pieces packing needs."""

    URGENT, LATER = 0, 1

    def __init__(self, count: Callable[[list[str]], list[int]]):
        self._count = count
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # first come, first served within a priority
        self._thread = threading.Thread(target=self._run, name="discord_echo-counts", daemon=True)
        self._thread.start()

    def submit(self, texts: list[str], priority: int) -> Future[list[int]]:
        counts: Future[list[int]] = Future()
        self._queue.put((priority, next(self._order), texts, counts))
        return counts

    def stop(self) -> None:
        """Stop after the batch under way; the batches not started are cancelled."""
        self._queue.put((-1, -1, None, None))
        self._thread.join()
        while not self._queue.empty():
            counts = self._queue.get_nowait()[3]
            if counts is not None:
                counts.cancel()

    def _run(self) -> None:
        while True:
            _, _, texts, counts = self._queue.get()
            if counts is None:
                return
            if not counts.set_running_or_notify_cancel():
                continue  # cancelled: counted on the build's thread instead
            try:
                counts.set_result(self._count(texts))
            except BaseException as exc:  # noqa: BLE001 - handed over, raised on the build's thread
                counts.set_exception(exc)


@dataclass
class _Batch:
    """Conversations handed to the worker together, with the texts it tokenizes for them."""

    conversations: list = field(default_factory=list)  # PreparedConversation to prime, Shaped to check
    texts: list[str] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)  # pieces already in ``texts`` (priming)
    counts: Future[list[int]] | None = None

    def full(self) -> bool:
        return len(self.texts) >= BATCH_TEXTS or len(self.conversations) >= BATCH_CONVERSATIONS

    def done(self) -> bool:
        return self.counts is None or self.counts.done()


class BackgroundCounts:
    """Prepared conversations in, packed and checked ones out, in the same order (see the module doc)."""

    def __init__(self, builder: SampleBuilder, renderer: TokenCounter):
        self._builder = builder
        self._renderer = renderer
        self._worker = _Worker(renderer.count_rendered) if renderer.counts_in_background and builder.composes else None
        self._sent: tuple[deque[_Batch], ...] = (deque(), deque())
        self._open = [_Batch(), _Batch()]

    def add(self, prepared: PreparedConversation) -> Iterator[ShapedConversation]:
        """Take the next prepared conversation; yields those packed and checked by now, oldest first."""
        if self._worker is None:
            yield self._builder.shape_now(prepared)
            return
        self._offer_pieces(prepared)
        yield from self._advance(final=False)

    def finish(self) -> Iterator[ShapedConversation]:
        """Every conversation still waiting, packed and checked, in order."""
        if self._worker is not None:
            yield from self._advance(final=True)

    def close(self) -> None:
        """Stop the worker thread (counting under way is dropped); safe to call twice."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        for sent in self._sent:
            sent.clear()
        self._open = [_Batch(), _Batch()]

    # -- internals

    def _advance(self, final: bool) -> Iterator[ShapedConversation]:
        """Take in every batch the worker has finished (all of them when ``final``), stage by stage."""
        for stage in (PIECES, CHECKS):
            sent = self._sent[stage]
            if final:
                # The end: what the worker has not started is counted here, beside the batch it is on, so the
                # two threads share the last batches instead of this one waiting through the worker's queue.
                for batch in sent:
                    if batch.counts is not None and batch.counts.cancel():
                        batch.counts = self._counted_here(batch.texts)
                self._send(stage, here=True)
            limit = MAX_BATCHES if stage == PIECES else MAX_CHECK_BATCHES
            while sent and (final or len(sent) > limit or sent[0].done()):
                batch = sent.popleft()
                counts = batch.counts.result() if batch.counts is not None else []
                if stage == CHECKS:
                    yield from self._settle(batch, counts)
                    continue
                self._renderer.remember(batch.texts, counts)
                for prepared in batch.conversations:
                    self._offer_check(self._builder.pack(prepared))

    def _offer_pieces(self, prepared: PreparedConversation) -> None:
        batch = self._open[PIECES]
        batch.conversations.append(prepared)
        if self._builder.composes:
            for piece in self._renderer.uncounted_pieces([prepared.row, *self._builder.likely_trims(prepared)]):
                if piece not in batch.distinct:
                    batch.distinct.add(piece)
                    batch.texts.append(piece)
        if batch.full():
            self._send(PIECES)

    def _offer_check(self, shaped: ShapedConversation) -> None:
        batch = self._open[CHECKS]
        batch.conversations.append(shaped)
        if shaped.composed:
            batch.texts += self._renderer.render_rows([s.messages for s in shaped.samples])
        if batch.full():
            self._send(CHECKS)

    def _send(self, stage: int, here: bool = False) -> None:
        batch, self._open[stage] = self._open[stage], _Batch()
        if not batch.conversations:
            return
        if batch.texts and here:
            batch.counts = self._counted_here(batch.texts)
        elif batch.texts:
            assert self._worker is not None
            batch.counts = self._worker.submit(batch.texts, _Worker.URGENT if stage == PIECES else _Worker.LATER)
        self._sent[stage].append(batch)

    def _counted_here(self, texts: list[str]) -> Future[list[int]]:
        counts: Future[list[int]] = Future()
        counts.set_result(self._renderer.count_rendered(texts))
        return counts

    def _settle(self, batch: _Batch, counts: list[int]) -> Iterator[ShapedConversation]:
        start = 0
        for shaped in batch.conversations:
            if not shaped.composed:
                yield shaped
                continue
            end = start + len(shaped.samples)
            yield self._builder.check(shaped, counts[start:end])
            start = end
