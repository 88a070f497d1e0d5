"""Write samples where the webui's Training tab finds them, in the shape its trainer reads.

Takes `Sample`s and a user_data folder; writes into ``<user_data>/training/datasets/``:

* ``<name>.json``: a JSON array of ``{"messages": [...]}`` rows. The webui lists a file
  in its chat-dataset dropdown when the first row has ``messages`` or ``conversations``
  (modules/utils.py ``get_chat_datasets``) and reads it with ``load_dataset("json")``.
* ``<name>-eval.json``: the held-out rows, same shape (the trainer's "Evaluation Dataset").
* ``<name>.discord_echo.yaml``: settings and report of the build. Its suffix keeps it out of
  the webui's dataset lists (they glob ``*.json``, and ``*.txt`` for raw text); the content
  is JSON, which is valid YAML.

The three are replaced as one set (core/safe_files.py `replace_together`, journal
``.<name>.discord_echo.journal``): a kill between two renames is completed by the next `dataset_paths`
of that name (every reader and writer of a dataset goes through it), so a new train file never meets
an old held-out file.

``target="legacy"`` writes for webui releases before the 2026-03 trainer rewrite, which
read ``instruction``/``output`` rows plus a *format file* per model family from
``<user_data>/training/formats/*.json`` (keys name the row's fields; ``%field%`` is
replaced; the webui's modules/training.py ``generate_prompt`` at 68714843).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from discord_echo.core.safe_files import (
    FileExistsRefusedError,
    InvalidNameError,
    atomic_write,
    contained_path,
    finish_replacing,
    remove_orphan_temporaries,
    replace_together,
    validate_name,
)
from discord_echo.dataset.samples import Sample

SIDECAR_SUFFIX = ".discord_echo.yaml"
ORPHAN_AGE_S = 3600  # a temporary file of a dataset this old belongs to no write still running

# Format files for the pre-2026-03 trainer, one per model family. The keyset with
# "system" is used for rows that carry a persona prompt.
LEGACY_FORMATS: dict[str, dict[str, str]] = {
    "llama2-chat": {
        "instruction,output": "<s>[INST] %instruction% [/INST] %output% </s>",
        "instruction,output,system": "<s>[INST] <<SYS>>\n%system%\n<</SYS>>\n\n%instruction% [/INST] %output% </s>",
    },
    "alpaca": {
        "instruction,output": "### Instruction:\n%instruction%\n\n### Response:\n%output%",
        "instruction,output,system": "%system%\n\n### Instruction:\n%instruction%\n\n### Response:\n%output%",
    },
    "chatml": {
        "instruction,output": "<|im_start|>user\n%instruction%<|im_end|>\n<|im_start|>assistant\n%output%<|im_end|>",
        "instruction,output,system": "<|im_start|>system\n%system%<|im_end|>\n<|im_start|>user\n%instruction%"
        "<|im_end|>\n<|im_start|>assistant\n%output%<|im_end|>",
    },
    "mistral": {
        "instruction,output": "<s>[INST] %instruction% [/INST] %output%</s>",
        "instruction,output,system": "<s>[INST] %system%\n\n%instruction% [/INST] %output%</s>",
    },
    "llama3": {
        "instruction,output": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n%instruction%<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n%output%<|eot_id|>",
        "instruction,output,system": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n%system%"
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n%instruction%<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n%output%<|eot_id|>",
    },
}
# What to put in the old trainer's "Train only after" box so only the reply is trained.
LEGACY_TRAIN_ONLY_AFTER = {
    "llama2-chat": "[/INST]",
    "alpaca": "### Response:\n",
    "chatml": "<|im_start|>assistant\n",
    "mistral": "[/INST]",
    "llama3": "<|start_header_id|>assistant<|end_header_id|>\n\n",
}


@dataclass
class WrittenDataset:
    train: Path
    eval: Path | None
    sidecar: Path
    formats: list[Path]


def dataset_paths(user_data: Path, name: str) -> tuple[Path, Path, Path]:
    """(train, eval, sidecar) paths for a dataset name, validated and inside user_data.

    A replacement of that dataset's files that was interrupted (killed between renames) is completed
    first, so the three paths always hold files of one build.
    """
    validate_name(name, "dataset")
    if name.lower().endswith("-eval"):
        # "x-eval.json" is the held-out file of dataset "x": such a name would overwrite or be mistaken for it.
        raise InvalidNameError("dataset", name, "must not end in -eval (that suffix marks held-out files)")
    folder = Path(user_data) / "training" / "datasets"
    journal = journal_path(user_data, name)
    finish_replacing(journal)
    paths = (
        contained_path(folder, f"{name}.json"),
        contained_path(folder, f"{name}-eval.json"),
        contained_path(folder, f"{name}{SIDECAR_SUFFIX}"),
    )
    for path in (*paths, journal):  # left by a write killed before its journal; an hour spares one in progress
        remove_orphan_temporaries(path, min_age_s=ORPHAN_AGE_S)
    return paths


def journal_path(user_data: Path, name: str) -> Path:
    """The hidden journal of an unfinished replacement of dataset ``name`` (core/safe_files.py `replace_together`)."""
    return contained_path(Path(user_data) / "training" / "datasets", f".{name}.discord_echo.journal")


def legacy_rows(samples: Iterable[Sample], me: str) -> Iterator[dict[str, str]]:
    """One instruction/output row per reply of mine; earlier turns flattened into the instruction.

    Each of my replies is an ``output`` exactly once, as in the chat form. Rows are made as they are read,
    so a dataset of any size is written in the memory of one sample.
    """
    for sample in samples:
        system = ""
        lines: list[str] = []
        for message in sample.messages:
            role, content = message["role"], message["content"]
            if role == "system":
                system = content
            elif role == "user":
                lines.append(content)
            else:
                row = {"instruction": "\n".join(lines), "output": content}
                if system:
                    row["system"] = system
                yield row
                lines.append(f"{me}: {content}")


def _write_json_array(rows: Callable[[], Iterable[dict]]):
    def write(handle) -> None:
        # One row per line keeps huge files diffable and lets a reader peek at row 1 cheaply.
        handle.write("[\n")
        for number, row in enumerate(rows()):
            handle.write(("," if number else "") + json.dumps(row, ensure_ascii=False) + "\n")
        handle.write("]\n")

    return write


def write_dataset(
    user_data: Path,
    name: str,
    train: Sequence[Sample],
    held_out: Sequence[Sample],  # read once per write: a build's spooled samples stream from disk
    metadata: dict,
    *,
    overwrite: bool = False,
    target: Literal["chat", "legacy"] = "chat",
    me: str = "me",
) -> WrittenDataset:
    """Write train, eval and sidecar files as one set (refusing to replace without ``overwrite``).

    Every target is checked before anything is written, so a refusal leaves no half-set; the set is replaced
    with `replace_together`, so an interrupted overwrite never mixes two builds.
    """
    train_path, eval_path, sidecar = dataset_paths(user_data, name)
    formats: list[Path] = []
    if target == "legacy":
        folder = Path(user_data) / "training" / "formats"
        formats = [contained_path(folder, f"discord-echo-{family}.json") for family in LEGACY_FORMATS]

        def train_rows() -> Iterable[dict]:
            return legacy_rows(train, me)

        def eval_rows() -> Iterable[dict]:
            return legacy_rows(held_out, me)

    else:

        def train_rows() -> Iterable[dict]:
            return (s.to_row() for s in train)

        def eval_rows() -> Iterable[dict]:
            return (s.to_row() for s in held_out)

    has_eval = len(held_out) > 0
    # The held-out file counts even when this build has none: an old one left beside the new set would be
    # taken for its held-out part (by the trainer and by Compare) while its conversations are now trained on.
    targets = [train_path, sidecar, eval_path]
    if not overwrite:
        for path in targets:
            if path.exists():
                raise FileExistsRefusedError(path)
    kept_formats = []
    for path, family in zip(formats, LEGACY_FORMATS if formats else (), strict=True):
        if path.exists():  # ours from an earlier build, or edited by the user: leave it
            kept_formats.append(path.name)
            continue
        atomic_write(path, lambda h, f=family: json.dump(LEGACY_FORMATS[f], h, indent=2))
    info = {**metadata, "target": target, "train_file": train_path.name}
    if has_eval:
        info["eval_file"] = eval_path.name
    if target == "legacy":
        info["format_files"] = [p.name for p in formats]
        info["format_files_kept_as_they_were"] = kept_formats
        info["train_only_after"] = LEGACY_TRAIN_ONLY_AFTER
    writes = [(train_path, _write_json_array(train_rows))]
    if has_eval:
        writes.append((eval_path, _write_json_array(eval_rows)))
    writes.append((sidecar, lambda h: json.dump(info, h, indent=2, ensure_ascii=False, default=str)))
    # Without held-out rows the old held-out file goes (the -eval suffix is reserved for it): left behind,
    # training would evaluate on conversations that are now in the training set.
    remove = (eval_path,) if overwrite and not has_eval else ()
    replace_together(journal_path(user_data, name), writes, remove, overwrite=overwrite)
    return WrittenDataset(train_path, eval_path if has_eval else None, sidecar, formats)
