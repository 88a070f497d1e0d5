"""The whole road in the browser, in its natural order, top to bottom: Read -> me -> Preview -> Write ->
profile -> Train -> Compare -> Evaluate, each step's result asserted beside the button that caused it.

Run for every profile that trains on a CPU (those not named for a graphics card). The model is always the
app's tiny random one (``tiny-echo-demo``, `train.tiny_models.build_tiny_model`), so a run takes seconds;
the only setting overridden is the number of epochs (1), and the evaluation uses 2 held-out prompts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from discord_echo.frontends.ui.train_panel import card_gb
from discord_echo.train.profiles import PROFILES, profile_id

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "samples" / "alex_and_sam.json"
CPU_PROFILES = [name for name in PROFILES if card_gb(name) is None]
NEAR = 160  # px: a result box starts within this distance below its button's row


def _field(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def _type_in_dropdown(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input").first
    box.fill(value)
    box.press("Enter")
    box.blur()


def _pick_in_dropdown(page, elem_id: str, option: str | re.Pattern) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option).first.click()


def _beside(page, button: str, result: str, text: str | re.Pattern, timeout: float = 60_000) -> float:
    """Wait for ``text`` in result box ``result``; assert the box sits just below button ``button``.

    Returns the button's top on the page.
    """
    try:
        page.locator(f"#{result}").get_by_text(text).first.wait_for(timeout=timeout)
    except Exception:  # noqa: BLE001 - say what the box shows instead
        pytest.fail(f"{result} shows {page.locator(f'#{result}').inner_text()!r}, not {text!r}")
    pressed = page.locator(f"#{button}").bounding_box()
    shown = page.locator(f"#{result}").bounding_box()
    assert pressed and shown
    gap = shown["y"] - (pressed["y"] + pressed["height"])
    assert -pressed["height"] <= gap <= NEAR, (button, result, gap)
    return pressed["y"] + page.evaluate("window.scrollY")  # on the page, not in the viewport


@pytest.mark.parametrize("profile", CPU_PROFILES, ids=[profile_id(p) for p in CPU_PROFILES])
def test_walk_the_road(browser, app_url, profile):
    from discord_echo.train.tiny_models import build_tiny_model

    tiny = Path(app_url.user_data) / "models" / "tiny-echo-demo"  # the app's tiny random model
    if not (tiny / "config.json").is_file():
        build_tiny_model(tiny)
    tag = profile_id(profile).replace(" ", "-").lower()
    dataset, lora = f"walk-{tag}", f"walk-{tag}-lora"
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(str(app_url))
    tops = []

    # Read: the uploaded file is named by its own name, never gradio's temporary path.
    page.locator("#discord-echo-upload input[type=file]").set_input_files(str(SAMPLE))
    page.locator("#discord-echo-upload").get_by_text("alex_and_sam.json").first.wait_for(timeout=30_000)
    page.locator("#discord-echo-read").click()
    tops.append(_beside(page, "discord-echo-read", "discord-echo-status", "Read 376 messages"))
    summary = page.locator("#discord-echo-summary").inner_text()
    assert "alex_and_sam.json" in summary and "gradio" not in summary, summary

    # me, then Preview with the app's tiny model (whatever the Model box offers by default).
    _pick_in_dropdown(page, "discord-echo-me", re.compile(r"^alex"))
    _field(page, "discord-echo-model").fill(str(tiny))
    page.locator("#discord-echo-preview-button").click()
    tops.append(
        _beside(page, "discord-echo-preview-button", "discord-echo-preview-status", "training samples ready", 120_000)
    )

    # Write, under a new name typed into the Dataset dropdown.
    _type_in_dropdown(page, "discord-echo-dataset-name", dataset)
    page.locator("#discord-echo-write").click()
    tops.append(_beside(page, "discord-echo-write", "discord-echo-write-status", f"Wrote {dataset}.json"))

    # The profile, then 1 epoch (the one override), Check memory, Train.
    _pick_in_dropdown(page, "discord-echo-train-profile", profile)
    page.locator("#discord-echo-train-settings").get_by_text("Training settings").first.click()
    epochs = _field(page, "discord-echo-train-setting-epochs")
    epochs.wait_for(timeout=10_000)
    page.wait_for_timeout(500)  # the profile's values land first; then 1 epoch
    epochs.fill("1")
    epochs.press("Tab")
    _type_in_dropdown(page, "discord-echo-train-lora-name", lora)
    page.locator("#discord-echo-train-check").click()
    tops.append(_beside(page, "discord-echo-train-check", "discord-echo-train-memory", re.compile("memory|CPU")))
    page.locator("#discord-echo-train-start").click()
    tops.append(_beside(page, "discord-echo-train-start", "discord-echo-train-progress", "Done. Saved", 300_000))
    assert (Path(app_url.user_data) / "loras" / lora / "adapter_config.json").is_file()

    # Compare: its LoRA follows the Train section's; held-out conversations, then the three columns.
    assert page.locator("#discord-echo-compare-lora input").first.input_value() == lora
    page.locator("#discord-echo-compare-load").click()
    tops.append(
        _beside(page, "discord-echo-compare-load", "discord-echo-compare-load-status", "held-out replies of yours")
    )
    page.locator("#discord-echo-compare-go").click()
    tops.append(_beside(page, "discord-echo-compare-go", "discord-echo-compare-status", "Same prompt", 120_000))
    assert page.locator("#discord-echo-compare-tuned textarea").input_value()

    # Evaluate on 2 prompts.
    _field(page, "discord-echo-compare-n").fill("2")
    page.locator("#discord-echo-compare-evaluate").click()
    tops.append(
        _beside(page, "discord-echo-compare-evaluate", "discord-echo-compare-eval-status", "Evaluated", 300_000)
    )
    assert (Path(app_url.user_data) / "loras" / lora / "discord_echo_report.md").is_file()

    assert tops == sorted(tops), tops  # the road runs top to bottom
    page.close()
