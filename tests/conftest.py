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


@pytest.fixture(scope="session", autouse=True)
def one_core_for_training():
    """Train on one torch thread in every test, as if this machine had one core.

    The tiny test models gain nothing from threads, and on a shared 2-core machine whose other core is busy,
    two spin-waiting OpenMP threads make training many times slower. The plan's thread choice itself is tested
    with explicit core counts (tests/train/test_profiles.py).
    """
    from discord_echo.train import profiles

    real = profiles.available_cores
    profiles.available_cores = lambda: 1
    yield
    profiles.available_cores = real


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
