"""Benchmark: export -> dataset on a 37k-message two-person chat, against a naive baseline.

    .venv/bin/python benchmarks/build.py [--messages 37000] [--cutoff 256] [--threads 1]

The build also runs once in a child process, which writes the dataset too; its peak RSS (``rss_mb``,
VmHWM) is the build's and the write's alone, not the generator's; ``--messages 1000000`` works, and above
200,000 messages only that child build is timed.

Builds a synthetic DCE JSON export (the bundled sample's generator, more sessions), then
times in one process:

* ours: ``build_dataset`` with a real (tiny, locally trained) tokenizer, so every sample's
  length is counted exactly and fitted to the cutoff; the build tokenizes on a second thread beside its own
  (dataset/background_counts.py), so its CPU time is printed too;
* naive: what people do by hand (docs/why-echoes-fail.md, Wrong pairing): ``json.load`` the export, pair each
  message of the other person with the next message of mine, no tokenizer, no cleaning.

Both run once to warm up, then five times each, alternating; the medians give the ratio. Prints both
times, the ratio ours/naive, and the share of samples within the cutoff for
each, measured with the same tokenizer the way the webui trainer does. The last line reads
``ratio=<ours/naive> within_cutoff=<ours> naive_within_cutoff=<naive> rss_mb=<build peak RSS>``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "samples"), str(ROOT / "tests")]

import make_sample  # noqa: E402
from tiny_models import build_tiny_tokenizer  # noqa: E402

from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build  # noqa: E402
from discord_echo.dataset.samples import DatasetConfig  # noqa: E402
from discord_echo.templates.chat import load_renderer  # noqa: E402


def naive_pairs(path: Path, me: str) -> list[dict]:
    """Pair each message by someone else with the next message of mine."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows, prompt = [], None
    for message in data["messages"]:
        if message["author"]["name"] == me:
            if prompt is not None:
                rows.append(
                    {
                        "messages": [
                            {"role": "user", "content": prompt},
                            {"role": "assistant", "content": message["content"]},
                        ]
                    }
                )
                prompt = None
        else:
            prompt = message["content"]
    return rows


def session_gap_hours(sessions: int) -> tuple[int, int]:
    """Hours between sessions: the bundled sample's 10-40, closer for exports that would span over 20 years.

    A chat of a million messages at one session a day would run for centuries, past the 139 years after 2015
    that Discord's snowflake ids can encode; such ids are not ids any real export holds.
    """
    return (10, 40) if sessions * 25 <= 20 * 8766 else (1, 2)


def within(rows: list[list[dict]], tokenizer, cutoff: int) -> float:
    lengths = [len(tokenizer.apply_chat_template(m, tokenize=True, return_dict=False)) for m in rows]
    return sum(n <= cutoff for n in lengths) / max(1, len(lengths))


