"""Benchmark: standalone training throughput (real tokens/s) vs a plain transformers Trainer, same process.

    .venv/bin/python benchmarks/train_throughput.py [--model PATH] [--rows 96] [--sessions 120] [--threads 1]
                                                    [--repeats 2] [--long-share 0.03]

Builds the bundled sample chat (``samples/make_sample.py``, seed 7) into a dataset with the model's tokenizer,
tokenizes it as the standalone host does (``train.driver.prepare``: the webui's labels, my turns only), and
trains one epoch over the first ``--rows`` rows twice, each time on a freshly loaded model with the same
LoRA, seed and CPU profile (micro-batch 4, no gradient accumulation, no checkpoints, no eval):

* plain: a transformers ``Trainer`` with the same ``TrainingArguments`` but the default random sampler;
* ours: ``train/standalone/trainer.py`` ``build_trainer`` (micro-batches of similar length, ``length_grouping``).

Both see the same rows once, so the same real (non-padding) tokens; tokens/s is those tokens over the
``trainer.train()`` wall time, the best of ``--repeats`` alternating runs of each (the machine is shared, and
a neighbour's burst would otherwise decide the ratio). Without ``--model`` the tests' tiny random-weight Llama
is built. As in benchmarks/build.py, ``--long-share`` (3 %) of Sam's messages become 150-450 words long, as
real chats have the odd story or pasted log, so rows range from one exchange to the cutoff. Also prints the
share of padding in the micro-batches each sampler made. The last line reads
``ratio=<ours tokens/s / plain tokens/s>`` (issue #13 target: >= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "samples")]

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402
from discord_echo.templates.trainer_rows import TokenizedRows  # noqa: E402
from discord_echo.train import driver  # noqa: E402
from discord_echo.train.profiles import PROFILES  # noqa: E402
from discord_echo.train.standalone import host as standalone  # noqa: E402
from discord_echo.train.standalone import trainer as trainer_module  # noqa: E402
from discord_echo.train.tiny_models import build_tiny_model  # noqa: E402


def padding_share(trainer, rows: list[dict]) -> float:
    """Share of padded positions in the micro-batches this trainer's sampler draws (one epoch)."""
    batch = trainer.args.per_device_train_batch_size
    order = list(trainer._get_train_sampler())
    padded = real = 0
    for first in range(0, len(order), batch):
        lengths = [len(rows[i]["input_ids"]) for i in order[first : first + batch]]
        padded += max(lengths) * len(lengths)
        real += sum(lengths)
    return 1 - real / padded


def run(
    model: str, settings, plan, tokenizer, rows: TokenizedRows, out: Path, grouped: bool
) -> tuple[float, int, float]:
    """Seconds of ``trainer.train()``, real tokens seen and padding share, on a freshly loaded LoRA model."""
    import torch

    torch.manual_seed(settings.seed)
    peft_model = standalone._load_model(model, settings, plan)
    original = trainer_module.length_grouping
    if not grouped:
        trainer_module.length_grouping = lambda arguments: {}  # the plain Trainer: default random sampler
    try:
        trainer = trainer_module.build_trainer(
            peft_model, tokenizer, settings, plan, out, rows, None, settings.total_steps(len(rows.rows))
        )
    finally:
        trainer_module.length_grouping = original
    share = padding_share(trainer, rows.rows)
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started, int(trainer.state.num_input_tokens_seen), share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--sessions", type=int, default=120)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--repeats", type=int, default=2, help="alternate plain/ours this often; best of each")
    parser.add_argument("--long-share", type=float, default=0.03, help="share of Sam's messages made long")
    args = parser.parse_args()

    import make_sample  # samples/make_sample.py
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or build_tiny_model(root / "model")
        export = root / "dm.json"
        data = make_sample.build(seed=7, sessions=args.sessions)
        rng = random.Random(2)
        words = "so anyway the thing about that place is that nobody ever tells you the truth".split()
        for message in data["messages"]:
            if message["author"]["name"] != "alex" and rng.random() < args.long_share:
                message["content"] = " ".join(rng.choice(words) for _ in range(rng.randint(150, 450))) + "."
        export.write_text(json.dumps(data), encoding="utf-8")
        settings = replace(
            PROFILES["CPU (no GPU)"], epochs=1.0, micro_batch_size=4, batch_size=4, save_steps=0, eval_steps=0
        )
        result = build_dataset([export], ["alex"], BuildConfig(), load_renderer(model))
        write_build(result, BuildConfig(), root / "user_data", "bench")
        request = driver.request_from_user_data(root / "user_data", "bench", str(model), "bench", settings)
        host = standalone.StandaloneHost()
        prepared = driver.prepare(request, host, lambda: standalone._load_tokenizer(str(model)))
        rows = TokenizedRows(prepared.train_rows.rows[: args.rows])
        plan = replace(host.plan(settings), threads=args.threads)
        lengths = sorted(len(r["input_ids"]) for r in rows.rows)
        print(f"model={Path(model).name} rows={len(rows.rows)} tokens min/median/max="
              f"{lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]} threads={args.threads}")  # fmt: skip
        figures: dict[str, float] = {}
        for repeat in range(args.repeats):
            for name, grouped in (("plain", False), ("ours", True)):
                seconds, tokens, share = run(
                    str(model), settings, plan, prepared.tokenizer, rows, root / f"{name}{repeat}", grouped
                )
                figures[name] = max(figures.get(name, 0.0), tokens / seconds)
                print(f"{name}: {seconds:.2f} s, {tokens:,} real tokens, {tokens / seconds:,.0f} tokens/s, "
                      f"padding {share:.0%}, load={os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"ratio={figures['ours'] / figures['plain']:.2f}")


if __name__ == "__main__":
    main()
