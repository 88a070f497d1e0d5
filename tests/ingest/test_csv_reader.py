"""CSV reader: the real 2.15 sample, synthetic files of every header layout, and bad input."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.csv_reader import asset_name, read_csv, split_asset_list

KOMODO = "csv_komodo_talk-other-topics_134_v2.15.csv"
MODERN_HEADER = "AuthorID,Author,Date,Content,Attachments,Reactions"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def read(data: bytes | str, **settings) -> tuple[list[Message], FileReport]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    report = FileReport("t.csv")
    messages = list(read_csv(io.BytesIO(data), Source("t.csv", "csv"), report, ReadConfig(**settings)))
    return messages, report


def row(*fields: str, sep: str = ",", trailing: str = "") -> str:
    return sep.join('"' + field.replace('"', '""') + '"' for field in fields) + trailing


# -- the real 2.15 export (expectations read off the raw file with grep and the csv module) --


@pytest.fixture(scope="module")
def komodo(sample) -> tuple[list[Message], FileReport]:
    path = sample(KOMODO)
    report = FileReport(str(path))
    with path.open("rb") as stream:
        messages = list(read_csv(stream, Source(str(path), "csv"), report, ReadConfig()))
    return messages, report


def test_komodo_counts_and_report(komodo) -> None:
    messages, report = komodo
    assert len(messages) == 100
    assert len({m.author.id for m in messages}) == 18
    assert len({m.author.name for m in messages}) == 18
    assert report.format == "csv"
    assert report.exporter_version == "2.15"
    assert report.warnings == []
    assert [m.index for m in messages] == list(range(100))
    assert all(m.id is None and m.channel.name is None and not m.author.is_bot for m in messages)


def test_komodo_first_and_last(komodo) -> None:
    messages, _ = komodo
    first, last = messages[0], messages[-1]
    assert (first.line, first.timestamp, first.author.id, first.author.name) == (
        2,
        utc(2019, 11, 22, 9, 27),
        "474019343727067147",
        "designer#4893",
    )
    assert first.content == "https://edition.cnn.com/2019/11/21/economy/ray-dalio-economy-great-sag/index.html"
    assert (last.line, last.timestamp, last.author.name) == (120, utc(2019, 11, 30, 14, 58), "jl777c#5810")
    assert last.content == "shamirs secret exists, it could construct a privkey out of the shards"


def test_komodo_multiline_row(komodo) -> None:
    message = komodo[0][15]
    assert (message.line, message.author.name, message.timestamp) == (17, "LocoMB#8593", utc(2019, 11, 24, 14, 25))
    assert message.content == (
        "umm ... wait a moment ..\nwhat is this?\n"
        "https://twitter.com/HezekiahHV93/status/1198601041626959875\nhttps://btc5k.com"
    )
    assert komodo[0][16].line == 21  # the 4-line row 15 pushes the next one down


def test_komodo_attachment_only_row(komodo) -> None:
    message = komodo[0][72]
    assert (message.line, message.author.name, message.content) == (80, "Cryptoon#3362", "")
    assert message.attachments == ("image0.jpg",)
    assert sum(1 for m in komodo[0] if m.attachments) == 4
    assert sum(1 for m in komodo[0] if "\n" in m.content) == 8


def test_komodo_authors_are_shared(komodo) -> None:
    designer = [m.author for m in komodo[0] if m.author.name == "designer#4893"]
    assert len(designer) > 1 and all(author is designer[0] for author in designer)


# -- synthetic files for the layouts no public sample covers ---------------------------------


def test_modern_iso_crlf() -> None:
    data = (
        "\r\n".join(
            [
                MODERN_HEADER,
                row("111", "alice", "2024-03-18T21:15:02.1230000+01:00", 'line one\r\n"quoted" line two', "", ""),
                row("222", "bob#0420", "2024-03-18T21:16:00.0000000+01:00", "Joined the server.", "", ""),
                row(
                    "111",
                    "alice",
                    "2024-03-18T21:17:00.5000000+01:00",
                    "",
                    "https://cdn.discordapp.com/attachments/1/2/cat%20pic.png?ex=65&is=66&hm=ab,"
                    "https://cdn.discordapp.com/attachments/1/3/a,b.txt",
                    "👍 (3),kekw (1)",
                ),
            ]
        )
        + "\r\n"
    )
    messages, report = read(data)
    assert report.exporter_version == ">=2.42.3"
    assert [m.line for m in messages] == [2, 4, 5]
    assert [m.timestamp for m in messages] == [
        utc(2024, 3, 18, 20, 15, 2, 123000),
        utc(2024, 3, 18, 20, 16),
        utc(2024, 3, 18, 20, 17, 0, 500000),
    ]
    assert messages[0].content == 'line one\n"quoted" line two'
    assert messages[0].author.id == "111" and messages[0].author.display_name == "alice"
    assert messages[1].type == "GuildMemberJoin" and messages[1].is_system
    assert messages[2].attachments == ("cat pic.png", "a,b.txt")
    assert messages[0].author is messages[2].author


@pytest.mark.parametrize(
    ("date", "settings", "expected", "version"),
    [
        ("01/23/2023 9:15 PM", {}, utc(2023, 1, 23, 21, 15), "2.38-2.42.2"),
        ("28.01.2024 16:23", {"timezone": "Europe/Berlin"}, utc(2024, 1, 28, 15, 23), "2.41-2.42.2"),
        ("22-Nov-19 09:27 AM", {}, utc(2019, 11, 22, 9, 27), "2.16-2.37"),
        ("1574414820", {}, utc(2019, 11, 22, 9, 27), "2.24-2.40"),
        ("1574414820000", {}, utc(2019, 11, 22, 9, 27), "2.24-2.40"),
    ],
)
def test_modern_display_dates(date: str, settings: dict, expected: datetime, version: str) -> None:
    messages, report = read(f"{MODERN_HEADER}\n{row('1', 'alice', date, 'hi', '', '')}\n", **settings)
    assert messages[0].timestamp == expected
    assert report.exporter_version == version


def test_day_first_learnt_from_a_later_row() -> None:
    rows = [row("1", "a", date, "x", "", "") for date in ("02/01/2024 10:00", "03/01/2024 10:00", "25/01/2024 10:00")]
    messages, report = read("\n".join([MODERN_HEADER, *rows]) + "\n")
    assert [m.timestamp.date().isoformat() for m in messages] == ["2024-01-02", "2024-01-03", "2024-01-25"]
    assert report.warnings == []


@pytest.mark.parametrize(
    ("header", "fields", "version", "author_id"),
    [
        ("Author;Date;Content;Attachments;", ("bob#1", "22-Nov-19 09:27 AM", "hi", ""), "<=2.13", None),
        (
            "Author;Date;Content;Attachments;Reactions;",
            ("bob#1", "22-Nov-19 09:27 AM", "hi", "", ""),
            "2.14",
            None,
        ),
        (
            "AuthorID;Author;Date;Content;Attachments;Reactions;",
            ("42", "bob#1", "22-Nov-19 09:27 AM", "hi", "", ""),
            "2.15",
            "42",
        ),
    ],
)
def test_semicolon_layouts(header: str, fields: tuple[str, ...], version: str, author_id: str | None) -> None:
    messages, report = read(f"{header}\n{row(*fields, sep=';', trailing=';')}\n")
    assert report.exporter_version == version
    assert len(messages) == 1
    message = messages[0]
    assert (message.author.id, message.author.name, message.content) == (author_id, "bob#1", "hi")
    assert message.timestamp == utc(2019, 11, 22, 9, 27)


def test_header_only_file_has_no_messages() -> None:
    messages, report = read(MODERN_HEADER + "\n")
    assert messages == []
    assert report.exporter_version == ">=2.16"


def test_utf8_bom_is_accepted() -> None:
    messages, _ = read(
        b"\xef\xbb\xbf" + f"{MODERN_HEADER}\n{row('1', 'a', '1/2/2024 3:04 PM', 'x', '', '')}\n".encode()
    )
    assert messages[0].timestamp == utc(2024, 1, 2, 15, 4)


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("", ()),
        ("https://cdn.discordapp.com/attachments/1/2/image0.jpg", ("image0.jpg",)),
        ("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&hm=2", ("a.png",)),
        ("https://x/1/a.png,https://x/2/b%20c.gif", ("a.png", "b c.gif")),
        ("out_Files\\image-1A2B3.png,out_Files/other-4C5D6.jpg", ("image-1A2B3.png", "other-4C5D6.jpg")),
    ],
)
def test_split_asset_list(value: str, names: tuple[str, ...]) -> None:
    assert split_asset_list(value) == names


def test_asset_name_falls_back_to_the_url() -> None:
    assert asset_name("https://example.com/") == "example.com"
    assert asset_name("/") == "/"


# -- bad input: always ExportParseError with a position ---------------------------------------


@pytest.mark.parametrize(
    ("data", "position", "reason"),
    [
        (b"", "line 1", "the file is empty"),
        (b"\n\n", "line 1", "the file is empty"),
        (b"\x00\x01\x02 garbage\x00", "line 1", "contains NUL bytes"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xd8", "line 1", "not valid UTF-8"),
        (f"{MODERN_HEADER}\n".encode() + b'"1","a","1/2/2024 3:04 PM","caf\xe9","",""\n', "line 2", "not valid UTF-8"),
        (b"id,name,when,text\n", "line 1", "not a DiscordChatExporter CSV header"),
        (b"Author,Date,Content\n", "line 1", "not a DiscordChatExporter CSV header"),
        (f"{MODERN_HEADER}\n{row('1', 'a', '1/2/2024 3:04 PM', 'x', '')}\n".encode(), "line 2", "row has 5 fields"),
        (
            "\n".join(
                [MODERN_HEADER, row("1", "a", "1/2/2024 3:04 PM", "x", "", ""), row("1", "a", "soon", "x", "", "")]
            ).encode(),
            "line 3",
            "bad Date field: 'soon' does not match",
        ),
        (f"{MODERN_HEADER}\n{row('1', 'a', 'tomorrow', 'x', '', '')}\n".encode(), "line 2", "not a date format"),
        (f'{MODERN_HEADER}\n"1","a","1/2/2024 3:04 PM","unterminated\nmore\n'.encode(), "line 2", "broken CSV row"),
        (f'{MODERN_HEADER}\n"1","a"x,"1/2/2024 3:04 PM","t","",""\n'.encode(), "line 2", "broken CSV row"),
    ],
)
def test_bad_input(data: bytes, position: str, reason: str) -> None:
    with pytest.raises(ExportParseError) as info:
        read(data)
    assert info.value.path == "t.csv"
    assert info.value.position == position or info.value.position.startswith(position + ", column")
    assert reason in info.value.reason


def test_error_comes_after_the_good_rows() -> None:
    data = f"{MODERN_HEADER}\n{row('1', 'a', '01/02/2024 10:00', 'ok', '', '')}\n{row('1', 'a')}\n"
    stream = read_csv(io.BytesIO(data.encode()), Source("t.csv", "csv"), FileReport("t.csv"), ReadConfig())
    assert next(stream).content == "ok"
    with pytest.raises(ExportParseError, match="line 3"):
        next(stream)
