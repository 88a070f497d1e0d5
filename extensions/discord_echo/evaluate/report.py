"""The Compare results as tables, chart rows and a Markdown report saved next to the LoRA.

``evaluate(comparer, held_out, me, settings)`` runs a whole comparison with a ``comparer.Comparer`` and fills a
``CompareReport``: perplexities of my and the others' held-out replies, base vs tuned; style statistics of
real, base and tuned replies to the same prompts; sample rows; warnings. ``perplexity_table``,
``perplexity_chart`` and ``style.style_table`` give what the UI shows; ``write_report`` saves
``discord_echo_report.md`` in the adapter folder. The report is ours: it is rewritten on each evaluation,
but a file of that name that does not start with our marker line (the user's own notes) is never replaced.
No torch import here: the model work is the comparer's.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError
from discord_echo.core.safe_files import FileExistsRefusedError, atomic_write
from discord_echo.evaluate.blind_test import BlindTest
from discord_echo.evaluate.comparer import CompareConfig, Comparer, CompareRow
from discord_echo.evaluate.echo_metrics import (
    SpeakerSpecificity,
    Topicality,
    speaker_specificity,
    style_gaps,
    topicality,
)
from discord_echo.evaluate.metrics import (
    OPENER_PROMPT,
    PROBE,
    EchoWarning,
    PerplexityPair,
    held_out_losses,
    held_out_pairs,
    overfit_warning,
    perplexity_warnings,
    pick,
    template_warnings,
    their_samples,
)
from discord_echo.evaluate.model_loading import trained_rendering
from discord_echo.evaluate.style import StyleStats, style_stats, style_table

REPORT_NAME = "discord_echo_report.md"
REPORT_MARKER = "<!-- discord_echo evaluation report; rewritten on each evaluation -->"
CELL_CHARS = 300  # longer replies are cut in table cells


@dataclass
class CompareReport:
    """Everything one evaluation found; ``render_report`` turns it into Markdown."""

    me: str
    base_model: str
    adapter: str
    template: str
    settings: dict[str, Any] = field(default_factory=dict)
    mine: PerplexityPair | None = None
    theirs: PerplexityPair | None = None
    style: dict[str, StyleStats] = field(default_factory=dict)  # "real", "base", "tuned"
    rows: list[CompareRow] = field(default_factory=list)
    warnings: list[EchoWarning] = field(default_factory=list)
    instructions: str = ""
    # "real", "base", "tuned": how much better each set of replies fits its own prompt than another (base judge)
    topicality: dict[str, Topicality] = field(default_factory=dict)
    specificity: SpeakerSpecificity | None = None
    style_gap: dict[str, float] = field(default_factory=dict)  # "base", "tuned": style distance to the real replies
    blind: BlindTest | None = None  # the "Which one is you?" rounds, once someone has answered them


def evaluate(
    comparer: Comparer,
    held_out: Sequence[Any],
    me: str,
    settings: CompareConfig,
    n: int = 8,
    build_rendering: str | None = None,
    opener_prompt: str = OPENER_PROMPT,
) -> CompareReport:
    """Perplexities (mine and theirs), ``n`` sample rows with style statistics, and warnings.

    ``held_out``: the build's held-out samples. ``build_rendering``: ``metrics.PROBE`` as the dataset build
    rendered it (``metrics.build_rendering(sidecar)``), for the template check. The model work runs inside
    ``comparer.sharing_prefixes`` for the picked prompts, so each is run once per adapter state.
    """
    if not held_out_pairs(held_out):
        raise ConfigError("held_out", len(held_out), "no held-out replies to compare: rebuild with a held-out share")
    theirs = their_samples(held_out, opener_prompt)  # the build's stand-in opener is no line of theirs
    picked = pick(held_out_pairs(held_out), n)
    prompts = [pair.prompt for pair in picked]
    # Each picked prompt starts a held-out row: scored first, its cache serves generation and topicality.
    with comparer.sharing_prefixes(prompts):
        mine_base, mine_tuned = comparer.score(held_out, False), comparer.score(held_out, True)
        mine = PerplexityPair(mine_base.perplexity, mine_tuned.perplexity, mine_tuned.tokens)
        their_pair = None
        if theirs:
            base, tuned = comparer.score(theirs, False), comparer.score(theirs, True)
            their_pair = PerplexityPair(base.perplexity, tuned.perplexity, tuned.tokens)
        rows = comparer.batch(picked, len(picked), settings)
        on_topic = {
            kind: found
            for kind, replies in (
                ("real", [r.real for r in rows]),
                ("base", [r.base for r in rows]),
                ("tuned", [r.tuned for r in rows]),
            )  # fmt: skip
            if (found := topicality(comparer, prompts, replies)) is not None
        }
    style = {
        "real": style_stats(r.real for r in rows),
        "base": style_stats(r.base for r in rows),
        "tuned": style_stats(r.tuned for r in rows),
    }
    warnings = perplexity_warnings(mine, their_pair)
    if comparer.adapter_dir is not None:
        found = overfit_warning(held_out_losses(comparer.adapter_dir))
        warnings[:0] = [found] if found else []
    renderings = {
        "dataset build": build_rendering,
        "training": trained_rendering(comparer.adapter_dir, comparer.tokenizer),
        "comparison": comparer.render(list(PROBE)),
    }
    warnings += template_warnings(renderings, ignore=[comparer.tokenizer.bos_token or ""])
    return CompareReport(
        me=me,
        base_model=str(getattr(comparer.model.active_peft_config, "base_model_name_or_path", "") or ""),
        adapter=str(comparer.adapter_dir or ""),
        template=comparer.template_name,
        settings=asdict(settings),
        mine=mine,
        theirs=their_pair,
        style=style,
        rows=rows,
        warnings=warnings,
        topicality=on_topic,
        specificity=speaker_specificity(mine, their_pair),
        style_gap=style_gaps(style),
    )


def perplexity_table(report: CompareReport) -> tuple[list[str], list[list[Any]]]:
    """``(headers, rows)``: perplexity of my and the others' held-out replies, base vs tuned."""
    headers = ["held-out replies", "base", "tuned", "change", "scored tokens"]
    rows: list[list[Any]] = []
    for label, pair in (("yours", report.mine), ("the others'", report.theirs)):
        if pair is not None:
            rows.append([label, round(pair.base, 2), round(pair.tuned, 2), f"{-pair.reduction:+.0%}", pair.tokens])
    return headers, rows


