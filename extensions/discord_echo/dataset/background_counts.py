"""The build's token counting on a worker thread, while the build's own thread goes on shaping.

Two kinds of counting run there, in stages, for batches of conversations:

1. *pieces*: the pieces of each conversation's turns not counted yet (``uncounted_pieces``); packing composes
   every candidate sample's count from them (dataset/samples.py);
2. *checks*: every packed sample's rendered row, tokenized whole: the trainer's own count, which
   `SampleBuilder.check` compares with the composed one.

Trimming a turn too long alone counts its shortened candidates as packing asks for them, on the build's
thread: counting every candidate ahead on the worker was tried, and cost more than it saved (most are never
asked for, and the worker is as busy as the build's thread already).

Rendering is Python work and stays on the build's thread; tokenizing is most of the cost, and the tokenizer
runs it without holding the GIL, so on a second core it runs beside the build almost for free.
Conversations go to the worker in batches (``BATCH_TEXTS`` texts, at most ``BATCH_CONVERSATIONS``
conversations): each hand-over makes the two threads wait for the GIL once, and one per conversation cost
more than the tokenizing saved. At most ``MAX_BATCHES`` batches of each stage are under way; the build waits
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
PIECES, CHECKS = range(2)


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
        self._worker = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="discord_echo-counts")
            if renderer.counts_in_background and builder.composes
            else None
        )
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
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None
        for sent in self._sent:
            sent.clear()
        self._open = [_Batch(), _Batch()]

    # -- internals

    def _advance(self, final: bool) -> Iterator[ShapedConversation]:
        """Take in every batch the worker has finished (all of them when ``final``), stage by stage."""
        for stage in (PIECES, CHECKS):
            if final:  # the last batch is counted here while the worker finishes the earlier ones
                self._send(stage, here=True)
            sent = self._sent[stage]
            while sent and (final or len(sent) > MAX_BATCHES or sent[0].done()):
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
            for piece in self._renderer.uncounted_pieces([prepared.row]):
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
            batch.counts = Future()
            batch.counts.set_result(self._renderer.count_rendered(batch.texts))
        elif batch.texts:
            assert self._worker is not None
            batch.counts = self._worker.submit(self._renderer.count_rendered, batch.texts)
        self._sent[stage].append(batch)

    def _settle(self, batch: _Batch, counts: list[int]) -> Iterator[ShapedConversation]:
        start = 0
        for shaped in batch.conversations:
            if not shaped.composed:
                yield shaped
                continue
            end = start + len(shaped.samples)
            yield self._builder.check(shaped, counts[start:end])
            start = end
