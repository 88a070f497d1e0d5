"""What "it writes like me" means in numbers: held-out pairs, style statistics and warnings a user can act on.

Takes the held-out `Sample`s of a build (``BuildResult.held_out``, or the rows of ``<name>-eval.json``) and
texts (real or generated replies); gives:

* ``held_out_pairs(samples)``: one ``HeldOutPair`` per reply of mine: every message before it (persona system
  line, the friend's turns, my earlier replies in the sample) and what I really said. The Compare view
  generates from ``pair.prompt`` and shows ``pair.reply`` beside the base and tuned replies.
* ``their_samples(samples)``: the same conversations with the roles flipped, so the *friend's* turns are the
  scored assistant targets (speaker specificity: a LoRA that learned *me* must lower the perplexity of my
  replies more than of theirs; docs/why-echoes-fail.md, Training on the friend's lines).
* warnings: held-out loss rising again (overfitting), tuned not better than base, speaker specificity
  missing, a template that renders differently between dataset build, training and comparison (docs/why-echoes-fail.md,
  Template mismatch: the first cause of "unrelated" replies).

Pure Python (the template check renders through templates/chat.py, which needs no torch). Style figures are
evaluate/style.py, the Markdown report evaluate/report.py, the model side evaluate/comparer.py.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discord_echo.dataset.samples import DatasetConfig

ChatMessage = dict[str, str]
OPENER_PROMPT = DatasetConfig().opener_prompt  # the builder's stand-in user turn for conversations I open

# --- held-out pairs and the flipped "their" samples ------------------------------------------------------


@dataclass(frozen=True)
class HeldOutPair:
    """One reply of mine and everything the model sees before it, as the training template renders it."""

    prompt: list[ChatMessage]  # system persona, then user/assistant turns; ends with the friend's (user) turn
    reply: str  # what I really wrote
    conversation: int = -1  # index into the build's conversation list (-1: unknown, e.g. typed by hand)

    @property
    def friend_text(self) -> str:
        """The friend's turn this reply answers (the last user message), for table columns."""
        return next((m["content"] for m in reversed(self.prompt) if m["role"] == "user"), "")


def messages_of(sample: Any) -> list[ChatMessage]:
    """The message list of a `Sample`, a ``{"messages": [...]}`` row or a plain list."""
    if isinstance(sample, Mapping):
        return list(sample["messages"])
    return list(getattr(sample, "messages", sample))


def held_out_pairs(samples: Iterable[Any]) -> list[HeldOutPair]:
    """One pair per assistant turn, prompt = ``messages[:i]`` (the trainer's prefix rule, templates/chat.py)."""
    pairs = []
    for sample in samples:
        messages = messages_of(sample)
        number = getattr(sample, "conversation", -1)
        for index, message in enumerate(messages):
            if message["role"] == "assistant" and index > 0:
                pairs.append(HeldOutPair([dict(m) for m in messages[:index]], message["content"], number))
    return pairs


def typed_pair(persona: str | None, friend_text: str) -> HeldOutPair:
    """A prompt typed by hand as the friend: persona system line (if any) + one user turn, no real reply."""
    system = [{"role": "system", "content": persona}] if persona else []
    return HeldOutPair([*system, {"role": "user", "content": friend_text}], "", -1)


def flip_roles(messages: Sequence[ChatMessage], opener_prompt: str = OPENER_PROMPT) -> list[ChatMessage] | None:
    """The same conversation with the friend as ``assistant`` and me as ``user``; None if nothing is left.

    Exactly: system messages stay first, unchanged (the persona we chat with, so the only difference from
    my own measurement is whose words are scored). Every user turn becomes assistant and vice versa. Chat
    templates and the trainer's masking need a user turn first, so when the friend spoke first the
    builder's stand-in ``opener_prompt`` is put before it as the user turn, as the builder does for
    conversations I open; when the first user turn *is* that stand-in (I opened), it is dropped instead.
    My last reply, now a trailing user turn with nothing to score after it, is dropped. Group-chat user
    turns keep their ``Name: `` prefixes, so "their" replies are everyone else's, together.
    """
    system = [dict(m) for m in messages if m["role"] == "system"]
    turns = [
        {"role": "assistant" if m["role"] == "user" else "user", "content": m["content"]}
        for m in messages
        if m["role"] != "system"
    ]
    if turns and turns[0]["role"] == "assistant":
        if turns[0]["content"] == opener_prompt:
            turns = turns[1:]
        else:
            turns.insert(0, {"role": "user", "content": opener_prompt})
    while turns and turns[-1]["role"] == "user":
        turns.pop()
    if not any(t["role"] == "assistant" for t in turns):
        return None
    return system + turns


