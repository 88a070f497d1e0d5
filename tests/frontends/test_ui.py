"""The tab's handlers, called the way gradio calls them (no browser): read, preview, write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from factories import profile_values, write_dataset_in_tab  # noqa: E402

from discord_echo.frontends.app import build_app, make_context  # noqa: E402
from discord_echo.frontends.ui.tab import EchoTab, TabContext  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


@pytest.fixture()
def tab(tmp_path):
    import gradio as gr

    context = make_context(tmp_path / "user_data")
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    return tab


def _values(tab: EchoTab) -> list:
    return [w.value for stage in tab.forms.values() for w in stage.values()]


def test_every_component_has_an_elem_id(tmp_path):
    demo = build_app(make_context(tmp_path / "ud"))
    ids = [b.elem_id for b in demo.blocks.values() if b.elem_id]
    interactive = [
        b
        for b in demo.blocks.values()
        if b.__class__.__name__ in ("Button", "Textbox", "Checkbox", "Dropdown", "Number", "File")
    ]
    assert all(b.elem_id and b.elem_id.startswith("discord-echo-") for b in interactive)
    assert len(set(ids)) == len(ids)  # unique, so tests and CSS never hit the webui's own components


def test_read_preview_write(tab, tmp_path):
    out = tab.on_read([str(SAMPLE)], "")
    c = tab.c
    assert "Read 376 messages from 1 file" in out[c["status"]]
    assert "Direct Messages" in out[c["summary"]]
    choices = out[c["me"]].choices
    alex = next(value for label, value in choices if label.startswith("alex"))
    assert out[c["timeline"]]["messages"].sum() == 376

    preview = tab.on_preview(out[c["paths"]], [alex], c["model"].value, "Chat Template", None, *_values(tab))
    assert "training samples ready" in preview[c["preview_status"]]  # beside the Preview button
    assert c["status"] not in preview
    assert "<mark" in preview[c["preview"]] and "&lt;|im_start|&gt;assistant" in preview[c["preview"]]
    assert "alex" in preview[c["report"]]

    written = tab.on_write(preview[c["result"]], "tab-echo", False)
    assert "Wrote tab-echo.json" in written[c["write_status"]]  # beside the Write button, not far above
    assert c["status"] not in written
    rows = json.loads((tab.context.user_data / "training" / "datasets" / "tab-echo.json").read_text())
    assert rows and rows[0]["messages"][-1]["role"] == "assistant"
    # Writing again without the checkbox is refused, with the reason beside the button.
    again = tab.on_write(preview[c["result"]], "tab-echo", False)
    assert "already exists" in again[c["write_status"]]


def test_errors_become_messages_not_tracebacks(tab, tmp_path):
    c = tab.c
    assert "add export files or a folder first" in tab.on_read([], "")[c["status"]]
    assert "no such folder" in tab.on_read([], str(tmp_path / "missing"))[c["status"]]
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    out = tab.on_read([str(bad)], "")
    assert "bad.json" in out[c["summary"]]  # the file's own error, shown in its summary
    assert (
        "pick which author is you"
        in tab.on_preview([str(SAMPLE)], [], "", "Chat Template", None, *_values(tab))[c["preview_status"]]
    )
    values = _values(tab)
    names = [n for stage in tab.forms.values() for n in stage]
    values[names.index("gap_minutes")] = 0
    failed = tab.on_preview([str(SAMPLE)], ["alex"], "", "Chat Template", None, *values)
    assert "gap_minutes=0: must be positive" in failed[c["preview_status"]]
    missing = str(tmp_path / "no-such-model")
    failed = tab.on_preview([str(SAMPLE)], ["alex"], missing, "Chat Template", None, *_values(tab))
    assert f"model=&#x27;{missing}&#x27;: no model folder here" in failed[c["preview_status"]]  # HTML-escaped
    assert "preview the samples first" in tab.on_write(None, "x", False)[c["write_status"]]


def test_multi_user_mode_disables_writing(tmp_path):
    import gradio as gr

    context = TabContext(user_data=tmp_path, loras_dir=tmp_path / "loras", multi_user=True)
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    assert tab.c["write"].interactive is False
    assert "disabled in --multi-user mode" in tab.on_write(("x", "y"), "n", False)[tab.c["write_status"]]


def test_multi_user_mode_disables_training_and_character_files(tmp_path):
    import gradio as gr

    from discord_echo.train.standalone.host import StandaloneHost

    context = make_context(tmp_path / "ud", with_demo=False)
    context.multi_user = True
    context.host_factory = StandaloneHost
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    panel, compare = tab.train_panel, tab.compare_panel
    assert panel.c["train"].interactive is False and compare.c["character"].interactive is False
    values = [w.value for w in panel.settings_widgets.values()]
    (html, _), *_ = list(panel.on_train("m", "d", "l", "Chat Template", False, False, *values))
    assert "training is disabled in --multi-user mode" in html
    assert "disabled in --multi-user mode" in compare.on_character("d", "Chat Template", False)[0]
    assert not any((tmp_path / "ud" / "loras").iterdir()) and not any((tmp_path / "ud" / "characters").iterdir())


def test_train_from_the_tab_streams_progress_and_saves_the_lora(tab):
    """The whole road in the tab on the bundled sample and the demo model (tiny, built locally)."""
    c, panel = tab.c, tab.train_panel
    write_dataset_in_tab(tab, SAMPLE, "ui-echo")
    values = profile_values(panel, "CPU (no GPU)", epochs=2, learning_rate=0.01, save_steps=0, eval_steps=5)
    updates = list(panel.on_train(c["model"].value, "ui-echo", "ui-lora", "Chat Template", False, False, *values))
    texts = [html for html, _ in updates]
    assert "Done. Saved" in texts[-1], texts[-1]
    assert any("step " in t and " left" in t for t in texts[:-1])  # progress streamed while it ran
    final_plot = updates[-1][1]
    assert set(final_plot["series"]) >= {"train", "held-out"}
    adapter = tab.context.loras_dir / "ui-lora"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "training_log.json").is_file()
    # Training again under the same name is refused without the checkbox: the LoRA is kept.
    again = list(panel.on_train(c["model"].value, "ui-echo", "ui-lora", "Chat Template", False, False, *values))
    assert "already exists" in again[-1][0]


def test_a_profile_chosen_after_write_rebuilds_the_dataset_for_its_cutoff_instead_of_refusing(tab, tmp_path):
    """Read -> me -> Preview (built for 512) -> Write -> a profile with a shorter cutoff -> Train trains."""
    c, panel = tab.c, tab.train_panel
    read = tab.on_read([str(SAMPLE)], "")
    values = _values(tab)
    names = [n for stage in tab.forms.values() for n in stage]
    values[names.index("cutoff_len")] = 2048
    preview = tab.on_preview(read[c["paths"]], ["alex"], c["model"].value, "Chat Template", None, *values)
    written = tab.on_write(preview[c["result"]], "late", False, preview[c["recipe"]])
    assert "(cutoff 2048)" in written[c["write_status"]]
    sidecar = tab.context.user_data / "training" / "datasets" / "late.discord_echo.yaml"
    longest = json.loads(sidecar.read_text())["report"]["samples"]["max_tokens"]
    short = longest - 1  # the demo tokenizer's samples are short; a profile's cutoff just below the longest
    settings = profile_values(panel, "CPU (no GPU)", cutoff_len=short, epochs=1, save_steps=0, eval_steps=0)
    updates = list(panel.on_train(c["model"].value, "late", "late-lora", "Chat Template", False, False, *settings,
                                  written[c["written"]]))
    texts = [html for html, _ in updates]
    assert any(f"Rebuilt dataset late for cutoff {short}" in t and "written for 2048" in t for t in texts), texts
    assert "Done. Saved" in texts[-1], texts[-1]
    assert json.loads(sidecar.read_text())["settings"]["dataset"]["cutoff_len"] == short
    # A dataset this tab did not write cannot be rebuilt: the refusal says what to do.
    (tab.context.user_data / "training" / "datasets" / "late.json").rename(
        tab.context.user_data / "training" / "datasets" / "other.json"
    )
    sidecar.rename(sidecar.with_name("other.discord_echo.yaml"))
    shorter = profile_values(panel, "CPU (no GPU)", cutoff_len=8, epochs=1, save_steps=0, eval_steps=0)
    refused = list(panel.on_train(c["model"].value, "other", "o", "Chat Template", False, False, *shorter,
                                  written[c["written"]]))
    assert "Preview and Write dataset again" in refused[-1][0] and "--cutoff 8 --overwrite" in refused[-1][0]


def _written_for_a_long_cutoff(tab, export, name: str) -> tuple[dict, int]:
    """Preview ``export`` for cutoff 2048 and write it as ``name``: ``(the written State, a cutoff just below
    its longest sample)``, so that Train with that cutoff rebuilds the dataset first."""
    c = tab.c
    read = tab.on_read([str(export)], "")
    values = _values(tab)
    names = [n for stage in tab.forms.values() for n in stage]
    values[names.index("cutoff_len")] = 2048
    preview = tab.on_preview(read[c["paths"]], ["alex"], c["model"].value, "Chat Template", None, *values)
    written = tab.on_write(preview[c["result"]], name, False, preview[c["recipe"]])
    sidecar = tab.context.user_data / "training" / "datasets" / f"{name}.discord_echo.yaml"
    return written[c["written"]], json.loads(sidecar.read_text())["report"]["samples"]["max_tokens"] - 1


def test_interrupt_while_the_dataset_is_rebuilt_stops_before_training_starts(tab):
    c, panel = tab.c, tab.train_panel
    written, short = _written_for_a_long_cutoff(tab, SAMPLE, "stopped")
    settings = profile_values(panel, "CPU (no GPU)", cutoff_len=short, epochs=1, save_steps=0, eval_steps=0)
    run = panel.on_train(c["model"].value, "stopped", "stopped-lora", "Chat Template", False, False, *settings, written)
    assert "Rebuilding the dataset" in next(run)[0]
    assert "training will not start" in panel.on_stop()  # Interrupt pressed while it rebuilds
    texts = [html for html, _ in run]
    assert "Interrupted before training started" in texts[-1], texts
    assert not (tab.context.loras_dir / "stopped-lora").exists()
    assert not panel.training and "Nothing is training" in panel.on_stop()


def test_the_held_out_file_is_looked_for_after_the_rebuild(tab):
    """The rebuild writes <name>-eval.json again; the run must use it even when it was missing before."""
    c, panel = tab.c, tab.train_panel
    written, short = _written_for_a_long_cutoff(tab, SAMPLE, "again")
    (tab.context.user_data / "training" / "datasets" / "again-eval.json").unlink()
    settings = profile_values(panel, "CPU (no GPU)", cutoff_len=short, epochs=1, save_steps=0, eval_steps=0)
    run = panel.on_train(c["model"].value, "again", "again-lora", "Chat Template", False, False, *settings, written)
    texts = [html for html, _ in run]
    assert any("Rebuilt dataset again" in t for t in texts), texts
    assert (tab.context.user_data / "training" / "datasets" / "again-eval.json").is_file()
    assert "Done. Saved" in texts[-1] and "Held-out loss" in texts[-1], texts[-1]


def test_no_rebuild_from_exports_that_are_gone(tab, tmp_path):
    """Uploads are gradio's temporary copies, deleted after a day: then Train says how to rebuild by hand."""
    c, panel = tab.c, tab.train_panel
    upload = tmp_path / "upload" / "alex_and_sam.json"
    upload.parent.mkdir()
    upload.write_bytes(SAMPLE.read_bytes())
    written, short = _written_for_a_long_cutoff(tab, upload, "gone")
    upload.unlink()
    settings = profile_values(panel, "CPU (no GPU)", cutoff_len=short, epochs=1, save_steps=0, eval_steps=0)
    run = panel.on_train(c["model"].value, "gone", "gone-lora", "Chat Template", False, False, *settings, written)
    texts = [html for html, _ in run]
    assert not any("Rebuilding" in t for t in texts), texts
    assert "Preview and Write dataset again" in texts[-1] and f"--cutoff {short} --overwrite" in texts[-1], texts[-1]


