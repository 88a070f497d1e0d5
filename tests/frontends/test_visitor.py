"""--multi-user: a visitor presses every button; nothing of the owner's data is read, shown or streamed."""

from __future__ import annotations

import inspect
import json

import pytest

pytest.importorskip("gradio")

from discord_echo.frontends.app import make_context  # noqa: E402
from discord_echo.frontends.ui.tab import EchoTab  # noqa: E402

SECRET = "OWNER-SECRET-7431"


def _owner_data(user_data) -> None:
    datasets = user_data / "training" / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    row = {"messages": [{"role": "user", "content": f"friend {SECRET}"}, {"role": "assistant", "content": SECRET}]}
    for name in ("mine.json", "mine-eval.json"):
        (datasets / name).write_text(json.dumps([row]))
    (datasets / "mine.discord_echo.yaml").write_text(json.dumps({"me": SECRET, "persona": SECRET}))
    lora = user_data / "loras" / "mylora"
    lora.mkdir(parents=True, exist_ok=True)
    (lora / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": SECRET}))
    (lora / "discord_echo-report.md").write_text(SECRET)
    (user_data / "characters").mkdir(exist_ok=True)
    (user_data / "characters" / "me.yaml").write_text(SECRET)
    (user_data / "export.json").write_text(json.dumps({"guild": {"name": SECRET}, "messages": []}))


ARGUMENTS = {
    "dataset": "mine", "lora": "mylora", "name": "mine", "folder": "", "files": [], "paths": [], "stored": None,
    "pairs": [], "pick": 0, "typed": "hi", "n": 2, "me": "me", "template": "Chat Template", "overwrite": True,
    "resume": False, "report": None, "test": None, "option": 0, "replace_existing": True, "engine": "gguf",
    "profile_name": None, "recipe": None,
}  # fmt: skip


def _flatten(value) -> str:
    if inspect.isgenerator(value):
        return " ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_flatten(k) + " " + _flatten(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return " ".join(_flatten(v) for v in value)
    return repr(getattr(value, "__dict__", value)) + " " + repr(value)


def test_a_visitor_pressing_every_button_sees_nothing_of_the_owner(tmp_path):
    import gradio as gr

    from discord_echo.train.standalone.host import StandaloneHost

    user_data = tmp_path / "ud"
    context = make_context(user_data, with_demo=False)
    _owner_data(context.user_data)
    context.multi_user = True
    context.host_factory = StandaloneHost
    with gr.Blocks():
        tab = EchoTab(context)
        tab.build()
    model = str(context.user_data / "loras" / "mylora")
    ARGUMENTS["model"] = model
    ARGUMENTS["folder"] = str(context.user_data)
    pressed = []
    for owner in (tab, tab.train_panel, tab.compare_panel, getattr(tab, "export_panel", None)):
        if owner is None:
            continue
        widgets = getattr(owner, "settings_widgets", {}) or {}
        for attr in dir(type(owner)):
            if not attr.startswith("on_"):
                continue
            handler = getattr(owner, attr)
            args = []
            for p in inspect.signature(handler).parameters.values():
                if p.kind is p.VAR_POSITIONAL:
                    args += [w.value for w in widgets.values()]
                elif p.default is p.empty:
                    args.append(ARGUMENTS.get(p.name, model))
            shown = _flatten(handler(*args))
            pressed.append(f"{type(owner).__name__}.{attr}")
            assert SECRET not in shown, f"{type(owner).__name__}.{attr} showed the owner's data"
    assert {"EchoTab.on_read", "ComparePanel.on_load", "ComparePanel.on_compare"} <= set(pressed)
    # What the page shows before any press: no component holds the owner's data either.
    for block in tab.__dict__.get("c", {}).values():
        assert SECRET not in _flatten(getattr(block, "value", "")) + _flatten(getattr(block, "choices", ""))


def test_the_app_deletes_uploads_after_their_session(tmp_path):
    from discord_echo.frontends.app import build_app

    demo = build_app(make_context(tmp_path / "ud", with_demo=False))
    frequency, age = demo.delete_cache
    assert 0 < frequency <= 3600 and 0 < age <= 86400  # gradio's cache (uploads) is swept, and at shutdown
