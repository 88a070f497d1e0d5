"""Display-date parsing shared by the CSV, TXT and HTML readers (docs/formats.md, Times, time zones and snowflakes)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from discord_echo.core.errors import ExportParseError
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.display_dates import DisplayDateError, DisplayDates, hold_until_order_known, version_label

UTC = timezone.utc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "settings", "expected", "kind"),
    [
        # <=2.37 default dd-MMM-yy hh:mm tt (Komodo sample)
        ("22-Nov-19 09:27 AM", {}, utc(2019, 11, 22, 9, 27), "month_name"),
        ("22-Nov-19 12:05 AM", {}, utc(2019, 11, 22, 0, 5), "month_name"),
        ("22-Nov-19 12:05 PM", {}, utc(2019, 11, 22, 12, 5), "month_name"),
        # 2.38-2.40 MM/dd/yyyy h:mm tt
        ("01/23/2023 9:15 PM", {}, utc(2023, 1, 23, 21, 15), "numeric"),
        # 2.41+ locale "g" formats
        ("1/28/2024 4:23 PM", {}, utc(2024, 1, 28, 16, 23), "numeric"),  # en-US
        ("1/28/2024 4:23\u202fPM", {}, utc(2024, 1, 28, 16, 23), "numeric"),  # en-US with ICU's narrow space
        ("28/01/2024 16:23", {}, utc(2024, 1, 28, 16, 23), "numeric"),  # en-GB, fr-FR
        ("28.01.2024 16:23", {}, utc(2024, 1, 28, 16, 23), "numeric"),  # de-DE, ru-RU
        ("28.01.2024 16:23:45", {}, utc(2024, 1, 28, 16, 23, 45), "numeric"),  # with seconds
        ("28-1-2024 16:23", {}, utc(2024, 1, 28, 16, 23), "numeric"),  # nl-NL
        ("2025-09-13 4:24 a.m.", {}, utc(2025, 9, 13, 4, 24), "ymd"),  # en-CA (MeshCore sample)
        ("2025-09-13 4:24 p.m.", {}, utc(2025, 9, 13, 16, 24), "ymd"),
        ("2025-09-13 12:10 a.m.", {}, utc(2025, 9, 13, 0, 10), "ymd"),
        ("2024-01-28 16:23", {}, utc(2024, 1, 28, 16, 23), "ymd"),  # sv-SE / ISO-like
        ("2024/1/28 下午 4:23", {}, utc(2024, 1, 28, 16, 23), "ymd"),  # zh-TW style designator first
        # unix / unixms options, 2.24-2.40: absolute, the time zone does not apply
        ("1574414820", {"timezone": "Europe/Berlin"}, utc(2019, 11, 22, 9, 27), "unix"),
        ("1574414820123", {"timezone": "Europe/Berlin"}, utc(2019, 11, 22, 9, 27, 0, 123000), "unix"),
        # CSV 2.42.3+: round-trip "o" with 7 fraction digits and an offset
        ("2024-03-18T21:15:02.1230000+01:00", {}, utc(2024, 3, 18, 20, 15, 2, 123000), "iso"),
        ("2024-03-18T21:15:02.1234567-05:30", {}, utc(2024, 3, 19, 2, 45, 2, 123456), "iso"),
        ("2024-03-18T21:15:02.0000000+00:00", {"timezone": "Asia/Tokyo"}, utc(2024, 3, 18, 21, 15, 2), "iso"),
        # display times are local to the exporting machine: winter +1, summer +2 in Berlin
        ("28.01.2024 16:23", {"timezone": "Europe/Berlin"}, utc(2024, 1, 28, 15, 23), "numeric"),
        ("28.07.2024 16:23", {"timezone": "Europe/Berlin"}, utc(2024, 7, 28, 14, 23), "numeric"),
        ("1/28/2024 4:23 PM", {"timezone": "America/New_York"}, utc(2024, 1, 28, 21, 23), "numeric"),
        # explicit order wins over the month-first default
        ("03/04/2024 10:00", {"day_first": True}, utc(2024, 4, 3, 10, 0), "numeric"),
        ("03/04/2024 10:00", {"day_first": False}, utc(2024, 3, 4, 10, 0), "numeric"),
        ("03/04/2024 10:00", {}, utc(2024, 3, 4, 10, 0), "numeric"),
    ],
)
def test_parse(text: str, settings: dict, expected: datetime, kind: str) -> None:
    dates = DisplayDates(ReadConfig(**settings))
    value = dates.parse(text)
    assert value == expected
    assert value.tzinfo is UTC
    assert dates.kind == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday at noon", "not a date format"),
        ("", "not a date format"),
        ("32/01/2024 16:23", "not a valid date"),
        ("2024-02-30 10:00", "not a valid date"),
        ("22-Foo-19 09:27 AM", "unknown month"),
        ("1/28/2024 14:23 PM", "not a valid date"),
    ],
)
def test_bad_dates_raise(text: str, message: str) -> None:
    with pytest.raises(DisplayDateError, match=message):
        DisplayDates(ReadConfig()).parse(text)


def test_shape_is_learnt_from_the_first_date() -> None:
    dates = DisplayDates(ReadConfig())
    dates.parse("22-Nov-19 09:27 AM")
    assert dates.shape == "dd-MMM-yy hh:mm tt"
    assert dates.matches("01-Dec-19 11:00 PM")
    assert not dates.matches("28.01.2024 16:23")
    with pytest.raises(DisplayDateError, match=r"does not match this file's date format \(dd-MMM-yy hh:mm tt\)"):
        dates.parse("28.01.2024 16:23")


@pytest.mark.parametrize(
    ("first", "day_first"),
    [("13/01/2024 10:00", True), ("01/13/2024 10:00", False), ("01/01/2024 10:00", None)],
)
def test_order_from_data(first: str, day_first: bool | None) -> None:
    dates = DisplayDates(ReadConfig())
    dates.observe(first)
    assert dates.day_first is day_first


def test_configured_order_that_the_data_contradicts_is_a_clear_error() -> None:
    dates = DisplayDates(ReadConfig(day_first=False))
    with pytest.raises(DisplayDateError, match="month-first as configured, check the day_first setting"):
        dates.parse("13/01/2024 10:00")


def test_late_decision_warns_when_earlier_dates_were_guessed() -> None:
    warnings: list[str] = []
    dates = DisplayDates(ReadConfig(), warn=warnings.append)
    assert dates.parse("02/01/2024 10:00") == utc(2024, 2, 1, 10, 0)  # provisional month-first
    assert dates.parse("13/01/2024 10:00") == utc(2024, 1, 13, 10, 0)
    assert dates.parse("02/01/2024 10:00") == utc(2024, 1, 2, 10, 0)
    assert len(warnings) == 1 and "1 earlier ambiguous dates were read month-first" in warnings[0]


def test_lookahead_decides_before_anything_is_converted() -> None:
    warnings: list[str] = []
    dates = DisplayDates(ReadConfig(), warn=warnings.append)
    texts = ["02/01/2024 10:00", "05/01/2024 10:00", "13/01/2024 10:00", "14/01/2024 10:00"]
    values = [dates.parse(text) for text in hold_until_order_known(texts, dates, str)]
    assert values[0] == utc(2024, 1, 2, 10, 0)
    assert dates.day_first is True
    assert warnings == []


def test_lookahead_is_bounded() -> None:
    warnings: list[str] = []
    dates = DisplayDates(ReadConfig(), warn=warnings.append)
    texts = ["02/01/2024 10:00", "05/01/2024 10:00", "13/01/2024 10:00"]
    values = [dates.parse(text) for text in hold_until_order_known(texts, dates, str, limit=2)]
    assert values[0] == utc(2024, 2, 1, 10, 0)  # undecided after 2 records: month-first
    assert len(warnings) == 1


def test_lookahead_yields_held_records_before_an_error() -> None:
    def records():
        yield "02/01/2024 10:00"
        raise ExportParseError("f.csv", "line 3", "broken")

    dates = DisplayDates(ReadConfig())
    seen: list[str] = []
    with pytest.raises(ExportParseError, match="line 3"):
        for record in hold_until_order_known(records(), dates, str):
            seen.append(record)
    assert seen == ["02/01/2024 10:00"]


def test_repeated_dates_are_memoised_but_correct() -> None:
    dates = DisplayDates(ReadConfig())
    assert dates.parse("28.01.2024 16:23") is dates.parse("28.01.2024 16:23")


@pytest.mark.parametrize(
    ("ranges", "label"),
    [
        ([((2, 16), None), (None, (2, 42, 2))], "2.16-2.42.2"),
        ([((2, 16), None), ((2, 42, 3), None)], ">=2.42.3"),
        ([(None, (2, 13))], "<=2.13"),
        ([((2, 15), (2, 15)), (None, (2, 37))], "2.15"),
        ([((2, 16), None), ((2, 24), (2, 40)), ((2, 33), None)], "2.33-2.40"),
        ([(None, (2, 15)), ((2, 41), None)], "<=2.15"),  # contradicting weaker evidence is dropped
        ([(None, None)], None),
    ],
)
def test_version_label(ranges: list, label: str | None) -> None:
    assert version_label(*ranges) == label