# Up to this size the timed build runs in this process, next to the naive baseline; above it only the child's
# build is timed (this process holds the generated export).
IN_PROCESS_UP_TO = 200_000
ROUNDS = 5  # alternating naive / ours runs whose medians give the ratio


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(export: str, tokenizer_dir: str, cutoff: int, out: str) -> None:
    """Build and write the dataset in this (fresh) process; seconds, peak RSS and the dataset go to ``out``.

    The peak RSS is taken after the dataset is written, so it covers the whole road a user runs; the
    written files are read back only by the parent (for the within-cutoff check).
    """
    renderer = load_renderer(tokenizer_dir)
    settings = BuildConfig(dataset=DatasetConfig(cutoff_len=cutoff))
    start = time.perf_counter()
    result = build_dataset([Path(export)], ["alex"], settings, renderer)
    seconds = time.perf_counter() - start
    written = write_build(result, settings, Path(out).parent / "user_data", "bench")
    rss = peak_rss_mb()
    mine = sum(len(s.my_message_ids) for s in result.train) + sum(len(s.my_message_ids) for s in result.held_out)
    files = [str(written.train), str(written.eval) if written.eval else None]
    Path(out).write_bytes(pickle.dumps((seconds, files, mine, rss, renderer.exact)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=37_000)
    parser.add_argument("--cutoff", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="tokenizer threads (TOKENIZERS_PARALLELISM off at 1)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if args.child:
        export, tokenizer_dir, cutoff, out = args.child
        child_build(export, tokenizer_dir, int(cutoff), out)
        return
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sessions = max(2, args.messages // 9)
        data = make_sample.build(seed=1, sessions=sessions, gap_hours=session_gap_hours(sessions))
        data["messages"] = data["messages"][: args.messages]
        # Real chats have the odd long message (a story, a pasted log): 3 % of Sam's lines
        # become 150-450 words, which is what overflows a cutoff when nobody counts tokens.
        rng = random.Random(2)
        words = "so anyway the thing about that place is that nobody ever tells you the truth".split()
        for message in data["messages"]:
            if message["author"]["name"] != "alex" and rng.random() < 0.03:
                message["content"] = " ".join(rng.choice(words) for _ in range(rng.randint(150, 450))) + "."
        export = tmp / "dm.json"
        export.write_text(json.dumps(data, indent=2))
        tokenizer_dir = build_tiny_tokenizer(tmp / "tok")
        hf = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
        settings = BuildConfig(dataset=DatasetConfig(cutoff_len=args.cutoff))

        # Neither timed run may pay for this script's own objects: the generated document and transformers
        # (imported for the cutoff check) leave ~200,000 objects that every garbage collection during the
        # runs would walk again. Left in, they slowed the naive baseline's json.loads 2x (0.39 s -> 0.8 s)
        # and the build far less, which flattered the ratio. Frozen, both run as in a fresh process.
        out = tmp / "child.pickle"
        command = [sys.executable, __file__, "--threads", str(args.threads), "--child"]
        subprocess.run([*command, str(export), str(tokenizer_dir), str(args.cutoff), str(out)], check=True)
        ours_s, files, mine, rss, exact = pickle.loads(out.read_bytes())
        samples = [row["messages"] for path in files if path for row in json.loads(Path(path).read_text("utf-8"))]
        ours_cpu = None
        del data
        gc.collect()
        gc.freeze()  # after everything this script keeps: see the comment above
        naive_pairs(export, "alex")  # burn-in: page cache, imports
        if args.messages <= IN_PROCESS_UP_TO:
            # The ratio from builds in this process, alternating with the naive runs (medians of ROUNDS), after
            # one burn-in of each: the machine's speed drifts by 10-20 % over minutes, and alternating cancels it.
            build_dataset([export], ["alex"], settings, load_renderer(tokenizer_dir))
            naive_times, ours_times, ours_cpus = [], [], []
            for _ in range(ROUNDS):
                gc.collect()  # each run starts with no garbage of the one before
                start = time.perf_counter()
                naive = naive_pairs(export, "alex")
                naive_times.append(time.perf_counter() - start)
                del naive
                renderer = load_renderer(tokenizer_dir)
                gc.collect()
                start, cpu = time.perf_counter(), time.process_time()
                build_dataset([export], ["alex"], settings, renderer)
                ours_times.append(time.perf_counter() - start)
                ours_cpus.append(time.process_time() - cpu)
                del renderer
            naive = naive_pairs(export, "alex")
            naive_s, ours_s, ours_cpu = map(statistics.median, (naive_times, ours_times, ours_cpus))
        else:
            start = time.perf_counter()
            naive = naive_pairs(export, "alex")
            naive_s = time.perf_counter() - start

        ours_within = within(samples, hf, args.cutoff)
        naive_within = within([r["messages"] for r in naive], hf, args.cutoff)
        print(f"export: {args.messages:,} messages, {export.stat().st_size / 1e6:.1f} MB")
        print(f"naive:  {naive_s:.2f} s, {len(naive):,} pairs, {naive_within:.1%} within cutoff {args.cutoff}")
        cpu = f", {ours_cpu:.2f} s of CPU (counting runs on a second thread)" if ours_cpu is not None else ""
        print(
            f"ours:   {ours_s:.2f} s{cpu}, {len(samples):,} samples ({mine:,} of my messages), "
            f"{ours_within:.1%} within cutoff, exact token counts: {exact}, build peak RSS {rss:.0f} MB"
        )
        print(
            f"ratio={ours_s / naive_s:.2f} within_cutoff={ours_within:.3f} "
            f"naive_within_cutoff={naive_within:.3f} rss_mb={rss:.0f}"
        )


if __name__ == "__main__":
    main()
