"""templates/row_layout.py: rows joined from a template's layout are the rows the template renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from discord_echo.templates.chat import load_renderer
from discord_echo.templates.instruction import (
    compile_template,
    read_instruction_template,
    render_template,
    template_literals,
)
from discord_echo.templates.row_layout import RowLayout

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "instruction-templates"
NAMED = ["Alpaca", "ChatML", "Llama-v3", "Mistral"]

# Shapes of chat templates met in the wild, written for these tests.
LAYOUT_TEMPLATES = {
    # Llama 3: BOS once, every content trimmed.
    "llama3_trim": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    ),
    # A default system line when the row has none (SmolLM2, Qwen 2).
    "default_system": (
        "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nYou help."
        "<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    ),
    # The last assistant turn marked differently (reasoning templates add an empty think block there).
    "last_turn_differs": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['role'] == 'assistant' and loop.last %}"
        "<think>\n\n</think>\n\n{% endif %}{{ m['content'] }}<|im_end|>\n{% endfor %}"
    ),
    # Llama 2: the system line inside the first user turn.
    "llama2_system_in_first_turn": (
        "{% for m in messages %}{% if m['role'] == 'system' %}<s>[INST] <<SYS>>\n{{ m['content'] }}\n<</SYS>>\n\n"
        "{% elif m['role'] == 'user' %}{% if loop.index > 2 or messages[0]['role'] != 'system' %}<s>[INST] "
        "{% endif %}{{ m['content'] }} [/INST]{% else %} {{ m['content'] }} </s>{% endif %}{% endfor %}"
    ),
}
NO_LAYOUT_TEMPLATES = {
    # Turns numbered: the middle pairs differ from one another.
    "numbered": "{% for m in messages %}[{{ loop.index }}] {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
    # The system line moved to the end.
    "system_last": (
        "{% for m in messages if m['role'] != 'system' %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% for m in messages if m['role'] == 'system' %}({{ m['content'] }}){% endfor %}"
    ),
    # Content that is escaped, not placed as it is.
    "escaped": "{% for m in messages %}{{ m['role'] }}={{ m['content'] | tojson }};{% endfor %}",
    # Reasoning templates (Qwen 3, DeepSeek R1): an assistant turn holding </think> loses what comes before it.
    "think_split": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['role'] == 'assistant' and '</think>' in "
        "m['content'] %}{{ m['content'].split('</think>')[-1] }}{% else %}{{ m['content'] }}{% endif %}"
        "<|im_end|>\n{% endfor %}"
    ),
    # A user turn that is a tool's answer is framed differently.
    "tool_response": (
        "{% for m in messages %}{% if m['content'].startswith('<tool_response>') %}<tool>{{ m['content'] }}"
        "</tool>{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    ),
    # Only a leading newline stripped (not spaces): none of the whole-content edits.
    "newline_stripped": "{% for m in messages %}<{{ m['role'] }}>{{ m['content'].lstrip('\\n') }}{% endfor %}",
}


def _rows(system: bool) -> list[list[dict[str, str]]]:
    texts = ["hey  ", "  lol what", "ok\n", "```\ncode\n```\n", " fine ", "bye", "x", "yes  \n"]
    rows = []
    for pairs in range(1, 5):
        row = [{"role": "system", "content": "You are alex. "}] if system else []
        for pair in range(pairs):
            row += [
                {"role": "user", "content": texts[(2 * pair) % len(texts)]},
                {"role": "assistant", "content": texts[(2 * pair + 1) % len(texts)]},
            ]
        rows.append(row)
    return rows


def _render_fn(text: str):
    compiled = compile_template(text, "test template")
    return lambda messages, gen: render_template(compiled, "test template", messages, gen)


def _learn(text: str, system: bool) -> RowLayout | None:
    """RowLayout.learn as the renderer calls it: probed with the template's own string constants."""
    return RowLayout.learn(_render_fn(text), system, template_literals(compile_template(text, "test"), text))


@pytest.mark.parametrize("name", sorted(LAYOUT_TEMPLATES) + [f"named:{n}" for n in NAMED])
@pytest.mark.parametrize("system", [True, False])
def test_joined_rows_are_the_rendered_rows(name, system):
    text = read_instruction_template(name[6:], TEMPLATES) if name.startswith("named:") else LAYOUT_TEMPLATES[name]
    render = _render_fn(text)
    layout = _learn(text, system)
    assert layout is not None
    for row in _rows(system):
        assert layout.text(row) == render(row, False)


@pytest.mark.parametrize("name", sorted(NO_LAYOUT_TEMPLATES))
def test_a_template_laid_out_otherwise_has_no_layout(name):
    assert _learn(NO_LAYOUT_TEMPLATES[name], system=True) is None
    if name != "system_last":  # without a system line that one is laid out like any other
        assert _learn(NO_LAYOUT_TEMPLATES[name], system=False) is None


def test_the_template_s_constants_are_what_finds_a_content_test():
    # Without its constants, the markers alone never hold "</think>": the split goes unseen.
    text = NO_LAYOUT_TEMPLATES["think_split"]
    assert RowLayout.learn(_render_fn(text), system=True) is not None
    assert _learn(text, system=True) is None


def test_a_row_of_another_shape_is_left_to_the_template():
    layout = RowLayout.learn(_render_fn(LAYOUT_TEMPLATES["llama3_trim"]), system=False)
    assert layout is not None
    user, assistant = {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}
    for row in ([user], [user, assistant, user], [assistant, user], [user, user], [user, {"role": "user"}]):
        assert layout.text(row) is None


def test_a_template_that_fails_on_the_probe_has_no_layout():
    refuses_system = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no') }}{% endif %}"
    assert RowLayout.learn(_render_fn(refuses_system + "{% endfor %}"), system=True) is None


def test_the_renderer_counts_with_the_layout_and_without_it_alike(tmp_path):
    pytest.importorskip("tokenizers")
    from discord_echo.train.tiny_models import build_tiny_tokenizer

    folder = build_tiny_tokenizer(tmp_path / "tok")
    for template in ["Chat Template", *NAMED]:
        renderer = load_renderer(folder, template, TEMPLATES)
        for system in (True, False):
            for row in _rows(system):
                expected = renderer.count_tokens(row)
                assert renderer.count_tokens_composed(row) == expected
        assert renderer._layouts[True][0] is not None and renderer._layouts[False][0] is not None
    # ChatML's strings after the head all start with an added token: its rows are counted by brackets.
    layout, bracketed = load_renderer(folder)._layout(True)
    assert layout is not None and bracketed
    # Alpaca's strings hold no added token: its rows are cut into pieces (here: one) and counted so.
    assert load_renderer(folder, "Alpaca", TEMPLATES)._layout(True)[1] is False
