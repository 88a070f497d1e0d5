"""Bad input never escapes the public API as a raw exception: one clear error naming the file."""

from __future__ import annotations

import pytest

from discord_echo.core.errors import EchoError
from discord_echo.ingest.exports import read_export, read_exports

CASES = {
    "empty.json": b"",
    "spaces.csv": b"   \n\n",
    "garbage.bin": bytes(range(256)) * 8,
    "png.html": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    "not-an-export.json": b'{"name": "package.json", "version": "1.0.0"}',
    "list.json": b"[1, 2, 3]",
    # (A file merely cut off is not an error: its complete messages are read, with a warning.)
    "wrong-types.json": b'{"messages": [{"id": "1", "timestamp": "2024-01-01T00:00:00+00:00", "author": "oops"}]}',
    "bad-syntax.json": b'{"messages": [{"id": "1",, "author": {}}], "messageCount": 1}',
    "latin1.txt": (
        "=" * 62 + "\nGuild: Caf\xe9\nChannel: g\n" + "=" * 62 + "\n\n[1/1/2024 1:00 PM] al\nol\xe9\n"
    ).encode("latin-1"),
    "latin1.csv": (
        "AuthorID,Author,Date,Content,Attachments,Reactions\n"
        '"1","al","2024-01-01T10:00:00.0000000+00:00","ol\xe9","",""\n'
    ).encode("latin-1"),
    "page.html": b"<!DOCTYPE html><html><head><title>My blog</title></head><body><p>hello</p></body></html>",
    "header-only.csv": b'AuthorID,Author,Date,Content,Attachments,Reactions\n"1","al","yesterday","hi","",""\n',
    "notes.txt": b"just some notes\nnothing to see\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_file_gives_one_clear_error_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CASES[name])
    with pytest.raises(EchoError) as error:
        read_export(path)
    assert str(path) in str(error.value)
    # Collected, not raised, when reading many files: the report carries the same message.
    reports = []
    list(read_exports([path], reports=reports))
    assert reports[0].error == str(error.value)


def test_positions_are_named_when_known(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(CASES["latin1.csv"])
    with pytest.raises(EchoError, match=r"latin1\.csv: line 2"):
        read_export(path)
