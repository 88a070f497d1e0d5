"""Write the rendered markdown of a DCE HTML export back as the text the other formats hold.

Takes the lexbor element holding a message's (or a topic's) rendered markdown; gives a `str`
in Discord markdown, as JSON/CSV/TXT exports write it. Implements docs/formats.md, HTML markdown:

* emoji images become the character, or ``:name:`` for custom emoji; mentions and timestamps
  keep their visible text (voice channels ``#name [voice]``); ``<br>`` is a newline;
  "(edited)" is dropped;
* formatting is restored as markdown: ``**b**``, ``*i*``, ``__u__``, ``~~s~~``,
  ``||spoiler||``, ``\\`code\\```, fenced code blocks with their language, ``> `` quotes,
  ``#`` headings, ``- `` list items, ``[label](url)``. Close but not byte-exact: ``_i_``
  comes back as ``*i*``, ``>>>`` as ``> `` lines, backslash escapes are gone.

The walk recurses once per level of markup, so it stops formatting at `MAX_DEPTH` levels below
the element it is given and takes the text of anything deeper as it stands (lexbor gathers it
without recursion): no DCE version nests rendered markdown anywhere near that deep, and a file
edited to do so costs its formatting, never its text or Python's stack. `markdown` says when
that happened so the reader can warn.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from discord_echo.ingest.html_export.elements import child_with, classes_of, string_of

MAX_DEPTH = 256  # levels of markup formatted below the element read; two Python frames each
_CUSTOM_EMOJI = re.compile(r"[A-Za-z0-9_]+")
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "u": "__", "s": "~~"}
# Marks text taken without formatting below MAX_DEPTH; lexbor never leaves a NUL in text.
_DEEP = "\x00"


def markdown_text(el: LexborNode) -> str:
    """The text of a rendered-markdown element, written back as Discord markdown."""
    return markdown(el)[0]


def markdown(el: LexborNode) -> tuple[str, bool]:
    """(`markdown_text` of ``el``, whether markup deeper than `MAX_DEPTH` was read as plain text)."""
    out: list[str] = []
    _walk(el, out, 0)
    text = "".join(out)
    if _DEEP in text:
        return text.replace(_DEEP, ""), True
    return text, False


def _walk(el: LexborNode, out: list[str], depth: int) -> None:
    node = el.first_child
    while node is not None:
        text = node.text_content  # None for elements and comments (<!--wmm:ignore-->), which add nothing
        if text is not None:
            out.append(text)
        elif node.is_element_node:
            if depth < MAX_DEPTH:
                _node(node, out, depth + 1)
            else:
                out.append(_DEEP + node.text())
        node = node.next


def _node(el: LexborNode, out: list[str], depth: int) -> None:
    # Sub-results are walked here, not through markdown_text, so one level costs two frames.
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
        _walk(el, out, depth)
        out.append(_INLINE_MARKS[tag])
    elif _is_spoiler(el, cls):
        out.append("||")
        _walk(el, out, depth)
        out.append("||")
    elif "chatlog__markdown-pre--inline" in cls or "pre--inline" in cls:
        out.append(f"`{string_of(el)}`")
    elif "chatlog__markdown-pre--multiline" in cls or "pre--multiline" in cls:
        lang = next((c[9:] for c in cls if c.startswith("language-")), "")
        out.append(f"```{lang}\n{string_of(el)}\n```")
    elif "chatlog__markdown-quote" in cls or "quote" in cls:
        sub: list[str] = []
        _walk(el, sub, depth)
        lines = "".join(sub).split("\n")
        end = "\n" if len(lines) > 1 and lines[-1] == "" else ""  # the quote took its line break
        out.append("\n".join("> " + line for line in (lines[:-1] if end else lines)) + end)
    elif tag in ("h1", "h2", "h3"):
        sub = []
        _walk(el, sub, depth)
        out.append("#" * int(tag[1]) + " " + "".join(sub) + _block_end(el))
    elif tag in ("ul", "ol"):
        items = []
        for li in el.iter():
            if li.tag == "li":
                sub = []
                _walk(li, sub, depth)
                items.append("".join(sub).rstrip("\n").replace("\n", "\n "))
        out.append("\n".join("- " + item for item in items) + _block_end(el))
    elif tag == "a":
        sub = []
        _walk(el, sub, depth)
        text, href = "".join(sub), el.attributes.get("href") or ""
        masked = href and text != href and not text.startswith(("http://", "https://"))
        out.append(f"[{text}]({href})" if masked else text)
    elif ("chatlog__markdown-mention" in cls or "mention" in cls) and string_of(el).startswith("🔊"):
        out.append(f"#{string_of(el)[1:]} [voice]")  # how JSON/CSV/TXT write voice channels
    else:
        _walk(el, out, depth)


def _is_spoiler(el: LexborNode, cls: list[str]) -> bool:
    # ≥2.34 chatlog__markdown-spoiler; 2.30-2.33 spoiler-text; 2.20-2.29 span.spoiler wrapping
    # span.spoiler-text; ≤2.16 a bare span.spoiler.
    if "chatlog__markdown-spoiler" in cls or "spoiler-text" in cls:
        return True
    return "spoiler" in cls and child_with(el, "spoiler-text") is None


def _block_end(el: LexborNode) -> str:
    # Headings and lists swallow the line break after them; restore it unless nothing follows.
    return "\n" if el.next is not None else ""


def _emoji(el: LexborNode) -> str:
    attrs = el.attributes
    alt = attrs.get("alt") or attrs.get("title") or ""
    # alt is the character for unicode emoji and the bare name for custom ones; JSON/CSV/TXT
    # write custom emoji as :name:. Custom emoji names are ASCII word characters.
    if _CUSTOM_EMOJI.fullmatch(alt) or "/emojis/" in (attrs.get("src") or ""):
        return f":{alt}:"
    return alt
