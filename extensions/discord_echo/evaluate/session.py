"""What Compare and Evaluate need from a written dataset and a trained LoRA, for any front end.

The tab, the command line and the benchmarks use the same pieces, none of which needs gradio:

* `DatasetBuild`: the files of a dataset written into ``<user_data>/training/datasets`` that Compare reads:
  the held-out rows (``<name>-eval.json``) and the build's sidecar (who "me" is, the persona system line,
  the template the rows were rendered with). It reads the held-out pairs, finds the prompt for a chosen
  or typed conversation, runs the evaluation and writes the chat character.
* `pick_choices` / `chosen_prompt`: held-out conversations as ``(label, value)`` choices whose value is the
  pair's index (`TYPED_PICK` for "a message typed as the friend"), and the prompt a choice stands for.
* `adapter_folder` and `ComparerCache`: the LoRA folder by name, and one loaded `Comparer` kept while the
  model, the adapter (its weights' modification time included), and the template stay the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discord_echo.core.errors import EchoError
from discord_echo.core.safe_files import contained_path, validate_name
from discord_echo.evaluate.characters import chat_instructions, persona_of_build, write_character
from discord_echo.evaluate.comparer import CompareConfig, Comparer
from discord_echo.evaluate.metrics import (
    OPENER_PROMPT,
    ChatMessage,
    HeldOutPair,
    build_rendering,
    held_out_pairs,
    typed_pair,
)
from discord_echo.evaluate.report import CompareReport, evaluate

TYPED_PICK = -1  # the choice value of "(type a message below)": no held-out pair, the typed text instead
TYPED_LABEL = "(type a message below)"
DEFAULT_ME = "me"  # the name a report uses when the build's sidecar is missing


@dataclass(frozen=True)
class DatasetBuild:
    """The held-out file and the sidecar of one written dataset (either may be missing on disk)."""

    eval_path: Path
    sidecar: Path

    @classmethod
    def named(cls, user_data: Path, name: str) -> DatasetBuild:
        """The files of dataset ``name`` under ``user_data``; `InvalidNameError` for an unsafe name."""
        from discord_echo.dataset.writer import dataset_paths

        _, eval_path, sidecar = dataset_paths(Path(user_data), (name or "").strip())
        return cls(eval_path, sidecar)

    def held_out_rows(self) -> list:
        """The rows of the held-out file, as written; `EchoError` saying what to do when they cannot be read."""
        if not self.eval_path.is_file():
            raise EchoError(f"{self.eval_path} not found: write a dataset with a held-out share first")
        try:
            rows = json.loads(self.eval_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EchoError(f"{self.eval_path}: cannot be read as a dataset ({exc}); write the dataset again") from exc
        if not isinstance(rows, list):
            raise EchoError(f"{self.eval_path}: not a list of rows; write the dataset again")
        return rows

    def held_out_pairs(self) -> list[HeldOutPair]:
        """One pair per held-out reply of mine; `EchoError` for rows of another shape than the writer's."""
        rows = self.held_out_rows()
        try:
            return held_out_pairs(rows)
        except (KeyError, TypeError, AttributeError) as exc:
            raise EchoError(f"the held-out file has rows of another shape ({exc}); write the dataset again") from exc

    def me(self) -> str:
        """The name the build trained as "me" (`DEFAULT_ME` without a sidecar)."""
        return persona_of_build(self.sidecar)[0] if self.sidecar.is_file() else DEFAULT_ME

    def persona(self) -> str | None:
        """The persona system line the build trained with; None without one (or without a sidecar)."""
        return persona_of_build(self.sidecar)[1] if self.sidecar.is_file() else None

    def opener_prompt(self) -> str:
        """The stand-in user turn the build put before conversations I opened (the default without a sidecar)."""
        try:
            info = json.loads(self.sidecar.read_text(encoding="utf-8"))
            return str(info["settings"]["dataset"]["opener_prompt"])
        except (OSError, ValueError, KeyError, TypeError):
            return OPENER_PROMPT

    def instructions(self, template: str, character: str | None = None) -> str:
        """How to chat in the webui so prompts match training (empty without a persona).

        ``character``: the name of a character file written for the build, if any.
        """
        persona = self.persona()
        return chat_instructions(template, persona, character=character) if persona else ""

    def evaluate(
        self,
        comparer: Comparer,
        settings: CompareConfig,
        n: int = 8,
        templates_dir: Path | None = None,
        rows: list | None = None,
    ) -> CompareReport:
        """`report.evaluate` on the held-out rows, with the build's template check and chat instructions.

        ``rows``: the held-out rows if already read (`held_out_rows`, say before loading the model).
        """
        rows = self.held_out_rows() if rows is None else rows
        rendering = build_rendering(self.sidecar, templates_dir)
        report = evaluate(comparer, rows, self.me(), settings, n, rendering, self.opener_prompt())
        report.instructions = self.instructions(report.template)
        return report

    def write_character(self, user_data: Path, overwrite: bool = False) -> Path:
        """The webui character of the build's "me" with its persona as context; its path.

        `EchoError` when the build had no persona; `FileExistsRefusedError` for an existing character
        unless ``overwrite``.
        """
        me, persona = persona_of_build(self.sidecar)
        if not persona:
            raise EchoError("this dataset was built without a persona system prompt; nothing to write")
        return write_character(user_data, me, persona, overwrite=overwrite)


