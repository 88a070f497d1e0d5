"""The webui trainer's interface, as data: our settings -> ``do_train`` arguments, its status text -> progress.

No webui import: train/webui/host.py hands in the installed ``do_train`` signature, its generator and the
``modules.training`` module; the tests feed the real signatures read from the webui source.

* ``map_do_train_args(signature_params, settings, request)`` supplies every parameter by name for the two
  trainers we know: the current one (1dcde41d: chat datasets, ``all_linear``, ``text_dataset``, 33 names) and
  the one before the 2026-03 rewrite (68714843: format files, ``raw_text_file``, ``train_only_after``, 35
  names). Any other signature raises one ``HostUnavailableError`` naming the differences.
* ``parse_status(text, grad_accum)`` reads the Markdown statuses ``do_train`` yields (docs/webui-trainer.md,
  The trainer):
  ``Running... **N** / **M** ...`` counts *micro*-batches; errors are yielded, not raised. ``Run`` consumes
  them: progress out, a stop relayed to ``do_interrupt()``, losses from the Trainer's log history.

Unit conversions, from modules/training.py at both commits: ``save_steps``, ``eval_steps`` and
``warmup_steps`` are divided by gradient accumulation (``math.ceil(x / grad_accum)``), so ours, which count
optimizer steps, are multiplied by it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from discord_echo.core.errors import ConfigError, HostUnavailableError
from discord_echo.dataset.writer import LEGACY_FORMATS, LEGACY_TRAIN_ONLY_AFTER
from discord_echo.templates.chat import CHAT_TEMPLATE
from discord_echo.train.config import TrainConfig
from discord_echo.train.host import ProgressCallback, TrainProgress, TrainRequest, TrainResult

HOST = "text-generation-webui"
PROJECTIONS = ("q", "v", "k", "o", "gate", "down", "up")  # the *_proj_en checkboxes of both trainers
# Present in one trainer and absent from the other: how a signature is recognised.
CURRENT_MARKERS = frozenset({"all_linear", "text_dataset", "excess_length", "gradient_checkpointing"})
LEGACY_MARKERS = frozenset({"raw_text_file", "train_only_after", "hard_cut_string", "overlap_len"})
CURRENT_ONLY = frozenset(CURRENT_MARKERS | {"stride_length"})
LEGACY_ONLY = ("raw_text_file", "overlap_len", "newline_favor_len", "higher_rank_limit", "hard_cut_string",
               "train_only_after", "min_chars")  # fmt: skip
LEGACY_FORMAT_PREFIX = "discord-echo-"  # dataset/writer.py names the format files discord-echo-<family>.json
# Nearest optimizer the webui offers when ours is not in its dropdown (1dcde41d offers adamw_bnb_8bit, not
# the paged variants); the last entry is the plain fallback every version has.
CLOSEST_OPTIMIZER = {"paged_adamw_8bit": ("paged_adamw_8bit", "adamw_bnb_8bit", "adamw_torch"),
                     "adamw_bnb_8bit": ("adamw_bnb_8bit", "paged_adamw_8bit", "adamw_torch"),
                     "paged_adamw_32bit": ("paged_adamw_32bit", "adamw_torch"),
                     "adafactor": ("adafactor", "adamw_torch"), "adamw_torch": ("adamw_torch", "adamw_hf")}  # fmt: skip
# Instruction-template names (user_data/instruction-templates) -> our legacy format family.
TEMPLATE_FAMILY = {"chatml": "chatml", "llama-v2": "llama2-chat", "llama-v3": "llama3", "alpaca": "alpaca",
                   "mistral": "mistral"}  # fmt: skip
Flavour = Literal["current", "legacy"]


def signature_flavour(signature_params: Sequence[str]) -> Flavour | None:
    """Which trainer a ``do_train`` signature belongs to, by its marker parameters; None if neither."""
    names = set(signature_params)
    if names >= CURRENT_MARKERS and not LEGACY_MARKERS & names:
        return "current"
    if names >= LEGACY_MARKERS and not CURRENT_MARKERS & names:
        return "legacy"
    return None


def map_do_train_args(
    signature_params: Sequence[str],
    settings: TrainConfig,
    request: TrainRequest,
    *,
    rows: int | None = None,
    optimizer_choices: Sequence[str] | None = None,
    chat_template: str | None = None,
) -> dict[str, Any]:
    """Every ``do_train`` argument by name, for the installed signature.

    ``rows``: training rows the trainer will keep (after dropping over-long ones), which sets the warmup;
    read from the dataset file when None. ``optimizer_choices``: the webui's Optimizer dropdown, when known.
    ``chat_template``: the loaded tokenizer's template, used by the legacy trainer to pick a format file
    when ``request.template`` is "Chat Template".
    """
    params = list(signature_params)
    flavour = signature_flavour(params)
    args = _current_args(settings, request, rows, optimizer_choices)
    if flavour == "legacy":
        args = _legacy_args(request, args, chat_template)
    elif flavour is None:  # name the differences from whichever known trainer is nearer
        legacy = _legacy_names(args)
        args = dict.fromkeys(min((args, legacy), key=lambda known: len(set(params) ^ set(known))))
    unknown = [p for p in params if p not in args]
    missing = [p for p in args if p not in params]
    if flavour is None or unknown or missing:
        raise HostUnavailableError(
            HOST,
            "its trainer (modules.training.do_train) has a signature this version of discord_echo does not know"
            + (f"; unknown parameters: {', '.join(unknown)}" if unknown else "")
            + (f"; missing parameters: {', '.join(missing)}" if missing else "")
            + ". Update discord_echo or the webui, or train with the standalone trainer.",
        )
    return {name: args[name] for name in params}


def _current_args(
    settings: TrainConfig, request: TrainRequest, rows: int | None, choices: Sequence[str] | None
) -> dict[str, Any]:
    ga = settings.grad_accum
    total = settings.total_steps(_count_rows(request.dataset) if rows is None else rows)
    all_linear = settings.target_modules == "all-linear"
    eval_steps = settings.eval_steps or total  # 0 = evaluate once, at the end
    save_steps = settings.save_steps
    if request.eval_dataset is not None:
        # The webui sets load_best_model_at_end with an eval set; HF then needs saves on evaluation steps.
        if save_steps == 0:
            save_steps = eval_steps
        elif save_steps % eval_steps:
            raise ConfigError(
                "save_steps", save_steps, f"must be a multiple of eval_steps ({eval_steps}) when an eval set is used"
            )
    return {
        "lora_name": request.lora_name,
        # False = back up the adapter and resume from its newest checkpoint-*; the driver refused a silent
        # replace already, so True is what "overwrite" (or a new name) means.
        "always_override": not request.resume,
        "all_linear": all_linear,
        **(_proj_flags(False) if all_linear else _named_proj_flags(settings.target_modules)),
        "save_steps": save_steps * ga,
        "micro_batch_size": settings.micro_batch_size,
        "batch_size": settings.batch_size,
        "epochs": int(settings.epochs) if settings.epochs.is_integer() else settings.epochs,
        "learning_rate": repr(settings.learning_rate),  # a Textbox in the webui: float() is applied inside
        "lr_scheduler_type": settings.lr_scheduler,
        "lora_rank": settings.lora_rank,
        "lora_alpha": settings.lora_alpha,
        "lora_dropout": float(settings.lora_dropout),
        "cutoff_len": settings.cutoff_len,
        "dataset": _stem(request.dataset),
        "eval_dataset": _stem(request.eval_dataset) if request.eval_dataset is not None else "None",
        "format": request.template or CHAT_TEMPLATE,
        "eval_steps": eval_steps * ga,
        "text_dataset": "None",
        "warmup_steps": settings.warmup_steps(total) * ga,
        "optimizer": pick_optimizer(settings.optimizer, choices),
        "stride_length": 0,  # text datasets only
        "stop_at_loss": 0.0,
        "add_eos_token": True,  # text datasets only; the chat template ends each turn itself
        "excess_length": "drop",  # as our dataset report and the standalone host count them
        "report_to": "None",
        "gradient_checkpointing": settings.gradient_checkpointing,
    }


def _legacy_args(request: TrainRequest, current: dict[str, Any], chat_template: str | None) -> dict[str, Any]:
    family = legacy_family(request.template, chat_template)
    args = {k: v for k, v in current.items() if k not in CURRENT_ONLY}
    if current["all_linear"]:  # no all_linear box before 2026-03: tick every projection it knows
        args.update(_proj_flags(True))
    args.update(
        format=LEGACY_FORMAT_PREFIX + family,
        raw_text_file="None",
        overlap_len=128,  # raw text only; the old UI defaults
        newline_favor_len=128,
        higher_rank_limit=False,  # only widens the UI sliders
        hard_cut_string="\\n\\n\\n",
        train_only_after=LEGACY_TRAIN_ONLY_AFTER[family],  # loss on the reply only, as in the chat trainer
        min_chars=0,
    )
    return args


def _legacy_names(current: dict[str, Any]) -> dict[str, None]:
    """The legacy trainer's parameter names, without choosing a format (for error messages)."""
    return dict.fromkeys([k for k in current if k not in CURRENT_ONLY] + list(LEGACY_ONLY))


