"""The webui character for chatting as the echo, and what to choose in the webui so chat matches training.

``write_character(user_data, me, persona)`` writes ``<user_data>/characters/<me>.yaml`` with ``name`` = me and
``context`` = the persona system line used in training, in the webui's character format (modules/chat.py
``generate_character_yaml`` at 1dcde41d: ``yaml.dump`` of name, greeting, context in that order, empty values
left out). ``read_character`` reads it back by ``load_character``'s rules, so a caller can show what the webui
will see. An existing character is never replaced unless ``overwrite=True``.

``chat_instructions(template, persona)`` says which mode, instruction template and custom system message make
the webui's prompt identical to the training rows. Only **instruct** mode does: ``generate_chat_prompt`` then
renders the history with the instruction template and puts the "Custom system message" first as the system
message, verbatim; chat mode renders ``Name: text`` lines through a chat template with the character's
context, and chat-instruct wraps all of that in a command, neither of which training ever saw
(docs/why-echoes-fail.md, Template mismatch: the first cause of unrelated replies). pyyaml (the
``tokenize`` extra) is imported inside functions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.core.safe_files import InvalidNameError, atomic_write, contained_path, validate_name
from discord_echo.templates.chat import CHAT_TEMPLATE

INSTALL_HINT = "pip install 'discord-echo[tokenize]'"
# load_character's key order for the bot's name (modules/chat.py).
NAME_KEYS = ("name", "bot", "<|bot|>", "char_name")


def persona_of_build(sidecar: Path) -> tuple[str, str | None]:
    """``(me, persona)`` a dataset build trained with, from its ``<name>.discord_echo.yaml`` sidecar.

    ``persona`` is None when the build had no persona system line (then there is nothing to write as
    character context or custom system message). ``ConfigError`` if the sidecar cannot be read.
    """
    try:
        report = json.loads(Path(sidecar).read_text(encoding="utf-8"))["report"]
        return str(report["me"]), report.get("system_prompt")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError("dataset", str(sidecar), f"cannot read the build's report: {exc}") from exc


def character_file_name(me: str) -> str:
    """A file name for my character: my name if it is a safe file name, else a slug of it.

    Display names like "Alex 🎮", "J.D." or "~alex~" are fine inside the YAML but not as
    file names; the name in the file stays exactly mine.
    """
    try:
        return validate_name(me, "character")
    except InvalidNameError:
        slug = re.sub(r"[^\w-]+", "-", me, flags=re.UNICODE).strip("-_") or "echo"
        try:
            return validate_name(slug[:60], "character")
        except InvalidNameError:
            return "echo"


def character_path(user_data: Path, file_name: str) -> Path:
    """``<user_data>/characters/<file_name>.yaml``, with the name validated."""
    validate_name(file_name, "character")
    return contained_path(Path(user_data) / "characters", f"{file_name}.yaml")


def character_yaml(me: str, persona: str, greeting: str = "") -> str:
    """The character file's text: what the webui's own Save button writes for these values.

    ``allow_unicode`` keeps names and emoji readable; ``yaml.safe_load`` gives the same strings either way.
    The text is read back before it is returned, so every string survives ``yaml.safe_load`` unchanged.
    """
    if not me.strip():
        raise ConfigError("me", me, "the character needs a name")
    if not persona.strip():
        raise ConfigError("persona", persona, "is empty; build the dataset with a persona system prompt")
    yaml = _yaml()
    data = {k: v for k, v in {"name": me, "greeting": greeting, "context": persona}.items() if v}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=float("inf"))
    if yaml.safe_load(text) != data:
        # PyYAML's chosen style loses some line-break characters (NEL U+0085 reads back as a space); the
        # double-quoted style escapes every one of them (\N, \L, \P), at the cost of a less readable file.
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=float("inf"), default_style='"')
    return text


def write_character(
    user_data: Path,
    me: str,
    persona: str,
    overwrite: bool = False,
    *,
    file_name: str | None = None,
    greeting: str = "",
) -> Path:
    """Write the character atomically and return its path.

    ``file_name`` defaults to ``me`` (give one when my display name cannot be a file name). Raises
    `FileExistsRefusedError` if the file exists and ``overwrite`` is false, `InvalidNameError` for a bad name.
    The webui strips ``context`` on loading and replaces ``{{char}}``/``{{user}}`` in chat modes, so a persona
    with surrounding blanks or those placeholders reads back differently there; instruct mode with the
    custom system message (``chat_instructions``) is unaffected.
    """
    path = character_path(user_data, character_file_name(me) if file_name is None else file_name)
    text = character_yaml(me, persona, greeting)
    atomic_write(path, lambda handle: handle.write(text), overwrite=overwrite)
    return path


def read_character(path: Path) -> dict[str, str]:
    """``{"name", "context", "greeting"}`` of a character file, by webui ``load_character``'s rules.

    The name is the first non-empty of ``name``, ``bot``, ``<|bot|>``, ``char_name``; ``context`` is stripped;
    ``greeting`` defaults to empty. (Pygmalion-style ``char_persona`` files are not ours and are not read.)
    """
    yaml = _yaml()
    data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigError("character", str(path), "is not a YAML mapping")
    name = next((data[k] for k in NAME_KEYS if k in data and data[k] != ""), "")
    context = data["context"].strip() if "context" in data else ""
    return {"name": str(name), "context": context, "greeting": data.get("greeting", "")}


def chat_instructions(template_label: str, persona: str, *, character: str | None = None) -> str:
    """Markdown telling the user what to pick in the webui so inference renders exactly like training.

    ``template_label``: the trainer's format, ``"Chat Template"`` (the model's own) or a webui instruction
    template name. ``persona``: the system line of the training rows. ``character``: the character file's
    name, if one was written.
    """
    if template_label in ("", CHAT_TEMPLATE):
        template = (
            "keep the template the webui detected from the model (*Custom (obtained from model metadata)*); "
            "if you changed it, reload the model"
        )
    else:
        template = f"under *Saved instruction templates* pick **{template_label}** and click **Load**"
    fence = "```" + "`" * _longest_backtick_run(persona)
    lines = [
        "To chat with your echo the way it was trained:",
        "",
        "1. **Model** tab: load the same base model with the same loader, then apply the LoRA.",
        "2. **Chat** tab: set **Mode** to **instruct**. Not *chat* or *chat-instruct*: those write the turns as "
        "`Name: message` lines or wrap them in a command, which the LoRA never saw in training.",
        f"3. **Parameters → Instruction template**: {template}.",
        "4. **Parameters → Generation → Custom system message**: paste exactly this (it is the system line "
        "of every training row):",
        "",
        fence,
        persona,
        fence,
        "",
        "5. Write as your friend in the chat box; the model answers as you. If your dataset put names before "
        "the friends' lines (group chats), type them the same way (`Name: message`).",
    ]
    if character:
        lines += [
            "",
            f"The character **{character}** was also written (name and context = the same persona). In instruct "
            "mode the webui does not use characters; it is there for chat mode, which will not match training.",
        ]
    return "\n".join(lines)


def _longest_backtick_run(text: str) -> int:
    """Extra backticks a fence needs so the persona cannot close it (CommonMark: a longer fence)."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return max(0, longest - 2)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise ConfigError("character", "yaml", f"writing webui characters needs pyyaml; {INSTALL_HINT}") from exc
    return yaml
