"""Fixtures for the host tests: a tiny random-weight Llama and a dataset built by the real pipeline.

Both are built once per session, locally (no downloads): ``tiny_model`` by ``tiny_models.build_tiny_model``,
``user_data`` by ``pipeline.build_dataset``/``write_build`` from the bundled sample export
(samples/alex_and_sam.json), token-counted with the tiny model's own tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import build_tiny_model

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.templates.chat import load_renderer

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "samples" / "alex_and_sam.json"
DATASET = "echo"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and two OpenMP threads on a 2-core machine whose other core
    is busy slow training down ~20x (spin-waiting): measured 70 s vs 4 s for the same 56 steps."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def user_data(tiny_model, tmp_path_factory) -> Path:
    """A webui-style user_data folder holding training/datasets/echo.json and echo-eval.json."""
    folder = tmp_path_factory.mktemp("user_data")
    settings = BuildConfig(dataset=DatasetConfig(cutoff_len=256))
    result = build_dataset([SAMPLE], ["alex"], settings, load_renderer(tiny_model))
    written = write_build(result, settings, folder, DATASET)
    assert written.eval is not None, "the sample must yield held-out rows"
    return folder
