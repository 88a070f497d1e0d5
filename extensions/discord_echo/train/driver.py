"""The training driver: check a run's inputs, then hand it to a host (webui or standalone).

``request_from_user_data(...)`` builds a ``TrainRequest`` from the webui's folder layout
(``<user_data>/training/datasets/<name>.json`` and ``<name>-eval.json``, adapters in ``<user_data>/loras``,
templates in ``<user_data>/instruction-templates``). ``train(request, host, on_progress, stop)`` checks what
can be checked before any model is loaded (a valid LoRA name, a readable chat dataset, no adapter folder
silently replaced, the host ready) and returns the host's ``TrainResult``. The CLI's ``train`` and the tab's
Train button both call it. Depends only on the ``Host`` interface, so any host or a fake can stand in.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from discord_echo.core.errors import ConfigError, HostUnavailableError
from discord_echo.core.safe_files import FileExistsRefusedError, contained_path, validate_name
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.templates.trainer_rows import read_chat_rows
from discord_echo.train.host import Host, ProgressCallback, TrainProgress, TrainRequest, TrainResult
from discord_echo.train.settings import TrainSettings

EVAL_SUFFIX = "-eval"  # dataset_writer writes the held-out rows to <name>-eval.json


def request_from_user_data(
    user_data: Path,
    dataset: str,
    model: str,
    lora_name: str,
    settings: TrainSettings,
    *,
    template: str = CHAT_TEMPLATE,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainRequest:
    """A request for dataset ``dataset`` in a webui ``user_data`` folder; its ``-eval`` file is used if present."""
    user_data = Path(user_data)
    datasets = user_data / "training" / "datasets"
    train_file = contained_path(datasets, validate_name(dataset, "dataset") + ".json")
    eval_file = contained_path(datasets, f"{dataset}{EVAL_SUFFIX}.json")
    return TrainRequest(
        model=model,
        dataset=train_file,
        eval_dataset=eval_file if eval_file.is_file() else None,
        lora_name=lora_name,
        loras_dir=user_data / "loras",
        settings=settings,
        template=template,
        templates_dir=user_data / "instruction-templates",
        resume=resume,
        overwrite=overwrite,
    )


def check_request(request: TrainRequest, host: Host) -> None:
    """Raise the error a user can act on before anything heavy happens; return None when all is well."""
    if not isinstance(request.settings, TrainSettings):
        raise ConfigError("settings", type(request.settings).__name__, "must be a settings.TrainSettings")
    adapter_dir = contained_path(Path(request.loras_dir), validate_name(request.lora_name, "LoRA"))
    if request.resume and request.overwrite:
        raise ConfigError("overwrite", True, "cannot be combined with resume: resume continues the existing LoRA")
    if adapter_dir.exists() and not (request.resume or request.overwrite):
        raise FileExistsRefusedError(adapter_dir)
    # A pre-2026-03 webui trainer reads instruction/output rows (dataset_writer target="legacy");
    # the host checks those rows and their format file itself.
    _check_cutoff(request)
    legacy = getattr(host, "reads_legacy_datasets", lambda: False)()
    if not legacy:
        read_chat_rows(request.dataset)
        if request.eval_dataset is not None:
            read_chat_rows(request.eval_dataset)
    if not host.available():
        reason = getattr(host, "unavailable_reason", lambda: "")() or "it cannot train right now"
        raise HostUnavailableError(host.name, reason)


def train(
    request: TrainRequest,
    host: Host,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Check ``request`` and train it on ``host``; ``stop.set()`` from any thread ends the run early, saved."""
    check_request(request, host)
    return host.train(request, on_progress or _ignore, stop or threading.Event())


def _check_cutoff(request: TrainRequest) -> None:
    """Refuse a run whose cutoff is shorter than the dataset's longest row: the trainer would drop rows.

    The build report beside the dataset (dataset_writer's sidecar) records the longest sample in tokens.
    """
    from discord_echo.dataset.writer import SIDECAR_SUFFIX

    sidecar = Path(request.dataset).with_name(Path(request.dataset).stem + SIDECAR_SUFFIX)
    try:
        longest = json.loads(sidecar.read_text(encoding="utf-8"))["report"]["samples"]["max_tokens"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # not built by us, or an older build: nothing to compare with
    cutoff = request.settings.cutoff_len
    if isinstance(longest, int) and longest > cutoff:
        raise ConfigError(
            "cutoff_len",
            cutoff,
            f"is shorter than the dataset's longest sample ({longest} tokens): the trainer would drop rows. "
            f"Rebuild the dataset with cutoff {cutoff}, or train with a cutoff of at least {longest}",
        )


def _ignore(progress: TrainProgress) -> None:
    return None
