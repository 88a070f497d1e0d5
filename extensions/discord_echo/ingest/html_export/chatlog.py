"""Walk the parsed batches of a DCE HTML export: document parts, groups, messages, end report.

Takes the lexbor root of each batch, in file order, from `reader`; gives the messages of
the batch (through `MessageReader`) and fills the `FileReport`: the channel from the preamble
(``div.info`` ≤2.16, ``div.preamble`` 2.17+), the declared message count (info header or
postamble), an exporter version guessed from the inline ``<style>`` and the markup, and
warnings for a truncated file, a count mismatch or unnamed system kinds. Implements
docs/formats.md, HTML document layout and HTML 2.33 and earlier.

The walk down to the messages is a loop with its own stack, not recursion: lexbor keeps
wrappers nested to any depth, and an edited file must not exhaust Python's stack.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from discord_echo.core.messages import Channel, Message, Source
from discord_echo.ingest.base import FileReport
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.html_export.elements import classes_of, descendants, find_with, plain_text
from discord_echo.ingest.html_export.formatting import markdown_text
from discord_echo.ingest.html_export.messages import UNKNOWN_SYSTEM_KIND, MessageReader

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
_PREAMBLE_ENTRIES = ("preamble__entry", "info__guild-name", "info__channel-name")
_RANGE = re.compile(r"(?:Between .+ and .+|After .+|Before .+)", re.S)
_GUILD_ICON = re.compile(r"/icons/(\d+)/")
# What `ChatlogScanner.parts` finds: (kind, element, its attributes, its classes).
MESSAGE, _GROUP, _STYLE, _PREAMBLE, _POSTAMBLE = "message", "group", "style", "preamble", "postamble"
Part = tuple[str, LexborNode, dict[str, str | None], list[str]]


class ChatlogScanner(MessageReader):
    """The state of one export read batch by batch: document parts seen, groups, messages."""

    def __init__(self, source: Source, report: FileReport, config: ReadConfig):
        super().__init__(source, report, config)
        self.css = ""  # the inline <style>: its selectors date the template
        self.layout: str | None = None  # "info" (≤2.16) or "preamble"
        self.has_count_element = self.is_dce = self.truncated = self.saw_postamble = False

    def parts(self, el: LexborNode) -> list[Part]:
        """The parts of a batch below ``el`` in document order; messages are not descended into.

        Only finds them: `read` handles them, so a batch can still be parsed again another way
        (see `reader`) before any of it has been read."""
        found: list[Part] = []
        after: list[LexborNode | None] = []  # the next sibling of each element descended into
        node = el.first_child
        while True:
            while node is None:
                if not after:
                    return found
                node = after.pop()
            child, node = node, node.next
            if not child.is_element_node:
                continue
            if child.tag == "style":
                found.append((_STYLE, child, {}, []))
                continue
            attrs = child.attributes
            cls = attrs.get("class")
            names = cls.split() if cls else []
            # Containers are never descended into, so a div.chatlog__message met here is a ≤2.33 one.
            if "chatlog__message-container" in names or "chatlog__message" in names:
                found.append((MESSAGE, child, attrs, names))
            elif "chatlog__message-group" in names:
                found.append((_GROUP, child, attrs, names))
                after.append(node)
                node = child.first_child
            elif ("preamble" in names or "info" in names) and find_with(child, *_PREAMBLE_ENTRIES) is not None:
                found.append((_PREAMBLE, child, attrs, names))
            elif "postamble" in names:
                found.append((_POSTAMBLE, child, attrs, names))
            else:
                after.append(node)
                node = child.first_child

    def read(self, parts: list[Part], out: list[Message]) -> None:
        """Handle the `parts` of a batch, in order, adding its messages to ``out``."""
        for kind, el, attrs, names in parts:
            if kind is MESSAGE:
                self.is_dce = True
                message = self.message(el, attrs, names)
                if message is not None:
                    out.append(message)
            elif kind is _GROUP:
                self.is_dce = True
                self.open_group(el)
            elif kind is _STYLE:
                self.css += el.text()
                self.system_markup = ".chatlog__system-notification" in self.css
            elif kind is _PREAMBLE:
                self.is_dce = True
                if self.channel is None:
                    self._preamble(el, "info" if "info" in names else "preamble")
            else:
                self._postamble(el)

    def finish(self, tail: bytes) -> None:
        """Complete the report once the file is read; ``tail`` is its last bytes."""
        self.check_group()
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

    def _preamble(self, el: LexborNode, layout: str) -> None:
        self.layout = layout
        topic = None
        if layout == "info":  # ≤2.16
            guild, path = plain_text(find_with(el, "info__guild-name")), plain_text(find_with(el, "info__channel-name"))
            topic_el = find_with(el, "info__channel-topic")
            topic = markdown_text(topic_el).strip() if topic_el is not None else None
            count = find_with(el, "info__channel-message-count")
            if count is not None:
                self.has_count_element = True
                self.report.declared_count = _count(plain_text(count))
        else:
            entries = [e for e in descendants(el) if "preamble__entry" in classes_of(e)]
            guild = plain_text(entries[0]) if entries else ""
            path = plain_text(entries[1]) if len(entries) > 1 else ""
            small = entries[2:]
            # Topic then date range, both optional and both "--small": a lone entry shaped
            # like "Between/After/Before <date>" is the range.
            if small and not (len(small) == 1 and _RANGE.fullmatch(plain_text(small[0]))):
                topic = markdown_text(small[0]).strip()
        *parents, name = path.split(" / ") if path else [""]
        icon = find_with(el, "preamble__guild-icon", "info__guild-icon")
        guild_id = _GUILD_ICON.search(icon.attributes.get("src") or "") if icon is not None else None
        self.channel = Channel(
            name=name or None,
            category=parents[-1] if parents else None,
            topic=topic or None,
            guild_id=guild_id.group(1) if guild_id else None,
            guild_name=guild or None,
        )
        self.report.channel = self.channel

    def _postamble(self, el: LexborNode) -> None:
        for entry in descendants(el):
            if "postamble__entry" not in classes_of(entry):
                continue
            self.saw_postamble = True
            text = plain_text(entry)
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


def _count(text: str) -> int | None:
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None
