"""Turn what the user gives (files, folders, zips) into an ordered list of export inputs.

A whole-server export is a folder of one file per channel plus ``*_Files`` media folders;
users also zip it, or partition big channels. This module finds the export files among
all that, refuses oversized files and zip bombs before reading them, and orders the
partitions of one channel so they can be joined (docs/formats.md, Partitions and renamed files):

* ``X.json, X [part 2].json, X [part 3].json``   (2.16 and later)
* ``X [1 of 3].json, X [2 of 3].json, ...``      (2.9-2.15)
* ``X-1.json, X-2.json, ...``                     (2.8)

File names are used only to order partitions; channel metadata is always read from
inside the files.
"""

from __future__ import annotations

import functools
import lzma
import re
import struct
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from discord_echo.core.errors import (
    EchoError,
    ExportLimitError,
    ExportParseError,
    InputPathError,
    UnsupportedExportError,
)
from discord_echo.core.printable import printable
from discord_echo.ingest.config import ReadConfig

# Only these can be exports; media downloaded with --media and other litter is skipped.
_EXPORT_SUFFIXES = frozenset({".json", ".csv", ".txt", ".html", ".htm", ".zip"})

_PART_PATTERNS = (
    re.compile(r"^(?P<base>.+) \[part (?P<n>\d+)\]$"),
    re.compile(r"^(?P<base>.+) \[(?P<n>\d+) of (?P<m>\d+)\]$"),
)
_DASH_PART = re.compile(r"^(?P<base>.+)-(?P<n>\d+)$")


@dataclass(frozen=True)
class _Found:
    label: str
    name: str  # base name, used for partition grouping
    size: int
    open: Callable[[], BinaryIO]
    explicit: bool


@dataclass(frozen=True)
class ExportInput:
    """One file to read: on disk or inside a zip. ``label`` names it in every message."""

    label: str
    size: int
    open: Callable[[], BinaryIO]
    group: str  # partitions of one channel share a group; other files have their own
    part: int  # 1-based partition number within the group
    explicit: bool = True  # named by the user (not found inside a folder or zip)


def discover(paths: Iterable[str | Path], config: ReadConfig | None = None) -> list[ExportInput]:
    """Expand files, folders and zips into export inputs, partitions grouped and ordered.

    Explicitly named files are always returned (a non-export then fails with a clear error
    when read); inside folders and zips only files that can be exports are taken, so media
    folders are skipped. Raises `ExportLimitError` for an oversized file or a zip bomb and
    `UnsupportedExportError` for a path that does not exist.
    """
    config = config or ReadConfig()
    found: list[_Found] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if _looks_like_export_name(child.name) and not _inside_media_folder(child.relative_to(path).parts):
                    try:
                        found.extend(_expand_file(child, config, explicit=False))
                    except EchoError as exc:
                        # One damaged or oversized file in a folder is that file's error, reported
                        # when it is read, not a reason to give up on the whole folder.
                        failed = _Found(printable(str(child)), printable(child.name), 0, _failing(exc), explicit=True)
                        found.append(failed)
        elif path.is_file():
            found.extend(_expand_file(path, config, explicit=True))
        else:
            raise InputPathError(str(path), missing=not path.exists())
    return _order_partitions(found)


def _failing(error: EchoError) -> Callable[[], BinaryIO]:
    def open_fails() -> BinaryIO:
        raise error

    return open_fails


def _expand_file(path: Path, config: ReadConfig, explicit: bool) -> list[_Found]:
    if zipfile.is_zipfile(path):
        return _zip_members(path, config)
    if path.suffix.lower() == ".zip" and explicit:
        raise UnsupportedExportError(str(path), "named .zip but not a readable zip archive")
    size = path.stat().st_size
    _check_size(str(path), size, config)
    return [_Found(printable(str(path)), printable(path.name), size, lambda p=path: open(p, "rb"), explicit)]


