"""Uploaded exports are private chats: remove gradio's copies of them when the session that uploaded them ends.

gradio copies every uploaded file into its cache folder (``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``), one
hash-named folder per file, and keeps it there until its own cache cleanup runs, which the webui does not
configure. The tab remembers what each session uploaded (`SessionUploads`) and removes exactly those copies,
and their then empty folders, when the page closes or the session's state expires; a path outside gradio's
cache folder (a folder the owner typed) is never touched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path


def gradio_cache_dir() -> Path:
    """Where gradio keeps uploaded files (the same rule gradio uses)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def remove_uploads(paths: Iterable[str | Path]) -> int:
    """Delete the given uploaded copies that lie inside gradio's cache folder, and their emptied folders.

    Returns how many files were removed. Anything outside the cache folder is left alone.
    """
    cache = gradio_cache_dir()
    removed = 0
    for raw in paths:
        path = Path(raw).resolve()
        if cache not in path.parents or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
        with contextlib.suppress(OSError):
            if path.parent != cache:
                path.parent.rmdir()  # only when empty: gradio's per-file hash folder
    return removed


class SessionUploads:
    """The uploads of each browser session, by session hash, removed when that session ends.

    gradio may run a page's unload before the handler of an upload made just before closing it; such a late
    upload of a closed session is removed at once. The last `CLOSED_KEPT` closed sessions are remembered.
    """

    CLOSED_KEPT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, set[str]] = {}
        self._closed: dict[str, None] = {}  # insertion-ordered: the oldest are dropped first

    def remember(self, session: str, files: Iterable[str | Path]) -> None:
        paths = {str(f) for f in files if f}
        with self._lock:
            if session not in self._closed:
                self._by_session.setdefault(session, set()).update(paths)
                return
        remove_uploads(paths)

    def forget(self, session: str) -> int:
        """Remove that session's uploads (see `remove_uploads`), and any it still sends; how many files went."""
        with self._lock:
            paths = self._by_session.pop(session, set())
            self._closed[session] = None
            while len(self._closed) > self.CLOSED_KEPT:
                self._closed.pop(next(iter(self._closed)))
        return remove_uploads(paths)
