"""Chat content is shown as text, never run: an export full of HTML/JS tricks, read and
previewed in the real app in a real browser."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402

TRICKS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "**bold?** [click](javascript:window.__xss='link') <b>tag</b>",
    "<svg onload=\"window.__xss='svg'\"></svg> &lt;escaped&gt;",
]


def _export(folder: Path) -> Path:
    data = make_sample.build(seed=3, sessions=6)
    mine = [m for m in data["messages"] if m["author"]["name"] == "alex"]
    for message, trick in zip(mine, TRICKS, strict=False):
        message["content"] = trick
    data["channel"]["name"] = "<i onmouseover=\"window.__xss='channel'\">Sam</i>"
    path = folder / "tricky.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def test_html_in_messages_is_shown_literally_and_never_executes(browser, app_url, tmp_path):
    _export(tmp_path)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url)
    page.locator("#discord-echo-folder textarea, #discord-echo-folder input").first.fill(str(tmp_path))
    page.locator("#discord-echo-read").click()
    page.locator("#discord-echo-status").get_by_text("Now pick who you are").wait_for(timeout=30_000)
    # The channel name with an HTML tag is shown as typed.
    assert "<i onmouseover=" in page.locator("#discord-echo-summary").inner_text()

    me = page.locator("#discord-echo-me input")
    me.click()
    page.get_by_role("option", name="alex").first.click()
    page.locator("#discord-echo-preview-button").click()
    page.locator("#discord-echo-preview-status").get_by_text("training samples ready").wait_for(timeout=60_000)
    preview = page.locator("#discord-echo-preview")
    text = preview.inner_text()
    shown = [trick for trick in TRICKS if trick in text]
    assert shown, "at least one tricky message should be in the first previewed samples"
    # Nothing ran: no flag set, no dialog, no injected element in the preview.
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    bodies = preview.locator(".discord-echo-sample")
    assert bodies.count() >= 1
    assert bodies.locator("*:not(mark)").count() == 0  # only our highlight marks, nothing injected
    page.close()
