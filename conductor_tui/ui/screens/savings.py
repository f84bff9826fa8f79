"""Savings: what local models did, from the logs, live.

The numbers come from :class:`conductor_tui.core.aggregate.Aggregator`, fed from byte
offsets in a thread worker: the first read parses the whole log off the UI thread, each
refresh afterwards reads only the lines appended since (every 0.5 s while the screen is
shown; paused while hidden)."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.fit import FitTable
from conductor_tui.ui.widgets.savings_panels import (
    CARDS,
    DAY_COLUMNS,
    DAY_PRIORITY,
    ENSEMBLE_COLUMNS,
    ENSEMBLE_PRIORITY,
    FILL_MINIMUM,
    TASK_TYPE_COLUMNS,
    TASK_TYPE_PRIORITY,
    KpiCards,
    WrapupPanel,
    day_chart,
    fill_days,
    fill_ensembles,
    fill_task_types,
    priority_layout,
    workflow_text,
    wrapup_text,
)

__all__ = ["SavingsScreen", "workflow_text", "wrapup_text"]

STYLES = Path(__file__).resolve().parent.parent / "styles"
TABLES = (
    ("sv-tab-tt", "By task type", "sv-by-tt", TASK_TYPE_COLUMNS, TASK_TYPE_PRIORITY),
    ("sv-tab-ens", "By ensemble", "sv-by-ens", ENSEMBLE_COLUMNS, ENSEMBLE_PRIORITY),
    ("sv-tab-day", "By day", "sv-by-day", DAY_COLUMNS, DAY_PRIORITY),
)
LIVE_INTERVAL = 0.5  # seconds between tail reads (appended lines show within a second)


def _cache_path(store: Any) -> Path | None:
    """The offset cache ``conductor-tui report`` keeps for this project's logs (shared, so a
    restart or a report run leaves the dashboard only the new lines to read);
    ``CONDUCTOR_TUI_NO_CACHE=1`` turns it off."""
    if os.environ.get("CONDUCTOR_TUI_NO_CACHE"):
        return None
    from conductor_tui.core.aggregate import cache_path_for

    return cache_path_for(store.root)


class SavingsScreen(CockpitScreen):
    MODE = "savings"
    HELP: ClassVar[str] = """
# Savings

From `routing-log.jsonl` and `evaluations.jsonl`, updating live as lines are appended:

* **Local tokens** spent by ensembles, the **Claude tokens saved** (estimated as local ÷
  the ratio: 1.2 until the log has enough Claude and local decisions of a task type to
  refine it), the share of subtasks handled locally, the **interim Claude debt**
  (delegable subtasks Claude did because no ensemble was ready) and the evaluations by
  score.
* Per task type, per ensemble and per day, with a chart of local tokens per day.
* The session wrap-up summary, as the conductor reports it.

The saving is shown as a **range** too: the ratio band comes from your own Claude-task
records per task type (the default ratio ± 25 % while there are too few).

`d` shows the **log lines** (file:line) behind the saving of the highlighted row (task
type, ensemble or day); `D` behind the net saving of the whole log.

