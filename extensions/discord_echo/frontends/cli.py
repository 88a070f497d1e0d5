"""The `discord-echo` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function and prints. Library errors
(`EchoError`) become ``Error: <message>`` on stderr and exit code 1, in one place (`main`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from discord_echo.core.errors import EchoError
from discord_echo.core.fields import field_kind
from discord_echo.dataset.conversations import ConversationConfig
from discord_echo.dataset.privacy.scrubber import PrivacyConfig
from discord_echo.dataset.samples import DatasetConfig
from discord_echo.ingest.config import ReadConfig
from discord_echo.ingest.inspection import FileSummary, inspect_exports

# Extra spellings of generated flags (the issue's `--cutoff N`; `--scheduler` for the LR scheduler).
FLAG_ALIASES = {"cutoff_len": ("--cutoff",), "lr_scheduler": ("--scheduler",)}
# The stage config fields `build` takes as flags; every reading command takes all of ReadConfig.
BUILD_FIELDS: dict[type, tuple[str, ...]] = {
    DatasetConfig: ("cutoff_len", "context_turns", "eval_fraction", "persona"),
    ConversationConfig: ("gap_minutes", "burst_minutes"),
    PrivacyConfig: ("url", "names", "phone_region"),
}


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated flag value as the tuple of names a list field holds."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_field_flags(parser, cls: type, names: Sequence[str] | None = None, *, keep_defaults: bool = True) -> None:
    """One ``--flag`` per config field, with the field's help; bools get ``--x/--no-x``.

    What a flag takes is read from the field's annotation by `field_kind`, as the tab's widgets
    are: a ``Literal`` field accepts only its choices (argparse refuses any other value and lists
    them), numbers are parsed as ``int`` or ``float``, a tuple of names is written ``a,b``. ``%``
    in help texts is escaped, since argparse formats help with it.

    With ``keep_defaults=False`` every flag defaults to None, so a caller can tell "not
    given" from a value (``train`` overrides a profile only where asked).
    """
    from dataclasses import MISSING, fields

    chosen = [f for f in fields(cls) if names is None or f.name in names]
    for field in chosen:
        kind, choices = field_kind(cls, field.name)
        flags = (f"--{field.name.replace('_', '-')}", *FLAG_ALIASES.get(field.name, ()))
        default = None
        if keep_defaults:
            default = field.default if field.default is not MISSING else field.default_factory()  # type: ignore[misc]
        options: dict = {"dest": field.name, "default": default, "help": field.metadata["help"].replace("%", "%%")}
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif kind == "choice":
            options["choices"] = list(choices)
        else:
            options["type"] = {"int": int, "float": float, "list": _names}.get(kind, str)
        parser.add_argument(*flags, **options)


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    add_field_flags(parser, ReadConfig)


def _read_config(args: argparse.Namespace) -> ReadConfig:
    from dataclasses import fields

    return ReadConfig(**{f.name: getattr(args, f.name) for f in fields(ReadConfig)})


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


def cmd_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from discord_echo.dataset.pipeline import BuildConfig, build_dataset, write_build
    from discord_echo.templates.chat import load_renderer

    user_data = Path(args.user_data)
    templates = Path(args.templates_dir) if args.templates_dir else user_data / "instruction-templates"
    renderer = load_renderer(args.tokenizer, args.template, templates)
    settings = BuildConfig(
        read=_read_config(args),
        conversations=ConversationConfig(gap_minutes=args.gap_minutes, burst_minutes=args.burst_minutes),
        privacy=PrivacyConfig(url=args.url, names=args.names, phone_region=args.phone_region),
        dataset=DatasetConfig(
            context_turns=args.context_turns,
            cutoff_len=args.cutoff_len,
            persona=args.persona,
            eval_fraction=args.eval_fraction,
        ),
    )
    result = build_dataset(args.files, args.me, settings, renderer)
    written = write_build(result, settings, user_data, args.name, overwrite=args.overwrite, target=args.target)
    report = result.report()
    cleaning = report["cleaning"]
    print(f"me: {result.me_name} ({cleaning['kept_mine']} of my messages kept, my share {report['my_share']:.0%})")
    dropped = ", ".join(f"{k} {v}" for k, v in cleaning["dropped"].items() if v) or "none"
    print(f"messages: {cleaning['total']} read, {cleaning['kept']} kept; dropped: {dropped}")
    samples = report["samples"]
    print(
        f"samples: {samples['train']} train, {samples['eval']} held out, from {report['conversations']} "
        f"conversations; longest {samples['max_tokens']} tokens (cutoff {args.cutoff_len}); "
        f"context trimmed in {samples['trimmed_context']}"
    )
    if samples["dropped_my_turns"]:
        print("not trained: " + ", ".join(f"{k} {v}" for k, v in samples["dropped_my_turns"].items()))
    if not samples["exact_tokens"]:
        print(f"note: {samples['tokenizer']}. Pass --tokenizer for exact lengths.")
    redacted = {k: v for k, v in report["redactions"].get("counts", {}).items() if v}
    if redacted:
        print("redacted: " + ", ".join(f"{k} {v}" for k, v in redacted.items()))
    for number, sample in enumerate(result.train[: args.preview], 1):
        print(f"\n--- sample {number} as the trainer sees it ({sample.tokens} tokens; ⟦trained⟧) ---")
        print(renderer.preview(sample.messages))
    if args.preview:
        print()
    print(f"wrote {written.train}")
    if written.eval:
        print(f"wrote {written.eval}")
    print(f"wrote {written.sidecar}")
    for path in written.formats:
        print(f"format file {path}")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from pathlib import Path

    from discord_echo.frontends.app import run_app

    run_app(Path(args.user_data), port=args.port, read_config=_read_config(args))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import signal
    import threading
    from dataclasses import fields, replace
    from pathlib import Path

    from discord_echo.train.driver import request_from_user_data, train
    from discord_echo.train.profiles import profile
    from discord_echo.train.standalone.host import StandaloneHost

    base = profile(args.profile)
    changes = {f.name: getattr(args, f.name) for f in fields(base) if getattr(args, f.name, None) is not None}
    settings = replace(base, **changes)
    request = request_from_user_data(
        Path(args.user_data),
        args.dataset,
        args.model,
        args.lora,
        settings,
        template=args.template,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    _print_estimate(args.model, args.profile, settings)
    stop = threading.Event()

    def on_interrupt(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("stopping after this step and saving (Ctrl-C again to abort without saving)", flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = train(request, StandaloneHost(), _print_progress, stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    evaluated = f", held-out loss {result.final_eval_loss:.4f}" if result.final_eval_loss is not None else ""
    if result.interrupted:
        print(f"interrupted at step {result.steps}/{result.total_steps}; continue with --resume")
    print(f"adapter: {result.adapter_dir} ({result.steps} steps{evaluated})")
    return 0


def _print_progress(progress) -> None:
    print(progress.message if progress.message else "  ".join(progress.parts()), flush=True)


def _print_estimate(model: str, profile_name: str, settings) -> None:
    """The memory estimate for a local model folder, against the card size in the profile's name."""
    import re
    from pathlib import Path

    from discord_echo.train.vram import ModelShape, estimate_vram

    if not (Path(model) / "config.json").is_file():
        return
    estimate = estimate_vram(ModelShape.from_pretrained_folder(model), settings)
    print(f"memory estimate (GPU): {estimate.summary()}")
    card = re.match(r"(\d+) GB", profile_name)
    if card:
        for tip in estimate.suggest(float(card.group(1))):
            print(f"  to fit {card.group(0)}: {tip}")


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

    build = commands.add_parser("build", help="Write a training dataset of your turns into a webui user_data folder.")
    build.add_argument("files", nargs="+", help="Export files, folders or zips.")
    build.add_argument("--me", action="append", required=True, help="Your name or author id (repeat for aliases).")
    build.add_argument("--name", required=True, help="Dataset name (file stem in training/datasets).")
    build.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")
    build.add_argument("--tokenizer", help="Local model or tokenizer folder, for exact token counts.")
    build.add_argument("--template", help="'Chat Template' (the tokenizer's own) or a webui instruction template name.")
    build.add_argument(
        "--templates-dir", help="Folder of instruction templates (default: USER_DATA/instruction-templates)."
    )
    build.add_argument(
        "--target",
        choices=["chat", "legacy"],
        default="chat",
        help="'legacy' writes instruction/output rows and format files for webui trainers before 2026-03.",
    )
    build.add_argument("--overwrite", action="store_true", help="Replace an existing dataset of that name.")
    build.add_argument(
        "--preview", type=int, default=2, metavar="N", help="Print the first N samples as rendered for training."
    )
    for cls, names in BUILD_FIELDS.items():
        add_field_flags(build, cls, names)
    _add_read_options(build)
    build.set_defaults(run=cmd_build)
    _add_train_parser(commands)

    app = commands.add_parser("app", help="Open the Discord Echo tab in a browser, without the webui.")
    app.add_argument("--user-data", default="data/user_data", help="Data folder (laid out like the webui's).")
    app.add_argument("--port", type=int, default=7861, help="Port on 127.0.0.1.")
    _add_read_options(app)
    app.set_defaults(run=cmd_app)
    return parser