def test_a_read_that_finds_no_messages_does_not_ask_who_you_are(tab, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    status = tab.on_read([str(bad)], "")[tab.c["status"]]
    assert "No messages found in 1 file(s)" in status and "pick who you are" not in status


def test_profile_choice_sets_training_and_dataset_cutoff(tab):
    values = tab.train_panel.on_profile("CPU (no GPU)")
    names = list(tab.train_panel.settings_widgets)
    assert values[names.index("load_in_4bit")] is False
    assert values[-1] == values[names.index("cutoff_len")] == 256


def test_memory_check_warns_with_a_concrete_change_when_a_model_will_not_fit(tmp_path):
    import json

    from discord_echo.frontends.ui.train_panel import memory_html
    from discord_echo.train.profiles import PROFILES

    big = tmp_path / "llama-70b"
    big.mkdir()
    # config.json only: the estimate reads the model's shape, never its weights.
    (big / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "hidden_size": 8192,
                "intermediate_size": 28672,
                "num_hidden_layers": 80,
                "num_attention_heads": 64,
                "num_key_value_heads": 8,
                "vocab_size": 128256,
            }
        )
    )
    html, worrying = memory_html(str(big), PROFILES["8 GB (RTX 3060 Ti)"], "8 GB (RTX 3060 Ti)")
    assert worrying and "more than the 8 GB card" in html and "<li>" in html
    html, worrying = memory_html("", PROFILES["8 GB (RTX 3060 Ti)"], "8 GB (RTX 3060 Ti)")
    assert not worrying and "give a local model folder" in html


