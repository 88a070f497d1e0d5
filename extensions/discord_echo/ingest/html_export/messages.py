"""Turn the message markup of a DCE HTML export into `Message` values, per layout.

Takes the lxml elements of message groups and messages, in document order (from
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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from discord_echo.core.errors import ExportParseError
from discord_echo.core.messages import Author, Channel, Message, Source, kind_from_fallback_text, snowflake_time
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.elements import (
    CUT_ATTRIBUTE,
    child_or_self,
    child_with,
    classes_of,
    find_with,
    plain_text,
)
from discord_echo.ingest.html_export.formatting import markdown_text
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

    def open_group(self, group: etree._Element) -> None:
        """Start a ``chatlog__message-group``; read its header if the layout puts it there (≤2.33)."""
        self.check_group()
        self.groups += 1
        self.group = state = Group(cut=group.get(CUT_ATTRIBUTE) is not None)
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

    def message(self, el: etree._Element, names: list[str]) -> Message | None:
        """The message of a ≥2.34 container or a ≤2.33 ``div.chatlog__message`` (``names``: its
        classes); None if the end of the file cut it off."""
        where = f"message group {self.groups}"
        self.group.count += 1
        if el.get(CUT_ATTRIBUTE) is not None:
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
        message.is_pinned = "chatlog__message--pinned" in classes_of(div)
        return message

    def _modern(self, container: etree._Element, mid: str, where: str) -> Message:
        """≥2.34: a ``chatlog__message-container``; the group's first one holds the header."""
        body = child_or_self(container, "chatlog__message")
        aside = child_with(body, "chatlog__message-aside")
        primary = child_or_self(body, "chatlog__message-primary")
        if find_with(aside, "chatlog__system-notification-icon") is not None:
            message = self._system(mid, aside, primary, where)
        else:
            header = child_with(primary, "chatlog__header")
            author_el = child_with(header, "chatlog__author")
            if author_el is not None:
                tag = child_with(header, "chatlog__author-tag", "chatlog__bot-label")
                self.group.author = self._author(author_el, tag)
            if self.group.author is None:
                missing = "the group's first message has no author (span.chatlog__author)"
                raise ExportParseError(self.path, where, missing)
            stamp = child_with(header, "chatlog__timestamp") if header is not None else None
            if stamp is not None:
                self.saw_241 |= bool(stamp.get("title"))  # 2.41+ add the long date as title
                self.saw_untitled_header |= not stamp.get("title")
            else:
                stamp = child_with(aside, "chatlog__short-timestamp")
            date = (stamp.get("title") or plain_text(stamp)) if stamp is not None else ""
            reply_to = reply_target(child_with(primary, "chatlog__reply", "chatlog__reference"))
            message = self._regular(primary, mid, self.group.author, reply_to, (date, snowflake_time(mid)))
        message.is_pinned = "chatlog__message-container--pinned" in classes_of(container)
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
            cls = classes_of(child)
            if "chatlog__content" in cls:
                content, edited_title = read_content(child)
                if edited_title:
                    edited = edited_time(edited_title, dated, timestamp, self.config.day_first)
            elif "chatlog__attachment" in cls:
                attachments.append(attachment_name(child))
            elif "chatlog__embed" in cls:
                embeds += find_with(child, "chatlog__embed-invite-container") is None  # invites are not embeds
            elif "chatlog__sticker" in cls:
                stickers.append(child.get("title") or "")
            elif "chatlog__forwarded" in cls:
                forward = True
                holder = find_with(child_with(child, "chatlog__forwarded-content"), "chatlog__markdown-preserve")
                forwarded = markdown_text(holder) if holder is not None else ""
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
        )

    def _system(self, mid: str, aside: etree._Element, primary: etree._Element, where: str) -> Message:
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
                plain_text(s) for s in spans if any(c.startswith("chatlog__system-notification") for c in classes_of(s))
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
        display = plain_text(el)
        key = (el.get("data-user-id") or None, el.get("title") or display, display, tag is not None)
        author = self.authors.get(key)
        if author is None:
            author = self.authors[key] = Author(*key)
        return author