# What zipfile raises for a damaged archive or member (found by fuzzing): a bad local header or CRC
# (BadZipFile), corrupt compressed data (zlib.error, LZMAError, EOFError; bz2 raises OSError),
# an unknown compression method or version (NotImplementedError), encryption (RuntimeError), a
# broken extra field (struct.error), a file name that is not valid UTF-8 (UnicodeDecodeError).
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError, struct.error,
    UnicodeDecodeError,
)  # fmt: skip


def _zip_members(path: Path, config: ReadConfig) -> list[_Found]:
    """The export members of an archive, refused as a whole before anything is read when they are too many,
    too big together, or expand too much (one member, or all together: many small members can be a bomb too).

    The archive's directory is read once here; its members then share one open `_Archive`, so reading
    N members costs N reads, not N re-reads of the directory.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except _ZIP_ERRORS as exc:  # (fuzzing: not only BadZipFile; e.g. NotImplementedError for a version field)
        raise UnsupportedExportError(str(path), f"a damaged zip archive ({_error_text(exc)})") from exc
    wanted = [
        info
        for info in infos
        if not info.is_dir() and _looks_like_export_name(PurePosixPath(info.filename).name)
        and not _inside_media_folder(PurePosixPath(info.filename).parts)
    ]  # fmt: skip
    if len(wanted) > config.max_zip_members:
        raise ExportLimitError(
            str(path),
            f"holds {len(wanted):,} export files, over the limit of {config.max_zip_members:,} (max_zip_members); "
            "nothing was read. Unzip it and give the folders you need, or raise max_zip_members if you trust it.",
        )
    shared = _Archive(path)
    members = []
    total = packed = 0
    for info in sorted(wanted, key=lambda i: i.filename):
        name = PurePosixPath(info.filename)
        label = _label(path, info)
        _check_size(label, info.file_size, config)
        if info.compress_size and info.file_size > 1_000_000:
            ratio = info.file_size / info.compress_size
            if ratio > config.max_zip_ratio:
                raise ExportLimitError(
                    label,
                    f"claims to expand {ratio:.0f} times (limit {config.max_zip_ratio}); "
                    "this looks like a zip bomb and was not read. Raise max_zip_ratio if you trust it.",
                )
        total += info.file_size
        packed += info.compress_size
        # zipfile stops returning data at the declared file_size, so the checks above hold
        # even when the archive lies about it.
        opener = functools.partial(shared.open_member, info)
        members.append(_Found(label, printable(name.name), info.file_size, opener, False))
    if total > config.max_zip_total_mb * 1_000_000:
        raise ExportLimitError(
            str(path),
            f"its {len(members):,} export files together are {total / 1e6:,.0f} MB, over the "
            f"{config.max_zip_total_mb:,} MB limit (max_zip_total_mb); nothing was read.",
        )
    if total > 1_000_000 and packed and total / packed > config.max_zip_ratio:
        raise ExportLimitError(
            str(path),
            f"its {len(members):,} export files claim to expand {total / packed:.0f} times together "
            f"(limit {config.max_zip_ratio}); this looks like a zip bomb and was not read. "
            "Raise max_zip_ratio if you trust it.",
        )
    _check_size(str(path), total, config, what="its export files together are")
    return members


class _Archive:
    """One zip archive shared by all its members: opened on the first member read and kept open while the
    inputs that refer to it live (closed when they are dropped), so its directory is parsed once."""

    def __init__(self, path: Path):
        self._path = path
        self._archive: zipfile.ZipFile | None = None
        self._finalizer: weakref.finalize | None = None

    def open_member(self, info: zipfile.ZipInfo) -> BinaryIO:
        label = _label(self._path, info)
        try:
            if self._archive is None:
                self._archive = zipfile.ZipFile(self._path)
                self._finalizer = weakref.finalize(self, self._archive.close)
            member = self._archive.open(info)
        except _ZIP_ERRORS as exc:
            raise _damaged(label, None, exc) from exc
        return _ZipMember(member, label)  # type: ignore[return-value]


def _label(path: Path, info: zipfile.ZipInfo) -> str:
    """How a zip member is named in every report and error: ``archive!member``, control characters escaped
    (a member name can hold terminal escapes or line breaks; `printable`)."""
    return printable(f"{path}!{info.filename}")


def _damaged(label: str, offset: int | None, exc: BaseException) -> ExportParseError:
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        reason = "the zip member is encrypted; unzip the archive yourself and give the folder"
    elif isinstance(exc, NotImplementedError):
        reason = f"the zip member uses a compression method this Python cannot read ({_error_text(exc)})"
    else:
        reason = f"the zip member is damaged ({_error_text(exc)}); zip the export again"
    # Damage shows where a read ends (a CRC is checked at the member's end), hence "after".
    return ExportParseError(label, f"after byte {offset:,} of the unpacked member" if offset else None, reason)


def _error_text(exc: BaseException) -> str:
    """The text of a zipfile/zlib error, or its type when it has none; cut short, since
    BadZipFile quotes whole header fields (fuzzing: a 64 KiB file name)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


