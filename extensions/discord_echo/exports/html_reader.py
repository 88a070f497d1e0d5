"""Read DiscordChatExporter HTML exports (Dark and Light themes, layouts 2.15 to 2.47).

Takes the binary stream of one ``.html`` export; yields one `Message` per ``data-message-id``
in file order and fills the `FileReport`: format ``"html"``, an exporter version guessed from
the markup, the channel from the preamble, the declared message count. Implements
shared/specs/dce-formats.md §5 and §1.6.

* Streaming: the bytes are cut into batches of about 256 KiB just before a message or
  group start tag, and each batch is parsed by lxml as a small document of its own
  (libxml2's HTML push parser would hold the whole file; see `_HtmlReader.run`). Group
  state is carried across batches, so memory stays flat however long the export is. A
  truncated file yields every message whose markup is complete, and a warning.
* Layouts: ``div.info`` + ``chatlog__messages`` (≤2.16), ``div.preamble`` +
  ``chatlog__messages`` (2.17-2.33), ``chatlog__message-container`` (≥2.34), minified
  unquoted attributes (≥2.35), system notifications (2.36, ≥2.37). Classes are matched as
  whitespace-separated tokens, so quoting and extra classes do not matter.
* Authors: the group's first message names it (``data-user-id``; ``title`` = FullName ->
  ``Author.name``; visible text -> ``display_name``; BOT/SERVER tag -> ``is_bot``); later
  messages inherit it. System notifications carry their own author; their type comes from
  the icon (2.36/2.37) or the phrase, and their content is the phrase JSON/CSV/TXT write
  ("Joined the server."). An unnamed system kind shown by ≥2.38 gets type ``"System"``.
* Times are the snowflake ids' (exact UTC). ``edited`` is read from the "(edited)" marker's
  display date when its shape is known (numbers, English month names or Unix time); the
  display time zone is learnt by comparing the message's own display date with its id.
  Exact to the minute; otherwise ``None``.
* Content is the rendered markdown written back as the text the other formats show: emoji
  images become the character, or ``:name:`` for custom emoji; mentions and timestamps keep
  their visible text (voice channels ``#name [voice]``); ``<br>`` is a newline; "(edited)" is
  dropped. Formatting is restored as markdown: ``**b**``, ``*i*``, ``__u__``, ``~~s~~``,
  ``||spoiler||``, ``\\`code\\```, fenced code blocks with their language, ``> `` quotes,
  ``#`` headings, ``- `` list items, ``[label](url)``. Close but not byte-exact: ``_i_``
  comes back as ``*i*``, ``>>>`` as ``> `` lines, backslash escapes are gone, and since 2.35
  a URL-only message whose URL is its image/gifv embed has no text in HTML at all (§5.2).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, NoReturn
from urllib.parse import unquote, urlsplit

from lxml import etree

from discord_echo.config import ReadConfig
from discord_echo.errors import ExportParseError, UnsupportedExportError
from discord_echo.exports.base import FileReport, detect_text_encoding
from discord_echo.messages import (
    MESSAGE_KIND_VALUES,
    Author,
    Channel,
    Message,
    Source,
    kind_from_fallback_text,
    snowflake_time,
)

__all__ = ["markdown_text", "read_html"]

CHUNK_SIZE = 256 * 1024
# A DCE head (inline CSS, scripts, icon sprite) is far below 1 MiB: stop parsing a file that
# shows no DCE markup well after that instead of reading a multi-GB unrelated page.
_SNIFF_LIMIT = 8 * 1024 * 1024
_UTC = timezone.utc
_CUT = "data-echo-cut"  # set on markup that only the end of the file closed
UNKNOWN_SYSTEM_KIND = "System"
_NO_CHANNEL = Channel()  # for messages of a file without a preamble

# CSS selectors of the inline <style> that appeared in one release and stayed in every later
# one (found by diffing the templates' class lists per tag): (selector, first, release before).
_VERSION_MARKERS = (
    (".preamble__", "2.17", "2.16"),
    (".chatlog__sticker", "2.33", "2.32"),
    (".chatlog__message-container", "2.34", "2.33"),
    (".chatlog__embed-images", "2.35", "2.34"),
    (".chatlog__system-notification-icon", "2.36", "2.35"),
    (".chatlog__system-notification-author", "2.37", "2.36"),
    (".chatlog__reply", "2.38", "2.37"),
    (".chatlog__embed-generic-video", "2.40", "2.39"),
    (".chatlog__embed-twitch", "2.42.9", "2.42.8"),
    (".chatlog__embed-youtube-thumbnail", "2.46.1", "2.46"),
    (".chatlog__forwarded", "2.47", "2.46.1"),
)

# Start tags DCE writes for a group, a ≥2.34 message container and a ≤2.33 message (quoted
# or minified); batches are cut just before them.
_BOUNDARY = re.compile(
    rb"<div\s+(?:class=[\"']?chatlog__message-group[\"']?\s*>"
    rb"|id=[\"']?chatlog__message-container-\d"
    rb"|class=\"chatlog__message(?:\s[^\"]*)?\"\s+data-message-id=)"
)
_DCE_MARKUP = re.compile(rb"class=[\"']?(?:preamble|info|chatlog)[\"'\s>]")
_PREAMBLE_ENTRIES = ("preamble__entry", "info__guild-name", "info__channel-name")
_MAX_PIECE = 64 * 1024 * 1024  # no single DCE message or header comes near this
_string = etree.XPath("string()", smart_strings=False)  # smart strings would pin the tree
_SCROLL = re.compile(r"scrollToMessage\(\s*event\s*,\s*'(\d+)'\s*\)")
_MEDIA_TITLE = re.compile(r"(?:Image|Video|Audio): (.+) \([^()]*\)", re.S)
_OLD_ATTACHMENT = re.compile(r"Attachment: (.+) \([^()]*\)", re.S)
_CUSTOM_EMOJI = re.compile(r"[A-Za-z0-9_]+")
_RANGE = re.compile(r"(?:Between .+ and .+|After .+|Before .+)", re.S)
_GUILD_ICON = re.compile(r"/icons/(\d+)/")
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "u": "__", "s": "~~"}


def read_html(stream: BinaryIO, source: Source, report: FileReport, config: ReadConfig) -> Iterator[Message]:
    """Yield the messages of one DCE HTML export, oldest first (file order)."""
    report.format = "html"
    return _HtmlReader(source, report, config).run(stream)


# -- element helpers -------------------------------------------------------------------------


def _classes(el: etree._Element) -> list[str]:
    cls = el.get("class") if isinstance(el.tag, str) else None
    return cls.split() if cls else []


def _has_any(el: etree._Element, names: tuple[str, ...]) -> bool:
    cls = el.get("class")  # None for comments too
    if cls:
        for name in names:  # the substring test rejects most elements before the token split
            if name in cls and name in cls.split():
                return True
    return False


def _child(el: etree._Element | None, *names: str) -> etree._Element | None:
    """The first direct child carrying one of the classes ``names``."""
    if el is not None:
        for child in el:
            if _has_any(child, names):
                return child
    return None


def _child_or_self(el: etree._Element, name: str) -> etree._Element:
    child = _child(el, name)  # (no `or`: an element without children is falsy)
    return el if child is None else child


def _find(el: etree._Element | None, *names: str) -> etree._Element | None:
    """The first descendant (or ``el`` itself) carrying one of the classes ``names``."""
    if el is not None:
        for node in el.iter(etree.Element):
            if _has_any(node, names):
                return node
    return None


def _plain(el: etree._Element | None) -> str:
    """Visible text with runs of whitespace collapsed (names, phrases, preamble entries)."""
    return " ".join(_string(el).split()) if el is not None else ""


# -- rendered markdown back to text (dce-formats.md §1.6) ------------------------------------


def markdown_text(el: etree._Element) -> str:
    """The text of a rendered-markdown element, written back as Discord markdown."""
    out: list[str] = []
    _walk(el, out)
    return "".join(out)


def _walk(el: etree._Element, out: list[str]) -> None:
    if el.text:
        out.append(el.text)
    for child in el:
        if isinstance(child.tag, str):  # comments (<!--wmm:ignore-->) only contribute a tail
            _node(child, out)
        if child.tail:
            out.append(child.tail)


def _node(el: etree._Element, out: list[str]) -> None:
    tag, cls = el.tag, _classes(el)
    if tag == "br":
        out.append("\n")
    elif tag == "img":
        if "chatlog__emoji" in cls or "emoji" in cls:
            out.append(_emoji(el))
    elif "chatlog__edited-timestamp" in cls:
        pass  # inside div.markdown in 2.20-2.24
    elif tag in _INLINE_MARKS:
        out.append(_INLINE_MARKS[tag])
        _walk(el, out)
        out.append(_INLINE_MARKS[tag])
    elif _is_spoiler(el, cls):
        out.append("||")
        _walk(el, out)
        out.append("||")
    elif "chatlog__markdown-pre--inline" in cls or "pre--inline" in cls:
        out.append(f"`{_string(el)}`")
    elif "chatlog__markdown-pre--multiline" in cls or "pre--multiline" in cls:
        lang = next((c[9:] for c in cls if c.startswith("language-")), "")
        out.append(f"```{lang}\n{_string(el)}\n```")
    elif "chatlog__markdown-quote" in cls or "quote" in cls:
        lines = markdown_text(el).split("\n")
        end = "\n" if len(lines) > 1 and lines[-1] == "" else ""  # the quote took its line break
        out.append("\n".join("> " + line for line in (lines[:-1] if end else lines)) + end)
    elif tag in ("h1", "h2", "h3"):
        out.append("#" * int(tag[1]) + " " + markdown_text(el) + _block_end(el))
    elif tag in ("ul", "ol"):
        items = [markdown_text(li).rstrip("\n").replace("\n", "\n ") for li in el if li.tag == "li"]
        out.append("\n".join("- " + item for item in items) + _block_end(el))
    elif tag == "a":
        text, href = markdown_text(el), el.get("href") or ""
        masked = href and text != href and not text.startswith(("http://", "https://"))
        out.append(f"[{text}]({href})" if masked else text)
    elif ("chatlog__markdown-mention" in cls or "mention" in cls) and _string(el).startswith("🔊"):
        out.append(f"#{_string(el)[1:]} [voice]")  # how JSON/CSV/TXT write voice channels
    else:
        _walk(el, out)


def _is_spoiler(el: etree._Element, cls: list[str]) -> bool:
    # ≥2.34 chatlog__markdown-spoiler; 2.30-2.33 spoiler-text; 2.20-2.29 span.spoiler wrapping
    # span.spoiler-text; ≤2.16 a bare span.spoiler.
    if "chatlog__markdown-spoiler" in cls or "spoiler-text" in cls:
        return True
    return "spoiler" in cls and _child(el, "spoiler-text") is None


def _block_end(el: etree._Element) -> str:
    # Headings and lists swallow the line break after them; restore it unless nothing follows.
    return "\n" if (el.tail or el.getnext() is not None) else ""


def _emoji(el: etree._Element) -> str:
    alt = el.get("alt") or el.get("title") or ""
    # alt is the character for unicode emoji and the bare name for custom ones; JSON/CSV/TXT
    # write custom emoji as :name:. Custom emoji names are ASCII word characters.
    if _CUSTOM_EMOJI.fullmatch(alt) or "/emojis/" in (el.get("src") or ""):
        return f":{alt}:"
    return alt


# -- display dates (only for "edited") -------------------------------------------------------

_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_DISPLAY_DATE = re.compile(
    r"(?P<d1>\d{1,2})-(?P<mon1>[^\W\d_]{3})-(?P<y1>\d{2,4})"  # 22-Nov-19 (default up to 2.37)
    r"|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})"  # 2025-09-13 (en-CA)
    r"|(?P<a3>\d{1,2})[/.](?P<b3>\d{1,2})[/.](?P<y3>\d{2,4})"  # 01/23/2023 (2.38-2.40), 28.01.2024
    r"|(?P<mon4>[^\W\d_]{3,})\.? (?P<d4>\d{1,2}),? (?P<y4>\d{4})"  # September 13, 2025 (en "f")
    r"|(?P<d5>\d{1,2})\.? (?P<mon5>[^\W\d_]{3,})\.? (?P<y5>\d{4})"  # 13 September 2025
)
_DISPLAY_TIME = re.compile(r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.]\d{2})?(?:\s?(?P<ap>[AaPp])\.?\s?[Mm]\.?)?")


def _display_candidates(text: str, day_first: bool | None) -> dict[str, datetime]:
    """Wall-clock readings of a display date, keyed by interpretation ("dmy"/"mdy"/"x")."""
    text = text.strip()
    if text.isdigit() and 9 <= len(text) <= 13:  # --dateformat unix / unixms (2.24-2.40)
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        return {"x": datetime.fromtimestamp(seconds, _UTC).replace(tzinfo=None)}
    date = _DISPLAY_DATE.search(text)
    clock = _DISPLAY_TIME.search(text, date.end()) if date else None
    if not date or not clock:
        return {}
    g = date.groupdict()
    if g["a3"]:
        a, b = int(g["a3"]), int(g["b3"])
        orders = {"mdy": (a, b), "dmy": (b, a)}
        if day_first is not None:
            orders = {k: v for k, v in orders.items() if (k == "dmy") == day_first}
        ymd = {k: (g["y3"], m, d) for k, (m, d) in orders.items()}
    else:
        year = g["y1"] or g["y2"] or g["y4"] or g["y5"]
        name = g["mon1"] or g["mon4"] or g["mon5"]
        month = _MONTHS.get(name[:3].lower()) if name else int(g["m2"])
        ymd = {"x": (year, month, int(g["d1"] or g["d2"] or g["d4"] or g["d5"]))}
    hour, minute = int(clock["h"]), int(clock["mi"])
    if clock["ap"]:
        hour = hour % 12 + (12 if clock["ap"] in "Pp" else 0)
    found = {}
    for key, (year, month, day) in ymd.items():
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        try:
            found[key] = datetime(full_year, month or 0, day, hour, minute)
        except (TypeError, ValueError):  # no such month/day/hour: not this interpretation
            continue
    return found


def _edited_time(
    edited: str, dated: tuple[str, datetime], timestamp: datetime, day_first: bool | None
) -> datetime | None:
    """UTC time of an edit from its display date; ``dated`` pairs a display date of the same
    message group with the instant it shows, which gives the display time zone. None if unsure."""
    quarter = timedelta(minutes=15)
    shown, instant = dated
    references = _display_candidates(shown, day_first)
    for key, wall in _display_candidates(edited, day_first).items():
        if key not in references:
            continue
        offset = references[key] - instant.replace(tzinfo=None)
        quarters = round(offset / quarter)
        # Displays drop the seconds: shown - (instant + k * 15 min) lies in (-60 s, 0].
        slack = offset - quarters * quarter
        if abs(quarters) > 14 * 4 or not timedelta(seconds=-75) <= slack <= timedelta(seconds=15):
            continue
        try:
            when = (wall - quarters * quarter).replace(tzinfo=_UTC)
        except OverflowError:  # a date near year 1 or 9999: not a real edit time
            continue
        if when >= timestamp - timedelta(minutes=1):
            return max(when, timestamp)
    return None


def _system_text(phrase: str) -> str:
    """The fallback content JSON/CSV/TXT write for a system notice, from its HTML phrase."""
    if phrase.startswith("pinned a message"):
        return "Pinned a message."
    if phrase.startswith("started a call") and not phrase.endswith("."):
        phrase += "."
    return phrase[:1].upper() + phrase[1:]


# -- the reader ------------------------------------------------------------------------------


class _HtmlReader:
    def __init__(self, source: Source, report: FileReport, config: ReadConfig):
        self.source, self.report, self.config = source, report, config
        self.path = source.path
        self.html = etree.HTMLParser(encoding="utf-8", collect_ids=False)
        self.channel: Channel | None = None
        self.authors: dict[tuple[str | None, str, str, bool], Author] = {}
        self.css = ""  # the inline <style>: its selectors date the template
        self.system_markup = False  # 2.36+ give system notifications their own markup
        self.index = self.groups = self.cut = 0
        self.layout: str | None = None  # "info" (≤2.16) or "preamble"
        self.container_layout: bool | None = None
        self.has_count_element = self.is_dce = self.truncated = self.saw_postamble = False
        self.saw_241 = self.saw_untitled_header = False
        self.unknown_system = 0
        self.group = _Group()

    # -- driving the parser

    def run(self, stream: BinaryIO) -> Iterator[Message]:
        """Cut the bytes into batches that end just before a message or group start tag,
        and parse each batch as a document of its own.

        libxml2's HTML push parser keeps every byte it was fed until it is closed (its XML
        parser does not), so one HTMLPullParser over a whole export holds the whole file.
        DCE escapes message text, so a literal start tag of a group or a message can only
        be markup; batches of about CHUNK_SIZE keep memory flat, and the group state
        (author, reply, date) is carried from one batch to the next.
        """
        buf, offset = bytearray(), 0
        for chunk in _utf8_chunks(stream, self.path):
            searched = max(len(buf) - 128, 1)  # a tag cut by the chunk edge is searched again
            buf += chunk
            last = None
            for last in _BOUNDARY.finditer(buf, searched):  # noqa: B007 - only the last one matters
                pass
            if last is not None:
                batch, cut = bytes(buf[: last.start()]), last.start()
                del buf[:cut]
                yield from self._batch(batch, offset, final=False)
                offset += cut
            elif not self.is_dce and len(buf) > _SNIFF_LIMIT and not _DCE_MARKUP.search(buf):
                self._not_dce(f"no DiscordChatExporter markup in the first {_SNIFF_LIMIT >> 20} MiB")
            elif len(buf) > _MAX_PIECE:
                if not self.is_dce:
                    self._not_dce(f"no message markup in the first {_MAX_PIECE >> 20} MiB")
                raise ExportParseError(self.path, f"byte {offset}", f"no message start in {_MAX_PIECE >> 20} MiB")
        yield from self._batch(bytes(buf), offset, final=True)
        if not self.is_dce:
            self._not_dce("no chatlog, preamble or message groups")
        self._finish(bytes(buf[-64:]))

    def _batch(self, data: bytes, offset: int, final: bool) -> list[Message]:
        if not data.strip():
            return []
        try:
            if final:  # elements closed only by the end of the file were cut off: mark them
                parser = etree.HTMLPullParser(events=("end",), tag="div", encoding="utf-8", collect_ids=False)
                parser.feed(data)
                for _ in parser.read_events():
                    pass
                root = parser.close()
                for _, el in parser.read_events():
                    el.set(_CUT, "")
            else:
                root = etree.fromstring(data, self.html)
        except etree.LxmlError as exc:
            if not self.is_dce:
                self._not_dce("no HTML elements")
            raise ExportParseError(self.path, f"byte {offset}", f"unreadable HTML ({exc})") from exc
        out: list[Message] = []
        if root is not None:
            self._scan(root, out)
        return out

    def _not_dce(self, seen: str) -> NoReturn:
        raise UnsupportedExportError(self.path, f"an HTML page with {seen}")

    def _scan(self, el: etree._Element, out: list[Message]) -> None:
        """Handle the parts of a batch in document order; messages are not descended into."""
        for child in el.iterchildren(etree.Element):
            if child.tag == "style":
                self.css += child.text or ""
                self.system_markup = ".chatlog__system-notification" in self.css
                continue
            names = _classes(child)
            # Containers are never descended into, so a div.chatlog__message met here is a ≤2.33 one.
            if "chatlog__message-container" in names or "chatlog__message" in names:
                self.is_dce = True
                message = self._message(child, names)
                if message is not None:
                    out.append(message)
            elif "chatlog__message-group" in names:
                self.is_dce = True
                self._open_group(child)
                self._scan(child, out)
            elif ("preamble" in names or "info" in names) and _find(child, *_PREAMBLE_ENTRIES) is not None:
                self.is_dce = True
                if self.channel is None:
                    self._preamble(child, "info" if "info" in names else "preamble")
            elif "postamble" in names:
                self._postamble(child)
            else:
                self._scan(child, out)

    def _finish(self, tail: bytes) -> None:
        self._check_group()
        report = self.report
        report.exporter_version = self._version()
        # A whole export ends with the postamble (2.17+) or </body></html> (≤2.16).
        ended = self.saw_postamble or tail.rstrip().lower().endswith((b"</html>", b"</body>"))
        self.truncated = self.truncated or self.cut > 0 or not ended
        if self.truncated:
            report.warn(
                None,
                f"the file is truncated (it ends inside the chat log); {self.index} complete messages were read"
                + (f", {self.cut} cut-off message(s) skipped" if self.cut else ""),
            )
        if report.declared_count is not None and report.declared_count != self.index and not self.truncated:
            report.warn(None, f"the export declares {report.declared_count} messages but {self.index} were read")
        if self.unknown_system:
            report.warn(
                None,
                f"{self.unknown_system} system notification(s) of a kind the HTML does not name: "
                f"type set to {UNKNOWN_SYSTEM_KIND!r}",
            )

    # -- preamble, postamble, version

    def _preamble(self, el: etree._Element, layout: str) -> None:
        self.layout = layout
        topic = None
        if layout == "info":  # ≤2.16
            guild, path = _plain(_find(el, "info__guild-name")), _plain(_find(el, "info__channel-name"))
            topic_el = _find(el, "info__channel-topic")
            topic = markdown_text(topic_el).strip() if topic_el is not None else None
            count = _find(el, "info__channel-message-count")
            if count is not None:
                self.has_count_element = True
                self.report.declared_count = _count(_plain(count))
        else:
            entries = [e for e in el.iter(etree.Element) if "preamble__entry" in _classes(e)]
            guild = _plain(entries[0]) if entries else ""
            path = _plain(entries[1]) if len(entries) > 1 else ""
            small = entries[2:]
            # Topic then date range, both optional and both "--small": a lone entry shaped
            # like "Between/After/Before <date>" is the range.
            if small and not (len(small) == 1 and _RANGE.fullmatch(_plain(small[0]))):
                topic = markdown_text(small[0]).strip()
        *parents, name = path.split(" / ") if path else [""]
        icon = _find(el, "preamble__guild-icon", "info__guild-icon")
        guild_id = _GUILD_ICON.search(icon.get("src") or "") if icon is not None else None
        self.channel = Channel(
            name=name or None,
            category=parents[-1] if parents else None,
            topic=topic or None,
            guild_id=guild_id.group(1) if guild_id else None,
            guild_name=guild or None,
        )
        self.report.channel = self.channel

    def _postamble(self, el: etree._Element) -> None:
        for entry in el.iter(etree.Element):
            if "postamble__entry" not in _classes(entry):
                continue
            self.saw_postamble = True
            text = _plain(entry)
            if text.startswith("Exported ") and self.report.declared_count is None:
                self.report.declared_count = _count(text)
            elif text.startswith("Timezone:"):
                self.saw_241 = True  # the displayed times' offset, 2.41+; ids give exact times

    def _version(self) -> str | None:
        css, low, high = self.css, None, None
        if ".chatlog__" in css:
            for marker, first, before in _VERSION_MARKERS:
                if marker in css:
                    low = first
                elif high is None:
                    high = before
                    break
            if low == "2.40" and self.saw_241:  # 2.41 changed no class, only dates/postamble
                low = "2.41"
            elif low == "2.40" and self.saw_untitled_header:
                high = "2.40"
        elif self.container_layout:
            low = "2.41" if self.saw_241 else "2.34"
        elif self.layout == "preamble":
            low, high = "2.17", "2.33"
        if low is None and (self.layout == "info" or high == "2.16"):
            return "<=2.15" if self.has_count_element else "<=2.16"
        if low is None:
            return None if high is None else f"<={high}"
        if high is None:
            return f">={low}"
        return low if low == high else f"{low}-{high}"

    # -- message groups

    def _open_group(self, group: etree._Element) -> None:
        self._check_group()
        self.groups += 1
        self.group = state = _Group(cut=group.get(_CUT) is not None)
        box = _child(group, "chatlog__messages")
        if box is None:  # ≥2.34: the first message container holds the header
            return
        # ≤2.33: one author and one display date per group, the reply header on the group.
        self.container_layout = False
        author_el = _child(box, "chatlog__author-name")
        if author_el is not None:
            state.author = self._author(author_el, _child(box, "chatlog__bot-tag"))
        elif not state.cut:
            where = f"message group {self.groups}"
            raise ExportParseError(self.path, where, "a message group without an author (span.chatlog__author-name)")
        state.date = _plain(_child(box, "chatlog__timestamp"))  # its first message's date
        state.reply_to = _reply_target(_child(group, "chatlog__reference"))

    def _check_group(self) -> None:
        if self.groups and not self.group.count and not self.group.cut:
            raise ExportParseError(self.path, f"message group {self.groups}", "a message group without messages")

    def _message(self, el: etree._Element, names: list[str]) -> Message | None:
        where = f"message group {self.groups}"
        self.group.count += 1
        if el.get(_CUT) is not None:
            self.cut += 1
            return None
        if not self.groups:
            raise ExportParseError(self.path, where, "a message outside any chatlog__message-group")
        mid = self._message_id(el, where)
        where = f"{where}, message {mid}"
        try:
            if "chatlog__message-container" in names:
                self.container_layout = True
                message = self._modern(el, mid, where)
            else:
                message = self._old(el, mid, where)
        except (ValueError, KeyError, IndexError) as exc:  # markup no DCE version writes
            raise ExportParseError(self.path, where, f"unexpected markup ({exc})") from exc
        return message

    def _old(self, div: etree._Element, mid: str, where: str) -> Message:
        """≤2.33: a ``div.chatlog__message``; author, date and reply come from the group."""
        state = self.group
        if state.author is None:
            raise ExportParseError(self.path, where, "a message whose group has no author")
        state.first = state.first or snowflake_time(mid)
        # 2.30-2.33 date each message ("Message sent: <date>"); before, the group's date and
        # its first message's id give the display offset for the whole group.
        sent = (div.get("title") or "").removeprefix("Message sent: ")
        dated = (sent, snowflake_time(mid)) if sent else (state.date, state.first)
        message = self._regular(div, mid, state.author, state.reply_to if state.count == 1 else None, dated)
        message.is_pinned = "chatlog__message--pinned" in _classes(div)
        return message

    def _modern(self, container: etree._Element, mid: str, where: str) -> Message:
        """≥2.34: a ``chatlog__message-container``; the group's first one holds the header."""
        body = _child_or_self(container, "chatlog__message")
        aside = _child(body, "chatlog__message-aside")
        primary = _child_or_self(body, "chatlog__message-primary")
        if _find(aside, "chatlog__system-notification-icon") is not None:
            message = self._system(mid, aside, primary, where)
        else:
            header = _child(primary, "chatlog__header")
            author_el = _child(header, "chatlog__author")
            if author_el is not None:
                self.group.author = self._author(author_el, _child(header, "chatlog__author-tag", "chatlog__bot-label"))
            if self.group.author is None:
                missing = "the group's first message has no author (span.chatlog__author)"
                raise ExportParseError(self.path, where, missing)
            stamp = _child(header, "chatlog__timestamp") if header is not None else None
            if stamp is not None:
                self.saw_241 |= bool(stamp.get("title"))  # 2.41+ add the long date as title
                self.saw_untitled_header |= not stamp.get("title")
            else:
                stamp = _child(aside, "chatlog__short-timestamp")
            date = (stamp.get("title") or _plain(stamp)) if stamp is not None else ""
            reply_to = _reply_target(_child(primary, "chatlog__reply", "chatlog__reference"))
            message = self._regular(primary, mid, self.group.author, reply_to, (date, snowflake_time(mid)))
        message.is_pinned = "chatlog__message-container--pinned" in _classes(container)
        return message

    def _regular(
        self, box: etree._Element, mid: str, author: Author, reply_to: str | None, dated: tuple[str, datetime]
    ) -> Message:
        """An ordinary message whose content, attachments... are direct children of ``box``.

        ``dated`` is a display date of this group and the instant it shows, to read "edited".
        """
        timestamp = snowflake_time(mid)
        content, edited, attachments, stickers = "", None, [], []
        embeds, forward, forwarded = 0, False, ""
        for child in box:
            cls = _classes(child)
            if "chatlog__content" in cls:
                content, edited_title = _content(child)
                if edited_title:
                    edited = _edited_time(edited_title, dated, timestamp, self.config.day_first)
            elif "chatlog__attachment" in cls:
                attachments.append(_attachment_name(child))
            elif "chatlog__embed" in cls:
                embeds += _find(child, "chatlog__embed-invite-container") is None  # invites are not embeds
            elif "chatlog__sticker" in cls:
                stickers.append(child.get("title") or "")
            elif "chatlog__forwarded" in cls:
                forward = True
                holder = _find(_child(child, "chatlog__forwarded-content"), "chatlog__markdown-preserve")
                forwarded = markdown_text(holder) if holder is not None else ""
        # Before 2.36 system notices were ordinary messages carrying DCE's phrase (§1.4).
        kind = "Default" if self.system_markup else kind_from_fallback_text(content)
        if kind == "Default" and reply_to is not None:
            kind = "Reply"
        return Message(
            id=mid,
            timestamp=timestamp,
            author=author,
            content=content,
            channel=self.channel or _NO_CHANNEL,
            source=self.source,
            index=self._next_index(),
            type=kind,
            edited=edited,
            reply_to=reply_to,
            attachments=tuple(attachments),
            embeds=embeds,
            stickers=tuple(stickers),
            is_forward=forward,
            forwarded_content=forwarded,
        )

    def _system(self, mid: str, aside: etree._Element, primary: etree._Element, where: str) -> Message:
        """A 2.36+ system notification: its own author, a phrase, an icon."""
        author_el = _find(primary, "chatlog__system-notification-author", "chatlog__author")
        if author_el is None:
            raise ExportParseError(self.path, where, "a system notification without an author")
        phrase_el = _find(primary, "chatlog__system-notification-content")
        if phrase_el is not None:  # 2.37+
            phrase = _plain(phrase_el)
        else:  # 2.36: "chatlog__system-notification..." spans inside the header
            spans = _child_or_self(primary, "chatlog__header")
            phrase = " ".join(
                _plain(s) for s in spans if any(c.startswith("chatlog__system-notification") for c in _classes(s))
            )
        text = _system_text(phrase)
        kind = _icon_kind(aside) or kind_from_fallback_text(text)
        if kind == "Default":
            kind = UNKNOWN_SYSTEM_KIND
            self.unknown_system += 1
        return Message(
            id=mid,
            timestamp=snowflake_time(mid),
            author=self._author(author_el, None),
            content=text,
            channel=self.channel or _NO_CHANNEL,
            source=self.source,
            index=self._next_index(),
            type=kind,
        )

    def _next_index(self) -> int:
        self.index += 1
        return self.index - 1

    def _message_id(self, el: etree._Element, where: str) -> str:
        mid = (el.get("data-message-id") or "").strip()
        if not (mid.isascii() and mid.isdigit()) or len(mid) > 20 or int(mid) >= 1 << 64:
            shown = repr(mid[:30]) if mid else "none"
            raise ExportParseError(self.path, where, f"a message without a valid data-message-id ({shown})")
        return mid

    def _author(self, el: etree._Element, tag: etree._Element | None) -> Author:
        display = _plain(el)
        key = (el.get("data-user-id") or None, el.get("title") or display, display, tag is not None)
        author = self.authors.get(key)
        if author is None:
            author = self.authors[key] = Author(*key)
        return author


