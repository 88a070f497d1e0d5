"""The build's second pass: utterances in, conversations closed as they come, samples out to disk.

`Shaper` receives the cleaned and scrubbed utterances one by one (dataset/pipeline.py `build_dataset`),
groups them into conversations (`ConversationStream`) and shapes each closed conversation's samples at once
(`SampleBuilder`), into a `SampleSpool`. What stays in memory grows only by a few integers per conversation
(`ConversationTable`) and by the reply targets still awaiting their replies, so a build of a million
messages holds about what one of ten thousand does. Channels whose messages are not oldest-first (the first
pass finds them) are kept whole and sorted at the end, as a list-based build would.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import overload

from discord_echo.core.id_sets import snowflake
from discord_echo.dataset.background_counts import BackgroundCounts
from discord_echo.dataset.cleaning import Utterance
from discord_echo.dataset.conversations import Conversation, ConversationConfig, ConversationStream, channel_key
from discord_echo.dataset.packing import SampleBuilder, ShapedConversation
from discord_echo.dataset.privacy.scrubber import Scrubber
from discord_echo.dataset.samples import DatasetConfig, TokenCounter
from discord_echo.dataset.spool import SampleSpool, SampleView

_AWARE_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """What the build keeps of a conversation once its samples are shaped (the turns themselves are gone)."""

    start: datetime
    channel_key: str
    turns: int
    my_turns: int


class ConversationTable(Sequence[ConversationSummary]):
    """Conversation summaries as integer arrays (about 30 bytes each); items are made when asked for.

    A start time is kept as microseconds since 1970 and its time zone as an index into the zones seen.
    """

    def __init__(self) -> None:
        self._starts = array("q")
        self._zones = array("l")
        self._channels = array("l")
        self._turns = array("l")
        self._my_turns = array("l")
        self._ranks = array("l")  # the channel's rank (first utterance seen): breaks ties of equal starts
        self._zone_list: list[tzinfo | None] = []
        self._zone_index: dict[tzinfo | None, int] = {}
        self._channel_list: list[str] = []
        self._channel_index: dict[str, int] = {}
        self._order: list[int] | None = None  # positions in time order, once `sort` ran

    def append(self, start: datetime, channel: str, turns: int, my_turns: int, rank: int) -> None:
        epoch = _NAIVE_EPOCH if start.tzinfo is None else _AWARE_EPOCH
        self._starts.append((start - epoch) // _MICROSECOND)
        self._zones.append(self._index(self._zone_index, self._zone_list, start.tzinfo))
        self._channels.append(self._index(self._channel_index, self._channel_list, channel))
        self._turns.append(turns)
        self._my_turns.append(my_turns)
        self._ranks.append(rank)

    def sort(self) -> list[int]:
        """Put the table in time order (ties: the channel that came first, then the order shaped); returns, for
        each position in time order, the conversation's position as appended."""
        rank = self._ranks
        self._order = sorted(range(len(self._starts)), key=lambda i: (self._starts[i], rank[i], i))
        return self._order

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> ConversationSummary: ...

    @overload
    def __getitem__(self, index: slice) -> list[ConversationSummary]: ...

    def __getitem__(self, index: int | slice) -> ConversationSummary | list[ConversationSummary]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("conversation index out of range")
        i = self._order[index] if self._order is not None else index
        zone = self._zone_list[self._zones[i]]
        moment = (_NAIVE_EPOCH if zone is None else _AWARE_EPOCH) + self._starts[i] * _MICROSECOND
        start = moment if zone is None else moment.astimezone(zone)
        return ConversationSummary(start, self._channel_list[self._channels[i]], self._turns[i], self._my_turns[i])

    def __iter__(self) -> Iterator[ConversationSummary]:
        for index in range(len(self)):
            yield self[index]

    def my_turns(self) -> list[int]:
        """My turns per conversation, in the table's order."""
        order = self._order if self._order is not None else range(len(self))
        return [self._my_turns[i] for i in order]

    @staticmethod
    def _index(index: dict, values: list, value: object) -> int:
        found = index.get(value)
        if found is None:
            found = index[value] = len(values)
            values.append(value)
        return found


class ReplyTargets:
    """The text of each message some later message replies to, kept until its last reply is shaped.

    The first pass counts the replies to each id (`expect`); the second keeps a target's speaker and text
    when it comes by (`keep`) and forgets it once every reply to it has been shaped (`replied`). A reply
    cleaning dropped leaves its target behind; that costs one entry, not a growing index.
    """

    def __init__(self) -> None:
        self._pending: Counter[int | str] = Counter()
        self.texts: dict[str, tuple[str, str]] = {}  # message id -> (speaker, text): SampleBuilder's reply index

    @staticmethod
    def _key(mid: str) -> int | str:
        number = snowflake(mid)
        return number if number >= 0 else mid

    def expect(self, target: str) -> None:
        self._pending[self._key(target)] += 1

    def wanted(self, mid: str) -> bool:
        return self._key(mid) in self._pending

    def keep(self, mid: str, speaker: str, text: str) -> None:
        self.texts[mid] = (speaker, text)

    def replied(self, target: str) -> None:
        key = self._key(target)
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
            return
        self._pending.pop(key, None)
        self.texts.pop(target, None)


