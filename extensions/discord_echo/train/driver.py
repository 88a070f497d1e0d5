"""The training driver: check a run's inputs, then hand it to a host (webui or standalone).

``request_from_user_data(...)`` builds a ``TrainRequest`` from the webui's folder layout
(``<user_data>/training/datasets/<name>.json`` and ``<name>-eval.json``, adapters in ``<user_data>/loras``,
templates in ``<user_data>/instruction-templates``). ``train(request, host, on_progress, stop)`` checks what
can be checked before any model is loaded (a valid LoRA name, a readable chat dataset, no adapter folder
silently replaced, the host ready) and returns the host's ``TrainResult``. The CLI's ``train`` and the tab's
Train button both call it. Depends only on the ``Host`` interface, so any host or a fake can stand in.

``prepare(request, host, tokenizer)`` is the one preparation every host runs at the start of its ``train``:
the adapter folder checked (``checked_adapter_dir``) and the rows tokenized as the trainer will, refusing a
run where every row exceeds ``cutoff_len``. It returns a ``PreparedRun``; no host re-checks any of it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError, HostUnavailableError, TrainingError
from discord_echo.core.safe_files import FileExistsRefusedError, contained_path, finish_replacing, validate_name
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.templates.trainer_rows import TokenizedRows, chat_template_for, read_chat_rows, tokenize_rows
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import Host, ProgressCallback, TrainProgress, TrainRequest, TrainResult

EVAL_SUFFIX = "-eval"  # dataset/writer.py writes the held-out rows to <name>-eval.json


def request_from_user_data(
    user_data: Path,
    dataset: str,
    model: str,
    lora_name: str,
    settings: TrainConfig,
    *,
    template: str = CHAT_TEMPLATE,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainRequest:
    """A request for dataset ``dataset`` in a webui ``user_data`` folder; its ``-eval`` file is used if present."""
    user_data = Path(user_data)
    datasets = user_data / "training" / "datasets"
    train_file = contained_path(datasets, validate_name(dataset, "dataset") + ".json")
    from discord_echo.dataset.writer import journal_path

    finish_replacing(journal_path(user_data, dataset))  # a build killed between renames is completed first
    eval_file = contained_path(datasets, f"{dataset}{EVAL_SUFFIX}.json")
    return TrainRequest(
        model=model,
        dataset=train_file,
        eval_dataset=eval_file if eval_file.is_file() and _build_has_held_out(train_file) else None,
        lora_name=lora_name,
        loras_dir=user_data / "loras",
        settings=settings,
        template=template,
        templates_dir=user_data / "instruction-templates",
        resume=resume,
        overwrite=overwrite,
    )


def _build_has_held_out(train_file: Path) -> bool:
    """False only when our build report beside the dataset says it wrote no held-out file.

    A ``-eval`` file that the build did not write belongs to another build, whose held-out conversations may
    be in this one's training rows. Datasets without our report (made by hand) keep their ``-eval`` file.
    """
    from discord_echo.dataset.writer import SIDECAR_SUFFIX

    sidecar = train_file.with_name(train_file.stem + SIDECAR_SUFFIX)
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return not isinstance(info, dict) or "train_file" not in info or "eval_file" in info


@dataclass(frozen=True)
class PreparedRun:
    """A run checked and counted by ``prepare``: where the adapter goes and the rows the trainer will keep."""

    adapter_dir: Path
    resume_from: Path | None = None  # the newest checkpoint-K in adapter_dir when resuming, if there is one
    train_rows: TokenizedRows | None = None  # None for a legacy (instruction/output) dataset
    eval_rows: TokenizedRows | None = None
    template: str = ""  # the jinja template the rows were tokenized with ("" for a legacy dataset)
    legacy_rows: int = 0  # rows of a legacy dataset (not tokenized: the old trainer formats them itself)
    tokenizer: Any = field(default=None, repr=False)  # what ``tokenizer()`` gave (None for a legacy dataset)

    @property
    def rows(self) -> int:
        """Training rows the trainer keeps."""
        return len(self.train_rows.rows) if self.train_rows is not None else self.legacy_rows

    @property
    def dropped(self) -> int:
        """Rows (training and held-out) longer than cutoff_len, which the trainer drops."""
        return sum(rows.dropped for rows in (self.train_rows, self.eval_rows) if rows is not None)

    @property
    def tokens(self) -> int:
        """Tokens of the kept training rows (0 for a legacy dataset)."""
        return self.train_rows.tokens if self.train_rows is not None else 0


def newest_checkpoint(folder: Path) -> Path | None:
    """The ``checkpoint-K`` folder with the largest K (step numbers, not file times, which copies change)."""
    found = [
        (int(m.group(1)), p) for p in folder.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    ]
    return max(found)[1] if found else None


def checked_adapter_dir(request: TrainRequest) -> Path:
    """``loras_dir / lora_name`` (a plain name, inside loras_dir); an existing folder only with resume/overwrite."""
    adapter_dir = contained_path(Path(request.loras_dir), validate_name(request.lora_name, "LoRA"))
    if request.resume and request.overwrite:
        raise ConfigError("overwrite", True, "cannot be combined with resume: resume continues the existing LoRA")
    if adapter_dir.exists() and not (request.resume or request.overwrite):
        raise FileExistsRefusedError(adapter_dir)
    return adapter_dir


def check_request(request: TrainRequest, host: Host) -> None:
    """Raise the error a user can act on before anything heavy happens; return None when all is well."""
    if not isinstance(request.settings, TrainConfig):
        raise ConfigError("settings", type(request.settings).__name__, "must be a config.TrainConfig")
    checked_adapter_dir(request)
    _check_cutoff(request)
    # A pre-2026-03 webui trainer reads instruction/output rows (dataset/writer.py target="legacy");
    # ``prepare`` checks those rows when the host runs.
    if not host.reads_legacy_datasets():
        read_chat_rows(request.dataset)
        if request.eval_dataset is not None:
            read_chat_rows(request.eval_dataset)
    if not host.available():
        raise HostUnavailableError(host.name, host.unavailable_reason() or "it cannot train right now")


def prepare(request: TrainRequest, host: Host, tokenizer: Callable[[], Any]) -> PreparedRun:
    """Check the adapter folder, then tokenize the rows as the trainer will; every host's ``train`` starts here.

    ``tokenizer()`` gives the tokenizer the host trains with; it is called only once the folder checks passed,
    and not at all for a legacy dataset (``host.reads_legacy_datasets()``), whose rows are only checked.
    ``TrainingError`` when every training row exceeds ``cutoff_len``: the trainer would have nothing to train.
    """
    adapter_dir = checked_adapter_dir(request)
    resume_from = newest_checkpoint(adapter_dir) if request.resume and adapter_dir.is_dir() else None
    if host.reads_legacy_datasets():
        return PreparedRun(adapter_dir, resume_from, legacy_rows=_legacy_rows(Path(request.dataset)))
    loaded = tokenizer()
    template = chat_template_for(loaded, request.template, request.templates_dir)
    cutoff = request.settings.cutoff_len
    train_rows = tokenize_rows(loaded, read_chat_rows(request.dataset), cutoff, template)
    if not train_rows.rows:
        raise TrainingError(
            f"all {train_rows.total} rows of {request.dataset} exceed cutoff_len {cutoff}: "
            "raise the cutoff or rebuild the dataset with it"
        )
    eval_rows = None
    if request.eval_dataset is not None:
        eval_rows = tokenize_rows(loaded, read_chat_rows(request.eval_dataset), cutoff, template)
    return PreparedRun(adapter_dir, resume_from, train_rows, eval_rows, template, tokenizer=loaded)


def train(
    request: TrainRequest,
    host: Host,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Check ``request`` and train it on ``host``; ``stop.set()`` from any thread ends the run early, saved."""
    check_request(request, host)
    return host.train(request, on_progress or _ignore, stop or threading.Event())