@dataclass
class _Group:
    """What later messages of a group take from its start (which may be in an earlier batch)."""

    cut: bool = False  # the file ends inside the group's header
    author: Author | None = None
    date: str = ""  # ≤2.33: the group's display date (its first message's)
    first: datetime | None = None  # ≤2.33: the first message's time
    reply_to: str | None = None  # ≤2.33: the reply header belongs to the first message
    count: int = 0


def _utf8_chunks(stream: BinaryIO, path: str) -> Iterator[bytes]:
    """The stream as UTF-8 byte chunks without a BOM (UTF-16 files are transcoded)."""
    head = stream.read(max(CHUNK_SIZE, 4))
    encoding, bom = detect_text_encoding(head[:4])
    if not head[bom:].strip():
        raise ExportParseError(path, None, "the file is empty (an HTML export always has a preamble)")
    if encoding == "utf-16":
        decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        while head:
            yield decoder.decode(head).encode("utf-8")
            head = stream.read(CHUNK_SIZE)
        yield decoder.decode(b"", final=True).encode("utf-8")
        return
    if b"\x00" in head:
        raise UnsupportedExportError(path, "binary data (NUL bytes), not HTML")
    chunk = head[bom:]
    while chunk:
        yield chunk
        chunk = stream.read(CHUNK_SIZE)


