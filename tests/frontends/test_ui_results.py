"""Issue #10, item 3, handler by handler: name dropdowns, a reloaded page reattaching to training, GPU profile
warnings without CUDA, Evaluate's progress and its refusal with nothing to evaluate, uploaded files' own names,
the charts' frames, and the webui's model box and LoRA menu."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("gradio")

from factories import profile_values, write_dataset_in_tab  # noqa: E402

from discord_echo.frontends.app import make_context  # noqa: E402
from discord_echo.frontends.ui.tab import EchoTab  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "alex_and_sam.json"


def _tab(user_data: Path, **changes) -> EchoTab:
    import dataclasses

    import gradio as gr

    context = dataclasses.replace(make_context(user_data), **changes)
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    return tab


@pytest.fixture()
def tab(tmp_path):
    return _tab(tmp_path / "user_data")


def test_dataset_and_lora_fields_offer_what_exists_and_take_new_names(tab):
    c, train, compare = tab.c, tab.train_panel, tab.compare_panel
    assert c["name"].allow_custom_value and train.c["lora"].allow_custom_value and compare.c["lora"].allow_custom_value
    write_dataset_in_tab(tab, SAMPLE, "listed-echo")
    refreshed = tab.on_refresh_datasets("typed-new")
    assert [str(v) for v, *_ in refreshed.choices] == ["listed-echo"] and refreshed.value == "typed-new"
    lora = tab.context.loras_dir / "some-lora"
    lora.mkdir(parents=True)
    assert compare.on_refresh_loras("x").choices == []  # a folder without an adapter is no LoRA
    (lora / "adapter_config.json").write_text("{}")
    assert [v for v, *_ in train.on_refresh_loras("x").choices] == ["some-lora"]
    assert [v for v, *_ in compare.on_refresh_loras("x").choices] == ["some-lora"]
    assert compare.c["lora"].value == train.c["lora"].value  # Compare starts on the Train section's LoRA


def test_a_reloaded_page_reattaches_to_the_running_training(tab):
    import gradio as gr

    panel = tab.train_panel
    idle = list(panel.on_reattach())
    assert len(idle) == 1 and idle[0][0] == gr.update()  # nothing running: the page is left as it is
    write_dataset_in_tab(tab, SAMPLE, "reattach-echo")
    values = profile_values(panel, "Tiny demo model (CPU)", epochs=1.0)
    run = panel.on_train(tab.c["model"].value, "reattach-echo", "reattach-lora", "Chat Template", False, False, *values)
    next(run)  # the run has started in its worker thread
    assert panel.training
    followed = list(panel.on_reattach())  # what a reloaded page streams, to the end of the run
    assert len(followed) > 1 and "Done. Saved" in followed[-1][0]
    assert "Done. Saved" in list(run)[-1][0]  # the first page hears the same end


def test_a_gpu_profile_without_cuda_warns_before_training(tmp_path):
    no_cuda = _tab(tmp_path / "ud", cuda=lambda: False)
    panel = no_cuda.train_panel
    assert "No CUDA GPU here" in panel.on_profile_warning("8 GB (RTX 3060 Ti)")
    assert panel.on_profile_warning("CPU (no GPU)") == ""
    eight = "8 GB (RTX 3060 Ti)"
    checked = panel.on_check(no_cuda.c["model"].value, eight, *profile_values(panel, eight))
    assert "No CUDA GPU here" in checked
    assert "No CUDA GPU here" not in _tab(tmp_path / "ud2", cuda=lambda: True).train_panel.on_profile_warning(
        "8 GB (RTX 3060 Ti)"
    )


def test_reload_in_4bit_is_hidden_without_cuda(tmp_path):
    hidden = _tab(tmp_path / "a", cuda=lambda: False, reload_4bit=lambda settings: [])
    shown = _tab(tmp_path / "b", cuda=lambda: True, reload_4bit=lambda settings: [])
    assert hidden.train_panel.c["reload"].visible is False and shown.train_panel.c["reload"].visible is True


def test_evaluate_with_nothing_held_out_says_why_at_once(tab):
    import json

    write_dataset_in_tab(tab, SAMPLE, "empty-echo")
    eval_file = tab.context.user_data / "training" / "datasets" / "empty-echo-eval.json"
    eval_file.write_text(json.dumps([]))
    compare = tab.compare_panel
    sampling = [w.value for w in compare.settings_widgets.values()]
    updates = list(compare.on_evaluate(tab.c["model"].value, "none", "Chat Template", "empty-echo", 2, *sampling))
    assert len(updates) == 1 and "nothing to evaluate" in updates[0][0] and "held-out" in updates[0][0]
    assert "Nothing is being evaluated" in compare.on_cancel_evaluate()


def test_uploaded_files_are_named_by_their_own_names(tab, tmp_path, monkeypatch):
    uploads = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    upload = uploads / "0123abcd" / "my chat.json"
    upload.parent.mkdir(parents=True)
    shutil.copy(SAMPLE, upload)
    broken = uploads / "4567ef" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"guild": ')
    out = tab.on_read([str(upload), str(broken)], "")
    summary = out[tab.c["summary"]]
    assert "my chat.json" in summary and "broken.json" in summary
    assert str(uploads) not in summary and "0123abcd" not in summary and "4567ef" not in summary
    failed = tab.on_preview([str(broken)], ["alex"], "", "Chat Template", None, *[
        w.value for stage in tab.forms.values() for w in stage.values()
    ])
    assert "4567ef" not in failed[tab.c["preview_status"]]


def test_the_month_chart_goes_yearly_over_long_spans_and_perplexity_bars_sit_side_by_side():
    from discord_echo.frontends.ui.plots import MONTHLY_UP_TO, perplexity_frame, timeline_frame, zero_based

    short = timeline_frame(Counter({"2024-01": 3, "2024-02": 4}))
    assert list(short["period"]) == ["2024-01", "2024-02"]
    months = Counter({f"{2018 + i // 12}-{i % 12 + 1:02d}": 1 for i in range(MONTHLY_UP_TO + 12)})
    long = timeline_frame(months)
    assert list(long["period"]) == ["2018", "2019", "2020"] and long["messages"].sum() == MONTHLY_UP_TO + 12
    assert zero_based().get("y_lim", [0])[0] == 0
    points = [
        {"replies": "yours", "model": "base", "perplexity": 9.0},
        {"replies": "yours", "model": "tuned", "perplexity": 5.0},
        {"replies": "the others'", "model": "base", "perplexity": 8.0},
        {"replies": "the others'", "model": "tuned", "perplexity": 7.0},
    ]
    frame = perplexity_frame(points)
    assert frame["bar"].is_unique  # one bar per (replies, model): nothing stacks on anything


def test_the_webui_model_box_follows_the_loaded_model(tmp_path):
    loaded = {"name": "first-model"}
    webui_like = _tab(tmp_path / "ud", loaded_model=lambda: loaded["name"])
    assert "model_refresh" in webui_like.c
    loaded["name"] = "second-model"  # loaded in the Model tab after the page was built
    assert webui_like.on_refresh_model() == "second-model"


def test_the_webui_lora_menu_update_selects_the_applied_lora(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from discord_echo.frontends import webui

    (tmp_path / "loras" / "echo").mkdir(parents=True)
    (tmp_path / "loras" / "echo" / "adapter_config.json").write_text("{}")
    shared = SimpleNamespace(gradio={"lora_menu": "the menu"}, lora_names=["echo"])
    monkeypatch.setattr(webui, "webui_shared", lambda: shared)
    monkeypatch.setattr(webui, "loras_dir", lambda: tmp_path / "loras")
    menu, update = webui.model_tab_lora_menu()
    assert menu == "the menu"
    assert update()["value"] == ["echo"] and "echo" in update()["choices"]
    shared.gradio = {}
    assert webui.model_tab_lora_menu() is None
