"""A build's train file, held-out file and report are replaced as one set; names fit the file system in bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from discord_echo.core.safe_files import InvalidNameError, WriteFailedError, atomic_write, validate_name
from discord_echo.dataset.samples import Sample
from discord_echo.dataset.writer import dataset_paths, write_dataset
from discord_echo.evaluate.session import DatasetBuild


def _samples(word: str) -> list[Sample]:
    return [Sample([{"role": "user", "content": "hi"}, {"role": "assistant", "content": word}], 5, 0, ["1"])]


def _contents(path) -> str:
    return json.loads(path.read_text())[0]["messages"][1]["content"]


# The child writes build "new" over build "old" and is killed (SIGKILL) at the n-th rename.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from discord_echo.core import safe_files
    from discord_echo.dataset.samples import Sample
    from discord_echo.dataset.writer import write_dataset

    user_data, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    real_replace, calls = os.replace, [0]

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    safe_files.os.replace = replace
    rows = [Sample([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "new"}], 5, 0, ["1"])]
    write_dataset(user_data, "mine", rows, rows, {"build": "new"}, overwrite=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("kill_at", [1, 2, 3, 4])  # before the journal, then between the three renames
def test_an_overwrite_killed_between_renames_never_mixes_two_builds(tmp_path, kill_at):
    write_dataset(tmp_path, "mine", _samples("old"), _samples("old"), {"build": "old"})
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(kill_at)], timeout=60)
    assert child.returncode == -signal.SIGKILL
    folder = tmp_path / "training" / "datasets"
    for leftover in folder.glob(".*.tmp"):  # a killed write's temporaries, found by a later reader
        os.utime(leftover, (1, 1))
    build = DatasetBuild.named(tmp_path, "mine")  # what the tab and the CLI read goes through dataset_paths
    train, held_out, sidecar = dataset_paths(tmp_path, "mine")
    side = json.loads(sidecar.read_text())["build"]
    assert {_contents(train), _contents(build.eval_path), side} in ({"old"}, {"new"})
    assert (side == "new") == (kill_at > 1)  # once the journal is written, the new build is completed
    assert sorted(p.name for p in folder.iterdir()) == ["mine-eval.json", "mine.discord_echo.yaml", "mine.json"]


def test_orphan_temporaries_of_a_killed_write_are_cleaned(tmp_path):
    write_dataset(tmp_path, "mine", _samples("old"), _samples("old"), {})
    folder = tmp_path / "training" / "datasets"
    (folder / ".mine.json.abcd1234.tmp").write_text("[half")
    (folder / ".mine-eval.json.abcd1234.tmp").write_text("[in progress")
    (folder / ".other.json.abcd1234.tmp").write_text("[someone else's")
    os.utime(folder / ".mine.json.abcd1234.tmp", (1, 1))
    dataset_paths(tmp_path, "mine")  # a reader removes only old ones
    assert not (folder / ".mine.json.abcd1234.tmp").exists() and (folder / ".mine-eval.json.abcd1234.tmp").exists()
    write_dataset(tmp_path, "mine", _samples("new"), [], {}, overwrite=True)
    left = sorted(p.name for p in folder.iterdir())
    assert left == [".other.json.abcd1234.tmp", "mine.discord_echo.yaml", "mine.json"]


def test_names_are_measured_in_bytes_with_our_longest_suffix(tmp_path):
    name = "漢" * 80  # 80 characters pass the character count; 240 bytes plus suffixes do not fit 255
    with pytest.raises(InvalidNameError, match=r"is 240 bytes in UTF-8; .* at most 215 bytes"):
        validate_name(name)
    with pytest.raises(InvalidNameError):
        write_dataset(tmp_path, name, _samples("x"), _samples("x"), {})
    fits = "漢" * 71
    written = write_dataset(tmp_path, fits, _samples("x"), _samples("x"), {})
    assert written.sidecar.is_file() and len(written.sidecar.name.encode()) < 255


def test_an_os_error_on_write_is_a_clear_error(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(WriteFailedError, match=r"could not be written \(.+\)\. Nothing was replaced"):
        atomic_write(blocked / "x.json", lambda handle: handle.write("x"))
    with pytest.raises(WriteFailedError, match="mine"):
        write_dataset(blocked, "mine", _samples("x"), _samples("x"), {})
    assert isinstance(WriteFailedError(blocked, OSError(28, "No space left on device")), OSError)
    os.chmod(tmp_path, 0o755)


@pytest.mark.parametrize("text", ["{me:>50000000}", "{others!r}", "{me:{others}}", "{me.__class__}", "{me[0]}"])
def test_persona_placeholders_take_no_format_spec(text):
    from discord_echo.core.errors import ConfigError
    from discord_echo.dataset.samples import DatasetConfig

    with pytest.raises(ConfigError, match="persona_text"):
        DatasetConfig(persona_text=text)
    assert DatasetConfig(persona_text="I am {me}; {{braces}} with {others}.").persona_text


def test_a_held_out_file_of_another_build_is_never_taken_for_this_ones(tmp_path):
    from discord_echo.core.safe_files import FileExistsRefusedError
    from discord_echo.train.config import TrainConfig
    from discord_echo.train.driver import request_from_user_data

    first = write_dataset(tmp_path, "mine", _samples("old"), _samples("old held out"), {"build": "old"})
    first.train.unlink()
    first.sidecar.unlink()  # the user removed the build by hand, but not its held-out file
    with pytest.raises(FileExistsRefusedError, match="mine-eval.json"):
        write_dataset(tmp_path, "mine", _samples("new"), [], {"build": "new"})
    # Replaced on purpose with no held-out part: the old file goes, and training evaluates on nothing.
    write_dataset(tmp_path, "mine", _samples("new"), [], {"build": "new"}, overwrite=True)
    assert not first.eval.exists()
    # Even if one is put back beside a build whose report says it wrote none, training does not use it.
    first.eval.write_text(json.dumps([{"messages": [{"role": "user", "content": "x"}]}]))
    request = request_from_user_data(tmp_path, "mine", "model", "lora", TrainConfig())
    assert request.eval_dataset is None
