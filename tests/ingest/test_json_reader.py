"""JSON reader: every real JSON sample, truncated and re-formatted copies, synthetic edge cases, bad input.

Expected values for the real samples were read off the raw files with Python's json module
(and grep), never from the reader's output.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from datetime import datetime, timezone

import orjson
import pytest

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.json_export import messages as json_messages
from discord_echo.ingest.json_export import reader as json_reader
from discord_echo.ingest.json_export.reader import read_json

DM = "json_chat-analytics_DM_2A_2M.json"
GC = "json_chat-analytics_GC_3A_5M.json"
SV = "json_chat-analytics_SV_5A_5M.json"
CRE8R = "json_cre8r-dao_damo-labs_v2.4x.json"
CHILL = "json_dcef_example-guild_chill-talk.json"
GENERAL = "json_dcef_example-guild_general.json"
THREAD = "json_dcef_example-guild_thread_thomas-is-thomas.json"
ALL_SAMPLES = (DM, GC, SV, CRE8R, CHILL, GENERAL, THREAD)


def utc(text: str) -> datetime:
    """Independent ISO parser for expectations: 0-7 fraction digits, offset, to UTC."""
    day, fraction, offset = re.fullmatch(r"(.{19})(?:\.(\d+))?([+-]\d\d:\d\d|Z)", text).groups()
    fraction = (fraction or "").ljust(6, "0")[:6]
    parsed = datetime.strptime(f"{day}.{fraction}{offset.replace('Z', '+00:00')}", "%Y-%m-%dT%H:%M:%S.%f%z")
    return parsed.astimezone(timezone.utc)


def read(data: bytes, name: str = "t.json") -> tuple[list[Message], FileReport]:
    report = FileReport(name)
    messages = list(read_json(io.BytesIO(data), Source(name, "json"), report, ReadConfig()))
    return messages, report


def key(m: Message) -> tuple:
    """Everything a message carries except the Source object."""
    return (
        m.index, m.id, m.timestamp, m.author, m.content, m.channel, m.type, m.edited, m.reply_to,
        m.attachments, m.embeds, m.stickers, m.is_forward, m.forwarded_content, m.is_pinned,
    )  # fmt: skip


ALICE = {"id": "1001", "name": "alice", "discriminator": "0000", "nickname": "Alice", "isBot": False}
BOB = {"id": "1002", "name": "bob", "discriminator": "0000", "nickname": "bob", "isBot": False}


def msg(mid: str, content: str = "hi", author: dict = ALICE, **fields) -> dict:
    """A message object with the keys DCE writes, in its order; ``fields`` override or add."""
    message = {
        "id": mid,
        "type": "Default",
        "timestamp": "2024-03-01T12:00:00.123+00:00",
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": author,
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
    }
    message.update(fields)
    return message


def export(messages: list, indent: int | str | None = 2, drop: tuple[str, ...] = (), **root) -> bytes:
    """A DCE-shaped document; ``json.dumps(indent=2)`` lays it out exactly as DCE does.

    ``root`` overrides root keys, ``drop`` removes them.
    """
    document = {
        "guild": {"id": "900", "name": "Guild", "iconUrl": "https://cdn.discordapp.com/icons/900/x.png"},
        "channel": {"id": "901", "type": "GuildTextChat", "categoryId": "902", "category": "Text", "name": "general",
                    "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-03-02T00:00:00.1234567+00:00",
        "messages": messages,
        "messageCount": len(messages),
    }  # fmt: skip
    document.update(root)
    for name in drop:
        del document[name]
    return json.dumps(document, indent=indent, ensure_ascii=False).encode("utf-8")


@pytest.fixture(params=[None, 97], ids=["chunk-default", "chunk-97B"])
def chunk(request, monkeypatch) -> None:
    """Also run with a tiny read size, so values and message ends straddle many reads."""
    if request.param:
        monkeypatch.setattr(json_reader, "CHUNK_SIZE", request.param)


# -- the real samples ------------------------------------------------------------------------

# file: (messages yielded, distinct author ids, first timestamp, last timestamp, messageCount, version)
SAMPLE_FACTS = {
    DM: (3, 2, "2019-01-04T17:52:39.762+00:00", "2020-07-17T17:03:14.366+00:00", 3, ">=2.33"),
    GC: (6, 3, "2023-01-17T19:33:07.489+00:00", "2023-03-03T14:47:59.187+00:00", 5, ">=2.33"),
    SV: (4, 2, "2018-05-20T16:09:44.209+00:00", "2018-05-20T16:09:51.118+00:00", 5, ">=2.33"),
    CRE8R: (39, 3, "2022-07-18T09:51:43.953+00:00", "2022-07-22T12:42:34.638+00:00", 39, ">=2.44"),
    CHILL: (6, 4, "2023-01-06T16:11:26.414+00:00", "2023-01-06T16:14:05.275+00:00", 35, ">=2.35"),
    GENERAL: (35, 4, "2023-01-06T14:03:03.853+00:00", "2023-01-06T16:05:35.86+00:00", 35, ">=2.35"),
    THREAD: (5, 3, "2023-01-06T14:26:58.031+00:00", "2023-01-06T14:27:26.98+00:00", 5, ">=2.33"),
}
SAMPLE_WARNINGS = {
    GC: ["messageCount says 5 but the file holds 6 messages"],
    SV: ["message #2: duplicate message id 459136077417021488: kept the first copy"],
    CHILL: ["messageCount says 35 but the file holds 6 messages"],
}


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_sample_counts_authors_times(sample, chunk, name) -> None:
    count, authors, first, last, declared, version = SAMPLE_FACTS[name]
    messages, report = read(sample(name).read_bytes(), name)
    assert len(messages) == count
    assert len({m.author.id for m in messages}) == authors
    assert messages[0].timestamp == utc(first) and messages[-1].timestamp == utc(last)
    assert all(m.timestamp.tzinfo is timezone.utc for m in messages)
    assert report.format == "json"
    assert report.declared_count == declared
    assert report.exporter_version == version
    assert report.warnings == SAMPLE_WARNINGS.get(name, [])


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_sample_matches_python_json(sample, name) -> None:
    """Message by message against the standard library's reading of the same bytes."""
    raw = sample(name).read_bytes()
    expected, seen = [], set()
    for index, m in enumerate(json.loads(raw)["messages"]):
        if m["id"] not in seen:
            seen.add(m["id"])
            edited = m["timestampEdited"] and utc(m["timestampEdited"])
            expected.append((index, m["id"], utc(m["timestamp"]), m["author"]["id"], m["content"], m["type"], edited))
    messages, _ = read(raw, name)
    assert [(m.index, m.id, m.timestamp, m.author.id, m.content, m.type, m.edited) for m in messages] == expected


