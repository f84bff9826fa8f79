"""Lifecycle: every task type and ensemble on the Design → Calibrate → Establish → Trust →
Promote ladder, with the evidence, what is needed next, interim Claude debt and design
rejections (see the glossary: lifecycle).  The table and its panels live in
``ui/widgets/lifecycle_panels.py``, the key actions (promotion, standing authorisations,
thresholds, roll back, export) in ``lifecycle_actions.py``."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from conductor_tui.core.logscan import file_signature
from conductor_tui.core.review import LifecycleRow, ReviewState, lifecycle_rows, load_review, remembered
from conductor_tui.core.review_counts import drop_prefetch, prefetch_counts
from conductor_tui.ui import warm
from conductor_tui.ui.screens.base import logs_signature
from conductor_tui.ui.screens.lifecycle_actions import LifecycleActions
from conductor_tui.ui.widgets.fit import FitTable
from conductor_tui.ui.widgets.lifecycle_panels import (
    COLUMNS,
    GAP_WIDTH,
    LADDER,
    PHASE_STYLE,
    ConfigPanel,
    DesignerPanel,
    EvidencePanel,
    gap_width,
    ladder_text,
    row_cells,
    table_layout,
)

__all__ = ["LADDER", "PHASE_STYLE", "LifecycleScreen", "ladder_text"]

STYLES = Path(__file__).resolve().parent.parent / "styles"


class LifecycleScreen(LifecycleActions):
    MODE = "lifecycle"
    HELP: ClassVar[str] = """
# Lifecycle

Each task type and its ensemble on the ladder **Design → Calibrate → Establish → Trust →
Promote** (see the glossary: lifecycle). The phase comes from the evaluations: five evaluated uses with no
poor pass calibration (one poor: a second window; two: back to Design); more than 20
uses with over 80 % acceptable-or-good earn Trust.

* **Evidence:** uses, good / acceptable / poor, last used. **Next:** what the next step
  needs. **Debt:** delegable subtasks Claude handled while no ensemble was ready.
* `g` promotes the selected ensemble to the **global** tier (`~/.config/llm-orc/`), `L` to
  the **library** (`$LLM_ORC_LIBRARY_PATH`): readiness (3 good for global, 5 + a
  generality check for the library) and dependencies (profiles at the destination,
  no hard-coded project paths in scripts) are checked and shown before anything is copied.
* `a` grants or revokes a standing authorisation for the task type + ensemble.
* **Designer handoff** (shown once there is one): ensemble requests and feedback written for the
  Ensemble Designer under `.llm-orc/conductor/designer/`, with their state; `D` hands the selected
  task type's proposed request to the designer (you gate the transition).
* `t` edits the thresholds (a new config version each time), `b` rolls back to a version.
* **Judge agreement:** how often Claude's verdicts matched yours for the ensemble (with a
  95 % interval); below `judge_agreement_min` its verdicts come back to you.
* `x` on a **LoRA candidate** exports its training data (input, output, score, reasoning
  per evaluated run, poor ones labelled by failure mode) with a manifest of counts.
