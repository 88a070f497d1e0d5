"""Queries on the lexbor nodes of a DCE HTML export, by class token.

Takes `selectolax.lexbor.LexborNode` elements of one parsed batch; gives class lists, the
first child or descendant carrying a class, descendants in document order and visible text
(attributes are read with ``node.attributes``, a dict; a valueless attribute is None there).
Classes are matched as whitespace-separated tokens, so quoted, minified (≥2.35, unquoted) and
multi-class attributes read alike (docs/formats.md, HTML 2.34 and later, HTML 2.33 and earlier).

Descendants are walked with a loop over first child, next sibling and parent, never by
recursion: lexbor keeps markup nested to any depth, and a message of a few thousand nested tags
must not exhaust Python's stack. Text is gathered by lexbor itself (also without recursion).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from selectolax.lexbor import LexborNode


def classes_of(el: LexborNode) -> list[str]:
    """The class tokens of ``el`` ([] for text, comments and elements without a class)."""
    cls = el.attributes.get("class")  # {} for text and comment nodes
    return cls.split() if cls else []


def has_class(el: LexborNode, names: tuple[str, ...]) -> bool:
    """Whether ``el`` carries one of the classes ``names``."""
    cls = el.attributes.get("class")
    if cls:
        for name in names:  # the substring test rejects most elements before the token split
            if name in cls and name in cls.split():
                return True
    return False


def child_with(el: LexborNode | None, *names: str) -> LexborNode | None:
    """The first direct child element carrying one of the classes ``names``."""
    if el is not None:
        for child in el.iter():
            if has_class(child, names):
                return child
    return None


def child_or_self(el: LexborNode, name: str) -> LexborNode:
    """The first direct child carrying the class ``name``, else ``el`` itself."""
    child = child_with(el, name)
    return el if child is None else child


def descendants(el: LexborNode) -> Iterator[LexborNode]:
    """``el`` and every element below it, in document order."""
    yield el
    stop = el.mem_id
    node = el.first_child
    while node is not None:
        if node.is_element_node:
            yield node
            child = node.first_child
            if child is not None:
                node = child
                continue
        while node.next is None:
            node = node.parent
            if node is None or node.mem_id == stop:
                return
        node = node.next


def find_with(el: LexborNode | None, *names: str) -> LexborNode | None:
    """The first descendant (or ``el`` itself) carrying one of the classes ``names``."""
    if el is None or has_class(el, names):
        return el
    return find_below(el, *names)


def find_below(el: LexborNode | None, *names: str) -> LexborNode | None:
    """The first descendant of ``el`` (not ``el`` itself) carrying one of the classes ``names``."""
    if el is None:
        return None
    return next((node for node in islice(descendants(el), 1, None) if has_class(node, names)), None)


def string_of(el: LexborNode) -> str:
    """All text below ``el``, as it stands (the XPath string value)."""
    return el.text()


def plain_text(el: LexborNode | None) -> str:
    """Visible text with runs of whitespace collapsed (names, phrases, preamble entries)."""
    return " ".join(el.text().split()) if el is not None else ""