# file, position in the yielded list: id, author name, display name, bot, type, content (prefix), reply_to,
# attachments, embeds, stickers
SAMPLE_MESSAGES = [
    (DM, 1, "538148765782114306", "Someones name", "Someones nickname", True, "Default", "something something text",
     None, (), 0, ()),
    (DM, 2, "100", "Someones name", "Someones nickname", True, "Call", "Started a call that lasted 251 minutes.",
     None, (), 0, ()),
    (GC, 2, "1064991038751649806", "lombi", "lombi", False, "ChannelIconChange", "Changed the channel icon.",
     None, (), 0, ()),
    (GC, 4, "530805779645595660", "mlomb", "mlomb", False, "Default", "woah nice :custom_emoji:",
     "1064990824305274930", (), 0, ()),
    (SV, 1, "447793085255123004", "mlomb", "mlomb", False, "Default", "The author of this message does not have",
     None, (), 0, ()),
    (SV, 2, "447793085255123005", "mlomb", "mlomb", False, "Default", "This message has attachments and stickers.",
     None, ("unknown.png",), 0, ("Laugh",)),
    (CRE8R, 0, "998527484100362282", "dunks411", "dunks411", False, "Default", "Hi @tony-tang", None, (), 0, ()),
    (CRE8R, 8, "998536844142718988", "dunks411", "dunks411", False, "Reply",
     "I can do a call now if it suits you sir?", "998536576126697503", (), 0, ()),
    (CRE8R, 15, "998560177072640130", "dunks411", "dunks411", False, "Default", "", None, ("unknown.png",), 0, ()),
    (CRE8R, 38, "1000020030051864616", "bee926", "Bee926", False, "Reply", "Awesome let me know.",
     "999674931077988363", (), 0, ()),
    (CHILL, 0, "1060953753550860429", "Adam", "Adam", False, "Default", "It's a little cold in here 🥶", None, (), 0,
     ()),
    (CHILL, 2, "1060954094627463098", "aLittleSpammyBot", "RICK NITRO", False, "Default",
     "Free nitro giveaway! https://www.youtube.com/watch?v=dQw4w9WgXcQ", None, (), 1, ()),
    (GENERAL, 3, "1045179638760091709", "Adam", "Adam", False, "Default", "", None, (), 0, ("pepecute",)),
    (GENERAL, 11, "1060926346089476176", "Adam", "Adam", False, "Default", "You will understand it later :kekw:",
     "1060926317920538735", (), 0, ()),
    (GENERAL, 24, "1060927310439657577", "Adam", "Adam", False, "ThreadCreated", "Started a thread.", None, (), 0,
     ()),
    (GENERAL, 34, "1060928127137747099", "Adam", "Adam", False, "Default",
     "Anyway that's all. If you find this project useful, please consider starring ⭐ it on GitHub.\n\nAnd if", None,
     (), 1, ()),
    (THREAD, 0, "1060927462046978058", "Adam", "Adam", False, "Default", "Here you are 🙂", None, (), 0, ()),
    (THREAD, 4, "1060927583467876363", "Patrick", "Patrick", False, "Reply", "Thank you!", "1060927555093413928",
     (), 0, ()),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, at, mid, author, display, bot, kind, content, reply_to, attachments, embeds, stickers", SAMPLE_MESSAGES
)
def test_sample_message(sample, name, at, mid, author, display, bot, kind, content, reply_to, attachments, embeds,
                        stickers) -> None:  # fmt: skip
    messages, _ = read(sample(name).read_bytes(), name)
    m = messages[at]
    assert (m.id, m.author.name, m.author.display_name, m.author.is_bot, m.type) == (mid, author, display, bot, kind)
    assert m.content.startswith(content) and (content or not m.content)
    assert (m.reply_to, m.attachments, m.embeds, m.stickers) == (reply_to, attachments, embeds, stickers)
    assert m.source.path == name and not m.is_forward and not m.is_pinned


