"""Savings: what local models did, from the logs, live.

The numbers come from :class:`conductor_tui.core.aggregate.Aggregator`, fed from byte
offsets in a thread worker: the first read parses the whole log off the UI thread, each
refresh afterwards reads only the lines appended since (every 0.5 s while the screen is
shown; paused while hidden)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.charts import columns

STYLES = Path(__file__).resolve().parent.parent / "styles"
LIVE_INTERVAL = 0.5  # seconds between tail reads (appended lines show within a second)


def _cache_path(store: Any) -> Path | None:
    """The offset cache ``conductor-tui report`` keeps for this project's logs (shared, so a
    restart or a report run leaves the dashboard only the new lines to read);
    ``CONDUCTOR_TUI_NO_CACHE=1`` turns it off."""
    if os.environ.get("CONDUCTOR_TUI_NO_CACHE"):
        return None
    from conductor_tui.core.aggregate import cache_path_for

    return cache_path_for(store.root)


def _k(n: int | float) -> str:
    return f"{int(n):,}"


def _short(n: int | float) -> str:
    n = int(n)
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if abs(n) >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"


def wrapup_text(snap: Any, ratio_label: str) -> Text:
    """The spec's session wrap-up summary (END-TO-END FLOW)."""
    d, n = snap.local_decisions, snap.routing_decisions
    text = Text()
    text.append(f"Workflow complete. {d}/{n} subtasks handled locally.\n", style="bold")
    text.append(
        f"Local: {_k(snap.total_tokens_local)} tokens | Claude savings: ~{_k(snap.estimated_claude_tokens_saved)} tokens"
    )
    text.append(f"  ({ratio_label})\n", style="dim")
    text.append("Lifecycle progression:\n", style="bold")
    for tt, row in snap.by_task_type.items():
        phase = row.get("phase")
        if not phase:
            continue
        nxt = row.get("next_step") or ""
        text.append(f"  {tt}: ")
        text.append(str(phase).title(), style="bold")
        text.append(f"{' — ' + nxt if nxt else ''}\n", style="dim")
    text.append(
        f"Interim Claude debt: {snap.interim_claude_debt} delegable tasks handled by Claude",
        style="yellow" if snap.interim_claude_debt else "",
    )
    return text


