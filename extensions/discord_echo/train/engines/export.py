"""``export(request)``: a folder to train the same dataset, with the same settings, on axolotl, LLaMA-Factory or TRL.

The folder holds the dataset files unchanged, the engine's config (our ``TrainConfig`` mapped: rank, alpha,
dropout, learning rate, epochs, batches, cutoff -> ``sequence_len`` / ``cutoff_len`` / ``max_length``), a
multi-GPU variant (DeepSpeed ZeRO-2), and a README.md with the command to run there, the template and how only
my turns are trained. Where an engine cannot mask the way ours does it is refused (TRL, when the marked template
does not reproduce our labels) or warned about (README and ``ExportResult.warnings``). An existing folder is
replaced only with ``overwrite``.

Needs a local model or tokenizer folder (the tokenize extra): the template is read and checked with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.templates.chat import CHAT_TEMPLATE, ROLES
from discord_echo.templates.trainer_rows import chat_template_for, read_chat_rows, tokenize_row
from discord_echo.train.engines import axolotl, llamafactory, trl
from discord_echo.train.engines.common import (
    ENGINES,
    EngineFiles,
    ExportContext,
    ExportRequest,
    ExportResult,
    check_target,
    read_sidecar,
    turn_end,
    write_folder,
)
from discord_echo.train.engines.masking import check_marked_masks

RENDERERS = {"axolotl": axolotl.render, "llamafactory": llamafactory.render, "trl": trl.render}
ENGINE_TITLES = {"axolotl": "axolotl", "llamafactory": "LLaMA-Factory", "trl": "TRL (SFTTrainer + accelerate)"}
MASK_CHECK_ROWS = 200


def default_out_dir(user_data: Path, dataset: str, engine: str) -> Path:
    """``<user_data>/exports/<dataset>-<engine>``."""
    return Path(user_data) / "exports" / f"{dataset}-{engine}"


def load_tokenizer(model: str) -> Any:
    """The tokenizer of a local model folder (never downloaded)."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError("model", model, "must be a local model or tokenizer folder (its chat template is checked)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError("model", model, f"cannot load its tokenizer: {exc}") from exc


def export(request: ExportRequest) -> ExportResult:
    """Write the export folder for ``request.engine``; refuses what the engine cannot train the same way."""
    if request.engine not in ENGINES:
        raise ConfigError("engine", request.engine, f"must be one of {', '.join(ENGINES)}")
    dataset = Path(request.dataset)
    if not dataset.name.endswith(".json"):
        raise ConfigError("dataset", str(dataset), "must be a <name>.json chat dataset")
    check_target(Path(request.out_dir), request.overwrite)  # before any slow work
    rows = read_chat_rows(dataset)
    if any(m.get("role") not in ROLES for row in rows for m in row):
        raise ConfigError("dataset", str(dataset), f"has roles other than {', '.join(ROLES)}")
    name = dataset.name[: -len(".json")]
    eval_path = dataset.with_name(f"{name}-eval.json")
    tokenizer = load_tokenizer(request.model)
    chat_template = chat_template_for(tokenizer, request.template, request.templates_dir)
    ctx = ExportContext(
        request=request,
        name=name,
        train_file=dataset.name,
        eval_file=eval_path.name if eval_path.is_file() else None,
        rows=rows,
        tokenizer=tokenizer,
        chat_template=chat_template,
        turn_end=turn_end(tokenizer, chat_template),
    )
    _check_against_build(ctx, read_sidecar(dataset))
    if request.engine == "trl":
        _check_trl_masks(ctx)
    files = RENDERERS[request.engine](ctx)
    files.files["README.md"] = readme(ctx, files)
    sources = {ctx.train_file: dataset}
    if ctx.eval_file:
        sources[ctx.eval_file] = eval_path
    written = write_folder(Path(request.out_dir), sources, files.files, request.overwrite)
    return ExportResult(Path(request.out_dir), written, files.command, files.multi_gpu_command, ctx.warnings)


def _check_against_build(ctx: ExportContext, sidecar: dict[str, Any]) -> None:
    """Warn where the settings differ from what the dataset was built for, and count rows over the cutoff."""
    settings = ctx.settings
    built_cutoff = sidecar.get("settings", {}).get("dataset", {}).get("cutoff_len")
    if isinstance(built_cutoff, int) and built_cutoff > settings.cutoff_len:
        ctx.warnings.append(
            f"the dataset was built for cutoff {built_cutoff} tokens, the export trains with {settings.cutoff_len}"
        )
    built_template = sidecar.get("report", {}).get("template")
    if built_template and built_template != ctx.request.template:
        ctx.warnings.append(
            f"the dataset was counted with template {built_template!r}, the export uses {ctx.request.template!r}"
        )
    over = sum(
        len(tokenize_row(ctx.tokenizer, row, ctx.chat_template)["input_ids"]) > settings.cutoff_len
        for row in ctx.rows
    )
    if over:
        ctx.warnings.append(
            f"{over} of {len(ctx.rows)} rows are longer than the cutoff ({settings.cutoff_len} tokens): our trainer "
            "and the webui drop them; TRL and LLaMA-Factory truncate them, axolotl drops them"
        )


