"""HTML: markup nested hundreds or thousands of levels deep costs at most its own message's formatting, and says so.

lexbor keeps any depth, but the formatting walk recurses per level (it formats 256 levels and takes the
text below as it stands), and HTML5 tree building slows with tags x depth (a batch that could parse
slowly is read message by message, markup below 256 levels kept as text only).
"""

from __future__ import annotations

import io

import pytest

from discord_echo.core.messages import DISCORD_EPOCH_MS, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.reader import read_html

_T0_MS = 1_706_476_985_000


def _mid(n: int) -> str:
    return str((_T0_MS + n * 1000 - DISCORD_EPOCH_MS) << 22)


def _message(n: int, html: str) -> str:
    mid = _mid(n)
    return (
        f'<div id="chatlog__message-container-{mid}" class="chatlog__message-container" data-message-id="{mid}">'
        '<div class="chatlog__message"><div class="chatlog__message-aside"></div>'
        '<div class="chatlog__message-primary"><div class="chatlog__header">'
        '<span class="chatlog__author" title="alice" data-user-id="11">Alice</span>'
        '<span class="chatlog__timestamp"><a href="#">1/28/2024 4:23 PM</a></span></div>'
        f'<div class="chatlog__content chatlog__markdown"><span class="chatlog__markdown-preserve">{html}</span>'
        "</div></div></div></div>"
    )


def _page(messages: list[str]) -> bytes:
    groups = "".join(f'<div class="chatlog__message-group">{m}</div>' for m in messages)
    return (
        "<!DOCTYPE html><html><head><style>.chatlog__message-container{}.preamble__entry{}</style></head><body>"
        '<div class="preamble"><div class="preamble__entries-container"><div class="preamble__entry">G</div>'
        f'<div class="preamble__entry">general</div></div></div><div class="chatlog">{groups}</div>'
        '<div class="postamble"><div class="postamble__entry">Exported 12 message(s)</div></div></body></html>'
    ).encode()


def _read(data: bytes):
    report = FileReport("deep.html")
    messages = list(read_html(io.BytesIO(data), Source("deep.html", "html"), report, ReadConfig()))
    return messages, report


@pytest.mark.parametrize("depth", [200, 250, 300, 5000])
def test_deep_nesting_never_drops_the_messages_after_it(depth):
    deep = "<span>" * depth + "deep" + "</span>" * depth
    texts = [f"message {n}" for n in range(12)]
    data = _page([_message(n, deep if n == 2 else text) for n, text in enumerate(texts)])
    assert len(data) < 100_000
    messages, report = _read(data)
    assert [m.id for m in messages] == [_mid(n) for n in range(12)]
    assert [m.content for m in messages if m.id != _mid(2)] == [t for n, t in enumerate(texts) if n != 2]
    deep_text = next(m.content for m in messages if m.id == _mid(2))
    if deep_text != "deep":  # read only in part: the warning names the message
        assert any(f"message {_mid(2)} nests its markup more than 256 levels deep" in w for w in report.warnings)
    assert not any("declares" in w for w in report.warnings)


def test_too_deep_at_the_end_of_a_truncated_file_is_warned():
    deep = "<b>" * 3000 + "x"
    data = _page([_message(0, "first"), _message(1, deep), _message(2, "after")])
    messages, report = _read(data[: data.index(b"after") + 5])
    assert [m.content for m in messages][:1] == ["first"]
    assert any(f"message {_mid(1)}" in w for w in report.warnings)


@pytest.mark.parametrize("tag", ["span", "em", "u"])
def test_formatting_deeper_than_the_walk_keeps_the_text(tag):
    deep = f"<{tag}>" * 3000 + "deep" + f"</{tag}>" * 3000
    data = _page([_message(0, "first"), _message(1, deep), _message(2, "after")])
    messages, report = _read(data)
    assert [m.content.replace("*", "").replace("_", "") for m in messages] == ["first", "deep", "after"]
    assert any(f"message {_mid(1)} nests its markup more than 256 levels deep" in w for w in report.warnings)


def test_nested_quotes_and_lists_do_not_exhaust_the_stack():
    quote = '<div class="chatlog__markdown-quote"><div class="chatlog__markdown-quote-content">'
    deep = (quote + "<ul><li>") * 1500 + "x" + "</li></ul></div></div>" * 1500
    messages, report = _read(_page([_message(0, deep), _message(1, "after")]))
    assert [m.id for m in messages] == [_mid(0), _mid(1)]
    assert messages[0].content.endswith("x") and messages[1].content == "after"
    assert any(f"message {_mid(0)} nests" in w for w in report.warnings)


@pytest.mark.parametrize("closed", [False, True])
def test_a_hundred_thousand_nested_divs_read_in_linear_time(closed):
    # HTML5 tree building would take minutes here (every <div> looks through the open elements):
    # the batch is read message by message and the message's markup kept to 256 levels.
    deep = "<div>" * 100_000 + "deep" + "</div>" * 100_000 * closed
    messages, report = _read(_page([_message(0, "first"), _message(1, deep), _message(2, "after")]))
    assert [m.content for m in messages if m.id != _mid(1)] == ["first", "after"]
    assert "deep" in next(m.content for m in messages if m.id == _mid(1))
    assert any(f"message {_mid(1)} nests its markup more than 256 levels deep" in w for w in report.warnings)


@pytest.mark.parametrize("left_open", ["<div>" * 3, "<table><tr><td>", "<div>" * 300])
def test_markup_left_open_costs_only_its_own_message(left_open):
    # Unclosed, it would take the messages after it inside its own (where they are never looked for).
    data = _page([_message(0, "first"), _message(1, left_open + "open"), _message(2, "after"), _message(3, "last")])
    messages, report = _read(data)
    assert [m.id for m in messages] == [_mid(n) for n in range(4)]
    assert [m.content for m in messages if m.id != _mid(1)] == ["first", "after", "last"]
    assert report.warnings[-1] == "the export declares 12 messages but 4 were read"  # (the page says 12)
    assert all(f"message {_mid(1)} nests" in w for w in report.warnings[:-1])  # 300 levels: formatting only
