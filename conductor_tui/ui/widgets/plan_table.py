"""The plan table: one keyed row per subtask, updated cell by cell.

Rows are keyed by the subtask id.  :meth:`PlanTable.show` diffs the new cells
against what is on screen and calls ``update_cell`` only for what changed (inside
``app.batch_update()``); it rebuilds only when rows were added, removed or moved.
Every cell is a rich ``Text`` (never markup built from data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from conductor_tui.ui.catalog import Catalog, EnsembleInfo
from conductor_tui.ui.lazy import lazy_module

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core import records
    from conductor_tui.core.records import PlanRow, WorkflowPlan
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    records = lazy_module("conductor_tui.core.records")

COLUMNS: list[tuple[str, str, int | None]] = [
    ("num", "#", 3),
    ("subtask", "Subtask", 30),  # takes the width left over (see PlanTable.fit_columns)
    ("type", "Task type", 12),
    ("category", "Category", 8),
    ("dag", "DAG", 4),
    ("handler", "Handler", 22),
    ("phase", "Phase", 9),
    ("reps", "Reps", 4),
    ("local", "Local", 6),
    ("claude", "Claude", 6),
    ("status", "Status", 10),
]
# Narrow terminals (≈120 columns): compact labels and narrower columns, so the subtask
# and the handler name stay readable.  Used when the wide layout would leave the
# subtask fewer than MIN_WIDE_SUBTASK cells.
COMPACT_WIDTHS: dict[str, int] = {
    "num": 2,
    "type": 9,
    "category": 6,
    "dag": 4,
    "handler": 22,
    "phase": 6,
    "reps": 4,
    "local": 5,
    "claude": 6,
    "status": 10,
}
MIN_WIDE_SUBTASK = 30
# Narrow terminals (≈80–100 columns): only the columns that matter for deciding stay;
# the others (task type, category, DAG, reps, tokens) move into the line under the table
# (PlanTable.hidden_columns).  Used when the compact layout would leave the subtask
# fewer than MIN_COMPACT_SUBTASK cells.
NARROW_COLUMNS = ("num", "subtask", "handler", "phase", "status")
NARROW_WIDTHS: dict[str, int] = {"num": 2, "handler": 18, "phase": 6, "status": 10}
MIN_COMPACT_SUBTASK = 18
COMPACT_LABELS = {"category": "Cat."}
COMPACT_CATEGORY = {"ensemble": "ens."}
COMPACT_PHASE = {"calibrate": "calib.", "establish": "estab.", "promote": "promo."}

# Keyed by the values of records.Delegability and records.RowStatus (StrEnums: a member
# finds its value's entry), so importing this module does not import the records.
CATEGORY_TEXT: dict[str, tuple[str, str]] = {
    "agent-delegable": ("agent", "green"),
    "ensemble-delegable": ("ensemble", "cyan"),
    "claude-only": ("Claude", "magenta"),
}
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "pending": ("· pending", "dim"),
    "approved": ("✓ approved", "bold green"),
    "rejected": ("✗ rejected", "red"),
    "running": ("▶ running", "bold yellow"),
    "done": ("● done", "green"),
    "failed": ("✗ failed", "bold red"),
}


@dataclass
class RowContext:
    """What the table needs besides the plan: ensembles and task-type phases."""

    catalog: Catalog = field(default_factory=Catalog)
    phases: dict[str, str] = field(default_factory=dict)
    costs: dict[str, Any] = field(default_factory=dict)  # row id → propose_judge.CostMultiplier
    sizes: dict[str, Any] = field(default_factory=dict)  # ensemble → rules.EnsembleSize (model-size ceiling)


def handler_problem(row: PlanRow, catalog: Catalog) -> EnsembleInfo | None:
    """The ensemble routed to, when it cannot run here (missing model, unknown, invalid)."""
    handler = plan_ops.effective_handler(row)
    if plan_ops.handler_kind(handler) != "ensemble" or not catalog.loaded:
        return None
    if handler.lower().startswith("role:"):  # routed by role: checked by the roles file, not here
        return None
    info = catalog.get(handler)
    if info is None:
        return EnsembleInfo(
            name=handler,
            runnable=False,
            problems=[f'no ensemble named "{handler}" in this project, the library or the global tier'],
            fixes=["pick another handler (o) or create it (request new ensemble)"],
        )
    return None if info.runnable else info


def cost_mark(cost: Any) -> str:
    """``×4`` for a propose–judge / multi-agent ensemble, ``×n`` for a fan-out."""
    factor = getattr(cost, "factor", 0) or 0
    if getattr(cost, "fan_out", False) and not getattr(cost, "proposers", 0):
        return "×n"
    return f"×{factor:g}"


def _num(value: int | None) -> Text:
    if value is None:
        return Text("—", style="dim", justify="right")
    if value >= 10_000:
        return Text(f"{value / 1000:.0f}k", justify="right")
    return Text(f"{value:,}", justify="right")


def dag_cell(row: PlanRow) -> Text:
    """The decomposability test's four conditions: ✓ pass, ✗ fail, · unknown."""
    dag = row.dag_test_result
    if dag is None:
        return Text("····", style="dim")
    dag_text = Text()
    for value in (dag.dag, dag.script, dag.fanout, dag.synthesis):
        mark, style = ("✓", "green") if value is True else ("✗", "red") if value is False else ("·", "dim")
        dag_text.append(mark, style=style)
    return dag_text


