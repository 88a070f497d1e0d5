"""A model folder's tokenizer read with the ``tokenizers`` library alone: exact counts without transformers.

Loading a tokenizer through ``transformers.AutoTokenizer`` imports torch, about 250 MB of memory before a
single message is read (benchmarks/README.md, build.py). For counting tokens the dataset build needs only
what transformers itself does for a fast tokenizer: render the chat template with jinja2
(``instruction.compile_template``, transformers' settings) and encode the text with the folder's
``tokenizer.json`` and ``add_special_tokens=False`` (what ``apply_chat_template(tokenize=True)`` does).
``TokenizerFile`` offers exactly the part of the transformers tokenizer API that ``templates/chat.py`` uses.

``read_tokenizer_files(folder)`` returns None, and the caller falls back to transformers, whenever the folder
could hold something transformers would read differently: no ``tokenizer.json``; a ``tokenizer_class`` other
than the plain fast classes that load ``tokenizer.json`` as it is (``FAST_CLASSES``: model-specific classes
may rebuild the pre-tokenizer or normaliser from their own options); added tokens in ``tokenizer_config.json``
that ``tokenizer.json`` does not hold; special tokens that ``special_tokens_map.json`` and
``tokenizer_config.json`` disagree on; or two different chat templates (``chat_template.jinja`` and the
config's). tests/templates/test_tokenizer_files.py checks counts and renderings against transformers.

Only ``tokenizers`` and the standard library are imported, ``tokenizers`` inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Classes whose from_pretrained loads tokenizer.json unchanged (transformers 4: PreTrainedTokenizerFast;
# transformers 5 saves plain tokenizers as "TokenizersBackend").
FAST_CLASSES = ("PreTrainedTokenizerFast", "TokenizersBackend")
# transformers' SPECIAL_TOKENS_ATTRIBUTES that hold one token (the template sees them as variables).
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class TokenizerFile:
    """``tokenizer.json`` plus the folder's special tokens and chat template, in transformers' shape.

    ``tokenizer(texts, add_special_tokens=False)["input_ids"]``, ``apply_chat_template(...)``,
    ``added_tokens_decoder``, ``special_tokens_map``, ``chat_template`` / ``get_chat_template()``,
    ``backend_tokenizer`` and ``is_fast`` behave as transformers' fast tokenizer's do, for what chat.py asks.
    """

    is_fast = True

    def __init__(self, backend: Any, special_tokens: Mapping[str, str], chat_template: str | dict[str, str] | None):
        self.backend_tokenizer = backend
        self.special_tokens_map = dict(special_tokens)
        self.chat_template = chat_template
        self._compiled: dict[str, Any] = {}

    @property
    def added_tokens_decoder(self) -> dict[int, Any]:
        return self.backend_tokenizer.get_added_tokens_decoder()

    def __call__(self, texts: Sequence[str], add_special_tokens: bool = True) -> dict[str, list[list[int]]]:
        """``{"input_ids": [...]}`` for a list of texts, as transformers' batch encode gives them."""
        # The fast variant skips character offsets, which no caller of this needs (counts and ids only).
        encodings = self.backend_tokenizer.encode_batch_fast(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [list(e.ids) for e in encodings]}

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text, encoded without special tokens; no id lists are built. Safe to call from
        several threads at once: encoding only reads the tokenizer (and releases the GIL while it runs)."""
        return [len(e) for e in self.backend_tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)]

    def get_chat_template(self) -> str:
        """The chat template, or its "default" one when the folder holds several (as transformers picks)."""
        template = self.chat_template
        if isinstance(template, dict):
            if "default" not in template:
                raise ValueError("This model has multiple chat templates with no default specified!")
            return template["default"]
        if not template:
            raise ValueError("the tokenizer has no chat template")
        return template

    def apply_chat_template(
        self,
        messages: list[dict[str, Any]],
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        return_dict: bool = False,
    ) -> str | list[int]:
        """The template rendered (``tokenize=False``) or its token ids, encoded without special tokens."""
        from discord_echo.templates.instruction import render_compiled

        variables = {"messages": messages, "tools": None, "documents": None, **self.special_tokens_map}
        variables["add_generation_prompt"] = add_generation_prompt
        text = render_compiled(self._template(chat_template), variables)
        if not tokenize:
            return text
        ids = self([text], add_special_tokens=False)["input_ids"][0]
        return {"input_ids": ids} if return_dict else ids  # type: ignore[return-value]

    def render_chats(
        self,
        conversations: Sequence[list[dict[str, Any]]],
        chat_template: str | None = None,
    ) -> list[str]:
        """``apply_chat_template(messages, chat_template, tokenize=False)`` of each conversation, with the template
        looked up once for all of them (the builder renders thousands of rows to check their counts)."""
        from discord_echo.templates.instruction import render_compiled

        compiled = self._template(chat_template)
        variables = {"tools": None, "documents": None, **self.special_tokens_map, "add_generation_prompt": False}
        return [render_compiled(compiled, {"messages": messages, **variables}) for messages in conversations]

    def _template(self, chat_template: str | None) -> Any:
        from discord_echo.templates.instruction import compile_template

        text_of_template = chat_template or self.get_chat_template()
        compiled = self._compiled.get(text_of_template)
        if compiled is None:
            compiled = self._compiled[text_of_template] = compile_template(text_of_template, "the chat template")
        return compiled


def read_tokenizer_files(folder: Path) -> TokenizerFile | None:
    """The folder's tokenizer without transformers, or None where transformers should load it (module doc)."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").is_file():
        return None
    try:
        config = _json(folder / "tokenizer_config.json")
        if config.get("tokenizer_class", "PreTrainedTokenizerFast") not in FAST_CLASSES:
            return None
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - unreadable or unknown here: transformers decides (and reports it)
        return None
    # transformers encodes with truncation and padding off unless asked.
    backend.no_truncation()
    backend.no_padding()
    held = {token.content for token in backend.get_added_tokens_decoder().values()}
    declared = config.get("added_tokens_decoder") or {}
    if not isinstance(declared, dict) or any(_content(token) not in held for token in declared.values()):
        return None
    special = {key: _content(config[key]) for key in SPECIAL_TOKENS if config.get(key) is not None}
    if (folder / "special_tokens_map.json").is_file():
        try:
            mapped = _json(folder / "special_tokens_map.json")
        except (OSError, ValueError):
            return None
        for key in SPECIAL_TOKENS:
            if mapped.get(key) is not None:
                if key in special and special[key] != _content(mapped[key]):
                    return None
                special[key] = _content(mapped[key])
    if any(not isinstance(value, str) for value in special.values()):
        return None
    template = _chat_template(folder, config)
    if template is False:
        return None
    return TokenizerFile(backend, special, template or None)


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return value


def _content(token: Any) -> Any:
    """A special token as written in a config: its text, or an AddedToken object's ``content``."""
    return token.get("content") if isinstance(token, dict) else token


def _chat_template(folder: Path, config: Mapping[str, Any]) -> str | dict[str, str] | None | bool:
    """The folder's chat template(s); False when two sources disagree or the shape is unknown."""
    found = config.get("chat_template")
    if isinstance(found, list):
        try:
            found = {item["name"]: item["template"] for item in found}
        except (KeyError, TypeError):
            return False
    if found is not None and not isinstance(found, (str, dict)):
        return False
    if (folder / "additional_chat_templates").is_dir():
        return False  # several template files: leave them to transformers
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        text = jinja.read_text(encoding="utf-8")
        if found is not None and found != text:
            return False
        return text
    return found
