"""Removing a session's uploads: only gradio's copies inside its cache folder, never anything else."""

from __future__ import annotations

import pytest

from discord_echo.frontends.ui.uploads import SessionUploads, gradio_cache_dir, remove_uploads


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "gradio-cache"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    assert gradio_cache_dir() == folder.resolve()
    return folder


def _upload(cache, digest: str, name: str):
    path = cache / digest / name
    path.parent.mkdir()
    path.write_text("[]")
    return path


def test_only_copies_inside_gradios_cache_are_removed_with_their_folders(cache, tmp_path):
    copy = _upload(cache, "a1b2", "chat.json")
    mine = tmp_path / "my-export.json"
    mine.write_text("[]")
    assert remove_uploads([copy, mine, tmp_path / "missing.json", cache]) == 1
    assert not copy.exists() and not copy.parent.exists() and cache.is_dir()
    assert mine.is_file()


def test_each_session_removes_its_own_uploads_once(cache):
    first, second = _upload(cache, "s1", "a.json"), _upload(cache, "s2", "b.json")
    uploads = SessionUploads()
    uploads.remember("session-1", [first])
    uploads.remember("session-2", [str(second)])
    assert uploads.forget("session-1") == 1
    assert not first.exists() and second.exists()
    assert uploads.forget("session-1") == 0  # already gone; an unknown session is nothing to do
    assert uploads.forget("session-2") == 1


def test_an_upload_handled_after_its_page_closed_is_removed_at_once(cache):
    uploads = SessionUploads()
    uploads.forget("late")  # gradio ran the page's unload first
    copy = _upload(cache, "s3", "c.json")
    uploads.remember("late", [copy])
    assert not copy.exists()


def test_gradio_still_keeps_the_blocks_being_built_where_the_tab_looks_for_it():
    """events.py reaches the Blocks through gradio's Context.root_block (inside the webui the tab never holds
    it): if a gradio upgrade moves it, page-load and page-unload events silently stop; fail loudly here."""
    gr = pytest.importorskip("gradio")
    from gradio.context import Context

    with gr.Blocks() as demo:
        assert Context.root_block is demo, f"gradio {gr.__version__} moved Context.root_block: update events.py"
        assert hasattr(demo, "unload") and hasattr(demo, "load")