def _add_train_parser(commands) -> None:
    from discord_echo.templates.chat import CHAT_TEMPLATE
    from discord_echo.train.config import TrainConfig
    from discord_echo.train.profiles import DEFAULT_PROFILE, PROFILES

    train = commands.add_parser(
        "train", help="Train a LoRA on a built dataset with transformers + peft (no webui needed)."
    )
    train.add_argument("--model", required=True, help="Local model folder, or a Hugging Face id (downloaded).")
    train.add_argument("--dataset", required=True, help="Dataset name (file stem in USER_DATA/training/datasets).")
    train.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")
    train.add_argument("--lora", required=True, help="LoRA name; written to USER_DATA/loras/NAME.")
    train.add_argument("--profile", default=DEFAULT_PROFILE, choices=list(PROFILES), help="Hardware profile.")
    train.add_argument(
        "--template", default=CHAT_TEMPLATE, help="'Chat Template' (the model's own) or a webui instruction template."
    )
    train.add_argument("--resume", action="store_true", help="Continue from the newest checkpoint of that LoRA.")
    train.add_argument("--overwrite", action="store_true", help="Replace an existing LoRA of that name.")
    settings = train.add_argument_group("settings", "Override single values of the profile.")
    add_field_flags(settings, TrainConfig, keep_defaults=False)
    train.set_defaults(run=cmd_train)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except EchoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
