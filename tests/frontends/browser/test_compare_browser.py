"""Click Compare in the standalone app and see the three columns filled (real, base, tuned)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "samples"))
import make_sample  # noqa: E402


@pytest.fixture(scope="module")
def trained(app_url, tmp_path_factory):
    """A dataset and a LoRA in the running app's data folder, made with the library (fast, tiny model)."""
    from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
    from discord_echo.frontends.app import demo_model
    from discord_echo.templates.chat import load_renderer
    from discord_echo.train.driver import request_from_user_data, train
    from discord_echo.train.profiles import profile
    from discord_echo.train.standalone.host import StandaloneHost

    user_data = Path(app_url.user_data)
    data = make_sample.build(seed=5, sessions=30)
    # A message with markup among my replies: it must show as text in the "real" column.
    mine = [m for m in data["messages"] if m["author"]["name"] == "alex"]
    mine[-1]["content"] = "<img src=x onerror=\"window.__xss='compare'\"> lol"
    export = tmp_path_factory.mktemp("export") / "dm.json"
    export.write_text(json.dumps(data, indent=2))
    model, _profile = demo_model(user_data)  # the tiny model: the app's data folder here has no real one
    settings = BuildConfig()
    result = build_dataset([export], ["alex"], settings, load_renderer(model))
    write_build(result, settings, user_data, "browser-echo")
    train_settings = replace(profile("CPU (no GPU)"), epochs=2, learning_rate=0.02, save_steps=0, eval_steps=50)
    request = request_from_user_data(user_data, "browser-echo", str(model), "browser-lora", train_settings)
    train(request, StandaloneHost())
    return user_data


def test_compare_fills_three_columns(browser, app_url, trained):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(str(app_url))
    # Both are dropdowns that take a typed name (Enter commits it); Compare's LoRA follows the Train section's.
    for field, value in (("dataset-name", "browser-echo"), ("train-lora-name", "browser-lora")):
        box = page.locator(f"#discord-echo-{field} input").first
        box.fill(value)
        box.press("Enter")
    page.locator("#discord-echo-compare-load").click()
    page.locator("#discord-echo-compare-load-status").get_by_text("held-out replies of yours").wait_for(timeout=30_000)
    page.locator("#discord-echo-compare-go").click()
    page.locator("#discord-echo-compare-status").get_by_text("Same prompt").wait_for(timeout=120_000)
    columns = {
        name: page.locator(f"#discord-echo-compare-{name} textarea").input_value()
        for name in ("prompt", "real", "base", "tuned")
    }
    assert all(columns.values()), columns
    assert page.evaluate("window.__xss") is None
    page.close()