@dataclass(frozen=True)
class BuiltFor:
    """What a dataset was built for, as its build sidecar (dataset/writer.py) records it."""

    cutoff_len: int | None  # the cutoff the samples were fitted to
    longest: int | None  # the longest sample, in tokens
    template: str | None  # "Chat Template", a webui template name, or None (built-in ChatML estimate)
    tokenizer: str | None  # the tokenizer folder samples were counted with (None: estimated)


def built_for(dataset: Path) -> BuiltFor | None:
    """The build sidecar's record for ``<name>.json``; None when there is none (a dataset not built by us)."""
    from discord_echo.dataset.writer import SIDECAR_SUFFIX

    sidecar = Path(dataset).with_name(Path(dataset).stem + SIDECAR_SUFFIX)
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        report, settings = info.get("report", {}), info.get("settings", {})
        samples = report.get("samples", {})
        cutoff = settings.get("dataset", {}).get("cutoff_len")
        longest = samples.get("max_tokens")
    except (OSError, ValueError, AttributeError):
        return None
    return BuiltFor(
        cutoff_len=cutoff if isinstance(cutoff, int) else None,
        longest=longest if isinstance(longest, int) else None,
        template=report.get("template") if isinstance(report.get("template"), str) else None,
        tokenizer=report.get("tokenizer") if isinstance(report.get("tokenizer"), str) else None,
    )


def cutoff_mismatch(request: TrainRequest) -> BuiltFor | None:
    """The sidecar's record when the dataset's longest sample exceeds the run's cutoff (the trainer would drop
    rows), else None. A front end that can rebuild the dataset for the run's cutoff does so on seeing it."""
    built = built_for(Path(request.dataset))
    if built is None or built.longest is None or built.longest <= request.settings.cutoff_len:
        return None
    return built


def _check_cutoff(request: TrainRequest) -> None:
    """Refuse a run whose cutoff is shorter than the dataset's longest row: the trainer would drop rows.

    The build report beside the dataset (dataset/writer.py's sidecar) records the longest sample in tokens and
    the cutoff it was built for; the message says both ways out.
    """
    built = cutoff_mismatch(request)
    if built is None:
        return
    cutoff = request.settings.cutoff_len
    was = f" (it was built for cutoff {built.cutoff_len})" if built.cutoff_len else ""
    raise ConfigError(
        "cutoff_len",
        cutoff,
        f"is shorter than the dataset's longest sample ({built.longest} tokens): the trainer would drop rows. "
        f"{Path(request.dataset).name}{was}: rebuild it for cutoff {cutoff} (CLI: build ... --cutoff {cutoff} "
        f"--overwrite, or --profile with the profile you train with; in the tab: Preview and Write dataset again), "
        f"or train with a cutoff of at least {built.longest} (--cutoff {built.longest})",
    )


def _legacy_rows(dataset: Path) -> int:
    """Rows of an instruction/output dataset, the only kind the pre-2026-03 webui trainer reads."""
    data = json.loads(dataset.read_text(encoding="utf-8"))
    if not (
        isinstance(data, list) and data and isinstance(data[0], dict) and {"instruction", "output"} <= set(data[0])
    ):
        raise TrainingError(
            f"{dataset}: this webui's trainer (before 2026-03) reads instruction/output rows; "
            "write the dataset with target 'legacy' (CLI: --target legacy)"
        )
    return len(data)


def _ignore(progress: TrainProgress) -> None:
    return None
