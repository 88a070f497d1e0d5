"""The "Which one is you?" blind test: shuffled, repeatable, scored, and kept in the report."""

from __future__ import annotations

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.evaluate.blind_test import blind_test
from discord_echo.evaluate.comparer import CompareRow
from discord_echo.evaluate.report import CompareReport, render_report

ROWS = [CompareRow(f"question {i}?", f"real {i}", f"base {i}", f"echo {i}") for i in range(12)]


def test_rounds_hold_the_real_and_the_echo_reply_in_a_seeded_order():
    test = blind_test(ROWS, seed=1)
    assert [r.prompt for r in test.rounds] == [row.prompt for row in ROWS]
    for row, round_ in zip(ROWS, test.rounds, strict=True):
        assert sorted(round_.options) == sorted([row.real, row.tuned])
        assert round_.options[round_.echo_option] == row.tuned
    positions = {r.echo_option for r in test.rounds}
    assert positions == {0, 1}, "the echo must not always sit on the same side"
    assert [r.options for r in blind_test(ROWS, seed=1).rounds] == [r.options for r in test.rounds]


def test_the_echo_passes_when_it_is_taken_for_me():
    test = blind_test(ROWS[:4], seed=0)
    test.pick(0, test.rounds[0].echo_option)  # fooled
    test.pick(1, 1 - test.rounds[1].echo_option)  # spotted
    assert (test.answered, test.passed, test.pass_rate) == (2, 1, 0.5)
    assert "1 of 2" in test.summary()
    test.pick(1, test.rounds[1].echo_option)  # a changed mind counts once
    assert (test.answered, test.passed) == (2, 2)


def test_rows_without_a_real_reply_are_left_out_and_none_at_all_is_an_error():
    rows = [CompareRow("typed by hand", "", "b", "e"), ROWS[0]]
    assert len(blind_test(rows).rounds) == 1
    with pytest.raises(ConfigError, match="run Compare first"):
        blind_test(rows[:1])


@pytest.mark.parametrize(("index", "option"), [(5, 0), (0, 2)])
def test_bad_picks_are_refused(index, option):
    with pytest.raises(ConfigError):
        blind_test(ROWS[:2]).pick(index, option)


def test_the_report_keeps_the_blind_test_result():
    test = blind_test(ROWS[:2], seed=0)
    test.pick(0, test.rounds[0].echo_option)
    report = CompareReport(me="alex", base_model="m", adapter="a", template="ChatML", blind=test)
    text = render_report(report)
    assert "## Which one is you?" in text and "1 of 1" in text