def topicality_table(report: CompareReport) -> tuple[list[str], list[list[Any]]]:
    """``(headers, rows)``: topicality of the real, base and tuned replies, per token and per reply."""
    headers = ["replies", "per token", "per reply", "scored replies"]
    rows = [
        [kind, round(found.per_token, 3), round(found.per_reply, 2), found.replies]
        for kind, found in report.topicality.items()
    ]
    return headers, rows


def echo_table(report: CompareReport) -> list[list[Any]]:
    """Rows ``[measure, real, base, tuned]``: topicality per token and per reply, style distance to the real."""
    rows = []
    for label, attribute in (("topicality per token (nats)", "per_token"), ("topicality per reply", "per_reply")):
        found = [report.topicality.get(kind) for kind in KINDS]
        if any(found):
            rows.append([label, *(_rounded(getattr(f, attribute, None)) for f in found)])
    if report.style_gap:
        gaps = [report.style_gap.get(kind) for kind in KINDS[1:]]
        rows.append(["style distance to your real replies", 0.0, *map(_rounded, gaps)])
    if report.specificity is not None:
        s = report.specificity
        rows.append(["perplexity change on your replies", "", "", f"{s.mine_change:+.0%}"])
        rows.append(["perplexity change on the others' lines", "", "", f"{s.theirs_change:+.0%}"])
    return rows


def _rounded(value: float | None) -> float | str:
    return "" if value is None else round(value, 3)


KINDS = ("real", "base", "tuned")


def perplexity_chart(report: CompareReport) -> list[dict[str, Any]]:
    """Long-form rows ``{"replies", "model", "perplexity"}`` for a grouped bar chart (gr.BarPlot)."""
    points = []
    for label, pair in (("yours", report.mine), ("the others'", report.theirs)):
        if pair is not None:
            points.append({"replies": label, "model": "base", "perplexity": pair.base})
            points.append({"replies": label, "model": "tuned", "perplexity": pair.tuned})
    return points


