"""The drill-down dialog: the log lines (file:line) behind one savings figure."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class ExplainDialog(ModalScreen[None]):
    """Shows a :class:`~conductor_tui.core.savings_trace.Explanation` (plain text, never markup)."""

    DEFAULT_CSS = """
    ExplainDialog { align: center middle; }
    ExplainDialog > #ex-box { width: 90%; height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    ExplainDialog #ex-table { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="explain.close")]

    def __init__(self, explanation: Any, root: str = "") -> None:
        super().__init__()
        self.explanation = explanation
        self.root = root

    def compose(self) -> ComposeResult:
        exp = self.explanation
        with Vertical(id="ex-box"):
            head = Text()
            scope = f" — {exp.scope[0]} {exp.scope[1]}" if exp.scope else ""
            head.append(f"{exp.figure}{scope}: {exp.total:,}", style="bold")
            if exp.range:
                head.append(f"   range {exp.range[0]:,}–{exp.range[1]:,}", style="dim")
            head.append(f"\n{len(exp.lines)} line(s) in {self.root}", style="dim")
            if exp.note:
                head.append("\n" + exp.note, style="dim")
            yield Static(head, id="ex-head")
            yield DataTable(id="ex-table", cursor_type="row", zebra_stripes=True)
            yield Static(Text("esc closes", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one("#ex-table", DataTable)
        table.add_column("line", width=26)
        table.add_column("value", width=10)
        table.add_column("what", width=60)
        for at, value, what in self.explanation.lines[:5000]:
            table.add_row(Text(at), Text(f"{value:,.0f}", justify="right"), Text(what))
        table.focus()
