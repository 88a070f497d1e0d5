"""Token counting on a worker thread (dataset/background_counts.py) gives the dataset counting in line gives."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from discord_echo.core.errors import EchoError
from discord_echo.dataset import background_counts
from discord_echo.dataset.pipeline import BuildConfig, build_dataset
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.templates.chat import ChatRenderer, load_renderer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402  (the bundled sample's generator)

WORKER = "discord_echo-counts"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("tokenizers")
    from discord_echo.train.tiny_models import build_tiny_tokenizer

    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny-tokenizer"))


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    data = make_sample.build(seed=5, sessions=80, gap_hours=(1, 2))
    for number, message in enumerate(data["messages"]):
        if message["author"]["name"] != "alex" and number % 23 == 0:  # the odd long story, to be trimmed
            message["content"] = " ".join(["so anyway the thing about that place is"] * 30)
    path = tmp_path_factory.mktemp("export") / "dm.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def small_batches(monkeypatch):
    # Many small batches, one under way at a time: every hand-over and wait of the pipeline is exercised.
    monkeypatch.setattr(background_counts, "BATCH_TEXTS", 8)
    monkeypatch.setattr(background_counts, "BATCH_CONVERSATIONS", 3)
    monkeypatch.setattr(background_counts, "MAX_BATCHES", 1)


SETTINGS = BuildConfig(dataset=DatasetConfig(cutoff_len=96))  # small: turns get trimmed and dropped too


def _build(export: Path, renderer: ChatRenderer):
    result = build_dataset([export], ["alex"], SETTINGS, renderer)
    rows = [(s.messages, s.tokens, s.conversation, s.my_message_ids) for s in [*result.train, *result.held_out]]
    return rows, result.report()


def _in_line(monkeypatch) -> None:
    monkeypatch.setattr(ChatRenderer, "counts_in_background", property(lambda self: False))


def _threads_counting(monkeypatch) -> set[str]:
    names: set[str] = set()
    real = ChatRenderer.count_rendered

    def count_rendered(self, texts):
        names.add(threading.current_thread().name)
        return real(self, texts)

    monkeypatch.setattr(ChatRenderer, "count_rendered", count_rendered)
    return names


def test_counting_on_the_worker_gives_the_same_dataset_and_report(tiny_dir, export, small_batches, monkeypatch):
    names = _threads_counting(monkeypatch)
    background = _build(export, load_renderer(tiny_dir))
    assert WORKER in names  # the pieces and the checks really went to the worker
    _in_line(monkeypatch)
    names.clear()
    in_line = _build(export, load_renderer(tiny_dir))
    assert WORKER not in names
    assert background == in_line
    assert background[1]["samples"]["trimmed_context"] > 0  # trimming (counted on the build's thread) happened


def test_a_wrong_composed_count_is_caught_on_the_worker_too(tiny_dir, export, small_batches, monkeypatch):
    good = _build(export, load_renderer(tiny_dir))
    renderer = load_renderer(tiny_dir)
    exact_count = renderer.count_tokens_composed
    renderer.count_tokens_composed = lambda messages: exact_count(messages) - 1  # type: ignore[method-assign]
    assert _build(export, renderer) == good  # checked, found off, packed again counting whole rows


def test_one_wrong_count_makes_every_later_conversation_counted_whole_as_in_line(
    tiny_dir, tmp_path, small_batches, monkeypatch
):
    # Composed counts off in two conversations: one too low early on (its check sees it), one far too high a
    # little later (it drops a reply; no check sees a sample that was never made). In line, the second is
    # packed counting whole rows, since the first check failed; on the worker's road it was packed already,
    # with composed counts, and must be packed again for the dataset to be the same.
    data = json.loads(_export_path(tmp_path).read_text())
    authors = [m["author"]["name"] for m in data["messages"]]
    data["messages"][40]["content"] += " zebra"
    later = next(i for i in range(70, len(authors)) if authors[i] == "alex")
    data["messages"][later]["content"] += " giraffe"
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps(data))

    def build(in_line: bool):
        if in_line:
            _in_line(monkeypatch)
        renderer = load_renderer(tiny_dir)
        composed = renderer.count_tokens_composed

        def off(messages):
            text = " ".join(m["content"] for m in messages)
            return composed(messages) - ("zebra" in text) + 10_000 * ("giraffe" in text)

        renderer.count_tokens_composed = off  # type: ignore[method-assign]
        return _build(path, renderer)

    background, in_line = build(in_line=False), build(in_line=True)
    assert background == in_line
    assert "reply_over_cutoff" not in in_line[1]["samples"]["dropped_my_turns"]


def _export_path(tmp_path: Path) -> Path:
    data = make_sample.build(seed=7, sessions=60, gap_hours=(1, 2))
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(data))
    return path


def test_the_worker_thread_stops_after_a_build_and_after_a_failed_one(tiny_dir, export, monkeypatch):
    _build(export, load_renderer(tiny_dir))
    assert not [t for t in threading.enumerate() if t.name.startswith(WORKER)]
    renderer = load_renderer(tiny_dir)

    def broken(rows):
        raise EchoError("the template broke")

    renderer.render_rows = broken  # type: ignore[method-assign]
    with pytest.raises(EchoError, match="the template broke"):
        build_dataset([export], ["alex"], SETTINGS, renderer)
    assert not [t for t in threading.enumerate() if t.name.startswith(WORKER)]


def test_the_trims_counted_ahead_are_the_first_candidates_of_the_long_turns(tiny_dir):
    from discord_echo.dataset.conversations import Conversation, Turn
    from discord_echo.dataset.packing import TRIM_AHEAD, SampleBuilder

    def turn(is_me: bool, text: str) -> Turn:
        moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
        return Turn(is_me, "alex" if is_me else "sam", "a" if is_me else "s", text, moment, moment, ["1"])

    story = " ".join(["so anyway the thing about that place is"] * 40)
    conversation = Conversation(None, "c", [turn(False, "hi"), turn(False, story), turn(True, "lol"), turn(False, "ok"),
                                            turn(True, "k")])  # fmt: skip
    builder = SampleBuilder(DatasetConfig(cutoff_len=96), load_renderer(tiny_dir), "You are alex.", {})
    prepared = builder.prepare(conversation, 0, group_chat=False)
    guessed = builder.likely_trims(prepared)
    long_turn = prepared.segments[0]
    expected = [builder._messages(c) for c in list(builder._trim_candidates(long_turn))[:TRIM_AHEAD]]
    assert guessed == expected  # the short second turn is not guessed
