"""What one section of the tab hands to the next: the components (and queries) it reads, by name.

The tab's dataset part is built first, then Train, then Compare; each later section is given these
small records instead of reaching into another section's component dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetParts:
    """From the tab's dataset part, for Train and Compare."""

    model: Any  # the Model textbox (a folder; the webui's loaded model wins)
    name: Any  # the Dataset name textbox
    template: Any  # the Template dropdown
    cutoff: Any  # the Samples form's cutoff_len field, which follows the training profile
    tokenizer_for: Callable[[str | None], Path | None]  # the tokenizer folder for a Model box value
    written: Any = None  # the State holding what the last Write wrote (its recipe and name), or None
    # Builds that written dataset again for a cutoff and returns a note saying so (EchoTab.rebuild).
    rebuild: Callable[[dict, int], str] | None = None


@dataclass(frozen=True)
class TrainParts:
    """From the Train section, for Compare."""

    lora: Any  # the LoRA name dropdown
    training: Callable[[], bool]  # True while a run uses the model
    trained: Any = None  # the Train click's event, for what should follow a run (``trained.then(...)``)
