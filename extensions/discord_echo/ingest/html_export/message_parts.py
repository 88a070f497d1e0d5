"""Read the parts of one message's markup in a DCE HTML export.

Takes lexbor elements inside one message (its ``chatlog__content`` block, an attachment, the
reply link, a system notification's icon and phrase) and display-date strings; gives plain
values: the content text and its "(edited)" marker, the UTC time of an edit, attachment
file names, the id a reply points at, the message type of a system notification and the
content JSON/CSV/TXT write for it. Implements docs/formats.md, HTML 2.34 and later, HTML 2.33 and
earlier, Times, time zones and snowflakes (display dates) and Message types and system messages.

Edit times: the "(edited)" marker's display date is read when its shape is known (numbers,
English month names or Unix time); the display time zone is learnt by comparing a display
date of the same group with the instant its message id gives. Exact to the minute;
otherwise ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from selectolax.lexbor import LexborNode

from discord_echo.core.messages import MESSAGE_KIND_VALUES
from discord_echo.ingest.html_export.elements import classes_of, descendants, find_with, plain_text
from discord_echo.ingest.html_export.formatting import markdown

_UTC = timezone.utc
_SCROLL = re.compile(r"scrollToMessage\(\s*event\s*,\s*'(\d+)'\s*\)")
_MEDIA_TITLE = re.compile(r"(?:Image|Video|Audio): (.+) \([^()]*\)", re.S)
_OLD_ATTACHMENT = re.compile(r"Attachment: (.+) \([^()]*\)", re.S)


def read_content(div: LexborNode, names: list[str]) -> tuple[str, str | None, bool]:
    """(text, edited marker's title, whether markup too deep to format was read as plain text) of a
    ``chatlog__content`` block whose classes are ``names``.

    One walk over the block finds the first "(edited)" marker and the first text holder of each
    layout, in document order, as separate searches would."""
    edited_el = holder = old_holder = None
    stop, node, cls = div.mem_id, div, names
    while node is not None:
        if cls:
            if edited_el is None and "chatlog__edited-timestamp" in cls:
                edited_el = node
            if holder is None and ("chatlog__markdown-preserve" in cls or "preserve-whitespace" in cls):
                holder = node
            if old_holder is None and "markdown" in cls:
                old_holder = node
        child = node.first_child
        if child is not None:
            node = child
        elif node.mem_id == stop:
            break
        else:
            while node.next is None:
                node = node.parent
                if node is None or node.mem_id == stop:
                    node = None
                    break
            else:
                node = node.next
        cls = classes_of(node) if node is not None else None
    edited = (edited_el.attributes.get("title") or "(edited)") if edited_el is not None else None
    if holder is not None:  # 2.25+
        text, deep = markdown(holder)
        return text, edited, deep
    if old_holder is None:
        return "", edited, False
    text, deep = markdown(old_holder)
    # 2.20-2.24 put the text straight into div.markdown, followed by template whitespace.
    return (text.rstrip() if old_holder.tag == "div" else text), edited, deep


def reply_target(reply: LexborNode | None) -> str | None:
    """The message id a reply header (``chatlog__reply``/``chatlog__reference``) links to."""
    link = find_with(reply, "chatlog__reply-link", "chatlog__reference-link")
    match = _SCROLL.search(link.attributes.get("onclick") or "") if link is not None else None
    return match.group(1) if match else None


def icon_kind(aside: LexborNode) -> str | None:
    """2.36/2.37 name the icon after the kind (#guild-member-join-icon); later ones do not."""
    icon = find_with(aside, "chatlog__system-notification-icon")
    use = next((el for el in descendants(icon) if el.tag == "use"), None) if icon is not None else None
    attrs = use.attributes if use is not None else {}
    href = attrs.get("href") or attrs.get("xlink:href") or ""
    name = href.removeprefix("#").removesuffix("-icon")
    kind = name if name.isdigit() else "".join(part.capitalize() for part in name.split("-"))
    return kind if kind.isdigit() or kind in MESSAGE_KIND_VALUES else None


def system_text(phrase: str) -> str:
    """The fallback content JSON/CSV/TXT write for a system notice, from its HTML phrase."""
    if phrase.startswith("pinned a message"):
        return "Pinned a message."
    if phrase.startswith("started a call") and not phrase.endswith("."):
        phrase += "."
    return phrase[:1].upper() + phrase[1:]


def attachment_name(div: LexborNode) -> str:
    """The file name of a ``chatlog__attachment``."""
    for el in descendants(div):
        title = el.attributes.get("title")
        match = _MEDIA_TITLE.fullmatch(title) if title else None
        if match:  # 2.26+: "Image: name.png (1.2 MB)"
            return match.group(1)
        if any(c in ("chatlog__attachment-generic-name", "chatlog__attachment-filename") for c in classes_of(el)):
            return plain_text(el)
    match = _OLD_ATTACHMENT.fullmatch(plain_text(div))  # ≤2.25 non-image: "Attachment: name (size)"
    if match:
        return match.group(1)
    for el in descendants(div):
        attrs = el.attributes if el.tag in ("a", "img", "source") else {}
        url = attrs.get("href") or attrs.get("src")
        if url:  # ≤2.25 images name nothing but the URL, whose last segment is the file name
            return unquote(re.split(r"[\\/]", urlsplit(url).path)[-1]) or url
    return ""


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


def edited_time(
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
