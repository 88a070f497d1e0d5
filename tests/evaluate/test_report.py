"""The Compare report: tables and chart rows, inert chat text, and a file that never replaces the user's."""

from __future__ import annotations

import pytest

from discord_echo.core.safe_files import FileExistsRefusedError
from discord_echo.evaluate.metrics import EchoWarning, PerplexityPair
from discord_echo.evaluate.report import (
    REPORT_MARKER,
    REPORT_NAME,
    CompareReport,
    CompareRow,
    perplexity_chart,
    perplexity_table,
    render_report,
    write_report,
)
from discord_echo.evaluate.style import style_stats


def report(**changes) -> CompareReport:
    values = dict(
        me="alex",
        base_model="models/tiny",
        adapter="loras/echo",
        template="Chat Template",
        settings={"seed": 0, "greedy": False},
        mine=PerplexityPair(2000.0, 250.0, 161),
        theirs=PerplexityPair(1900.0, 1000.0, 269),
        style={"real": style_stats(["lol ok"]), "base": style_stats(["Hello."]), "tuned": style_stats(["lol"])},
        rows=[CompareRow("How was it?", "lol ok", "Hello.", "lol")],
        warnings=[EchoWarning("overfit", "The final training loss is 0.42.")],
        instructions="Set **Mode** to instruct.",
    )
    values.update(changes)
    return CompareReport(**values)


def test_perplexity_table_and_chart():
    headers, rows = perplexity_table(report())
    assert headers[:3] == ["held-out replies", "base", "tuned"]
    assert rows == [["yours", 2000.0, 250.0, "-88%", 161], ["the others'", 1900.0, 1000.0, "-47%", 269]]
    chart = perplexity_chart(report(theirs=None))
    assert chart == [
        {"replies": "yours", "model": "base", "perplexity": 2000.0},
        {"replies": "yours", "model": "tuned", "perplexity": 250.0},
    ]


def test_report_sections():
    text = render_report(report())
    assert text.startswith(REPORT_MARKER + "\n")
    for heading in ("## Warnings", "## Perplexity", "## Style", "## Sample replies", "## Chat with your echo"):
        assert heading in text
    assert "| yours | 2000.0 | 250.0 |" in text and "**overfit**" in text
    assert "Set **Mode** to instruct." in text  # our own Markdown is kept


def test_empty_report_says_what_is_missing():
    text = render_report(report(mine=None, theirs=None, style={}, rows=[], warnings=[], instructions=""))
    assert "None." in text and "Not measured (no held-out replies)." in text and "None generated." in text


@pytest.mark.parametrize(
    ("reply", "absent", "present"),
    [
        ("<script>alert(1)</script>", "<script>", "&lt;script&gt;"),
        ("a | b", "a | b", r"a \| b"),
        ("line1\nline2", "line1\nline2", "line1<br>line2"),
        ("**bold** [link](http://x)", "**bold**", r"\*\*bold\*\* \[link\]\(http://x\)"),
        ("<!-- comment -->", "<!--", "&lt;\\!\\-\\-"),
    ],
)
def test_chat_text_is_escaped(reply, absent, present):
    text = render_report(report(rows=[CompareRow(reply, reply, reply, reply)], me=reply))
    body = text.split("\n", 1)[1]
    assert absent not in body and present in body


def test_long_replies_are_cut_in_cells():
    text = render_report(report(rows=[CompareRow("q", "x" * 1000, "b", "t")]))
    assert "x" * 300 + "…" in text and "x" * 301 not in text


def test_write_report_rewrites_ours_and_refuses_the_users(tmp_path):
    path = write_report(tmp_path, report())
    assert path == tmp_path / REPORT_NAME
    write_report(tmp_path, report(me="alex2"))
    assert "alex2" in path.read_text(encoding="utf-8")
    path.write_text("# my notes\n", encoding="utf-8")
    with pytest.raises(FileExistsRefusedError):
        write_report(tmp_path, report())
    assert path.read_text(encoding="utf-8") == "# my notes\n"
    assert [p.name for p in tmp_path.iterdir()] == [REPORT_NAME]  # no temporary file left behind
