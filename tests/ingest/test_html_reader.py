"""HTML reader: the real 2.15 and 2.47 samples, synthetic snippets of every layout, bad input.

Expectations for the real samples were read off the raw files with grep and a throwaway
regex script (ids, ``title``/``data-user-id`` of ``chatlog__author(-name)``, content spans),
not from this reader's output. Timestamps are the snowflake formula applied to those ids.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from datetime import datetime, timezone
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discord_echo.core.errors import EchoError, ExportParseError, UnsupportedExportError
from discord_echo.core.messages import DISCORD_EPOCH_MS, Author, Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export import reader as html_reader
from discord_echo.ingest.html_export.reader import CHUNK_SIZE, read_html

KOMODO_DARK = "html-dark_komodo_talk-other-topics_134_v2.15.html"
KOMODO_LIGHT = "html-light_komodo_talk-other-topics_134_v2.15.html"
MESHCORE = "html-dark_meshcore_thread-manual_v2.47_en-CA.html"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def sid(when: datetime, n: int = 0) -> str:
    """A snowflake id created at ``when`` (the n-th one that millisecond)."""
    return str((int(when.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22 | n)


def read(data: bytes | str, name: str = "t.html", **settings) -> tuple[list[Message], FileReport]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    report = FileReport(name)
    messages = list(read_html(io.BytesIO(data), Source(name, "html"), report, ReadConfig(**settings)))
    return messages, report


def read_file(path) -> tuple[list[Message], FileReport]:
    report = FileReport(str(path))
    with path.open("rb") as stream:
        return list(read_html(stream, Source(str(path), "html"), report, ReadConfig())), report


# -- synthetic markup, written after docs/formats.md, HTML markups ----------------------------

# Selectors that date a template (every one up to 2.47); slices give older stylesheets.
CSS = [
    ".chatlog__message-group{}",
    ".preamble__entry{}",
    ".chatlog__sticker{}",
    ".chatlog__message-container{}",
    ".chatlog__embed-images{}",
    ".chatlog__system-notification-icon{}",
    ".chatlog__system-notification-author{}",
    ".chatlog__reply{}",
    ".chatlog__embed-generic-video{}",
    ".chatlog__embed-twitch{}",
    ".chatlog__embed-youtube-thumbnail{}",
    ".chatlog__forwarded{}",
]
PREAMBLE = (
    '<div class="preamble"><div class="preamble__guild-icon-container"><img class="preamble__guild-icon" '
    'src="https://cdn.discordapp.com/icons/1012224565567721552/abc.png" alt="Guild icon"></div>'
    '<div class="preamble__entries-container"><div class="preamble__entry">Example guild</div>'
    '<div class="preamble__entry">Text Channels / general</div>'
    '<div class="preamble__entry preamble__entry--small">Say <strong>hi</strong></div></div></div>'
)
T0 = utc(2024, 1, 28, 21, 23, 5)


def page(groups: str, css: int = len(CSS), preamble: str = PREAMBLE, postamble: str = "") -> str:
    return (
        f"<!DOCTYPE html><html lang=en><head><title>G - C</title><style>{''.join(CSS[:css])}</style></head>"
        f'<body>{preamble}<div class="chatlog">{groups}</div>{postamble}</body></html>'
    )


def container(mid: str, primary: str, aside: str = "", pinned: bool = False) -> str:
    pin = " chatlog__message-container--pinned" if pinned else ""
    return (
        f'<div id="chatlog__message-container-{mid}" class="chatlog__message-container{pin}" data-message-id="{mid}">'
        f'<div class="chatlog__message"><div class="chatlog__message-aside">{aside}</div>'
        f'<div class="chatlog__message-primary">{primary}</div></div></div>'
    )


def header(uid: str = "11", title: str = "alice", shown: str = "Alice", tag: str = "", stamp: str = "") -> str:
    tag_html = f'<span class="chatlog__author-tag">{tag}</span>' if tag else ""
    return (
        f'<div class="chatlog__header">'
        f'<span class="chatlog__author" title="{title}" data-user-id="{uid}">{shown}</span>'
        f'{tag_html}<span class="chatlog__timestamp"{stamp}><a href="#">1/28/2024 4:23 PM</a></span></div>'
    )


def content(html: str, edited: str = "") -> str:
    mark = f'<span class="chatlog__edited-timestamp" title="{edited}">(edited)</span>' if edited else ""
    return (
        '<div class="chatlog__content chatlog__markdown">'
        f'<span class="chatlog__markdown-preserve">{html}</span>{mark}</div>'
    )


def group(*containers: str) -> str:
    return f'<div class="chatlog__message-group">{"".join(containers)}</div>'


def one_message(html: str) -> str:
    return page(group(container(sid(T0), header() + content(html))))


# -- the real 2.15 exports -------------------------------------------------------------------


@pytest.fixture(scope="module")
def komodo(sample) -> tuple[list[Message], FileReport]:
    return read_file(sample(KOMODO_DARK))


def test_komodo_counts_and_report(komodo) -> None:
    messages, report = komodo
    assert len(messages) == 100
    assert [m.index for m in messages] == list(range(100))
    assert len({m.author.id for m in messages}) == 18
    assert report.format == "html"
    assert report.exporter_version == "<=2.15"
    assert report.declared_count == 100
    assert report.warnings == []
    assert report.channel is not None
    assert (report.channel.guild_name, report.channel.name, report.channel.category) == (
        "Komodo",
        "talk-other-topics",
        None,
    )
    assert report.channel.guild_id == "412898016371015680"
    assert report.channel.topic == (
        "A channel to talk about topics that don't fit into any other channel. "
        "You can also share interesting links here."
    )
    assert all(m.channel is report.channel and not m.author.is_bot and m.type == "Default" for m in messages)


def test_komodo_first_and_last(komodo) -> None:
    messages, _ = komodo
    first, last = messages[0], messages[-1]
    assert (first.id, first.timestamp, first.author.name) == (
        "647367542771417099",
        utc(2019, 11, 22, 9, 27, 29, 704000),
        "designer#4893",
    )
    assert first.content == "https://edition.cnn.com/2019/11/21/economy/ray-dalio-economy-great-sag/index.html"
    assert first.embeds == 1
    assert (last.id, last.timestamp, last.author.name) == (
        "650350015595937802",
        utc(2019, 11, 30, 14, 58, 46, 637000),
        "jl777c#5810",
    )
    assert last.content == "shamirs secret exists, it could construct a privkey out of the shards"


@pytest.mark.parametrize(
    ("mid", "author", "text"),
    [
        ("647528085742288898", "Evitor#6985", "👆 😁"),  # jumbo unicode emoji images
        ("648167559149125654", "LocoMB#8593", "this looks like a brazen scam attempt 🎣"),
        ("648188787977093145", "Markus#5464", "@LocoMB"),  # continuation: inherits Markus; mention
        ("648899889274683403", "SHossain#0007", "`deluge` on Ubuntu/Debian"),
        ("649343740326051880", "LocoMB#8593", "wtf?!?! an iPhone *cannot* be used securely 🧛"),
        ("649386865358536714", "grewalsatinder#9653", "😅 didn't ever cared about Samsung features 😛"),  # &#39;
        (
            "649542089746546708",
            "polycryptoblog#1173",
            "As much as I don’t like the guy it’s good to have a president with some balls",
        ),
        ("648887675126022144", "𝙊𝙊𝙊𝙊#3612", "Pirate torrent Client?"),  # the 2.15 encoder mangled this name
        ("648167763684360212", "LocoMB#8593", "THIS is not Jameson Lopp:\nhttps://twitter.com/HezekiahHV93"),
    ],
)
def test_komodo_messages(komodo, mid: str, author: str, text: str) -> None:
    message = next(m for m in komodo[0] if m.id == mid)
    assert (message.author.name, message.content) == (author, text)


def test_komodo_continuations_inherit_the_group_author(sample, komodo) -> None:
    # Independently of the reader: each group's author span, then the ids in that group.
    raw = sample(KOMODO_DARK).read_text("utf-8")
    expected = {}
    for chunk in raw.split('<div class="chatlog__message-group">')[1:]:
        uid, title = re.search(r'chatlog__author-name" title="([^"]*)" data-user-id="(\d+)"', chunk).group(2, 1)
        expected.update((mid, (uid, unescape(title))) for mid in re.findall(r'data-message-id="(\d+)"', chunk))
    assert len(expected) == 100
    assert {m.id: (m.author.id, m.author.name) for m in komodo[0]} == expected
    markus = [m for m in komodo[0] if m.author.name == "Markus#5464"]
    assert [m.id for m in markus[:2]] == ["648187910960447488", "648188787977093145"]  # one group
    assert markus[0].author is markus[1].author == Author("301766691992371210", "Markus#5464", "Markus", False)


def test_komodo_edits_attachments(komodo) -> None:
    by_id = {m.id: m for m in komodo[0]}
    # "(edited)" titles are dd-MMM-yy hh:mm tt; the group dates show the machine ran in UTC.
    assert by_id["648187910960447488"].edited == utc(2019, 11, 24, 15, 50)
    assert by_id["648887624362229780"].edited == utc(2019, 11, 26, 14, 8)
    # edited within the same displayed minute: the send time is the best bound
    assert by_id["648219096353210377"].edited == by_id["648219096353210377"].timestamp
    assert sum(m.edited is not None for m in komodo[0]) == 5
    assert by_id["649535940179656743"].attachments == ("image0.jpg",)
    assert by_id["649535940179656743"].content == ""
    assert sum(len(m.attachments) for m in komodo[0]) == 4
    assert sum(m.embeds for m in komodo[0]) == 34


def test_komodo_dark_and_light_are_identical(sample, komodo) -> None:
    light, report = read_file(sample(KOMODO_LIGHT))
    dark = komodo[0]
    assert [(m.id, m.author, m.content, m.edited, m.attachments, m.embeds) for m in light] == [
        (m.id, m.author, m.content, m.edited, m.attachments, m.embeds) for m in dark
    ]
    assert report.channel == komodo[1].channel


def test_komodo_agrees_with_the_csv_of_the_same_run(sample, komodo) -> None:
    """Same 100 messages as csv_komodo_...csv (read here with the csv module, not csv_reader).

    Exactly three differences, all losses in the 2.15 HTML itself: ``_italic_`` is rendered
    as <em> like ``*italic*`` (two messages), and the 2.15 HTML encoder wrote all four
    mathematical-alphabet letters of one name as the first one (``&#120394;`` x4).
    """
    with sample("csv_komodo_talk-other-topics_134_v2.15.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))[1:]
    messages = komodo[0]
    assert len(rows) == len(messages) == 100
    assert [r[0] for r in rows] == [m.author.id for m in messages]
    assert [i for i, (r, m) in enumerate(zip(rows, messages, strict=True)) if r[1] != m.author.name] == [29]
    assert (rows[29][1], messages[29].author.name) == ("𝙊𝙞𝙣𝙠#3612", "𝙊𝙊𝙊𝙊#3612")
    differ = {m.id: (r[3], m.content) for r, m in zip(rows, messages, strict=True) if r[3] != m.content}
    assert set(differ) == {"648219096353210377", "649343740326051880"}
    assert all(text.replace("_", "*") == html for text, html in differ.values())
    # The CSV lists attachment URLs; the 2.15 HTML names images only by URL too.
    names = [tuple(url.rsplit("/", 1)[-1] for url in r[4].split(",") if url) for r in rows]
    assert names == [m.attachments for m in messages]


# -- the real 2.47 export (minified, unquoted attributes) ------------------------------------


@pytest.fixture(scope="module")
def meshcore(sample) -> tuple[list[Message], FileReport]:
    return read_file(sample(MESHCORE))


def test_meshcore(meshcore) -> None:
    messages, report = meshcore
    assert len(messages) == 13
    assert report.declared_count == 13 and report.warnings == []
    assert report.exporter_version == ">=2.47"
    assert report.channel is not None
    assert (report.channel.guild_name, report.channel.category, report.channel.name) == (
        "MeshCore",
        "development",
        "Manual",
    )
    assert {(m.author.id, m.author.name, m.author.display_name) for m in messages} == {
        ("297768887595040768", "mike.tango", "Housemeista™ || MikeTango"),
        ("507297929103540224", "rightup2407", "RightUp"),
    }
    assert (messages[0].id, messages[0].timestamp) == ("1416338783866978395", utc(2025, 9, 13, 8, 24, 40, 376000))
    assert (messages[-1].id, messages[-1].timestamp) == ("1416370373594841179", utc(2025, 9, 13, 10, 30, 11, 954000))
    assert messages[-1].content == "you can't just change a subsetting, the changes don't stick"
    assert messages[1].content == "@ded (SalishMesh) good morning, i tried to whip something up on the first coffee"
    assert messages[3].content == (
        "Looking good, I started this a while back https://mc-docs.rightup.uk would be awesome to have the details "
        "like what you’re starting! \n\nhttps://github.com/rightup/MeshCoreDocs"
    )
    assert [m.embeds for m in messages[2:4]] == [1, 2]
    reply = messages[6]
    assert (reply.id, reply.author.name, reply.reply_to, reply.type) == (
        "1416359873964146749",
        "rightup2407",
        "1416358730626367528",
        "Reply",
    )
    assert [m.author.name for m in messages[7:]] == ["mike.tango"] * 6  # one group of six


# -- synthetic ≥2.34 markup ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (
            '<img class="chatlog__emoji" alt="kekw" title="kekw" src="https://cdn.discordapp.com/emojis/9.png">',
            ":kekw:",
        ),
        ('hi <img class="chatlog__emoji " alt="👍" title="thumbsup" src="x.svg">', "hi 👍"),
        ('<img class="chatlog__emoji chatlog__emoji--large" alt="1️⃣" title="one" src="x.svg">', "1️⃣"),
        (
            '<span class="chatlog__markdown-mention" title="bob">@Bob Smith</span> and @everyone',
            "@Bob Smith and @everyone",
        ),
        ('<span class="chatlog__markdown-mention">#general</span>', "#general"),
        ('<span class="chatlog__markdown-mention">🔊Lounge</span>', "#Lounge [voice]"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("line 1\n  line 2\n\nline 4", "line 1\n  line 2\n\nline 4"),
        ("&lt;3 &amp; &#39;quotes&#39; &quot;x&quot;", "<3 & 'quotes' \"x\""),
        (
            "<strong>b</strong> <em>i</em> <u>u</u> <s>s</s> <em><strong>bi</strong></em>",
            "**b** *i* __u__ ~~s~~ ***bi***",
        ),
        ('<span class="chatlog__markdown-spoiler chatlog__markdown-spoiler--hidden">secret</span>', "||secret||"),
        ('run <code class="chatlog__markdown-pre chatlog__markdown-pre--inline">ls -la</code>', "run `ls -la`"),
        (
            '<code class="chatlog__markdown-pre chatlog__markdown-pre--multiline language-py">x = 1\nprint(x)</code>',
            "```py\nx = 1\nprint(x)\n```",
        ),
        (
            '<code class="chatlog__markdown-pre chatlog__markdown-pre--multiline nohighlight">a &lt; b</code>',
            "```\na < b\n```",
        ),
        (
            '<div class="chatlog__markdown-quote"><div class="chatlog__markdown-quote-border"></div>'
            '<div class="chatlog__markdown-quote-content">quoted\nlines\n</div></div>reply',
            "> quoted\n> lines\nreply",
        ),
        ('<a href="https://example.com/a?b=1">https://example.com/a?b=1</a>', "https://example.com/a?b=1"),
        ('<a href="https://example.com/">the site</a>', "[the site](https://example.com/)"),
        ("<h2>Title</h2>text", "## Title\ntext"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ('<span class="chatlog__markdown-timestamp" title="Sunday">1/28/2024 4:23 PM</span>', "1/28/2024 4:23 PM"),
        ("<!--wmm:ignore-->kept  as is <!--/wmm:ignore-->", "kept  as is "),
    ],
)
def test_content_is_written_back_as_text(html: str, text: str) -> None:
    messages, _ = read(one_message(html))
    assert messages[0].content == text


def test_layout_2_38_to_2_40() -> None:
    uid, first, second, third = "11", sid(T0), sid(T0, 1), sid(utc(2024, 1, 28, 21, 25))
    short = '<div class="chatlog__short-timestamp" title="01/28/2024 4:25 PM">4:25 PM</div>'
    attachments = (
        '<div class="chatlog__attachment"><a href="u"><img class="chatlog__attachment-media" src="u" '
        'alt="Image attachment" title="Image: cat (2).png (1.2 MB)"></a></div>'
        '<div class="chatlog__attachment"><div class="chatlog__attachment-generic">'
        '<div class="chatlog__attachment-generic-name">'
        '<a href="https://cdn.discordapp.com/attachments/1/2/notes.txt">notes.txt</a></div></div></div>'
    )
    reply = (
        '<div class="chatlog__reply"><div class="chatlog__reply-author" title="bob">Bob</div>'
        '<div class="chatlog__reply-content">'
        '<span class="chatlog__reply-link" onclick="scrollToMessage(event, \'1201304524388835401\')">'
        "earlier</span></div></div>"
    )
    groups = group(
        container(
            first, reply + header(uid, "Robo#0420", "Robo", tag="BOT") + content("hello", edited="01/28/2024 4:30 PM")
        ),
        container(second, attachments + '<div class="chatlog__sticker" title="Wave"></div>', aside=short, pinned=True),
        container(third, content("", edited="garbage"), aside=short),
    )
    messages, report = read(page(groups, css=8), timezone="UTC")
    assert report.exporter_version == "2.38-2.39"
    a, b, c = messages
    assert a.author == b.author == c.author
    assert (a.author.name, a.author.display_name, a.author.is_bot) == ("Robo#0420", "Robo", True)
    assert (a.reply_to, a.type, a.content) == ("1201304524388835401", "Reply", "hello")
    assert a.edited == utc(2024, 1, 28, 21, 30)  # displayed in UTC-5, learnt from the message's own date
    assert (b.reply_to, b.type, b.is_pinned, b.content) == (None, "Default", True, "")
    assert (b.attachments, b.stickers) == (("cat (2).png", "notes.txt"), ("Wave",))
    assert (c.content, c.edited) == ("", None)  # edited, but the date cannot be read


@pytest.mark.parametrize(
    ("sent", "shown", "edited", "expected"),
    [
        # ≤2.37 default format, machine in UTC (the Komodo sample)
        (utc(2019, 11, 22, 9, 27, 29), "22-Nov-19 09:27 AM", "22-Nov-19 10:02 AM", utc(2019, 11, 22, 10, 2)),
        # 2.41+ long "f" dates: en-US in UTC-5, en-CA in UTC-4 (the MeshCore sample's shape)
        (T0, "Sunday, January 28, 2024 4:23 PM", "Monday, January 29, 2024 9:00 AM", utc(2024, 1, 29, 14)),
        (
            utc(2025, 9, 13, 8, 24, 40),
            "Saturday, September 13, 2025 4:24 a.m.",
            "Saturday, September 13, 2025 4:30 p.m.",
            utc(2025, 9, 13, 20, 30),
        ),
        (T0, "28.01.2024 16:23", "28.01.2024 16:40", utc(2024, 1, 28, 21, 40)),  # day-first, told apart by the id
        (T0, "1706476985", "1706477000", utc(2024, 1, 28, 21, 23, 20)),  # --dateformat unix
        (T0, "Sonntag, 28. Januar 2024 16:23", "Sonntag, 28. März 2024 16:40", None),  # month name not known
        (T0, "Sunday, January 28, 2024 9:23 PM", "Sunday, January 28, 2024 9:00 PM", None),  # before it was sent
        (T0, "Sunday, January 28, 2024 4:23 PM", "Sunday, January 28, 2024 4:23 PM", T0),  # same minute
    ],
)
def test_edited_time_from_display_dates(sent: datetime, shown: str, edited: str, expected: datetime | None) -> None:
    stamp = f' title="{shown}"'
    messages, _ = read(page(group(container(sid(sent), header(stamp=stamp) + content("x", edited=edited)))))
    assert messages[0].edited == expected


def test_unquoted_attributes_read_like_quoted_ones() -> None:
    mid = sid(T0)
    quoted = page(group(container(mid, header() + content("same <strong>text</strong>"))))
    minified = (
        "<!DOCTYPE html><html lang=en><head><style>.chatlog__message-container{}</style></head><body>"
        "<div class=preamble><div class=preamble__entries-container><div class=preamble__entry>Example guild</div>"
        "<div class=preamble__entry>Text Channels / general</div></div></div><div class=chatlog>"
        f"<div class=chatlog__message-group><div id=chatlog__message-container-{mid} class=chatlog__message-container "
        f"data-message-id={mid}><div class=chatlog__message><div class=chatlog__message-aside></div>"
        "<div class=chatlog__message-primary><div class=chatlog__header><span class=chatlog__author title=alice "
        'data-user-id=11>Alice</span></div><div class="chatlog__content chatlog__markdown">'
        "<span class=chatlog__markdown-preserve>same <strong>text</strong></span></div></div></div></div></div></div>"
    )
    (a,), _ = read(quoted)
    (b,), _ = read(minified)
    assert (a.id, a.author, a.content) == (b.id, b.author, b.content) == (mid, a.author, "same **text**")


def system(mid: str, icon: str, phrase: str, uid: str = "22", name: str = "bob") -> str:
    aside = f'<svg class="chatlog__system-notification-icon"><use href="#{icon}"></use></svg>'
    primary = (
        f'<span class="chatlog__system-notification-author" title="{name}" data-user-id="{uid}">{name.title()}</span>'
        f'<span> </span><span class="chatlog__system-notification-content">{phrase}</span>'
        '<span class="chatlog__system-notification-timestamp"><a href="#">1/28/2024 4:23 PM</a></span>'
    )
    return container(mid, primary, aside=aside)


@pytest.mark.parametrize(
    ("icon", "phrase", "kind", "text"),
    [
        ("join-icon", "<span>joined the server.</span>", "GuildMemberJoin", "Joined the server."),
        (
            "pin-icon",
            '<span>pinned </span><a class="chatlog__system-notification-link" href="#x">a message</a>'
            "<span> to this channel.</span>",
            "ChannelPinnedMessage",
            "Pinned a message.",
        ),
        ("thread-icon", "<span>started a thread.</span>", "ThreadCreated", "Started a thread."),
        (
            "call-icon",
            "<span>started a call that lasted 12 minutes</span>",
            "Call",
            "Started a call that lasted 12 minutes.",
        ),
        (
            "join-icon",
            '<span>added </span><a class="chatlog__system-notification-link" title="carol">Carol</a>'
            "<span> to the group.</span>",
            "RecipientAdd",
            "Added Carol to the group.",
        ),
        ("leave-icon", "<span>left the group.</span>", "RecipientRemove", "Left the group."),
        (
            "pencil-icon",
            '<span>changed the channel name: </span><span class="chatlog__system-notification-link">new name</span>',
            "ChannelNameChange",
            "Changed the channel name: new name",
        ),
        ("pencil-icon", "<span>changed the channel icon.</span>", "ChannelIconChange", "Changed the channel icon."),
        ("pencil-icon", "<span>boosted the server</span>", "System", "Boosted the server"),  # unnamed kind
        ("guild-member-join-icon", "<span> joined the server.</span>", "GuildMemberJoin", "Joined the server."),  # 2.37
        ("8-icon", "<span></span>", "8", ""),  # 2.37 names unnamed kinds by number
    ],
)
def test_system_notifications(icon: str, phrase: str, kind: str, text: str) -> None:
    messages, report = read(page(group(system(sid(T0), icon, phrase))))
    assert (messages[0].type, messages[0].content, messages[0].author.name) == (kind, text, "bob")
    # Every notification is a system message, "System" (a kind the HTML does not name) included.
    assert messages[0].is_system
    assert bool(report.warnings) == (kind == "System")


def test_system_group_authors_and_typed_phrases() -> None:
    groups = group(system(sid(T0), "join-icon", "<span>joined the server.</span>", "21", "ann"),
                   system(sid(T0, 1), "join-icon", "<span>joined the server.</span>", "22", "bob"))  # fmt: skip
    groups += group(container(sid(T0, 2), header() + content("Joined the server.")))
    messages, _ = read(page(groups))
    assert [(m.author.id, m.type) for m in messages] == [
        ("21", "GuildMemberJoin"),
        ("22", "GuildMemberJoin"),
        ("11", "Default"),
    ]
    # Before 2.36 a notice was an ordinary message carrying the phrase, as in CSV/TXT.
    messages, _ = read(page(groups, css=4))
    assert messages[2].type == "GuildMemberJoin"


def test_system_notification_2_36() -> None:
    primary = (
        '<div class="chatlog__header"><span class="chatlog__author" title="bob" data-user-id="22">Bob</span>'
        '<span class="chatlog__system-notification"> pinned</span>'
        '<span class="chatlog__system-notification-reference-link chatlog__reference-link" '
        "onclick=\"scrollToMessage(event, '5')\">"
        ' a message</span><span class="chatlog__system-notification"> to this channel.</span></div>'
    )
    aside = '<svg class="chatlog__system-notification-icon"><use href="#channel-pinned-message-icon"></use></svg>'
    (message,), report = read(page(group(container(sid(T0), primary, aside=aside)), css=6))
    assert (message.type, message.content, message.author.id, message.reply_to) == (
        "ChannelPinnedMessage",
        "Pinned a message.",
        "22",
        None,
    )
    assert report.exporter_version == "2.36"


def test_forwarded_message_is_kept_apart() -> None:
    forwarded = (
        '<div class="chatlog__forwarded"><div class="chatlog__forwarded-header"><em>Forwarded</em></div>'
        '<div class="chatlog__forwarded-content chatlog__markdown"><span class="chatlog__markdown-preserve">'
        "someone <strong>else</strong></span></div>"
        '<div class="chatlog__forwarded-timestamp"><span>Originally sent: 1/1/2024</span></div></div>'
    )
    (message,), _ = read(page(group(container(sid(T0), header() + forwarded))))
    assert (message.is_forward, message.forwarded_content, message.content) == (True, "someone **else**", "")


# -- synthetic ≤2.33 markup ------------------------------------------------------------------


def old_group(mid: str, body: str, reference: str = "", bot: bool = False, title: str = "") -> str:
    bot_tag = '<span class="chatlog__bot-tag">BOT</span>' if bot else ""
    return (
        f'<div class="chatlog__message-group">{reference}<div class="chatlog__author-avatar-container"></div>'
        '<div class="chatlog__messages">'
        '<span class="chatlog__author-name" title="alice#0001" data-user-id="11">Ali</span>'
        f'{bot_tag}<span class="chatlog__timestamp">28-Jan-24 09:23 PM</span>'
        f'<div class="chatlog__message " data-message-id="{mid}" id="message-{mid}"{title}>{body}</div></div></div>'
    )


def test_layout_2_26_to_2_33_reference_and_markup() -> None:
    reference = (
        '<div class="chatlog__reference-symbol"></div><div class="chatlog__reference">'
        '<span class="chatlog__reference-link" onclick="scrollToMessage(event, \'42\')">x</span></div>'
    )
    body = (
        '<div class="chatlog__content"><div class="markdown"><span class="preserve-whitespace">'
        '<span class="spoiler-text spoiler-text--hidden">boo</span> '
        '<div class="quote"><div class="quote-content">q\n</div></div>'
        '<img class="emoji " alt="pepe" title="pepe" src="https://cdn.discordapp.com/emojis/1.png"></span>\n\n'
        '<span class="chatlog__edited-timestamp" title="28-Jan-24 09:30 PM">(edited)</span></div></div>'
        '<div class="chatlog__attachment"><div class="chatlog__attachment-generic">'
        '<div class="chatlog__attachment-generic-name">'
        '<a href="u">a b.zip</a></div></div></div><div class="chatlog__sticker" title="Hi"></div>'
    )
    groups = old_group(sid(T0), body, reference, bot=True, title=' title="Message sent: 28-Jan-24 09:23 PM"')
    (message,), report = read(page(groups, css=3))
    assert report.exporter_version == "2.33"
    assert (message.reply_to, message.type, message.author.is_bot) == ("42", "Reply", True)
    assert message.content == "||boo|| > q\n:pepe:"
    assert (message.edited, message.attachments, message.stickers) == (utc(2024, 1, 28, 21, 30), ("a b.zip",), ("Hi",))


def test_layout_2_20_to_2_24_markdown_div() -> None:
    body = (
        '<div class="chatlog__content"><div class="markdown">'
        'text <span class="spoiler spoiler--hidden"><span class="spoiler-text">s</span></span> </div></div>'
    )
    (message,), report = read(page(old_group(sid(T0), body), css=2))
    assert (message.content, report.exporter_version) == ("text ||s||", "2.17-2.32")


def test_layout_2_16_info_preamble() -> None:
    info = (
        '<div class="info"><div class="info__guild-icon-container"></div><div class="info__metadata">'
        '<div class="info__guild-name">G</div><div class="info__channel-name">chan</div></div></div>'
    )
    body = '<div class="chatlog__content"><span class="markdown">Joined the server.</span></div>'
    (message,), report = read(page(old_group(sid(T0), body), css=1, preamble=info))
    assert report.exporter_version == "<=2.16"
    assert report.channel is not None and (report.channel.guild_name, report.channel.name) == ("G", "chan")
    assert message.type == "GuildMemberJoin"  # system notices were ordinary messages then


# -- preamble, postamble, counts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "category", "name", "topic"),
    [
        ("<div class=preamble__entry>general</div>", None, "general", None),
        ("<div class=preamble__entry>💬 Chat / dev / Manual</div>", "dev", "Manual", None),
        (
            "<div class=preamble__entry>Text / general</div>"
            '<div class="preamble__entry preamble__entry--small">After 1/2/2024</div>',
            "Text",
            "general",
            None,
        ),
        (
            '<div class=preamble__entry>Text / general</div><div class="preamble__entry preamble__entry--small">'
            'Rules: <img class="chatlog__emoji" alt="📜" src="x"></div>'
            '<div class="preamble__entry preamble__entry--small">Before 1/2/2024</div>',
            "Text",
            "general",
            "Rules: 📜",
        ),
    ],
)
def test_preamble_channel(entries: str, category: str | None, name: str, topic: str | None) -> None:
    preamble = (
        "<div class=preamble><div class=preamble__entries-container>"
        f"<div class=preamble__entry>G</div>{entries}</div></div>"
    )
    _, report = read(page(group(container(sid(T0), header() + content("x"))), preamble=preamble))
    assert report.channel is not None
    assert (report.channel.guild_name, report.channel.category, report.channel.name, report.channel.topic) == (
        "G",
        category,
        name,
        topic,
    )


def test_declared_count_mismatch_warns() -> None:
    postamble = (
        '<div class="postamble"><div class="postamble__entry">Exported 1,234 message(s)</div>'
        '<div class="postamble__entry">Timezone: UTC+1</div></div>'
    )
    messages, report = read(page(group(container(sid(T0), header() + content("x"))), css=9, postamble=postamble))
    assert len(messages) == 1 and report.declared_count == 1234
    assert report.exporter_version == "2.41-2.42.8"  # the Timezone line dates it past 2.40
    assert report.warnings == ["the export declares 1234 messages but 1 were read"]


def test_empty_channel() -> None:
    postamble = '<div class="postamble"><div class="postamble__entry">Exported 0 message(s)</div></div>'
    messages, report = read(page("", postamble=postamble))
    assert messages == [] and report.declared_count == 0 and report.warnings == []


# -- truncation and streaming ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cut_after", "expected"),
    [
        ("i tried to whip", 1),  # inside the second message of the first group
        ("Yea i&#39;m trying", 4),  # inside the first message of the fourth group
        ("features behind long press etc</span></div></div></div></div></div>", 7),  # right after a group
    ],
)
def test_truncated_file_yields_complete_messages(sample, meshcore, cut_after: str, expected: int) -> None:
    data = sample(MESHCORE).read_bytes()
    cut = data.index(cut_after.encode()) + len(cut_after)
    messages, report = read(data[:cut])
    assert [(m.id, m.content) for m in messages] == [(m.id, m.content) for m in meshcore[0][:expected]]
    assert len(report.warnings) == 1 and "truncated" in report.warnings[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0, 1))
def test_any_truncation_yields_a_prefix(sample, meshcore, fraction: float) -> None:
    data = sample(MESHCORE).read_bytes()
    try:
        messages, _ = read(data[: int(len(data) * fraction)])
    except EchoError:  # cut inside the head: empty, or no DCE markup yet
        return
    full = [(m.id, m.author, m.content) for m in meshcore[0]]
    assert [(m.id, m.author, m.content) for m in messages] == full[: len(messages)]


def test_a_cut_at_any_byte_of_a_message_yields_a_prefix() -> None:
    """Wherever the file ends (in a tag name, an attribute value, a comment, a character reference),
    the messages read are those complete before it; the one it ends in is never read in part."""
    last = container(
        sid(T0, 2),
        '<div class="chatlog__content chatlog__markdown"><span class="chatlog__markdown-preserve">a &amp; '
        '<strong>b</strong><!-- c --> <img class="chatlog__emoji" alt="kekw" src="x/emojis/1.png"></span>'
        '<span class="chatlog__edited-timestamp" title="1/28/2024 4:30 PM">(edited)</span></div>'
        '<div class="chatlog__embed"><a href="https://x.y/?a=1&amp;b=2"><div>embed</div></a></div>',
        aside='<div class="chatlog__short-timestamp" title="1/28/2024 4:23 PM">4:23 PM</div>',
    )
    data = page(group(container(sid(T0), header() + content("one")), container(sid(T0, 1), content("two")), last))
    full = [(m.id, m.author, m.content, m.edited, m.embeds) for m in read(data)[0]]
    assert [f[2] for f in full] == ["one", "two", "a & **b** :kekw:"]
    start = data.index(f'<div id="chatlog__message-container-{sid(T0, 1)}"')
    for cut in range(start, data.index("</body>") + 1):  # (ending in </body> or </html> is a whole file)
        messages, report = read(data[:cut])
        got = [(m.id, m.author, m.content, m.edited, m.embeds) for m in messages]
        assert got == full[: len(got)] and len(got) >= 1, cut
        assert any("truncated" in w for w in report.warnings), cut


@pytest.mark.parametrize("name", [KOMODO_DARK, MESHCORE])
@pytest.mark.parametrize("chunk", [1, 97, 4096])
def test_batches_do_not_change_the_result(sample, monkeypatch, name: str, chunk: int) -> None:
    """The reader cuts the bytes into batches at message starts; any cut gives the same messages."""
    path = sample(name)
    expected, report = read_file(path)
    monkeypatch.setattr(html_reader, "CHUNK_SIZE", chunk)
    messages, chunked = read_file(path)
    assert [dataclasses.astuple(m) for m in messages] == [dataclasses.astuple(m) for m in expected]
    assert (chunked.channel, chunked.declared_count, chunked.warnings) == (report.channel, report.declared_count, [])


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # with BOM; DCE never writes it, editors might
    ],
)
def test_byte_order_marks(sample, meshcore, encode) -> None:
    messages, report = read(encode(sample(MESHCORE).read_text("utf-8")))
    assert [(m.id, m.author, m.content) for m in messages] == [(m.id, m.author, m.content) for m in meshcore[0]]
    assert report.warnings == []


def test_reading_is_streamed() -> None:
    body = "".join(
        group(container(sid(T0, i), header() + content(f"message {i} " + "x" * 200))) for i in range(4000)
    )  # about 2 MB
    data = page(body).encode()

    class Counting(io.BytesIO):
        consumed = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.consumed += len(chunk)
            return chunk

    stream = Counting(data)
    messages = read_html(stream, Source("big.html", "html"), FileReport("big.html"), ReadConfig())
    assert next(messages).content.startswith("message 0 ")
    assert stream.consumed <= 2 * CHUNK_SIZE < len(data)
    assert sum(1 for _ in messages) == 3999


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"", ExportParseError, r"bad\.html: the file is empty"),
        (b"\n \n", ExportParseError, r"bad\.html: the file is empty"),
        (bytes(range(256)) * 40, UnsupportedExportError, r"bad\.html: not a DiscordChatExporter export \(binary"),
        (
            b"\xc3\x28\xa0\xa1" * 500,
            UnsupportedExportError,
            r"bad\.html: not a DiscordChatExporter export \(an HTML page",
        ),
        (
            b"<!DOCTYPE html><html><head><title>My blog</title></head><body><div class=post>hi</div></body></html>",
            UnsupportedExportError,
            r"bad\.html: not a DiscordChatExporter export \(an HTML page with no chatlog",
        ),
        (
            b'<html><body><div class="info">Contact us</div><div class="chatlog">x</div></body></html>',
            UnsupportedExportError,
            r"bad\.html: not a DiscordChatExporter export \(an HTML page with no chatlog",
        ),
        (
            page(group('<div class="chatlog__message-container"><div class="chatlog__message"></div></div>')).encode(),
            ExportParseError,
            r"bad\.html: message group 1: a message without a valid data-message-id \(none\)",
        ),
        (
            page(group(container("12x", header() + content("x")))).encode(),
            ExportParseError,
            r"message group 1: a message without a valid data-message-id \('12x'\)",
        ),
        (
            page(group(container(sid(T0), content("no header")))).encode(),
            ExportParseError,
            rf"bad\.html: message group 1, message {sid(T0)}: the group's first message has no author",
        ),
        (
            page(group("<div>nothing</div>")).encode(),
            ExportParseError,
            r"bad\.html: message group 1: a message group without messages",
        ),
    ],
)
def test_bad_input(data: bytes, error: type[EchoError], match: str) -> None:
    with pytest.raises(error, match=match):
        read(data, name="bad.html")