def workflow_text(wrap: Any, snap: Any) -> Text:
    """The wrap-up of the latest workflow plan, then one line for the whole log."""
    text = Text()
    text.append(wrap.meta_task + "\n", style="italic dim")
    for i, line in enumerate(wrap.lines()):
        style = (
            "bold"
            if i == 0 or line == "Lifecycle progression:"
            else "yellow"
            if line.startswith("Interim") and wrap.debt
            else ""
        )
        text.append(line + "\n", style=style)
    text.append(
        f"All sessions: {snap.local_decisions}/{snap.routing_decisions} local · "
        f"~{_k(snap.estimated_claude_tokens_saved)} Claude tokens saved (local ÷ {wrap.ratio:g})",
        style="dim",
    )
    return text


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

    def compose_body(self) -> ComposeResult:
        with Vertical(id="sv-body"):
            with Horizontal(id="sv-cards"):
                for cid in ("local", "saved", "share", "debt", "evals", "skipped"):
                    yield Static(id=f"sv-{cid}", classes="sv-card")
            with Horizontal(id="sv-middle"):
                with TabbedContent(id="sv-tables"):
                    with TabPane("By task type", id="sv-tab-tt"):
                        yield DataTable(id="sv-by-tt", zebra_stripes=True, cursor_type="row")
                    with TabPane("By ensemble", id="sv-tab-ens"):
                        yield DataTable(id="sv-by-ens", zebra_stripes=True, cursor_type="row")
                    with TabPane("By day", id="sv-tab-day"):
                        yield DataTable(id="sv-by-day", zebra_stripes=True, cursor_type="row")
                with Vertical(id="sv-side"):
                    chart = Static(id="sv-chart", classes="cp-panel")
                    chart.border_title = "Local tokens per day"
                    yield chart
                    wrap = Static(Text("Reading the logs…", style="dim"), id="sv-wrapup", classes="cp-panel")
                    wrap.border_title = "Session wrap-up"
                    yield wrap

    def on_mount(self) -> None:
        columns = {
            "#sv-by-tt": (("task type", 22), ("phase", 9), ("dec", 4), ("local", 5), ("tokens", 7), ("saved~", 7),
                          ("debt", 4), ("g/a/p", 7), ("ratio", 5)),
            "#sv-by-ens": (("ensemble", 22), ("phase", 9), ("runs", 4), ("tokens", 7), ("saved~", 7), ("g/a/p", 7),
                           ("promotion", 24)),
            "#sv-by-day": (("day", 10), ("dec", 4), ("local", 5), ("tokens", 7), ("Claude", 7), ("saved~", 7),
                           ("debt", 4)),
        }  # fmt: skip
        for table_id, cols in columns.items():
            table = self.query_one(table_id, DataTable)
            for label, width in cols:
                table.add_column(label, width=width, key=label)
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
        try:
            store = self.services.store
            first = self.aggregator is None
            if first:
                from conductor_tui.core.aggregate import Aggregator

                try:
                    thresholds = store.load_config().routing_thresholds
                except Exception:
                    thresholds = None
                self.aggregator = Aggregator(thresholds)
                cache = _cache_path(store)
                if cache is not None:
                    self.aggregator.load_cache(cache)  # `report`'s offset cache: read only new lines
            new = self.aggregator.feed_store(store)
            if first and new:
                cache = _cache_path(store)
                if cache is not None:
                    with contextlib.suppress(OSError):
                        self.aggregator.save_cache(cache)
            snap = self.aggregator.snapshot() if (new or self.snapshot is None) else None
            error = None
        except Exception as exc:
            snap, error = None, str(exc)
        wrap = self._workflow_wrapup(snap) if snap is not None else None
        if snap is not None:
            self.savings_range = self._range()
        self.app.call_from_thread(self._apply, snap, error, wrap)

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
            self.snapshot = snap
            self._render_snapshot(snap)
        if self.services.poll_interval > 0 and not self._suspended and self.is_attached:
            self._timer = self.set_timer(LIVE_INTERVAL, self.refresh_data)

    def on_resize(self) -> None:
        """Card labels depend on the width (short ones below 100 columns)."""
        narrow = self.app.size.width < 100
        if self.snapshot is not None and narrow != getattr(self, "_narrow_cards", None):
            self._narrow_cards = narrow
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
        def card(cid: str, value: str, label: str, style: str = "bold") -> None:
            t = Text(justify="center")
            t.append(value, style=style)
            t.append("\n" + label, style="dim")
            self.query_one(f"#sv-{cid}", Static).update(t)

        n = snap.routing_decisions
        narrow = self.app.size.width < 100  # cards ~11 cells wide: labels that fit one line
        card("local", _k(snap.total_tokens_local), "local tok." if narrow else "local tokens")
        rng = self.savings_range
        saved_label = "saved" if narrow else "Claude saved"
        if (
            not narrow
            and rng
            and rng.get("saved") == snap.estimated_claude_tokens_saved
            and rng["saved_range"][0] < rng["saved_range"][1]
        ):
            lo, hi = rng["saved_range"]
            saved_label = f"saved ({_short(lo)}–{_short(hi)})"
        card("saved", "~" + _k(snap.estimated_claude_tokens_saved), saved_label, "bold green")
        card(
            "share",
            f"{snap.local_share_pct:.0f}%",
            f"{snap.local_decisions}/{n}" if narrow else f"local ({snap.local_decisions}/{n})",
        )
        card(
            "debt",
            str(snap.interim_claude_debt),
            "debt" if narrow else "Claude debt",
            "bold yellow" if snap.interim_claude_debt else "bold",
        )
        ev = snap.evaluations or {}
        evt = Text(justify="center")
        evt.append(str(ev.get("good", 0)), style="bold green")
        evt.append(" / ")
        evt.append(str(ev.get("acceptable", 0)), style="bold yellow")
        evt.append(" / ")
        evt.append(str(ev.get("poor", 0)), style="bold red")
        evt.append("\ng/a/p" if narrow else "\ngood/acc/poor", style="dim")
        self.query_one("#sv-evals", Static).update(evt)
        card(
            "skipped", str(snap.skipped_lines), "corrupt" if narrow else "corrupt lines", "bold red" if snap.skipped_lines else "bold"
        )

        tt = self.query_one("#sv-by-tt", DataTable)
        tt.clear()
        for name, row in snap.by_task_type.items():
            e = row.get("evaluations") or {}
            tt.add_row(
                Text(name),
                Text(str(row.get("phase") or "—").title(), style="dim" if not row.get("phase") else ""),
                Text(str(row["decisions"]), justify="right"),
                Text(str(row["local_decisions"]), justify="right"),
                Text(_k(row["total_tokens_local"]), justify="right"),
                Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
                Text(str(row["interim_claude"] or ""), justify="right", style="yellow"),
                Text(f"{e.get('good', 0)}/{e.get('acceptable', 0)}/{e.get('poor', 0)}"),
                Text(f"{row.get('token_ratio', 0):g}", justify="right", style="dim"),
                key=name,
            )
        ens = self.query_one("#sv-by-ens", DataTable)
        ens.clear()
        for name, row in snap.by_ensemble.items():
            e = row.get("evaluations") or {}
            promo = row.get("promotion") or {}
            ens.add_row(
                Text(name),
                Text(str(row.get("phase") or "").title()),
                Text(str(row["local_decisions"]), justify="right"),
                Text(_k(row["total_tokens_local"]), justify="right"),
                Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
                Text(f"{e.get('good', 0)}/{e.get('acceptable', 0)}/{e.get('poor', 0)}"),
                Text(
                    "ready: " + promo.get("level", "")
                    if promo.get("global_ready")
                    else promo.get("next", ""),
                    style="green" if promo.get("global_ready") else "dim",
                ),
                key=name,
            )
        day = self.query_one("#sv-by-day", DataTable)
        day.clear()
        for name, row in snap.by_day.items():
            day.add_row(
                Text(name),
                Text(str(row["decisions"]), justify="right"),
                Text(str(row["local_decisions"]), justify="right"),
                Text(_k(row["total_tokens_local"]), justify="right"),
                Text(_k(row["claude_tokens"]), justify="right"),
                Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
                Text(str(row["interim_claude"] or ""), justify="right", style="yellow"),
                key=name,
            )
        days = list(snap.by_day.items())[-12:]
        chart = self.query_one("#sv-chart", Static)
        if days:
            values = [row["total_tokens_local"] for _, row in days]
            labels = [d[-2:] for d, _ in days]
            body = columns(values, labels, height=2, col_width=4, style="green")
            body.append(f"   max {_k(max(values))} / day", style="dim")
            chart.update(body)
        else:
            chart.update(Text("No routing decisions yet.", style="dim"))
        wrap_box = self.query_one("#sv-wrapup", Static)
        if self.wrapup is not None:
            wrap_box.border_title = "Session wrap-up — latest workflow"
            wrap_box.update(workflow_text(self.wrapup, snap))
        elif n:
            wrap_box.border_title = "Wrap-up — all logged decisions"
            wrap_box.update(wrapup_text(snap, self._ratio_label(snap)))
        else:
            self.query_one("#sv-wrapup", Static).update(
                Text(
                    "No routing decisions in this project yet: the dashboard fills in as the conductor logs them.",
                    style="dim",
                )
            )
