"""The echo's webui character: it reads back, by the webui's rules, as exactly my name and the persona."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from discord_echo.core.errors import ConfigError
from discord_echo.core.safe_files import FileExistsRefusedError, InvalidNameError
from discord_echo.dataset.samples import DEFAULT_PERSONA
from discord_echo.evaluate.characters import (
    character_yaml,
    chat_instructions,
    persona_of_build,
    read_character,
    write_character,
)


def webui_load(path: Path) -> tuple[str, str, str]:
    """(name2, context, greeting) as webui modules/chat.py load_character computes them from a YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name2 = ""
    for key in ["name", "bot", "<|bot|>", "char_name"]:
        if key in data and data[key] != "":
            name2 = data[key]
            break
    context = data["context"].strip() if "context" in data else ""
    return name2, context, data.get("greeting", "")


PERSONAS = [
    DEFAULT_PERSONA.format(me="alex", others="Sam"),
    "She said \"hi\" and I said 'yo'",
    "key: value: more colons: here",
    "line one\nline two\n\n  indented line three",
    "Ünïcödé 名前 Привет 😅🙌 — “curly” quotes",
    "- starts like a YAML list item",
    "# starts like a comment",
    "yes",  # YAML 1.1 would read a bare yes as True
    "123",
    "null",
    "{not: a mapping}",
    "tab\there and a trailing backslash \\",
    "% percent & ampersand * star ! bang | pipe > gt @ at `tick`",
    "next\x85line and\u2028separator",  # line breaks PyYAML's default style would lose
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_character_round_trips_through_the_webuis_rules(tmp_path, persona):
    path = write_character(tmp_path, "alex", persona)
    assert path == tmp_path / "characters" / "alex.yaml"
    assert webui_load(path) == ("alex", persona, "")
    assert read_character(path) == {"name": "alex", "context": persona, "greeting": ""}


@pytest.mark.parametrize("me", ["alex", "Sam Writes", "sam.writes", "Zoë", "名前", "true", "007"])
def test_names_round_trip(tmp_path, me):
    path = write_character(tmp_path, me, "You are me.")
    assert webui_load(path)[0] == me


@settings(max_examples=150, deadline=None)
@given(
    persona=st.text(min_size=1).map(str.strip).filter(bool),
    me=st.text(min_size=1, max_size=30).filter(lambda s: s.strip()),
)
def test_any_text_round_trips(persona, me):
    data = yaml.safe_load(character_yaml(me, persona))
    assert data["name"] == me and data["context"].strip() == persona


def test_the_file_has_the_webuis_key_order_and_drops_empty_values(tmp_path):
    text = write_character(tmp_path, "alex", "You are alex.", greeting="hey").read_text(encoding="utf-8")
    assert list(yaml.safe_load(text)) == ["name", "greeting", "context"]
    assert "greeting" not in character_yaml("alex", "You are alex.")


def test_never_overwrites_without_consent(tmp_path):
    path = write_character(tmp_path, "alex", "first")
    path.write_text("name: alex\ncontext: my own edits\n", encoding="utf-8")
    with pytest.raises(FileExistsRefusedError):
        write_character(tmp_path, "alex", "second")
    assert "my own edits" in path.read_text(encoding="utf-8")
    write_character(tmp_path, "alex", "second", overwrite=True)
    assert webui_load(path)[1] == "second"


def test_file_name_can_differ_from_the_name(tmp_path):
    path = write_character(tmp_path, "🦊 fox", "You are fox.", file_name="fox")
    assert path.name == "fox.yaml" and webui_load(path)[0] == "🦊 fox"


@pytest.mark.parametrize("bad", ["../evil", "a/b", "", "CON", ".hidden"])
def test_bad_file_names_are_refused(tmp_path, bad):
    with pytest.raises(InvalidNameError):
        write_character(tmp_path, "alex", "persona", file_name=bad)
    assert not (tmp_path / "characters").exists() or not any((tmp_path / "characters").iterdir())


@pytest.mark.parametrize(("me", "persona"), [("alex", ""), ("alex", "  \n"), ("", "persona"), (" ", "persona")])
def test_empty_name_or_persona_is_refused(tmp_path, me, persona):
    with pytest.raises(ConfigError):
        write_character(tmp_path, me, persona, file_name="x")


def test_chat_instructions_for_the_models_own_template():
    persona = DEFAULT_PERSONA.format(me="alex", others="Sam")
    text = chat_instructions("Chat Template", persona, character="alex")
    assert "**instruct**" in text and "Custom system message" in text
    assert f"```\n{persona}\n```" in text
    assert "obtained from model metadata" in text and "alex" in text


def test_chat_instructions_for_a_named_template_and_a_persona_with_backticks():
    text = chat_instructions("ChatML", "use ``` fences")
    assert "**ChatML**" in text and "**Load**" in text
    assert "````\nuse ``` fences\n````" in text


def test_persona_of_build_reads_the_sidecar(tmp_path):
    sidecar = tmp_path / "echo.discord_echo.yaml"
    sidecar.write_text('{"report": {"me": "alex", "system_prompt": "You are alex."}}', encoding="utf-8")
    assert persona_of_build(sidecar) == ("alex", "You are alex.")
    sidecar.write_text('{"report": {"me": "alex", "system_prompt": null}}', encoding="utf-8")
    assert persona_of_build(sidecar) == ("alex", None)
    with pytest.raises(ConfigError, match="cannot read"):
        persona_of_build(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("me", "file"),
    [("Alex 🎮", "Alex"), ("J.D.", "J-D"), ("~alex~", "alex"), ("a/b", "a-b"), ("alex", "alex"), ("🎮", "echo")],
)
def test_display_names_that_are_not_file_names_get_a_safe_file_name(tmp_path, me, file):
    from discord_echo.evaluate.characters import read_character, write_character

    path = write_character(tmp_path, me, "You are " + me)
    assert path.name == f"{file}.yaml"
    assert read_character(path)["name"] == me  # the name inside stays exactly mine
