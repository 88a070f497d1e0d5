"""TXT reader: the real 2.15 sample, synthetic 2.17+/2.41+/2.47 files, and bad input."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Channel, Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.txt_reader import read_txt

KOMODO = "txt_komodo_talk-other-topics_134_v2.15.txt"
SEP = "=" * 62


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def read(data: bytes | str, **settings) -> tuple[list[Message], FileReport]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    report = FileReport("t.txt")
    messages = list(read_txt(io.BytesIO(data), Source("t.txt", "txt"), report, ReadConfig(**settings)))
    return messages, report


def export(*body: str, channel: str = "general", footer: str | None = None) -> str:
    """A TXT export: header block, the given lines, and optionally a footer count."""
    lines = [SEP, "Guild: Test", f"Channel: {channel}", SEP, "", *body]
    if footer is not None:
        lines += [SEP, f"Exported {footer} message(s)", SEP]
    return "\n".join(lines) + "\n"


# -- the real 2.15 export (expectations read off the raw file with grep) -----------------------


@pytest.fixture(scope="module")
def komodo(sample) -> tuple[list[Message], FileReport]:
    path = sample(KOMODO)
    report = FileReport(str(path))
    with path.open("rb") as stream:
        messages = list(read_txt(stream, Source(str(path), "txt"), report, ReadConfig()))
    return messages, report


def test_komodo_report(komodo) -> None:
    messages, report = komodo
    assert len(messages) == 100
    assert report.declared_count == 100
    assert report.warnings == []
    assert report.format == "txt"
    assert report.exporter_version == "<=2.15"
    assert report.channel == Channel(
        name="talk-other-topics",
        guild_name="Komodo",
        topic="A channel to talk about topics that don't fit into any other channel. "
        "You can also share interesting links here.",
    )
    assert all(m.channel is report.channel for m in messages)


def test_komodo_messages(komodo) -> None:
    messages, _ = komodo
    assert len({m.author.name for m in messages}) == 18
    assert all(m.author.id is None and m.id is None for m in messages)
    assert [m.index for m in messages] == list(range(100))
    first, last = messages[0], messages[-1]
    assert (first.line, first.timestamp, first.author.name, first.embeds) == (
        9,
        utc(2019, 11, 22, 9, 27),
        "designer#4893",
        1,
    )
    assert first.content == "https://edition.cnn.com/2019/11/21/economy/ray-dalio-economy-great-sag/index.html"
    assert (last.line, last.timestamp, last.author.name) == (607, utc(2019, 11, 30, 14, 58), "jl777c#5810")
    assert last.content == "shamirs secret exists, it could construct a privkey out of the shards"
    assert sum(m.embeds for m in messages) == 34
    assert sum(len(m.attachments) for m in messages) == 4


@pytest.mark.parametrize(
    ("line", "author", "content", "embeds", "attachments"),
    [
        (
            104,
            "LocoMB#8593",
            "umm ... wait a moment ..\nwhat is this?\n"
            "https://twitter.com/HezekiahHV93/status/1198601041626959875\nhttps://btc5k.com",
            1,
            (),
        ),
        (175, "sφldat#8733", "nothing about Komodo\nhttps://vitalik.ca/general/2019/11/22/progress.html", 1, ()),
        # its embed description has blank lines: they stay out of the content
        (187, "Acura#2748", "https://twitter.com/alexbosworth/status/1199127408613322753", 1, ()),
        (388, "Cryptoon#3362", "", 0, ("image0.jpg",)),
        (
            595,
            "Cryptoon#3362",
            "the guy seems to be a wright supporter, so might as well be a ruse",
            0,
            (),
        ),
    ],
)
def test_komodo_specific_messages(komodo, line, author, content, embeds, attachments) -> None:
    message = next(m for m in komodo[0] if m.line == line)
    assert (message.author.name, message.content, message.embeds, message.attachments) == (
        author,
        content,
        embeds,
        attachments,
    )


# -- a 2.47 export in the en-CA locale, written the way the HEAD writer writes -----------------

MODERN = "\n".join(
    [
        SEP,  # 1
        "Guild: MeshCore",
        "Channel: Community / general / Manual",
        "Topic: How to use it",
        "second topic line",  # 5
        SEP,
        "",
        "[2025-09-13 4:24 a.m.] alice (pinned)",  # 8
        "Hello everyone",
        "",  # 10
        "[citation needed] really",  # a bracket after a blank line, but not a date
        "",
        "",
        "[2025-09-13 4:25 a.m.] bob#0420",  # 14
        "first paragraph",  # 15
        "",
        "second paragraph",
        "[2025-09-13 4:26 a.m.] carol quoted",  # no blank line before it: content
        "",
        "{Attachments}",  # 20
        "https://cdn.discordapp.com/attachments/1/2/notes.txt?ex=1&hm=2",
        "",
        "{Embed}",
        "https://example.com",
        "Example title",  # 25
        "",
        "{Reactions}",
        "👍 (2) 🎉",
        "",
        "[2025-09-13 12:30 p.m.] carol",  # 30
        "Joined the server.",
        "",
        "",
        "[2025-09-13 4:31 p.m.] dave",  # 34
        "",  # 35
        "",
        "{Forwarded Message}",
        "forwarded text",
        "",
        "with a blank line",  # 40
        "Originally sent: 2025-09-12 9:00 p.m.",
        "{Attachments}",
        "https://cdn.discordapp.com/attachments/1/3/fwd.png",
        "",
        "",  # 45
        "{Stickers}",
        "https://media.discordapp.net/stickers/123456789.png",
        "",
        "",
        SEP,  # 50
        "Exported 4 message(s)",
        SEP,
        "",
    ]
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_modern_export(newline: str) -> None:
    messages, report = read(MODERN.replace("\n", newline), timezone="America/Toronto")
    assert report.warnings == []
    assert report.declared_count == 4
    assert report.exporter_version == ">=2.47"
    assert report.channel == Channel(
        name="Manual", category="general", guild_name="MeshCore", topic="How to use it\nsecond topic line"
    )
    assert [(m.line, m.index, m.author.name) for m in messages] == [
        (8, 0, "alice"),
        (14, 1, "bob#0420"),
        (30, 2, "carol"),
        (34, 3, "dave"),
    ]
    alice, bob, carol, dave = messages
    assert alice.timestamp == utc(2025, 9, 13, 8, 24)  # EDT is UTC-4
    assert carol.timestamp == utc(2025, 9, 13, 16, 30)
    assert alice.is_pinned and not bob.is_pinned
    assert alice.content == "Hello everyone\n\n[citation needed] really"
    assert bob.content == "first paragraph\n\nsecond paragraph\n[2025-09-13 4:26 a.m.] carol quoted"
    assert (bob.attachments, bob.embeds) == (("notes.txt",), 1)
    assert (carol.type, carol.content) == ("GuildMemberJoin", "Joined the server.")
    assert alice.type == bob.type == "Default"
    assert dave.content == "" and dave.is_forward
    assert dave.forwarded_content == "forwarded text\n\nwith a blank line"
    assert dave.attachments == ("fwd.png",)  # the forwarded message's attachment
    assert dave.stickers == ("123456789.png",)
    assert not bob.is_forward and bob.forwarded_content == ""


def test_footer_count_mismatch_is_a_warning() -> None:
    text = MODERN.replace("Exported 4 message(s)", "Exported 1,234 message(s)")
    messages, report = read(text)
    assert len(messages) == 4
    assert report.declared_count == 1234
    assert report.warnings == ["line 51: the export declares 1234 messages but 4 were read"]


@pytest.mark.parametrize("count", ["2,468", "2.468", "2 468", "2\u00a0468", "2\u202f468", "2'468"])
def test_footer_group_separators(count: str) -> None:
    _, report = read(export(footer=count))
    assert report.declared_count == 2468


def test_empty_channel() -> None:
    messages, report = read(export(footer="0"))
    assert messages == []
    assert report.declared_count == 0
    assert report.warnings == []
    assert report.exporter_version == ">=2.17"


def test_de_de_dates_and_order_learnt_later() -> None:
    text = export(
        "[01.02.2024 09:05] anna",
        "Guten Morgen",
        "",
        "",
        "[13.02.2024 18:40] Bernd",
        "Hallo",
        "",
        "",
        channel="Textkanäle / allgemein",
        footer="2",
    )
    messages, report = read(text, timezone="Europe/Berlin")
    assert [m.timestamp for m in messages] == [utc(2024, 2, 1, 8, 5), utc(2024, 2, 13, 17, 40)]
    assert report.warnings == []
    assert report.channel == Channel(name="allgemein", category="Textkanäle", guild_name="Test")
    assert report.exporter_version == ">=2.41"


def test_configured_day_first() -> None:
    messages, _ = read(export("[03/04/2024 10:00] a", "x", "", ""), day_first=True)
    assert messages[0].timestamp == utc(2024, 4, 3, 10, 0)


def test_authors_share_one_instance_per_name() -> None:
    body = []
    for name in ("a", "b", "a"):
        body += [f"[1/2/2024 3:04 PM] {name}", "hi", "", ""]
    messages, _ = read(export(*body))
    assert messages[0].author is messages[2].author
    assert messages[0].author.id is None and messages[0].author.display_name == "a"


def test_separator_line_inside_content_is_not_a_footer() -> None:
    messages, _ = read(export("[1/2/2024 3:04 PM] a", "before", "", SEP, "after", "", "", footer="1"))
    assert messages[0].content == f"before\n\n{SEP}\nafter"


def test_old_layout_without_footer() -> None:
    text = "\n".join(
        [
            SEP,
            "Guild: G",
            "Channel: c",
            "Topic: ",
            "Messages: 1",
            "Range: ",
            SEP,
            "",
            "[01-Feb-20 10:00 PM] x#1",
            "hi",
            "",
        ]
    )
    messages, report = read(text)
    assert [(m.content, m.timestamp) for m in messages] == [("hi", utc(2020, 2, 1, 22, 0))]
    assert report.channel == Channel(name="c", guild_name="G")
    assert report.declared_count == 1


@pytest.mark.parametrize(
    ("data", "position", "reason"),
    [
        (b"", "line 1", "the file is empty"),
        (b"\x00\x01binary\x00", "line 1", "contains NUL bytes"),
        (b"\xff\xd8\xff\xe0 jpeg", "line 1", "not valid UTF-8"),
        (export("[1/2/2024 3:04 PM] a", "ok", "").encode() + b"caf\xe9\n", "line 9", "not valid UTF-8"),
        (b"Guild: G\nChannel: c\n", "line 1", "must start with a line of 62 '='"),
        (f"{SEP}\nGuild: G\nChannel: c\n".encode(), None, "never ends"),
        (f"{SEP}\nGuild: G\n{SEP}\n".encode(), "line 2", "no 'Channel:' line"),
        (export("[someday] alice", "hi").encode(), "line 6", "'someday' in '[someday] alice' is not a date"),
        (export("hello there").encode(), "line 6", "expected a message header '[date] author'"),
        (
            export("[1/2/2024 3:04 PM] a", "x", "", "[1/2/2024 3:99 PM] b", "y").encode(),
            "line 9",
            "bad message date",
        ),
    ],
)
def test_bad_input(data: bytes, position: str | None, reason: str) -> None:
    with pytest.raises(ExportParseError) as info:
        read(data)
    assert info.value.path == "t.txt"
    assert info.value.position == position or info.value.position.startswith(f"{position}, column")
    assert reason in info.value.reason