def short(text: str, limit: int = 70) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pick_choices(pairs: Sequence[HeldOutPair]) -> list[tuple[str, int]]:
    """``(label, value)`` choices: the typed option (`TYPED_PICK`), then ``"1. <friend's turn>"`` -> pair index."""
    return [(TYPED_LABEL, TYPED_PICK)] + [(f"{i + 1}. {short(p.friend_text)}", i) for i, p in enumerate(pairs)]


def first_pick(pairs: Sequence[Any]) -> int:
    """The choice to show after loading: the first held-out pair, or the typed option if there is none."""
    return 0 if pairs else TYPED_PICK


def pair_rows(pairs: Sequence[HeldOutPair]) -> list[dict[str, Any]]:
    """The pairs as plain ``{"prompt", "reply"}`` dicts (what a UI keeps between requests)."""
    return [{"prompt": p.prompt, "reply": p.reply} for p in pairs]


def is_typed(pick: int | None) -> bool:
    """True when a pick stands for the message typed as the friend, not a held-out pair."""
    return pick is None or pick == TYPED_PICK


def chosen_prompt(
    pairs: Sequence[HeldOutPair | Mapping[str, Any]], pick: int | None, typed: str, persona: str | None
) -> tuple[list[ChatMessage], str]:
    """``(prompt, what I really said)`` for the choice ``pick``, or for ``typed`` as the friend.

    ``pick`` is a value of `pick_choices` (an index into ``pairs``); None or `TYPED_PICK` means the typed
    message, sent after the ``persona`` system line with no real reply (``""``). `EchoError` when there is
    neither, or ``pick`` is not one of the pairs (loaded for another dataset, say).
    """
    if not is_typed(pick):
        index = int(pick)
        if not 0 <= index < len(pairs):
            raise EchoError("that held-out conversation is not loaded; load the held-out conversations again")
        chosen = pairs[index]
        if isinstance(chosen, Mapping):
            return list(chosen["prompt"]), str(chosen["reply"])
        return list(chosen.prompt), chosen.reply
    if not (typed or "").strip():
        raise EchoError("pick a held-out conversation or type a message first")
    return typed_pair(persona, typed.strip()).prompt, ""


def friend_of(prompt: Sequence[ChatMessage]) -> str:
    """The friend's turn a prompt ends with (its last user message)."""
    return next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")


def adapter_folder(loras_dir: Path, lora: str) -> Path:
    """The trained LoRA ``<loras_dir>/<lora>``; `EchoError` for an unsafe name or a folder without an adapter."""
    adapter = contained_path(Path(loras_dir), validate_name((lora or "").strip(), "LoRA"))
    if not (adapter / "adapter_config.json").is_file():
        raise EchoError(f"{adapter}: no trained LoRA there yet; train one first")
    return adapter


def comparer_key(model: str, adapter: Path, template: str | None) -> tuple:
    """What a loaded Comparer depends on; retraining under the same name changes the weights' mtime."""
    weights = Path(adapter) / "adapter_model.safetensors"
    return (model, str(adapter), template, weights.stat().st_mtime_ns if weights.exists() else 0)


class ComparerCache:
    """One loaded `Comparer` at a time: loading it is the slow part, switching the adapter is free."""

    def __init__(self) -> None:
        self._comparer: Any = None
        self._key: tuple | None = None

    def get(self, model: str, adapter: Path, template: str | None, load: Callable[[], Any]) -> Any:
        """The cached Comparer for ``(model, adapter, template)``, or ``load()``'s after freeing the old one."""
        key = comparer_key(model, adapter, template)
        if self._key != key:
            self.forget()  # free the previous model before loading another
            self._comparer = load()
            self._key = key
        return self._comparer

    def forget(self) -> None:
        """Drop the loaded Comparer (training needs the memory, or the LoRA on disk changed)."""
        self._comparer = None
        self._key = None


def prompts_to_compare(build: DatasetBuild, n: int, typed: str = "") -> list[tuple[list[ChatMessage], str]]:
    """``(prompt, what I really said)`` for a message ``typed`` as the friend, or for the first ``n`` held-out pairs.

    What the CLI's ``compare`` shows, chosen as the tab's Compare section chooses (`chosen_prompt`): a typed
    message goes after the build's persona line and has no real reply (``""``).
    """
    if (typed or "").strip():
        return [chosen_prompt([], TYPED_PICK, typed, build.persona())]
    pairs = build.held_out_pairs()
    if not pairs:
        raise EchoError(f"{build.eval_path} holds no held-out replies; type a message instead (--message)")
    return [chosen_prompt(pairs, index, "", None) for index in range(min(max(1, n), len(pairs)))]
