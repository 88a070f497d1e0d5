"""Text that is safe to show on a terminal or as a label: control characters written as escapes.

A file name inside a zip, a channel name or a chat message can hold ESC sequences (retitle or clear the
terminal, move the cursor), a carriage return or a line break (overwrite a line, fake an ``ERROR:`` line),
or C1 controls that some terminals obey. `printable` writes every such character as ``\\x1b``, ``\\r``,
``\\u202e``..., so what is shown is what the name or text holds, and nothing else happens.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidirectional overrides that make text read backwards on screen.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control character except those in ``keep`` (e.g. ``"\\n\\t"`` for whole
    terminal output) written as a visible escape; unchanged when it holds none."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
