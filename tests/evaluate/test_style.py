"""Style statistics: each figure pinned on small handmade reply sets."""

from __future__ import annotations

import pytest

from discord_echo.evaluate.style import (
    STYLE_ROWS,
    StyleStats,
    count_emoji,
    distinct_n,
    is_lowercase,
    style_stats,
    style_table,
    words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("no emoji here", 0),
        ("lol 😂", 1),
        ("😂😂😂", 3),
        ("yes 👍🏽", 1),  # skin tone joins its emoji
        ("👨‍👩‍👧", 1),  # ZWJ family
        ("❤️ and ❤", 2),  # with and without the emoji presentation selector
        ("🇫🇷🇩🇪", 2),  # two flags = four regional indicators
        ("1️⃣", 1),  # keycap
        ("gg :pepeLaugh: :kekw:", 2),  # Discord custom emoji as the readers write them
        ("at 12:30:00 ok", 0),  # a time is not a shortcode
        ("a:b:c", 0),  # nor are colons inside words
        ("☀ ✨ ⭐", 3),
    ],
)
def test_count_emoji(text, expected):
    assert count_emoji(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lol yeah", True),
        ("Hey there", False),
        ("ok 👍", True),
        ("123 !!", None),
        ("😂", None),
        ("ça va", True),
        ("Ça va", False),
    ],
)
def test_is_lowercase(text, expected):
    assert is_lowercase(text) is expected


def test_words_keep_inner_apostrophes_and_lowercase():
    assert words("Don't STOP me_now, ok? 42") == ["don't", "stop", "me", "now", "ok", "42"]


@pytest.mark.parametrize(
    ("texts", "n", "expected"),
    [
        ([], 1, 0.0),
        (["a a a a"], 1, 0.25),
        (["a b", "a b"], 1, 0.5),
        (["a b", "a b"], 2, 0.5),
        (["a", "b"], 2, 0.0),  # bigrams never cross messages
        (["a b c", "c d e"], 2, 1.0),
    ],
)
def test_distinct_n(texts, n, expected):
    assert distinct_n(texts, n) == pytest.approx(expected)


def test_style_stats_of_two_styles():
    alex = style_stats(["lol yeah 😅", "omg yes!!", "idk man"])
    sam = style_stats(["Hey! How did it go?", "That makes sense, I think."])
    assert alex.messages == 3 and sam.messages == 2
    assert alex.lowercase_share == 1.0 and sam.lowercase_share == 0.0
    assert alex.emoji_per_message == pytest.approx(1 / 3)
    assert alex.exclamations_per_message == pytest.approx(2 / 3)
    assert sam.periods_per_message == 0.5 and sam.commas_per_message == 0.5
    assert sam.questions_per_message == 0.5 and sam.exclamations_per_message == 0.5
    assert alex.mean_chars == pytest.approx((10 + 9 + 7) / 3) and alex.median_chars == 9
    assert alex.mean_words == pytest.approx(2) and alex.median_words == 2
    assert sam.mean_words == 5


def test_style_stats_top_words_and_empty():
    stats = style_stats(["lol ok", "lol no", "Lol"], top=2)
    assert stats.top_words == (("lol", 3), ("ok", 1))
    assert style_stats([]) == StyleStats()


def test_style_table_has_a_row_per_statistic_and_a_column_per_set():
    headers, rows = style_table({"real": style_stats(["lol"]), "tuned": style_stats(["Hi."])})
    assert headers == ["statistic", "real", "tuned"]
    assert [r[0] for r in rows] == [label for _, label in STYLE_ROWS] + ["top words"]
    assert rows[-1] == ["top words", "lol", "hi"]
