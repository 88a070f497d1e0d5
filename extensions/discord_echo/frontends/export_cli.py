"""The `export` and `merge` subcommands of `discord-echo` (cli.py adds them with ``_add_export_parser``).

``export --to axolotl|llamafactory|trl DATASET`` writes a folder to train the same dataset elsewhere
(train/engines/export.py); ``merge`` folds a LoRA into its base model (evaluate/merge.py). Errors are the
library's `EchoError`s, printed by cli.py ``main``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError


def export_request(
    user_data: Path,
    dataset: str,
    engine: str,
    *,
    model: str | None = None,
    template: str | None = None,
    profile_name: str | None = None,
    lora: str | None = None,
    loras_dir: Path | None = None,
    out: str | None = None,
    engine_template: str | None = None,
    overwrite: bool = False,
    changes: dict[str, Any] | None = None,
) -> Any:
    """The ``ExportRequest`` for a dataset name in ``user_data``: settings from a LoRA's run, else a profile.

    The model and template default to what the LoRA was trained with (``lora``), else to what the dataset was
    counted with (its sidecar's tokenizer folder and template).
    """
    from dataclasses import replace

    from discord_echo.dataset.writer import dataset_paths
    from discord_echo.templates.chat import CHAT_TEMPLATE
    from discord_echo.train.engines.common import ExportRequest, read_sidecar, settings_from_adapter
    from discord_echo.train.engines.export import default_out_dir
    from discord_echo.train.profiles import DEFAULT_PROFILE, profile

    train_path = dataset_paths(user_data, dataset)[0]
    if not train_path.is_file():
        raise ConfigError("dataset", dataset, f"not found: {train_path}")
    built = read_sidecar(train_path).get("report", {})
    trained: dict[str, Any] = {}
    if lora:
        settings, trained = settings_from_adapter((loras_dir or user_data / "loras") / lora)
    else:
        settings = profile(profile_name or DEFAULT_PROFILE)
    if changes:
        settings = replace(settings, **changes)
    chosen_model = model or trained.get("model") or built.get("tokenizer")
    if not chosen_model:
        raise ConfigError("model", None, "give --model (a local model folder): the dataset does not name one")
    return ExportRequest(
        dataset=train_path,
        engine=engine,  # type: ignore[arg-type]
        out_dir=Path(out) if out else default_out_dir(user_data, dataset, engine),
        model=str(chosen_model),
        settings=settings,
        template=template or trained.get("template") or built.get("template") or CHAT_TEMPLATE,
        templates_dir=user_data / "instruction-templates",
        engine_template=engine_template,
        overwrite=overwrite,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from discord_echo.train.config import TrainConfig
    from discord_echo.train.engines.export import export

    changes = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    request = export_request(
        Path(args.user_data),
        args.dataset,
        args.to,
        model=args.model,
        template=args.template,
        profile_name=args.profile,
        lora=args.lora,
        out=args.out,
        engine_template=args.engine_template,
        overwrite=args.overwrite,
        changes=changes,
    )
    result = export(request)
    for path in result.files:
        print(f"wrote {path}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"\nrun it there (one GPU):  cd {result.folder} && {result.command}")
    print(f"several GPUs:            {result.multi_gpu_command}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from discord_echo.evaluate.merge import merge_lora

    user_data = Path(args.user_data)
    adapter = user_data / "loras" / args.lora
    out = Path(args.out) if args.out else user_data / "models" / f"{args.lora}-merged"
    result = merge_lora(
        args.model,
        adapter,
        out,
        dtype=args.dtype,
        template=args.template,
        templates_dir=user_data / "instruction-templates",
        overwrite=args.overwrite,
    )
    print(f"merged {adapter} into {args.model}: {result.folder} ({result.dtype}, template {result.template_name})")
    print(f"stops on token ids {result.stop_token_ids}; load it as a model (Transformers loader), no LoRA needed")
    return 0


def add_export_parsers(commands: Any, add_field_flags: Callable[..., None]) -> None:
    """Add `export` and `merge` to the subcommands; ``add_field_flags`` is cli.py's flag generator."""
    from discord_echo.evaluate.merge import MergeDtype
    from discord_echo.train.config import TrainConfig
    from discord_echo.train.engines.common import ENGINES
    from discord_echo.train.profiles import PROFILES

    export = commands.add_parser(
        "export", help="Write a folder to train a dataset with axolotl, LLaMA-Factory or TRL (multi-GPU too)."
    )
    export.add_argument("dataset", help="Dataset name (file stem in USER_DATA/training/datasets).")
    export.add_argument("--to", required=True, choices=list(ENGINES), help="The engine to export for.")
    export.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")
    export.add_argument("--model", help="Local base model folder (default: the one the dataset was counted with).")
    export.add_argument("--template", help="'Chat Template' or a webui instruction template (default: the build's).")
    export.add_argument("--profile", choices=list(PROFILES), help="Settings of this hardware profile (default 8 GB).")
    export.add_argument("--lora", help="Take settings, model and template from this LoRA's training run instead.")
    export.add_argument("--out", help="Folder to write (default USER_DATA/exports/DATASET-ENGINE).")
    export.add_argument("--engine-template", help="LLaMA-Factory's template name, when it cannot be told.")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing export folder.")
    add_field_flags(export.add_argument_group("settings", "Override single values."), TrainConfig, keep_defaults=False)
    export.set_defaults(run=cmd_export)

    merge = commands.add_parser(
        "merge", help="Merge a LoRA into its base model: a plain model folder any loader reads."
    )
    merge.add_argument("--model", required=True, help="The base model folder (or hub id) the LoRA was trained on.")
    merge.add_argument("--lora", required=True, help="LoRA name in USER_DATA/loras.")
    merge.add_argument("--user-data", required=True, help="The webui's user_data folder (or any folder).")
    merge.add_argument("--out", help="Folder to write (default USER_DATA/models/LORA-merged, where the webui looks).")
    merge.add_argument("--dtype", default="auto", choices=list(MergeDtype.__args__), help="Weights' dtype.")
    merge.add_argument("--template", help="Override the template saved with the LoRA.")
    merge.add_argument("--overwrite", action="store_true", help="Replace an existing folder.")
    merge.set_defaults(run=cmd_merge)
