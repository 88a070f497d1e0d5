"""Queries on lxml elements of a DCE HTML export, by class token.

Takes `lxml.etree` elements of one parsed batch; gives class lists, the first child or
descendant carrying a class, and visible text. Classes are matched as whitespace-separated
tokens, so quoted, minified (≥2.35, unquoted) and multi-class attributes read alike
(docs/formats.md, HTML 2.34 and later, HTML 2.33 and earlier).
"""

from __future__ import annotations

from lxml import etree

CUT_ATTRIBUTE = "data-echo-cut"  # set on markup that only the end of the file closed
string_of = etree.XPath("string()", smart_strings=False)  # smart strings would pin the tree


def classes_of(el: etree._Element) -> list[str]:
    """The class tokens of ``el`` ([] for comments and elements without a class)."""
    cls = el.get("class") if isinstance(el.tag, str) else None
    return cls.split() if cls else []


def has_class(el: etree._Element, names: tuple[str, ...]) -> bool:
    """Whether ``el`` carries one of the classes ``names``."""
    cls = el.get("class")  # None for comments too
    if cls:
        for name in names:  # the substring test rejects most elements before the token split
            if name in cls and name in cls.split():
                return True
    return False


def child_with(el: etree._Element | None, *names: str) -> etree._Element | None:
    """The first direct child carrying one of the classes ``names``."""
    if el is not None:
        for child in el:
            if has_class(child, names):
                return child
    return None


def child_or_self(el: etree._Element, name: str) -> etree._Element:
    """The first direct child carrying the class ``name``, else ``el`` itself."""
    child = child_with(el, name)  # (no `or`: an element without children is falsy)
    return el if child is None else child


def find_with(el: etree._Element | None, *names: str) -> etree._Element | None:
    """The first descendant (or ``el`` itself) carrying one of the classes ``names``."""
    if el is not None:
        for node in el.iter(etree.Element):
            if has_class(node, names):
                return node
    return None


def plain_text(el: etree._Element | None) -> str:
    """Visible text with runs of whitespace collapsed (names, phrases, preamble entries)."""
    return " ".join(string_of(el).split()) if el is not None else ""