def their_samples(samples: Iterable[Any], opener_prompt: str = OPENER_PROMPT) -> list[list[ChatMessage]]:
    """``flip_roles`` of every sample, skipping those with no turn of theirs to score."""
    flipped = (flip_roles(messages_of(s), opener_prompt) for s in samples)
    return [f for f in flipped if f is not None]


def pick(pairs: Sequence[HeldOutPair], n: int) -> list[HeldOutPair]:
    """``n`` pairs spread evenly over the held-out set (first and last included), in order; all if fewer."""
    if n <= 0:
        return []
    if n >= len(pairs):
        return list(pairs)
    if n == 1:
        return [pairs[0]]
    step = (len(pairs) - 1) / (n - 1)
    return [pairs[round(i * step)] for i in range(n)]


# --- perplexities and warnings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PerplexityPair:
    """Perplexity of one speaker's held-out replies (assistant tokens only) without and with the adapter."""

    base: float
    tuned: float
    tokens: int = 0  # scored tokens

    @property
    def gain(self) -> float:
        """ln(base / tuned): how many nats per token the adapter removed (> 0: tuned is better)."""
        return math.log(self.base) - math.log(self.tuned)

    @property
    def reduction(self) -> float:
        """Share of the base perplexity removed, 1 - tuned/base (same order as ``gain``)."""
        return 1 - self.tuned / self.base


@dataclass(frozen=True)
class EchoWarning:
    """Something the user should act on; ``message`` says what was seen and what to do."""

    kind: str  # "overfit", "no_gain", "not_specific", "template_mismatch"
    message: str


# Overfitting shows on the held-out set, not in the train loss: a personal chat can be fitted to a low train loss
# and still generalise, or memorised at a moderate one. Held-out loss that climbs back above its lowest point is
# the sign the LoRA started copying my past lines instead of learning how I answer. 5 % above the lowest value
# is past the step-to-step noise of the small eval sets a chat export yields.
OVERFIT_RISE = 0.05


def held_out_losses(adapter_dir: Path) -> list[float]:
    """The held-out (eval) losses logged while training, in order; [] if there are none.

    Reads both layouts of the adapter's ``training_log.json``: ours (``log_history``: the HF Trainer's list of
    logged dicts, train/standalone/host.py) holds every evaluation; the webui's (one flat dict of the last
    logged values, its ``train_log``) holds at most the last one.
    """
    data = _training_log(adapter_dir)
    history = data.get("log_history")
    if isinstance(history, list):
        return [float(e["eval_loss"]) for e in history if isinstance(e, dict) and _number(e.get("eval_loss"))]
    return [float(data["eval_loss"])] if _number(data.get("eval_loss")) else []


def final_train_loss(adapter_dir: Path) -> float | None:
    """Mean of the last logged train losses in the adapter's ``training_log.json``; None if there is none."""
    data = _training_log(adapter_dir)
    history = data.get("log_history")
    if isinstance(history, list):
        losses = [float(e["loss"]) for e in history if isinstance(e, dict) and _number(e.get("loss"))]
        return statistics.fmean(losses[-LAST_LOSSES:]) if losses else None
    return float(data["loss"]) if _number(data.get("loss")) else None


LAST_LOSSES = 5  # single-step losses of small batches jump around: average the last few


