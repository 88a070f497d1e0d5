"""The build streams: the same dataset whatever order a channel comes in, in memory that does not grow
with the export, with the samples kept on disk until they are written."""

from __future__ import annotations

import json
import sys
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from discord_echo.core.id_sets import IdSet
from discord_echo.dataset import pipeline
from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
from discord_echo.dataset.samples import DatasetConfig, Sample
from discord_echo.dataset.spool import SampleSpool
from discord_echo.dataset.streaming import ConversationTable, ReplyTargets
from discord_echo.templates.chat import load_renderer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402  (the bundled sample's generator)


def _export(tmp_path: Path, sessions: int, name: str = "dm.json", reverse: bool = False) -> Path:
    data = make_sample.build(seed=3, sessions=sessions, gap_hours=(1, 2))
    if reverse:  # DiscordChatExporter --reverse: newest first
        data["messages"].reverse()
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _rows(result) -> list[tuple[list, int, int]]:
    return [(s.messages, s.tokens, s.conversation) for s in [*result.train, *result.held_out]]


def test_a_newest_first_export_builds_the_same_dataset_as_the_oldest_first_one(tmp_path):
    # The streaming pass needs each channel oldest-first; a channel that is not is kept and sorted instead.
    renderer = load_renderer()
    settings = BuildConfig()
    oldest_first = build_dataset([_export(tmp_path, 30)], ["alex"], settings, renderer)
    newest_first = build_dataset([_export(tmp_path, 30, "rev.json", reverse=True)], ["alex"], settings, renderer)
    assert _rows(oldest_first) == _rows(newest_first)
    assert len(oldest_first.held_out) and len(oldest_first.train)


def test_samples_are_numbered_by_their_conversation_in_time_order(tmp_path):
    result = build_dataset([_export(tmp_path, 30)], ["alex"], BuildConfig(), load_renderer())
    numbers = [s.conversation for s in [*result.train, *result.held_out]]
    assert numbers == sorted(numbers)
    starts = [result.conversations[n].start for n in numbers]
    assert starts == sorted(starts)
    assert result.conversations[numbers[-1]].my_turns >= 1


def test_build_memory_grows_by_bytes_per_message_not_by_the_messages(tmp_path, monkeypatch):
    # Peak Python memory (tracemalloc, not time) of a build and its write, at two export sizes. What may grow
    # is a few integers per message and per conversation (ids seen, conversation starts): well under 150
    # bytes a message. A build that keeps every message, conversation or sample (as it did) grows by ~1 KB.
    # Both exports are small enough to be held after the first pass; with no room to hold them, they stream as
    # a big one does (the test after this one bounds what holding may cost).
    monkeypatch.setattr(pipeline, "KEPT_BYTES", 0)
    renderer = load_renderer()
    settings = BuildConfig()

    def peak(sessions: int) -> tuple[int, int]:
        path = _export(tmp_path, sessions, f"dm{sessions}.json")
        tracemalloc.start()
        try:
            result = build_dataset([path], ["alex"], settings, renderer)
            write_build(result, settings, tmp_path / f"ud{sessions}", "echo")
            return tracemalloc.get_traced_memory()[1], result.cleaning.total
        finally:
            tracemalloc.stop()

    (small, small_messages), (large, large_messages) = peak(300), peak(1200)
    per_message = (large - small) / (large_messages - small_messages)
    assert per_message < 150, f"{per_message:.0f} bytes per message ({small:,} -> {large:,} bytes)"


def test_a_small_export_is_read_once_and_gives_the_dataset_two_reads_give(tmp_path, monkeypatch):
    path = _export(tmp_path, 60)
    reads = []
    real_read = pipeline.read_exports
    monkeypatch.setattr(pipeline, "read_exports", lambda *args: reads.append(1) or real_read(*args))
    held = build_dataset([path], ["alex"], BuildConfig(), load_renderer())
    assert len(reads) == 1
    monkeypatch.setattr(pipeline, "KEPT_BYTES", 10_000)  # room for a few messages only: read again
    streamed = build_dataset([path], ["alex"], BuildConfig(), load_renderer())
    assert len(reads) == 3
    assert _rows(held) == _rows(streamed)
    assert held.report() == streamed.report()


def test_holding_a_small_export_costs_no_more_than_its_budget(tmp_path, monkeypatch):
    # Peak Python memory of a build whose messages are held, against the same build streamed twice: the
    # difference is what holding costs, and stays within the KEPT_BYTES budget (it counts ~500 bytes a message).
    path = _export(tmp_path, 300)
    reads = []
    real_read = pipeline.read_exports
    monkeypatch.setattr(pipeline, "read_exports", lambda *args: reads.append(1) or real_read(*args))

    def peak(budget: int) -> tuple[int, int]:
        monkeypatch.setattr(pipeline, "KEPT_BYTES", budget)
        reads.clear()
        tracemalloc.start()
        try:
            build_dataset([path], ["alex"], BuildConfig(), load_renderer())
            return tracemalloc.get_traced_memory()[1], len(reads)
        finally:
            tracemalloc.stop()

    (streamed, streamed_reads), (held, held_reads) = peak(0), peak(4_000_000)
    assert (streamed_reads, held_reads) == (2, 1)
    assert 0 < held - streamed < 4_000_000


def test_the_written_dataset_equals_the_samples_the_build_returned(tmp_path):
    settings = BuildConfig()
    result = build_dataset([_export(tmp_path, 30)], ["alex"], settings, load_renderer())
    written = write_build(result, settings, tmp_path / "ud", "echo")
    assert json.loads(written.train.read_text()) == [s.to_row() for s in result.train]
    assert json.loads(written.eval.read_text()) == [s.to_row() for s in result.held_out]


def _sample(n: int) -> Sample:
    return Sample([{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}], n, 0, [str(n)])


def test_spooled_samples_index_slice_and_add_like_a_list():
    spool = SampleSpool()
    for counts in ([0, 1], [], [2], [3, 4, 5]):
        spool.add([_sample(n) for n in counts])
    view = spool.view([(3, 0), (1, 1), (0, 2), (2, 3)])  # conversation 1 gave no sample
    expected = [(3, 0), (4, 0), (5, 0), (0, 2), (1, 2), (2, 3)]  # (sample, numbered as)
    assert [(s.tokens, s.conversation) for s in view] == expected
    assert len(view) == 6
    assert [s.tokens for s in view[1:4]] == [4, 5, 0]
    assert view[-1].tokens == 2 and view[3].tokens == 0
    assert [s.tokens for s in view[::2]] == [3, 5, 1]
    assert view[4:2] == []
    assert [s.tokens for s in view + [_sample(9)]] == [3, 4, 5, 0, 1, 2, 9]
    with pytest.raises(IndexError):
        view[6]


def test_conversation_starts_come_back_exact_in_their_time_zone():
    table = ConversationTable()
    plus_two = timezone(timedelta(hours=2))
    moments = [
        datetime(2024, 3, 1, 18, 0, 0, 123456, tzinfo=timezone.utc),
        datetime(2019, 1, 1, 9, 30, tzinfo=plus_two),
        datetime(2021, 6, 5, 12, 0, 0, 1),  # naive (no zone in the export)
        datetime(2024, 3, 1, 18, 0, 0, 123456, tzinfo=timezone.utc),  # a tie: the earlier-seen channel first
    ]
    for rank, moment in zip([1, 0, 0, 0], moments, strict=True):
        table.append(moment, f"c{rank}", 3, 1, rank)
    order = table.sort()
    assert order == [1, 2, 3, 0]
    assert [c.start for c in table] == [moments[1], moments[2], moments[3], moments[0]]
    assert table[0].start.utcoffset() == timedelta(hours=2) and table[1].start.tzinfo is None


def test_a_reply_target_is_forgotten_once_its_last_reply_is_shaped():
    targets = ReplyTargets()
    targets.expect("1211111111111111111")
    targets.expect("1211111111111111111")
    assert targets.wanted("1211111111111111111") and not targets.wanted("1299999999999999999")
    targets.keep("1211111111111111111", "sam", "the question")
    targets.replied("1211111111111111111")
    assert targets.texts == {"1211111111111111111": ("sam", "the question")}
    targets.replied("1211111111111111111")
    assert targets.texts == {} and not targets.wanted("1211111111111111111")


def test_a_reply_to_an_earlier_conversation_quotes_its_target(tmp_path):
    data = make_sample.build(seed=3, sessions=6)
    messages = data["messages"]
    target = next(m for m in messages if m["author"]["name"] == "sam.writes")
    # My last reply that answers one of Sam's lines (a second line of mine would merge into my turn before).
    pairs = zip(messages[:0:-1], messages[-2::-1], strict=True)  # (message, the one before it), newest first
    late = next(m for m, before in pairs if m["author"]["name"] == "alex" and before["author"]["name"] == "sam.writes")
    late["type"], late["reference"] = "Reply", {"messageId": target["id"], "channelId": "500000000000000001"}
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(data))
    settings = BuildConfig(dataset=DatasetConfig(eval_fraction=0))
    result = build_dataset([path], ["alex"], settings, load_renderer())
    quoted = [m["content"] for s in result.train for m in s.messages if target["content"] in m["content"]]
    assert any(text.startswith("(replying to") for text in quoted)


