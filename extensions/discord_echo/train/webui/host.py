"""text-generation-webui as the host: its folders, its loaded model, its own trainer (``do_train``).

The only module that imports the webui's ``modules.*``, always inside functions:
``modules.shared`` parses ``sys.argv`` when first imported, so importing it at module level
would break the CLI and the tests (docs/webui-trainer.md, Importing the webui's modules). Folders
follow ``--user-data-dir`` and ``--lora-dir``; older webuis without those flags use ``user_data/`` beside server.py.

``WebuiHost().train(request, on_progress, stop)`` checks the loaded model (Transformers loader only), has
``driver.prepare`` check the adapter folder (in the webui's own LoRA folder) and count the rows with the
loaded tokenizer, maps our settings onto the installed ``do_train`` signature (``mapping.py``), turns its yielded status
strings into progress or a ``TrainingError``, then reloads the base model and applies the new LoRA through
the webui's own ``add_lora_to_model``. Two upstream bugs are worked around (docs/webui-trainer.md,
Upstream bugs we work around): the webui's
``reload_model()`` resets ``model_name`` before loading, so we reload ourselves (``reload_base_model``)
before any run over a dirty model and after every run; and only one LoRA is ever passed to
``add_lora_to_model`` (2+ from a clean state fail in ``merge_loras``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import re
import shutil
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError, HostUnavailableError, TrainingError
from discord_echo.core.safe_files import replacing_folder
from discord_echo.train.config import TrainConfig
from discord_echo.train.driver import prepare
from discord_echo.train.host import ProgressCallback, TrainProgress, TrainRequest, TrainResult
from discord_echo.train.profiles import plan_hardware
from discord_echo.train.webui.mapping import HOST, Run, error_text, map_do_train_args, signature_flavour

# Model classes of the webui's non-Transformers loaders (some subclass PreTrainedModel but cannot train).
FOREIGN_MODELS = ("LlamaServer", "LlamaCppModel", "LlamacppHF", "Exllamav3Model", "Exllamav3HF", "Exllamav2Model",
                  "Exllamav2HF", "ExllamaModel", "ExllamaHF", "TensorRTLLMModel")  # fmt: skip
HOW_TO_LOAD = (
    "in the Model tab choose the original (safetensors) model, the Transformers loader and, on an NVIDIA GPU, "
    "load-in-4bit, press Load, then train again (GGUF/EXL2/EXL3 files cannot be trained)"
)


def webui_shared() -> Any:
    from modules import shared  # noqa: PLC0415 - see the module docstring

    return shared


def user_data_dir() -> Path:
    shared = webui_shared()
    return Path(getattr(shared, "user_data_dir", None) or getattr(shared.args, "user_data_dir", None) or "user_data")


def loras_dir() -> Path:
    return Path(getattr(webui_shared().args, "lora_dir", None) or user_data_dir() / "loras")


def loaded_model_folder() -> Path | None:
    """Folder of the model loaded in the webui, when it is a local Transformers model."""
    shared = webui_shared()
    name = getattr(shared, "model_name", None)
    if not name or name == "None":
        return None
    folder = Path(getattr(shared.args, "model_dir", None) or user_data_dir() / "models") / name
    return folder if (folder / "config.json").is_file() else None


# --- the loaded model ---------------------------------------------------------------------------------------


def check_trainable_model() -> None:
    """Raise ``HostUnavailableError`` unless a Transformers model is loaded (the trainer needs one)."""
    shared = webui_shared()
    name = getattr(shared, "model_name", "None")
    if shared.model is None or name in (None, "None"):
        raise HostUnavailableError(HOST, f"no model is loaded: {HOW_TO_LOAD}")
    loader = getattr(shared.args, "loader", None)
    kind = type(shared.model).__name__
    if (loader and loader != "Transformers") or kind in FOREIGN_MODELS:
        raise HostUnavailableError(
            HOST, f"{name} is loaded with {loader or kind}, and LoRA training needs a Transformers model: {HOW_TO_LOAD}"
        )


def loaded_in_4bit() -> bool:
    model = webui_shared().model
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "quantization_config", None))


def reload_base_model() -> None:
    """Reload the loaded model from disk: clean weights, no LoRA, ``model_dirty_from_training`` cleared.

    The webui's ``reload_model()`` cannot be used: it calls ``unload_model()``, which sets ``model_name`` to
    'None', and then loads 'None' (docs/webui-trainer.md, Upstream bugs we work around, 1).
    """
    from modules.models import load_model, unload_model  # noqa: PLC0415

    shared = webui_shared()
    name = shared.model_name
    if name in (None, "None"):
        raise HostUnavailableError(HOST, f"no model is loaded: {HOW_TO_LOAD}")
    unload_model(keep_model_name=True)
    shared.model, shared.tokenizer = load_model(name)
    if shared.model is None:
        raise HostUnavailableError(HOST, f"reloading {name} failed; see the webui console, then load it again")


def reload_in_4bit(settings: TrainConfig) -> list[str]:
    """Reload the loaded model in 4-bit as the profile asks (QLoRA); returns notes on what was adjusted."""
    check_trainable_model()
    shared = webui_shared()
    plan = plan_hardware(settings, *_hardware())
    if not plan.load_in_4bit:
        raise HostUnavailableError(
            HOST, "4-bit loading needs an NVIDIA GPU and bitsandbytes: " + "; ".join(plan.notes or ("--cpu is set",))
        )
    shared.args.load_in_4bit, shared.args.load_in_8bit = True, False
    shared.args.use_double_quant = settings.double_quant
    shared.args.compute_dtype = plan.compute_dtype
    shared.args.quant_type = settings.quant_type
    reload_base_model()
    return list(plan.notes)


def apply_lora(name: str) -> None:
    """Apply one trained LoRA the webui's own way, so its LoRA menu shows it (``shared.lora_names``)."""
    from modules.LoRA import add_lora_to_model  # noqa: PLC0415

    add_lora_to_model([name])  # one name only: 2+ from a clean state fail in merge_loras (bug 2)