def test_sample_channel_and_edits(sample) -> None:
    messages, report = read(sample(THREAD).read_bytes())
    channel = report.channel
    assert (channel.id, channel.name, channel.type, channel.category) == (
        "1060927310439657577", "Thomas is Thomas", "GuildPublicThread", "general")  # fmt: skip
    assert (channel.guild_id, channel.guild_name) == ("748545324524575035", "Example guild")
    assert all(m.channel is channel for m in messages)
    chill, _ = read(sample(CHILL).read_bytes())
    assert chill[5].edited == utc("2023-01-12T16:14:05.275+00:00") and chill[4].edited is None
    general, _ = read(sample(GENERAL).read_bytes())
    assert [m.index for m in general if m.is_system] == [1, 2, 24, 33]


def test_authors_are_shared_instances(sample) -> None:
    messages, _ = read(sample(SV).read_bytes())
    # SV message #3 has no nickname, #4 nickname == name: the same Author either way.
    assert messages[1].author is messages[2].author is messages[3].author
    general, _ = read(sample(GENERAL).read_bytes())
    assert len({id(m.author) for m in general}) == len({m.author for m in general}) == 4


# -- truncated files --------------------------------------------------------------------------


def _message_spans(raw: bytes) -> list[tuple[int, int]]:
    """(start of "{", end after "}") of each message of a 2-space indented DCE file."""
    starts = [m.start() + 5 for m in re.finditer(rb"\n    \{\n", raw)]
    ends = [m.end() for m in re.finditer(rb"\n    \}", raw)]
    assert len(starts) == len(ends)
    return list(zip(starts, ends, strict=True))