def legacy_family(template: str, chat_template: str | None = None) -> str:
    """The legacy format family for a template name, a format-file stem, or the model's own template."""
    name = (template or CHAT_TEMPLATE).strip()
    key = name.lower().removeprefix(LEGACY_FORMAT_PREFIX)
    if key in LEGACY_FORMATS:
        return key
    if key in TEMPLATE_FAMILY:
        return TEMPLATE_FAMILY[key]
    if name == CHAT_TEMPLATE and chat_template:
        for marker, family in (("<|im_start|>", "chatml"), ("<|start_header_id|>", "llama3"),
                               ("<<SYS>>", "llama2-chat"), ("[INST]", "mistral")):  # fmt: skip
            if marker in chat_template:
                return family
    raise ConfigError(
        "template", name, f"the webui's pre-2026-03 trainer needs a format file: one of {', '.join(LEGACY_FORMATS)}"
    )


def pick_optimizer(wanted: str, choices: Sequence[str] | None) -> str:
    """``wanted`` if the webui offers it, else the closest it does (unknown choices: ``wanted`` as is)."""
    if not choices:
        return wanted
    for name in CLOSEST_OPTIMIZER.get(wanted, (wanted, "adamw_torch")):
        if name in choices:
            return name
    return "adamw_torch"


def _proj_flags(value: bool) -> dict[str, bool]:
    return {f"{p}_proj_en": value for p in PROJECTIONS}


