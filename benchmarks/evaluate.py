"""Benchmark: Evaluate's replies generated one prompt at a time vs in batches, same process, same model.

    .venv/bin/python benchmarks/evaluate.py [--model PATH] [--rows 8] [--max-new-tokens 24] [--threads 1] [--full]

Builds the bundled sample chat (``samples/make_sample.py``, seed 7, 40 sessions) into a dataset with the
model's own tokenizer, puts a LoRA with random non-zero weights on every linear layer (as benchmarks/compare.py
does: speed does not depend on what it learned), and picks ``--rows`` held-out pairs as ``report.evaluate``
does. Then, after a burn-in generation, times greedy base + tuned replies for those rows:

* one by one: ``Comparer.generate`` per prompt and adapter (what ``Comparer.batch`` did before issue #13);
* batched: ``Comparer.batch`` (one left-padded ``model.generate`` call per adapter for up to 8 prompts).

and checks that both give the same replies. ``--full`` also times a whole ``report.evaluate`` (perplexities,
replies, topicality) with that comparer and with ``Unbatched`` below (the comparer as it was: replies one by
one, full-vocabulary logits at every position when scoring), and prints ``evaluate_ratio``.
Without ``--model`` the SmolLM2-135M folder in ``data/user_data/models`` is used.
The last line reads ``ratio=<one by one / batched> same_replies=<bool>`` (issue #13 target: ratio >= 3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOLLM2 = REPO / "data" / "user_data" / "models" / "SmolLM2-135M-Instruct"
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "samples")]

from compare import random_adapter  # noqa: E402  (benchmarks/compare.py)

from discord_echo.dataset.pipeline import BuildConfig, build_dataset  # noqa: E402
from discord_echo.evaluate.comparer import CompareConfig, Comparer, CompareRow  # noqa: E402
from discord_echo.evaluate.metrics import HeldOutPair, held_out_pairs, pick  # noqa: E402
from discord_echo.evaluate.report import evaluate  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402


def one_by_one(comparer: Comparer, pairs: list[HeldOutPair], settings: CompareConfig) -> list[CompareRow]:
    """The rows as generated before batching: base, then tuned, one prompt per ``model.generate`` call."""
    return [
        CompareRow(p.friend_text, p.reply, comparer.generate(p.prompt, False, settings),
                   comparer.generate(p.prompt, True, settings))
        for p in pairs
    ]  # fmt: skip


class Unbatched(Comparer):
    """The comparer as it was before issue #13, for ``--full``'s baseline: replies one prompt per
    ``model.generate`` call, every scored row projected onto the vocabulary at every position, and every
    prompt run again by each call that reads it."""

    _keeps_logits = False  # a class attribute over the property: full logits, then the scored positions

    @contextmanager
    def sharing_prefixes(self, prompts: Sequence[Sequence[dict]]) -> Iterator[None]:
        yield  # nothing kept

    def batch(self, pairs: Sequence[HeldOutPair], n: int, settings: CompareConfig | None = None,
              batch_size: int = 1) -> list[CompareRow]:  # fmt: skip
        return one_by_one(self, pick(pairs, n), settings or CompareConfig())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=SMOLLM2)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--full", action="store_true", help="also time one whole report.evaluate")
    args = parser.parse_args()

    import make_sample  # samples/make_sample.py
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = root / "dm.json"
        export.write_text(json.dumps(make_sample.build(seed=7, sessions=40)), encoding="utf-8")
        result = build_dataset([export], ["alex"], BuildConfig(), load_renderer(args.model))
        comparer = Comparer.load(args.model, random_adapter(args.model, root / "lora"))
        pairs = pick(held_out_pairs(result.held_out), args.rows)
        settings = CompareConfig(greedy=True, max_new_tokens=args.max_new_tokens)
        lengths = [len(comparer.prompt_ids(p.prompt)) for p in pairs]
        print(f"model={args.model.name} rows={len(pairs)} prompt_tokens={lengths} threads={args.threads}")
        print(f"load={os.getloadavg()[0]:.2f}")
        comparer.generate(pairs[0].prompt, True, CompareConfig(greedy=True, max_new_tokens=2))  # burn-in

        started = time.perf_counter()
        before = one_by_one(comparer, pairs, settings)
        single = time.perf_counter() - started
        started = time.perf_counter()
        after = comparer.batch(pairs, len(pairs), settings)
        batched = time.perf_counter() - started
        print(f"one by one: {single:.2f} s   batched: {batched:.2f} s   load={os.getloadavg()[0]:.2f}")
        if args.full:
            old = Unbatched(comparer.model, comparer.tokenizer, comparer.chat_template)
            seconds = []
            for name, which in (("unbatched", old), ("batched", comparer)):
                started = time.perf_counter()
                evaluate(which, result.held_out, "alex", settings, n=args.rows)
                seconds.append(time.perf_counter() - started)
                print(f"whole evaluate, {name}: {seconds[-1]:.2f} s   load={os.getloadavg()[0]:.2f}")
            print(f"evaluate_ratio={seconds[0] / seconds[1]:.2f}")
        print(f"ratio={single / batched:.2f} same_replies={before == after}")


if __name__ == "__main__":
    main()