class Shaper:
    """Conversations closed as utterances stream in, shaped into samples at once and spooled to disk.

    Its token counting may run on a worker thread (dataset/background_counts.py): end with ``finish``, or
    ``close`` when the build stops early, so the thread stops.
    """

    def __init__(
        self,
        dataset: DatasetConfig,
        conversations: ConversationConfig,
        renderer: TokenCounter,
        system: str | None,
        group_channels: set[str],
        unordered_channels: set[str],
        replies: ReplyTargets,
        speaker_scrubber: Scrubber | None,
    ):
        self.replies = replies
        self.builder = SampleBuilder(dataset, renderer, system, replies.texts)
        self.counts = BackgroundCounts(self.builder, renderer)  # tokenized beside the build where it can be
        self.spool = SampleSpool()
        self.table = ConversationTable()
        self._conversations = conversations
        self._stream = ConversationStream(conversations)
        self._group_channels = group_channels
        self._unordered = unordered_channels  # not oldest-first (the first pass found them): kept, then sorted
        self._speaker_scrubber = speaker_scrubber  # pseudonymizes the others' names in "Name: " prefixes
        self._deferred: dict[str, list[Utterance]] = {}
        self._channel_rank: dict[str, int] = {}

    def add(self, utterance: Utterance) -> None:
        """Take the next utterance; one of a channel that is not in time order is kept until ``finish``."""
        key = channel_key(utterance)
        self._channel_rank.setdefault(key, len(self._channel_rank))
        if key in self._unordered:
            self._deferred.setdefault(key, []).append(utterance)
            return
        for conversation in self._stream.add(utterance):
            self._shape(conversation)

    def finish(self) -> tuple[SampleView, SampleView, ConversationTable, int]:
        """Shape what is left; returns (train, held-out, conversations in time order, held-out conversations)."""
        for conversation in self._stream.finish():
            self._shape(conversation)
        for items in self._deferred.values():
            items.sort(key=lambda u: (u.message.timestamp, u.message.index))
            stream = ConversationStream(self._conversations)
            for utterance in items:
                for conversation in stream.add(utterance):
                    self._shape(conversation)
            for conversation in stream.finish():
                self._shape(conversation)
        self._deferred.clear()
        for checked in self.counts.finish():
            self._keep(checked)
        self.counts.close()
        order = self.table.sort()
        start = held_out_start(self.table.my_turns(), self.builder.config.eval_fraction)
        numbered = [(shaped, number) for number, shaped in enumerate(order)]
        train, held_out = self.spool.view(numbered[:start]), self.spool.view(numbered[start:])
        return train, held_out, self.table, len(order) - start

    def _shape(self, conversation: Conversation) -> None:
        my_turns = sum(t.is_me for t in conversation.turns)
        if my_turns:
            if self._speaker_scrubber is not None:
                for turn in conversation.turns:
                    if not turn.is_me:
                        turn.speaker = self._speaker_scrubber.scrub(turn.speaker)
            key = conversation.channel_key
            self.table.append(conversation.start, key, len(conversation.turns), my_turns, self._channel_rank[key])
            prepared = self.builder.prepare(conversation, len(self.table) - 1, key in self._group_channels)
            for checked in self.counts.add(prepared):
                self._keep(checked)
        # The quotes are in the prepared segments now: packing, and packing again after a check, needs none.
        for turn in conversation.turns:
            if turn.reply_to is not None:
                self.replies.replied(turn.reply_to)

    def _keep(self, checked: ShapedConversation) -> None:
        number = self.spool.add(self.builder.record(checked))
        if number != checked.number:  # BackgroundCounts hands conversations back in the order they came
            raise RuntimeError(f"conversation {checked.number} was spooled as {number}")

    def close(self) -> None:
        """Stop the counting's worker thread (``finish`` does; call this when a build stops early)."""
        self.counts.close()


def held_out_start(mine: list[int], fraction: float) -> int:
    """Index of the first held-out conversation: the latest ones holding ``fraction`` of my turns.

    ``mine``: my turns in each conversation, in time order.
    """
    if fraction <= 0 or len(mine) < 2:
        return len(mine)
    goal = fraction * sum(mine)
    taken = 0
    start = len(mine)
    while start > 1 and taken < goal:
        start -= 1
        taken += mine[start]
    return start