def _check_trl_masks(ctx: ExportContext) -> None:
    check = check_marked_masks(ctx.tokenizer, ctx.rows, ctx.chat_template, MASK_CHECK_ROWS)
    if check.same:
        return
    first = (check.text_differs or check.mask_differs)[0]
    what = "renders differently" if check.text_differs else "marks other tokens as trained than ours"
    raise ConfigError(
        "engine",
        "trl",
        f"TRL's assistant-only loss cannot reproduce our masking with this chat template: the marked template "
        f"{what} (row {first}); export for axolotl instead, which trains in the same template",
    )


def readme(ctx: ExportContext, files: EngineFiles) -> str:
    """The folder's README.md: what is here, the one command, template, masking, mapping and warnings."""
    s, request = ctx.settings, ctx.request
    title = ENGINE_TITLES[request.engine]
    template = request.template if request.template != CHAT_TEMPLATE else "the model's own chat template"
    lines = [
        f"# {ctx.name}: discord-echo dataset for {title}",
        "",
        f"Written by `discord-echo export --to {request.engine}`. The dataset files are unchanged: a JSON array of",
        '`{"messages": [{"role", "content"}, ...]}` rows where I am `assistant`.',
        "",
        "## Run",
        "",
        "One GPU:",
        "",
        "```bash",
        files.command,
        "```",
        "",
        "Several GPUs (DeepSpeed ZeRO-2):",
        "",
        "```bash",
        files.multi_gpu_command,
        "```",
        "",
        f"Base model: `{request.model}` (a path on the machine that exported; change it to where the model is on",
        "the training machine, or to its Hugging Face id). Use the same base model for chat afterwards.",
        "",
        "## Template and what is trained",
        "",
        f"Template: {template}; end of my turn: `{ctx.turn_end or '(nothing)'}`.",
        "",
        _masking(ctx),
        "",
        "## Settings (from discord-echo)",
        "",
        "| ours | value |",
        "|---|---|",
        f"| LoRA rank / alpha / dropout | {s.lora_rank} / {s.lora_alpha} / {s.lora_dropout} |",
        f"| target modules | {s.target_modules if isinstance(s.target_modules, str) else ','.join(s.target_modules)} |",
        f"| learning rate, scheduler, warmup | {s.learning_rate:g}, {s.lr_scheduler}, {s.warmup_ratio:g} of steps |",
        f"| epochs | {s.epochs:g} |",
        f"| micro-batch x accumulation | {s.micro_batch_size} x {s.grad_accum} (per GPU) |",
        f"| cutoff | {s.cutoff_len} tokens |",
        f"| 4-bit (QLoRA) | {s.load_in_4bit} ({s.quant_type}) |",
        f"| optimizer, compute dtype | {s.optimizer}, {s.compute_dtype} |",
        "",
        "With N GPUs each step sees N times the batch: divide the accumulation by N to keep the same batch size.",
    ]
    if ctx.warnings:
        lines += ["", "## Warnings", ""] + [f"* {w}" for w in ctx.warnings]
    return "\n".join(lines) + "\n"


def _masking(ctx: ExportContext) -> str:
    engine = ctx.request.engine
    if engine == "trl":
        return (
            "`assistant_only_loss: true` with `chat_template.jinja`: the training template wrapped so that its "
            "`{% generation %}` markers cover exactly the tokens discord-echo's trainer trains (each reply of mine "
            "and the end-of-turn marker after it). TRL patches templates without markers only for model families it "
            "knows; this one needs no patch. Checked token for token on this dataset at export."
        )
    if engine == "axolotl":
        return (
            "`type: chat_template` with `roles_to_train: [assistant]` and `train_on_eos: turn`: each reply of mine "
            "and its end-of-turn token are trained, other turns are masked, in the exact template training used "
            "(`chat_template_jinja`)."
        )
    return (
        "`train_on_prompt: false`, `mask_history: false`: every reply of mine and LLaMA-Factory's end-of-turn "
        "marker are trained, other turns are masked, rendered with LLaMA-Factory's template named in the YAML."
    )
