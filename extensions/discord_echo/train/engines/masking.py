"""A chat template that marks, with ``{% generation %}``, exactly the tokens our trainer trains.

TRL's ``assistant_only_loss=True`` (and transformers' ``return_assistant_tokens_mask``) trains the text a chat
template renders inside ``{% generation %}...{% endgeneration %}``. Few shipped templates have those markers, and
TRL patches only the model families it knows. ``marked_template(template)`` instead wraps *any* template: the
original becomes a macro, and the outer template renders it once for the whole row and cuts it at the spans of
our own rule (templates/chat.py ``trained_spans``, the webui's masking): for each assistant message ``i``, from
the end of ``messages[:i]`` + generation prompt to the end of ``messages[:i+1]``. Rendered text is unchanged;
only the markers are added. ``check_marked_masks`` proves it on real rows, token for token, against
templates/trainer_rows.py ``tokenize_row``.

Needs jinja2 and a transformers tokenizer (the ``tokenize`` extra) only inside ``check_marked_masks``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from discord_echo.templates.trainer_rows import tokenize_row

GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")

# The original template is pasted into the macro body: it sees its usual names (messages, add_generation_prompt,
# bos_token, raise_exception, ...) as the macro's parameters or the render context.
_WRAPPER = (
    "{%- macro __echo_render(messages, add_generation_prompt) -%}@@ORIGINAL@@{%- endmacro -%}"
    "{%- set __echo_full = __echo_render(messages, add_generation_prompt) -%}"
    "{%- set __echo = namespace(pos=0) -%}"
    "{%- for __echo_message in messages -%}"
    "{%- if __echo_message['role'] == 'assistant' -%}"
    "{%- set __echo_start = __echo_render(messages[:loop.index0], true) | length -%}"
    "{%- set __echo_end = [__echo_render(messages[:loop.index], false) | length, __echo_full | length] | min -%}"
    "{%- if __echo_start < __echo_end and __echo_start >= __echo.pos -%}"
    "{{ __echo_full[__echo.pos:__echo_start] }}"
    "{%- generation -%}{{ __echo_full[__echo_start:__echo_end] }}{%- endgeneration -%}"
    "{%- set __echo.pos = __echo_end -%}"
    "{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{ __echo_full[__echo.pos:] }}"
)


def has_generation_markers(template: str) -> bool:
    """True when ``template`` already marks what is trained (then it is used as it is)."""
    return GENERATION_MARKER.search(template) is not None


def marked_template(template: str) -> str:
    """``template`` with our trained spans inside ``{% generation %}`` markers, rendering the same text."""
    if has_generation_markers(template):
        return template
    return _WRAPPER.replace("@@ORIGINAL@@", template)


@dataclass
class MaskCheck:
    """How the marked template's assistant masks compare with our labels over the rows checked."""

    rows: int = 0
    text_differs: list[int] = field(default_factory=list)  # rows whose rendering changed (indices)
    mask_differs: list[int] = field(default_factory=list)  # rows whose trained tokens differ from ours

    @property
    def same(self) -> bool:
        return self.rows > 0 and not self.text_differs and not self.mask_differs


def marked_masks(tokenizer: Any, messages: Sequence[dict], marked: str) -> tuple[list[int], list[int]]:
    """``(input_ids, assistant_masks)`` as TRL's SFTTrainer computes them with ``assistant_only_loss=True``."""
    out = tokenizer.apply_chat_template(
        list(messages), chat_template=marked, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def check_marked_masks(tokenizer: Any, rows: Sequence[Sequence[dict]], template: str, limit: int = 200) -> MaskCheck:
    """Render up to ``limit`` rows with ``template`` and its marked form; compare texts and trained tokens."""
    marked = marked_template(template)
    check = MaskCheck()
    for index, messages in enumerate(rows[:limit]):
        check.rows += 1
        plain = tokenizer.apply_chat_template(list(messages), chat_template=template, tokenize=False)
        if tokenizer.apply_chat_template(list(messages), chat_template=marked, tokenize=False) != plain:
            check.text_differs.append(index)
            continue
        ours = tokenize_row(tokenizer, messages, template)
        ids, masks = marked_masks(tokenizer, messages, marked)
        theirs = [token if bit else -100 for token, bit in zip(ids, masks, strict=True)]
        if ids != ours["input_ids"] or theirs != ours["labels"]:
            check.mask_differs.append(index)
    return check
