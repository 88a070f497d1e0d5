"""TXT: megabytes of blank lines anywhere in the file are read in linear time, and warned about once."""

from __future__ import annotations

import io
import time

import pytest

from discord_echo.core.messages import Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.txt_reader import read_txt

SEP = "=" * 62
HEADER = [SEP, "Guild: G", "Channel: c", "Topic: a topic", SEP, ""]
BODY = ["[1/28/2024 4:23 PM] alice", "hello", "", "[1/28/2024 4:24 PM] bob", "hi there", ""]


@pytest.mark.parametrize("at", [2, 4, 5, 7, 8, 11])  # header lines, after the topic, message bodies, the end
def test_two_million_blank_lines_anywhere_read_fast(at):
    lines = HEADER + BODY
    data = "\n".join(lines[:at] + [""] * 2_000_000 + lines[at:]).encode()
    report = FileReport("blank.txt")
    start = time.perf_counter()
    messages = list(read_txt(io.BytesIO(data), Source("blank.txt", "txt"), report, ReadConfig()))
    assert time.perf_counter() - start < 10  # the topic's += took over a minute here
    assert [m.author.name for m in messages] == ["alice", "bob"]
    assert [m.content.strip("\n") for m in messages] == ["hello", "hi there"]  # blank lines inside are content
    assert len(report.warnings) <= 2  # not one warning per blank header line
