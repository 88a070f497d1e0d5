"""Render chat rows the way text-generation-webui's trainer sees them, count their tokens, mark what it trains.

Takes ``{"role", "content"}`` message lists (one dataset row) and gives back, through a ``ChatRenderer``:
the exact text the trainer tokenizes, its token count (exact with a local tokenizer, a conservative estimate
without one), and the character spans of the assistant turns the trainer unmasks. The dataset builder uses it
to keep rows under ``cutoff_len`` (the webui *drops* longer rows) and the UI to preview what is learned.

Mirrors the webui at 1dcde41d (docs/webui-trainer.md, Masking and over-length rows; Templates):
``modules/training.py`` ``do_train`` /
``tokenize_conversation`` and ``modules/models_settings.py`` ``load_template_by_name``. Nothing is copied
from the webui; the behaviour is re-implemented and cited where it matters.

transformers, tokenizers, jinja2 and pyyaml are the optional ``tokenize`` extra and are imported inside
functions: the default renderer (built-in ChatML, estimated counts) needs none of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.templates.instruction import (
    INSTALL_HINT,
    ChatTemplateError,
    available_instruction_templates,
    compile_template,
    read_instruction_template,
    render_compiled,
    render_template,
    template_errors,
    template_literals,
)
from discord_echo.templates.row_layout import RowLayout
from discord_echo.templates.tokenizer_files import read_tokenizer_files

__all__ = [
    "BUILTIN_CHATML",
    "CHAT_TEMPLATE",
    "ChatRenderer",
    "ChatTemplateError",
    "available_instruction_templates",
    "checked_messages",
    "estimate_tokens",
    "load_renderer",
    "read_instruction_template",
    "trained_spans",
]

CHAT_TEMPLATE = "Chat Template"  # the webui's `format` value meaning "the model's own template"
ROLES = ("system", "user", "assistant")
# Any of these makes a folder worth handing to AutoTokenizer (fast, SentencePiece, BPE, WordPiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "tiktoken.model")

# Standard ChatML, as most ChatML models ship it. Only used without a tokenizer and without a named template;
# ``_render_builtin_chatml`` renders the same text without jinja2.
BUILTIN_CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Message = Mapping[str, Any]
Span = tuple[int, int]


# --- the conservative estimate ---------------------------------------------------------------------------

# Pieces roughly as BPE pre-tokenizers cut text: a word with its leading space, digits, ASCII punctuation,
# one newline/tab, a run of spaces, then single non-ASCII characters.
_PIECE = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[!-/:-@\[-`{-~]+|[\n\r\t\f\v]| +|.", re.DOTALL)
ESTIMATE_LETTERS_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """Upper estimate of the tokens any common LLM tokenizer needs for ``text`` (no tokenizer needed).

    Rationale, per piece (real tokenizers: Llama 2/Mistral 32k SentencePiece with byte fallback, the weakest
    common one; GPT-2/Llama 3/Qwen byte-level BPE, 50k-150k):
    * ASCII words: ceil(letters / 3). Real vocabularies hold common words whole (one token, about 4-5
      characters with the space), so English prose is over-counted by about 1.5x; rare words split into
      3-4 letter pieces. Keysmash and elongations ("noooooo") can split finer: the margin on the common
      words around them absorbs that.
    * Digits: one token each, plus one for a leading space (Llama 2 and Mistral split every digit).
    * ASCII punctuation and each newline/tab: one token each (merges like "..." only make it fewer).
    * A run of spaces: one per space; a single space before a word is part of the word.
    * Every other character: its UTF-8 byte length. That is a hard bound: a byte-level BPE token holds at
      least one byte, and SentencePiece with byte fallback spends at most one token per byte. Emoji are 4
      bytes and Llama 2 really spends 4 tokens on most; Devanagari, Thai or Hangul (3 bytes) can fall back
      to bytes too. Modern vocabularies need far fewer for Cyrillic or CJK (about 2-4x fewer), so give a
      tokenizer for exact counts on non-English chats.
    So only ASCII words are guessed; everything else is bounded.
    Control tokens such as ``<|im_start|>`` are counted as their text (several tokens instead of one).
    """
    total = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        body = piece.lstrip(" ")
        if not body:
            total += len(piece)
        elif body[0].isascii():
            if body[0].isalpha():
                total += math.ceil(len(body) / ESTIMATE_LETTERS_PER_TOKEN)
            elif body[0].isdigit():
                total += len(body) + (len(piece) - len(body))
            else:
                total += len(body)
        else:
            total += len(body.encode("utf-8"))
    return total


# --- the renderer ----------------------------------------------------------------------------------------


class ChatRenderer:
    """Renders one dataset row as the trainer sees it; made by ``load_renderer``.

    ``exact`` is True when tokens are counted by the model's tokenizer; ``description`` says what is used.
    """

    def __init__(
        self,
        render_fn: Callable[[list[dict[str, Any]], bool], str],
        template_label: str,
        description: str,
        tokenizer: Any = None,
        chat_template: str | None = None,
        piece_render_fn: Callable[[list[dict[str, Any]], bool], str] | None = None,
        layout_literals: Sequence[str] = (),
    ):
        self._render_fn = render_fn
        # The same text as render_fn, rendered without transformers' per-call overhead; used only for composed
        # counts, which count_tokens_batch (render_fn) verifies.
        self._piece_render_fn = piece_render_fn or render_fn
        self._layout_literals = layout_literals  # the template's string constants: probes for RowLayout.learn
        self._tokenizer = tokenizer
        self._chat_template = chat_template
        self._encoder: Any = None
        self._splitter: re.Pattern[str] | None | bool = False  # False: not looked up yet; None: no split points
        self._piece_counts: dict[str, int] = {}
        # With / without a system line: the layout and whether it is bracketed (``_layout``), learnt when asked.
        self._layouts: dict[bool, tuple[RowLayout | None, bool]] = {}
        self.template_label = template_label
        self.description = description
        self.exact = tokenizer is not None
        # What the build used, recorded as fields in the dataset's report (set by load_renderer).
        self.tokenizer_folder: str | None = None
        self.template_name: str | None = None  # None: built-in ChatML

    def render(self, messages: Sequence[Message]) -> str:
        """The exact text the trainer tokenizes for this row (no generation prompt)."""
        return self._render(checked_messages(messages, self.template_label), False)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the row: the trainer's ``len(apply_chat_template(messages, tokenize=True))``, or the estimate."""
        msgs = checked_messages(messages, self.template_label)
        if self._tokenizer is None:
            return estimate_tokens(self._render(msgs, False))
        return len(self._token_ids(msgs, False))

    @property
    def composes(self) -> bool:
        """True when ``count_tokens_composed`` sums cached piece counts instead of tokenizing the whole row."""
        return self._tokenizer is not None

    def count_tokens_batch(self, rows: Sequence[Sequence[Message]]) -> list[int]:
        """``count_tokens`` of each row: rendered one by one, then tokenized in one call of the tokenizer.

        The same as the trainer's ``apply_chat_template(tokenize=True)``, which renders the row and encodes the
        text with ``add_special_tokens=False``; one batch call saves the per-call overhead.
        """
        if self._tokenizer is None:
            return [self.count_tokens(row) for row in rows]
        return self.count_rendered(self.render_rows(rows))

    def render_rows(self, rows: Sequence[Sequence[Message]]) -> list[str]:
        """``render`` of each row: the first half of ``count_tokens_batch``."""
        checked = [checked_messages(row, self.template_label) for row in rows]
        render_chats = getattr(self._tokenizer, "render_chats", None)
        if render_chats is not None and self._chat_template is not None:
            # The same apply_chat_template(tokenize=False) as render(), with the template looked up once.
            with template_errors(self.template_label):
                return render_chats(checked, self._chat_template)
        return [self._render(row, False) for row in checked]

    def count_rendered(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each rendered row, as ``apply_chat_template(tokenize=True)`` counts them (the second half
        of ``count_tokens_batch``); estimated without a tokenizer."""
        if self._tokenizer is None:
            return [estimate_tokens(text) for text in texts]
        lengths = getattr(self._tokenizer, "lengths", None)
        if lengths is not None:
            with template_errors(self.template_label):
                return lengths(list(texts))
        return [len(ids) for ids in self._encode(list(texts))]

    @property
    def counts_in_background(self) -> bool:
        """True when ``count_rendered`` may run on a worker thread while this thread keeps using the renderer.

        So it is with the ``tokenizer.json`` read by templates/tokenizer_files.py: encoding only reads the
        tokenizer and releases the GIL. transformers' own tokenizers may set their padding and truncation on a
        call (a write that fails while another thread encodes), so they count on the caller's thread.
        """
        return hasattr(self._tokenizer, "lengths")

    def count_tokens_composed(self, messages: Sequence[Message]) -> int:
        """``count_tokens(messages)`` summed from the token counts of the row's pieces.

        The pieces are cut just before each added token the tokenizer itself splits the text at
        (``<|im_start|>``, ``<|eot_id|>``...; see ``_split_pattern``): the tokenizer encodes the text between
        added tokens independently, so the pieces' counts add up to the row's count. Where the template has a
        `RowLayout` the row is not rendered: its text is joined from the layout, and where every fixed string
        after the head starts with such a token, the pieces are the layout's brackets, not cut at all. Each
        distinct piece is tokenized once and remembered (``prime`` does many at once). Callers that must be
        exact verify the emitted rows with ``count_tokens_batch`` (dataset/packing.py does, and falls back on
        a mismatch). Without a tokenizer this is ``count_tokens``.
        """
        if self._tokenizer is None:
            return self.count_tokens(messages)
        pieces = self._composed_pieces(messages)
        counts = self._piece_counts
        # Looked up before counting what is missing: counting may forget part of a full cache (``remember``).
        try:
            return sum([counts[piece] for piece in pieces])
        except KeyError:
            pass
        known = {piece: counts[piece] for piece in dict.fromkeys(pieces) if piece in counts}
        missing = [piece for piece in dict.fromkeys(pieces) if piece not in known]
        known.update(self._count_pieces(missing))
        return sum(known[piece] for piece in pieces)

    def prime(self, rows: Sequence[Sequence[Message]]) -> None:
        """Tokenize the distinct pieces of these rows in one batch, for later ``count_tokens_composed`` calls."""
        missing = self.uncounted_pieces(rows)
        if missing:
            self.remember(missing, self.count_rendered(missing))

    def uncounted_pieces(self, rows: Sequence[Sequence[Message]]) -> list[str]:
        """The distinct pieces of these rows not counted yet (none without a tokenizer): what ``prime`` counts.

        ``prime`` in two halves, so the counting can run on another thread: ``remember(pieces,
        count_rendered(pieces))`` completes it.
        """
        if self._tokenizer is None:
            return []
        counts = self._piece_counts
        missing: dict[str, None] = {}
        for row in rows:
            for piece in self._composed_pieces(row):
                if piece not in counts:
                    missing[piece] = None
        return list(missing)

    def remember(self, pieces: Sequence[str], counts: Sequence[int]) -> None:
        """Keep the token counts of ``pieces`` for ``count_tokens_composed``; a full cache first forgets its
        older half (counts primed for conversations not packed yet are among the newest, so they mostly stay;
        one forgotten is counted again when asked for)."""
        cache = self._piece_counts
        if len(cache) + len(pieces) > self.PIECE_CACHE_LIMIT:
            newer = list(cache.items())[len(cache) // 2 :]
            cache.clear()
            cache.update(newer)
        cache.update(zip(pieces, counts, strict=True))

    def trained_spans(self, messages: Sequence[Message]) -> list[Span]:
        """Character spans of ``render(messages)`` whose tokens the trainer trains on (labels not -100).

        Same rule as webui modules/training.py ``tokenize_conversation``: for each assistant message i, the
        tokens from ``len(template(messages[:i], add_generation_prompt=True))`` up to
        ``len(template(messages[:i+1]))`` of the full row. That covers the reply and the end-of-turn marker
        after it (``<|im_end|>\\n`` in ChatML). Without a tokenizer the same rule is applied to characters.
        """
        msgs = checked_messages(messages, self.template_label)
        text = self._render(msgs, False)
        if self._tokenizer is not None:
            boundaries = self._token_boundaries(msgs, text)
            if boundaries is not None:
                full_ids, chars = boundaries
                return _merge(
                    (chars[start], chars[end])
                    for start, end in trained_spans(msgs, lambda m, gen: len(self._token_ids(m, gen)), len(full_ids))
                )
        return _merge(trained_spans(msgs, lambda m, gen: len(self._render(m, gen)), len(text)))

    def segments(self, messages: Sequence[Message]) -> list[tuple[str, bool]]:
        """``render(messages)`` cut into consecutive ``(text, trained)`` pieces, for a preview widget."""
        text = self.render(messages)
        pieces: list[tuple[str, bool]] = []
        position = 0
        for start, end in self.trained_spans(messages):
            if start > position:
                pieces.append((text[position:start], False))
            pieces.append((text[start:end], True))
            position = end
        if position < len(text):
            pieces.append((text[position:], False))
        return pieces

    def preview(self, messages: Sequence[Message]) -> str:
        """``render(messages)`` with each trained piece wrapped in ⟦ ⟧."""
        return "".join(f"⟦{text}⟧" if trained else text for text, trained in self.segments(messages))

    # -- internals

    def _composed_pieces(self, messages: Sequence[Message]) -> list[str]:
        """Strings whose token counts add up to the row's: the brackets of the template's `RowLayout` where
        every string after its head starts with an added token the tokenizer cuts at (no cutting needed),
        else the pieces of ``render(messages)`` (joined from the layout where there is one)."""
        system = bool(messages) and messages[0].get("role") == "system"
        layout, bracketed = self._layout(system)
        if layout is not None:
            if bracketed:
                brackets = layout.brackets(messages)
                if brackets is not None:
                    return brackets
            text = layout.text(messages)
            if text is not None:
                return self._pieces(text)
        return self._pieces(self._piece_render_fn(checked_messages(messages, self.template_label), False))

    def _layout(self, system: bool) -> tuple[RowLayout | None, bool]:
        """The template's layout of rows with or without a system line (learnt once), and whether it is
        bracketed: every string after the head starts with a safe cut (``_split_pattern``)."""
        if system not in self._layouts:
            layout = RowLayout.learn(self._piece_render_fn, system, self._layout_literals)
            pattern = self._split_pattern()
            bracketed = (
                layout is not None
                and pattern is not None
                and all(pattern.match(frame) for frame in layout.frames_after_head())
            )
            self._layouts[system] = (layout, bracketed)
        return self._layouts[system]

    def _render(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
        return self._render_fn(messages, add_generation_prompt)

    def _token_ids(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> list[int]:
        # return_dict=False as the webui passes it; transformers 5 returns a BatchEncoding otherwise.
        with template_errors(self.template_label):
            out = self._tokenizer.apply_chat_template(
                messages,
                chat_template=self._chat_template,
                add_generation_prompt=add_generation_prompt,
                tokenize=True,
                return_dict=False,
            )
        if isinstance(out, Mapping):
            out = out["input_ids"]
        return list(out)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        with template_errors(self.template_label):
            out = self._tokenizer(texts, add_special_tokens=False)
        return list(out["input_ids"])

    # Distinct pieces remembered at most; the older half is forgotten when it would grow past this (pieces
    # repeat mostly within a conversation's packing, so little useful is lost). Pieces are whole turns, ~1 KB
    # on average with the odd pasted log: 8,192 of them hold ~8 MB, where 50,000 held ~50 MB of a build.
    PIECE_CACHE_LIMIT = 8_192

    def _count_pieces(self, pieces: list[str]) -> dict[str, int]:
        """Token counts of ``pieces``, remembered."""
        counts = self.count_rendered(pieces)
        self.remember(pieces, counts)
        return dict(zip(pieces, counts, strict=True))

    def _pieces(self, text: str) -> list[str]:
        pattern = self._split_pattern()
        if pattern is None:
            return [text]
        # Cut before each match; finditer on the tokens themselves is faster than splitting on a lookahead.
        pieces = []
        start = 0
        for match in pattern.finditer(text):
            cut = match.start()
            if cut > start:
                pieces.append(text[start:cut])
                start = cut
        if start < len(text):
            pieces.append(text[start:])
        return pieces

    def _split_pattern(self) -> re.Pattern[str] | None:
        """A pattern matching each added token that is a safe place to cut before, or None.

        The tokenizer cuts its input at added tokens before normalizing and pre-tokenizing the rest, so text on
        either side of such a token is encoded independently. Safe are added tokens matched on the raw text
        (``normalized`` False) that do not swallow neighbouring whitespace (``lstrip``/``rstrip``) or need word
        boundaries (``single_word``), and that no other added token contains (a longer match could begin
        earlier). A piece after the first always starts with such a token, so it is encoded the same wherever
        it sits in a row; the emitted rows are still verified (``count_tokens_batch``).
        """
        if self._splitter is False:
            self._splitter = None
            decoder = getattr(self._tokenizer, "added_tokens_decoder", None) or {}
            contents = [str(getattr(token, "content", token)) for token in decoder.values()]
            safe = [
                token.content
                for token in decoder.values()
                if getattr(token, "content", "")
                and not getattr(token, "lstrip", True)
                and not getattr(token, "rstrip", True)
                and not getattr(token, "single_word", True)
                and not getattr(token, "normalized", True)
                and not any(token.content in other and token.content != other for other in contents)
            ]
            if safe and getattr(self._tokenizer, "is_fast", False):
                alternatives = "|".join(re.escape(content) for content in sorted(safe, key=len, reverse=True))
                self._splitter = re.compile(alternatives)
        return self._splitter if isinstance(self._splitter, re.Pattern) else None

    def _token_boundaries(self, messages: list[dict[str, Any]], text: str) -> tuple[list[int], list[int]] | None:
        """Full-row token ids and, for each token index k (0..n), the character where token k starts.

        apply_chat_template(tokenize=True) encodes the rendered text with add_special_tokens=False, so
        encoding it again with offsets gives the same ids (checked). None when no offsets can be had (a
        tokenizer without a ``tokenizers`` backend): callers then apply the rule to characters.
        """
        full_ids = self._token_ids(messages, False)
        encoder = self._offsets_encoder()
        if encoder is None:
            return None
        encoding = encoder.encode(text, add_special_tokens=False)
        if list(encoding.ids) != full_ids:
            return None
        # Token k starts where token k-1 ends; the running max keeps boundaries ordered when the byte tokens
        # of one character all carry that character's offsets.
        chars = [0]
        for _start, end in encoding.offsets[:-1]:
            chars.append(max(chars[-1], end))
        chars.append(len(text))
        return full_ids, chars

    def _offsets_encoder(self) -> Any:
        """The tokenizer's ``tokenizers`` backend without its post-processor, made once per renderer.

        A ByteLevel post-processor with trim_offsets=True (GPT-2 style) shrinks offsets to exclude spaces,
        which would misplace span edges; without special tokens it changes nothing else.
        """
        if self._encoder is None:
            backend = getattr(self._tokenizer, "backend_tokenizer", None)
            if backend is None:
                return None
            from tokenizers import Tokenizer

            self._encoder = Tokenizer.from_str(backend.to_str())
            self._encoder.post_processor = None
        return self._encoder


def trained_spans(
    messages: list[dict[str, Any]], length: Callable[[list[dict[str, Any]], bool], int], full_length: int
) -> list[Span]:
    """``(start, end)`` of each assistant turn the webui trainer unmasks, in the unit ``length`` counts.

    ``length(part, add_generation_prompt)`` is the length of ``part`` rendered (characters or token ids);
    ``full_length`` that of the whole row. Empty spans are left out; spans are not merged.
    """
    # webui modules/training.py tokenize_conversation: start = len(prefix + generation prompt),
    # end = min(len(through this turn), len(full)).
    spans = []
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start = length(messages[:i], True)
            end = min(length(messages[: i + 1], False), full_length)
            if start < end:
                spans.append((start, end))
    return spans


def _merge(spans: Any) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def checked_messages(messages: Sequence[Message], template_label: str) -> list[dict[str, Any]]:
    """Plain dict copies of the messages, after the checks the trainer would otherwise fail on."""
    if not messages:
        raise ChatTemplateError(template_label, "the conversation has no messages")
    checked = []
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ChatTemplateError(template_label, f"messages[{index}] has role {role!r}, expected one of {ROLES}")
        if not isinstance(content, str):
            raise ChatTemplateError(template_label, f"messages[{index}] content is not text: {content!r}")
        checked.append({"role": role, "content": content})
    if checked[0]["role"] == "assistant":
        # tokenize_conversation renders messages[:0] for the first assistant turn, and transformers refuses an
        # empty conversation, so the whole training run would fail.
        raise ChatTemplateError(
            template_label, "the conversation starts with an assistant message; the webui trainer cannot mask it"
        )
    return checked


# --- loading ---------------------------------------------------------------------------------------------


def load_renderer(
    tokenizer: str | Path | None = None,
    template: str | None = None,
    instruction_templates_dir: Path | None = None,
) -> ChatRenderer:
    """Build the renderer for a training setup, mirroring the webui's ``format`` choice.

    ``tokenizer``: a local Hugging Face model or tokenizer folder (never downloaded). ``template``: None or
    ``"Chat Template"`` for the tokenizer's own chat template, else the name of a webui instruction template
    in ``instruction_templates_dir`` (``user_data/instruction-templates``). Without a tokenizer, text is still
    rendered exactly but tokens are estimated; with neither, a built-in ChatML template is used.
    """
    named = template not in (None, "", CHAT_TEMPLATE)
    template_text = read_instruction_template(template, instruction_templates_dir) if named else None
    if tokenizer is not None:
        folder = Path(tokenizer)
        tok = _load_tokenizer(folder)
        label = repr(template) if named else f"of {folder} ({CHAT_TEMPLATE})"
        if template_text is None:
            template_text = _own_chat_template(tok, folder)
        compiled = compile_template(template_text, label)
        # transformers renders with the special tokens' strings as variables (bos_token, eos_token...).
        token_strings = {key: str(value) for key, value in tok.special_tokens_map.items() if isinstance(value, str)}

        def render_pieces(messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
            with template_errors(label):
                return render_compiled(
                    compiled,
                    {
                        "messages": messages,
                        "tools": None,
                        "documents": None,
                        "add_generation_prompt": add_generation_prompt,
                        **token_strings,
                    },
                )

        def render_hf(messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
            with template_errors(label):
                return tok.apply_chat_template(
                    messages, chat_template=template_text, add_generation_prompt=add_generation_prompt, tokenize=False
                )

        name = template if named else CHAT_TEMPLATE
        renderer = ChatRenderer(
            render_hf,
            label,
            f"tokenizer {folder}, template {name}",
            tok,
            template_text,
            piece_render_fn=render_pieces,
            layout_literals=template_literals(compiled, template_text),
        )
        renderer.tokenizer_folder, renderer.template_name = str(folder), name
        return renderer
    if template == CHAT_TEMPLATE:
        raise ConfigError("template", template, "the model's own chat template needs a tokenizer folder")
    if template_text is not None:
        label = repr(template)
        compiled = compile_template(template_text, label)
        renderer = ChatRenderer(
            lambda messages, gen: render_template(compiled, label, messages, gen),
            label,
            f"template {template}; estimate: ~{ESTIMATE_LETTERS_PER_TOKEN} letters/token, no tokenizer given",
        )
        renderer.template_name = template
        return renderer
    return ChatRenderer(
        _render_builtin_chatml,
        "ChatML (built-in)",
        f"template ChatML (built-in); estimate: ~{ESTIMATE_LETTERS_PER_TOKEN} letters/token, no tokenizer given",
    )


def _load_tokenizer(folder: Path) -> Any:
    """The folder's tokenizer: its ``tokenizer.json`` through ``tokenizers`` alone where that reads it as
    transformers would (templates/tokenizer_files.py: no torch import, ~250 MB less), else ``AutoTokenizer``."""
    if not folder.is_dir():
        raise ConfigError("tokenizer", str(folder), "folder not found")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ConfigError(
            "tokenizer", str(folder), f"no tokenizer files in this folder (looked for {', '.join(TOKENIZER_FILES)})"
        )
    light = read_tokenizer_files(folder)
    if light is not None:
        return light
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ConfigError("tokenizer", str(folder), f"exact token counts need transformers; {INSTALL_HINT}") from exc
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        raise ConfigError("tokenizer", str(folder), f"cannot load the tokenizer: {exc}") from exc


def _own_chat_template(tok: Any, folder: Path) -> str:
    # webui do_train with format "Chat Template" refuses a tokenizer without chat_template; a dict of
    # templates resolves to its "default" one, as transformers' get_chat_template does.
    if not getattr(tok, "chat_template", None):
        raise ConfigError(
            "template", CHAT_TEMPLATE, f"the tokenizer in {folder} has no chat template; name an instruction template"
        )
    try:
        return tok.get_chat_template()
    except ValueError as exc:
        raise ConfigError("template", CHAT_TEMPLATE, f"the tokenizer in {folder}: {exc}") from exc


def _render_builtin_chatml(messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
    """``BUILTIN_CHATML`` rendered in plain Python, so the default renderer needs no jinja2."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + "<|im_start|>assistant\n" if add_generation_prompt else text
