"""Broken exports never escape the public API as anything but a clear `EchoError`.

Three parts:

* hypothesis drives the mutations of ``benchmarks/fuzz_mutations.py`` (the one copy that
  ``benchmarks/fuzz.py`` runs by the ten thousand) over the real samples, one target per
  format, on a small CI budget;
* one pinned case per reader bug that fuzzing found, so each stays fixed;
* limits: zip bombs, members whose headers lie, nested zips, oversized files and path
  traversal names are refused or contained before memory is spent (tracemalloc peaks).
"""

from __future__ import annotations

import codecs
import importlib.util
import io
import json
import random
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discord_echo.core.errors import EchoError, ExportLimitError, ExportParseError, UnsupportedExportError
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.exports import FileReport, read_export, read_exports

REPO = Path(__file__).resolve().parents[3]


def _load_mutations():
    """benchmarks/fuzz_mutations.py, imported by path (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fuzz_mutations", REPO / "benchmarks" / "fuzz_mutations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_mutations", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return sys.modules["fuzz_mutations"]


fm = _load_mutations()

# Examples per format: the whole file runs in well under a minute on two cores.
# benchmarks/fuzz.py --cases 10000 is the full budget.
EXAMPLES = {"json": 500, "csv": 500, "txt": 500, "html": 500, "zip": 400}


@pytest.fixture(scope="module")
def corpus(samples_dir):
    """The real samples by format; skips (with the reason) where the folder holds none of a format."""
    found = fm.load_corpus(samples_dir)
    missing = [fmt for fmt, items in found.items() if not items]
    if missing:
        pytest.skip(f"no real {', '.join(missing)} samples in {samples_dir} (set DISCORD_ECHO_SAMPLES)")
    return found


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# -- hypothesis targets -------------------------------------------------------------------------


def _fuzz(fmt: str, seed: int, corpus, case_dir: Path) -> None:
    # Hypothesis picks the seed, the seeded generator every mutation: each example is a distinct
    # case (hypothesis' own Random repeated half of them), and a failure replays from its seed.
    case = fm.make_case(fmt, random.Random(f"pytest:{fmt}:{seed}"), corpus)
    outcome = fm.run_case(case, case_dir, seconds=20)
    assert outcome.kind != "unhandled", f"{case.description}\n{outcome.detail}"


def _target(fmt: str):
    @settings(
        max_examples=EXAMPLES[fmt],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def test(seed, corpus, case_dir):
        _fuzz(fmt, seed, corpus, case_dir)

    test.__doc__ = f"Mutated {fmt} samples are read or refused with an EchoError naming the file."
    return test


test_fuzz_json = _target("json")
test_fuzz_csv = _target("csv")
test_fuzz_txt = _target("txt")
test_fuzz_html = _target("html")
test_fuzz_zip = _target("zip")


def test_the_full_budget_script_runs_and_ends_with_its_summary_line(corpus, samples_dir):
    # ``corpus``: skips where the real samples are absent (a fresh clone), as the script needs them.
    script = [sys.executable, str(REPO / "benchmarks" / "fuzz.py"), "--samples", str(samples_dir)]
    result = subprocess.run(
        [*script, "--cases", "4", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.splitlines()[-1] == "cases=20 unhandled=0", result.stdout + result.stderr
    assert result.returncode == 0


# -- one pinned case per bug fuzzing found ---------------------------------------------------------

RAW = "@raw@"


def _json(raw: str | None = None, **fields) -> bytes:
    """A small DCE-shaped JSON export (indented like DCE writes it); ``RAW`` in a field is
    replaced by ``raw``, text no JSON tree can hold."""
    message = {
        "id": "1045178587575242772",
        "type": "Default",
        "timestamp": "2023-01-06T14:03:03.853+00:00",
        "timestampEdited": None,
        "content": "hi",
        "author": {"id": "748545324524575035", "name": "al", "nickname": "Al", "isBot": False},
    }
    message.update(fields)
    root = {"guild": {"id": "1", "name": "g"}, "channel": {"id": "2", "name": "c"}, "messages": [message]}
    text = json.dumps(root, indent=2).replace('"@raw@"', raw or RAW)
    return text.encode()


TXT_HEAD = "=" * 62 + "\nGuild: g\nChannel: c\n" + "=" * 62 + "\n\n"
MODERN_CSV = "AuthorID,Author,Date,Content,Attachments,Reactions\n"

# name -> (bytes, pattern the error must match after the file's path)
BROKEN = {
    # json.loads (the fallback when orjson refuses) raised ValueError past 4300 digits.
    "huge-int.json": (_json("1" + "0" * 5000, id=RAW), r": message #1, byte \d+: invalid JSON: Exceeds the limit"),
    # json.loads raised RecursionError on 10,000 nested arrays (orjson stops at 1024).
    "deep-message.json": (
        _json("[" * 10_000 + "]" * 10_000, content=RAW),
        r": message #1, byte \d+: .*nested too deeply",
    ),
    "deep-root.json": (
        _json().replace(b'"name": "g"', b'"name": ' + b"[" * 10_000 + b"]" * 10_000),
        r': root "guild", byte \d+: .*nested too deeply',
    ),
    # astimezone() raised OverflowError for a time before year 1 in UTC.
    "year-one.json": (
        _json(timestamp="0001-01-01T00:00:00.0000000+14:00"),
        r": message #1, byte \d+: timestamp 0001-01-01T00:00:00\+14:00 is out of range",
    ),
    # Errors quoted whole fields: megabytes of message.
    "huge-edited.json": (
        _json(timestampEdited="😀" * 1_000_000),
        r": message #1, byte \d+: timestampEdited '😀+\.\.\.",
    ),
    "huge-key.json": (json.dumps({"k" * 1_000_000: 1}).encode(), r': no "messages" array \(root keys: k+ \[\.\.\. '),
    "huge-date.csv": (
        (MODERN_CSV + f'"1","al","{"9" * 100_000}","hi","",""\n').encode(),
        r": line 2: bad Date field: '9+ \[\.\.\. [\d,]+ characters \.\.\.\] 9+' is not a date",
    ),
    "huge-date.txt": ((TXT_HEAD + f"[{'9' * 100_000}] al\nhi\n").encode(), r": line 6: '9+ \[\.\.\. "),
    # UTF-16 decoding errors had no position.
    "cut-utf16.json": (
        codecs.BOM_UTF16_LE + _json().decode().encode("utf-16-le")[:-1],
        r": byte \d+: not valid UTF-16",
    ),
    "surrogate-utf16.txt": (
        codecs.BOM_UTF16_LE + (TXT_HEAD + "[1/1/2024 1:00 PM] al\nhi \ud800\n").encode("utf-16-le", "surrogatepass"),
        r": after line \d+: not valid UTF-16 text",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_bug_fuzzing_found_now_gives_a_clear_positioned_error(tmp_path, name):
    data, pattern = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ExportParseError) as error:
        read_export(path)
    message = str(error.value)
    assert re.match(re.escape(str(path)) + pattern, message), message[:500]
    assert len(message) < 1000


def test_a_non_numeric_message_id_is_read_not_crashed_on(tmp_path):
    # read_exports de-duplicates ids with int(id), which raised ValueError for "12-3".
    path = tmp_path / "odd-id.json"
    path.write_bytes(_json(id="1060954094627-163098"))
    messages, report = read_export(path)
    assert [m.id for m in messages] == ["1060954094627-163098"] and report.error is None


# -- zips: damaged archives and members ---------------------------------------------------------------


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buffer.getvalue()


def _patch(data: bytes, central: int | None, local: int | None, value: int, size: int) -> bytes:
    """Overwrite a field (offset from the header start) in every central/local file header."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x01\x02", central), (b"PK\x03\x04", local)):
        if offset is not None:
            for match in re.finditer(re.escape(signature), data):
                out[match.start() + offset : match.start() + offset + size] = value.to_bytes(size, "little")
    return bytes(out)


