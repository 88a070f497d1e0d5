"""core/interpreter.py: the collector's thresholds and the switch interval are changed for a build, then put back."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from discord_echo.core.interpreter import SWITCH_INTERVAL, YOUNG_THRESHOLD, tuned_for_build


@pytest.fixture
def default_thresholds():
    saved = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(700, 10, 10)
    sys.setswitchinterval(0.005)
    yield
    gc.set_threshold(*saved[0])
    sys.setswitchinterval(saved[1])


def test_thresholds_are_raised_inside_and_put_back_after(default_thresholds):
    with tuned_for_build():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL, abs=1e-5)
    assert gc.get_threshold() == (700, 10, 10)
    assert sys.getswitchinterval() == pytest.approx(0.005, abs=1e-5)


def test_they_are_put_back_when_the_job_fails(default_thresholds):
    with pytest.raises(RuntimeError), tuned_for_build():
        raise RuntimeError("the build broke")
    assert gc.get_threshold() == (700, 10, 10)
    assert sys.getswitchinterval() == pytest.approx(0.005, abs=1e-5)


def test_two_jobs_at_once_restore_only_when_the_last_one_ends(default_thresholds):
    first_inside, second_done, seen = threading.Event(), threading.Event(), []

    def first() -> None:
        with tuned_for_build():
            first_inside.set()
            second_done.wait(10)
            seen.append((gc.get_threshold(), sys.getswitchinterval()))  # the second ended first: still tuned

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(10)
    with tuned_for_build():
        pass
    second_done.set()
    thread.join(10)
    assert seen == [((YOUNG_THRESHOLD, 10, 10), pytest.approx(SWITCH_INTERVAL, abs=1e-5))]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_host_s_higher_threshold_and_shorter_interval_are_kept(default_thresholds):
    gc.set_threshold(50_000, 10, 10)
    sys.setswitchinterval(0.0002)
    with tuned_for_build():
        assert gc.get_threshold()[0] == 50_000
        assert sys.getswitchinterval() == pytest.approx(0.0002, abs=1e-5)
    assert gc.get_threshold() == (50_000, 10, 10)