def _cuts(raw: bytes) -> list[tuple[str, int, int, str]]:
    """(case, cut offset, complete messages before it, where) for a DCE sample."""
    spans = _message_spans(raw)
    array = raw.index(b'"messages": [') + len(b'"messages": [')
    content = raw.index(b'"content": "', spans[9][0]) + len(b'"content": "') + 3
    author = raw.index(b'"author": {', spans[19][0]) + len(b'"author": {') + 20
    type_comma = raw.index(b'"type": "', spans[12][0])
    type_comma = raw.index(b",", type_comma) + 1
    return [
        ("preamble", raw.index(b'"channel"') + 20, 0, "before the message list"),
        ("after-array-bracket", array, 0, "at the start of the message list"),
        ("first-message", spans[0][0] + 40, 0, "inside message #1"),
        ("in-string", content, 9, "inside message #10"),
        ("in-nested-object", author, 19, "inside message #20"),
        ("after-comma-in-message", type_comma, 12, "inside message #13"),
        ("after-message-end", spans[15][1], 16, "after message #16"),
        ("between-messages", spans[15][1] + 1, 16, "after message #16"),
        ("before-last-brace", spans[-1][1] - 1, len(spans) - 1, f"inside message #{len(spans)}"),
        ("postamble", len(raw.rstrip()) - 3, len(spans), "after the message list"),
    ]


_CASE_IDS = [
    "preamble", "after-array-bracket", "first-message", "in-string", "in-nested-object", "after-comma-in-message",
    "after-message-end", "between-messages", "before-last-brace", "postamble",
]  # fmt: skip


@pytest.mark.parametrize("case", range(len(_CASE_IDS)), ids=_CASE_IDS)
def test_truncated_sample(sample, chunk, case) -> None:
    raw = sample(GENERAL).read_bytes()
    full, _ = read(raw)
    _, cut, complete, where = _cuts(raw)[case]
    messages, report = read(raw[:cut])
    assert [key(m) for m in messages] == [key(m) for m in full[:complete]]
    assert report.warnings == [
        f"file ends at byte {cut} {where}: the export was cut off; {complete} complete messages were read"
    ]


def test_truncated_metadata_still_reported(sample) -> None:
    raw = sample(GENERAL).read_bytes()
    messages, report = read(raw[: raw.index(b'"messages"') + 3])
    assert messages == [] and report.channel.name == "general" and report.declared_count is None


@pytest.mark.parametrize("cut_after", [0, 1, 17, 34])
def test_truncated_minified(sample, chunk, cut_after) -> None:
    """The general (non-indented) path: cut inside message ``cut_after + 1`` of a minified copy."""
    document = json.loads(sample(GENERAL).read_bytes())
    parts = [orjson.dumps(m) for m in document["messages"]]
    head = orjson.dumps({k: document[k] for k in ("guild", "channel", "dateRange")})[:-1] + b',"messages":['
    raw = head + b",".join(parts) + b'],"messageCount":35}'
    cut = len(head) + sum(len(p) + 1 for p in parts[:cut_after]) + len(parts[cut_after]) // 2
    full, _ = read(raw)
    messages, report = read(raw[:cut])
    assert [key(m) for m in messages] == [key(m) for m in full[:cut_after]]
    assert report.warnings == [
        f"file ends at byte {cut} inside message #{cut_after + 1}: the export was cut off; "
        f"{cut_after} complete messages were read"
    ]


# -- layouts other than DCE's (the general path) -----------------------------------------------


def _one_per_line(raw: bytes) -> bytes:
    document = json.loads(raw)
    lines = ",\n".join(json.dumps(m, ensure_ascii=False) for m in document.pop("messages"))
    return json.dumps(document)[:-1].encode() + b', "messages": [\n' + lines.encode() + b"\n]}"