class _ZipMember:
    """A zip member's byte stream that raises `ExportParseError` (member + offset) where the
    member turns out to be damaged; its archive stays open for the other members (`_Archive`)."""

    def __init__(self, member: BinaryIO, label: str):
        self._member, self._label = member, label
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._member.read(size)
        except _ZIP_ERRORS as exc:
            raise _damaged(self._label, self._offset, exc) from exc
        self._offset += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        try:
            line = self._member.readline(size)
        except _ZIP_ERRORS as exc:
            raise _damaged(self._label, self._offset, exc) from exc
        self._offset += len(line)
        return line

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def close(self) -> None:
        self._member.close()

    def __enter__(self) -> _ZipMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_size(label: str, size: int, config: ReadConfig, what: str = "it is") -> None:
    limit = config.max_file_mb * 1_000_000
    if size > limit:
        raise ExportLimitError(
            label, f"{what} {size / 1e6:,.0f} MB, over the {config.max_file_mb:,} MB limit (max_file_mb)."
        )


def _looks_like_export_name(name: str) -> bool:
    suffix = PurePosixPath(name).suffix.lower()
    return not name.startswith(".") and suffix in _EXPORT_SUFFIXES


def _inside_media_folder(parts: tuple[str, ...]) -> bool:
    return any(part.endswith("_Files") or part == "__MACOSX" for part in parts[:-1])


def partition_key(name: str) -> tuple[str, int, bool]:
    """``(group, part number, explicit)`` for a file name; ``explicit`` is False for ``X-N``.

    >>> partition_key("general [123] [part 3].json")
    ('general [123].json', 3, True)
    """
    stem, suffix = _split_suffix(name)
    for pattern in _PART_PATTERNS:
        match = pattern.match(stem)
        if match:
            return match["base"] + suffix, int(match["n"]), True
    match = _DASH_PART.match(stem)
    if match:
        return match["base"] + suffix, int(match["n"]), False
    return name, 1, True


def _split_suffix(name: str) -> tuple[str, str]:
    suffix = PurePosixPath(name).suffix
    return (name[: -len(suffix)], suffix) if suffix else (name, "")


def _order_partitions(found: list[_Found]) -> list[ExportInput]:
    keyed = []
    for item in found:
        folder = item.label[: len(item.label) - len(item.name)]
        group, part, explicit = partition_key(item.name)
        keyed.append((folder + group, part, explicit, item))
    # "X-2" is a partition only when a sibling "X-N" exists; otherwise it is just a name.
    dash_groups: dict[str, int] = {}
    for group, _, explicit, *_ in keyed:
        if not explicit:
            dash_groups[group] = dash_groups.get(group, 0) + 1
    inputs = []
    for group, part, explicit, item in keyed:
        if not explicit and dash_groups[group] < 2:
            group, part = item.label, 1
        inputs.append(ExportInput(item.label, item.size, item.open, group, part, item.explicit))
    # Stable: groups in the order first seen, parts by number within a group.
    first_seen: dict[str, int] = {}
    for position, item in enumerate(inputs):
        first_seen.setdefault(item.group, position)
    return sorted(inputs, key=lambda item: (first_seen[item.group], item.part))