def handler_cell(row: PlanRow, context: RowContext, kind: str) -> Text:
    """The handler, coloured by kind, with its marks: model size ▲/✗, not runnable ⚠,
    overridden *, cost multiplier ×n."""
    handler = Text(plan_ops.handler_label(row), overflow="ellipsis", no_wrap=True)
    if kind == "claude":
        handler.stylize("magenta")
    elif kind == "create":
        handler.stylize("italic yellow")
    elif plan_ops.effective_handler(row).lower().startswith("role:"):
        handler.stylize("cyan")
    size = context.sizes.get(plan_ops.effective_handler(row)) if kind == "ensemble" else None
    if size is not None and size.level != "ok":  # model-size ceiling: ▲ above 7B, ✗ above the 14B ceiling
        ceiling = ("✗ ", "bold red") if size.refused else ("▲ ", "bold yellow")
        handler = Text.assemble(ceiling, handler)
    if handler_problem(row, context.catalog) is not None:
        handler = Text.assemble(("⚠ ", "bold yellow"), handler)
        handler.stylize("yellow")
    if row.original_handler and row.original_handler != plan_ops.effective_handler(row):
        handler.append(" *", style="bold")
    cost = context.costs.get(row.id)
    if cost is not None:
        handler = Text.assemble((cost_mark(cost) + " ", "bold yellow"), handler)
    handler.overflow, handler.no_wrap = "ellipsis", True  # Text.assemble drops them
    return handler


def row_cells(number: int, row: PlanRow, context: RowContext, *, compact: bool = False) -> tuple[Text, ...]:
    """The cells of one row, in COLUMNS order (``compact``: short category and phase)."""
    rejected = row.status == records.RowStatus.REJECTED
    base = "dim strike" if rejected else ""
    description = Text(row.description, style=base, overflow="ellipsis", no_wrap=True)
    if row.note:
        description = Text.assemble(("✎ ", "yellow"), description)
        description.overflow, description.no_wrap = "ellipsis", True
    category = row.delegability_category
    label, colour = CATEGORY_TEXT.get(category or "", (str(category or "—"), "dim"))
    if compact:
        label = COMPACT_CATEGORY.get(label, label)
    kind = plan_ops.handler_kind(plan_ops.effective_handler(row))
    handler = handler_cell(row, context, kind)
    phase = context.phases.get(row.task_type or "", "")
    if not phase:  # no task profile yet: a gap is in Design, a first-time ensemble calibrates
        phase = {"create": "design", "ensemble": "calibrate"}.get(kind, "")
    if compact:
        phase = COMPACT_PHASE.get(phase, phase)
    status_label, status_style = STATUS_TEXT.get(row.status, (str(row.status), ""))
    return (
        Text(str(number), style="dim", justify="right"),
        description,
        Text(
            row.task_type or "—",
            style="dim" if not row.task_type else base,
            overflow="ellipsis",
            no_wrap=True,
        ),
        Text(label, style=f"{colour} {base}".strip()),
        dag_cell(row),
        handler,
        Text(phase or "—", style="dim" if not phase else "", overflow="ellipsis", no_wrap=True),
        _num(row.expected_repetitions),
        _num(row.estimated_local_tokens),
        _num(plan_ops.estimated_claude_tokens(row)),
        Text(status_label, style=status_style),
    )


HIDDEN_LABELS = {
    "type": "",
    "category": "",
    "dag": "DAG ",
    "reps": "reps ",
    "local": "local ",
    "claude": "Claude ",
}


def hidden_facts(number: int, row: PlanRow, context: RowContext, hidden: list[str]) -> Text | None:
    """The cells a narrow layout leaves out, as one line: ``extraction · agent · DAG ✓✓·· ·
    reps 6 · local 1,900 · Claude 1,583`` (None when nothing is hidden)."""
    if not hidden:
        return None
    cells = dict(zip((k for k, _, _ in COLUMNS), row_cells(number, row, context), strict=True))
    line = Text()
    for key in hidden:
        cell = cells[key]
        if key in ("reps", "local", "claude") and cell.plain == "—":
            continue
        if line:
            line.append(" · ", style="dim")
        line.append(HIDDEN_LABELS.get(key, ""), style="dim")
        cell = cell.copy()
        cell.justify = None
        line.append_text(cell)
    return line


