"""The `discord-echo` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function and prints. Library errors
(`EchoError`) become ``Error: <message>`` on stderr and exit code 1, in one place (`main`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from discord_echo.core.errors import EchoError
from discord_echo.core.fields import field_kind
from discord_echo.core.printable import printable
from discord_echo.core.safe_files import FileExistsRefusedError
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
    out = _OneLine(out)  # each print is one line: a line break inside a name or warning is shown escaped
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

    from discord_echo.dataset.pipeline import BuildConfig, EmptyDatasetError, build_dataset, write_build
    from discord_echo.templates.chat import load_renderer

    user_data = Path(args.user_data)
    templates = Path(args.templates_dir) if args.templates_dir else user_data / "instruction-templates"
    renderer = load_renderer(args.tokenizer, args.template, templates)
    # Samples are fitted to the cutoff the training profile uses (--profile), unless --cutoff says otherwise.
    given = {name: getattr(args, name) for name in BUILD_FIELDS[DatasetConfig] if getattr(args, name) is not None}
    if args.profile and "cutoff_len" not in given:
        from discord_echo.train.profiles import profile

        given["cutoff_len"] = profile(args.profile).cutoff_len
    settings = BuildConfig(
        read=_read_config(args),
        conversations=ConversationConfig(gap_minutes=args.gap_minutes, burst_minutes=args.burst_minutes),
        privacy=PrivacyConfig(url=args.url, names=args.names, phone_region=args.phone_region),
        dataset=DatasetConfig(**given),
    )
    try:
        result = build_dataset(args.files, args.me, settings, renderer)
    except EmptyDatasetError as exc:
        if exc.stage == "reading":
            _explain_unreadable(args.files, settings.read)
        raise
    for file_report in result.file_reports:
        if file_report.error:
            print(f"skipped {file_report.path}: {file_report.error}")
    for warning in result.same_channel:
        print(f"warning: {warning}")
    written = write_build(result, settings, user_data, args.name, overwrite=args.overwrite, target=args.target)
    report = result.report()
    cleaning = report["cleaning"]
    print(f"me: {result.me_name} ({cleaning['kept_mine']} of my messages kept, my share {report['my_share']:.0%})")
    dropped = ", ".join(f"{k} {v}" for k, v in cleaning["dropped"].items() if v) or "none"
    print(f"messages: {cleaning['total']} read, {cleaning['kept']} kept; dropped: {dropped}")
    samples = report["samples"]
    print(
        f"samples: {samples['train']} train, {samples['eval']} held out, from {report['conversations']} "
        f"conversations; longest {samples['max_tokens']} tokens (cutoff {settings.dataset.cutoff_len}); "
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


def _explain_unreadable(files: Sequence[str], read: ReadConfig) -> None:
    """Nothing could be read: say why for each input, as ``inspect`` does (cheap: there is nothing to read)."""
    broken = [summary for summary in inspect_exports(files, read) if summary.error]
    if broken:
        raise EchoError(
            "nothing could be read: "
            + "; ".join(str(summary.error) for summary in broken)
            + "."
        )


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

    from discord_echo.train.driver import built_for, check_request, request_from_user_data, train
    from discord_echo.train.profiles import profile, profile_label
    from discord_echo.train.standalone.host import StandaloneHost

    base = profile(args.profile)
    label = profile_label(args.profile)
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
    host = StandaloneHost()
    check_request(request, host)  # a missing dataset, a refused cutoff or LoRA name: said before anything else
    built = built_for(Path(request.dataset))
    if built is not None and built.template is not None and built.template != args.template:
        print(
            f"note: {args.dataset} was built with template {built.template!r}, this run uses {args.template!r}; "
            f"pass --template {built.template!r}, or rebuild the dataset with --template {args.template!r}"
        )
    _print_estimate(args.model, label, settings)
    stop = threading.Event()

    def on_interrupt(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("stopping after this step and saving (Ctrl-C again to abort without saving)", flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = train(request, host, _print_progress, stop)
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
        "--profile",
        type=_profile_arg,
        help="Training profile (label or id: " + _profile_ids() + "): fit samples to its cutoff (--cutoff wins).",
    )
    build.add_argument(
        "--preview", type=int, default=2, metavar="N", help="Print the first N samples as rendered for training."
    )
    for cls, names in BUILD_FIELDS.items():
        # Sample flags default to None, so a profile's cutoff applies unless --cutoff is given.
        add_field_flags(build, cls, names, keep_defaults=cls is not DatasetConfig)
    _add_read_options(build)
    build.set_defaults(run=cmd_build)
    _add_train_parser(commands)
    _add_export_parser(commands)
    _add_compare_parsers(commands)

    app = commands.add_parser("app", help="Open the Discord Echo tab in a browser, without the webui.")
    app.add_argument("--user-data", default="data/user_data", help="Data folder (laid out like the webui's).")
    app.add_argument("--port", type=int, default=7861, help="Port on 127.0.0.1.")
    _add_read_options(app)
    app.set_defaults(run=cmd_app)
    return parser


def _add_export_parser(commands) -> None:
    """`export` (axolotl / LLaMA-Factory / TRL folders) and `merge` (LoRA folded into the base): export_cli.py."""
    from discord_echo.frontends.export_cli import add_export_parsers

    add_export_parsers(commands, add_field_flags)


def _add_train_parser(commands) -> None:
    from discord_echo.templates.chat import CHAT_TEMPLATE
    from discord_echo.train.config import TrainConfig
    from discord_echo.train.profiles import DEFAULT_PROFILE, profile_id

    train = commands.add_parser(
        "train", help="Train a LoRA on a built dataset with transformers + peft (no webui needed)."
    )
    train.add_argument("--model", required=True, help="Local model folder, or a Hugging Face id (downloaded).")
    train.add_argument("--dataset", required=True, help="Dataset name (file stem in USER_DATA/training/datasets).")
    train.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")
    train.add_argument("--lora", required=True, help="LoRA name; written to USER_DATA/loras/NAME.")
    train.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        type=_profile_arg,
        help=f"Hardware profile, by label or id: {_profile_ids()} (default: {profile_id(DEFAULT_PROFILE)}).",
    )
    train.add_argument(
        "--template", default=CHAT_TEMPLATE, help="'Chat Template' (the model's own) or a webui instruction template."
    )
    train.add_argument("--resume", action="store_true", help="Continue from the newest checkpoint of that LoRA.")
    train.add_argument("--overwrite", action="store_true", help="Replace an existing LoRA of that name.")
    settings = train.add_argument_group("settings", "Override single values of the profile.")
    add_field_flags(settings, TrainConfig, keep_defaults=False)
    train.set_defaults(run=cmd_train)


def _profile_arg(text: str) -> str:
    """A ``--profile`` value (label or short id) as the profile's label; argparse reports an unknown one."""
    from discord_echo.train.profiles import profile_label

    try:
        return profile_label(text)
    except EchoError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _profile_ids() -> str:
    from discord_echo.train.profiles import PROFILES, profile_id

    return ", ".join(profile_id(label) for label in PROFILES)


