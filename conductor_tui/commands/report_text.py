"""``conductor-tui report`` for people: the snapshot as rich tables — the summary, per task
type, per ensemble with next steps, the last active days — printed through a console that
never interprets markup in names or model output."""

from __future__ import annotations

from typing import Any

from conductor_tui.core.aggregate import Snapshot
from conductor_tui.core.records import RoutingConfig
from conductor_tui.core.store import ProjectStore

# a table column: (header, add_column keywords, cell text from (name, row))
Column = tuple[str, dict[str, Any], Any]


def fmt(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def short(n: int) -> str:
    """Compact for table cells: ``999``, ``1.2k``, ``181.8M``, ``2.4G``."""
    if abs(n) < 1_000:
        return str(n)
    for div, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)  # pragma: no cover


def evals_cell(e: dict[str, Any], fmt: Any = fmt) -> str:
    """``good/acceptable/poor`` counts, e.g. ``12/3/1``."""
    return f"{fmt(e.get('good', 0))}/{fmt(e.get('acceptable', 0))}/{fmt(e.get('poor', 0))}"


def print_human(
    snap: Snapshot,
    store: ProjectStore,
    cfg: RoutingConfig,
    warnings: list[str],
    *,
    global_tier: bool,
    savings_range: dict[str, Any] | None = None,
) -> None:
    """The whole report on the terminal."""
    from rich.text import Text

    from conductor_tui.commands.safe_console import SafeConsole

    console = SafeConsole()
    title = "global tier" if global_tier else str(store.project)
    console.print(Text.assemble(("conductor-tui report", "bold"), " — ", title))
    console.print(Text(f"{store.root}  (routing config v{cfg.version})", style="dim"))
    if snap.routing_decisions == 0 and not snap.evaluations.get("total"):
        console.print(
            Text(
                "No routing decisions or evaluations logged yet. They appear here once the "
                "conductor (or the cockpit) routes work.",
            )
        )
    console.print(_summary(snap, savings_range))
    if snap.by_task_type:
        console.print(_by_task_type(snap, wide=console.width >= 100))
    if snap.by_ensemble:
        console.print(_by_ensemble(snap, wide=console.width >= 100))
        _next_steps(console, snap)
        console.print()
    if snap.by_day:
        console.print(_last_days(snap))
    for w in warnings:
        console.print(Text("warning: " + w, style="yellow"))
    console.print(
        Text(
            "Where a figure comes from: conductor-tui report --explain saved|net|overhead|debt …", style="dim"
        )
    )


def _summary(snap: Snapshot, savings_range: dict[str, Any] | None) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    summary = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    summary.add_column("what", style="bold")
    summary.add_column("value", justify="right")
    overhead = (
        f"  minus Claude overhead (planning {fmt(snap.claude_overhead_planning_tokens)}"
        f", judging {fmt(snap.claude_overhead_judge_tokens)})"
    )
    debt = fmt(snap.interim_claude_debt) + (
        f" ({fmt(snap.interim_claude_debt_from_profiles)} from task profiles)"
        if snap.interim_claude_debt_from_profiles
        else ""
    )
    rows = [
        ("Routing decisions", fmt(snap.routing_decisions)),
        ("  handled locally", fmt(snap.local_decisions)),
        ("  handled by Claude", fmt(snap.claude_decisions)),
        ("  of which ensemble-prepared", fmt(snap.prepared_claude_decisions)),
        ("Local share of subtasks", f"{snap.local_share_pct:.1f}%"),
        ("Local tokens", fmt(snap.total_tokens_local)),
        ("Estimated Claude tokens saved", "~" + fmt(snap.estimated_claude_tokens_saved)),
        (overhead, "-" + fmt(snap.claude_overhead_tokens)),
        ("Net Claude tokens saved", "~" + fmt(snap.net_claude_tokens_saved)),
    ]
    if savings_range:
        low, high = savings_range["net_range"]
        rows.append(("  range (ratio band from your Claude-task records)", f"{fmt(low)}–{fmt(high)}"))
    rows += [
        ("Claude tokens used", fmt(snap.claude_tokens)),
        ("Interim Claude debt (delegable work Claude did)", debt),
        ("Evaluations good/acceptable/poor (g/a/p)", evals_cell(snap.evaluations)),
        ("Skipped (unreadable) lines", fmt(snap.skipped_lines)),
    ]
    for what, value in rows:
        summary.add_row(Text(what), Text(value))
    return summary