def test_a_run_outlives_its_browser_tab_and_blocks_a_second_one(tab):
    """Gradio closes a handler's generator when the page goes away: training must go on, stay stoppable,
    and keep a second run from starting beside it."""
    import time

    c, panel = tab.c, tab.train_panel
    write_dataset_in_tab(tab, SAMPLE, "orphan")
    values = profile_values(panel, "Tiny demo model (CPU)", epochs=20)
    run = panel.on_train(c["model"].value, "orphan", "orphan-lora", "Chat Template", False, False, *values)
    next(run)
    run.close()  # the browser went away
    assert panel.training
    second = list(panel.on_train(c["model"].value, "orphan", "other", "Chat Template", False, False, *values))
    assert "already going" in second[-1][0]
    assert "Stopping after the current step" in panel.on_stop()  # Interrupt still reaches the orphaned run
    deadline = time.monotonic() + 120
    while panel.training and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not panel.training
    assert (tab.context.loras_dir / "orphan-lora" / "adapter_model.safetensors").is_file()


def test_multi_user_mode_refuses_every_owner_action_in_one_place(tmp_path):
    """--multi-user: each handler that writes, trains, loads models or reads the owner's data says so."""
    import gradio as gr

    from discord_echo.evaluate.session import TYPED_PICK
    from discord_echo.train.standalone.host import StandaloneHost

    reloads = []
    context = make_context(tmp_path / "ud", with_demo=False)
    context.multi_user = True
    context.host_factory = StandaloneHost
    context.reload_4bit = lambda settings: reloads.append(settings) or []
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    panel, compare = tab.train_panel, tab.compare_panel
    buttons = [panel.c["reload"], compare.c["load"], compare.c["go"], compare.c["evaluate"], tab.c["folder"]]
    assert [b.interactive for b in buttons] == [False] * len(buttons)
    settings = [w.value for w in panel.settings_widgets.values()]
    sampling = [w.value for w in compare.settings_widgets.values()]
    assert "reloading models is disabled in --multi-user mode" in panel.on_reload_4bit(*settings)
    assert reloads == []
    status, dropdown, pairs = compare.on_load("d")
    assert "disabled in --multi-user mode" in status and pairs == [] and dropdown.value == TYPED_PICK
    (html, *columns), *_ = list(compare.on_compare("m", "l", "Chat Template", [], TYPED_PICK, "hi", "d", *sampling))
    assert "comparing models is disabled in --multi-user mode" in html and columns == ["", "", "", ""]
    evaluated = list(compare.on_evaluate("m", "l", "Chat Template", "d", 2, *sampling))
    assert "disabled in --multi-user mode" in evaluated[-1][0]
    read = tab.on_read([], str(tmp_path))
    assert "reading folders on the server is disabled in --multi-user mode; upload the files" in read[tab.c["status"]]