def _hardware() -> tuple[bool, bool, bool]:
    """(cuda, bitsandbytes, bf16) as the loaded model sees them; torch is already imported by the webui."""
    shared = webui_shared()
    torch = sys.modules.get("torch")
    cuda = bool(torch and not shared.args.cpu and torch.cuda.is_available())
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    return cuda, importlib.util.find_spec("bitsandbytes") is not None, bf16


def optimizer_choices(create_ui: Any) -> list[str] | None:
    """The Optimizer dropdown's choices, read from the Training tab's source (text, or the function itself)."""
    try:
        source = create_ui if isinstance(create_ui, str) else inspect.getsource(create_ui)
    except (OSError, TypeError):
        return None
    match = re.search(r"label='Optimizer'[^\n]*?choices=\[([^\]]*)\]", source)
    return re.findall(r"'([^']+)'", match.group(1)) if match else None


def prune_checkpoints(adapter_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoint-K folders (the webui never prunes; 0 = keep all)."""
    found = sorted(
        (p for p in Path(adapter_dir).glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()),
        key=lambda p: int(p.name[11:]),
    )
    removed = found[:-keep] if keep > 0 else []
    for path in removed:
        shutil.rmtree(path)
    return removed


# --- the host -------------------------------------------------------------------------------------------------


class WebuiHost:
    """Trains with the webui's built-in trainer on the model the webui has loaded."""

    name = "webui"
    # One run at a time in the whole process (a class attribute, not per host object): the trainer
    # keeps its state in module globals and trains the one shared model.
    _busy = threading.Lock()

    def available(self) -> bool:
        return not self.unavailable_reason()

    def unavailable_reason(self) -> str:
        """Why this host cannot train now (outside the webui, no Transformers model loaded); "" when it can."""
        if "modules.shared" not in sys.modules:  # never import it here: it would parse our sys.argv
            return "not running inside text-generation-webui"
        try:
            check_trainable_model()
        except HostUnavailableError as exc:
            return exc.reason
        return ""

    def reads_legacy_datasets(self) -> bool:
        """True when the installed trainer is the pre-2026-03 one (instruction/output rows + format files).

        False outside the webui (nothing to ask; ``unavailable_reason`` says so).
        """
        if "modules.shared" not in sys.modules:  # never import it here: it would parse our sys.argv
            return False
        from modules import training  # noqa: PLC0415

        return signature_flavour(list(inspect.signature(training.do_train).parameters)) == "legacy"

    def train(self, request: TrainRequest, on_progress: ProgressCallback, stop: threading.Event) -> TrainResult:
        if not self._busy.acquire(blocking=False):
            raise TrainingError("a training run is already in progress in this webui; wait for it or stop it")
        try:
            return self._train(request, on_progress, stop)
        finally:
            self._busy.release()

    def _train(self, request: TrainRequest, report: ProgressCallback, stop: threading.Event) -> TrainResult:
        from modules import training  # noqa: PLC0415

        check_trainable_model()
        shared = webui_shared()
        # do_train writes into the webui's LoRA folder, whatever request.loras_dir says: check that one.
        request = replace(request, loras_dir=loras_dir())
        params = list(inspect.signature(training.do_train).parameters)
        legacy = signature_flavour(params) == "legacy"
        _check_dataset_folder(request)
        prepared = prepare(request, self, lambda: shared.tokenizer)
        adapter_dir = prepared.adapter_dir
        if shared.model_dirty_from_training or shared.lora_names or type(shared.model).__name__.startswith("Peft"):
            report(TrainProgress(0, 0, message=f"reloading {shared.model_name} (clean weights, no LoRA)"))
            reload_base_model()
        plan = plan_hardware(request.settings, *_hardware())
        settings = replace(request.settings, optimizer=plan.optimizer)
        notes = [n for n in plan.notes if n.startswith("optimizer")]  # loading is the webui's business
        if request.settings.load_in_4bit and plan.load_in_4bit and not loaded_in_4bit():
            notes.append("the model is not loaded in 4-bit as the profile asks: use 'Reload in 4-bit' to save memory")
        if settings.seed != 42:
            notes.append(f"seed {settings.seed} ignored: the webui trainer always uses the HF default (42)")
        rows, dropped, tokens = prepared.rows, prepared.dropped, prepared.tokens
        if dropped:
            notes.append(f"the webui drops {dropped} rows longer than cutoff_len {settings.cutoff_len} tokens")
        mapped = map_do_train_args(
            params,
            settings,
            request,
            rows=rows,
            optimizer_choices=optimizer_choices(getattr(training, "create_ui", None)),
            chat_template=getattr(shared.tokenizer, "chat_template", None),
        )
        formats = user_data_dir() / "training" / "formats"
        if legacy and not (formats / f"{mapped['format']}.json").is_file():
            raise TrainingError(f"{formats}/{mapped['format']}.json is missing: write the dataset with target 'legacy'")
        if mapped["optimizer"] != settings.optimizer:
            notes.append(f"optimizer {mapped['optimizer']} instead of {settings.optimizer} (what this webui offers)")
        for note in notes:
            report(TrainProgress(0, 0, message=note))
        if stop.is_set():
            return TrainResult(adapter_dir, steps=0, interrupted=True, notes=notes)
        # Asked for, done only now that all checks passed (the webui overwrites files in place and would
        # leave an older run's checkpoint-* folders beside the new ones); the old LoRA comes back on failure.
        replace_old = request.overwrite and not request.resume and adapter_dir.is_dir()
        with replacing_folder(adapter_dir) if replace_old else contextlib.nullcontext():
            run = Run(training, settings.grad_accum, report, tokens / max(rows, 1) * settings.micro_batch_size)
            training.train_log.clear()  # module-level, never cleared by the webui: old losses would leak in
            template = getattr(shared.tokenizer, "chat_template", None)
            try:
                last = run.consume(training.do_train(**mapped), stop)
            except (ValueError, RuntimeError, OSError) as exc:  # raised, not yielded: e.g. TrainingArguments checks
                raise TrainingError(f"the webui trainer failed: {exc}") from exc
            finally:
                # After a run the model is peft-wrapped (dirty) and a failed run may have swapped the tokenizer's
                # template: reload, so the webui never stays with a broken model (or none).
                if (
                    shared.model_dirty_from_training
                    or shared.model is None
                    or (getattr(shared.tokenizer, "chat_template", None) != template)
                ):
                    reload_base_model()
            if last.kind not in ("done", "interrupted"):
                raise TrainingError(f"the webui trainer stopped: {error_text(last.text)}")
        if (adapter_dir / "adapter_config.json").is_file():
            apply_lora(request.lora_name)
        if settings.save_total_limit and prune_checkpoints(adapter_dir, settings.save_total_limit):
            notes.append(f"kept the newest {settings.save_total_limit} checkpoints (the webui never prunes)")
        return run.result(adapter_dir, last, dropped, notes)


def _check_dataset_folder(request: TrainRequest) -> None:
    """The webui reads datasets by stem from its own training/datasets folder only."""
    folder = user_data_dir() / "training" / "datasets"
    for path in (request.dataset, request.eval_dataset):
        if path is not None and Path(path).resolve().parent != folder.resolve():
            raise ConfigError("dataset", str(path), f"the webui trainer reads datasets only from {folder}")