def _signature(text: Text) -> tuple:
    return (text.plain, str(text.style), tuple(text.spans), text.justify)


class PlanTable(DataTable):
    """A DataTable of plan rows, keyed by row id, with diff updates."""

    DEFAULT_CSS = """
    PlanTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []
        self.cells_updated = 0  # for tests and benchmarks: how many cells the last show() touched
        self.compact = False  # compact or narrow layout (see fit_columns)
        self.column_layout = "wide"
        self.shown_columns: tuple[str, ...] = tuple(k for k, _, _ in COLUMNS)
        self._on_layout: Callable[[], None] | None = None  # called when the layout changes
        self._last: tuple[WorkflowPlan | None, RowContext] | None = None

    def on_mount(self) -> None:
        self._add_columns()
        self.fit_columns()

    def _add_columns(self) -> None:
        for key, label, width in COLUMNS:
            if key in self.shown_columns:
                self.add_column(
                    COMPACT_LABELS.get(key, label) if self.compact else label, key=key, width=width
                )

    @property
    def hidden_columns(self) -> list[str]:
        """The column keys the current layout leaves out (shown in the detail line)."""
        return [k for k, _, _ in COLUMNS if k not in self.shown_columns]

    def on_resize(self) -> None:
        self.fit_columns()

    def layout_for(self, width: int) -> str:
        """``wide``, ``compact`` or ``narrow`` for a table ``width`` cells wide."""

        def left(widths: dict[str, int], count: int) -> int:
            return width - 2 * self.cell_padding * count - 2 - sum(widths.values())

        wide = {k: w or 0 for k, _, w in COLUMNS if k != "subtask"}
        if left(wide, len(COLUMNS)) >= MIN_WIDE_SUBTASK:
            return "wide"
        if left(COMPACT_WIDTHS, len(COLUMNS)) >= MIN_COMPACT_SUBTASK:
            return "compact"
        return "narrow"

    def fit_columns(self) -> None:
        """Pick the wide, compact or narrow layout for this width; the subtask column gets
        whatever width the other columns leave."""
        if not self.columns or not self.size.width:
            return
        layout = self.layout_for(self.size.width)
        if layout != self.column_layout:
            self.column_layout = layout
            self.compact = layout != "wide"
            self.shown_columns = NARROW_COLUMNS if layout == "narrow" else tuple(k for k, _, _ in COLUMNS)
            with self.app.batch_update():
                self.clear(columns=True)
                self._order = []
                self._add_columns()
                if self._last is not None:
                    self.show(*self._last)
            if self._on_layout is not None:
                self._on_layout()
        if layout == "wide":
            widths = {k: w or 0 for k, _, w in COLUMNS if k != "subtask"}
        else:
            widths = NARROW_WIDTHS if layout == "narrow" else COMPACT_WIDTHS
        widths = {k: w for k, w in widths.items() if k in self.shown_columns}
        available = self.size.width - 2 * self.cell_padding * len(self.shown_columns) - 2
        widths = {**widths, "subtask": max(16, available - sum(widths.values()))}
        changed = False
        for key, width in widths.items():
            column = self.columns.get(ColumnKey(key))
            if column is not None and column.width != width:
                column.width = width
                changed = True
        if changed:
            self._clear_caches()
            self._require_update_dimensions = True
            self.refresh()

    @property
    def selected_row_id(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def select_row_id(self, row_id: str) -> None:
        if row_id in self._order:
            self.move_cursor(row=self._order.index(row_id))

    def show(self, plan: WorkflowPlan | None, context: RowContext, *, batch: Callable | None = None) -> None:
        """Show ``plan``: update changed cells only; rebuild when the row set changed."""
        self._last = (plan, context)
        rows = plan.subtasks if plan is not None else []
        order = [r.id for r in rows]
        indexes = [i for i, (k, _, _) in enumerate(COLUMNS) if k in self.shown_columns]
        cells = {
            r.id: tuple(row_cells(i + 1, r, context, compact=self.compact)[j] for j in indexes)
            for i, r in enumerate(rows)
        }
        updated = 0
        with self.app.batch_update():
            if order != self._order:
                selected = self.selected_row_id
                self.clear()
                for row_id in order:
                    self.add_row(*cells[row_id], key=row_id)
                    updated += len(indexes)
                self._order = order
                if selected in order:
                    self.move_cursor(row=order.index(selected))
            else:
                keys = [COLUMNS[j][0] for j in indexes]
                for row_id in order:
                    old = self._shown.get(row_id)
                    new = cells[row_id]
                    for index, (a, b) in enumerate(zip(old or (), new, strict=False)):
                        if _signature(a) != _signature(b):
                            self.update_cell(row_id, keys[index], b)
                            updated += 1
        self._shown = cells
        self.cells_updated = updated
