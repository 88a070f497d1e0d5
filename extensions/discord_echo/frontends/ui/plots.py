"""The tab's charts: what their frames hold and the plot arguments both gradio 4.37 and 5 accept.

* Messages over time: by month for up to `MONTHLY_UP_TO` months, by year beyond, so the labels stay
  readable over years of chat; the y-axis starts at 0.
* Perplexity: one bar per (replies, model), side by side (``x = "yours · base"``), never stacked: a stacked
  bar would add my perplexity to the others'.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

MONTHLY_UP_TO = 24  # months shown one bar each; a longer chat is shown by year


def _gradio_major() -> int:
    import gradio as gr

    return int(str(gr.__version__).split(".")[0])


def zero_based() -> dict[str, Any]:
    """Plot arguments that start the y-axis at 0 and tilt the x labels (gradio 5+; 4.37's bars start at 0)."""
    return {"y_lim": [0, None], "x_label_angle": -45} if _gradio_major() >= 5 else {}


def timeline_frame(months: Counter[str]):
    """``period``/``messages`` rows from ``{"YYYY-MM": count}``: by month, or by year when the span is long."""
    import pandas as pd

    if len(months) > MONTHLY_UP_TO:
        years: Counter[str] = Counter()
        for month, count in months.items():
            years[month[:4]] += count
        months = years
    return pd.DataFrame(sorted(months.items()), columns=["period", "messages"])


def perplexity_frame(points: list[dict[str, Any]]):
    """`evaluate.report.perplexity_chart` rows with a ``bar`` column (``"yours · base"``) to plot side by side."""
    import pandas as pd

    frame = pd.DataFrame(points, columns=["replies", "model", "perplexity"])
    frame["bar"] = [f"{replies} · {model}" for replies, model in zip(frame["replies"], frame["model"], strict=True)]
    return frame
