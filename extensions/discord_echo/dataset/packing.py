"""From conversations to training samples that teach one person's voice and nothing else.

`SampleBuilder` takes `Conversation`s and a chat renderer (templates/chat.py); gives `Sample`s
(dataset/samples.py): OpenAI ``messages`` lists in which **me** is ``assistant`` and everyone else is
``user``, so the webui trainer, which masks every non-assistant token, trains only on my words
(docs/why-echoes-fail.md, Training on the friend's lines: a cause of "unrelated" replies).

How a conversation becomes samples:

* A *segment* is everything the others said since my last turn (one ``user`` message; in
  group chats each line is prefixed ``Name: ``) followed by my turn (``assistant``). User
  and assistant therefore always alternate, which strict templates (Mistral) require.
* Segments are packed in order into samples of at most ``context_turns + 1`` messages that
  render within ``cutoff_len`` tokens. Samples never overlap, so **each of my messages is
  trained exactly once**.
* A segment too long on its own has its context trimmed, oldest lines first; if my reply
  alone does not fit it is dropped and counted. Nothing is dropped silently, and no sample
  is left for the webui trainer to drop (it drops rows over cutoff; the webui's modules/training.py).
* A conversation I open gets a short stand-in user turn (``opener_prompt``), since chat
  templates and chat mode both expect the user to speak first.
* When my turn replies to a message that is not in the sample, that message is quoted at
  the start of the user turn, so the reply makes sense.
* The last conversations in time (``eval_fraction`` of my turns) become the held-out set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from discord_echo.dataset.conversations import Conversation, Turn
from discord_echo.dataset.samples import ChatMessage, DatasetConfig, Sample, SampleReport, TokenCounter


@dataclass
class _Segment:
    context: list[str]  # lines of the user turn, oldest first
    reply: Turn


@dataclass
class PreparedConversation:
    """One conversation cut into segments, not packed yet; ``row`` holds every segment, for priming counts."""

    number: int
    segments: list[_Segment]
    row: list[ChatMessage]


@dataclass
class ShapedConversation:
    """One conversation's packed samples; ``composed``: their counts are sums of pieces, not yet checked."""

    number: int
    segments: list[_Segment]
    samples: list[Sample]
    dropped: int  # my replies too long even alone
    trimmed: int  # segments whose context was cut to fit
    composed: bool


# `SampleBuilder.likely_trims`: a segment of more characters than this per token of the cutoff probably needs
# trimming (chat text runs 3-4 characters a token), and trimming stops at one of its first TRIM_AHEAD
# candidates almost always (at 37k generated messages: 526 of 534 trimmed turns).
TRIM_GUESS_CHARACTERS = 3
TRIM_AHEAD = 2