def _comparer(args: argparse.Namespace):
    """The held-out files of ``--dataset`` and one loaded Comparer (base + ``--lora``), as the tab loads them."""
    from pathlib import Path

    from discord_echo.evaluate.comparer import Comparer
    from discord_echo.evaluate.session import DatasetBuild, adapter_folder

    user_data = Path(args.user_data)
    build = DatasetBuild.named(user_data, args.dataset)
    adapter = adapter_folder(user_data / "loras", args.lora)
    return build, lambda: Comparer.load(
        args.model, adapter, template=args.template, templates_dir=user_data / "instruction-templates"
    )


def _compare_settings(args: argparse.Namespace):
    from dataclasses import fields

    from discord_echo.evaluate.comparer import CompareConfig

    return CompareConfig(**{f.name: getattr(args, f.name) for f in fields(CompareConfig)})


def cmd_compare(args: argparse.Namespace) -> int:
    from discord_echo.evaluate.session import friend_of, prompts_to_compare

    build, load = _comparer(args)
    prompts = prompts_to_compare(build, args.n, args.message or "")  # before the slow load: a missing file at once
    comparer = load()
    settings = _compare_settings(args)
    for number, (prompt, real) in enumerate(prompts, 1):
        print(f"--- {number}/{len(prompts)} ---")
        print(f"friend: {friend_of(prompt)}")
        if real:
            print(f"real:   {real}")
        print(f"base:   {comparer.generate(prompt, False, settings)}")
        print(f"tuned:  {comparer.generate(prompt, True, settings)}", flush=True)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from discord_echo.evaluate.report import echo_table, perplexity_table, write_report

    build, load = _comparer(args)
    rows = build.held_out_rows()  # before the slow model load: a missing file is said at once
    comparer = load()
    templates_dir = Path(args.user_data) / "instruction-templates"
    report = build.evaluate(comparer, _compare_settings(args), args.n, templates_dir, rows=rows)
    path = write_report(comparer.adapter_dir, report)
    headers, table = perplexity_table(report)
    for row in [headers, *table, [], ["measure", "real", "base", "tuned"], *echo_table(report)]:
        print("  |  ".join(str(cell) for cell in row))  # the tab's tables: perplexity, then "like you, on topic"
    for warning in report.warnings:
        print(f"warning: {warning.message}")
    print(f"report: {path}")
    return 0