def render_report(report: CompareReport) -> str:
    """The Markdown report; every chat text is escaped, so a message cannot add markup or HTML."""
    lines = [
        REPORT_MARKER,
        f"# How well the LoRA echoes {_text(report.me)}",
        "",
        f"- base model: `{_code(report.base_model)}`",
        f"- LoRA: `{_code(report.adapter)}`",
        f"- chat template: {_text(report.template)}",
        f"- sampling: {_text(', '.join(f'{k}={v}' for k, v in report.settings.items())) or 'default'}",
        "",
        "## Warnings",
        "",
    ]
    lines += [f"- **{w.kind}**: {_text(w.message)}" for w in report.warnings] or ["None."]
    lines += ["", "## Perplexity on held-out replies (assistant tokens only; lower is better)", ""]
    headers, rows = perplexity_table(report)
    if rows:
        lines += _table(headers, rows)
        lines += [
            "",
            "Yours should drop much more than the others': the LoRA should learn you, not the chat.",
        ]
        lines += ["", "```", *_bars(report), "```"]
    else:
        lines.append("Not measured (no held-out replies).")
    lines += ["", "## Speaker specificity", ""]
    if report.specificity is not None:
        s = report.specificity
        lines += [
            f"- your held-out replies: perplexity {s.mine_change:+.0%}",
            f"- the others' lines, scored as if they were yours: perplexity {s.theirs_change:+.0%}",
            f"- specificity: {s.nats_per_token:+.3f} nats per token (above 0: it learned you, not the chat)",
        ]
    else:
        lines.append("Not measured (no lines of the others in the held-out set).")
    lines += ["", "## On topic? (base model as judge; higher is more related to the friend's message)", ""]
    if report.topicality:
        headers, rows = topicality_table(report)
        lines += _table(headers, rows)
        lines += ["", "log p(reply | its own prompt) - log p(reply | another held-out prompt), in nats."]
    else:
        lines.append("Not measured (fewer than two held-out prompts).")
    lines += ["", "## Style of the replies (same prompts for all three)", ""]
    if report.style:
        headers, rows = style_table(report.style)
        lines += _table(headers, rows)
        if report.style_gap:
            gaps = ", ".join(f"{kind} {gap:.3f}" for kind, gap in report.style_gap.items())
            lines += ["", f"Style distance to your real replies (0 = the same, lower is better): {gaps}."]
    else:
        lines.append("Not measured.")
    if report.blind is not None:
        lines += ["", "## Which one is you?", "", _text(report.blind.summary())]
    lines += ["", "## Sample replies", ""]
    if report.rows:
        lines += _table(["friend", "real", "base", "tuned"], [[r.prompt, r.real, r.base, r.tuned] for r in report.rows])
    else:
        lines.append("None generated.")
    if report.instructions:
        lines += ["", "## Chat with your echo in the webui", "", report.instructions]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, report: CompareReport) -> Path:
    """Write ``discord_echo_report.md`` into ``folder`` (the adapter's) atomically; return its path.

    An earlier report of ours is replaced; a file of that name without our marker line raises
    `FileExistsRefusedError` and is left as it is.
    """
    path = Path(folder) / REPORT_NAME
    if path.exists() and not is_our_report(path):
        raise FileExistsRefusedError(path)
    text = render_report(report)
    atomic_write(path, lambda handle: handle.write(text), overwrite=True)
    return path


def is_our_report(path: Path) -> bool:
    """Whether ``path`` starts with our marker line (so we wrote it and may rewrite it)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n") == REPORT_MARKER
    except (OSError, UnicodeDecodeError):
        return False


# --- Markdown helpers ------------------------------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _text(value: object) -> str:
    """Chat text made inert: HTML escaped, Markdown punctuation backslashed, newlines as <br>."""
    text = html.escape(str(value), quote=False)
    return _MARKDOWN.sub(r"\\\1", text).replace("\r\n", "\n").replace("\n", "<br>")


def _code(value: object) -> str:
    return str(value).replace("`", "'").replace("\n", " ")


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS] + "…"
    return _text(text) if isinstance(value, str) else text


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    return [
        "| " + " | ".join(_text(h) for h in headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows),
    ]


def _bars(report: CompareReport, width: int = 40) -> list[str]:
    """A text bar chart of the perplexities, scaled to the largest; readable in any Markdown viewer."""
    pairs = [(label, pair) for label, pair in (("yours", report.mine), ("others", report.theirs)) if pair]
    top = max((max(p.base, p.tuned) for _, p in pairs), default=0.0)
    out = []
    for label, pair in pairs:
        for model, value in (("base", pair.base), ("tuned", pair.tuned)):
            bar = "█" * max(1, round(width * value / top)) if top > 0 else ""
            out.append(f"{label:<6} {model:<5} {bar} {value:.2f}")
    return out
