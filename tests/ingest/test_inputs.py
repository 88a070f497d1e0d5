"""Finding export files in what the user gives: files, folders, zips, partition sets."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from discord_echo.core.errors import ExportLimitError, ExportParseError, UnsupportedExportError
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import discover, sniff_format
from discord_echo.ingest.inputs import partition_key


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("G - C [1] [part 3].json", ("G - C [1].json", 3, True)),  # 2.16+
        ("G - C [1].json", ("G - C [1].json", 1, True)),
        ("G - C [1] [2 of 5].csv", ("G - C [1].csv", 2, True)),  # 2.9-2.15
        ("chat-2.txt", ("chat.txt", 2, False)),  # 2.8, only a partition if siblings exist
        ("general.html", ("general.html", 1, True)),
    ],
)
def test_partition_key(name, expected):
    assert partition_key(name) == expected


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_partitions_are_joined_in_part_order_whatever_the_listing_order(tmp_path):
    for name in ["X [part 10].json", "X [part 2].json", "X.json", "Y.json", "X [part 3].json"]:
        _touch(tmp_path / name)
    labels = [Path(i.label).name for i in discover([tmp_path])]
    assert labels == ["X.json", "X [part 2].json", "X [part 3].json", "X [part 10].json", "Y.json"]


def test_old_style_partitions(tmp_path):
    for name in ["c [2 of 3].csv", "c [3 of 3].csv", "c [1 of 3].csv", "log-2.txt", "log-1.txt", "notes-2024.txt"]:
        _touch(tmp_path / name)
    inputs = discover([tmp_path])
    by_name = {Path(i.label).name: i for i in inputs}
    assert [Path(i.label).name for i in inputs if i.group == by_name["c [1 of 3].csv"].group] == [
        "c [1 of 3].csv",
        "c [2 of 3].csv",
        "c [3 of 3].csv",
    ]
    assert by_name["log-1.txt"].group == by_name["log-2.txt"].group
    # A lone "name-2024" is a name, not partition 2024 of something.
    assert by_name["notes-2024.txt"].part == 1


def test_folders_skip_media_and_asset_folders(tmp_path):
    _touch(tmp_path / "Guild - general [1].json")
    _touch(tmp_path / "Guild - general [1].json_Files" / "avatar.json")  # asset folder, even if .json
    _touch(tmp_path / "Guild - general [1].json_Files" / "cat-1A2B3.png", "png")
    _touch(tmp_path / "threads" / "Guild - general - t [2].json")
    _touch(tmp_path / ".DS_Store", "x")
    labels = sorted(Path(i.label).name for i in discover([tmp_path]))
    assert labels == ["Guild - general - t [2].json", "Guild - general [1].json"]
    assert all(not i.explicit for i in discover([tmp_path]))


def test_zip_members_are_inputs_and_readable(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("server/a.json", '{"messages": []}')
        zf.writestr("server/a.json_Files/x.png", "png")
        zf.writestr("server/b [part 2].csv", "AuthorID,Author,Date,Content,Attachments,Reactions\n")
        zf.writestr("server/b.csv", "AuthorID,Author,Date,Content,Attachments,Reactions\n")
    inputs = discover([archive])
    assert [i.label.split("!")[1] for i in inputs] == ["server/a.json", "server/b.csv", "server/b [part 2].csv"]
    with inputs[0].open() as stream:
        assert stream.read() == b'{"messages": []}'


def test_zip_bomb_is_refused_before_reading(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("big.json", b"{" + b" " * 50_000_000 + b"}")
    with pytest.raises(ExportLimitError, match=r"bomb\.zip!big\.json: claims to expand \d+ times"):
        discover([archive], ReadConfig(max_zip_ratio=100))


def test_oversized_file_is_refused_with_the_limit_named(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(3_000_000)
    with pytest.raises(ExportLimitError, match=r"big\.json: it is 3 MB, over the 2 MB limit \(max_file_mb\)"):
        discover([big], ReadConfig(max_file_mb=2))


def test_missing_path_names_it(tmp_path):
    from discord_echo.core.errors import InputPathError

    with pytest.raises(InputPathError, match="nope.json: no such file or folder; check the path"):
        discover([tmp_path / "nope.json"])


def test_a_fifo_is_not_a_regular_file(tmp_path):
    import os

    from discord_echo.core.errors import InputPathError

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(InputPathError, match=r"pipe.json: not a regular file \(a FIFO or device\)"):
        discover([fifo])


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b'{\n  "guild": {', "json"),
        (b'\xef\xbb\xbf{"guild"', "json"),
        ("{\n".encode("utf-16"), "json"),
        (b"<!DOCTYPE html>\n<html lang=en>", "html"),
        (b"=" * 62 + b"\nGuild: x", "txt"),
        (b"AuthorID,Author,Date,Content,Attachments,Reactions\r\n", "csv"),
        (b"AuthorID;Author;Date;Content;Attachments;Reactions;\n", "csv"),
        (b"Author;Date;Content;Attachments;\n", "csv"),
    ],
)
def test_sniff_format_reads_content_not_names(head, fmt):
    assert sniff_format(head) == fmt


@pytest.mark.parametrize(
    ("head", "error", "match"),
    [
        (b"", ExportParseError, "x.bin: the file is empty"),
        (b"   \n", ExportParseError, "x.bin: the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", UnsupportedExportError, r"x.bin: not a DiscordChatExporter export \(binary"),
        (b"hello,world\n1,2\n", UnsupportedExportError, "it starts with 'hello,world'"),
        (bytes(range(128, 256)) * 4, UnsupportedExportError, "not UTF-8"),
    ],
)
def test_sniff_format_rejects_non_exports_clearly(head, error, match):
    with pytest.raises(error, match=match):
        sniff_format(head, "x.bin")


def test_overlapping_partitions_are_read_once(tmp_path, sample):
    import json

    from discord_echo.ingest.exports import read_exports

    data = json.loads(sample("json_dcef_example-guild_general.json").read_text(encoding="utf-8"))
    messages = data["messages"]
    first = {**data, "messages": messages[:20], "messageCount": 20}
    second = {**data, "messages": messages[15:], "messageCount": len(messages) - 15}  # 5 overlap
    (tmp_path / "general [1].json").write_text(json.dumps(first, indent=2))
    (tmp_path / "general [1] [part 2].json").write_text(json.dumps(second, indent=2))
    reports = []
    read = list(read_exports([tmp_path], reports=reports))
    assert [m.id for m in read] == [m["id"] for m in messages]
    assert "5 messages already read from an earlier partition were skipped" in reports[1].warnings


def test_one_bad_file_among_many_is_that_files_error_not_the_end_of_the_read(tmp_path, sample):
    import shutil

    from discord_echo.ingest.exports import read_exports

    folder = tmp_path / "server"
    folder.mkdir()
    shutil.copy(sample("json_chat-analytics_DM_2A_2M.json"), folder / "dm.json")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("big.json", b"{" + b" " * 50_000_000 + b"}")
    reports = []
    messages = list(read_exports([folder, tmp_path / "missing.json"], ReadConfig(max_zip_ratio=100), reports))
    assert len(messages) == 3  # the good file is still read
    errors = {Path(r.path).name: r.error for r in reports if r.error}
    assert "claims to expand" in errors["bomb.zip"]
    assert "no such file or folder" in errors["missing.json"]
    assert "broken.zip" in " ".join(r.path for r in reports)
