"""Uploaded exports are private chats: gradio's copies of them go when the page that uploaded them closes."""

from __future__ import annotations

import time
from pathlib import Path

from discord_echo.frontends.ui.uploads import gradio_cache_dir

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


def _copies(name: str) -> list[Path]:
    return [p for p in gradio_cache_dir().rglob(name) if p.is_file()]


def test_an_upload_is_removed_when_its_page_closes(browser, app_url, tmp_path):
    export = tmp_path / "cleanup-probe-7f3a.json"  # a name no other test uploads
    export.write_bytes(SAMPLE.read_bytes())
    page = browser.new_page()
    page.goto(str(app_url))
    page.locator("#discord-echo-upload input[type=file]").set_input_files(str(export))
    page.locator("#discord-echo-upload").get_by_text(export.name).first.wait_for(timeout=30_000)
    page.locator("#discord-echo-read").click()  # as a user does; by then gradio has sent the upload event
    page.locator("#discord-echo-status").get_by_text("Read 376 messages").wait_for(timeout=60_000)
    deadline = time.monotonic() + 30
    while not _copies(export.name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _copies(export.name), "gradio keeps a copy of an upload in its cache folder"
    page.close()  # the session ends: the tab removes its uploads
    deadline = time.monotonic() + 30
    while _copies(export.name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _copies(export.name) == []
    assert export.is_file()  # the user's own file is never touched
