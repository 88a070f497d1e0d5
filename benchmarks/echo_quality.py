"""Benchmark: does the echo answer like me *and* on topic? The whole road on the real demo model, on a CPU.

    .venv/bin/python benchmarks/echo_quality.py [--seed 11] [--quiz 20] [--profile smol] [--threads 2]
                                                [--model data/user_data/models/SmolLM2-135M-Instruct]

On a seeded topical chat (samples/make_echo_sample.py with a different seed from the bundled sample, so none
of its conversations were seen while the profile was tuned), in one process:

1. build the dataset with the real model's tokenizer and chat template (dataset/pipeline.py, the tab's road);
2. train a LoRA with the CPU profile (train/driver.py + the standalone host);
3. evaluate as the tab's Evaluate does (evaluate/report.py): perplexity of my and the friend's held-out
   lines, style of real / base / tuned replies, topicality (evaluate/echo_metrics.py);
4. ask held-out quiz questions the chat never contains (``make_echo_sample.quiz``), greedy, with the same
   prompt for base and tuned (the persona line the LoRA was trained with), and count correct answers.

The last line reads ``mine_ppl_drop=<x> friend_ppl_change=<y> style_gap_ratio=<tuned/base>
topicality_ratio=<tuned/real> correct_tuned=<a> correct_base=<b> train_s=<s>``. Targets: mine_ppl_drop >= 0.80,
friend_ppl_change >= 0, style_gap_ratio <= 0.3, topicality_ratio >= 1.0, correct_tuned >= correct_base.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "samples"))
import make_echo_sample  # noqa: E402

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build  # noqa: E402
from discord_echo.dataset.samples import DatasetConfig  # noqa: E402
from discord_echo.evaluate.comparer import CompareConfig, Comparer  # noqa: E402
from discord_echo.evaluate.metrics import typed_pair  # noqa: E402
from discord_echo.evaluate.session import DatasetBuild  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402
from discord_echo.train import driver  # noqa: E402
from discord_echo.train.demo_model import demo_model_folder, is_demo_model  # noqa: E402
from discord_echo.train.profiles import profile  # noqa: E402
from discord_echo.train.standalone.host import StandaloneHost  # noqa: E402

DATASET, LORA = "echo-bench", "echo-bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=demo_model_folder(REPO / "data" / "user_data"))
    parser.add_argument("--seed", type=int, default=11, help="Seed of the generated chat (the sample uses 7).")
    parser.add_argument("--sessions", type=int, default=48)
    parser.add_argument("--quiz", type=int, default=20, help="Held-out quiz questions asked to base and tuned.")
    parser.add_argument("--rows", type=int, default=8, help="Held-out prompts generated for style and topicality.")
    parser.add_argument("--profile", default="smol", help="Training profile (id or label).")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: one per available core).")
    parser.add_argument("--learning-rate", type=float, help="Override the profile's learning rate.")
    parser.add_argument("--epochs", type=float, help="Override the profile's epochs.")
    parser.add_argument("--keep", type=Path, help="Keep the dataset and LoRA in this folder (default: temporary).")
    args = parser.parse_args(argv)
    if not is_demo_model(args.model) and not (args.model / "config.json").is_file():
        print(f"error: no model at {args.model}; run python3 install.py (it builds the demo model)", file=sys.stderr)
        return 2

    import torch

    from discord_echo.train.profiles import available_cores

    threads = args.threads or available_cores()
    torch.set_num_threads(threads)
    overrides = {k: v for k, v in (("learning_rate", args.learning_rate), ("epochs", args.epochs)) if v is not None}
    settings = profile(args.profile)
    from dataclasses import replace

    settings = replace(settings, cpu_threads=threads, **overrides)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model {args.model.name}, profile {args.profile}, {threads} threads, load {load:.1f}", flush=True)

    with tempfile.TemporaryDirectory(prefix="echo-quality-") as scratch:
        root = args.keep or Path(scratch)
        user_data = root / "user_data"
        export = root / "chat.json"
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(json.dumps(make_echo_sample.build(seed=args.seed, sessions=args.sessions)), encoding="utf-8")

        build = BuildConfig(dataset=DatasetConfig(cutoff_len=settings.cutoff_len))
        result = build_dataset([export], ["alex"], build, load_renderer(args.model))
        write_build(result, build, user_data, DATASET, overwrite=True)
        print(f"dataset: {len(result.train)} train, {len(result.held_out)} held-out samples", flush=True)

        request = driver.request_from_user_data(user_data, DATASET, str(args.model), LORA, settings, overwrite=True)
        started = time.perf_counter()
        trained = driver.train(request, StandaloneHost(), _progress)
        train_s = time.perf_counter() - started
        print(f"trained {trained.steps} steps in {train_s:.0f} s, held-out loss {trained.final_eval_loss}", flush=True)

        comparer = Comparer.load(args.model, trained.adapter_dir)
        dataset = DatasetBuild.named(user_data, DATASET)
        greedy = CompareConfig(greedy=True, max_new_tokens=32)
        started = time.perf_counter()
        report = dataset.evaluate(comparer, greedy, n=args.rows)
        print(f"evaluated {len(report.rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
        correct = quiz(comparer, dataset.persona(), make_echo_sample.quiz(seed=args.seed, count=args.quiz), greedy)

    mine, theirs = report.mine, report.theirs
    topical = report.topicality
    for kind in ("real", "base", "tuned"):
        if kind in topical:
            print(f"topicality {kind}: {topical[kind].per_token:+.3f} nats/token, {topical[kind].per_reply:+.2f}/reply")
    print(f"style distance to real: {report.style_gap}")
    for row in report.rows[:4]:
        print(f"  friend: {row.prompt!r}\n    real:  {row.real!r}\n    base:  {row.base!r}\n    tuned: {row.tuned!r}")
    print(
        f"mine_ppl_drop={mine.reduction:.3f} "
        f"friend_ppl_change={(theirs.tuned / theirs.base - 1) if theirs else float('nan'):.3f} "
        f"style_gap_ratio={report.style_gap['tuned'] / report.style_gap['base']:.3f} "
        f"topicality_ratio={topical['tuned'].per_token / topical['real'].per_token:.3f} "
        f"correct_tuned={correct['tuned']} correct_base={correct['base']} train_s={train_s:.0f}"
    )
    return 0


def quiz(comparer: Comparer, persona: str | None, questions: list[dict], settings: CompareConfig) -> dict[str, int]:
    """Correct greedy answers of base and tuned to the quiz, each asked as a message typed by the friend."""
    correct = {"base": 0, "tuned": 0}
    for item in questions:
        prompt = typed_pair(persona, item["question"]).prompt
        for kind, adapter in (("base", False), ("tuned", True)):
            reply = comparer.generate(prompt, adapter, settings)
            hit = make_echo_sample.is_correct(reply, item["accepted"])
            correct[kind] += hit
            print(f"  quiz {kind:<5} {'ok ' if hit else 'no '} {item['question']!r} -> {reply!r}", flush=True)
    return correct


def _progress(progress) -> None:
    if progress.message or progress.step % 10 == 0:
        print("  " + (progress.message or "  ".join(progress.parts())), flush=True)


if __name__ == "__main__":
    sys.exit(main())
