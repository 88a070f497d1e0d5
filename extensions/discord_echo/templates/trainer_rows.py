"""Read a chat dataset and tokenize it exactly as text-generation-webui's trainer does.

``read_chat_rows(path)`` takes a ``<name>.json`` written by ``write_build`` (dataset/pipeline.py; a JSON array of
``{"messages": [...]}`` rows; ShareGPT ``{"conversations": [{"from", "value"}]}`` rows are mapped the way the
webui maps them) and gives message lists. ``tokenize_rows(tokenizer, rows, cutoff_len, chat_template)`` gives
``input_ids``/``labels``/``attention_mask`` per row with the webui's semantics (modules/training.py
``tokenize_conversation`` at 1dcde41d; docs/webui-trainer.md, Masking and over-length rows):
* ``apply_chat_template`` on the whole row, no generation prompt, no extra special tokens;
* labels are -100 except each assistant turn, from the end of ``messages[:i]`` + generation prompt to the end
  of ``messages[:i+1]``: the rule templates/chat.py already implements for its preview, reused here;
* rows longer than ``cutoff_len`` are dropped, not truncated, and counted.

Needs only a transformers tokenizer (the ``tokenize`` extra), not torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.templates.chat import CHAT_TEMPLATE, checked_messages, read_instruction_template, trained_spans
from discord_echo.templates.instruction import template_errors

SHAREGPT_ROLES = {"human": "user", "gpt": "assistant"}  # the webui's normalize_messages mapping
Messages = list[dict[str, Any]]


def read_chat_rows(path: Path) -> list[Messages]:
    """The rows of a chat dataset file as message lists; ``ConfigError`` says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("dataset", str(path), "file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("dataset", str(path), f"is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise ConfigError("dataset", str(path), "must be a non-empty JSON array of chat rows")
    rows = []
    for index, row in enumerate(data):
        messages = _messages(row)
        if messages is None:
            keys = list(row) if isinstance(row, dict) else type(row).__name__
            raise ConfigError(
                "dataset", str(path), f'row {index} has no "messages" or "conversations" list (found {keys})'
            )
        rows.append(messages)
    return rows


def _messages(row: Any) -> Messages | None:
    if not isinstance(row, dict):
        return None
    if isinstance(row.get("messages"), list):
        return row["messages"]
    if isinstance(row.get("conversations"), list):
        return [
            {"role": SHAREGPT_ROLES.get(turn.get("from", ""), turn.get("from", "")), "content": turn.get("value")}
            for turn in row["conversations"]
            if isinstance(turn, dict)
        ]
    return None


@dataclass
class TokenizedRows:
    """Tokenized rows that fit the cutoff, and what was dropped."""

    rows: list[dict[str, list[int]]] = field(default_factory=list)
    total: int = 0
    dropped: int = 0  # longer than cutoff_len
    tokens: int = 0  # input tokens of the kept rows


def tokenize_row(tokenizer: Any, messages: Sequence[dict[str, Any]], chat_template: str) -> dict[str, list[int]]:
    """``input_ids``, ``labels`` (-100 outside assistant turns) and ``attention_mask`` of one row."""
    label = "of the training run"
    msgs = checked_messages(messages, label)

    def ids(part: list[dict[str, Any]], add_generation_prompt: bool) -> list[int]:
        with template_errors(label):
            out = tokenizer.apply_chat_template(
                part,
                chat_template=chat_template,
                add_generation_prompt=add_generation_prompt,
                tokenize=True,
                return_dict=False,
            )
        return list(out["input_ids"] if isinstance(out, dict) else out)

    full = ids(msgs, False)
    labels = [-100] * len(full)
    for start, end in trained_spans(msgs, lambda part, gen: len(ids(part, gen)), len(full)):
        labels[start:end] = full[start:end]
    return {"input_ids": full, "labels": labels, "attention_mask": [1] * len(full)}


def tokenize_rows(tokenizer: Any, rows: Sequence[Messages], cutoff_len: int, chat_template: str) -> TokenizedRows:
    """Tokenize every row; rows over ``cutoff_len`` tokens are dropped (the webui's ``excess_length='drop'``)."""
    result = TokenizedRows(total=len(rows))
    for messages in rows:
        row = tokenize_row(tokenizer, messages, chat_template)
        if len(row["input_ids"]) > cutoff_len:
            result.dropped += 1
            continue
        result.rows.append(row)
        result.tokens += len(row["input_ids"])
    return result


def chat_template_for(tokenizer: Any, template: str, templates_dir: Path | None) -> str:
    """The jinja template to train with: the tokenizer's own for "Chat Template", else a webui template."""
    if template in ("", CHAT_TEMPLATE):
        own = getattr(tokenizer, "chat_template", None)
        if not own:
            raise ConfigError(
                "template", CHAT_TEMPLATE, "this model's tokenizer has no chat template; name an instruction template"
            )
        return own if isinstance(own, str) else tokenizer.get_chat_template()
    return read_instruction_template(template, templates_dir)
