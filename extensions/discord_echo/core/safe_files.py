"""Names and writes that never lose the user's work.

Every name a user types (dataset, LoRA, character) goes through `validate_name` before it
becomes a path, and every file is written with `atomic_write`: to a temporary file in the
same folder, flushed to disk, then renamed over the target in one step, so a crash or a
kill mid-write leaves the old file intact. Existing files are replaced only when the caller
says so explicitly (`overwrite=True`).
"""

from __future__ import annotations

import contextlib
import json
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


# File systems allow 255 bytes per name (ext4, NTFS, APFS). The longest name we make from a user's name is the
# temporary file of its build sidecar, ".<name>.discord_echo.yaml.<8 random>.tmp" (32 bytes more), and the
# kept copy of a replaced folder, ".<name>.previous-YYYYmmdd-HHMMSS" (26 more): 40 bytes leave room for both.
MAX_NAME_BYTES = 255
NAME_SUFFIX_RESERVE = 40


class WriteFailedError(EchoError, OSError):
    """The operating system refused a write (disk full, permissions, a name too long); also an `OSError`."""

    def __init__(self, path: Path, exc: OSError):
        self.path = path
        reason = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(
            f"{path}: could not be written ({reason}). Nothing was replaced; free disk space, check that the "
            "folder is writable, or choose a shorter name, then try again."
        )


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
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES - NAME_SUFFIX_RESERVE:
        raise InvalidNameError(
            what,
            name,
            f"is {size} bytes in UTF-8; with the suffixes added to it that exceeds the {MAX_NAME_BYTES}-byte limit "
            f"of file names, so use at most {MAX_NAME_BYTES - NAME_SUFFIX_RESERVE} bytes (about 70 CJK characters)",
        )
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
    tmp = _write_temporary(path, write)
    try:
        if path.exists() and not overwrite:  # appeared while we wrote
            raise FileExistsRefusedError(path)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteFailedError(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_temporary(path: Path, write: Callable[[IO[str]], None]) -> Path:
    """A hidden temporary file beside ``path`` holding what ``write`` wrote, flushed to disk; removed again
    (and any `OSError` turned into `WriteFailedError`) when writing fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteFailedError(path, exc) from exc
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); a webui running as another user (Docker) must read it.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteFailedError(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def replace_together(
    journal: Path,
    writes: list[tuple[Path, Callable[[IO[str]], None]]],
    remove: tuple[Path, ...] = (),
    overwrite: bool = False,
) -> None:
    """Write several files as one set: after a crash or a kill either all of them are new or, once
    `finish_replacing` has run, still all of them are: never some new and some old.

    Every file is first written to a temporary file beside its target. Then ``journal`` (a hidden file) is
    written atomically, listing each temporary file and its target, and the files in ``remove``; only then
    are the temporary files renamed over their targets, ``remove`` deleted, and the journal deleted. A kill
    before the journal exists leaves the old set (and temporary files that `finish_replacing` removes); a
    kill after it leaves a journal that `finish_replacing` completes. Raises `FileExistsRefusedError`
    (nothing written) if a target exists and ``overwrite`` is false.
    """
    finish_replacing(journal)
    for path in (*(path for path, _ in writes), *remove):
        remove_orphan_temporaries(path)  # of a write killed before its journal was written
    if not overwrite:
        for path, _ in writes:
            if path.exists():
                raise FileExistsRefusedError(path)
    done: list[Path] = []
    try:
        for path, write in writes:
            done.append(_write_temporary(path, write))
        if not overwrite:
            for path, _ in writes:
                if path.exists():  # appeared while we wrote
                    raise FileExistsRefusedError(path)
        plan = {
            "replace": [[tmp.name, path.name] for tmp, (path, _) in zip(done, writes, strict=True)],
            "remove": [path.name for path in remove],
        }
        atomic_write(journal, lambda handle: json.dump(plan, handle), overwrite=True)
    except BaseException:
        for tmp in done:
            tmp.unlink(missing_ok=True)
        raise
    finish_replacing(journal)


def finish_replacing(journal: Path) -> None:
    """Complete a `replace_together` that was interrupted after its journal was written (idempotent), and
    remove temporary files of its targets that an interrupted write left behind. Does nothing when no
    replacement was interrupted. Raises `WriteFailedError` if the renames cannot be done."""
    folder = journal.parent
    try:
        plan = json.loads(journal.read_text(encoding="utf-8")) if journal.is_file() else None
    except (OSError, ValueError):
        plan = None  # a journal is written atomically, so an unreadable one is not ours to follow
    try:
        if isinstance(plan, dict):
            for tmp_name, target in plan.get("replace", []):
                tmp = folder / Path(tmp_name).name
                if tmp.exists():  # renamed already when it is gone
                    os.replace(tmp, folder / Path(target).name)
            for name in plan.get("remove", []):
                (folder / Path(name).name).unlink(missing_ok=True)
            journal.unlink(missing_ok=True)
    except OSError as exc:
        raise WriteFailedError(journal, exc) from exc
    if isinstance(plan, dict):
        for _, target in plan.get("replace", []):
            remove_orphan_temporaries(folder / Path(target).name)


def remove_orphan_temporaries(path: Path, min_age_s: float = 0) -> int:
    """Delete the temporary files an interrupted `atomic_write` of ``path`` left beside it, those at least
    ``min_age_s`` seconds old (a reader passes an age no write takes, to spare one in progress); their number."""
    count = 0
    now = time.time()
    with contextlib.suppress(OSError):
        for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime >= min_age_s:
                    tmp.unlink()
                    count += 1
    return count


def glob_escape(name: str) -> str:
    """``name`` with the glob characters ``* ? [`` taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


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
