"""templates/instruction.py: finding, reading and compiling webui instruction templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.templates.instruction import (
    ChatTemplateError,
    available_instruction_templates,
    compile_template,
    read_instruction_template,
    render_template,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "instruction-templates"
ONE_TURN = [{"role": "user", "content": "hey"}, {"role": "assistant", "content": "yo"}]


def test_available_templates():
    assert available_instruction_templates(TEMPLATES) == ["Alpaca", "ChatML", "Llama-v3", "Mistral"]
    assert available_instruction_templates(TEMPLATES / "missing") == []


@pytest.mark.parametrize("suffix", [".jinja", ".jinja2", ".yaml", ".yml"])
def test_each_template_suffix(tmp_path, suffix):
    jinja = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    if suffix.startswith(".y"):
        (tmp_path / f"Plain{suffix}").write_text("instruction_template: |-\n" + textwrap.indent(jinja, "  "))
    else:
        (tmp_path / f"Plain{suffix}").write_text(jinja)
    compiled = compile_template(read_instruction_template("Plain", tmp_path), "'Plain'")
    assert render_template(compiled, "'Plain'", ONE_TURN, False) == "user: hey\nassistant: yo\n"


def test_jinja_file_wins_over_yaml_as_in_the_webui(tmp_path):
    (tmp_path / "T.yaml").write_text("instruction_template: from yaml\n")
    (tmp_path / "T.jinja").write_text("from jinja")
    assert read_instruction_template("T", tmp_path) == "from jinja"


def test_unparsable_yaml_is_raw_jinja(tmp_path):
    (tmp_path / "Raw.yaml").write_text("{{ messages[0]['content'] }}: [unclosed")
    assert read_instruction_template("Raw", tmp_path) == "{{ messages[0]['content'] }}: [unclosed"


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"'Vicuna': no such instruction template .*available: Alpaca, ChatML, "):
        read_instruction_template("Vicuna", TEMPLATES)


@pytest.mark.parametrize(
    ("name", "directory", "message"),
    [
        ("ChatML", None, "instruction_templates_dir=None: needed to find the instruction template 'ChatML'"),
        ("../ChatML", TEMPLATES, "must be a template name, not a path"),
        ("ChatML", Path("/no/such/dir"), "folder not found"),
    ],
)
def test_bad_template_lookups(name, directory, message):
    with pytest.raises(ConfigError, match=message):
        read_instruction_template(name, directory)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("turn_template: '<|user|>: <|user-message|>'\nuser: U\n", "old-style 'turn_template' files are not supported"),
        ("context: hi\n", "has no 'instruction_template' key"),
        ("- a list\n", "expected a YAML mapping"),
        ("instruction_template: ''\n", "holds an empty template"),
    ],
)
def test_bad_template_files(tmp_path, content, message):
    (tmp_path / "Bad.yaml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_instruction_template("Bad", tmp_path)


def test_invalid_jinja():
    with pytest.raises(ChatTemplateError, match=r"chat template 'Bad': is not a valid jinja template"):
        compile_template("{% for m in messages %}", "'Bad'")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ raise_exception('Roles must alternate') }}", "Roles must alternate"),
        ("{{ messages[0]['content'] + 1 }}", "can only concatenate str"),
        ("{{ messages[5]['content'].strip() }}", "has no element 5"),
    ],
)
def test_render_failures(template, message):
    compiled = compile_template(template, "'T'")
    with pytest.raises(ChatTemplateError, match=f"chat template 'T': cannot render this conversation: .*{message}"):
        render_template(compiled, "'T'", ONE_TURN, False)


def test_transformers_extras_are_available():
    compiled = compile_template(
        "{% generation %}{{ messages | tojson }}{% endgeneration %}{% for m in messages %}{% break %}{% endfor %}",
        "'T'",
    )
    assert render_template(compiled, "'T'", [{"role": "user", "content": "é <b>"}], False) == (
        '[{"role": "user", "content": "é <b>"}]'
    )
