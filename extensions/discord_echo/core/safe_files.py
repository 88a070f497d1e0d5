"""Names and writes that never lose the user's work.

Every name a user types (dataset, LoRA, character) goes through `validate_name` before it
becomes a path, and every file is written with `atomic_write`: to a temporary file in the
same folder, flushed to disk, then renamed over the target in one step, so a crash or a
kill mid-write leaves the old file intact. Existing files are replaced only when the caller
says so explicitly (`overwrite=True`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from discord_echo.core.errors import EchoError

_NAME = re.compile(r"^[\w][\w .()+-]{0,79}$", re.UNICODE)
# Windows also takes the superscript digits ¹ ² ³ as the number of a COM/LPT device
# (learn.microsoft.com "Naming Files, Paths, and Namespaces"); \w accepts them, so list them.
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"{device}{n}" for device in ("com", "lpt") for n in (*"0123456789", "¹", "²", "³")),
}  # fmt: skip


class InvalidNameError(EchoError):
    """A user-given name that cannot safely become a file name."""

    def __init__(self, what: str, name: str, rule: str):
        self.what, self.name, self.rule = what, name, rule
        super().__init__(f"{what} name {name!r} {rule}")


class FileExistsRefusedError(EchoError):
    """Writing would replace something the user made."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(f"{path} already exists. Choose another name, or allow overwriting it explicitly.")


def validate_name(name: str, what: str = "dataset") -> str:
    """Return ``name`` if it is a safe single file name, else raise `InvalidNameError`.

    Refused: empty names, path separators and ``..``, control characters, a leading dot
    or dash, trailing dots or spaces, and names Windows reserves (``CON``, ``NUL``, ``COM1``...).
    """
    if not name or not name.strip():
        raise InvalidNameError(what, name, "is empty")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise InvalidNameError(what, name, "contains control characters")
    if "/" in name or "\\" in name or ".." in name or ":" in name:
        raise InvalidNameError(what, name, "must be a plain name, not a path (no / \\ : or ..)")
    if name.endswith((".", " ")):
        raise InvalidNameError(what, name, "must not end with a dot or a space")
    if not _NAME.match(name):
        raise InvalidNameError(
            what, name, "may use letters, digits, spaces and _ . ( ) + - (up to 80), starting with a letter or digit"
        )
    if name.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        raise InvalidNameError(what, name, "is reserved on Windows")
    return name


def contained_path(folder: Path, name: str) -> Path:
    """``folder / name``, guaranteed to stay inside ``folder`` (even through symlinks)."""
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise InvalidNameError("file", name, f"would be written outside {folder}")
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write(path: Path, write: Callable[[IO[str]], None], overwrite: bool = False) -> None:
    """Write text through ``write(file)`` into ``path`` atomically.

    Raises `FileExistsRefusedError` if ``path`` exists and ``overwrite`` is false; the
    existing file is then untouched. On any failure the temporary file is removed and
    the old file stays as it was.
    """
    if path.exists() and not overwrite:
        raise FileExistsRefusedError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); a webui running as another user (Docker) must read it.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists() and not overwrite:  # appeared while we wrote
            raise FileExistsRefusedError(path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def replacing_folder(path: Path) -> Iterator[None]:
    """Replace the folder ``path`` (an adapter) so that a failed replacement gives the old one back.

    The old folder is renamed to a hidden sibling while the block runs; if the block raises,
    whatever it left is removed and the old folder is put back; if it succeeds, the old one
    is deleted. A kill mid-way leaves the old folder as ``.<name>.previous*`` beside it.
    """
    backup = path.with_name(f".{path.name}.previous")
    if backup.exists():  # an earlier run was killed mid-way: keep that copy too
        backup = path.with_name(f".{path.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, backup)
    try:
        yield
    except BaseException:
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(backup, path)
        raise
    shutil.rmtree(backup, ignore_errors=True)