# -- per-message pieces ----------------------------------------------------------------------


def _content(div: etree._Element) -> tuple[str, str | None]:
    """(text, edited marker's title) of a ``chatlog__content`` block."""
    edited_el = _find(div, "chatlog__edited-timestamp")
    edited = (edited_el.get("title") or "(edited)") if edited_el is not None else None
    holder = _find(div, "chatlog__markdown-preserve", "preserve-whitespace")
    if holder is not None:  # 2.25+
        return markdown_text(holder), edited
    holder = _find(div, "markdown")
    if holder is None:
        return "", edited
    text = markdown_text(holder)
    # 2.20-2.24 put the text straight into div.markdown, followed by template whitespace.
    return (text.rstrip() if holder.tag == "div" else text), edited


def _reply_target(reply: etree._Element | None) -> str | None:
    link = _find(reply, "chatlog__reply-link", "chatlog__reference-link")
    match = _SCROLL.search(link.get("onclick") or "") if link is not None else None
    return match.group(1) if match else None


def _icon_kind(aside: etree._Element) -> str | None:
    """2.36/2.37 name the icon after the kind (#guild-member-join-icon); later ones do not."""
    icon = _find(aside, "chatlog__system-notification-icon")
    use = next(icon.iter("use"), None) if icon is not None else None
    href = (use.get("href") or use.get("xlink:href") or "") if use is not None else ""
    name = href.removeprefix("#").removesuffix("-icon")
    kind = name if name.isdigit() else "".join(part.capitalize() for part in name.split("-"))
    return kind if kind.isdigit() or kind in MESSAGE_KIND_VALUES else None


def _attachment_name(div: etree._Element) -> str:
    for el in div.iter(etree.Element):
        title = el.get("title")
        match = _MEDIA_TITLE.fullmatch(title) if title else None
        if match:  # 2.26+: "Image: name.png (1.2 MB)"
            return match.group(1)
        if any(c in ("chatlog__attachment-generic-name", "chatlog__attachment-filename") for c in _classes(el)):
            return _plain(el)
    match = _OLD_ATTACHMENT.fullmatch(_plain(div))  # ≤2.25 non-image: "Attachment: name (size)"
    if match:
        return match.group(1)
    for el in div.iter("a", "img", "source"):
        url = el.get("href") or el.get("src")
        if url:  # ≤2.25 images name nothing but the URL, whose last segment is the file name
            return unquote(re.split(r"[\\/]", urlsplit(url).path)[-1]) or url
    return ""


def _count(text: str) -> int | None:
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None
