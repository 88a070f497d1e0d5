"""Training samples and the settings that shape them: what dataset/packing.py makes of conversations.

A `Sample` is one OpenAI ``messages`` row in which **me** is ``assistant`` and everyone else is ``user``, so
the webui trainer, which masks every non-assistant token, trains only on my words (docs/why-echoes-fail.md,
Training on the friend's lines: a cause of "unrelated" replies). `DatasetConfig` holds how rows are shaped,
`SampleReport` what shaping did, `persona_prompt` the system line, and `TokenCounter` what the packing needs of
a chat renderer (templates/chat.py). The rules a conversation is shaped by are in dataset/packing.py.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import check_choices, setting

ChatMessage = dict[str, str]


class TokenCounter(Protocol):
    """What the builder needs of a renderer (templates/chat.py ``ChatRenderer`` provides it).

    ``count_tokens`` is the trainer's count of one row, ``count_tokens_batch`` the same for many rows at once
    (``render_rows`` then ``count_rendered``: the rendering and the tokenizing halves). When ``composes`` is
    True, ``count_tokens_composed`` gives the same number from cached counts of the row's pieces (``prime``
    tokenizes many pieces in one batch, or in halves: ``uncounted_pieces``, then ``remember`` their
    ``count_rendered``); the builder verifies every emitted sample against the trainer's count
    and counts whole rows if a composed count is ever off. ``counts_in_background``: ``count_rendered`` may
    run on another thread while this one goes on using the renderer.
    """

    exact: bool
    description: str

    @property
    def composes(self) -> bool: ...

    @property
    def counts_in_background(self) -> bool: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int: ...

    def count_tokens_batch(self, rows: Sequence[Sequence[ChatMessage]]) -> list[int]: ...

    def render_rows(self, rows: Sequence[Sequence[ChatMessage]]) -> list[str]: ...

    def count_rendered(self, texts: Sequence[str]) -> list[int]: ...

    def count_tokens_composed(self, messages: Sequence[ChatMessage]) -> int: ...

    def prime(self, rows: Sequence[Sequence[ChatMessage]]) -> None: ...

    def uncounted_pieces(self, rows: Sequence[Sequence[ChatMessage]]) -> list[str]: ...

    def remember(self, pieces: Sequence[str], counts: Sequence[int]) -> None: ...


NamePrefix = Literal["auto", "always", "never"]
# The longest sample, in tokens; TrainConfig' cutoff_len defaults to the same value, so no sample is dropped.
DEFAULT_CUTOFF_LEN = 512


@dataclass(frozen=True)
class DatasetConfig:
    """How samples are shaped (stage 3)."""

    context_turns: int = setting(
        6,
        "Context turns",
        "At most this many earlier turns come before each of my replies (peers use 3-8).",
    )
    cutoff_len: int = setting(
        DEFAULT_CUTOFF_LEN,
        "Cutoff length (tokens)",
        "Every sample is made to fit this; the webui trainer drops longer ones. The default fits 8 GB.",
    )
    persona: bool = setting(
        True,
        "Persona system prompt",
        "Start each sample with a system line naming you and who you talk to; "
        "the character file for chatting uses the same line.",
    )
    persona_text: str = setting(
        "",
        "Persona text",
        "Your own system prompt; {me} and {others} are filled in. Empty: a default naming both.",
    )
    name_prefix: NamePrefix = setting(
        "auto",
        "Speaker names in user turns",
        "'auto' writes 'Name: ' before the others' lines in group chats only.",
    )
    opener_prompt: str = setting(
        "(new conversation)",
        "Stand-in for conversations you start",
        "User text placed before a reply that opened a conversation.",
    )
    eval_fraction: float = setting(
        0.1,
        "Held-out share",
        "The latest conversations holding this share of your turns are kept out of training "
        "and written as the evaluation dataset.",
    )

    def __post_init__(self) -> None:
        if not 1 <= self.context_turns <= 64:
            raise ConfigError("context_turns", self.context_turns, "must be between 1 and 64")
        if not 32 <= self.cutoff_len <= 32768:
            raise ConfigError("cutoff_len", self.cutoff_len, "must be between 32 and 32768")
        if not 0 <= self.eval_fraction < 1:
            raise ConfigError("eval_fraction", self.eval_fraction, "must be at least 0 and below 1")
        check_choices(self)
        if not self.opener_prompt.strip():
            raise ConfigError("opener_prompt", self.opener_prompt, "must not be empty")
        try:
            parsed = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(self.persona_text)]
            fields = {name for name, _, _ in parsed if name is not None}
        except ValueError as exc:
            raise ConfigError(
                "persona_text", self.persona_text, f"has unbalanced braces ({exc}); write {{{{ for a brace"
            ) from exc
        if fields - {"me", "others"}:
            raise ConfigError("persona_text", self.persona_text, "may only use {me} and {others} as placeholders")
        if any(spec or conv for name, spec, conv in parsed if name is not None):
            # "{me:>50000000}" pads to 50 million characters per preview: a format spec is never needed here.
            raise ConfigError(
                "persona_text", self.persona_text, "placeholders take no format (write {me} or {others}, no : or !)"
            )


DEFAULT_PERSONA = "You are {me}, chatting on Discord with {others}. Reply the way {me} writes."


def persona_prompt(config: DatasetConfig, me: str, others: Sequence[str]) -> str:
    """The system line used in training (and, later, in the chat character file)."""
    others_text = ", ".join(others[:3]) + (" and others" if len(others) > 3 else "") if others else "friends"
    return (config.persona_text or DEFAULT_PERSONA).format(me=me, others=others_text)


@dataclass
class Sample:
    """One training row plus what the report and tests need to know about it."""

    messages: list[ChatMessage]
    tokens: int
    conversation: int  # index into the conversation list
    my_message_ids: list[str | None]

    def to_row(self) -> dict:
        return {"messages": self.messages}


@dataclass
class SampleReport:
    """Counts of what happened while shaping samples."""

    conversations: int = 0
    my_turns: int = 0
    samples: int = 0
    trimmed_context: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> my turns not trained
    token_lengths: list[int] = field(default_factory=list)
    exact_tokens: bool = False
    tokenizer: str = ""

    def histogram(self, bins: int = 8) -> list[tuple[int, int, int]]:
        """``(low, high, count)`` buckets of sample lengths in tokens."""
        if not self.token_lengths:
            return []
        top = max(self.token_lengths)
        width = max(1, -(-top // bins))
        counts = Counter(min(n // width, bins - 1) for n in self.token_lengths)
        return [(i * width, (i + 1) * width - 1, counts.get(i, 0)) for i in range(bins)]

    def to_dict(self) -> dict:
        return {
            "conversations": self.conversations,
            "my_turns": self.my_turns,
            "samples": self.samples,
            "trimmed_context": self.trimmed_context,
            "dropped_my_turns": dict(self.dropped),
            "exact_tokens": self.exact_tokens,
            "tokenizer": self.tokenizer,
            "token_histogram": [{"low": lo, "high": hi, "count": n} for lo, hi, n in self.histogram()],
            "max_tokens": max(self.token_lengths, default=0),
        }
