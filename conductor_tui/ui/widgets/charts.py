"""Tiny text charts with a fixed scale (Textual's Sparkline rescales to its data), and
SparkChart: labelled sparklines that refit to the widget's width on every render."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
SPARK = "▁▂▃▄▅▆▇█"  # a zero still shows as a baseline


def spark(
    values: Sequence[float], width: int, *, lo: float = 0.0, hi: float | None = None, style: str = ""
) -> Text:
    """The last ``width`` values as one line of block characters scaled to [lo, hi]."""
    data = list(values)[-width:] if width > 0 else []
    top = hi if hi is not None else max(data, default=0.0)
    span = (top - lo) or 1.0
    chars = []
    for v in data:
        frac = max(0.0, min(1.0, (v - lo) / span))
        chars.append(SPARK[round(frac * (len(SPARK) - 1))])
    line = "".join(chars).ljust(width, " ") if width > 0 else ""
    return Text(line, style=style)


def columns(
    values: Sequence[float], labels: Sequence[str], *, height: int = 4, col_width: int = 3, style: str = ""
) -> Text:
    """A vertical bar chart ``height`` rows tall, one column per value, labels underneath."""
    top = max(values, default=0.0) or 1.0
    eighths = [round(v / top * height * 8) for v in values]
    rows = []
    for r in range(height, 0, -1):
        line = Text()
        for e in eighths:
            fill = e - (r - 1) * 8
            ch = "█" if fill >= 8 else BLOCKS[fill] if fill > 0 else " "
            line.append((ch * (col_width - 1)).ljust(col_width), style=style)
        rows.append(line)
    label_line = Text("".join(lbl[: col_width - 1].ljust(col_width) for lbl in labels), style="dim")
    out = Text()
    for line in rows:
        out.append_text(line)
        out.append("\n")
    out.append_text(label_line)
    return out


class SparkChart(Widget):
    """Labelled sparklines as wide as the widget is now (recomputed on every render, so a
    resize or a late layout never leaves them at a stale width)."""

    DEFAULT_CSS = "SparkChart { height: auto; }"

    def __init__(self, rows: list[tuple[str, Any, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows  # (label, history, style)

    def render(self) -> Text:
        width = max(10, self.size.width - 8)
        chart = Text()
        for index, (label, history, style) in enumerate(self.rows):
            if index:
                chart.append("\n")
            chart.append(f"{label:<7}", style="dim")
            chart.append_text(spark(history, width, hi=100, style=style))
        return chart
