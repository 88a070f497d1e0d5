"""Benchmark: streaming JSON ingest against a plain ``orjson.loads`` of the same export.

Writes a synthetic DiscordChatExporter JSON export of N messages, shaped and indented the way
DCE 2.47 writes it (docs/formats.md, JSON fields: authors with roles, replies via ``reference``,
reactions with users, attachments, edits, embeds, mentions), then measures, each in a fresh
child process so one figure never pollutes the other:

* ingest: iterate ``read_json`` over the file, counting messages (time and peak RSS);
* baseline: ``orjson.loads(open(path, "rb").read())`` (time and peak RSS).

Run:  .venv/bin/python benchmarks/ingest.py [--messages 1000000] [--path FILE] [--reuse]

The last line is ``ratio=<ingest time / orjson time> rss_mb=<ingest peak RSS>``;
the targets at 1M messages are ratio <= 1.0 and rss_mb <= 500.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 1234
DISCORD_EPOCH_MS = 1420070400000
WORDS = (  # noqa: SIM905 - a sentence reads better than a 90-item list
    "the a to and of I you it is that in for this on was just but be have not with so what "
    "lol yeah ok like do can get know think me my we are no if at all one time would good "
    "really going about there now up how when out they will an or it's don't I'm gonna "
    "export model training channel message server bot role ping @everyone :kekw: https://x.y/z "
    r"café naïve Ξ \ud83d\ude02 \ud83d\udc4d \"quoted\" back\\slash"
).split()


# --- generation --------------------------------------------------------------------------


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def _user(rng: random.Random, number: int, roles: bool) -> dict:
    name = f"user{number:02d}"
    user = {
        "id": str(rng.randrange(10**17, 10**18)),
        "name": name,
        "discriminator": "0000",
        "nickname": f"User {number} ✨" if number % 3 else name,
        "color": "#1F8B4C" if number % 2 else None,
        "isBot": number == 7,
    }
    if roles:
        user["roles"] = [
            {"id": str(rng.randrange(10**17, 10**18)), "name": f"Role {r}", "color": "#F1C40F", "position": 150 - r}
            for r in range(1 + (number % 4 == 0))
        ]
    user["avatarUrl"] = f"https://cdn.discordapp.com/avatars/{user['id']}/{'ab' * 16}.png?size=512"
    return user


def _block(value: object, spaces: int) -> str:
    """``value`` as DCE writes it (2-space indent, non-ASCII kept) nested ``spaces`` deep."""
    return _indent(json.dumps(value, indent=2, ensure_ascii=False), spaces)


def _timestamp(ms: int, offset_hours: int) -> str:
    """Like System.Text.Json: trailing zeros of the fraction dropped, 0-7 digits."""
    dt = datetime.fromtimestamp(ms / 1000, timezone(timedelta(hours=offset_hours)))
    fraction = f"{ms % 1000:03d}".rstrip("0")
    text = dt.strftime("%Y-%m-%dT%H:%M:%S") + ("." + fraction if fraction else "")
    return text + f"{'+' if offset_hours >= 0 else '-'}{abs(offset_hours):02d}:00"


def generate(path: Path, count: int) -> None:
    rng = random.Random(SEED)
    users = [_user(rng, n, roles=True) for n in range(12)]
    authors = [_block(u, 6) for u in users]
    mentions = [_block([u], 6) for u in users]
    reactors = [{k: v for k, v in u.items() if k != "roles"} for u in users]
    emoji = {"id": "", "name": "👍", "code": "thumbsup", "isAnimated": False, "imageUrl": "https://x/1f44d.svg"}
    reactions = [_block([{"emoji": emoji, "count": n, "users": rng.sample(reactors, n)}], 6) for n in (1, 2, 3)]
    embed = _block(
        [
            {
                "title": "A link",
                "url": "https://example.com/page",
                "timestamp": None,
                "description": "What the page says about itself.",
                "thumbnail": {"url": "https://example.com/t.png", "width": 200, "height": 200},
                "images": [],
                "fields": [],
                "inlineEmojis": [],
            }
        ],
        6,
    )
    channel_id, guild_id = "998527456925462549", "860395547567587328"
    reference = _block({"type": "Default", "messageId": "@", "channelId": channel_id, "guildId": guild_id}, 6)
    reference = '      "reference": ' + reference.replace("%", "%%").replace('"@"', '"%s"') + ",\n"
    head = {
        "guild": {"id": guild_id, "name": "Bench guild", "iconUrl": "https://cdn.discordapp.com/icons/1/2.png"},
        "channel": {
            "id": channel_id,
            "type": "GuildTextChat",
            "categoryId": "1019786917887361114",
            "category": "Text Channels",
            "name": "general",
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2026-03-01T12:00:00.1234567+00:00",
    }
    ms = 1_600_000_000_000
    ids: list[str] = []
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ',\n  "messages": [\n')
        parts: list[str] = []
        for i in range(count):
            ms += rng.randrange(1, 120_000)
            mid = str(((ms - DISCORD_EPOCH_MS) << 22) | (i & 0x3FFFFF) % 4096)
            offset = 2 if i % 10 == 0 else 0  # 2.41+: the exporting machine's local offset
            author = rng.randrange(len(users))
            roll = rng.random()
            text = " ".join(rng.choices(WORDS, k=rng.randrange(1, 30)))
            reply = ids and roll < 0.2
            attachments = "[]"
            if roll > 0.95:
                attachments = _block(
                    [
                        {
                            "id": mid,
                            "url": f"https://cdn.discordapp.com/attachments/{channel_id}/{mid}/image{i}.png",
                            "fileName": f"image{i}.png",
                            "fileSizeBytes": 17582,
                        }
                    ],
                    6,
                )
            parts.append(
                "    {\n"
                f'      "id": "{mid}",\n'
                f'      "type": "{"Reply" if reply else "Default"}",\n'
                f'      "timestamp": "{_timestamp(ms, offset)}",\n'
                f'      "timestampEdited": {_edited(rng, ms, offset)},\n'
                '      "callEndedTimestamp": null,\n'
                f'      "isPinned": {"true" if roll > 0.999 else "false"},\n'
                f'      "content": "{text}",\n'
                f'      "author": {authors[author]},\n'
                f'      "attachments": {attachments},\n'
                f'      "embeds": {embed if 0.9 < roll <= 0.95 else "[]"},\n'
                '      "stickers": [],\n'
                f'      "reactions": {reactions[i % 3] if 0.3 < roll < 0.4 else "[]"},\n'
                f'      "mentions": {mentions[(author + 1) % len(users)] if reply else "[]"},\n'
                + (reference % rng.choice(ids[-50:]) if reply else "")
                + '      "inlineEmojis": []\n'
                "    }"
            )
            ids.append(mid)
            if len(ids) > 100:
                del ids[:50]
            if len(parts) == 10_000 or i == count - 1:
                out.write((",\n" if i >= len(parts) else "") + ",\n".join(parts))
                parts.clear()
        out.write("\n" if count else "")
        out.write(f'  ],\n  "messageCount": {count}\n}}\n')


def _edited(rng: random.Random, ms: int, offset: int) -> str:
    return f'"{_timestamp(ms + rng.randrange(1000, 10**7), offset)}"' if rng.random() < 0.05 else "null"


# --- measurement (each in its own process) --------------------------------------------------


def _peak_rss_mb() -> float:
    """Peak RSS of this process image, in MB (2^20 bytes).

    Linux's ru_maxrss would do, except that it carries the parent's peak across fork+exec:
    the generator's memory would show up in the child. VmHWM starts afresh at exec.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _child_ingest(path: str) -> None:
    from discord_echo.core.messages import Source
    from discord_echo.ingest.base import FileReport
    from discord_echo.ingest.config import ReadConfig
    from discord_echo.ingest.json_export.reader import read_json

    report = FileReport(path)
    start = time.perf_counter()
    with open(path, "rb") as stream:
        count = sum(1 for _ in read_json(stream, Source(path, "json"), report, ReadConfig()))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "count": count, "rss_mb": _peak_rss_mb(), "warnings": report.warnings}))


