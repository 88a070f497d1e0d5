"""How a chat template lays out the rows the dataset builder makes, learnt once from a few renders.

While packing, the builder asks for the token count of many candidate rows, each an optional system line
followed by (user, assistant) pairs. Rendering every candidate through Jinja costs more than counting it
(tens of microseconds a render, several candidates per sample). Most chat templates put each message's text
between fixed strings that depend only on where the message sits: before the first content, between the
system line and the first user turn, inside the first, a middle or the last pair, after the last reply.
`RowLayout.learn` renders rows of one to four pairs whose contents are markers, reads those strings off, and
keeps the layout only if it rebuilds every probe render exactly; `RowLayout.text` then joins strings instead of
rendering. A template that lays rows out any other way (the system line moved into a later turn, the markers
out of order, an error on some shape) gets no layout and is rendered as before.

A layout is a shortcut for counting, never the last word: a template could still treat some real content
differently from the markers (trim it, say). The builder verifies every emitted sample with the trainer's own
``apply_chat_template`` (dataset/packing.py) and counts whole rows if a composed count is ever off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import product, repeat
from typing import Any

RenderFn = Callable[[list[dict[str, Any]], bool], str]

PROBE_PAIRS = 4  # first, two middle and last pair: every place a pair can take in a row
ROLES = ("system", "user", "assistant")
# What templates do to a message's text before placing it: webui instruction templates right-strip system and
# user text, Llama 3's template trims it. Learnt per role from probes whose contents are padded with spaces.
CONTENT_EDITS: dict[str, Callable[[str], str]] = {
    "as is": lambda text: text,
    "strip": str.strip,
    "rstrip": str.rstrip,
    "lstrip": str.lstrip,
}
_PADDING = " \n "


def _marker(number: int, padded: bool = False) -> str:
    # Private-use characters: no template writes them itself, and no filter changes them.
    marker = f"\ue000{number}\ue001"
    return f"{_PADDING}{marker}{_PADDING}" if padded else marker


@dataclass(frozen=True)
class RowLayout:
    """The fixed strings around the contents of ``[system] + (user, assistant)+`` rows (see the module doc)."""

    system: bool  # whether the rows start with a system message
    head: str  # before the first content
    after_system: str  # between the system content and the first user content ('' without a system line)
    first_pair: tuple[str, str]  # (between user and assistant, after the assistant) of the first pair
    middle_pair: tuple[str, str]
    last_user_to_assistant: str
    tail: str  # after the last assistant content
    edits: tuple[str, str, str] = ("as is", "as is", "as is")  # CONTENT_EDITS names for system, user, assistant
    # Per row length: the frames before each content and the tail, and the roles (made once per length).
    _shapes: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def learn(cls, render: RenderFn, system: bool, literals: Iterable[str] = ()) -> RowLayout | None:
        """The layout of ``render``'s rows with or without a system line, or None if the template has none.

        ``literals``: the template's string constants. A template that treats some contents differently
        (Qwen 3 splits an assistant turn at ``</think>``, skips ``<tool_response>`` turns, strips a leading
        newline) tests them against its own constants, so each is tried inside, before and after a content in
        every place of a probe row, with some whitespace too: one that the layout does not rebuild means no
        layout. (A count composed from a wrong layout that comes out too high is never emitted, so the
        builder's checks alone would not catch it.)
        """
        rows = [_probe_row(pairs, system) for pairs in range(1, PROBE_PAIRS + 1)]
        padded_rows = [_probe_row(pairs, system, padded=True) for pairs in range(1, PROBE_PAIRS + 1)]
        try:
            probes = [render(row, False) for row in rows]
            padded_probes = [render(row, False) for row in padded_rows]
        except Exception:  # noqa: BLE001 - any template error means "render these rows as before"
            return None
        frames = _frames(probes[-1], range(0 if system else 1, 2 * PROBE_PAIRS + 1))
        if frames is None:
            return None
        head, rest = frames[0], frames[1:]
        after_system = ""
        if system:
            after_system, rest = rest[0], rest[1:]
        pairs = [(rest[2 * i], rest[2 * i + 1]) for i in range(PROBE_PAIRS)]
        if pairs[1] != pairs[2]:
            return None  # the middle pairs differ from one another: laid out by position, not by a fixed rule
        layout = cls(system, head, after_system, pairs[0], pairs[1], pairs[-1][0], pairs[-1][1])
        if [layout.text(row) for row in rows] != probes:
            return None
        for edits in product(CONTENT_EDITS, repeat=len(ROLES)):
            edited = replace(layout, edits=edits)
            if [edited.text(row) for row in padded_rows] == padded_probes:
                break
        else:
            return None
        try:
            for row in _content_probes(system, literals):
                if edited.text(row) != render(row, False):
                    return None
        except Exception:  # noqa: BLE001 - a template that refuses some content: render every row
            return None
        return edited

    def text(self, messages: Sequence[dict[str, Any]]) -> str | None:
        """The rendered row, or None when ``messages`` is not ``[system] + (user, assistant)+`` of text."""
        contents = self._contents(messages)
        if contents is None:
            return None
        frames = self._shape(len(contents))[0]
        parts = frames + contents  # then interleaved: frame, content, frame, ..., content, tail
        parts[0::2], parts[1::2] = frames, contents
        return "".join(parts)

    def brackets(self, messages: Sequence[dict[str, Any]]) -> list[str] | None:
        """``text(messages)`` cut at the start of each string after the head: each content with the string
        before it, then the tail. Where every such string starts with an added token the tokenizer cuts at
        (`frames_after_head`), the row's tokens are the sum of the brackets' tokens."""
        contents = self._contents(messages)
        if contents is None:
            return None
        frames = self._shape(len(contents))[0]
        brackets = list(map(str.__add__, frames, contents))
        brackets.append(frames[-1])
        return brackets

    def frames_after_head(self) -> list[str]:
        """Every fixed string a row may hold after its head."""
        frames = [*self.first_pair, *self.middle_pair, self.last_user_to_assistant, self.tail]
        return [self.after_system, *frames] if self.system else frames

    def _contents(self, messages: Sequence[dict[str, Any]]) -> list[str] | None:
        """The messages' contents as the template places them (edited), or None for a row of another shape."""
        count = len(messages)
        start = 1 if self.system else 0
        if count < start + 2 or (count - start) % 2:
            return None
        try:
            roles = [message["role"] for message in messages]
            contents = [message["content"] for message in messages]
        except (KeyError, TypeError):
            return None
        if roles != self._shape(count)[1] or not all(map(isinstance, contents, repeat(str))):
            return None
        if self.edits != _AS_IS:
            edit_system, edit_user, edit_assistant = (CONTENT_EDITS[name] for name in self.edits)
            if self.system:
                contents[0] = edit_system(contents[0])
            contents[start::2] = map(edit_user, contents[start::2])
            contents[start + 1 :: 2] = map(edit_assistant, contents[start + 1 :: 2])
        return contents

    def _shape(self, count: int) -> tuple[list[str], list[str]]:
        """For rows of ``count`` messages: the strings before each content then the tail, and the roles."""
        shape = self._shapes.get(count)
        if shape is None:
            frames = [self.head, self.after_system] if self.system else [self.head]
            pairs = (count - self.system) // 2
            for pair in range(pairs):
                if pair == pairs - 1:
                    between, after = self.last_user_to_assistant, self.tail
                else:
                    between, after = self.first_pair if pair == 0 else self.middle_pair
                frames += (between, after)
            roles = (["system"] if self.system else []) + ["user", "assistant"] * pairs
            shape = self._shapes[count] = (frames, roles)
        return shape


_AS_IS = ("as is", "as is", "as is")


def _probe_row(pairs: int, system: bool, padded: bool = False) -> list[dict[str, Any]]:
    row: list[dict[str, Any]] = [{"role": "system", "content": _marker(0, padded)}] if system else []
    for pair in range(pairs):
        row.append({"role": "user", "content": _marker(2 * pair + 1, padded)})
        row.append({"role": "assistant", "content": _marker(2 * pair + 2, padded)})
    return row


# Besides the template's constants, contents are tried with these around them (templates strip newlines).
_PROBE_TEXTS = (" ", "\n", "\t", "\n\n", "  ")


def _content_probes(system: bool, literals: Iterable[str]) -> Iterator[list[dict[str, Any]]]:
    """Probe rows of `PROBE_PAIRS` pairs in which one content holds a literal, inside, before or after a word."""
    texts = dict.fromkeys([*(text for text in literals if text), *_PROBE_TEXTS])
    base = _probe_row(PROBE_PAIRS, system)
    for text in texts:
        for content in (f"a{text}b", f"{text}b", f"a{text}"):
            for index in range(len(base)):
                row = [dict(message) for message in base]
                row[index]["content"] = content
                yield row


def _frames(text: str, numbers: range) -> list[str] | None:
    """The strings around the numbered markers of a probe render, if each appears once and in order."""
    frames: list[str] = []
    rest = text
    for number in numbers:
        marker = _marker(number)
        if text.count(marker) != 1:
            return None
        before, found, rest = rest.partition(marker)
        if not found:
            return None
        frames.append(before)
    frames.append(rest)
    return frames