def _one_odd_message(raw: bytes) -> bytes:
    """A hand-edited file: message #20 re-serialized in one line amid DCE's layout."""
    start, end = _message_spans(raw)[19]
    return raw[:start] + json.dumps(json.loads(raw[start:end])).encode() + raw[end:]


LAYOUTS = {
    "minified": lambda raw: orjson.dumps(json.loads(raw)),
    "indent-4": lambda raw: json.dumps(json.loads(raw), indent=4, ensure_ascii=False).encode(),
    "indent-tab": lambda raw: json.dumps(json.loads(raw), indent="\t").encode(),
    "crlf": lambda raw: raw.replace(b"\n", b"\r\n"),
    "one-message-per-line": _one_per_line,
    "one-odd-message": _one_odd_message,
    "utf-8-bom": lambda raw: codecs.BOM_UTF8 + raw,
    "utf-16-le-bom": lambda raw: raw.decode("utf-8").encode("utf-16"),
    "utf-16-be-bom": lambda raw: codecs.BOM_UTF16_BE + raw.decode("utf-8").encode("utf-16-be"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", [GENERAL, CRE8R])
def test_other_layouts_read_the_same(sample, chunk, name, layout) -> None:
    raw = sample(name).read_bytes()
    expected, expected_report = read(raw)
    messages, report = read(LAYOUTS[layout](raw))
    assert [key(m) for m in messages] == [key(m) for m in expected]
    assert report.warnings == expected_report.warnings == []
    assert (report.channel, report.declared_count) == (expected_report.channel, 39 if name == CRE8R else 35)


def test_streams_without_reading_everything() -> None:
    raw = export([msg(str(10_000 + i), "x" * 200) for i in range(5000)])
    stream = io.BytesIO(raw)
    messages = read_json(stream, Source("t.json", "json"), FileReport("t.json"), ReadConfig())
    assert next(messages).id == "10000"
    assert stream.tell() < len(raw) // 4
    assert sum(1 for _ in messages) == 4999


# -- synthetic edge cases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp, expected",
    [
        ("2024-03-01T12:00:05+00:00", datetime(2024, 3, 1, 12, 0, 5, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.8+00:00", datetime(2024, 3, 1, 12, 0, 5, 800000, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.86+00:00", datetime(2024, 3, 1, 12, 0, 5, 860000, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.863+00:00", datetime(2024, 3, 1, 12, 0, 5, 863000, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.8634+00:00", datetime(2024, 3, 1, 12, 0, 5, 863400, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.86345+00:00", datetime(2024, 3, 1, 12, 0, 5, 863450, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.863456+00:00", datetime(2024, 3, 1, 12, 0, 5, 863456, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.8634567+00:00", datetime(2024, 3, 1, 12, 0, 5, 863456, tzinfo=timezone.utc)),
        ("2022-05-26T23:19:27.384-04:00", datetime(2022, 5, 27, 3, 19, 27, 384000, tzinfo=timezone.utc)),
        ("2024-03-01T01:00:00.5+02:00", datetime(2024, 2, 29, 23, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2024-03-01T12:00:05.25Z", datetime(2024, 3, 1, 12, 0, 5, 250000, tzinfo=timezone.utc)),
    ],
)
@pytest.mark.parametrize("python", ["current", "3.10"])
def test_timestamps(monkeypatch, python, stamp, expected) -> None:
    if python == "3.10":
        monkeypatch.setattr(json_messages, "datetime", _Strict310)
    (m,), _ = read(export([msg("1", timestamp=stamp, timestampEdited=stamp)]))
    assert m.timestamp == expected and m.timestamp.tzinfo is timezone.utc
    assert m.edited == expected and m.edited.tzinfo is timezone.utc


class _Strict310(datetime):
    """``datetime.fromisoformat`` as in Python 3.10: 3 or 6 fraction digits, no "Z"."""

    @classmethod
    def fromisoformat(cls, text):  # type: ignore[override]
        if not isinstance(text, str):
            raise TypeError("fromisoformat: argument must be str")
        if text.endswith("Z") or not re.fullmatch(r"[^.]*(\.\d{3}|\.\d{6})?[+-]\d\d:\d\d", text):
            raise ValueError(f"Invalid isoformat string: {text!r}")
        return datetime.fromisoformat(text)


def test_replies_and_references() -> None:
    messages, _ = read(
        export(
            [
                msg("1"),
                msg("2", reference={"messageId": "1", "channelId": "901", "guildId": "900"}),  # Default + reference
                msg("3", type="Reply", reference={"type": "Default", "messageId": "2", "channelId": "901"}),
                msg("4", "Pinned a message.", type="ChannelPinnedMessage", reference={"messageId": "3"}),
                msg("5", "Started a thread.", type="ThreadCreated", reference={"messageId": None, "channelId": "7"}),
                msg("6", type="Reply", reference={"messageId": 2}),  # hand-edited: a number
            ]
        )
    )
    assert [m.reply_to for m in messages] == [None, "1", "2", None, None, "2"]
    assert [m.is_system for m in messages] == [False, False, False, True, True, False]


def test_forward_2_47() -> None:
    forwarded = {
        "timestamp": "2026-02-20T10:00:00.5+00:00",
        "timestampEdited": None,
        "content": "the original words",
        "attachments": [],
        "embeds": [],
        "stickers": [],
    }
    messages, report = read(
        export(
            [
                msg("1", "own words", reference={"type": "Default", "messageId": "0", "channelId": "901"}),
                msg("2", "", reference={"type": "Forward", "messageId": "55", "channelId": "77", "guildId": "88"},
                    forwardedMessage=forwarded, inlineEmojis=[]),
            ]
        )
    )  # fmt: skip
    assert [(m.is_forward, m.forwarded_content, m.content, m.reply_to) for m in messages] == [
        (False, "", "own words", "0"),
        (True, "the original words", "", None),
    ]
    assert report.exporter_version == ">=2.47"


@pytest.mark.parametrize("kind, system", [("20", False), ("21", False), ("8", True), ("19", False), ("Call", True)])
def test_type_strings_kept(kind, system) -> None:
    (m,), _ = read(export([msg("1", type=kind)]))
    assert m.type == kind and m.is_system is system


def test_optional_fields_default() -> None:
    bare = {"id": "1", "timestamp": "2018-05-20T16:09:44.209+00:00", "author": {"id": "5", "name": "old"}}
    (m,), report = read(export([bare], exportedAt=None))
    assert (m.content, m.type, m.edited, m.reply_to, m.attachments, m.embeds, m.stickers, m.is_pinned) == (
        "", "Default", None, None, (), 0, (), False)  # fmt: skip
    assert (m.author.id, m.author.name, m.author.display_name, m.author.is_bot) == ("5", "old", "old", False)
    assert report.warnings == []


def test_attachments_embeds_stickers_pins() -> None:
    (m,), _ = read(
        export(
            [
                msg("1", isPinned=True, attachments=[{"id": "9", "url": "https://x/a.png", "fileName": "a.png"},
                                                     {"id": "8", "url": "https://x/b.gif"}],
                    embeds=[{"title": "t"}, {"title": "u"}], stickers=[{"id": "3", "name": "wave", "format": "Png"}]),
            ]
        )
    )  # fmt: skip
    assert (m.attachments, m.embeds, m.stickers, m.is_pinned) == (("a.png", "https://x/b.gif"), 2, ("wave",), True)


@pytest.mark.parametrize(
    "fields, version",
    [
        ({}, ">=2.40.1"),  # the root has exportedAt
        ({"inlineEmojis": []}, ">=2.44"),
        ({"reactions": [{"emoji": {"id": "", "name": "x"}, "count": 1, "users": []}]}, ">=2.40.4"),
        ({"embeds": [{"title": "", "video": {"url": "v", "width": 1, "height": 1}}]}, ">=2.42.9"),
        ({"embeds": [{"title": "", "thumbnail": {"url": "t", "canonicalUrl": "c"}}]}, ">=2.46.1"),
        ({"reference": {"type": "Default", "messageId": "1"}}, ">=2.47"),
    ],
)
def test_exporter_version_guess(fields, version) -> None:
    _, report = read(export([msg("1", **fields)]))
    assert report.exporter_version == version


def test_old_layout_version() -> None:
    old = {"id": "1", "type": "Default", "timestamp": "2020-01-01T00:00:00+00:00", "timestampEdited": None,
           "isPinned": False, "content": "x", "author": {"id": "2", "name": "n", "discriminator": "1234",
                                                         "isBot": False, "avatarUrl": "u"},
           "attachments": [], "embeds": [], "reactions": []}  # fmt: skip
    channel = {"id": "1", "type": "GuildTextChat", "name": "c", "topic": None}
    _, report = read(export([old], drop=("exportedAt",), channel=channel))
    assert report.exporter_version == ">=2.18"


def test_duplicates_message_count_and_empty() -> None:
    messages, report = read(export([msg("1"), msg("2"), msg("1", "again")], messageCount=2))
    assert [(m.index, m.content) for m in messages] == [(0, "hi"), (1, "hi")]
    assert report.warnings == [
        "message #3: duplicate message id 1: kept the first copy",
        "messageCount says 2 but the file holds 3 messages",
    ]
    messages, report = read(export([]))
    assert messages == [] and report.warnings == [] and report.declared_count == 0
    assert report.channel.name == "general"


@pytest.mark.parametrize(
    "ids, kept",
    [
        (["5", "6", "7", "6", "8", "5"], ["5", "6", "7", "8"]),  # ascending: the sorted-array path
        (["9", "8", "7", "8", "6", "9"], ["9", "8", "7", "6"]),  # newest first (--reverse)
        (["5", "9", "7", "9", "5", "8"], ["5", "9", "7", "8"]),  # shuffled after a while
        (["a", "b", "a", "7", "7"], ["a", "b", "7"]),  # non-numeric (hand-edited)
        (["7", "007", "٧", "7"], ["7", "007", "٧"]),  # same number, different strings: different ids
        (["1", "2", "3" * 25, "3" * 25], ["1", "2", "3" * 25]),  # beyond 64 bits
    ],
)
def test_duplicate_ids_in_any_order(ids, kept) -> None:
    messages, report = read(export([msg(i) for i in ids], messageCount=len(ids)))
    assert [m.id for m in messages] == kept
    assert len(report.warnings) == len(ids) - len(kept)


def test_unpaired_surrogate_and_trailing_data() -> None:
    raw = export([msg("1"), msg("2", "x")]).replace(b'"x"', b'"broken \\ud83d emoji"')
    messages, report = read(raw + b"\n\x00garbage")
    assert messages[1].content == "broken \ufffd emoji"
    assert len(report.warnings) == 2
    assert report.warnings[0].startswith("message #2, byte ") and "surrogate" in report.warnings[0]
    assert report.warnings[1] == f"byte {len(raw) + 1}: data after the end of the JSON document was ignored"


# -- bad input -------------------------------------------------------------------------------

GOOD = export([msg("1"), msg("2")])
MESSAGE_1 = "message #1, byte N"  # the byte offset varies with the layout of export()
SECOND = GOOD.index(b"{", GOOD.index(b'"id": "2"') - 12)


@pytest.mark.parametrize(
    "data, position, reason",
    [
        (b"", "byte 0", "the file is empty"),
        (b" \n ", "byte 0", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "byte 0", "found byte 0x89, expected a JSON object"),
        (b"\x00\x01\x02", "byte 0", "found byte 0x00"),
        (b"  [1, 2]", "byte 2", 'found a JSON array, expected a JSON object with a "messages" array'),
        (b'{"guild": {}, "channel": {}}', None, r'no "messages" array \(root keys: guild, channel\)'),
        (b"{}", None, r'no "messages" array \(root keys: none\)'),
        (b'{"messages": {}}', "byte 13", '"messages" is not an array'),
        (b'{"messages": [] x}', "byte 16", 'expected "," or "}" in the root object'),
        (b'{"messages": [1]}', "message #1, byte 14", "expected a message object, found int"),
        (b'{"messages": [{"id": "1", "timestamp": "2020-01-01T00:00:00Z", "author": {"id": "2", "name": "n"}} 5]}',
         "byte 99", 'expected "," or "]" after message #1'),
        (b'{"messages": [{"id": "1", "timestamp": "2020-01-01T00:00:00Z", "author": {"id": "2", "name": "n"}},]}',
         "byte 99", "unexpected byte 0x5D where a JSON value should start"),
        (b'{"channel": "general", "messages": []}', 'root "channel"', "expected an object, found str"),
        (export([msg("1", author="bob")]), MESSAGE_1, "author must be an object, found str"),
        (export([msg("1", author={"id": "2"})]), MESSAGE_1, "missing required field 'author.name'"),
        (export([{"id": "1", "author": ALICE}]), MESSAGE_1, "missing required field 'timestamp'"),
        (export([msg("1", timestamp="yesterday")]), MESSAGE_1, "timestamp 'yesterday' is not an ISO-8601 date"),
        (export([msg("1", timestamp=1700000000)]), MESSAGE_1, "timestamp 1700000000 is not an ISO-8601 date"),
        (export([msg("1", content=5)]), MESSAGE_1, "content must be a string, found int"),
        (export([msg("1", attachments="a.png")]), MESSAGE_1, "attachments must be a list of objects"),
        (export([msg("1", reference="2")]), MESSAGE_1, "reference must be an object"),
        (export([msg(["1"])]), MESSAGE_1, "id must be a string, found list"),
    ],
)  # fmt: skip
def test_bad_input(data, position, reason) -> None:
    with pytest.raises(ExportParseError, match=reason) as caught:
        read(data, "bad.json")
    error = caught.value
    assert error.path == "bad.json" and str(error).startswith("bad.json: ")
    if position is MESSAGE_1:
        assert re.fullmatch(r"message #1, byte \d+", error.position)
    else:
        assert error.position == position


def test_bad_message_position_in_fast_path(sample) -> None:
    raw = sample(GENERAL).read_bytes()
    start, end = _message_spans(raw)[19]
    broken = raw[:start] + raw[start:end].replace(b'"timestamp": "2023', b'"timestamp": "x023') + raw[end:]
    with pytest.raises(ExportParseError, match="not an ISO-8601 date") as caught:
        read(broken)
    assert caught.value.position == f"message #20, byte {start}"


@pytest.mark.parametrize("layout", ["dce", "minified"])
def test_invalid_utf8_names_the_byte(layout) -> None:
    raw = GOOD if layout == "dce" else orjson.dumps(json.loads(GOOD))
    at = raw.index(b"hi", raw.index(b'"2"'))
    with pytest.raises(ExportParseError, match=r"invalid UTF-8 \(byte 0xFF\)") as caught:
        read(raw[:at] + b"\xff" + raw[at + 1 :])
    assert caught.value.position == f"message #2, byte {at}"


def test_invalid_json_inside_a_message_names_it() -> None:
    at = GOOD.index(b'"content"', SECOND)
    with pytest.raises(ExportParseError, match="invalid JSON") as caught:
        read(GOOD[:at] + b"content" + GOOD[at + len(b'"content"') :])
    assert caught.value.position.startswith("message #2, byte ")


def test_invalid_utf16() -> None:
    raw = codecs.BOM_UTF16_LE + '{"messages": ['.encode("utf-16-le") + b"\x00\xd8\x41\x00"
    with pytest.raises(ExportParseError, match="not valid UTF-16"):
        read(raw)


def test_message_field_order_pinned() -> None:
    """read_json builds Message positionally; a reordered dataclass must fail loudly, not silently."""
    from dataclasses import fields

    assert [f.name for f in fields(Message)][: len(json_reader._MESSAGE_FIELDS)] == json_reader._MESSAGE_FIELDS