def _child_orjson(path: str, gc_off: bool = False) -> None:
    import gc

    import orjson

    if gc_off:  # orjson's own speed: without it most of the time is cyclic-GC passes over the growing tree
        gc.disable()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        document = orjson.loads(stream.read())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "count": len(document["messages"]), "rss_mb": _peak_rss_mb()}))


def _measure(kind: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, f"--child-{kind}", str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the synthetic export")
    parser.add_argument("--path", type=Path, help="where to write the export (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="use --path as it is if it already exists")
    parser.add_argument("--child-ingest", help=argparse.SUPPRESS)
    parser.add_argument("--child-orjson", help=argparse.SUPPRESS)
    parser.add_argument("--child-orjson-nogc", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ingest:
        return _child_ingest(args.child_ingest)
    if args.child_orjson:
        return _child_orjson(args.child_orjson)
    if args.child_orjson_nogc:
        return _child_orjson(args.child_orjson_nogc, gc_off=True)

    with tempfile.TemporaryDirectory(prefix="discord_echo_bench_") as tmp:
        path = args.path or Path(tmp) / "export.json"
        if not (args.reuse and path.exists()):
            start = time.perf_counter()
            generate(path, args.messages)
            print(f"generated {args.messages:,} messages in {time.perf_counter() - start:.1f} s")
        size_mb = os.path.getsize(path) / 1e6
        print(f"file: {path} ({size_mb:,.0f} MB)")
        with open(path, "rb") as stream:  # burn-in: both runs then read from the page cache
            while stream.read(1 << 24):
                pass
        ingest = _measure("ingest", path)
        print(
            f"ingest:  {ingest['seconds']:.2f} s, {ingest['count']:,} messages "
            f"({ingest['count'] / ingest['seconds']:,.0f}/s, {size_mb / ingest['seconds']:.0f} MB/s), "
            f"peak RSS {ingest['rss_mb']:.0f} MB"
        )
        for warning in ingest["warnings"][:5]:
            print(f"  warning: {warning}")
        baseline = _measure("orjson", path)
        print(
            f"orjson.loads: {baseline['seconds']:.2f} s, {baseline['count']:,} messages, "
            f"peak RSS {baseline['rss_mb']:.0f} MB"
        )
        raw = _measure("orjson-nogc", path)
        print(f"orjson.loads, gc disabled (for reference): {raw['seconds']:.2f} s, peak RSS {raw['rss_mb']:.0f} MB")
        print(f"ratio={ingest['seconds'] / baseline['seconds']:.2f} rss_mb={int(ingest['rss_mb'])}")


if __name__ == "__main__":
    main()
