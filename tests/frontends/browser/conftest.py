"""Browser tests: the standalone app served on 127.0.0.1, driven by Playwright in Debian's Chromium.

Skipped when Playwright or a Chromium binary is missing (``install.py --tests`` installs
both where it can). Chromium runs headless with background networking off: this machine
has no network beyond the package registries.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DISCORD_ECHO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM:
        pytest.skip("no chromium binary (install.py --tests installs Debian's chromium when run as root)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class AppUrl(str):
    """The app's address; ``.user_data`` is its data folder."""

    user_data: Path


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The standalone app, launched in this process on a free port."""
    pytest.importorskip("gradio")
    from discord_echo.frontends.app import build_app, make_context

    user_data: Path = tmp_path_factory.mktemp("app") / "user_data"
    demo = build_app(make_context(user_data))
    port = _free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = AppUrl(f"http://127.0.0.1:{port}/")
    url.user_data = user_data
    yield url
    demo.close()
