"""Parse the *display* dates that DiscordChatExporter writes into TXT, HTML and older CSV.

Takes date strings exactly as an export shows them, plus a `ReadConfig` (``timezone`` of the
exporting machine, ``day_first``). Gives timezone-aware UTC datetimes. Implements
docs/formats.md, Times, time zones and snowflakes:

* ``22-Nov-19 09:27 AM``: the ``dd-MMM-yy hh:mm tt`` default up to 2.37;
* ``01/23/2023 9:15 PM``: ``MM/dd/yyyy h:mm tt``, 2.38-2.40;
* locale short dates (2.41+): en-US ``1/28/2024 4:23 PM``, en-GB/fr-FR ``28/01/2024 16:23``,
  de-DE/ru-RU ``28.01.2024 16:23``, en-CA ``2025-09-13 4:24 a.m.``, ISO-like
  ``2024-01-28 16:23``, optionally with seconds;
* ``1574414820`` / ``1574414820000``: the ``unix`` / ``unixms`` options (2.24-2.40);
* ``2024-03-18T21:15:02.1230000+01:00``: the round-trip format of CSV since 2.42.3.

A file uses one shape throughout, so `DisplayDates` learns it from the first date and then
runs only that shape's compiled pattern (exports can have millions of dates). Display dates
carry no offset: they are read as wall-clock times in ``ReadConfig.timezone`` (default UTC);
in a DST fold the earlier instant is taken. Unix and ISO dates are absolute.

Day/month order of ``a/b/yyyy`` dates: ``ReadConfig.day_first`` when set, else learnt from
the data: a first number above 12 means day-first, a second number above 12 means
month-first. A reader cannot make two passes over a stream, so it holds back up to
`ORDER_LOOKAHEAD` records with `hold_until_order_known` while the order is still open (bounded
memory). If the prefix never decides, month-first (en-US, the documented default locale) is
assumed; should a later date prove day-first, the order switches and a warning says how many
earlier dates may have been read wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TypeVar

from discord_echo.core.errors import EchoError
from discord_echo.ingest.config import ReadConfig

__all__ = ["DisplayDateError", "DisplayDates", "hold_until_order_known", "version_label", "ORDER_LOOKAHEAD"]

# How many records a reader may hold back while the day/month order is unknown.
ORDER_LOOKAHEAD = 5000

Version = tuple[int, ...]
VersionRange = tuple[Version | None, Version | None]  # (lowest, highest) inclusive; None = open
T = TypeVar("T")

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# .NET AM/PM designators: invariant/en "AM", en-CA "a.m.", es "p. m.", and the CJK ones that
# come before the time. ICU may put U+202F before them, which \s matches.
_AMPM = r"[AaPp]\.?\s?[Mm]\.?|午前|午後|上午|下午|오전|오후"
_PM_WORDS = frozenset({"午後", "下午", "오후"})
_TIME = (
    rf"(?:(?P<pre>{_AMPM})\s?)?(?P<H>\d{{1,2}})[:.](?P<M>\d{{2}})(?:[:.](?P<S>\d{{2}}))?"
    rf"(?:\s?(?P<post>{_AMPM}))?"
)
_SHAPES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (kind, label, re.compile(pattern))
    for kind, label, pattern in (
        (
            "iso",
            "ISO 8601 (yyyy-MM-ddTHH:mm:ss.fffffffzzz)",
            r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})T(?P<H>\d{2}):(?P<M>\d{2})"
            r"(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?\s?(?P<tz>Z|[+-]\d{2}:?\d{2})?",
        ),
        ("unix", "Unix time (seconds or milliseconds)", r"(?P<n>\d{9,14})"),
        (
            "month_name",
            "dd-MMM-yy hh:mm tt",
            rf"(?P<d>\d{{1,2}})-(?P<mon>[A-Za-z]{{3}})-(?P<y>\d{{2}}|\d{{4}})\s+{_TIME}",
        ),
        (
            "ymd",
            "year-month-day time",
            rf"(?P<y>\d{{4}})[-/.]\s?(?P<m>\d{{1,2}})[-/.]\s?(?P<d>\d{{1,2}})\.?,?\s+{_TIME}",
        ),
        (
            "numeric",
            "day/month/year or month/day/year time",
            rf"(?P<a>\d{{1,2}})(?P<sep>[-/.])\s?(?P<b>\d{{1,2}})(?P=sep)\s?(?P<y>\d{{4}}|\d{{2}})\.?,?\s+{_TIME}",
        ),
    )
)
_SHAPE_VERSIONS: dict[str, VersionRange] = {
    "iso": ((2, 42, 3), None),
    "unix": ((2, 24), (2, 40)),
    "month_name": (None, (2, 37)),
    "ymd": ((2, 41), None),
    "numeric": ((2, 41), None),
}


class DisplayDateError(ValueError):
    """A date string that matches no known shape or names an impossible date.

    The reader that catches it adds the file and line (`ExportParseError`).
    """


class DisplayDates:
    """The date parser for one export file; create one per file."""

    def __init__(self, config: ReadConfig, warn: Callable[[str], None] | None = None):
        zone = config.tzinfo
        self._zone: tzinfo | None = None if config.timezone in ("UTC", "Etc/UTC") else zone
        self.day_first: bool | None = config.day_first
        self._order_fixed = config.day_first is not None
        self._warn = warn
        self._kind: str | None = None
        self._label = ""
        self._pattern: re.Pattern[str] | None = None
        self._provisional = 0  # ambiguous dates already returned month-first by assumption
        self._twelve_hour = False
        self._last: tuple[str, datetime] | None = None
        self._offsets: dict[str, timezone] = {}

    # -- learning ---------------------------------------------------------------------------

    @property
    def shape(self) -> str | None:
        """Human-readable shape learnt from the first date, e.g. ``dd-MMM-yy hh:mm tt``."""
        return self._label or None

    @property
    def kind(self) -> str | None:
        """``iso``, ``unix``, ``month_name``, ``ymd`` or ``numeric``; None before the first date."""
        return self._kind

    @property
    def versions(self) -> VersionRange:
        """DCE versions whose default settings write dates of this shape (a guess)."""
        if self._kind == "numeric" and self._twelve_hour:
            return ((2, 38), None)  # MM/dd/yyyy h:mm tt (2.38-2.40) or en-US locale (2.41+)
        return _SHAPE_VERSIONS.get(self._kind or "", (None, None))

    @property
    def order_known(self) -> bool:
        """True once dates can be converted without guessing the day/month order."""
        return self._kind is not None and (self._kind != "numeric" or self.day_first is not None)

    def learn(self, text: str) -> bool:
        """Learn the shape from ``text`` if none is known yet; True if ``text`` has the shape."""
        text = text.strip()
        if self._pattern is None:
            for kind, label, pattern in _SHAPES:
                match = pattern.fullmatch(text)
                if match:
                    self._kind, self._label, self._pattern = kind, label, pattern
                    self._twelve_hour = bool(match.groupdict().get("pre") or match.groupdict().get("post"))
                    return True
            return False
        return self._pattern.fullmatch(text) is not None

    matches = learn

    def observe(self, text: str) -> None:
        """Look at a date only to settle the day/month order; never raises."""
        text = text.strip()
        if not self.learn(text) or self._kind != "numeric" or self.day_first is not None:
            return
        match = self._pattern.fullmatch(text) if self._pattern else None
        if match:
            a, b = int(match["a"]), int(match["b"])
            if a > 12 or b > 12:
                self.day_first = a > 12

    # -- parsing ----------------------------------------------------------------------------

    def parse(self, text: str) -> datetime:
        """The UTC instant of one display date; raises `DisplayDateError`."""
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        stripped = text.strip()
        if self._pattern is None and not self.learn(stripped):
            raise DisplayDateError(f"{text!r} is not a date format DiscordChatExporter writes")
        assert self._pattern is not None
        match = self._pattern.fullmatch(stripped)
        if match is None:
            raise DisplayDateError(f"{text!r} does not match this file's date format ({self._label})")
        try:
            value = getattr(self, "_from_" + (self._kind or ""))(match)
        except (ValueError, OverflowError) as exc:
            raise DisplayDateError(f"{text!r} is not a valid date ({exc}){self._order_hint()}") from exc
        self._last = (text, value)
        return value

    def _order_hint(self) -> str:
        if self._kind != "numeric":
            return ""
        order = "day-first" if self.day_first else "month-first"
        how = "as configured" if self._order_fixed else "as learnt from earlier dates"
        return f"; dates were read {order} {how}, check the day_first setting"

    def _local(self, y: int, mo: int, d: int, h: int, mi: int, s: int = 0, us: int = 0) -> datetime:
        if self._zone is None:
            return datetime(y, mo, d, h, mi, s, us, tzinfo=_UTC)
        return datetime(y, mo, d, h, mi, s, us, tzinfo=self._zone).astimezone(_UTC)

    @staticmethod
    def _hour(match: re.Match[str]) -> int:
        hour = int(match["H"])
        designator = match["pre"] or match["post"]
        if designator:
            if hour > 12 or hour == 0:
                raise ValueError(f"hour {hour} with {designator}")
            pm = designator in _PM_WORDS or designator[0] in "Pp"
            hour = hour % 12 + (12 if pm else 0)
        return hour

    @staticmethod
    def _year(text: str) -> int:
        year = int(text)
        return year + 2000 if len(text) == 2 else year  # .NET "yy"; Discord began in 2015

    def _from_iso(self, match: re.Match[str]) -> datetime:
        fraction = match["f"] or ""
        micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
        parts = (int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]))
        second = int(match["S"] or 0)
        offset = match["tz"]
        if offset is None:
            return self._local(*parts, second, micro)
        tz = self._offsets.get(offset)
        if tz is None:
            if offset == "Z":
                tz = _UTC
            else:
                digits = offset[1:].replace(":", "")
                delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                tz = timezone(-delta if offset[0] == "-" else delta)
            self._offsets[offset] = tz
        return datetime(*parts, second, micro, tzinfo=tz).astimezone(_UTC)

    def _from_unix(self, match: re.Match[str]) -> datetime:
        number = match["n"]
        if len(number) >= 12:  # epoch milliseconds (unixms); seconds have 10 digits until 2286
            return _EPOCH + timedelta(milliseconds=int(number))
        return _EPOCH + timedelta(seconds=int(number))

    def _from_month_name(self, match: re.Match[str]) -> datetime:
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            raise ValueError(f"unknown month {match['mon']!r}")
        second = int(match["S"] or 0)
        return self._local(self._year(match["y"]), month, int(match["d"]), self._hour(match), int(match["M"]), second)

    def _from_ymd(self, match: re.Match[str]) -> datetime:
        second = int(match["S"] or 0)
        return self._local(
            int(match["y"]), int(match["m"]), int(match["d"]), self._hour(match), int(match["M"]), second
        )

    def _from_numeric(self, match: re.Match[str]) -> datetime:
        a, b = int(match["a"]), int(match["b"])
        day_first = self.day_first
        if day_first is None:
            if a > 12 or b > 12:
                day_first = self._decide(a > 12, match.string)
            else:
                if a != b:
                    self._provisional += 1
                day_first = False
        day, month = (a, b) if day_first else (b, a)
        second = int(match["S"] or 0)
        return self._local(self._year(match["y"]), month, day, self._hour(match), int(match["M"]), second)

    def _decide(self, day_first: bool, text: str) -> bool:
        self.day_first = day_first
        if day_first and self._provisional and self._warn is not None:
            self._warn(
                f"the day/month order only became clear at {text!r} (day-first); "
                f"{self._provisional} earlier ambiguous dates were read month-first and may be wrong. "
                "Set day_first to read them correctly."
            )
        return day_first


def hold_until_order_known(
    records: Iterable[T], dates: DisplayDates, date_of: Callable[[T], str], limit: int = ORDER_LOOKAHEAD
) -> Iterator[T]:
    """Pass ``records`` through, holding back up to ``limit`` of them until ``dates`` knows
    the day/month order (so no date is converted on a guess the file later contradicts).

    An `EchoError` raised by ``records`` is re-raised only after the held records are out.
    """
    held: list[T] = []
    iterator = iter(records)
    try:
        for record in iterator:
            dates.observe(date_of(record))
            if not held and dates.order_known:
                yield record
                break
            held.append(record)
            if dates.order_known or len(held) >= limit:
                break
    except EchoError:
        yield from held
        raise
    yield from held
    held.clear()
    yield from iterator


def _key(version: Version, high: bool) -> Version:
    return version + ((999,) if high else (0,)) * (3 - len(version))


def version_label(*ranges: VersionRange) -> str | None:
    """``"2.16-2.42.2"``, ``">=2.42.3"``, ``"<=2.13"`` or ``"2.15"`` for the intersection of
    version ranges, strongest evidence first; a range that contradicts the earlier ones is
    ignored (custom date formats make shape-based guesses weak)."""
    lo: Version | None = None
    hi: Version | None = None
    for new_lo, new_hi in ranges:
        cand_lo = max((v for v in (lo, new_lo) if v is not None), key=lambda v: _key(v, False), default=None)
        cand_hi = min((v for v in (hi, new_hi) if v is not None), key=lambda v: _key(v, True), default=None)
        if cand_lo is not None and cand_hi is not None and _key(cand_lo, False) > _key(cand_hi, True):
            continue
        lo, hi = cand_lo, cand_hi

    def show(version: Version) -> str:
        return ".".join(map(str, version))

    if lo is not None and hi is not None:
        return show(lo) if lo == hi else f"{show(lo)}-{show(hi)}"
    if lo is not None:
        return f">={show(lo)}"
    if hi is not None:
        return f"<={show(hi)}"
    return None
