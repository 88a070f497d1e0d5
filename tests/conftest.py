"""Shared fixtures: where the real DiscordChatExporter samples are, and small helpers.

The real exports live beside the repository in ``../shared/samples/dce`` (provenance in its
SOURCES.md). Tests that need them skip when that folder is absent; point
``DISCORD_ECHO_SAMPLES`` at a copy to run them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("DISCORD_ECHO_SAMPLES", REPO.parent / "shared" / "samples" / "dce"))
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real DCE samples not found at {SAMPLES} (set DISCORD_ECHO_SAMPLES)")
    return SAMPLES


@pytest.fixture(scope="session")
def sample(samples_dir):
    """``sample("csv_komodo_...csv")`` -> Path of a real export, skipping if it is missing."""

    def find(name: str) -> Path:
        path = samples_dir / name
        if not path.is_file():
            pytest.skip(f"sample {name} missing from {samples_dir}")
        return path

    return find