class SampleBuilder:
    """Shapes the samples of many conversations with one renderer and one config."""

    def __init__(
        self,
        config: DatasetConfig,
        renderer: TokenCounter,
        system_prompt: str | None,
        reply_index: dict[str, tuple[str, str]] | None = None,
    ):
        self.config = config
        self.renderer = renderer
        self.system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        # message id -> (speaker, text); the build fills it while it streams, so the very dict is kept.
        self.reply_index = reply_index if reply_index is not None else {}
        self.report = SampleReport(exact_tokens=renderer.exact, tokenizer=renderer.description)
        # Counts of the segment runs asked about in the current conversation, keyed by the segments' ids; the
        # value holds the segments themselves, so no id is reused by a temporary while its entry lives.
        self._counted: dict[tuple[int, ...], tuple[tuple[_Segment, ...], int]] = {}
        self._compose = renderer.composes  # False once a composed count failed verification
        self._trimmed = 0

    # -- public -------------------------------------------------------------------------
    def build(self, conversation: Conversation, number: int, group_chat: bool) -> list[Sample]:
        """The conversation's samples, their counts checked at once (`prepare`, `shape_now`, `record`)."""
        return self.record(self.shape_now(self.prepare(conversation, number, group_chat)))

    @property
    def composes(self) -> bool:
        """Whether `pack` composes counts from pieces (until a `check` finds one off)."""
        return self._compose

    def shape_now(self, prepared: PreparedConversation) -> ShapedConversation:
        """Prime, pack and check a prepared conversation on this thread (dataset/background_counts.py does the
        same with the tokenizing on a worker thread)."""
        if self._compose:
            # Every turn of the conversation rendered and tokenized once, in one batch; the packing then
            # composes each candidate's count from these pieces.
            self.renderer.prime([prepared.row])
        shaped = self.pack(prepared)
        if shaped.composed:
            shaped = self.check(shaped, self.renderer.count_tokens_batch([s.messages for s in shaped.samples]))
        return shaped

    def prepare(self, conversation: Conversation, number: int, group_chat: bool) -> PreparedConversation:
        """The conversation's segments, and the row of all of them whose pieces ``pack`` will want counted."""
        self.report.conversations += 1
        prefix = self.config.name_prefix == "always" or (self.config.name_prefix == "auto" and group_chat)
        segments = self._segments(conversation, prefix)
        return PreparedConversation(number, segments, self._messages(segments))

    def likely_trims(self, prepared: PreparedConversation) -> list[list[ChatMessage]]:
        """Rows `pack` will probably count while trimming, guessed from characters alone (no counts yet): the
        first ``TRIM_AHEAD`` trim candidates of each segment longer than ``TRIM_GUESS_CHARACTERS`` per token of
        the cutoff. Counting them ahead, beside the build, spares the build's thread; a wrong guess costs
        only counting time (a trim not guessed is counted when packing asks).
        """
        system = sum(len(m["content"]) for m in self.system)
        longer_than = TRIM_GUESS_CHARACTERS * self.config.cutoff_len
        return [
            self._messages(candidate)
            for segment in prepared.segments
            if system + sum(map(len, segment.context)) + len(segment.reply.text) > longer_than
            for candidate in islice(self._trim_candidates(segment), TRIM_AHEAD)
        ]

    def pack(self, prepared: PreparedConversation) -> ShapedConversation:
        """Pack prepared segments into samples; counts are composed (to `check`) unless a check failed before.

        Packing asks for the counts of the pieces of ``prepared.row`` (and of trimmed turns); ``prime`` them
        first, or each missing one is tokenized when asked for.
        """
        composed = self._compose
        samples, dropped, trimmed = self._pack(prepared.segments, prepared.number)
        return ShapedConversation(prepared.number, prepared.segments, samples, dropped, trimmed, composed)

    def check(self, shaped: ShapedConversation, exact: Sequence[int]) -> ShapedConversation:
        """``shaped`` if ``exact`` (the trainer's counts of its samples) agree with its composed counts; else the
        conversation packed again counting whole rows, as every later one will be.

        Once one check has failed, a conversation packed with composed counts before that was known (on the
        worker's road, dataset/background_counts.py) is packed again whole too, agreeing or not: a composed
        count too high is never emitted, so no check sees it, yet it may have dropped or trimmed a turn. So
        the dataset is the one counting in line would give.
        """
        if not shaped.composed:
            return shaped
        if self._compose and list(exact) == [s.tokens for s in shaped.samples]:
            return shaped
        self._compose = False
        samples, dropped, trimmed = self._pack(shaped.segments, shaped.number)
        return ShapedConversation(shaped.number, shaped.segments, samples, dropped, trimmed, False)

    def record(self, shaped: ShapedConversation) -> list[Sample]:
        """Count a checked conversation in the report; returns its samples."""
        self.report.my_turns += len(shaped.segments)
        if shaped.dropped:
            self.report.dropped["reply_over_cutoff"] += shaped.dropped
        self.report.trimmed_context += shaped.trimmed
        self.report.samples += len(shaped.samples)
        self.report.token_lengths.extend(s.tokens for s in shaped.samples)
        return shaped.samples

    # -- internals ----------------------------------------------------------------------
    def _pack(self, segments: list[_Segment], number: int) -> tuple[list[Sample], int, int]:
        """Samples of one conversation's segments, with the replies dropped and the segments trimmed."""
        self._counted.clear()
        self._trimmed = 0
        samples: list[Sample] = []
        pending: list[_Segment] = []
        dropped = 0
        for segment in segments:
            if pending and self._fits(pending + [segment]):
                pending.append(segment)
                continue
            if pending:
                samples.append(self._sample(pending, number))
            pending = [segment]
            if not self._fits(pending):
                pending = self._trim(segment)
                if not pending:
                    dropped += 1
        if pending:
            samples.append(self._sample(pending, number))
        self._counted.clear()
        return samples, dropped, self._trimmed

    def _segments(self, conversation: Conversation, prefix: bool) -> list[_Segment]:
        segments: list[_Segment] = []
        context: list[str] = []
        for turn in conversation.turns:
            if not turn.is_me:
                context.append(f"{turn.speaker}: {turn.text}" if prefix else turn.text)
                continue
            if not context and segments:
                # Two of my turns in a row (far apart, nobody answered): one assistant turn.
                previous = segments[-1].reply
                merged = Turn(**{**previous.__dict__, "message_ids": list(previous.message_ids)})
                merged.text += "\n" + turn.text
                merged.message_ids += turn.message_ids
                segments[-1] = _Segment(segments[-1].context, merged)
                continue
            quote = self._reply_quote(turn, conversation)
            if quote:
                context.insert(0, quote)
            segments.append(_Segment(context or [self.config.opener_prompt], turn))
            context = []
        return segments

    def _reply_quote(self, turn: Turn, conversation: Conversation) -> str | None:
        if turn.reply_to is None or turn.reply_to not in self.reply_index:
            return None
        index = conversation.turns.index(turn)
        window = conversation.turns[max(0, index - self.config.context_turns) : index]
        if any(turn.reply_to in t.message_ids for t in window):
            return None  # already in view
        speaker, text = self.reply_index[turn.reply_to]
        return f'(replying to {speaker}: "{text}")'

    def _messages(self, segments: Sequence[_Segment]) -> list[ChatMessage]:
        messages = list(self.system)
        for segment in segments:
            messages.append({"role": "user", "content": "\n".join(segment.context)})
            messages.append({"role": "assistant", "content": segment.reply.text})
        return messages

    def _fits(self, segments: Sequence[_Segment]) -> bool:
        turns = 2 * len(segments)
        # "up to K earlier turns" before the final reply: K + 1 messages, user turns included.
        if len(segments) > 1 and turns > self.config.context_turns + 1:
            return False
        return self._count(segments) <= self.config.cutoff_len

    def _count(self, segments: Sequence[_Segment]) -> int:
        # The packing loop asks about the same segments twice (fits? then emit): count once.
        key = tuple(map(id, segments))
        cached = self._counted.get(key)
        if cached is not None:
            return cached[1]
        messages = self._messages(segments)
        if self._compose:
            tokens = self.renderer.count_tokens_composed(messages)
        else:
            tokens = self.renderer.count_tokens(messages)
        self._counted[key] = (tuple(segments), tokens)
        return tokens

    def _trim(self, segment: _Segment) -> list[_Segment]:
        """Drop the oldest context lines, then shorten the oldest remaining line, until it fits."""
        for candidate in self._trim_candidates(segment):
            if self._fits(candidate):
                self._trimmed += 1
                return candidate
        return []

    @staticmethod
    def _trim_candidates(segment: _Segment) -> Iterator[list[_Segment]]:
        """What `_trim` tries, in its order: fewer context lines, then the last line halved from its start."""
        lines = list(segment.context)
        while len(lines) > 1:
            lines.pop(0)
            yield [_Segment(list(lines), segment.reply)]
        text = lines[0]
        while len(text) > 16:
            text = "…" + text[len(text) // 2 :].lstrip("…")
            yield [_Segment([text], segment.reply)]

    def _sample(self, segments: list[_Segment], number: int) -> Sample:
        messages = self._messages(segments)
        ids = [i for s in segments for i in s.reply.message_ids]
        return Sample(messages, self._count(segments), number, ids)