def _named_proj_flags(names: Sequence[str]) -> dict[str, bool]:
    known = {f"{p}_proj" for p in PROJECTIONS}
    other = [n for n in names if n not in known]
    if other:
        raise ConfigError(
            "target_modules",
            ",".join(names),
            f"the webui trainer can target only {', '.join(sorted(known))} or all-linear",
        )
    return {f"{p}_proj_en": f"{p}_proj" in names for p in PROJECTIONS}


def _stem(path: Path) -> str:
    path = Path(path)
    if path.suffix != ".json":
        raise ConfigError("dataset", str(path), "the webui trainer reads .json datasets only")
    return path.stem


def _count_rows(path: Path) -> int:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return len(data) if isinstance(data, list) else 0


# --- statuses ---------------------------------------------------------------------------------------------

RUNNING = re.compile(r"Running\.\.\. \*\*(\d+)\*\* / \*\*(\d+)\*\*")
TIME = r"`(-?[\d.]+)` (seconds|minutes|hours)"
REMAINING = re.compile(TIME + r" remaining")
UNIT = {"seconds": 1, "minutes": 60, "hours": 3600}
# Statuses after which do_train returns without training (both versions); anything else unknown is a note.
FAILURES = ("Error:", "Training failed:", "Traceback (most recent call last)", "Missing ", "Cannot input zeroes",
            "No dataset selected", "No target modules selected", "Failed to load ")  # fmt: skip

Kind = Literal["running", "done", "interrupted", "error", "note"]


@dataclass(frozen=True)
class Status:
    """One ``do_train`` status: what it means, and the optimizer steps it reports."""

    kind: Kind
    text: str
    step: int = 0  # optimizer steps done
    total: int = 0
    eta_seconds: float | None = None


