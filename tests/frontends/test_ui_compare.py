"""The tab's Compare section on a LoRA trained in the test (tiny demo model, bundled sample)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from factories import profile_values, write_dataset_in_tab  # noqa: E402

from discord_echo.evaluate.characters import read_character  # noqa: E402
from discord_echo.evaluate.session import TYPED_PICK  # noqa: E402
from discord_echo.frontends.app import make_context  # noqa: E402
from discord_echo.frontends.ui.tab import EchoTab  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


def _values(widgets: dict) -> list:
    return [w.value for w in widgets.values()]


@pytest.fixture(scope="module")
def trained_tab(tmp_path_factory):
    import gradio as gr

    context = make_context(tmp_path_factory.mktemp("compare") / "user_data")
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    c, panel = tab.c, tab.train_panel
    write_dataset_in_tab(tab, SAMPLE, "cmp-echo")
    values = profile_values(panel, "CPU (no GPU)", epochs=4, learning_rate=0.02, save_steps=0, eval_steps=50)
    updates = list(panel.on_train(c["model"].value, "cmp-echo", "cmp-lora", "Chat Template", False, False, *values))
    assert "Done. Saved" in updates[-1][0], updates[-1][0]
    return tab


def test_held_out_conversations_load_and_three_columns_fill(trained_tab):
    tab, cp = trained_tab, trained_tab.compare_panel
    status, dropdown, pairs = cp.on_load("cmp-echo")
    assert "held-out replies of yours" in status and pairs
    settings = _values(cp.settings_widgets)
    # (label, value) choices: the first held-out pair is chosen, and its value is its index, not its label.
    label, pick = dropdown.choices[1]
    assert label.startswith("1. ") and pick == 0 and dropdown.value == pick
    assert dropdown.choices[0][1] == TYPED_PICK
    updates = list(
        cp.on_compare(tab.c["model"].value, "cmp-lora", "Chat Template", pairs, pick, "", "cmp-echo", *settings)
    )
    status, friend, real, base, tuned = updates[-1]
    assert status.startswith("Same prompt")
    assert friend and real == pairs[0]["reply"] and base and tuned
    assert len(updates) > 3  # streamed, not one final answer


def test_typed_message_gets_base_and_tuned_replies(trained_tab):
    tab, cp = trained_tab, trained_tab.compare_panel
    updates = list(
        cp.on_compare(
            tab.c["model"].value,
            "cmp-lora",
            "Chat Template",
            [],
            TYPED_PICK,
            "Are you coming to the game?",
            "cmp-echo",
            *_values(cp.settings_widgets),
        )
    )
    _, friend, real, base, tuned = updates[-1]
    assert friend == "Are you coming to the game?" and real == "" and base and tuned


def test_evaluate_scores_and_saves_the_report(trained_tab):
    tab, cp = trained_tab, trained_tab.compare_panel
    *progress, out = cp.on_evaluate(
        tab.c["model"].value, "cmp-lora", "Chat Template", "cmp-echo", 3, *_values(cp.settings_widgets)
    )
    status, numbers, chart, style, echo, rows, report, evaluated = out
    assert status.startswith("Evaluated")
    assert len(rows) == 3 and list(rows.columns) == ["friend", "real", "base", "tuned"]
    assert set(chart["model"]) == {"base", "tuned"}
    assert "Report saved to" in report
    saved = tab.context.loras_dir / "cmp-lora" / "discord_echo_report.md"
    assert saved.is_file()
    # The numbers that say "on topic": topicality of real, base and tuned replies, and the style distance.
    measures = list(echo["measure"])
    assert "topicality per token (nats)" in measures and "style distance to your real replies" in measures
    assert "## On topic?" in saved.read_text(encoding="utf-8")

    # The blind test runs on the evaluated rows, one round at a time, and the report keeps its score.
    score, test, friend, reply_a, reply_b = cp.on_blind_start(evaluated)
    assert test is not None and len(test.rounds) == 3 and "none answered" in score
    assert friend == test.rounds[0].prompt and {reply_a, reply_b} == set(test.rounds[0].options)
    echo_side = test.rounds[0].echo_option
    score, test, *_ = (cp.on_blind_pick_a if echo_side == 0 else cp.on_blind_pick_b)(evaluated, test)
    assert test.passed == 1 and "1 of 1" in score
    assert "## Which one is you?" in saved.read_text(encoding="utf-8")


def test_character_is_written_once_and_instructions_say_instruct_mode(trained_tab):
    tab, cp = trained_tab, trained_tab.compare_panel
    status, instructions = cp.on_character("cmp-echo", "Chat Template", False)
    assert "Wrote the character" in status and "instruct" in instructions
    character = read_character(tab.context.user_data / "characters" / "alex.yaml")
    assert character["name"] == "alex" and "alex" in character["context"]
    again, _ = cp.on_character("cmp-echo", "Chat Template", False)
    assert "already exists" in again


def test_compare_without_a_lora_says_what_to_do(trained_tab):
    tab, cp = trained_tab, trained_tab.compare_panel
    updates = list(
        cp.on_compare(
            tab.c["model"].value,
            "no-such-lora",
            "Chat Template",
            [],
            TYPED_PICK,
            "hi",
            "cmp-echo",
            *_values(cp.settings_widgets),
        )
    )
    assert "no trained LoRA there yet" in updates[-1][0]


def test_retraining_under_the_same_name_makes_compare_load_the_new_adapter(trained_tab):
    tab, cp, panel = trained_tab, trained_tab.compare_panel, trained_tab.train_panel
    model = tab.c["model"].value
    first = cp.comparer(model, "cmp-lora", "Chat Template")
    assert cp.comparer(model, "cmp-lora", "Chat Template") is first  # cached while nothing changed
    values = profile_values(panel, "Tiny demo model (CPU)", epochs=1)
    updates = list(panel.on_train(model, "cmp-echo", "cmp-lora", "Chat Template", False, True, *values))
    assert "Done. Saved" in updates[-1][0]
    assert cp.comparer(model, "cmp-lora", "Chat Template") is not first


def test_train_and_reload_refuse_while_compare_or_evaluate_is_using_the_model(trained_tab):
    """Dropping Compare's cached model does not stop a running stream or Evaluate worker: they keep generating
    and switching the adapter (in the webui on the model a run would train), so Train waits for them."""
    import time

    tab, cp, panel = trained_tab, trained_tab.compare_panel, trained_tab.train_panel
    model, settings = tab.c["model"].value, _values(cp.settings_widgets)
    values = profile_values(panel, "Tiny demo model (CPU)", epochs=1)

    def train() -> str:  # cmp-lora exists and overwrite is off: a run that is let through is refused at once
        return list(panel.on_train(model, "cmp-echo", "cmp-lora", "Chat Template", False, False, *values))[-1][0]

    busy = "Compare/Evaluate is using the model; wait or cancel it"
    streaming = cp.on_compare(model, "cmp-lora", "Chat Template", [], TYPED_PICK, "hi", "cmp-echo", *settings)
    next(streaming)
    assert next(streaming)[0] == "Base model replying…"  # the stream holds its Comparer now
    assert busy in train()
    assert busy in panel.on_reload_4bit(*values)  # reloading the model under it is refused too
    assert not panel.training
    streaming.close()  # the page went away: the stream let go of the model
    assert not cp.using_model() and "already exists" in train()

    # The worker is held at its model load until Train has been asked, so it cannot finish first on a fast
    # machine (the tiny model evaluates 3 prompts in well under a second): a gate, not a stand-in.
    gate, load = threading.Event(), cp.comparer
    cp.comparer = lambda *args: (gate.wait(60), load(*args))[1]
    try:
        evaluating = cp.on_evaluate(model, "cmp-lora", "Chat Template", "cmp-echo", 3, *settings)
        next(evaluating)  # the worker is running
        assert busy in train()
        assert "Evaluation cancelled" in cp.on_cancel_evaluate()
    finally:
        gate.set()
        cp.comparer = load
    evaluating.close()  # gradio's cancels= closes the page's generator; the worker stops at its next step
    deadline = time.monotonic() + 120
    while cp.using_model() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not cp.using_model() and "already exists" in train()
