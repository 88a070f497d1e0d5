"""Zip archives built to hang or flood the reader: many members, many small members that expand a lot together."""

from __future__ import annotations

import time
import zipfile

import pytest

from discord_echo.core.errors import ExportLimitError
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import read_exports
from discord_echo.ingest.inputs import discover

_JSON = '{"guild": {"id": "1", "name": "G"}, "channel": {"id": "2", "name": "c"}, "messages": []}'


def _many_members(path, count: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(count):
            zf.writestr(f"c{n:05d}.json", _JSON)


def test_reading_many_members_is_linear(tmp_path):
    # Every member used to re-open the archive (twice), so 2,000 members took minutes.
    archive = tmp_path / "many.zip"
    _many_members(archive, 3000)
    reports: list = []
    start = time.perf_counter()
    assert list(read_exports([archive], ReadConfig(), reports)) == []
    assert time.perf_counter() - start < 20
    assert len(reports) == 3000 and not any(r.error for r in reports)


def test_too_many_members_are_refused_before_reading(tmp_path):
    archive = tmp_path / "flood.zip"
    _many_members(archive, 20_000)
    start = time.perf_counter()
    with pytest.raises(ExportLimitError, match=r"flood\.zip: holds 20,000 export files, over the limit of 10,000 "):
        discover([archive])
    assert time.perf_counter() - start < 5
    reports: list = []
    assert list(read_exports([archive], ReadConfig(), reports)) == []
    assert "max_zip_members" in reports[0].error


def test_many_small_members_that_expand_together_are_a_bomb(tmp_path):
    # 1 MB members each pass the per-member check (it starts above 1 MB); together they expand ~1000x.
    archive = tmp_path / "small-bombs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for n in range(300):
            zf.writestr(f"c{n}.json", b"{" + b" " * 999_990 + b"}")
    with pytest.raises(ExportLimitError, match=r"small-bombs\.zip: its 300 export files claim to expand \d+ times"):
        discover([archive])


def test_total_unpacked_size_is_limited(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for n in range(3):
            zf.writestr(f"c{n}.json", b"{" + b" " * 999_998 + b"}")
    with pytest.raises(ExportLimitError, match=r"big\.zip: its 3 export files together are 3 MB, over the 2 MB limit"):
        discover([archive], ReadConfig(max_zip_total_mb=2))
    assert len(discover([archive], ReadConfig(max_zip_total_mb=3))) == 3


def test_zip_limits_must_be_positive():
    from discord_echo.core.errors import ConfigError

    with pytest.raises(ConfigError, match="max_zip_members"):
        ReadConfig(max_zip_members=0)