def parse_status(text: str, grad_accum: int) -> Status:
    """Classify a status; ``grad_accum`` turns the webui's micro-batch counts into optimizer steps."""
    ga = max(1, grad_accum)
    if text.startswith("Done!"):
        return Status("done", text)
    if text.startswith("Interrupted") and "Interrupting" not in text:  # "Interrupted. ..." / "... before start."
        return Status("interrupted", text)
    if any(text.startswith(prefix) for prefix in FAILURES):
        return Status("error", text)
    match = RUNNING.search(text)
    if match:
        remaining = REMAINING.search(text)
        eta = float(remaining.group(1)) * UNIT[remaining.group(2)] if remaining else None
        return Status("running", text, int(match.group(1)) // ga, int(match.group(2)) // ga, eta)
    return Status("note", text)


def error_text(text: str) -> str:
    """A yielded traceback is joined with blank lines (``.replace('\\n', '\\n\\n')``): undo that."""
    return text.replace("\n\n", "\n").strip() if text.startswith("Traceback") else text.strip()


# --- a run ---------------------------------------------------------------------------------------------------


class Run:
    """Consumes ``do_train``'s statuses: progress out, stop in, losses collected."""

    def __init__(self, training: Any, grad_accum: int, report: ProgressCallback, tokens_per_micro: float):
        self.training, self.ga, self.report, self.tokens_per_micro = training, grad_accum, report, tokens_per_micro
        self.history: list[dict] = []  # the HF Trainer's log_history, when reachable
        self.step = self.total = 0
        self.started: float | None = None

    def consume(self, statuses: Any, stop: threading.Event) -> Status:
        finished = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop, finished), daemon=True)
        last = Status("error", "the webui trainer yielded no status")
        try:
            for text in statuses:
                if watcher.ident is None:
                    # Only now: do_train clears WANT_INTERRUPT when it starts, which would undo an earlier stop.
                    watcher.start()
                if stop.is_set():
                    self.training.do_interrupt()
                last = parse_status(str(text), self.ga)
                self._trainer_history(statuses)
                self._on_status(last)
        finally:
            finished.set()
        return last

    def _watch(self, stop: threading.Event, finished: threading.Event) -> None:
        # do_train yields nothing while steps do not change, so a stop is also relayed from here.
        while not finished.is_set():
            if stop.wait(0.2):
                self.training.do_interrupt()
                return

    def _trainer_history(self, statuses: Any) -> None:
        # The Trainer is a local of do_train; its log_history has every logged step, train_log only the last.
        trainer, generator = None, statuses
        while trainer is None and generator is not None:  # through `yield from` wrappers, if any
            frame = getattr(generator, "gi_frame", None)
            trainer = frame.f_locals.get("trainer") if frame is not None else None
            generator = getattr(generator, "gi_yieldfrom", None)
        state = getattr(trainer, "state", None)
        if state is not None:  # keep the list and counts, not the Trainer (it holds the model)
            self.history = state.log_history
            # A short run can end before do_train's 0.5 s loop yields any "Running..." status.
            self.step, self.total = max(self.step, state.global_step), state.max_steps or self.total

    def _on_status(self, status: Status) -> None:
        log = self.training.train_log
        if status.text == "Starting...":
            self.started = time.monotonic()  # the webui's own clock starts here too
        if status.kind == "running":
            self.started = self.started or time.monotonic()
            self.step, self.total = status.step, status.total
            micro = status.step * self.ga
            elapsed = time.monotonic() - self.started
            eta = elapsed / status.step * (status.total - status.step) if status.step else status.eta_seconds
            speed = self.tokens_per_micro * micro / elapsed if elapsed > 0 and micro else None
        elif status.kind == "note":
            eta = speed = None
        else:
            return
        losses = {k: _float(log.get(k)) for k in ("loss", "eval_loss", "learning_rate")}
        epoch = float(log.get("epoch", 0.0))
        self.report(TrainProgress(self.step, self.total, epoch, **losses, tokens_per_second=speed, eta_seconds=eta,
                                  message=status.text))  # fmt: skip

    def result(self, adapter_dir: Path, last: Status, dropped: int, notes: list[str]) -> TrainResult:
        try:  # written by the webui at the end: its last log entry + run facts
            log = json.loads((adapter_dir / "training_log.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log = {}
        history = self.history or [dict(self.training.train_log, step=self.step)]
        train_loss = [(int(e["step"]), float(e["loss"])) for e in history if "loss" in e and "step" in e]
        eval_loss = [(int(e["step"]), float(e["eval_loss"])) for e in history if "eval_loss" in e and "step" in e]
        steps = max([self.step] + [s for s, _ in train_loss])
        final_eval = eval_loss[-1][1] if eval_loss else _float(log.get("eval_loss") if isinstance(log, dict) else None)
        return TrainResult(
            adapter_dir=adapter_dir,
            steps=steps,
            interrupted=last.kind == "interrupted",
            train_loss=train_loss,
            eval_loss=eval_loss,
            final_eval_loss=final_eval if last.kind == "done" else None,
            total_steps=self.total,
            dropped_rows=dropped,
            notes=notes,
        )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
