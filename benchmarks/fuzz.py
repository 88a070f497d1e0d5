"""Fuzz the export readers: N mutated real samples per format, each under a time limit.

Takes the real DCE samples (``../shared/samples/dce``, or ``--samples``); builds cases with the
mutations in ``benchmarks/fuzz_mutations.py`` (truncations, byte flips, re-encodings, huge
fields, deep nesting, missing fields and wrong types in JSON trees, broken CSV rows, TXT
headers and dates, HTML markup, broken zip archives) from a seeded generator per case, and
reads each through the public API in worker processes. A case that ends in anything but
messages or an `EchoError` naming the file is "unhandled"; so is one that passes its time
limit or makes its worker die (a watchdog restarts it).

Run:  .venv/bin/python benchmarks/fuzz.py [--cases 10000] [--formats json,csv,txt,html,zip]
          [--seed 0] [--workers N] [--time-limit 10] [--memory-mb 4096] [--show 3] [--save DIR]
      .venv/bin/python benchmarks/fuzz.py --replay json:123   (one case in process, in full)

Prints one line per format (cases, ok, clean errors, errors naming a position, unhandled,
seconds), the first few unhandled cases with their tracebacks, and last the line
``cases=<n> unhandled=<k>``. The exit status is 1 when k > 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

from fuzz_mutations import FORMATS, load_corpus, make_case, run_case

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLES = Path(os.environ.get("DISCORD_ECHO_SAMPLES", REPO.parent / "shared" / "samples" / "dce"))


def case_rng(seed: int, fmt: str, number: int) -> random.Random:
    """The generator of one case: the same case for the same seed on every run and machine."""
    return random.Random(f"{seed}:{fmt}:{number}")


def _worker(wid: int, jobs: list[tuple[str, int]], args: argparse.Namespace, results: Any) -> None:
    if args.memory_mb:  # a runaway allocation becomes a MemoryError, not a swapping machine
        limit = args.memory_mb * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    corpus = load_corpus(args.samples)
    with tempfile.TemporaryDirectory(prefix="echo-fuzz-") as folder:
        for fmt, number in jobs:
            results.put(("start", wid, fmt, number))
            case = make_case(fmt, case_rng(args.seed, fmt, number), corpus)
            started = time.perf_counter()
            outcome = run_case(case, Path(folder), args.time_limit)
            elapsed = time.perf_counter() - started
            if outcome.kind == "unhandled" and args.save:
                (args.save / f"{fmt}-{number}-{case.file_name}").write_bytes(case.data)
            detail = outcome.detail[:6000]
            results.put(("done", wid, fmt, number, outcome.kind, detail, outcome.positioned, case.description, elapsed))


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {fmt: Counter() for fmt in FORMATS}
        self.seconds: Counter[str] = Counter()
        self.slowest: dict[str, tuple[float, str]] = {fmt: (0.0, "") for fmt in FORMATS}
        self.failures: dict[str, list[str]] = {fmt: [] for fmt in FORMATS}
        self.kinds: dict[str, Counter[str]] = {fmt: Counter() for fmt in FORMATS}
        self.unpositioned: dict[str, Counter[str]] = {fmt: Counter() for fmt in FORMATS}

    def add(self, fmt: str, number: int, kind: str, detail: str, positioned: bool, description: str) -> None:
        counts = self.counts[fmt]
        counts["cases"] += 1
        counts[kind] += 1
        counts["positioned"] += kind == "clean" and positioned
        if kind == "clean" and not positioned:
            self.unpositioned[fmt][_signature(detail.split(": ", 1)[-1])] += 1
        if kind == "unhandled":
            self.failures[fmt].append(f"{fmt}:{number}  {description[:300]}\n{detail.rstrip()}")
            self.kinds[fmt][_signature(detail)] += 1


def _signature(detail: str) -> str:
    """What an unhandled case is, to group repeats: the exception line and the reader frame raising it."""
    lines = detail.rstrip().splitlines() or [""]
    frames = [line.strip() for line in lines if line.strip().startswith("File ") and "discord_echo" in line]
    where = frames[-1].split("discord_echo/")[-1] if frames else ""
    last = re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'...'", lines[-1]))[:120]
    return f"{last}  [{where}]" if where else last


def _run(args: argparse.Namespace) -> _Tally:
    jobs = [(fmt, number) for fmt in args.formats for number in range(args.cases)]
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    results = context.Queue()
    tally = _Tally()
    remaining = {wid: deque(jobs[wid :: args.workers]) for wid in range(args.workers)}
    procs: dict[int, Any] = {}
    current: dict[int, tuple[str, int, float] | None] = {}
    watchdog = args.time_limit * 2 + 30

    def start(wid: int) -> None:
        current[wid] = None
        if remaining[wid]:
            procs[wid] = context.Process(target=_worker, args=(wid, list(remaining[wid]), args, results), daemon=True)
            procs[wid].start()

    def lost(wid: int, why: str) -> None:
        job = remaining[wid].popleft()
        tally.add(job[0], job[1], "unhandled", why, False, "(see --replay)")
        start(wid)

    for wid in remaining:
        start(wid)
    while any(remaining.values()):
        try:
            message = results.get(timeout=1)
        except queue.Empty:
            message = None
        if message is None:  # (outside the except block, so forked workers start without its context)
            for wid, proc in list(procs.items()):
                job = current.get(wid)
                if remaining[wid] and not proc.is_alive():
                    lost(wid, f"worker died (exit code {proc.exitcode}) on this case")
                elif job and time.monotonic() - job[2] > watchdog:
                    proc.kill()
                    proc.join()
                    lost(wid, f"hang: no result within {watchdog:g} s (the time limit did not fire), worker killed")
            continue
        if message[0] == "start":
            _, wid, fmt, number = message
            current[wid] = (fmt, number, time.monotonic())
        else:
            _, wid, fmt, number, kind, detail, positioned, description, elapsed = message
            remaining[wid].popleft()
            current[wid] = None
            tally.add(fmt, number, kind, detail, positioned, description)
            tally.seconds[fmt] += elapsed
            tally.slowest[fmt] = max(tally.slowest[fmt], (elapsed, f"{fmt}:{number}"))
    for proc in procs.values():
        proc.join(timeout=10)
    return tally


def _report(tally: _Tally, args: argparse.Namespace) -> int:
    head = f"{'format':<6} {'cases':>7} {'ok':>7} {'clean':>7} {'w/ pos':>7} {'unhandled':>9} {'cpu s':>8}"
    print(head + "  slowest case")
    total = unhandled = 0
    for fmt in args.formats:
        c = tally.counts[fmt]
        print(
            f"{fmt:<6} {c['cases']:>7} {c['ok']:>7} {c['clean']:>7} {c['positioned']:>7} {c['unhandled']:>9} "
            f"{tally.seconds[fmt]:>8.1f}  {tally.slowest[fmt][0]:.2f} s ({tally.slowest[fmt][1]})"
        )
        total += c["cases"]
        unhandled += c["unhandled"]
    for fmt in args.formats if args.unpositioned else ():
        for signature, count in tally.unpositioned[fmt].most_common(args.unpositioned):
            print(f"{fmt}: {count} x clean error without a position: {signature}")
    for fmt in args.formats:
        for signature, count in tally.kinds[fmt].most_common():
            print(f"{fmt}: {count} x {signature}")
    for fmt in args.formats:
        for failure in tally.failures[fmt][: args.show]:
            print(f"\n--- unhandled {failure}")
    print(f"cases={total} unhandled={unhandled}")
    return unhandled


def _replay(spec: str, args: argparse.Namespace) -> int:
    fmt, _, number = spec.partition(":")
    case = make_case(fmt, case_rng(args.seed, fmt, int(number)), load_corpus(args.samples))
    print(f"{fmt}:{number}  {case.description}  ({len(case.data)} bytes)")
    with tempfile.TemporaryDirectory(prefix="echo-fuzz-") as folder:
        started = time.perf_counter()
        outcome = run_case(case, Path(folder), args.time_limit)
        print(f"{outcome.kind} in {time.perf_counter() - started:.2f} s: {outcome.detail[:20000]}")
        if args.save:
            (args.save / f"{fmt}-{number}-{case.file_name}").write_bytes(case.data)
    return outcome.kind == "unhandled"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per format (default 10000)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset of " + ",".join(FORMATS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per case before it counts as a hang")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit of each worker (0: none)")
    parser.add_argument("--show", type=int, default=3, help="unhandled cases shown per format")
    parser.add_argument("--unpositioned", type=int, default=0, help="list the N commonest errors without a position")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--save", type=Path, help="write the input of each unhandled case into this folder")
    parser.add_argument("--replay", metavar="FORMAT:N", help="run one case in this process and print it in full")
    args = parser.parse_args(argv)
    args.formats = [fmt for fmt in args.formats.split(",") if fmt]
    unknown = set(args.formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    if not args.samples.is_dir():
        parser.error(f"samples not found at {args.samples} (set --samples or DISCORD_ECHO_SAMPLES)")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    if args.replay:
        return _replay(args.replay, args)
    args.workers = max(1, min(args.workers, args.cases * len(args.formats)))
    started = time.perf_counter()
    tally = _run(args)
    print(f"# seed={args.seed} workers={args.workers} wall={time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 1 if _report(tally, args) else 0


if __name__ == "__main__":
    sys.exit(main())
