"""templates/chat.py: rendering, token counts and trained spans as the webui trainer computes them.

The reference for "what the trainer does" is ``webui_labels`` below: the label rule of webui
modules/training.py ``tokenize_conversation`` (1dcde41d), re-stated here in test code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_models import CHATML, build_tiny_tokenizer

from discord_echo.core.errors import ConfigError
from discord_echo.templates.chat import (
    CHAT_TEMPLATE,
    ChatTemplateError,
    estimate_tokens,
    load_renderer,
    read_instruction_template,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "instruction-templates"
NAMED = ["Alpaca", "ChatML", "Llama-v3", "Mistral"]


def _m(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


CONVERSATIONS = {
    "one_turn": [_m("user", "hey how are you?"), _m("assistant", "lol good, you?")],
    "system_and_three_replies": [
        _m("system", "You are alex. Reply like alex."),
        _m("user", "Did you hear anything about the exam?"),
        _m("assistant", "ngl i totally forgot about the exam 😅"),
        _m("user", "It is on Friday."),
        _m("assistant", "wait fr?? 💀"),
        _m("user", "Yes, at 9."),
        _m("assistant", "ok ok ill study tonight 👍"),
    ],
    "back_to_back_replies": [
        _m("user", "what time?"),
        _m("assistant", "7pm"),
        _m("assistant", " maybe 8 idk\n"),
        _m("user", "ok"),
        _m("assistant", "cool 🙌"),
    ],
    "code_and_spaces": [
        _m("user", "how do i print twice?  "),
        _m("assistant", "```python\nfor i in range(2):\n    print(i)\n```\n"),
    ],
    # A reply opening with spaces: byte-level BPE may merge them into the header's newline token, and the
    # prefix rule then leaves them untrained.
    "leading_spaces": [
        _m("user", "  and with spaces?  "),
        _m("assistant", "   like   this   "),
    ],
}
# Conversations whose replies are trained exactly as written (no token straddles a reply's start).
CLEAN = sorted(set(CONVERSATIONS) - {"leading_spaces"})


def webui_labels(tok, messages, template: str) -> tuple[list[int], list[int]]:
    """Token ids and labels of one row: everything -100 except each assistant turn, from the end of
    ``messages[:i]`` + generation prompt to the end of ``messages[:i+1]``."""

    def ids(msgs, gen=False):
        return list(
            tok.apply_chat_template(
                msgs, chat_template=template, tokenize=True, return_dict=False, add_generation_prompt=gen
            )
        )

    full = ids(messages)
    labels = [-100] * len(full)
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start, end = len(ids(messages[:i], True)), min(len(ids(messages[: i + 1])), len(full))
            labels[start:end] = full[start:end]
    return full, labels


def trained_runs(tok, full: list[int], labels: list[int]) -> list[str]:
    """Decoded text of each run of unmasked tokens."""
    runs: list[list[int]] = []
    for index, (token, label) in enumerate(zip(full, labels, strict=True)):
        if label == -100:
            continue
        if runs and labels[index - 1] != -100:
            runs[-1].append(token)
        else:
            runs.append([token])
    return [tok.decode(run, skip_special_tokens=False, clean_up_tokenization_spaces=False) for run in runs]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny-tokenizer"))


@pytest.fixture(scope="module")
def tok(tiny_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(tiny_dir), local_files_only=True)


@pytest.fixture(scope="module")
def exact(tiny_dir):
    return load_renderer(tiny_dir)


def template_text(name: str) -> str:
    return read_instruction_template(name, TEMPLATES)


# --- the tiny tokenizer itself


def test_tiny_tokenizer_builds_fast_and_loads_offline(tmp_path, tok):
    started = time.perf_counter()
    folder = build_tiny_tokenizer(tmp_path / "tok")
    assert time.perf_counter() - started < 2
    assert {p.name for p in folder.iterdir()} == {"tokenizer.json", "tokenizer_config.json"}
    assert 500 <= len(tok) <= 2000
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == ("<s>", "</s>", "<pad>", "<unk>")
    assert tok.chat_template == CHATML
    assert len(tok("<|im_start|><|im_end|>", add_special_tokens=False)["input_ids"]) == 2


# --- rendering


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_render_is_the_tokenizers_own_text(exact, tok, name):
    messages = CONVERSATIONS[name]
    assert exact.render(messages) == tok.apply_chat_template(messages, tokenize=False)


@pytest.mark.parametrize("name", CLEAN)
def test_builtin_chatml_renders_like_the_jinja_template(tok, name):
    messages = CONVERSATIONS[name]
    default = load_renderer()
    assert default.render(messages) == tok.apply_chat_template(messages, chat_template=CHATML, tokenize=False)
    assert default.trained_spans(messages) == load_renderer(tok.name_or_path).trained_spans(messages)


@pytest.mark.parametrize("template", NAMED)
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_named_templates_render_like_transformers_with_or_without_tokenizer(tiny_dir, tok, template, name):
    messages = CONVERSATIONS[name]
    expected = tok.apply_chat_template(messages, chat_template=template_text(template), tokenize=False)
    assert load_renderer(tiny_dir, template, TEMPLATES).render(messages) == expected
    assert load_renderer(None, template, TEMPLATES).render(messages) == expected


# --- token counts


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, *NAMED])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_count_tokens_is_the_trainers_count(tiny_dir, tok, template, name):
    messages = CONVERSATIONS[name]
    text = tok.chat_template if template == CHAT_TEMPLATE else template_text(template)
    renderer = load_renderer(tiny_dir, template, TEMPLATES)
    assert renderer.exact
    assert renderer.count_tokens(messages) == len(webui_labels(tok, messages, text)[0])
    # transformers 5 returns a BatchEncoding by default; the count is the same.
    assert renderer.count_tokens(messages) == len(tok.apply_chat_template(messages, chat_template=text)["input_ids"])


# --- trained spans


@pytest.mark.parametrize("name", CLEAN)
def test_chatml_trains_each_reply_and_its_end_of_turn_only(exact, name):
    messages = CONVERSATIONS[name]
    trained = [text for text, is_trained in exact.segments(messages) if is_trained]
    replies = [m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant"]
    assert trained == replies
    untrained = "".join(text for text, is_trained in exact.segments(messages) if not is_trained)
    for message in messages:
        if message["role"] != "assistant":
            assert message["content"] in untrained


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, *NAMED])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_trained_spans_are_the_webui_labels(tiny_dir, tok, template, name):
    messages = CONVERSATIONS[name]
    text = tok.chat_template if template == CHAT_TEMPLATE else template_text(template)
    renderer = load_renderer(tiny_dir, template, TEMPLATES)
    rendered = renderer.render(messages)
    spans = renderer.trained_spans(messages)
    assert [rendered[a:b] for a, b in spans] == trained_runs(tok, *webui_labels(tok, messages, text))
    assert "".join(piece for piece, _ in renderer.segments(messages)) == rendered
    # Each reply is learned; no user or system text is.
    trained_text = "".join(rendered[a:b] for a, b in spans)
    for message in messages:
        if message["role"] == "assistant":
            assert message["content"].strip() in trained_text
        else:
            assert message["content"].strip() not in trained_text


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, *NAMED])
def test_trained_spans_with_trimmed_offsets(tmp_path, template):
    # GPT-2-style tokenizers trim spaces off their offsets. "\n  " is one token here, so the trainer starts
    # the reply after two of its leading spaces, and the span must too.
    transformers = pytest.importorskip("transformers")
    folder = build_tiny_tokenizer(tmp_path / "trimmed")
    config = json.loads((folder / "tokenizer.json").read_text())
    config["post_processor"]["trim_offsets"] = True
    (folder / "tokenizer.json").write_text(json.dumps(config))
    tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    messages = CONVERSATIONS["leading_spaces"]
    text = tok.chat_template if template == CHAT_TEMPLATE else template_text(template)
    renderer = load_renderer(folder, template, TEMPLATES)
    rendered = renderer.render(messages)
    runs = trained_runs(tok, *webui_labels(tok, messages, text))
    assert [rendered[a:b] for a, b in renderer.trained_spans(messages)] == runs
    if template == CHAT_TEMPLATE:
        assert runs[-1] == " like   this   <|im_end|>\n"


@pytest.mark.parametrize("template", NAMED)
def test_trained_spans_without_tokenizer_follow_the_same_rule(tiny_dir, template):
    messages = CONVERSATIONS["system_and_three_replies"]
    estimated = load_renderer(None, template, TEMPLATES)
    assert not estimated.exact
    assert estimated.render(messages) == load_renderer(tiny_dir, template, TEMPLATES).render(messages)
    for message, (start, end) in zip(
        [m for m in messages if m["role"] == "assistant"], estimated.trained_spans(messages), strict=True
    ):
        assert message["content"].rstrip() in estimated.render(messages)[start:end]


def test_preview_marks_trained_text(exact):
    preview = exact.preview(CONVERSATIONS["one_turn"])
    assert preview.endswith("<|im_start|>assistant\n⟦lol good, you?<|im_end|>\n⟧")
    assert preview.count("⟦") == 1


# --- the estimate

SAMPLES = [
    "hey whats up",
    "yeah i think so too, see you tomorrow!",
    "Honestly I think the refactor is overdue, but let's wait until Monday.",
    "that word is antidisestablishmentarianism lol",
    "noooooo way!!! hahahahaha",
    "😅😅😅 🎉 👍🏽 ❤️ 🔥🔥🔥",
    "👨‍👩‍👧‍👦 family pic",
    "def f(x):\n    return {k: v for k, v in x.items() if v is not None}\n",
    "```js\nconst a = [1, 2, 3].map((n) => n * 2);\nconsole.log(a);\n```",
    "Привет! Как у тебя дела сегодня?",
    "今日はとても楽しかったです。また遊びましょう！",
    "你好，我们明天见面吧。",
    "Ça m'énerve, c'est très bizarre.",
    "γεια σου τι κάνεις; مرحبا كيف حالك שלום",
    "नमस्ते आप कैसे हैं สวัสดีครับ 안녕하세요",
    "call me at 555-0123 or 4155550000",
    "https://discord.com/channels/123456789012345678/987654321098765432",
    "ok\n\nok\n\n\nok    indented    text",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_estimate_is_at_least_the_exact_count(exact, sample):
    messages = [_m("system", "You are alex."), _m("user", "hi"), _m("assistant", sample)]
    estimated = load_renderer()
    assert not estimated.exact and "estimate" in estimated.description
    assert estimated.count_tokens(messages) >= exact.count_tokens(messages)


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not any("a" <= c.lower() <= "z" for c in s)])
def test_estimate_bounds_text_without_ascii_words(tok, sample):
    # Only ASCII words are guessed; any other text is bounded by one token per UTF-8 byte.
    assert estimate_tokens(sample) >= len(tok(sample, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("the", 1), (" hello", 2), ("555", 3), (" 42", 3), ("?!", 2), ("😅", 4), ("é", 2), ("a  b", 4)],
)
def test_estimate_rules(text, expected):
    assert estimate_tokens(text) == expected


# --- descriptions, laziness


def test_descriptions(tiny_dir):
    assert load_renderer(tiny_dir).description == f"tokenizer {tiny_dir}, template Chat Template"
    assert load_renderer(tiny_dir, "Mistral", TEMPLATES).description == f"tokenizer {tiny_dir}, template Mistral"
    assert load_renderer(None, "Mistral", TEMPLATES).description.startswith("template Mistral; estimate")
    assert load_renderer().description.startswith("template ChatML (built-in); estimate")


def test_default_renderer_needs_no_optional_packages():
    code = (
        "import sys, discord_echo, discord_echo.templates.chat as c\n"
        "r = c.load_renderer()\n"
        "r.count_tokens([{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}])\n"
        "assert not {'transformers', 'jinja2', 'yaml', 'tokenizers'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- errors


def test_missing_tokenizer_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"tokenizer=.*nope.*: folder not found"):
        load_renderer(tmp_path / "nope")


def test_folder_without_tokenizer_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"no tokenizer files in this folder \(looked for tokenizer\.json"):
        load_renderer(tmp_path)


def test_broken_tokenizer_file(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')
    with pytest.raises(ConfigError, match="cannot load the tokenizer"):
        load_renderer(tmp_path)


def test_tokenizer_without_chat_template(tmp_path):
    folder = build_tiny_tokenizer(tmp_path / "plain", chat_template=None)
    with pytest.raises(ConfigError, match="has no chat template; name an instruction template"):
        load_renderer(folder)
    assert load_renderer(folder, "ChatML", TEMPLATES).exact


def test_chat_template_needs_a_tokenizer():
    with pytest.raises(ConfigError, match="the model's own chat template needs a tokenizer folder"):
        load_renderer(None, CHAT_TEMPLATE)


@pytest.mark.parametrize("with_tokenizer", [False, True])
def test_template_that_fails_to_render(tmp_path, tiny_dir, with_tokenizer):
    (tmp_path / "Strict.jinja").write_text(
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System messages are not supported') }}{% endif %}{{ m['content'] }}{% endfor %}"
    )
    renderer = load_renderer(tiny_dir if with_tokenizer else None, "Strict", tmp_path)
    assert renderer.render(CONVERSATIONS["one_turn"]) == "hey how are you?lol good, you?"
    with pytest.raises(ChatTemplateError, match="'Strict': cannot render this conversation: System messages"):
        renderer.count_tokens(CONVERSATIONS["system_and_three_replies"])


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "the conversation has no messages"),
        ([_m("assistant", "hi")], "starts with an assistant message; the webui trainer cannot mask it"),
        ([_m("bot", "hi")], r"messages\[0\] has role 'bot'"),
        ([{"role": "user", "content": None}], r"messages\[0\] content is not text"),
    ],
)
def test_conversations_the_trainer_cannot_take(exact, messages, message):
    for renderer in (exact, load_renderer()):
        with pytest.raises(ChatTemplateError, match=message):
            renderer.trained_spans(messages)


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, *NAMED])
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_composed_and_batched_counts_are_the_trainers_count(tiny_dir, tok, template, name):
    # The dataset builder packs with count_tokens_composed (cached pieces) and verifies with count_tokens_batch.
    messages = CONVERSATIONS[name]
    text = tok.chat_template if template == CHAT_TEMPLATE else template_text(template)
    renderer = load_renderer(tiny_dir, template, TEMPLATES)
    trainer = len(tok.apply_chat_template(messages, chat_template=text)["input_ids"])
    renderer.prime([messages, messages[:1]])
    assert renderer.count_tokens_composed(messages) == trainer
    assert renderer.count_tokens_batch([messages, messages]) == [trainer, trainer]
    assert renderer._piece_render_fn(messages, False) == renderer.render(messages)


def test_a_full_piece_cache_never_loses_a_count_it_is_about_to_add(tiny_dir, tok, monkeypatch):
    # The cache empties itself when full; a count that overfills it must still use the pieces it looked up.
    renderer = load_renderer(tiny_dir)
    monkeypatch.setattr(type(renderer), "PIECE_CACHE_LIMIT", 6)
    rows = [CONVERSATIONS[name] for name in sorted(CONVERSATIONS)]
    renderer.prime(rows[:2])
    for messages in rows:
        expected = len(tok.apply_chat_template(messages, chat_template=tok.chat_template)["input_ids"])
        assert renderer.count_tokens_composed(messages) == expected
