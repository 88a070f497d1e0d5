"""The build's token counting on a worker thread, while the build's own thread goes on shaping.

Two kinds of counting run there. Before a conversation is packed, the pieces of its turns not counted yet
are tokenized (``uncounted_pieces``); the packing then composes every candidate's count from them
(dataset/samples.py). After it is packed, every sample's count is checked against the trainer's own count of
the rendered row (`SampleBuilder.check`). Rendering is Python work and stays on the build's thread;
tokenizing is most of the cost, and the tokenizer runs it without holding the GIL, so on a second core it
runs beside the build almost for free.

Conversations go to the worker in batches (``BATCH_TEXTS`` texts, at most ``BATCH_CONVERSATIONS``
conversations): each hand-over makes the two threads wait for the GIL once, and one per conversation cost
more than the tokenizing saved. At most ``MAX_BATCHES`` batches of each kind are under way; the build waits
for the oldest beyond that, so the conversations held in memory stay a few hundred. Conversations come back
in the order they were prepared, so the spool numbers them as before. One worker thread: the tokenizer's own
thread pool is not asked for more.

A renderer whose tokenizer is not safe to call from two threads (``counts_in_background`` False), or one
without composed counts, is counted on the caller's thread, conversation by conversation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from discord_echo.dataset.samples import PreparedConversation, SampleBuilder, ShapedConversation, TokenCounter

BATCH_TEXTS = 512
BATCH_CONVERSATIONS = 256
MAX_BATCHES = 2


@dataclass
class _Batch:
    """Conversations handed to the worker together, with the texts it tokenizes for them."""

    conversations: list = field(default_factory=list)  # PreparedConversation before packing, else Shaped
    texts: list[str] = field(default_factory=list)
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
        self._worker = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="discord_echo-counts")
            if renderer.counts_in_background and builder.composes
            else None
        )
        self._priming: deque[_Batch] = deque()  # sent: pieces being counted
        self._checking: deque[_Batch] = deque()  # sent: samples being checked
        self._open_priming = _Batch()
        self._open_checking = _Batch()
        self._open_pieces: set[str] = set()

    def add(self, prepared: PreparedConversation) -> Iterator[ShapedConversation]:
        """Take the next prepared conversation; yields those packed and checked by now, oldest first."""
        if self._worker is None:
            yield self._builder.shape_now(prepared)
            return
        batch = self._open_priming
        batch.conversations.append(prepared)
        if self._builder.composes:
            for piece in self._renderer.uncounted_pieces([prepared.row]):
                if piece not in self._open_pieces:
                    self._open_pieces.add(piece)
                    batch.texts.append(piece)
        if batch.full():
            self._send_priming()
        yield from self._advance(final=False)

    def finish(self) -> Iterator[ShapedConversation]:
        """Every conversation still waiting, packed and checked, in order."""
        if self._worker is None:
            return
        self._send_priming()
        yield from self._advance(final=True)

    def close(self) -> None:
        """Stop the worker thread (counting under way is dropped); safe to call twice."""
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None
        self._priming.clear()
        self._checking.clear()

    # -- internals

    def _advance(self, final: bool) -> Iterator[ShapedConversation]:
        while self._priming and (final or len(self._priming) > MAX_BATCHES or self._priming[0].done()):
            batch = self._priming.popleft()
            if batch.counts is not None:
                self._renderer.remember(batch.texts, batch.counts.result())
            for prepared in batch.conversations:
                self._to_check(self._builder.pack(prepared))
        if final:
            self._send_checking()
        while self._checking and (final or len(self._checking) > MAX_BATCHES or self._checking[0].done()):
            yield from self._settle(self._checking.popleft())

    def _to_check(self, shaped: ShapedConversation) -> None:
        batch = self._open_checking
        batch.conversations.append(shaped)
        if shaped.composed:
            batch.texts += self._renderer.render_rows([s.messages for s in shaped.samples])
        if batch.full():
            self._send_checking()

    def _send_priming(self) -> None:
        batch, self._open_priming, self._open_pieces = self._open_priming, _Batch(), set()
        self._send(batch, self._priming)

    def _send_checking(self) -> None:
        batch, self._open_checking = self._open_checking, _Batch()
        self._send(batch, self._checking)

    def _send(self, batch: _Batch, sent: deque[_Batch]) -> None:
        if not batch.conversations:
            return
        if batch.texts:
            assert self._worker is not None
            batch.counts = self._worker.submit(self._renderer.count_rendered, batch.texts)
        sent.append(batch)

    def _settle(self, batch: _Batch) -> Iterator[ShapedConversation]:
        counts = batch.counts.result() if batch.counts is not None else []
        start = 0
        for shaped in batch.conversations:
            if not shaped.composed:
                yield shaped
                continue
            end = start + len(shaped.samples)
            yield self._builder.check(shaped, counts[start:end])
            start = end
