"""Write the rendered markdown of a DCE HTML export back as the text the other formats hold.

Takes the lxml element holding a message's (or a topic's) rendered markdown; gives a `str`
in Discord markdown, as JSON/CSV/TXT exports write it. Implements docs/formats.md, HTML markdown:

* emoji images become the character, or ``:name:`` for custom emoji; mentions and timestamps
  keep their visible text (voice channels ``#name [voice]``); ``<br>`` is a newline;
  "(edited)" is dropped;
* formatting is restored as markdown: ``**b**``, ``*i*``, ``__u__``, ``~~s~~``,
  ``||spoiler||``, ``\\`code\\```, fenced code blocks with their language, ``> `` quotes,
  ``#`` headings, ``- `` list items, ``[label](url)``. Close but not byte-exact: ``_i_``
  comes back as ``*i*``, ``>>>`` as ``> `` lines, backslash escapes are gone.
"""

from __future__ import annotations

import re

from lxml import etree

from discord_echo.ingest.html_export.elements import child_with, classes_of, string_of

_CUSTOM_EMOJI = re.compile(r"[A-Za-z0-9_]+")
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "u": "__", "s": "~~"}


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
    tag, cls = el.tag, classes_of(el)
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
        out.append(f"`{string_of(el)}`")
    elif "chatlog__markdown-pre--multiline" in cls or "pre--multiline" in cls:
        lang = next((c[9:] for c in cls if c.startswith("language-")), "")
        out.append(f"```{lang}\n{string_of(el)}\n```")
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
    elif ("chatlog__markdown-mention" in cls or "mention" in cls) and string_of(el).startswith("🔊"):
        out.append(f"#{string_of(el)[1:]} [voice]")  # how JSON/CSV/TXT write voice channels
    else:
        _walk(el, out)


def _is_spoiler(el: etree._Element, cls: list[str]) -> bool:
    # ≥2.34 chatlog__markdown-spoiler; 2.30-2.33 spoiler-text; 2.20-2.29 span.spoiler wrapping
    # span.spoiler-text; ≤2.16 a bare span.spoiler.
    if "chatlog__markdown-spoiler" in cls or "spoiler-text" in cls:
        return True
    return "spoiler" in cls and child_with(el, "spoiler-text") is None


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
