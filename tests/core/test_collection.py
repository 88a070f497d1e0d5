"""core/collection.py: the garbage collector's thresholds are raised for a job and always put back."""

from __future__ import annotations

import gc
import threading

import pytest

from discord_echo.core.collection import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def default_thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_thresholds_are_raised_inside_and_put_back_after(default_thresholds):
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_they_are_put_back_when_the_job_fails(default_thresholds):
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the build broke")
    assert gc.get_threshold() == (700, 10, 10)


def test_two_jobs_at_once_restore_only_when_the_last_one_ends(default_thresholds):
    first_inside, second_done, seen = threading.Event(), threading.Event(), []

    def first() -> None:
        with fewer_collections():
            first_inside.set()
            second_done.wait(10)
            seen.append(gc.get_threshold())  # the second job ended first: still raised for this one

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(10)
    with fewer_collections():
        pass
    second_done.set()
    thread.join(10)
    assert seen == [(YOUNG_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_host_is_kept(default_thresholds):
    gc.set_threshold(50_000, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == (50_000, 10, 10)