def test_an_id_set_remembers_ids_in_any_order():
    ids = IdSet()
    ascending = [str(1200000000000000000 + n) for n in range(0, 50, 5)]
    assert all(ids.add(mid) for mid in ascending)
    assert not ids.add(ascending[3])  # a repeat inside the ascending run
    assert ids.add("1200000000000000001")  # new, below the last id
    assert not ids.add("1200000000000000001")
    for odd in ("abc", "0123", "123456789012345678901234"):  # not snowflakes: kept as strings
        assert ids.add(odd) and not ids.add(odd)
    assert len(ids) == len(ascending) + 4


def test_a_long_build_reports_progress_from_both_passes(tmp_path):
    # The tab shows these as its progress bar: the first pass counts what it has read (its total is not
    # known yet), the second moves the fraction, and the last report says how many samples are ready.
    heard: list[tuple[float, str]] = []
    path = _export(tmp_path, 3000)  # ~27,000 messages: more than one report from each pass
    result = build_dataset([path], ["alex"], BuildConfig(), load_renderer(), lambda f, what: heard.append((f, what)))
    fractions = [f for f, _ in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(what == "reading the exports (20,000 messages)" for _, what in heard)
    assert sum(what.startswith("shaping samples (") for _, what in heard) >= 10
    assert heard[-1][1] == f"{len(result.train):,} training samples"
