"""The set of message ids seen so far, in about 8 bytes per id when they come in order.

Three places drop a message read twice by its id (one file, partitions of one channel, overlapping
exports); a Python set of a million id strings costs ~100 MB, each. Discord ids are snowflakes: integers
that grow with time, and DiscordChatExporter writes messages oldest first, so while ids ascend they are
appended to a sorted ``array`` of 8-byte integers and a new id needs no lookup at all. Ids that arrive out
of order (a second, overlapping export; ``--reverse``) are looked up there by bisection and, when new, kept
in a small set beside it; ids that are not snowflakes (hand-edited files) go to that set as strings.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

_MAX_SNOWFLAKE_DIGITS = 19  # below 2**64; longer digit strings are kept as strings


def snowflake(mid: str) -> int:
    """``mid`` as an integer when it is a plain snowflake (digits, no leading zero), else -1."""
    if len(mid) <= _MAX_SNOWFLAKE_DIGITS and mid.isascii() and mid.isdigit() and mid[0] != "0":
        return int(mid)
    return -1


class IdSet:
    """Message ids seen so far; ``add`` says whether an id is new.

    A reader that parses ids itself, once per message, may take the common case inline (the JSON reader
    does): ``if number > ids.last: ids.last = number; ids.ascending.append(number)``, and call
    `add_parsed` otherwise. ``ascending`` stays sorted that way.
    """

    def __init__(self) -> None:
        self.ascending = array("Q")  # sorted: every id appended is above the last one
        self.last = -1
        self._others: set[int | str] = set()  # ids that came below ``last``, and non-snowflakes

    def add(self, mid: str) -> bool:
        """Remember ``mid``; False when it was seen before.

        The usual case (a snowflake above the last one) is taken here, without the two calls it would
        cost to parse with `snowflake` and go through `add_parsed`: this runs once per message of a build.
        """
        if len(mid) <= _MAX_SNOWFLAKE_DIGITS and mid.isascii() and mid.isdigit() and mid[0] != "0":
            number = int(mid)  # `snowflake`, inline
            if number > self.last:
                self.ascending.append(number)
                self.last = number
                return True
            return self.add_parsed(mid, number)
        return self.add_parsed(mid, -1)

    def add_parsed(self, mid: str, number: int) -> bool:
        """`add` for an id whose `snowflake` value the caller already has."""
        if number > self.last:  # the usual case: nothing above the last id can have been seen
            self.ascending.append(number)
            self.last = number
            return True
        if number >= 0:
            at = bisect_left(self.ascending, number)
            if at < len(self.ascending) and self.ascending[at] == number:
                return False
        key: int | str = number if number >= 0 else mid
        if key in self._others:
            return False
        self._others.add(key)
        return True

    def clear(self) -> None:
        self.ascending = array("Q")
        self.last = -1
        self._others.clear()

    def __len__(self) -> int:
        return len(self.ascending) + len(self._others)
