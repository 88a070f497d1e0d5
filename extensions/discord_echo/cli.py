"""The `discord-echo` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function and prints. Library errors
(`EchoError`) become ``Error: <message>`` on stderr and exit code 1, in one place (`main`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from discord_echo.config import ReadConfig
from discord_echo.errors import EchoError
from discord_echo.inspection import FileSummary, inspect_exports


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    for name in ("timezone",):
        meta = ReadConfig.__dataclass_fields__[name]
        parser.add_argument(f"--{name.replace('_', '-')}", default=meta.default, help=meta.metadata["help"])


def _read_config(args: argparse.Namespace) -> ReadConfig:
    return ReadConfig(timezone=args.timezone)


def _print_summary(summary: FileSummary, out) -> None:
    print(summary.path, file=out)
    if summary.error:
        print(f"  ERROR: {summary.error}", file=out)
    fmt = summary.format or "?"
    version = f" (DiscordChatExporter {summary.exporter_version})" if summary.exporter_version else ""
    print(f"  format:   {fmt}{version}", file=out)
    if summary.guild or summary.channel:
        print(f"  channel:  {summary.guild or '?'} / {summary.channel or '?'}", file=out)
    declared = f" (the file says {summary.declared_count})" if summary.declared_count is not None else ""
    print(f"  messages: {summary.messages}{declared}", file=out)
    if summary.first and summary.last:
        print(f"  range:    {summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} UTC", file=out)
    if summary.types:
        print("  types:    " + ", ".join(f"{k} {v}" for k, v in summary.types.items()), file=out)
    if summary.authors:
        print(f"  authors:  {len(summary.authors)}", file=out)
        for author in summary.authors[:25]:
            ident = f" [{author.id}]" if author.id else ""
            shown = author.name if author.display_name == author.name else f"{author.display_name} ({author.name})"
            bot = " BOT" if author.is_bot else ""
            print(f"    {author.count:>7}  {shown}{ident}{bot}", file=out)
        if len(summary.authors) > 25:
            print(f"    ... and {len(summary.authors) - 25} more", file=out)
    if summary.bots:
        print("  bots:     " + ", ".join(a.name for a in summary.bots), file=out)
    for warning in summary.warnings:
        print(f"  warning:  {warning}", file=out)


def cmd_inspect(args: argparse.Namespace) -> int:
    summaries = inspect_exports(args.files, _read_config(args))
    if args.json:
        json.dump({"files": [s.to_json() for s in summaries]}, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        for summary in summaries:
            _print_summary(summary, sys.stdout)
    return 1 if any(s.error for s in summaries) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="discord-echo", description="Turn a DiscordChatExporter export into a LoRA that writes like you."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect", help="Show what is in export files: format, channel, dates, authors, problems."
    )
    inspect.add_argument("files", nargs="+", help="Export files, folders or zips (any DCE format).")
    inspect.add_argument("--json", action="store_true", help="Print one JSON object with a 'files' list.")
    _add_read_options(inspect)
    inspect.set_defaults(run=cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except EchoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