def test_guard_turns_any_failure_into_the_handlers_outputs():
    """One boundary for plain and streaming handlers: EchoError as it is, a bug summarized, never raised."""
    from types import SimpleNamespace

    from discord_echo.core.errors import EchoError
    from discord_echo.frontends.ui.guard import guarded

    class Handlers:
        context = SimpleNamespace(multi_user=False)

        @guarded(lambda self, html: ("failed", html), prefix="cannot: ")
        def plain(self, error):
            raise error

        @guarded(lambda self, html: ("failed", html), owner="writing files")
        def stream(self, error):
            yield "started", ""
            raise error

    handlers = Handlers()
    kind, html = handlers.plain(EchoError("fix <this>"))
    assert kind == "failed" and "cannot: fix &lt;this&gt;" in html  # escaped: messages quote the user's files
    kind, html = handlers.plain(KeyError("k"))
    assert "unexpected KeyError" in html and "see the console" in html
    updates = list(handlers.stream(ZeroDivisionError("z")))
    assert updates[0] == ("started", "") and updates[-1][0] == "failed" and "ZeroDivisionError" in updates[-1][1]
    handlers.context.multi_user = True
    assert [u[0] for u in handlers.stream(EchoError("never reached"))] == ["failed"]
    assert "writing files is disabled in --multi-user mode" in list(handlers.stream(EchoError("x")))[0][1]


