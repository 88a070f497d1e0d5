"""HTML for the tab: export summaries, sample previews, build reports and evaluation notes.

Everything shown here comes from the user's chats, so every value is escaped with
`html.escape` before it is put into markup: a message reading ``<img src=x onerror=...>``
must appear as those characters, never run (gr.HTML does not sanitize). Markdown is not
used for chat content either, since ``**x**`` in a message must show as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from discord_echo.ingest.inspection import FileSummary

_PRE = "white-space: pre-wrap; word-break: break-word; font-family: monospace; font-size: 0.85em;"
_MARK = "background: #fde68a; color: #111;"


def error_html(message: str) -> str:
    return f'<div class="discord-echo-error" style="color:#b91c1c"><b>Error:</b> {escape(message)}</div>'


def evaluation_html(warnings: Sequence[str], saved: Path | None = None) -> str:
    """Under the Evaluate tables: where the report was saved, and the warnings (or that there are none)."""
    items = "".join(f'<li style="color:#a16207">{escape(w)}</li>' for w in warnings)
    where = f"<p>Report saved to {escape(str(saved))}.</p>" if saved else ""
    return where + (f"<ul>{items}</ul>" if items else "<p>No warnings.</p>")


def summary_html(summaries: Sequence[FileSummary]) -> str:
    """One block per file: format, channel, messages, range, problems."""
    if not summaries:
        return "<p>No export files found.</p>"
    blocks = []
    for s in summaries:
        lines = [f"<b>{escape(s.path)}</b>"]
        if s.error:
            lines.append(f'<span style="color:#b91c1c">{escape(s.error)}</span>')
        else:
            version = f" (DiscordChatExporter {escape(s.exporter_version)})" if s.exporter_version else ""
            lines.append(f"{escape(s.format or '?')}{version}: {s.messages:,} messages")
            if s.guild or s.channel:
                lines.append(f"channel: {escape(s.guild or '?')} / {escape(s.channel or '?')}")
            if s.first and s.last:
                lines.append(f"from {s.first:%Y-%m-%d} to {s.last:%Y-%m-%d}")
            if s.bots:
                lines.append("bots: " + escape(", ".join(a.name for a in s.bots)))
        lines += [f'<span style="color:#a16207">{escape(w)}</span>' for w in s.warnings[:10]]
        if len(s.warnings) > 10:
            lines.append(f"… and {len(s.warnings) - 10} more warnings")
        blocks.append("<br>".join(lines))
    return "<div class='discord-echo-summary'>" + "<hr>".join(blocks) + "</div>"


def preview_html(segments_per_sample: Sequence[Sequence[tuple[str, bool]]], tokens: Sequence[int]) -> str:
    """Samples exactly as the trainer renders them, trained text highlighted."""
    parts = []
    for number, (segments, count) in enumerate(zip(segments_per_sample, tokens, strict=True), 1):
        body = "".join(
            f'<mark style="{_MARK}">{escape(text)}</mark>' if trained else escape(text) for text, trained in segments
        )
        parts.append(
            f"<p><b>Sample {number}</b> · {count} tokens</p>"
            f"<div class='discord-echo-sample' style='{_PRE}'>{body}</div>"
        )
    legend = f'<p><mark style="{_MARK}">highlighted</mark> text is trained; the rest is context.</p>'
    return "<div class='discord-echo-preview'>" + legend + "".join(parts) + "</div>"


def report_html(report: dict) -> str:
    """The build report as a short list: what was kept, dropped, trimmed and redacted."""
    cleaning, samples = report["cleaning"], report["samples"]
    dropped = ", ".join(f"{escape(k)} {v}" for k, v in cleaning["dropped"].items() if v) or "none"
    redacted = ", ".join(f"{escape(k)} {v}" for k, v in report["redactions"].get("counts", {}).items() if v)
    rows = [
        f"<b>Me:</b> {escape(report['me'])} · my share of kept messages {report['my_share']:.0%}",
        f"<b>Messages:</b> {cleaning['total']:,} read, {cleaning['kept']:,} kept; dropped: {dropped}",
        f"<b>Conversations:</b> {report['conversations']:,} ({report['held_out_conversations']} held out)",
        f"<b>Samples:</b> {samples['train']:,} for training, {samples['eval']:,} held out; longest "
        f"{samples['max_tokens']} tokens; context trimmed in {samples['trimmed_context']}",
        f"<b>Token counts:</b> {escape(samples['tokenizer'])}",
    ]
    if samples["dropped_my_turns"]:
        why = {"reply_over_cutoff": "replies too long for the cutoff alone"}
        counts = ", ".join(
            f"{v:,} {escape(why.get(k, k.replace('_', ' ')))}" for k, v in samples["dropped_my_turns"].items() if v
        )
        rows.append(f"<b>Not trained:</b> {counts} (raise the cutoff to keep them)")
    if redacted:
        rows.append(f"<b>Redacted:</b> {redacted}")
    rows += [f'<span style="color:#a16207"><b>Warning:</b> {escape(w)}</span>' for w in report.get("same_channel", [])]
    if not samples["exact_tokens"]:
        rows.append("<i>Lengths are estimated; load a model (or give its folder) for exact counts.</i>")
    return "<div class='discord-echo-report'>" + "<br>".join(rows) + "</div>"
