"""Numbers that answer "does it sound like me *and* answer what my friend said?".

Perplexity and style alone cannot tell an echo that writes in my voice about anything from one that answers
the message it was given: both lower my held-out perplexity and both copy my lowercase and emoji. The
failure people hit by hand ("replies unrelated to the prompt", docs/why-echoes-fail.md) needs its own number.

* **topicality**: for each held-out prompt, ``log p_base(reply | its prompt) - log p_base(reply | another
  prompt)``, scored by the *base* model (a fixed judge, so base and tuned replies are measured alike) for my
  real reply, the base reply and the tuned reply. Higher means the reply is more predictable from the message
  it answers than from an unrelated one. Reported per token and per reply. "Another prompt" is the held-out
  prompt half the set away: a fixed pairing that never pairs a prompt with itself, and with four prompts or
  more never with its neighbour (neighbours often share a conversation, hence a topic).
* **speaker specificity**: how much the adapter lowered the perplexity of my replies minus how much it lowered
  that of the friend's lines scored as the assistant (nats per token); > 0 means it learned *me*, not the chat.
* **style distance**: one number for how far a set of replies is from my real replies' style (length, case,
  emoji, punctuation, variety); the tuned replies should be much closer than the base ones.

Only the reply's own tokens are scored for topicality (not earlier assistant turns of the prompt), unlike the
trainer-style perplexity of ``comparer.score``. The model work is ``Comparer.row_scores``'s (torch inside it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from discord_echo.evaluate.comparer import Comparer, Score
from discord_echo.evaluate.metrics import ChatMessage, PerplexityPair
from discord_echo.evaluate.style import StyleStats

# --- topicality ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topicality:
    """How much better one set of replies is predicted by its own prompt than by another (base model as judge)."""

    per_token: float  # mean over replies of (own - other log-likelihood) / reply tokens, nats
    per_reply: float  # mean over replies of (own - other log-likelihood), nats
    replies: int


def reply_scores(
    comparer: Comparer, items: Sequence[tuple[Sequence[ChatMessage], str]], adapter: bool, batch_size: int = 8
) -> list[Score]:
    """Summed NLL of each reply's own tokens (and its end-of-turn marker) after its prompt.

    Each item is ``(prompt messages ending with the friend's turn, reply text)``. The reply is rendered as the
    training template renders an assistant turn; the prompt part is exactly ``comparer.prompt_ids(prompt)``,
    so only what follows it is scored. Empty replies score ``Score(0, 0)``.
    """
    rows: list[tuple[list[int], int]] = []
    for prompt, reply in items:
        prefix = comparer.prompt_ids(prompt)
        full = comparer.tokenizer.apply_chat_template(
            [*prompt, {"role": "assistant", "content": reply}],
            chat_template=comparer.chat_template,
            tokenize=True,
            return_dict=False,
        )
        full = list(full["input_ids"] if isinstance(full, dict) else full)
        start = len(prefix) if full[: len(prefix)] == prefix else _common_prefix(full, prefix)
        rows.append((full, start if reply else len(full)))
    labelled = [(ids, [-100] * start + ids[start:]) for ids, start in rows]
    return comparer.row_scores(labelled, adapter, batch_size)


def other_prompt_index(index: int, count: int) -> int:
    """The prompt a reply is also scored against: half the set away (never itself while count >= 2)."""
    return (index + max(1, count // 2)) % count


def topicality(
    comparer: Comparer, prompts: Sequence[Sequence[ChatMessage]], replies: Sequence[str], batch_size: int = 8
) -> Topicality | None:
    """``Topicality`` of ``replies[i]`` as answers to ``prompts[i]``; None with fewer than two prompts.

    Scored with the adapter off: the base model is the judge for real, base and tuned replies alike.
    """
    if len(prompts) != len(replies):
        raise ValueError(f"{len(prompts)} prompts but {len(replies)} replies")
    count = len(prompts)
    if count < 2:
        return None
    own = reply_scores(comparer, list(zip(prompts, replies, strict=True)), False, batch_size)
    other_items = [(prompts[other_prompt_index(i, count)], reply) for i, reply in enumerate(replies)]
    other = reply_scores(comparer, other_items, False, batch_size)
    gains = [(o.nll - s.nll, s.tokens) for s, o in zip(own, other, strict=True) if s.tokens]
    if not gains:
        return None
    return Topicality(
        per_token=statistics.fmean(g / n for g, n in gains),
        per_reply=statistics.fmean(g for g, _ in gains),
        replies=len(gains),
    )


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the shared start of two token lists (templates that re-tokenize the join differently)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# --- speaker specificity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakerSpecificity:
    """Perplexity change on my replies vs on the friend's lines, both scored as the assistant."""

    mine_change: float  # tuned / base - 1 on my held-out replies (< 0: better)
    theirs_change: float  # the same on the friend's lines (>= 0: the LoRA did not learn them)
    nats_per_token: float  # my gain minus theirs, ln units; > 0: the adapter learned me more than the chat


def speaker_specificity(mine: PerplexityPair, theirs: PerplexityPair | None) -> SpeakerSpecificity | None:
    """None when the friend's lines were not scored (no turn of theirs in the held-out set)."""
    if theirs is None or not all(map(_positive, (mine.base, mine.tuned, theirs.base, theirs.tuned))):
        return None
    return SpeakerSpecificity(
        mine_change=mine.tuned / mine.base - 1,
        theirs_change=theirs.tuned / theirs.base - 1,
        nats_per_token=mine.gain - theirs.gain,
    )


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


# --- style distance --------------------------------------------------------------------------------------

# Each feature mapped to [0, 1) so that none dominates: shares as they are, counts per reply through
# x / (1 + x), length through the same squash of words / 10 (a 10-word reply sits at 0.5).
_SHARES = ("lowercase_share", "distinct_1", "distinct_2")
_COUNTS = ("emoji_per_message", "periods_per_message", "exclamations_per_message", "questions_per_message",
           "commas_per_message")  # fmt: skip


def style_features(stats: StyleStats) -> dict[str, float]:
    """The squashed style features ``style_distance`` compares."""
    features = {name: float(getattr(stats, name)) for name in _SHARES}
    features.update({name: _squash(getattr(stats, name)) for name in _COUNTS})
    features["length"] = _squash(stats.mean_words / 10)
    return features


def style_distance(stats: StyleStats, reference: StyleStats) -> float:
    """Mean absolute difference of ``style_features``: 0 = the same style as ``reference``; at most 1."""
    if not stats.messages or not reference.messages:
        return float("nan")
    a, b = style_features(stats), style_features(reference)
    return statistics.fmean(abs(a[k] - b[k]) for k in a)


def style_gaps(style: Mapping[str, StyleStats]) -> dict[str, float]:
    """Distance of the base and tuned replies to the real ones (``{"base": .., "tuned": ..}``)."""
    real = style.get("real")
    if real is None:
        return {}
    return {kind: style_distance(stats, real) for kind, stats in style.items() if kind != "real"}


def _squash(value: Any) -> float:
    value = max(float(value), 0.0)
    return value / (1 + value)


# --- correct answers (quiz prompts with known answers) ----------------------------------------------------


def answers_correctly(reply: str, accepted: Sequence[str]) -> bool:
    """Whether ``reply`` contains one of the ``accepted`` answers (case-insensitive, as whole words)."""
    import re

    text = reply.casefold()
    return any(re.search(rf"(?<!\w){re.escape(a.casefold())}(?!\w)", text) for a in accepted)