def test_a_pick_of_conversations_not_loaded_says_to_load_again(tab):
    compare = tab.compare_panel
    sampling = [w.value for w in compare.settings_widgets.values()]
    updates = list(compare.on_compare(tab.c["model"].value, "l", "Chat Template", [], 3, "", "d", *sampling))
    assert len(updates) == 1 and "load the held-out conversations again" in updates[0][0]
    # The Train and Compare sections read the tab's components through typed parts, not its dict.
    assert tab.parts.model is tab.c["model"] and compare.train.lora is tab.train_panel.c["lora"]


def test_the_resume_hint_appears_only_when_a_checkpoint_exists(tmp_path):
    from discord_echo.frontends.ui.train_panel import result_html
    from discord_echo.train.host import TrainResult

    stopped = TrainResult(adapter_dir=tmp_path / "lora", steps=3, interrupted=True, total_steps=10)
    (tmp_path / "lora").mkdir()
    assert "Tick “Resume”" not in result_html(stopped) and "No checkpoint was saved" in result_html(stopped)
    (tmp_path / "lora" / "checkpoint-2").mkdir()
    assert "Tick “Resume”" in result_html(stopped)


def test_the_build_report_says_what_was_not_trained_in_words_not_a_dict():
    from discord_echo.frontends.ui.render import report_html

    report = {
        "me": "alex",
        "my_share": 0.5,
        "cleaning": {"total": 10, "kept": 8, "dropped": {"empty": 2}},
        "redactions": {"counts": {}},
        "conversations": 2,
        "held_out_conversations": 1,
        "samples": {"train": 3, "eval": 1, "max_tokens": 200, "trimmed_context": 0, "tokenizer": "estimated",
                    "exact_tokens": False, "dropped_my_turns": {"reply_over_cutoff": 27}},
    }
    html = report_html(report)
    assert "27 replies too long for the cutoff alone" in html and "{" not in html and "reply_over_cutoff" not in html