def cmd_character(args: argparse.Namespace) -> int:
    from pathlib import Path

    from discord_echo.evaluate.session import DatasetBuild

    build = DatasetBuild.named(Path(args.user_data), args.dataset)
    path = build.write_character(Path(args.user_data), overwrite=args.overwrite)
    print(f"wrote the character {path}")
    print(build.instructions(args.template, character=path.stem))
    return 0


def _add_compare_parsers(commands) -> None:
    from discord_echo.evaluate.comparer import CompareConfig
    from discord_echo.templates.chat import CHAT_TEMPLATE

    def common(parser: argparse.ArgumentParser, model: bool = True) -> None:
        if model:
            parser.add_argument("--model", required=True, help="The base model the LoRA was trained on (folder or id).")
            parser.add_argument("--lora", required=True, help="LoRA name (folder in USER_DATA/loras).")
        parser.add_argument("--dataset", required=True, help="Dataset name the LoRA was trained on.")
        parser.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")

    compare = commands.add_parser(
        "compare", help="What you really said vs the base model vs your tuned LoRA, on held-out prompts."
    )
    common(compare)
    compare.add_argument("--message", help="Write this as your friend instead of using held-out prompts.")
    compare.add_argument("-n", type=int, default=3, help="How many held-out prompts to compare (default 3).")
    compare.add_argument("--template", help="Override the template saved with the LoRA.")
    add_field_flags(compare.add_argument_group("sampling"), CompareConfig)
    compare.set_defaults(run=cmd_compare)

    evaluate = commands.add_parser(
        "evaluate", help="Held-out perplexity, style and warnings; saves the report next to the LoRA (as the tab)."
    )
    common(evaluate)
    evaluate.add_argument("-n", type=int, default=8, help="Held-out prompts to generate replies for (default 8).")
    evaluate.add_argument("--template", help="Override the template saved with the LoRA.")
    add_field_flags(evaluate.add_argument_group("sampling"), CompareConfig)
    evaluate.set_defaults(run=cmd_evaluate)

    character = commands.add_parser(
        "character", help="Write the webui chat character of your dataset (persona as context) and how to chat."
    )
    common(character, model=False)
    character.add_argument("--template", default=CHAT_TEMPLATE, help="The template you trained with.")
    character.add_argument("--overwrite", action="store_true", help="Replace a character of that name.")
    character.set_defaults(run=cmd_character)


def main(argv: Sequence[str] | None = None) -> int:
    with printable_output():  # file names, channel names and chat text can hold terminal escapes
        args = build_parser().parse_args(argv)
        return _run(args)


@contextlib.contextmanager
def printable_output() -> Iterator[None]:
    """While the block runs, everything written to stdout and stderr has its control characters escaped
    (core/printable.py; line breaks and tabs stay), so no input can drive the terminal."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(sys.stdout), _Printable(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class _Printable:
    """A text stream that writes `printable` text to the stream it wraps."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text, keep="\n\t"))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _OneLine(_Printable):
    """A text stream for lines printed one per `print`: only the line end ``print`` adds is written as is."""

    def write(self, text: str) -> int:
        return self._stream.write(text if text == "\n" else printable(text))


def _run(args: argparse.Namespace) -> int:
    try:
        return args.run(args)
    except FileExistsRefusedError as exc:
        if not hasattr(args, "overwrite"):
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        also = " (or --resume to continue its training)" if hasattr(args, "resume") else ""
        print(
            f"Error: {exc.path} already exists. Choose another name, or pass --overwrite to replace it{also}.",
            file=sys.stderr,
        )
        return 1
    except EchoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
