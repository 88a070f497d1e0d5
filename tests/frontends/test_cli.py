"""The discord-echo command, called in-process: exit codes and what the user reads."""

from __future__ import annotations

import json
from pathlib import Path

from discord_echo.frontends.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


def test_inspect_prints_format_channel_authors_and_range(capsys):
    assert main(["inspect", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "format:   json" in out
    assert "channel:  Direct Messages / Sam" in out
    assert "messages: 376 (the file says 376)" in out
    assert "alex [400000000000000001]" in out and "Sam (sam.writes)" in out


def test_inspect_json_schema(capsys):
    assert main(["inspect", "--json", str(SAMPLE)]) == 0
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["files"]
    assert {"path", "format", "messages", "authors", "first", "last", "warnings"} <= set(entry)
    assert entry["messages"] == 376 and entry["format"] == "json"
    assert {a["name"]: a["count"] for a in entry["authors"]} == {"alex": 205, "sam.writes": 171}
    assert entry["first"].startswith("2024-03-01T18:02") and entry["last"].startswith("2024-04-09T17:02")


def test_inspect_bad_file_reports_error_and_fails(tmp_path, capsys):
    bad = tmp_path / "notes.json"
    bad.write_bytes(b"\x00\x01garbage")
    assert main(["inspect", str(SAMPLE), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR: {bad}: not a DiscordChatExporter export (binary data)" in out
    assert "messages: 376" in out  # the good file is still summarized


def test_missing_file_is_reported_and_the_other_files_still_read(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.json"), str(SAMPLE)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR: {tmp_path / 'nope.json'}: no such file or folder; check the path" in out
    assert "export the channel again" not in out.lower()
    assert "messages: 376" in out


def test_build_writes_the_dataset_and_previews_trained_text(tmp_path, capsys):
    code = main(["build", str(SAMPLE), "--me", "alex", "--name", "echo", "--user-data", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "me: alex" in out
    assert "⟦" in out and "<|im_start|>assistant" in out  # default ChatML preview with trained marks
    assert "estimate" in out  # no tokenizer given: says lengths are estimated
    assert (tmp_path / "training" / "datasets" / "echo.json").is_file()
    # A second run refuses to replace it, with a message saying what to do.
    assert main(["build", str(SAMPLE), "--me", "alex", "--name", "echo", "--user-data", str(tmp_path)]) == 1
    assert "echo.json already exists. Choose another name, or pass --overwrite" in capsys.readouterr().err


def test_build_with_unknown_me_lists_authors(tmp_path, capsys):
    assert main(["build", str(SAMPLE), "--me", "bob", "--name", "x", "--user-data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "nobody called 'bob'" in err and "alex (205)" in err
