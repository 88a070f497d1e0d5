"""Benchmark: streaming HTML ingest (``read_html``) on a synthetic DCE 2.47-style export.

Writes an export of N messages in the minified ≥2.35 markup (docs/formats.md, HTML 2.34 and later): groups
of 1-6 messages by rotating authors, with mentions, custom and unicode emoji, formatting,
replies, edits, link embeds and attachments, about 0.7 KB per message. Then reads it in a
fresh child process and prints one line: messages, seconds, messages/s, peak RSS.

The last line is a ratio against a baseline timed in one process with the reader, so that the
load of a shared machine cancels out: a bare ``lxml.html`` parse of the same file (the whole tree
at once, nothing read from it; lexbor's where lxml is not installed), each timed ``--repeat``
times, interleaved in alternating order, best taken. It runs in a process of its own, since the baseline's tree of the
whole file would swamp the reader's RSS.

Run:  .venv/bin/python benchmarks/html_ingest.py [--messages 100000] [--path FILE] [--reuse] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

SEED = 1234
DISCORD_EPOCH_MS = 1420070400000
OUT = Path(__file__).resolve().parent / "out"

HEAD = (
    "<!DOCTYPE html><html lang=en><head><title>Guild - chat</title><meta charset=utf-8><style>"
    + "".join(
        f".chatlog__{name}{{margin:0}}"
        for name in (
            "message-group",
            "message-container",
            "sticker",
            "embed-images",
            "system-notification-icon",
            "system-notification-author",
            "reply",
            "embed-generic-video",
            "embed-twitch",
            "embed-youtube-thumbnail",
            "forwarded",
        )  # fmt: skip
    )
    + ".preamble__entry{margin:0}</style></head><body><div class=preamble><div class=preamble__entries-container>"
    "<div class=preamble__entry>Guild</div><div class=preamble__entry>Text / chat</div></div></div>"
    '<div class="chatlog">\n'
)
AUTHORS = [(str(100000000000000000 + i), f"user{i}", f"User {i} ✨") for i in range(40)]
TEXTS = [
    "just a normal sentence about the export and the model",
    'see <span class="chatlog__markdown-mention" title="user3">@User 3</span> for <strong>details</strong>',
    'lol <img loading=lazy class="chatlog__emoji " alt=😂 title=joy src="https://twemoji.x/1f602.svg">',
    '<img class=chatlog__emoji alt=kekw title=kekw src="https://cdn.discordapp.com/emojis/1.png">',
    "line one\nline two &amp; <em>three</em>\n\nfour",
    'run <code class="chatlog__markdown-pre chatlog__markdown-pre--inline">make test</code> first',
]
EMBED = (
    "<div class=chatlog__embed><div class=chatlog__embed-color-pill style=background-color:rgba(1,2,3,255)></div>"
    "<div class=chatlog__embed-content-container><div class=chatlog__embed-content><div class=chatlog__embed-text>"
    "<div class=chatlog__embed-title><a class=chatlog__embed-title-link href=https://x.y/z>"
    '<div class="chatlog__markdown chatlog__markdown-preserve">A page title</div></a></div>'
    '<div class=chatlog__embed-description><div class="chatlog__markdown chatlog__markdown-preserve">'
    "A description of the linked page that goes on for a while.</div>"
    "</div></div></div></div></div>"
)
ATTACHMENT = (
    '<div class=chatlog__attachment><a href="https://cdn.x/a/b/cat.png"><img class=chatlog__attachment-media '
    'src="https://cdn.x/a/b/cat.png" alt="Image attachment" title="Image: cat.png (1.2 MB)" loading=lazy></a></div>'
)


def write_export(path: Path, count: int) -> None:
    rng = random.Random(SEED)
    ms = 1_700_000_000_000
    written, previous = 0, None
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        while written < count:
            uid, name, shown = AUTHORS[rng.randrange(len(AUTHORS))]
            parts = ["<div class=chatlog__message-group>"]
            for i in range(min(rng.randint(1, 6), count - written)):
                ms += rng.randint(1000, 60000)
                mid = (ms - DISCORD_EPOCH_MS) << 22
                aside, primary = "", ""
                if i == 0:
                    aside = "<img class=chatlog__avatar src=a.png alt=Avatar loading=lazy>"
                    if previous and rng.random() < 0.15:
                        primary += (
                            "<div class=chatlog__reply><div class=chatlog__reply-author title=x>X</div>"
                            "<div class=chatlog__reply-content><span class=chatlog__reply-link "
                            f"onclick=\"scrollToMessage(event,'{previous}')\">earlier</span></div></div>"
                        )
                    primary += (
                        f"<div class=chatlog__header><span class=chatlog__author title={name} data-user-id={uid}>"
                        f'{shown}</span> <span class=chatlog__timestamp title="Tuesday, November 14, 2023 10:13 PM">'
                        f"<a href=#chatlog__message-container-{mid}>11/14/2023 10:13 PM</a></span></div>"
                    )
                else:
                    aside = (
                        '<div class=chatlog__short-timestamp title="Tuesday, November 14, 2023 10:14 PM">10:14 PM</div>'
                    )
                edited = (
                    '<span class=chatlog__edited-timestamp title="Tuesday, November 14, 2023 10:20 PM">(edited)</span>'
                    if rng.random() < 0.05
                    else ""
                )
                primary += (
                    '<div class="chatlog__content chatlog__markdown"><span class=chatlog__markdown-preserve>'
                    f"{rng.choice(TEXTS)}</span>{edited}</div>"
                )
                primary += EMBED if rng.random() < 0.1 else ""
                primary += ATTACHMENT if rng.random() < 0.05 else ""
                parts.append(
                    f"<div id=chatlog__message-container-{mid} class=chatlog__message-container data-message-id={mid}>"
                    f"<div class=chatlog__message><div class=chatlog__message-aside>{aside}</div>"
                    f"<div class=chatlog__message-primary>{primary}</div></div></div>"
                )
                previous, written = mid, written + 1
            out.write("".join(parts) + "</div>\n")
        out.write(
            f"\n</div><div class=postamble><div class=postamble__entry>Exported {count:,} message(s)</div>"
            "<div class=postamble__entry>Timezone: UTC+0</div></div></body></html>\n"
        )


def _read(path: Path) -> tuple[int, int]:
    """Read the export through ``read_html``: (messages, warnings)."""
    from discord_echo.core.messages import Source
    from discord_echo.ingest.base import FileReport
    from discord_echo.ingest.config import ReadConfig
    from discord_echo.ingest.html_export.reader import read_html

    report = FileReport(str(path))
    with path.open("rb") as stream:
        count = sum(1 for _ in read_html(stream, Source(str(path), "html"), report, ReadConfig()))
    return count, len(report.warnings)


def read_once(path: Path) -> None:
    """Child process: read the export, print messages, seconds and peak RSS."""
    start = time.perf_counter()
    count, warnings = _read(path)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} {seconds:.3f} {rss_mb:.1f} {warnings}")


def compare(path: Path, repeat: int) -> None:
    """Child process: a bare parse and the reader, interleaved; print the baseline's name and the best
    seconds of each. The baseline is lxml.html's (what the reader used before lexbor), else lexbor's."""
    try:
        import lxml.html

        name, parse = "lxml.html.parse", lambda: lxml.html.parse(str(path))
    except ImportError:  # lxml is no longer a dependency of the package
        from selectolax.lexbor import LexborHTMLParser

        name, parse = "lexbor", lambda: LexborHTMLParser(path.read_bytes())
    best = {"bare": float("inf"), "ours": float("inf")}
    runs = {"bare": parse, "ours": lambda: _read(path)}
    for n in range(repeat):
        # Alternate the order: whichever runs right after the other's freed memory runs slower.
        for key in ("ours", "bare") if n % 2 else ("bare", "ours"):
            gc.collect()
            start = time.perf_counter()
            runs[key]()
            best[key] = min(best[key], time.perf_counter() - start)
    print(f"{name} {best['bare']:.3f} {best['ours']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--reuse", action="store_true", help="keep an existing file at --path")
    parser.add_argument("--repeat", type=int, default=3, help="timings of the reader and of the baseline for the ratio")
    parser.add_argument("--read-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_only:
        read_once(args.read_only)
        return
    if args.compare:
        compare(args.compare, max(args.repeat, 1))
        return
    path = args.path or OUT / f"html_{args.messages}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (args.reuse and path.exists()):
        write_export(path, args.messages)
    size_mb = path.stat().st_size / 1e6
    subprocess.run([sys.executable, __file__, "--read-only", str(path)], check=True)  # burn-in (page cache)
    result = subprocess.run(
        [sys.executable, __file__, "--read-only", str(path)], check=True, capture_output=True, text=True
    )
    count, seconds, rss_mb, warnings = result.stdout.split()
    rate = int(count) / float(seconds)
    print(f"html messages={count} size_mb={size_mb:.0f} seconds={seconds} msgs_per_s={rate:,.0f} "
          f"rss_mb={rss_mb} warnings={warnings}")  # fmt: skip
    result = subprocess.run(
        [sys.executable, __file__, "--compare", str(path), "--repeat", str(args.repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    name, bare_s, ours_s = result.stdout.split()
    bare, ours = float(bare_s), float(ours_s)
    print(f"baseline {name} seconds={bare:.3f}; reader in the same process seconds={ours:.3f}")
    print(f"ratio={ours / bare:.2f} (reader / bare {name} of the same file, best of {max(args.repeat, 1)} each)")


if __name__ == "__main__":
    main()
