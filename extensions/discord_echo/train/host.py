"""The one small interface between the pipeline and whatever trains the LoRA.

Two hosts implement it: ``train/webui/host.py`` drives text-generation-webui's own trainer
(``modules.training.do_train``) and is the only module that imports ``modules.*``;
``train/standalone/host.py`` trains with transformers + peft for users without the webui and
for the tests. ``train/driver.py`` talks only to `Host`, so a fake can stand in as well: every
member the driver uses is declared here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from discord_echo.train.config import TrainConfig


@dataclass(frozen=True)
class TrainRequest:
    """Everything a host needs for one training run (settings already validated)."""

    model: str  # local model folder or hub id (standalone); the loaded model's name (webui)
    dataset: Path  # <user_data>/training/datasets/<name>.json
    eval_dataset: Path | None
    lora_name: str
    loras_dir: Path  # the adapter goes to loras_dir / lora_name
    settings: TrainConfig
    template: str = "Chat Template"  # "Chat Template" or a webui instruction template name
    templates_dir: Path | None = None  # <user_data>/instruction-templates, for a named template
    resume: bool = False  # continue from the newest checkpoint in the adapter folder
    overwrite: bool = False  # replace an existing adapter folder (otherwise FileExistsRefusedError)


@dataclass
class TrainProgress:
    """One progress report, sent while training runs."""

    step: int  # optimizer steps done
    total_steps: int
    epoch: float = 0.0
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: float | None = None
    message: str = ""

    def parts(self) -> list[str]:
        """Plain-text pieces a front end shows: step, losses, rate, time left (CLI and tab alike)."""
        parts = [f"step {self.step}/{self.total_steps}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.eval_loss is not None:
            parts.append(f"held-out loss {self.eval_loss:.4f}")
        if self.learning_rate is not None:
            parts.append(f"lr {self.learning_rate:.2e}")
        if self.tokens_per_second:
            parts.append(f"{self.tokens_per_second:,.0f} tokens/s")
        if self.eta_seconds is not None:
            minutes, seconds = divmod(round(self.eta_seconds), 60)
            parts.append(f"about {minutes // 60}:{minutes % 60:02d}:{seconds:02d} left")
        return parts


@dataclass
class TrainResult:
    """What a finished (or interrupted) run left behind."""

    adapter_dir: Path
    steps: int
    interrupted: bool = False
    train_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)
    final_eval_loss: float | None = None
    total_steps: int = 0
    dropped_rows: int = 0  # rows longer than cutoff_len, skipped as the webui does
    notes: list[str] = field(default_factory=list)  # e.g. "no CUDA GPU: training in float32"


ProgressCallback = Callable[[TrainProgress], None]


class Host(Protocol):
    """A place that can train a LoRA: ``available()`` says whether it can now, ``unavailable_reason()`` why not."""

    name: str

    def available(self) -> bool:
        """True when this host can train now."""
        ...

    def unavailable_reason(self) -> str:
        """What keeps the host from training, for the user to act on; "" when it is available."""
        ...

    def reads_legacy_datasets(self) -> bool:
        """True when the host's trainer reads instruction/output rows (a pre-2026-03 webui), not chat rows."""
        ...

    def train(self, request: TrainRequest, on_progress: ProgressCallback, stop: threading.Event) -> TrainResult:
        """Run ``request``; ``stop.set()`` from any thread ends it early, saved."""
        ...
