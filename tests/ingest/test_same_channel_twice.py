"""One channel given twice, as its CSV and its TXT: noticed, and the warning names both files."""

from __future__ import annotations

import shutil

from discord_echo.ingest.inspection import inspect_exports

CSV = "csv_komodo_talk-other-topics_134_v2.15.csv"
TXT = "txt_komodo_talk-other-topics_134_v2.15.txt"
OTHER = "html-dark_meshcore_thread-manual_v2.47_en-CA.html"  # another channel, another format


def test_csv_and_txt_of_one_channel_are_noticed_in_both_summaries(sample, tmp_path):
    for name in (CSV, TXT):
        shutil.copy(sample(name), tmp_path / name)
    summaries = inspect_exports([tmp_path])
    assert len(summaries) == 2
    for summary in summaries:
        twice = [w for w in summary.warnings if "same channel in two formats" in w]
        assert len(twice) == 1, summary.warnings
        assert CSV in twice[0] and TXT in twice[0]


def test_two_channels_in_two_formats_are_not_flagged(sample, tmp_path):
    for name in (CSV, OTHER):
        shutil.copy(sample(name), tmp_path / name)
    summaries = inspect_exports([tmp_path])
    assert len(summaries) == 2 and all(s.messages for s in summaries)
    assert not any("same channel" in w for s in summaries for w in s.warnings)


def test_the_build_and_the_cli_say_it(sample, tmp_path, capsys):
    from discord_echo.frontends.cli import main

    for name in (CSV, TXT):
        shutil.copy(sample(name), tmp_path / name)
    from discord_echo.ingest.exports import read_export

    author = read_export(tmp_path / CSV)[0][0].author.name
    code = main(["build", str(tmp_path), "--me", author, "--name", "twice", "--user-data", str(tmp_path / "ud")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "same channel in two formats" in out and CSV in out and TXT in out