def _table(title: str, cols: list[Column], rows: dict[str, Any]) -> Any:
    """A titled table with one row per ``rows`` item, cells as plain text."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, collapse_padding=True)
    for col, kw, _get in cols:
        t.add_column(col, **{"justify": "right", "no_wrap": True, **kw})
    for name, row in rows.items():
        t.add_row(*(Text(get(name, row)) for _c, _kw, get in cols))
    return t


def _by_task_type(snap: Snapshot, *, wide: bool) -> Any:
    cols: list[Column] = [
        ("task type", {"justify": "left", "overflow": "ellipsis", "ratio": 1}, lambda n, r: n),
        ("runs", {}, lambda n, r: short(r["decisions"])),
        ("local", {}, lambda n, r: short(r["local_decisions"])),
        ("Claude", {}, lambda n, r: short(r["claude_decisions"])),
        ("debt", {}, lambda n, r: short(r["interim_claude"])),
        ("saved ~tok", {}, lambda n, r: short(r["estimated_claude_tokens_saved"])),
        ("g/a/p", {}, lambda n, r: evals_cell(r["evaluations"], short)),
        ("phase", {"justify": "left"}, lambda n, r: r["phase"] or "claude-only"),
    ]
    if not wide:  # narrow terminals: drop the derivable columns
        cols = [c for c in cols if c[0] not in ("Claude", "g/a/p")]
    return _table("By task type", cols, snap.by_task_type)


def _by_ensemble(snap: Snapshot, *, wide: bool) -> Any:
    cols: list[Column] = [
        ("ensemble", {"justify": "left", "overflow": "ellipsis", "ratio": 1}, lambda n, r: n),
        ("runs", {}, lambda n, r: short(r["local_decisions"])),
        ("local tok", {}, lambda n, r: short(r["total_tokens_local"])),
        ("saved ~tok", {}, lambda n, r: short(r["estimated_claude_tokens_saved"])),
        ("g/a/p", {}, lambda n, r: evals_cell(r["evaluations"], short)),
        ("phase", {"justify": "left"}, lambda n, r: r["phase"]),
        (
            "promotion",
            {"justify": "left"},
            lambda n, r: r["promotion"]["level"] + ("  LoRA candidate" if r["lora_candidate"] else ""),
        ),
    ]
    if not wide:
        cols = [c for c in cols if c[0] != "local tok"]
    return _table("By ensemble", cols, snap.by_ensemble)


def _next_steps(console: Any, snap: Snapshot) -> None:
    """Each ensemble's next step (and its promotion's), then task types waiting in Design."""
    from rich.text import Text

    console.print(Text("Next steps", style="bold"))
    for name, row in snap.by_ensemble.items():
        line = Text("  • ")
        line.append(name, style="bold")
        line.append(f" ({row['phase']}): {row['next_step']}")
        if row["promotion"]["next"] != row["next_step"]:
            line.append(f"; promotion: {row['promotion']['next']}")
        console.print(line)
    for name, row in snap.by_task_type.items():
        if row["phase"] == "design":
            line = Text("  • ")
            line.append(name, style="bold")
            line.append(f" (design): {row['next_step']}")
            console.print(line)


def _last_days(snap: Snapshot) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(
        title="Last active days",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("day", "decisions", "local", "local tokens", "saved ~tokens"):
        t.add_column(col, justify="left" if col == "day" else "right")
    for day, row in list(snap.by_day.items())[-7:]:
        t.add_row(
            Text(day),
            Text(short(row["decisions"])),
            Text(short(row["local_decisions"])),
            Text(short(row["total_tokens_local"])),
            Text(short(row["estimated_claude_tokens_saved"])),
        )
    return t
