"""The Savings screen's panels: the KPI cards, the per task type / ensemble / day tables,
the chart of local tokens per day and the session wrap-up (see the glossary: token savings,
interim Claude / debt).  Each fills itself from an aggregate snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from conductor_tui.ui.widgets.charts import columns
from conductor_tui.ui.widgets.table_sync import show_rows

CARDS = ("local", "saved", "share", "debt", "evals", "skipped")
# each table's columns in display order, and the order in which they give way when the table is
# narrow (the first column of the table takes the rest, up to its width)
TASK_TYPE_COLUMNS = (("task type", 22), ("phase", 9), ("dec", 4), ("local", 5), ("tokens", 7),
                     ("saved~", 7), ("debt", 4), ("g/a/p", 7), ("ratio", 5))  # fmt: skip
TASK_TYPE_PRIORITY = ("saved~", "debt", "task type", "phase", "tokens", "local", "dec", "g/a/p", "ratio")
ENSEMBLE_COLUMNS = (("ensemble", 22), ("phase", 9), ("runs", 4), ("tokens", 7), ("saved~", 7),
                    ("g/a/p", 7), ("promotion", 24))  # fmt: skip
ENSEMBLE_PRIORITY = ("saved~", "ensemble", "phase", "runs", "tokens", "g/a/p", "promotion")
DAY_COLUMNS = (("day", 10), ("dec", 4), ("local", 5), ("tokens", 7), ("Claude", 7), ("saved~", 7),
               ("debt", 4))  # fmt: skip
DAY_PRIORITY = ("saved~", "debt", "tokens", "Claude", "local", "dec")
FILL_MINIMUM = {"task type": 12, "ensemble": 12, "day": 10}


def priority_layout(
    columns: tuple[tuple[str, int], ...], priority: tuple[str, ...]
) -> Callable[[int], tuple[dict[str, int], str]]:
    """A table layout by the table's own width: the first column fills (at least its minimum,
    at most its width); the others show in ``priority`` order while they fit, and from the
    first that does not, the rest collapse (``d`` explains a row's figures from the log)."""
    full = dict(columns)
    fill = columns[0][0]

    def layout(width: int) -> tuple[dict[str, int], str]:
        room = width - 1 - (FILL_MINIMUM[fill] + 2)  # every shown column has a cell of padding each side
        widths = dict.fromkeys(full, 0)
        widths[fill] = full[fill]
        for key in priority:
            need = full[key] - FILL_MINIMUM[fill] if key == fill else full[key] + 2
            if need > room:
                break
            room -= need
            if key != fill:
                widths[key] = full[key]
        return widths, fill

    return layout


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
    """The session wrap-up summary for every logged decision (see the glossary: token savings)."""
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


def _card(value: str, label: str, style: str = "bold") -> Text:
    text = Text(justify="center")
    text.append(value, style=style)
    text.append("\n" + label, style="dim")
    return text


def _gap(e: dict) -> Text:
    return Text(f"{e.get('good', 0)}/{e.get('acceptable', 0)}/{e.get('poor', 0)}")


class KpiCards(Horizontal):
    """Six cards: local tokens, Claude tokens saved (with its range), the local share, the
    interim Claude debt, evaluations by score and corrupt lines skipped.  Below 100 columns
    the labels are the short ones that fit a card."""

    def compose(self) -> ComposeResult:
        for cid in CARDS:
            yield Static(id=f"sv-{cid}", classes="sv-card")

    def show(self, snap: Any, rng: Any, *, narrow: bool) -> None:
        n = snap.routing_decisions
        cards = {
            "local": _card(_k(snap.total_tokens_local), "local tok." if narrow else "local tokens"),
            "saved": _card(
                "~" + _k(snap.estimated_claude_tokens_saved),
                self._saved_label(snap, rng, narrow),
                "bold green",
            ),
            "share": _card(
                f"{snap.local_share_pct:.0f}%",
                f"{snap.local_decisions}/{n}" if narrow else f"local ({snap.local_decisions}/{n})",
            ),
            "debt": _card(
                str(snap.interim_claude_debt),
                "debt" if narrow else "Claude debt",
                "bold yellow" if snap.interim_claude_debt else "bold",
            ),
            "evals": self._evals(snap.evaluations or {}, narrow),
            "skipped": _card(
                str(snap.skipped_lines),
                "corrupt" if narrow else "corrupt lines",
                "bold red" if snap.skipped_lines else "bold",
            ),
        }
        for cid, text in cards.items():
            self.query_one(f"#sv-{cid}", Static).update(text)

    @staticmethod
    def _saved_label(snap: Any, rng: Any, narrow: bool) -> str:
        if (
            not narrow
            and rng
            and rng.get("saved") == snap.estimated_claude_tokens_saved
            and rng["saved_range"][0] < rng["saved_range"][1]
        ):
            lo, hi = rng["saved_range"]
            return f"saved ({_short(lo)}–{_short(hi)})"
        return "saved" if narrow else "Claude saved"

    @staticmethod
    def _evals(ev: dict, narrow: bool) -> Text:
        evt = Text(justify="center")
        evt.append(str(ev.get("good", 0)), style="bold green")
        evt.append(" / ")
        evt.append(str(ev.get("acceptable", 0)), style="bold yellow")
        evt.append(" / ")
        evt.append(str(ev.get("poor", 0)), style="bold red")
        evt.append("\ng/a/p" if narrow else "\ngood/acc/poor", style="dim")
        return evt


def _task_type_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    return (
        Text(name),
        Text(str(row.get("phase") or "—").title(), style="dim" if not row.get("phase") else ""),
        Text(str(row["decisions"]), justify="right"),
        Text(str(row["local_decisions"]), justify="right"),
        Text(_k(row["total_tokens_local"]), justify="right"),
        Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
        Text(str(row["interim_claude"] or ""), justify="right", style="yellow"),
        _gap(row.get("evaluations") or {}),
        Text(f"{row.get('token_ratio', 0):g}", justify="right", style="dim"),
    )


def _ensemble_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    promo = row.get("promotion") or {}
    ready = promo.get("global_ready")
    return (
        Text(name),
        Text(str(row.get("phase") or "").title()),
        Text(str(row["local_decisions"]), justify="right"),
        Text(_k(row["total_tokens_local"]), justify="right"),
        Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
        _gap(row.get("evaluations") or {}),
        Text(
            "ready: " + promo.get("level", "") if ready else promo.get("next", ""),
            style="green" if ready else "dim",
        ),
    )


def _day_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    return (
        Text(name),
        Text(str(row["decisions"]), justify="right"),
        Text(str(row["local_decisions"]), justify="right"),
        Text(_k(row["total_tokens_local"]), justify="right"),
        Text(_k(row["claude_tokens"]), justify="right"),
        Text(_k(row["estimated_claude_tokens_saved"]), justify="right", style="green"),
        Text(str(row["interim_claude"] or ""), justify="right", style="yellow"),
    )


# The tables keep what they show: after a few new lines only the rows whose figures changed
# are drawn again (a long history has hundreds of days).
def fill_task_types(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_task_type.items()], _task_type_cells)


def fill_ensembles(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_ensemble.items()], _ensemble_cells)


def fill_days(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_day.items()], _day_cells)


def day_chart(snap: Any) -> Text:
    """Local tokens for the last 12 days, as columns."""
    days = list(snap.by_day.items())[-12:]
    if not days:
        return Text("No routing decisions yet.", style="dim")
    values = [row["total_tokens_local"] for _, row in days]
    labels = [d[-2:] for d, _ in days]
    body = columns(values, labels, height=2, col_width=4, style="green")
    body.append(f"   max {_k(max(values))} / day", style="dim")
    return body


class WrapupPanel(Static):
    """The session wrap-up: the latest workflow's, else one for every logged decision."""

    def show(self, wrap: Any, snap: Any, ratio_label: str) -> None:
        if wrap is not None:
            self.border_title = "Session wrap-up — latest workflow"
            self.update(workflow_text(wrap, snap))
        elif snap.routing_decisions:
            self.border_title = "Wrap-up — all logged decisions"
            self.update(wrapup_text(snap, ratio_label))
        else:
            self.update(
                Text(
                    "No routing decisions in this project yet: the dashboard fills in as the conductor logs them.",
                    style="dim",
                )
            )