def _training_log(adapter_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(adapter_dir) / "training_log.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def overfit_warning(eval_losses: Sequence[float]) -> EchoWarning | None:
    """A warning when the last held-out loss is more than ``OVERFIT_RISE`` above the lowest one before it."""
    if len(eval_losses) < 2:
        return None
    lowest, last = min(eval_losses), eval_losses[-1]
    if last <= lowest * (1 + OVERFIT_RISE):
        return None
    return EchoWarning(
        "overfit",
        f"The held-out loss rose from its lowest {lowest:.2f} to {last:.2f} at the end of training: the LoRA "
        "started memorising your old messages instead of learning how you answer. Expect replies copied from "
        "the chat. Train again with fewer epochs or a lower learning rate, or use the checkpoint saved near "
        "the lowest held-out loss.",
    )


def perplexity_warnings(mine: PerplexityPair, theirs: PerplexityPair | None = None) -> list[EchoWarning]:
    """Tuned not better than base on my replies; or it improved the friend's replies at least as much."""
    found = []
    if mine.tuned >= mine.base:
        found.append(
            EchoWarning(
                "no_gain",
                f"On your held-out replies the tuned model is not better than the base model (perplexity "
                f"{mine.tuned:.2f} vs {mine.base:.2f}). Training did not learn your style: check the loss curve, "
                "train longer or with a higher learning rate, and make sure the chat template matches.",
            )
        )
    elif theirs is not None and (theirs.gain >= mine.gain or math.isclose(theirs.gain, mine.gain)):
        found.append(
            EchoWarning(
                "not_specific",
                f"The LoRA improved the other speakers' replies ({theirs.reduction:.0%} lower perplexity) as much as "
                f"yours ({mine.reduction:.0%}): it learned the chat, not you. Check that only your messages are "
                "assistant turns (the right person was picked as 'me').",
            )
        )
    return found


# A conversation with every role, rendered by each renderer to compare templates.
PROBE: tuple[ChatMessage, ...] = (
    {"role": "system", "content": "persona"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hey"},
    {"role": "user", "content": "ok?"},
    {"role": "assistant", "content": "ok"},
)


def template_warnings(renderings: Mapping[str, str | None], ignore: Sequence[str] = ()) -> list[EchoWarning]:
    """A warning for each stage whose rendering of ``PROBE`` differs from the first stage's.

    ``renderings`` maps stage names ("dataset build", "training", "comparison") to ``PROBE`` rendered by that
    stage's template (None: unknown, skipped). Strings in ``ignore`` (say the BOS token, which a build without
    a tokenizer renders empty) are removed before comparing.
    """
    known = [(stage, text) for stage, text in renderings.items() if text is not None]
    if len(known) < 2:
        return []

    def clean(text: str) -> str:
        for token in ignore:
            if token:
                text = text.replace(token, "")
        return text

    reference, expected = known[0][0], clean(known[0][1])
    found = []
    for stage, text in known[1:]:
        actual = clean(text)
        if actual != expected:
            at = next((i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), len(expected))
            at = min(at, len(expected), len(actual))
            found.append(
                EchoWarning(
                    "template_mismatch",
                    f"The chat template of the {stage} differs from the one of the {reference} (first difference "
                    f"at character {at}: {expected[at : at + 24]!r} vs {actual[at : at + 24]!r}). Replies will not "
                    f"match training: use the same model and template (or 'Chat Template') for every step.",
                )
            )
    return found


# The renderer description the build writes into its sidecar (pipeline.BuildResult.renderer).
_DESCRIPTION = re.compile(r"^(?:tokenizer (?P<tokenizer>.+), )?template (?P<template>.+?)(?:; estimate: .*)?$")


def build_template(sidecar: Path) -> tuple[str | None, str | None] | None:
    """``(tokenizer folder, template name)`` a dataset build rendered with, from its sidecar; None if unknown.

    Read from ``report.tokenizer``/``report.template``; sidecars written before those fields existed
    are parsed from ``report.renderer`` (``ChatRenderer.description``). ``(None, None)`` is the built-in
    ChatML without a tokenizer.
    """
    try:
        info = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    report = info.get("report", {}) if isinstance(info, dict) else {}
    if isinstance(report, dict) and ("tokenizer" in report or "template" in report):
        return report.get("tokenizer"), report.get("template")  # recorded as fields since 2026-11-25
    description = str(report.get("renderer", "")) if isinstance(report, dict) else ""
    match = _DESCRIPTION.match(description)
    if match is None:
        return None
    template = match["template"]
    return match["tokenizer"], (None if template.startswith("ChatML (built-in)") else template)


def build_rendering(sidecar: Path, templates_dir: Path | None = None) -> str | None:
    """``PROBE`` rendered the way the build behind ``sidecar`` rendered rows; None if that cannot be redone.

    Without the build's tokenizer folder (moved, or none used) the template is rendered without it.
    """
    from discord_echo.core.errors import EchoError
    from discord_echo.templates.chat import load_renderer

    found = build_template(sidecar)
    if found is None:
        return None
    tokenizer, template = found
    folder = Path(tokenizer) if tokenizer and Path(tokenizer).is_dir() else None
    if template == "Chat Template" and folder is None:
        return None
    try:
        return load_renderer(folder, template, templates_dir).render(list(PROBE))
    except EchoError:
        return None