def _flip_middle(data: bytes) -> bytes:
    """Damage the compressed bytes of the (only) member, not its headers."""
    start = data.index(b"PK\x03\x04") + 30 + len("a.json")
    end = data.index(b"PK\x01\x02")
    out = bytearray(data)
    for i in range(start + (end - start) // 3, start + (end - start) // 2):
        out[i] ^= 0x55
    return bytes(out)


SAMPLE = _json()


def _local_name_damage(kind: str) -> bytes:
    data = bytearray(_zip({"a.json": SAMPLE}))
    local = data.index(b"PK\x03\x04")
    if kind == "differs":
        data[local + 30 : local + 31] = b"b"  # "b.json" in the local header, "a.json" in the directory
    else:
        data[local + 30 : local + 31] = b"\xff"
        struct.pack_into("<H", data, local + 6, 0x800)  # "the name is UTF-8"
    return bytes(data)


MEMBER_DAMAGE = {
    "bad-crc": (_patch(_zip({"a.json": SAMPLE}), 16, 14, 0xDEADBEEF, 4), r"damaged \(Bad CRC-32"),
    "unknown-method": (_patch(_zip({"a.json": SAMPLE}), 10, 8, 99, 2), r"compression method"),
    "encrypted": (_patch(_zip({"a.json": SAMPLE}), 8, 6, 1, 2), r"encrypted"),
    "corrupt-deflate": (_flip_middle(_zip({"a.json": SAMPLE * 20})), r"damaged"),
    "corrupt-lzma": (_flip_middle(_zip({"a.json": SAMPLE * 20}, zipfile.ZIP_LZMA)), r"damaged"),
    "corrupt-bzip2": (_flip_middle(_zip({"a.json": SAMPLE * 20}, zipfile.ZIP_BZIP2)), r"damaged"),
    "local-name-differs": (_local_name_damage("differs"), r"damaged \(File name in directory"),
    "local-name-not-utf8": (_local_name_damage("not utf-8"), r"damaged"),
}


@pytest.mark.parametrize("kind", sorted(MEMBER_DAMAGE))
def test_a_damaged_zip_member_is_reported_against_that_member(tmp_path, kind):
    data, pattern = MEMBER_DAMAGE[kind]
    archive = tmp_path / "export.zip"
    archive.write_bytes(data)
    reports: list[FileReport] = []
    assert list(read_exports([archive], reports=reports)) == []
    assert [r.path for r in reports] == [f"{archive}!a.json"]
    assert reports[0].error.startswith(f"{archive}!a.json: "), reports[0].error
    assert re.search(pattern, reports[0].error), reports[0].error
    with pytest.raises(ExportParseError, match=re.escape(f"{archive}!a.json: ")):
        list(read_exports([archive], on_error="raise"))


@pytest.mark.parametrize(
    ("kind", "patch"),
    [
        ("version", lambda d: _patch(d, 6, None, 0xFF, 2)),  # "needs zip 25.5": NotImplementedError
        ("name-not-utf8", lambda d: _patch(d.replace(b"a.json", b"\xff.json"), 8, None, 0x800, 2)),
        ("truncated", lambda d: d[: len(d) - 30]),
    ],
)
def test_a_damaged_archive_is_refused_naming_it(tmp_path, kind, patch):
    archive = tmp_path / "export.zip"
    archive.write_bytes(patch(_zip({"a.json": SAMPLE})))
    with pytest.raises(UnsupportedExportError, match=re.escape(str(archive)) + r": not a DiscordChatExporter export"):
        read_export(archive)


# -- limits: refused before memory is spent ---------------------------------------------------------


def _peak_bytes(action) -> tuple[object, int]:
    """``action()``'s result (or the EchoError it raised) and the peak of Python allocations."""
    tracemalloc.start()
    try:
        try:
            result: object = action()
        except EchoError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:  # sparse: 300 MB on paper, nothing on disk
        f.write(b'{"messages": [')
        f.truncate(300_000_000)
    error, peak = _peak_bytes(lambda: read_export(big, ReadConfig(max_file_mb=100)))
    assert isinstance(error, ExportLimitError)
    assert str(error) == f"{big}: it is 300 MB, over the 100 MB limit (max_file_mb)."
    assert peak < 1_000_000


def test_a_member_whose_header_claims_a_huge_size_is_refused_before_reading(tmp_path):
    archive = tmp_path / "export.zip"
    archive.write_bytes(_patch(_zip({"a.json": SAMPLE}), 24, 22, 0xFFFFFFF0, 4))  # "4.3 GB unpacked"
    error, peak = _peak_bytes(lambda: read_export(archive))
    assert isinstance(error, ExportLimitError)
    assert str(error).startswith(f"{archive}!a.json: ")
    assert peak < 1_000_000


def test_a_member_whose_header_understates_its_size_is_read_only_that_far(tmp_path):
    # 30 MB of spaces declared as 4 kB: the ratio check sees nothing, zipfile stops at the
    # declared size, and the CRC over those 4 kB does not match.
    archive = tmp_path / "export.zip"
    archive.write_bytes(_patch(_zip({"a.json": b"{" + b" " * 30_000_000 + b"}"}), 24, 22, 4096, 4))
    reports: list[FileReport] = []
    _, peak = _peak_bytes(lambda: list(read_exports([archive], reports=reports)))
    assert reports[0].error.startswith(f"{archive}!a.json: the zip member is damaged (Bad CRC-32 for file 'a.json')")
    assert peak < 5_000_000


def test_a_zip_bomb_inside_a_zip_is_never_unpacked(tmp_path):
    bomb = _zip({"huge.json": b"{" + b" " * 30_000_000 + b"}"})
    archive = tmp_path / "export.zip"
    archive.write_bytes(_zip({"chat.json": SAMPLE, "inner.zip": bomb}))
    reports: list[FileReport] = []
    messages, peak = _peak_bytes(lambda: list(read_exports([archive], reports=reports)))
    assert len(messages) == 1
    inner = next(r for r in reports if r.path.endswith("!inner.zip"))
    assert inner.error is None and inner.warnings == ["skipped: not a DiscordChatExporter export"]
    assert peak < 5_000_000


def test_a_zip_bomb_member_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"big.json": b"{" + b" " * 30_000_000 + b"}"}))
    error, peak = _peak_bytes(lambda: read_export(archive))
    assert isinstance(error, ExportLimitError)
    assert re.match(re.escape(f"{archive}!big.json: claims to expand ") + r"\d+ times \(limit 200\)", str(error))
    assert peak < 1_000_000


@pytest.mark.parametrize("name", ["../x.json", "../../etc/x.json", "/abs/x.json", "C:\\x.json", "a/../../x.json"])
def test_traversal_names_in_a_zip_are_labels_only(tmp_path, name):
    folder = tmp_path / "in"
    folder.mkdir()
    archive = folder / "export.zip"
    archive.write_bytes(_zip({name: SAMPLE}))
    reports: list[FileReport] = []
    messages = list(read_exports([archive], reports=reports))
    assert len(messages) == 1 and messages[0].source.path == f"{archive}!{name}"
    assert [r.error for r in reports] == [None]
    # Nothing is ever extracted: no file appeared beside or above the archive.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("in"), Path("in/export.zip")]
    assert not Path("/abs/x.json").exists()
