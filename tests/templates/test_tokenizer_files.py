"""The tokenizers-only counter (templates/tokenizer_files.py) gives transformers' text, counts and spans.

tests/templates/test_chat_templates.py already compares ``load_renderer(tiny)`` (now this path) with
``AutoTokenizer`` on every shipped template; here the same renderer built both ways is compared on the tiny
tokenizer and the SmolLM2-135M folder (when present), and each case that must fall back to transformers is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import build_tiny_tokenizer

from discord_echo.templates import chat
from discord_echo.templates.chat import CHAT_TEMPLATE, load_renderer
from discord_echo.templates.tokenizer_files import TokenizerFile, read_tokenizer_files

REPO = Path(__file__).resolve().parents[2]
SMOLLM2 = REPO / "data" / "user_data" / "models" / "SmolLM2-135M-Instruct"
sys.path[:0] = [str(REPO / "samples"), str(Path(__file__).parent)]
import make_sample  # noqa: E402
from test_chat_templates import CONVERSATIONS, NAMED, TEMPLATES  # noqa: E402

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny-tokenizer"))


def _folders(tiny_dir: Path) -> list[Path]:
    return [tiny_dir, *([SMOLLM2] if (SMOLLM2 / "tokenizer.json").is_file() else [])]


def _rows() -> list[list[dict]]:
    """The shipped test conversations plus the bundled sample chat's conversations as rows."""
    export = make_sample.build(seed=3, sessions=6)
    rows, current = [], []
    for message in export["messages"]:
        role = "assistant" if message["author"]["name"] == "alex" else "user"
        current.append({"role": role, "content": message["content"]})
        if len(current) == 6:
            if current[0]["role"] == "user":
                rows.append(current)
            current = []
    return [*CONVERSATIONS.values(), *rows]


def _through_transformers(monkeypatch, folder: Path, template: str):
    with monkeypatch.context() as patched:
        patched.setattr(chat, "read_tokenizer_files", lambda _folder: None)
        renderer = load_renderer(folder, template, TEMPLATES)
    assert not isinstance(renderer._tokenizer, TokenizerFile)
    return renderer


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, *NAMED])
def test_counts_text_and_spans_equal_transformers(tiny_dir, monkeypatch, template):
    rows = _rows()
    assert len(rows) > 10
    for folder in _folders(tiny_dir):
        light = load_renderer(folder, template, TEMPLATES)
        assert isinstance(light._tokenizer, TokenizerFile)
        heavy = _through_transformers(monkeypatch, folder, template)
        assert light.count_tokens_batch(rows) == heavy.count_tokens_batch(rows)
        for row in rows:
            assert light.render(row) == heavy.render(row)
            assert light.count_tokens(row) == heavy.count_tokens(row)
            assert light.count_tokens_composed(row) == heavy.count_tokens(row)
            assert light.trained_spans(row) == heavy.trained_spans(row)


def test_building_a_renderer_imports_neither_transformers_nor_torch(tiny_dir):
    code = (
        "import sys\n"
        "from discord_echo.templates.chat import load_renderer\n"
        f"r = load_renderer({str(tiny_dir)!r})\n"
        "assert r.exact and r.count_tokens([{'role': 'user', 'content': 'hi'}]) > 0\n"
        "r.trained_spans([{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}])\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _copy(tiny_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "tok"
    shutil.copytree(tiny_dir, folder)
    return folder


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_a_model_specific_tokenizer_class_goes_to_transformers(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    assert read_tokenizer_files(folder) is not None
    _edit_config(folder, tokenizer_class="LlamaTokenizerFast")
    assert read_tokenizer_files(folder) is None


def test_without_tokenizer_json_transformers_loads_it(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    (folder / "tokenizer.json").unlink()
    assert read_tokenizer_files(folder) is None


def test_two_different_chat_templates_go_to_transformers(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    (folder / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    assert read_tokenizer_files(folder) is None


def test_the_jinja_file_alone_is_the_chat_template(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    _edit_config(folder, chat_template=None)
    (folder / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    light = read_tokenizer_files(folder)
    assert light is not None and light.get_chat_template() == "{% for m in messages %}{{ m['content'] }}{% endfor %}"


def test_added_tokens_missing_from_tokenizer_json_go_to_transformers(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    _edit_config(folder, added_tokens_decoder={"9999": {"content": "<|new|>", "special": True}})
    assert read_tokenizer_files(folder) is None


def test_disagreeing_special_tokens_go_to_transformers(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": {"content": "</s>"}}))
    assert read_tokenizer_files(folder).special_tokens_map["eos_token"] == "</s>"
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": "<pad>"}))
    assert read_tokenizer_files(folder) is None


def test_several_named_templates_use_the_default_one(tiny_dir, tmp_path):
    folder = _copy(tiny_dir, tmp_path)
    _edit_config(folder, chat_template=[{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}])
    assert read_tokenizer_files(folder).get_chat_template() == "A"
    _edit_config(folder, chat_template=[{"name": "tool_use", "template": "B"}])
    with pytest.raises(ValueError, match="no default"):
        read_tokenizer_files(folder).get_chat_template()
