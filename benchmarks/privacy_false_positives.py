"""False positives of the privacy scrub on real chat messages: how many messages it changes, per kind.

Reads every message text of a corpus: DiscordChatExporter exports (JSON, CSV, TXT, HTML, zips, folders of
them) through the project's own readers (`discord_echo.ingest.exports.read_exports`), or, with
``--lines``, plain text files with one message per line (IRC logs, chat corpora). Scrubs each text with
the default `PrivacyConfig` (URLs are not scrubbed by default, so they are not counted), once per
``--phone-region``, and prints per kind how many messages it changed and how many per 10,000, with the
values it replaced and a little text around them, so a person can judge each: a real phone number,
address or key in the chat is a true positive; a version number taken for an IP address is not.

Run:  .venv/bin/python benchmarks/privacy_false_positives.py [--corpus PATH ...] [--lines]
          [--phone-region US [GB ...]] [--examples 20] [--context 30] [--masked]

The default corpus is ``../shared/samples/dce`` (or ``$DISCORD_ECHO_SAMPLES``) when it is there. The
examples print what was found as it is in the corpus (``--masked``: in the report's masked form only),
so only run it on public text. Per region it prints one line per kind
(``region=US kind=ip changed=<k> per_10k=<x>``) and one total; the last line is the first region's
total: ``messages=<n> changed=<k> per_10k=<x>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from discord_echo.dataset.privacy.report import KINDS, RedactionReport, mask
from discord_echo.dataset.privacy.scrubber import PrivacyConfig, Scrubber

REPO = Path(__file__).resolve().parents[1]

DEFAULT_CORPUS = Path(os.environ.get("DISCORD_ECHO_SAMPLES", REPO.parent / "shared" / "samples" / "dce"))


class _Collect(RedactionReport):
    """A report that also keeps the raw values of one text, in the order they were replaced."""

    def __init__(self) -> None:
        super().__init__(max_examples=0)
        self.values: list[tuple[str, str]] = []

    def add(self, kind: str, value: str) -> None:
        super().add(kind, value)
        self.values.append((kind, value))


@dataclass
class Tally:
    """What one phone-region setting changed in the corpus."""

    region: str
    messages: int = 0
    changed: int = 0
    seconds: float = 0.0
    by_kind: Counter = field(default_factory=Counter)  # messages changed by each kind
    values: Counter = field(default_factory=Counter)  # values replaced, each kind
    examples: dict[str, list[str]] = field(default_factory=dict)


def read_texts(paths: list[Path], lines: bool) -> Iterator[str]:
    """Every non-empty message text under `paths`."""
    if lines:
        for path in paths:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in files:
                with file.open(encoding="utf-8", errors="replace") as handle:
                    for line in handle:
                        if line.strip():
                            yield line.rstrip("\n")
        return
    from discord_echo.ingest.exports import read_exports

    reports: list = []
    for message in read_exports(paths, reports=reports):
        if message.content.strip():
            yield message.content
    errors = [r for r in reports if r.error]
    print(f"files={len(reports)} unreadable={len(errors)}", file=sys.stderr)
    for report in errors[:5]:
        print(f"  {report.label}: {report.error}", file=sys.stderr)


def _context(text: str, value: str, width: int) -> str:
    at = text.find(value)
    if at < 0:  # an earlier kind changed the text around it
        return value
    start, end = max(0, at - width), min(len(text), at + len(value) + width)
    snippet = f"{text[start:at]}⟦{value}⟧{text[at + len(value) : end]}"
    return ("…" if start else "") + " ".join(snippet.split()) + ("…" if end < len(text) else "")


def measure(texts: list[str], region: str, examples: int, context: int, masked: bool) -> Tally:
    scrubber = Scrubber(PrivacyConfig(phone_region=region))
    tally = Tally(region)
    started = time.perf_counter()
    for text in texts:
        collect = _Collect()
        out = scrubber.scrub(text, collect)
        tally.messages += 1
        if out == text:
            continue
        tally.changed += 1
        for kind in dict.fromkeys(kind for kind, _ in collect.values):
            tally.by_kind[kind] += 1
        for kind, value in collect.values:
            tally.values[kind] += 1
            kept = tally.examples.setdefault(kind, [])
            if len(kept) < examples:
                kept.append(mask(kind, value) if masked else _context(text, value, context))
    tally.seconds = time.perf_counter() - started
    return tally


def per_10k(count: int, messages: int) -> str:
    return f"{count * 10_000 / messages:.2f}" if messages else "nan"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, nargs="+", help="export files/folders (or text files with --lines)")
    parser.add_argument("--lines", action="store_true", help="plain text, one message per non-empty line")
    parser.add_argument("--phone-region", nargs="+", default=["US"], help="phone regions to scrub with (US)")
    parser.add_argument("--examples", type=int, default=20, help="examples printed per kind (20)")
    parser.add_argument("--context", type=int, default=30, help="characters of text shown either side (30)")
    parser.add_argument("--masked", action="store_true", help="print examples masked, without context")
    args = parser.parse_args(argv)
    corpus = args.corpus or ([DEFAULT_CORPUS] if DEFAULT_CORPUS.is_dir() else None)
    if not corpus:
        parser.error(f"no corpus: {DEFAULT_CORPUS} is not here; pass --corpus PATH (DCE exports, or --lines)")
    missing = [str(p) for p in corpus if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(missing)}")

    started = time.perf_counter()
    texts = list(read_texts(corpus, args.lines))
    print(
        f"corpus: {', '.join(map(str, corpus))}: {len(texts)} messages ({len(set(texts))} distinct texts) "
        f"read in {time.perf_counter() - started:.1f} s"
    )
    tallies = [measure(texts, region.upper(), args.examples, args.context, args.masked) for region in args.phone_region]
    for tally in tallies:
        print(f"\n## phone_region={tally.region} ({tally.seconds:.1f} s scrubbing)")
        for kind in KINDS:
            if tally.values[kind]:
                print(f"\n### {kind}: {tally.by_kind[kind]} messages, {tally.values[kind]} values")
                for example in tally.examples[kind]:
                    print(f"  {example}")
        print()
        for kind in KINDS[:-1]:
            if kind == "url":  # off by default
                continue
            n = tally.by_kind[kind]
            print(f"region={tally.region} kind={kind} changed={n} per_10k={per_10k(n, tally.messages)}")
        print(
            f"region={tally.region} messages={tally.messages} changed={tally.changed} "
            f"per_10k={per_10k(tally.changed, tally.messages)}"
        )
    first = tallies[0]
    print(f"messages={first.messages} changed={first.changed} per_10k={per_10k(first.changed, first.messages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