"""
    BINDINGS = [
        Binding(
            "g",
            "promote('global')",
            "→ global",
            id="lifecycle.promote_global",
            tooltip="Promote the ensemble to the global tier",
        ),
        Binding(
            "L",
            "promote('library')",
            "→ library",
            id="lifecycle.promote_library",
            tooltip="Promote the ensemble to the library",
        ),
        Binding(
            "a",
            "toggle_auth",
            "Auth",
            id="lifecycle.authorize",
            tooltip="Grant or revoke standing authorisation",
        ),
        Binding(
            "D",
            "approve_request",
            "Approve request",
            id="lifecycle.approve_request",
            tooltip="Hand the proposed ensemble request of this task type to the designer",
        ),
        Binding("t", "thresholds", "Thresholds", id="lifecycle.thresholds"),
        Binding(
            "b",
            "rollback",
            "Roll back",
            id="lifecycle.rollback",
            tooltip="Roll back the routing config to an earlier version",
        ),
        Binding(
            "x",
            "export_training",
            "Export data",
            id="lifecycle.export_training",
            tooltip="Export the LoRA candidate's training data (evaluated runs with their input and output)",
        ),
        Binding("ctrl+r", "reload", "Reload", id="lifecycle.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._signature: tuple = ()  # logs_signature at the last load
        self.state: ReviewState | None = None
        self.rows: list[LifecycleRow] = []
        self.current: LifecycleRow | None = None
        self.versions: list[tuple[int, Any]] = []
        self._versions_read: dict[int, tuple[tuple, Any]] = {}  # version → (its file's signature, config)
        self._keys: list[str] = []  # the table's rows and their cells, as last filled
        self._cells: list[list[Text]] = []
        self._gap = GAP_WIDTH  # the g/a/p column's width (see gap_width)
        self.designer_listing: Any = None
        self._prefetching: threading.Thread | None = None  # starting the first load's workers

    def _layout(self, width: int) -> tuple[dict[str, int], str]:
        return table_layout(width, self._gap)

    def compose_body(self) -> ComposeResult:
        if self.state is None and self._prefetching is None:  # the log's workers start now
            self._prefetching = threading.Thread(
                target=self._prefetch, name="lifecycle-prefetch", daemon=True
            )
            self._prefetching.start()
        with Vertical(id="lc-body"):
            table = FitTable(
                id="lc-table", cursor_type="row", zebra_stripes=True, layout=self._layout, minimum=12
            )
            table.border_title = "Task types and ensembles"
            yield table
            detail = EvidencePanel(id="lc-detail", classes="cp-panel")
            detail.border_title = "Selected"
            yield detail
            config = ConfigPanel(id="lc-config", classes="cp-panel")
            config.border_title = "Routing config"
            yield config
            designer = DesignerPanel(id="lc-designer", classes="cp-panel")
            designer.border_title = "Designer handoff"
            designer.display = False  # shown once an artifact exists
            yield designer

    def _prefetch(self) -> None:
        """The routing log's count workers started as the screen is built, not once it is
        mounted (``review_counts.prefetch_counts``; the first load takes them)."""
        store = self.services.store
        with contextlib.suppress(Exception):  # (the load reads the log anyway)
            if not remembered(store):  # (else the load goes on from the one remembered)
                prefetch_counts(store)

    def on_mount(self) -> None:
        table = self.query_one("#lc-table", DataTable)
        assert isinstance(table, FitTable)
        table.add_columns_fitted(COLUMNS)
        self.reload()

    def on_screen_resume(self) -> None:
        # a visit re-reads the logs only when they changed (a 100,000-line log takes seconds)
        if self.state is not None and logs_signature(self.services.store) != self._signature:
            self.reload()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        """Re-read the logs and config in a thread worker (loading state on first load)."""
        self.query_one("#lc-table", DataTable).loading = self.state is None
        self._load()

    @work(thread=True, exclusive=True, group="lifecycle-load", exit_on_error=False)
    def _load(self) -> None:
        self._signature = logs_signature(self.services.store)  # before reading: never stale
        if self._prefetching is not None:
            self._prefetching.join()  # its workers registered before the load looks for them
        try:
            state = load_review(self.services.store, queue=False)  # the rows need no queue
        finally:
            with contextlib.suppress(Exception):
                drop_prefetch(Path(self.services.store.routing_log_path))  # started ahead, not taken
        rows = lifecycle_rows(state)
        versions = self._config_versions()
        # the table first: the designer's listing needs the derived history, which takes longer
        self.app.call_from_thread(self._apply, state, rows, versions)
        try:
            from conductor_tui.core.loop import Conductor
            from conductor_tui.engine.row_run import candidates_for

            conductor = Conductor(self.services.project, store=self.services.store, now=self.services.clock)
            listing = conductor.design_artifacts(candidates_for(self.services.project))
        except Exception:
            listing = None
        self.app.call_from_thread(self._show_designer, listing)

    def _config_versions(self) -> list[tuple[int, Any]]:
        """Every routing-config version with its config; a version file read before and
        unchanged since (same path, size and time) is not parsed again."""
        store = self.services.store
        versions: list[tuple[int, Any]] = []
        try:
            numbers = store.config_versions()
        except Exception:
            return versions
        for v in numbers:
            backup = store.version_path(v)
            path = backup if backup.exists() else store.config_path
            sig = (str(path), file_signature(path))
            seen = self._versions_read.get(v)
            if seen is not None and seen[0] == sig:
                versions.append((v, seen[1]))
                continue
            try:
                cfg = store.load_config_version(v)
            except Exception:
                continue
            self._versions_read[v] = (sig, cfg)
            versions.append((v, cfg))
        return versions

    def _show_designer(self, listing: Any) -> None:
        """Ensemble requests and feedback for the Ensemble Designer, newest first, with state."""
        self.designer_listing = listing
        self.query_one("#lc-designer", DesignerPanel).show(listing)

    def action_reload(self) -> None:
        self.reload()

    def _apply(self, state: ReviewState, rows: list[LifecycleRow], versions: list[tuple[int, Any]]) -> None:
        if self.state is None:
            warm.freeze_loaded()
        self.state = state
        self.rows = rows
        self.versions = versions
        table = self.query_one("#lc-table", DataTable)
        table.loading = False
        keep = self.current.key if self.current else None
        self._fill(table, rows)
        if not rows:
            self.current = None
            self.refresh_bindings()
            self.query_one("#lc-detail", EvidencePanel).show_empty()
        else:
            index = next((i for i, r in enumerate(rows) if r.key == keep), 0)
            table.move_cursor(row=index)
            self._show(rows[index])
        self._show_config()

    def _fill(self, table: DataTable, rows: list[LifecycleRow]) -> None:
        """The table's rows: when the same rows come back in the same order (a reload, new
        runs) only the cells that changed are updated, so the rest keep their rendering."""
        keys = [r.key for r in rows]
        gap = gap_width(rows)
        cells = [row_cells(r, gap) for r in rows]
        if gap != self._gap:  # counts that need a wider g/a/p column (or no longer do)
            self._gap = gap
            assert isinstance(table, FitTable)
            table.refit()
        if keys == self._keys and table.row_count == len(keys):
            for i, (new, old) in enumerate(zip(cells, self._cells, strict=True)):
                for j, (a, b) in enumerate(zip(new, old, strict=True)):
                    if _look(a) != _look(b):
                        table.update_cell_at(Coordinate(i, j), a)
        else:
            table.clear()
            for row, row_text in zip(rows, cells, strict=True):
                table.add_row(*row_text, key=row.key)
        self._keys, self._cells = keys, cells

    @on(DataTable.RowHighlighted, "#lc-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        row = next((r for r in self.rows if r.key == key), None)
        if row is not None:
            self._show(row)

    def _show(self, row: LifecycleRow) -> None:
        self.current = row
        self.refresh_bindings()
        self.query_one("#lc-detail", EvidencePanel).show(row, self.state)

    def _show_config(self) -> None:
        if self.state is None:
            return
        self.query_one("#lc-config", ConfigPanel).show(self.state, self.versions)


def _look(cell: Text) -> tuple:
    """What a cell shows (``Text`` equality compares only its text and spans)."""
    return (cell.plain, str(cell.style), cell.spans, cell.justify, cell.overflow, cell.no_wrap)
