"""Style statistics of a set of chat replies: how long, how lowercase, how many emoji, how varied.

Takes texts (my real held-out replies, or what the base and tuned models generated for the same prompts) and
gives a ``StyleStats`` per set, and a table of several sets side by side. The figures are those peers use to
show a model "writes like me" (docs/why-echoes-fail.md, Measuring an echo: reply length, emoji rate,
lowercase rate, top n-grams; distinct-n from Li et al. 2016 shows whether replies repeat themselves). Pure
Python, no dependencies.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Unicode blocks that hold emoji pictographs (not the full UTS #51 list: enough to tell "uses emoji" apart).
_PICTOGRAPHS = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF))
_JOINERS = {0x200D, 0xFE0F, 0xFE0E} | set(range(0x1F3FB, 0x1F400))  # ZWJ, variation selectors, skin tones
_KEYCAP = 0x20E3  # "1️⃣": digit, VS16, keycap: one emoji
_REGIONAL = (0x1F1E6, 0x1F1FF)  # two regional indicators make one flag
# Discord custom emoji as the readers write them (``:name:``); at least one letter, so "12:30:00" is no emoji.
_SHORTCODE = re.compile(r"(?<![\w:]):[0-9_]*[A-Za-z][A-Za-z0-9_]*:(?![\w:])")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
PUNCTUATION = {".": "periods", "!": "exclamations", "?": "questions", ",": "commas"}


def count_emoji(text: str) -> int:
    """Emoji in ``text``: each pictograph cluster (ZWJ sequences, skin tones, a flag pair) and ``:name:``."""
    count = len(_SHORTCODE.findall(text))
    joined = False
    regional_open = False
    for char in text:
        code = ord(char)
        if code in _JOINERS:
            joined = code == 0x200D
            continue
        if code == _KEYCAP:
            count += 1
            joined = regional_open = False
            continue
        if _REGIONAL[0] <= code <= _REGIONAL[1]:
            count += 0 if regional_open else 1
            regional_open = not regional_open
            joined = False
            continue
        regional_open = False
        if any(low <= code <= high for low, high in _PICTOGRAPHS):
            count += 0 if joined else 1
        joined = False
    return count


def words(text: str) -> list[str]:
    """Lowercased words (letters/digits, inner apostrophes kept: "don't")."""
    return [w.lower() for w in _WORD.findall(text)]


def is_lowercase(text: str) -> bool | None:
    """True if ``text`` has cased letters and none is uppercase; None if it has no cased letter."""
    cased = [c for c in text if c.lower() != c.upper()]
    return None if not cased else not any(c.isupper() for c in cased)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams over the texts (n-grams never cross messages; Li et al. 2016)."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class StyleStats:
    """Per-message style figures of a set of replies (real, base or tuned)."""

    messages: int = 0
    mean_chars: float = 0.0
    median_chars: float = 0.0
    mean_words: float = 0.0
    median_words: float = 0.0
    lowercase_share: float = 0.0  # of messages with cased letters, those with no capital at all
    emoji_per_message: float = 0.0
    periods_per_message: float = 0.0
    exclamations_per_message: float = 0.0
    questions_per_message: float = 0.0
    commas_per_message: float = 0.0
    distinct_1: float = 0.0
    distinct_2: float = 0.0
    top_words: tuple[tuple[str, int], ...] = field(default=())


# (field, label) of the numeric columns, in table order; the report and the UI table use the same list.
STYLE_ROWS: tuple[tuple[str, str], ...] = (
    ("messages", "replies"),
    ("mean_chars", "mean length (chars)"),
    ("median_chars", "median length (chars)"),
    ("mean_words", "mean length (words)"),
    ("median_words", "median length (words)"),
    ("lowercase_share", "all-lowercase share"),
    ("emoji_per_message", "emoji / reply"),
    ("periods_per_message", "'.' / reply"),
    ("exclamations_per_message", "'!' / reply"),
    ("questions_per_message", "'?' / reply"),
    ("commas_per_message", "',' / reply"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
)


def style_stats(texts: Iterable[str], top: int = 10) -> StyleStats:
    """Style statistics of ``texts``; all zeros for none. Punctuation counts characters ("..." is 3)."""
    texts = list(texts)
    if not texts:
        return StyleStats()
    chars = [len(t) for t in texts]
    word_lists = [words(t) for t in texts]
    counts = [len(ws) for ws in word_lists]
    cased = [flag for flag in map(is_lowercase, texts) if flag is not None]

    def per_message(value: Iterable[int]) -> float:
        return sum(value) / len(texts)

    punctuation = {name: per_message(t.count(mark) for t in texts) for mark, name in PUNCTUATION.items()}
    return StyleStats(
        messages=len(texts),
        mean_chars=statistics.fmean(chars),
        median_chars=float(statistics.median(chars)),
        mean_words=statistics.fmean(counts),
        median_words=float(statistics.median(counts)),
        lowercase_share=sum(cased) / len(cased) if cased else 0.0,
        emoji_per_message=per_message(count_emoji(t) for t in texts),
        periods_per_message=punctuation["periods"],
        exclamations_per_message=punctuation["exclamations"],
        questions_per_message=punctuation["questions"],
        commas_per_message=punctuation["commas"],
        distinct_1=distinct_n(texts, 1),
        distinct_2=distinct_n(texts, 2),
        top_words=tuple(Counter(w for ws in word_lists for w in ws).most_common(top)),
    )


def style_table(stats: Mapping[str, StyleStats], digits: int = 2) -> tuple[list[str], list[list[Any]]]:
    """``(headers, rows)``: one row per statistic, one column per set (e.g. real, base, tuned)."""
    headers = ["statistic", *stats]
    rows: list[list[Any]] = []
    for name, label in STYLE_ROWS:
        rows.append([label, *(round(getattr(s, name), digits) for s in stats.values())])
    rows.append(["top words", *(", ".join(w for w, _ in s.top_words[:5]) for s in stats.values())])
    return headers, rows
