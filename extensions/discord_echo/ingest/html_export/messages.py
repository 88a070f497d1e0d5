"""Turn the message markup of a DCE HTML export into `Message` values, per layout.

Takes the lexbor elements of message groups and messages, in document order (from
`ChatlogScanner`); gives one `Message` per message with a valid ``data-message-id`` and keeps
what later messages of a group inherit in `Group`, which outlives the batch it started in.
Implements docs/formats.md, HTML 2.34 and later, HTML 2.33 and earlier, and Message types and system messages:

* ≤2.33 (``div.info`` layouts up to 2.16, ``div.preamble`` 2.17-2.33): the group's
  ``chatlog__messages`` box names the author and the display date, the reply header sits on
  the group, each ``div.chatlog__message`` holds one message;
* ≥2.34: each ``chatlog__message-container`` is one message; the group's first one holds the
  header (author, date, reply);
* 2.36+ system notifications carry their own author; their type comes from the icon
  (2.36/2.37) or the phrase, and their content is the phrase JSON/CSV/TXT write ("Joined the
  server."). An unnamed system kind shown by ≥2.38 gets type ``"System"``.

Authors: ``data-user-id``; ``title`` = FullName -> ``Author.name``; visible text ->
``display_name``; BOT/SERVER tag -> ``is_bot``. Times are the snowflake ids' (exact UTC).

Each element's class is read once per message where possible (a batch holds a few hundred
messages, and reading attributes is most of the work), and the display date that only an
"(edited)" marker needs is read only when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from selectolax.lexbor import LexborNode

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Author, Channel, Message, Source, kind_from_fallback_text, snowflake_time
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.elements import (
    child_or_self,
    child_with,
    classes_of,
    find_below,
    find_with,
    plain_text,
)
from discord_echo.ingest.html_export.formatting import MAX_DEPTH, markdown
from discord_echo.ingest.html_export.message_parts import (
    attachment_name,
    edited_time,
    icon_kind,
    read_content,
    reply_target,
    system_text,
)

UNKNOWN_SYSTEM_KIND = "System"
_NO_CHANNEL = Channel()  # for messages of a file without a preamble


@dataclass
class Group:
    """What later messages of a group take from its start (which may be in an earlier batch)."""

    cut: bool = False  # the file ends inside the group's header
    author: Author | None = None
    date: str = ""  # ≤2.33: the group's display date (its first message's)
    first: datetime | None = None  # ≤2.33: the first message's time
    reply_to: str | None = None  # ≤2.33: the reply header belongs to the first message
    count: int = 0


class MessageReader:
    """Reads message groups and messages; holds the state they share across batches."""

    def __init__(self, source: Source, report: FileReport, config: ReadConfig):
        self.source, self.report, self.config = source, report, config
        self.path = source.path
        self.channel: Channel | None = None
        self.authors: dict[tuple[str | None, str, str, bool], Author] = {}
        self.system_markup = False  # 2.36+ give system notifications their own markup
        self.index = self.groups = self.cut = 0
        self.container_layout: bool | None = None
        self.saw_241 = self.saw_untitled_header = False
        self.unknown_system = 0
        self.group = Group()
        # Elements (by `LexborNode.mem_id`) that only the end of the file closed: set for the last batch.
        self.open_at_eof: set[int] = set()

    def open_group(self, group: LexborNode) -> None:
        """Start a ``chatlog__message-group``; read its header if the layout puts it there (≤2.33)."""
        self.check_group()
        self.groups += 1
        self.group = state = Group(cut=bool(self.open_at_eof) and group.mem_id in self.open_at_eof)
        box = child_with(group, "chatlog__messages")
        if box is None:  # ≥2.34: the first message container holds the header
            return
        # ≤2.33: one author and one display date per group, the reply header on the group.
        self.container_layout = False
        author_el = child_with(box, "chatlog__author-name")
        if author_el is not None:
            state.author = self._author(author_el, child_with(box, "chatlog__bot-tag"))
        elif not state.cut:
            where = f"message group {self.groups}"
            raise ExportParseError(self.path, where, "a message group without an author (span.chatlog__author-name)")
        state.date = plain_text(child_with(box, "chatlog__timestamp"))  # its first message's date
        state.reply_to = reply_target(child_with(group, "chatlog__reference"))

    def check_group(self) -> None:
        """Raise if the group before held no message (unless the end of the file cut it)."""
        if self.groups and not self.group.count and not self.group.cut:
            raise ExportParseError(self.path, f"message group {self.groups}", "a message group without messages")

    def message(self, el: LexborNode, attrs: dict[str, str | None], names: list[str]) -> Message | None:
        """The message of a ≥2.34 container or a ≤2.33 ``div.chatlog__message`` (``attrs``, ``names``: its
        attributes and classes); None if the end of the file cut it off."""
        where = f"message group {self.groups}"
        self.group.count += 1
        if self.open_at_eof and el.mem_id in self.open_at_eof:
            self.cut += 1
            return None
        if not self.groups:
            raise ExportParseError(self.path, where, "a message outside any chatlog__message-group")
        mid = self._message_id(attrs.get("data-message-id"), where)
        where = f"{where}, message {mid}"
        try:
            if "chatlog__message-container" in names:
                self.container_layout = True
                return self._modern(el, names, mid, where)
            return self._old(el, names, mid, where)
        except (ValueError, KeyError, IndexError) as exc:  # markup no DCE version writes
            raise ExportParseError(self.path, where, f"unexpected markup ({exc})") from exc

    def _old(self, div: LexborNode, names: list[str], mid: str, where: str) -> Message:
        """≤2.33: a ``div.chatlog__message``; author, date and reply come from the group."""
        state = self.group
        if state.author is None:
            raise ExportParseError(self.path, where, "a message whose group has no author")
        timestamp = snowflake_time(mid)
        state.first = state.first or timestamp
        # 2.30-2.33 date each message ("Message sent: <date>"); before, the group's date and
        # its first message's id give the display offset for the whole group.
        sent = (div.attributes.get("title") or "").removeprefix("Message sent: ")
        dated = (sent, timestamp) if sent else (state.date, state.first)
        reply_to = state.reply_to if state.count == 1 else None
        pinned = "chatlog__message--pinned" in names
        return self._regular(_children(div), mid, timestamp, state.author, reply_to, lambda: dated, pinned)

    def _modern(self, container: LexborNode, names: list[str], mid: str, where: str) -> Message:
        """≥2.34: a ``chatlog__message-container``; the group's first one holds the header."""
        body = child_or_self(container, "chatlog__message")
        aside = primary = None
        aside_names: list[str] = []
        for child in body.iter():
            cls = classes_of(child)
            if aside is None and "chatlog__message-aside" in cls:
                aside, aside_names = child, cls
            if primary is None and "chatlog__message-primary" in cls:
                primary = child
        primary = body if primary is None else primary
        pinned = "chatlog__message-container--pinned" in names
        icon = "chatlog__system-notification-icon"
        if icon in aside_names or find_below(aside, icon) is not None:
            return self._system(mid, aside, primary, where, pinned)
        kids = _children(primary)
        header = reply = stamp = None
        for child, cls in kids:
            if header is None and "chatlog__header" in cls:
                header = child
            if reply is None and ("chatlog__reply" in cls or "chatlog__reference" in cls):
                reply = child
        if header is not None:
            author_el = tag = None
            for child in header.iter():
                cls = classes_of(child)
                if author_el is None and "chatlog__author" in cls:
                    author_el = child
                if tag is None and ("chatlog__author-tag" in cls or "chatlog__bot-label" in cls):
                    tag = child
                if stamp is None and "chatlog__timestamp" in cls:
                    stamp = child
            if author_el is not None:
                self.group.author = self._author(author_el, tag)
        if self.group.author is None:
            missing = "the group's first message has no author (span.chatlog__author)"
            raise ExportParseError(self.path, where, missing)
        timestamp = snowflake_time(mid)
        if stamp is not None:
            title = stamp.attributes.get("title")
            self.saw_241 |= bool(title)  # 2.41+ add the long date as title
            self.saw_untitled_header |= not title

        def dated() -> tuple[str, datetime]:
            shown = stamp if stamp is not None else child_with(aside, "chatlog__short-timestamp")
            date = (shown.attributes.get("title") or plain_text(shown)) if shown is not None else ""
            return date, timestamp

        reply_to = reply_target(reply)
        return self._regular(kids, mid, timestamp, self.group.author, reply_to, dated, pinned)

    def _regular(
        self,
        kids: list[tuple[LexborNode, list[str]]],
        mid: str,
        timestamp: datetime,
        author: Author,
        reply_to: str | None,
        dated: Callable[[], tuple[str, datetime]],
        pinned: bool,
    ) -> Message:
        """An ordinary message whose content, attachments... are the elements ``kids`` (with their classes).

        ``dated`` gives a display date of this group and the instant it shows, to read "edited".
        """
        content, edited, attachments, stickers = "", None, [], []
        embeds, forward, forwarded = 0, False, ""
        for child, cls in kids:
            if "chatlog__content" in cls:
                content, edited_title, deep = read_content(child, cls)
                if deep:
                    self._too_deep(mid)
                if edited_title:
                    edited = edited_time(edited_title, dated(), timestamp, self.config.day_first)
            elif "chatlog__attachment" in cls:
                attachments.append(attachment_name(child))
            elif "chatlog__embed" in cls:
                embeds += find_with(child, "chatlog__embed-invite-container") is None  # invites are not embeds
            elif "chatlog__sticker" in cls:
                stickers.append(child.attributes.get("title") or "")
            elif "chatlog__forwarded" in cls:
                forward, forwarded = True, ""
                holder = find_with(child_with(child, "chatlog__forwarded-content"), "chatlog__markdown-preserve")
                if holder is not None:
                    forwarded, deep = markdown(holder)
                    if deep:
                        self._too_deep(mid)
        # Before 2.36 system notices were ordinary messages carrying DCE's phrase
        # (docs/formats.md, Message types and system messages).
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
            is_pinned=pinned,
        )

    def _system(self, mid: str, aside: LexborNode, primary: LexborNode, where: str, pinned: bool) -> Message:
        """A 2.36+ system notification: its own author, a phrase, an icon."""
        author_el = find_with(primary, "chatlog__system-notification-author", "chatlog__author")
        if author_el is None:
            raise ExportParseError(self.path, where, "a system notification without an author")
        phrase_el = find_with(primary, "chatlog__system-notification-content")
        if phrase_el is not None:  # 2.37+
            phrase = plain_text(phrase_el)
        else:  # 2.36: "chatlog__system-notification..." spans inside the header
            spans = child_or_self(primary, "chatlog__header")
            phrase = " ".join(
                plain_text(s)
                for s in spans.iter()
                if any(c.startswith("chatlog__system-notification") for c in classes_of(s))
            )
        text = system_text(phrase)
        kind = icon_kind(aside) or kind_from_fallback_text(text)
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
            is_pinned=pinned,
        )

    def _too_deep(self, mid: str) -> None:
        self.report.warn(
            f"message group {self.groups}",
            f"message {mid} nests its markup more than {MAX_DEPTH} levels deep; below that depth its text was "
            "read without formatting (no DiscordChatExporter version writes this: the file was edited)",
        )

    def _next_index(self) -> int:
        self.index += 1
        return self.index - 1

    def _message_id(self, value: str | None, where: str) -> str:
        mid = (value or "").strip()
        if not (mid.isascii() and mid.isdigit()) or len(mid) > 20 or int(mid) >= 1 << 64:
            shown = repr(mid[:30]) if mid else "none"
            raise ExportParseError(self.path, where, f"a message without a valid data-message-id ({shown})")
        return mid

    def _author(self, el: LexborNode, tag: LexborNode | None) -> Author:
        display = plain_text(el)
        attrs = el.attributes
        key = (attrs.get("data-user-id") or None, attrs.get("title") or display, display, tag is not None)
        author = self.authors.get(key)
        if author is None:
            author = self.authors[key] = Author(*key)
        return author


def _children(el: LexborNode) -> list[tuple[LexborNode, list[str]]]:
    """The child elements of ``el`` with their classes, read once for the several lookups of a message."""
    return [(child, classes_of(child)) for child in el.iter()]
