"""Names users type never become paths outside user_data, and writes never lose their work.

``validate_name`` refuses everything that is not one plain file name on every OS;
``contained_path`` refuses escapes, symlinks included; ``atomic_write`` refuses to replace
without ``overwrite=True`` and, killed mid-write, leaves the old file as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from discord_echo.core.safe_files import (
    FileExistsRefusedError,
    InvalidNameError,
    atomic_write,
    contained_path,
    validate_name,
)
from discord_echo.dataset.writer import dataset_paths
from discord_echo.evaluate.characters import character_path

# name -> the rule the message quotes
REFUSED = {
    "../x": "not a path",
    "..": "not a path",
    "a/../../x": "not a path",
    "/abs": "not a path",
    "/etc/passwd": "not a path",
    "C:\\x": "not a path",
    "C:x": "not a path",
    "a\\b": "not a path",
    "\\\\server\\share": "not a path",
    "CON": "reserved on Windows",
    "con": "reserved on Windows",
    "nul.txt": "reserved on Windows",
    "Aux.tar.gz": "reserved on Windows",
    "COM1": "reserved on Windows",
    "lpt9.json": "reserved on Windows",
    "COM¹": "reserved on Windows",  # Windows reads superscript digits as device numbers too
    "PRN .txt": "reserved on Windows",
    "a\x00b": "control characters",
    "a\nb": "control characters",
    "a\rb": "control characters",
    "tab\there": "control characters",
    "del\x7f": "control characters",
    "": "is empty",
    "  ": "is empty",
    "\t": "is empty",
    "x.": "must not end with a dot or a space",
    "x ": "must not end with a dot or a space",
    ".hidden": "may use letters",
    "-flag": "may use letters",
    "a*b": "may use letters",
    "a?b": "may use letters",
    'a"b': "may use letters",
    "a<b>": "may use letters",
    "a|b": "may use letters",
    "x" * 81: "may use letters",
    "right\u202eleft": "may use letters",  # bidi override: shows a different name than it is
    "zero\u200bwidth": "may use letters",
}
ALLOWED = ["my dataset", "me-2024 (v2)", "a+b", "x.y", "x" * 80, "café", "日本語", "Ωmega_2", "Zoë", "CONSOLE", "comet"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_validate_name_refuses_with_the_rule_named(name):
    with pytest.raises(InvalidNameError) as error:
        validate_name(name, "LoRA")
    assert str(error.value).startswith(f"LoRA name {name!r} ")
    assert REFUSED[name] in str(error.value)


@pytest.mark.parametrize("name", ALLOWED)
def test_validate_name_accepts_plain_names_in_any_script(name):
    assert validate_name(name, "character") == name


@pytest.mark.parametrize("name", ["../x", "/abs", "C:\\x", "CON", "a\x00b", ""])
def test_every_name_entry_point_validates(tmp_path, name):
    with pytest.raises(InvalidNameError, match="dataset name"):
        dataset_paths(tmp_path, name)
    with pytest.raises(InvalidNameError, match="character name"):
        character_path(tmp_path, name)
    assert list(tmp_path.iterdir()) == []  # nothing was created on the way


def test_contained_path_stays_inside(tmp_path):
    assert contained_path(tmp_path, "a.json") == tmp_path.resolve() / "a.json"
    assert contained_path(tmp_path / "new", "a.json") == tmp_path.resolve() / "new" / "a.json"


@pytest.mark.parametrize("name", ["../x.json", "../../x.json", "a/../../x.json", "/etc/passwd", "", "."])
def test_contained_path_refuses_escapes(tmp_path, name):
    folder = tmp_path / "user_data"
    folder.mkdir()
    with pytest.raises(InvalidNameError, match=r"would be written outside"):
        contained_path(folder, name)


def test_contained_path_refuses_an_escape_through_a_symlink(tmp_path):
    folder, outside = tmp_path / "user_data", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    try:
        (folder / "link").symlink_to(outside, target_is_directory=True)
        (folder / "file.json").symlink_to(outside / "victim.json")
    except OSError:
        pytest.skip("symlinks are not available here")
    for name in ("link/x.json", "link", "file.json"):
        with pytest.raises(InvalidNameError, match=r"would be written outside"):
            contained_path(folder, name)


def test_contained_path_allows_a_user_data_folder_that_is_itself_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    try:
        (tmp_path / "user_data").symlink_to(real, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks are not available here")
    assert contained_path(tmp_path / "user_data", "a.json") == real.resolve() / "a.json"


# -- atomic_write ---------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_creates_and_refuses_to_overwrite_without_the_flag(tmp_path):
    path = tmp_path / "datasets" / "mine.json"
    atomic_write(path, lambda h: h.write("old"))
    with pytest.raises(FileExistsRefusedError) as error:
        atomic_write(path, lambda h: h.write("new"))
    assert str(error.value) == f"{path} already exists. Choose another name, or allow overwriting it explicitly."
    assert path.read_text() == "old"
    assert _leftovers(path.parent) == ["mine.json"]
    atomic_write(path, lambda h: h.write("new"), overwrite=True)
    assert path.read_text() == "new"
    assert _leftovers(path.parent) == ["mine.json"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text("old")

    def half_then_fail(handle):
        handle.write("[half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail, overwrite=True)
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == ["mine.json"]


def test_a_file_that_appears_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "mine.json"

    def meanwhile(handle):
        handle.write("ours")
        path.write_text("theirs")  # e.g. the webui saved a dataset of that name meanwhile

    with pytest.raises(FileExistsRefusedError):
        atomic_write(path, meanwhile)
    assert path.read_text() == "theirs"
    assert _leftovers(tmp_path) == ["mine.json"]


# The child writes half of a large new dataset through atomic_write, then dies by SIGKILL:
# either it kills itself at once, or it tells the parent and blocks until the parent kills it.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from discord_echo.core.safe_files import atomic_write

    path, mode = Path(sys.argv[1]), sys.argv[2]

    def writer(handle):
        handle.write("[\\n" + '{"messages": [{"role": "user", "content": "new"}]},\\n' * 50_000)
        handle.flush()
        os.fsync(handle.fileno())
        if mode == "self":
            os.kill(os.getpid(), signal.SIGKILL)
        print("half written", flush=True)
        sys.stdin.read()

    atomic_write(path, writer, overwrite=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("killer", ["self", "parent"])
def test_a_writer_killed_mid_way_leaves_the_old_dataset_intact(tmp_path, killer):
    datasets = tmp_path / "user_data" / "training" / "datasets"
    datasets.mkdir(parents=True)
    path = datasets / "mine.json"
    old = json.dumps([{"messages": [{"role": "user", "content": "old"}]}])
    path.write_text(old)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), killer],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if killer == "parent":
            assert child.stdout.readline() == "half written\n"
            partial = [p for p in datasets.iterdir() if p.name != "mine.json"]
            assert len(partial) == 1 and partial[0].stat().st_size > 1_000_000  # really mid-way
            os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stdin.close()
    assert path.read_text() == old
    # The leftover temporary is hidden and not *.json: the webui's dataset list (a glob of
    # *.json) and ours never show it.
    assert list(datasets.glob("*.json")) == [path]
    assert all(p.name.startswith(".mine.json.") and p.name.endswith(".tmp") for p in datasets.iterdir() if p != path)


def test_replacing_a_folder_gives_the_old_one_back_when_the_replacement_fails(tmp_path):
    from discord_echo.core.safe_files import replacing_folder

    lora = tmp_path / "my-lora"
    lora.mkdir()
    (lora / "adapter_model.safetensors").write_bytes(b"old weights")
    with pytest.raises(RuntimeError, match="out of memory"), replacing_folder(lora):
        lora.mkdir()
        (lora / "adapter_model.safetensors").write_bytes(b"half-written")
        raise RuntimeError("out of memory")
    assert (lora / "adapter_model.safetensors").read_bytes() == b"old weights"
    with replacing_folder(lora):
        lora.mkdir()
        (lora / "adapter_model.safetensors").write_bytes(b"new weights")
    assert (lora / "adapter_model.safetensors").read_bytes() == b"new weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-lora"]  # no backup left behind
