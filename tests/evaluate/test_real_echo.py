"""The real demo model learns *me*: a few CPU steps on the bundled sample lower the perplexity of my held-out
replies, and not that of the friend's lines scored as if they were mine.

Slow (about a minute on 2 cores): the one test that trains SmolLM2-135M-Instruct, the model install.py builds
into data/user_data/models (train/demo_model.py). It skips when that folder is absent (a checkout where
install.py has not run); benchmarks/echo_quality.py measures the full profile on this model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build  # noqa: E402
from discord_echo.dataset.samples import DatasetConfig  # noqa: E402
from discord_echo.evaluate.comparer import Comparer  # noqa: E402
from discord_echo.evaluate.metrics import their_samples  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402
from discord_echo.train import driver  # noqa: E402
from discord_echo.train.demo_model import demo_model_folder, is_demo_model  # noqa: E402
from discord_echo.train.profiles import profile  # noqa: E402
from discord_echo.train.standalone.host import StandaloneHost  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODEL = demo_model_folder(REPO / "data" / "user_data")
SAMPLE = REPO / "samples" / "echo_demo.json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not is_demo_model(MODEL), reason=f"demo model not built at {MODEL} (run python3 install.py)"),
]


def test_a_few_steps_on_the_real_model_learn_my_replies_not_the_friends(tmp_path):
    settings = profile("smol")
    # A shortened run of the demo profile: a quarter epoch (~12 optimizer steps) at twice its learning rate,
    # enough for the direction of both perplexities to show; no checkpoints or periodic evaluation.
    short = replace(settings, epochs=0.5, learning_rate=1e-3, save_steps=0, eval_steps=0, lora_dropout=0.0)
    build = BuildConfig(dataset=DatasetConfig(cutoff_len=short.cutoff_len))
    result = build_dataset([SAMPLE], ["alex"], build, load_renderer(MODEL))
    write_build(result, build, tmp_path, "real-echo")
    request = driver.request_from_user_data(tmp_path, "real-echo", str(MODEL), "real-echo", short)
    trained = driver.train(request, StandaloneHost())
    assert trained.steps >= 10

    comparer = Comparer.load(MODEL, trained.adapter_dir)
    mine, theirs = result.held_out, their_samples(result.held_out)
    assert mine and theirs
    mine_base, mine_tuned = comparer.perplexity(mine, False), comparer.perplexity(mine, True)
    their_base, their_tuned = comparer.perplexity(theirs, False), comparer.perplexity(theirs, True)
    assert mine_tuned < 0.7 * mine_base, (mine_base, mine_tuned)
    assert their_tuned >= their_base, (their_base, their_tuned)