Corrupt log lines are skipped and **counted** here, never hidden. `ctrl+r` re-reads
everything from the start.
"""
    BINDINGS = [
        Binding("ctrl+r", "reread", "Re-read logs", id="savings.reread"),
        Binding(
            "d",
            "explain('row')",
            "Lines behind",
            id="savings.explain_row",
            tooltip="The routing-log lines behind the highlighted row's saving",
        ),
        Binding(
            "D",
            "explain('net')",
            "Net lines",
            id="savings.explain_net",
            tooltip="The lines behind the net saving (savings minus Claude's overhead)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.aggregator: Any = None
        self.snapshot: Any = None
        self._timer: Timer | None = None
        self._suspended = False
        self.refreshes = 0
        self.wrapup: Any = None
        self._wrap_key: Any = None
        self._wrap_time = 0.0
        self.savings_range: Any = None
        self.last_explanation: Any = None
        # one feed at a time: a refresh asked for while another still reads (a visit during
        # the first read of a big log) waits for it, then reads only what is new — two threads
        # feeding the one aggregator counted the log twice
        self._feed_lock = threading.Lock()

    def compose_body(self) -> ComposeResult:
        with Vertical(id="sv-body"):
            yield KpiCards(id="sv-cards")
            with Horizontal(id="sv-middle"):
                with TabbedContent(id="sv-tables"):
                    for tab, label, table_id, columns, priority in TABLES:
                        with TabPane(label, id=tab):
                            yield FitTable(
                                id=table_id,
                                zebra_stripes=True,
                                cursor_type="row",
                                layout=priority_layout(columns, priority),
                                minimum=FILL_MINIMUM[columns[0][0]],
                                by_table_width=True,
                            )
                with Vertical(id="sv-side"):
                    chart = Static(id="sv-chart", classes="cp-panel")
                    chart.border_title = "Local tokens per day"
                    yield chart
                    wrap = WrapupPanel(
                        Text("Reading the logs…", style="dim"), id="sv-wrapup", classes="cp-panel"
                    )
                    wrap.border_title = "Session wrap-up"
                    yield wrap

    def on_mount(self) -> None:
        for _tab, _label, table_id, columns, _priority in TABLES:
            self.query_one(f"#{table_id}", FitTable).add_columns_fitted(list(columns))
        self.refresh_data()

    def on_screen_suspend(self) -> None:
        self._suspended = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        if self._suspended:
            self._suspended = False
            self.refresh_data()

    def action_reread(self) -> None:
        self.aggregator = None
        self.refresh_data()

    # ------------------------------------------------------------------ data

    @work(thread=True, exclusive=True, group="savings-feed", exit_on_error=False)
    def refresh_data(self) -> None:
        """Feed the new bytes (all of them the first time) and publish a snapshot."""
        with self._feed_lock:
            self._feed_and_publish()

    def _feed_and_publish(self) -> None:
        prefetch = None
        store = self.services.store
        agg = self.aggregator  # this read's (``action_reread`` may drop it meanwhile)
        first = agg is None
        new = 0
        try:
            if first:
                from conductor_tui.core.aggregate_scan import start_cold_scan

                prefetch = start_cold_scan(store.root)  # the log's workers run while the config loads
                if prefetch is not None:  # a big log read from its start: say so while it is
                    self.post_message(self.Reading(prefetch.end, prefetch.workers))  # not waiting
                from conductor_tui.core.aggregate import Aggregator

                try:
                    thresholds = store.load_config().routing_thresholds
                except Exception:
                    thresholds = None
                agg = self.aggregator = Aggregator(thresholds)
                cache = _cache_path(store)
                if cache is not None:
                    agg.load_cache(cache)  # `report`'s offset cache: read only new lines
            new = agg.feed_store(store, prefetch)
            snap = agg.snapshot() if (new or self.snapshot is None) else None
            error = None
        except Exception as exc:
            snap, error = None, str(exc)
        finally:
            if prefetch is not None:
                prefetch.cancel()  # not taken (an error before the read): stop its workers
        wrap = self._workflow_wrapup(snap) if snap is not None else None
        if snap is not None:
            self.savings_range = self._range()
        self.app.call_from_thread(self._apply, snap, error, wrap)
        if first and new:  # saved once the figures are shown
            cache = _cache_path(store)
            if cache is not None:
                with contextlib.suppress(OSError):
                    agg.save_cache(cache)

    class Reading(Message):
        """The first read of a big routing log started (``size`` bytes, ``workers`` processes)."""

        def __init__(self, size: int, workers: int) -> None:
            super().__init__()
            self.size, self.workers = size, workers

    def on_savings_screen_reading(self, message: Reading) -> None:
        size, workers = message.size, message.workers
        if self.refreshes == 0:  # nothing shown yet (the read's figures, or its error)
            self.query_one("#sv-wrapup", Static).update(
                Text(
                    f"Reading routing-log.jsonl ({size / 1e6:,.0f} MB) on {workers} cores… "
                    "Later visits and restarts read only the lines added since.",
                    style="dim",
                )
            )

    def _range(self) -> Any:
        """The saving's range (core.savings_trace); skipped for very big logs while live."""
        store = self.services.store
        try:
            size = store.routing_log_path.stat().st_size if store.routing_log_path.exists() else 0
            if size > 20_000_000 and self.savings_range is not None:
                return self.savings_range
            from conductor_tui.core.savings_trace import trace_savings

            return trace_savings(store).savings_range()
        except Exception:
            return None

    def action_explain(self, which: str) -> None:
        figure = "net"
        if which == "row":
            tabs = self.query_one("#sv-tables", TabbedContent)
            table_id, scope = {
                "sv-tab-tt": ("#sv-by-tt", "task-type"),
                "sv-tab-ens": ("#sv-by-ens", "ensemble"),
                "sv-tab-day": ("#sv-by-day", "day"),
            }.get(tabs.active or "sv-tab-tt", ("#sv-by-tt", "task-type"))
            table = self.query_one(table_id, DataTable)
            figure = "saved"
            if table.row_count:
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                figure = f"saved:{scope}={key}"
        self._explain(figure)

    @work(thread=True, exclusive=True, group="savings-explain", exit_on_error=False)
    def _explain(self, figure: str) -> None:
        from conductor_tui.core.savings_trace import trace_savings

        try:
            exp = trace_savings(self.services.store).explain(figure)
        except Exception as exc:
            self.app.call_from_thread(
                self.notify, f"Cannot explain {figure}: {exc}", severity="error", markup=False
            )
            return
        self.last_explanation = exp
        self.app.call_from_thread(self._show_explanation, exp)

    def _show_explanation(self, exp: Any) -> None:
        from conductor_tui.ui.widgets.explain import ExplainDialog

        self.app.push_screen(ExplainDialog(exp, str(self.services.store.root)))

    def _workflow_wrapup(self, snap: Any) -> Any:
        """The latest workflow plan's wrap-up — recomputed when the plans change, and on new
        routing lines at most every few seconds for big logs (it scans the log)."""
        import time

        store = self.services.store
        try:
            plans = store.plans_path.stat()
            log_size = store.routing_log_path.stat().st_size if store.routing_log_path.exists() else 0
        except OSError:
            return None
        key = (plans.st_mtime_ns, plans.st_size)
        now = time.monotonic()
        stale = key != self._wrap_key or log_size < 20_000_000 or now - self._wrap_time > 5.0
        if not stale:
            return self.wrapup
        try:
            from conductor_tui.core.review import workflow_wrapup

            uses = {name: row.get("local_decisions", 0) for name, row in snap.by_ensemble.items()}
            wrap = workflow_wrapup(store, uses=uses, ensembles=snap.by_ensemble)
        except Exception:
            wrap = None
        self._wrap_key, self._wrap_time = key, now
        return wrap

    def _apply(self, snap: Any, error: str | None, wrap: Any = None) -> None:
        self.refreshes += 1
        if snap is not None:
            self.wrapup = wrap
        if error:
            self.query_one("#sv-wrapup", Static).update(
                Text(f"Could not read the logs: {error}", style="red")
            )
        if snap is not None:
            if self.snapshot is None:
                from conductor_tui.ui import warm

                warm.freeze_loaded()
            self.snapshot = snap
            self._render_snapshot(snap)
        if self.services.poll_interval > 0 and not self._suspended and self.is_attached:
            self._timer = self.set_timer(LIVE_INTERVAL, self.refresh_data)

    def _card_fit(self) -> tuple[bool, int]:
        """Whether the cards take their short labels (below 100 columns), and the characters
        a card's value has (six cards side by side, each with a border and, when not
        narrow, a cell of padding each side)."""
        width = self.app.size.width
        narrow = width < 100
        return narrow, max(4, width // len(CARDS) - (2 if narrow else 4))

    def on_resize(self) -> None:
        """Card labels and figures depend on the width."""
        fit = self._card_fit()
        if self.snapshot is not None and fit != getattr(self, "_cards_fit", None):
            self._render_snapshot(self.snapshot)

    def _ratio_label(self, snap: Any) -> str:
        ratios = {row.get("token_ratio") for row in snap.by_task_type.values() if row.get("token_ratio")}
        default = getattr(getattr(self.aggregator, "thresholds", None), "local_to_claude_token_ratio", 1.2)
        if not ratios or ratios == {default}:
            return f"estimated as local ÷ {default:g}"
        return (
            "estimated as local ÷ ratio per task type (" + ", ".join(f"{r:g}" for r in sorted(ratios)) + ")"
        )

    def _render_snapshot(self, snap: Any) -> None:
        narrow, room = self._cards_fit = self._card_fit()  # below 100 columns: labels that fit a card
        self.query_one("#sv-cards", KpiCards).show(snap, self.savings_range, narrow=narrow, room=room)
        fill_task_types(self.query_one("#sv-by-tt", DataTable), snap)
        fill_ensembles(self.query_one("#sv-by-ens", DataTable), snap)
        # the day table (a row per day: hundreds over a long history, on a tab not shown
        # first) is filled once the rest is painted
        self.call_after_refresh(fill_days, self.query_one("#sv-by-day", DataTable), snap)
        self.query_one("#sv-chart", Static).update(day_chart(snap))
        self.query_one("#sv-wrapup", WrapupPanel).show(self.wrapup, snap, self._ratio_label(snap))
