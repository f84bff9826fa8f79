"""``conductor-tui report [--project DIR] [--json] [--global]``: what local models did for you.

Reads ``routing-log.jsonl`` and ``evaluations.jsonl`` (tolerantly: corrupt lines are
skipped and counted) and prints decisions total / local / Claude, local tokens, the
estimated Claude tokens saved, Claude's own overhead (planning tokens logged as
``claude-overhead`` events + the judge's ``judge_tokens`` on evaluations) and the net
saving after it, interim Claude debt (from the log; a task profile's
``interim_claude_count`` adds only what the log lacks — ``max(logged, profile)`` per task
type, see :mod:`~conductor_tui.core.aggregate`), the local share, and per task type
and per ensemble: decisions, evaluations by score, lifecycle phase and promotion
readiness. ``--json`` prints one JSON object (the :class:`~conductor_tui.core.aggregate.Snapshot`
plus ``project``, ``evaluations_dir``, ``config_version`` and ``warnings``).

The totals are cached by file offset under ``$XDG_CACHE_HOME/conductor-tui/aggregates/``
(never inside ``.llm-orc/``), so a second run reads only the lines appended since; a
rewritten or replaced log invalidates it. ``CONDUCTOR_TUI_NO_CACHE=1`` turns it off.

Exit codes: 0 — report printed (also when there is nothing to report yet); 1 — a file
could not be read (its path and the reason are printed on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from conductor_tui.core import locations
from conductor_tui.core.aggregate import Aggregator, Snapshot, cache_path_for
from conductor_tui.core.records import RoutingConfig
from conductor_tui.core.store import ProjectStore, StoreError


def build_report(store: ProjectStore) -> tuple[Snapshot, RoutingConfig, list[str]]:
    """Aggregate ``store``'s logs. Raises ``OSError`` / :class:`StoreError` when a log
    cannot be read; a malformed routing config only adds a warning (defaults apply)."""
    warnings: list[str] = []
    try:
        cfg = store.load_config()
    except StoreError as exc:
        warnings.append(f"{exc} — using default thresholds")
        cfg = RoutingConfig()
    agg = Aggregator(cfg.routing_thresholds)
    cache = None if os.environ.get("CONDUCTOR_TUI_NO_CACHE") else cache_path_for(store.root)
    if cache is not None:
        agg.load_cache(cache)  # a warm start reads only the lines appended since
    for path, kind in ((store.routing_log_path, "routing"), (store.evaluations_path, "evaluations")):
        try:
            agg.feed_file(path, kind)
        except OSError as exc:
            raise StoreError(path, exc.strerror or str(exc)) from exc
    try:
        agg.feed_task_profiles(store)
    except StoreError as exc:
        warnings.append(f"{exc} — interim Claude debt from the routing log only")
    except OSError as exc:
        warnings.append(
            f"{store.profiles_path}: {exc.strerror or exc} — interim Claude debt from the routing log only"
        )
    snap = agg.snapshot()
    if cache is not None:
        with contextlib.suppress(OSError):
            agg.save_cache(cache)
    for name, lines in snap.skipped_line_numbers.items():
        shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
        warnings.append(f"{name}: skipped {len(lines)} unreadable line(s): {shown}")
    return snap, cfg, warnings


def _empty_message(where: Path, *, global_tier: bool) -> str:
    if global_tier:
        return (
            f"No global conductor logs yet ({where} does not exist).\n"
            "They appear once a session records routing decisions at the global tier."
        )
    return (
        f"No .llm-orc/ folder in {where} — nothing to report yet.\n"
        "conductor-tui reports on the logs the conductor writes under .llm-orc/evaluations/\n"
        "(routing-log.jsonl, evaluations.jsonl). Run `conductor-tui starter-kit` or open the\n"
        "cockpit in this project to start, or pass --project DIR to point at another project."
    )


def main(args: argparse.Namespace) -> int:
    as_json = bool(getattr(args, "json", False))
    global_tier = bool(getattr(args, "global_tier", False))
    if global_tier:
        store = ProjectStore(None, global_tier=True)
        project: Path | None = None
        missing = not store.root.is_dir()
        where = store.root
    else:
        project = Path(args.project).expanduser().resolve() if args.project else locations.find_project()
        store = ProjectStore(project)
        missing = not locations.project_llm_orc_dir(project).is_dir()
        where = project
    if missing:
        message = _empty_message(where, global_tier=global_tier)
        if as_json:
            out = Snapshot().to_dict()
            out.update(
                project=str(project) if project else None,
                evaluations_dir=str(store.root),
                config_version=None,
                warnings=[],
                message=message,
            )
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(message)
        return 0
    explain = getattr(args, "explain", None)
    if explain:
        return _explain(store, explain, as_json=as_json)
    try:
        snap, cfg, warnings = build_report(store)
    except StoreError as exc:
        print(f"conductor-tui report: cannot read {exc.path}: {exc.reason}", file=sys.stderr)
        return 1
    agreement = _agreement(store, cfg)
    savings_range = _savings_range(store)
    if as_json:
        out = snap.to_dict()
        out.update(
            project=str(project) if project else None,
            evaluations_dir=str(store.root),
            config_version=cfg.version,
            warnings=warnings,
            judge_agreement=agreement.to_dict() if agreement is not None else None,
            savings_range=savings_range,
        )
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    _print_human(snap, store, cfg, warnings, global_tier=global_tier, savings_range=savings_range)
    if agreement is not None and agreement.pairs:
        _print_agreement(agreement)
    return 0


def _savings_range(store: ProjectStore) -> dict[str, Any] | None:
    """The saving and net saving as ranges (:mod:`conductor_tui.core.savings_trace`)."""
    from conductor_tui.core.savings_trace import trace_savings

    try:
        return trace_savings(store).savings_range()
    except OSError:
        return None


def _explain(store: ProjectStore, figure: str, *, as_json: bool) -> int:
    """``report --explain FIGURE``: the lines behind one figure."""
    from conductor_tui.core.savings_trace import trace_savings

    try:
        trace = trace_savings(store)
        exp = trace.explain(figure)
    except ValueError as exc:
        print(f"conductor-tui report: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"conductor-tui report: cannot read the logs: {exc}", file=sys.stderr)
        return 1
    if as_json:
        out = exp.to_dict()
        out["evaluations_dir"] = str(store.root)
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console
    from rich.text import Text

    console = Console()
    scope = f" ({exp.scope[0]} {exp.scope[1]})" if exp.scope else ""
    head = Text.assemble((f"{exp.figure}{scope}: {exp.total:,}", "bold"))
    if exp.range:
        head.append(f"  range {exp.range[0]:,}–{exp.range[1]:,}", style="dim")
    console.print(head)
    console.print(Text(f"{store.root}  — {len(exp.lines)} line(s)", style="dim"))
    if exp.note:
        console.print(Text(exp.note, style="dim"))
    for at, value, what in exp.lines:
        console.print(Text(f"  {at:<28} {value:>12,.0f}  {what}"), soft_wrap=True)
    return 0


def _agreement(store: ProjectStore, cfg: RoutingConfig) -> Any:
    """Judge–human agreement (:mod:`conductor_tui.core.agreement`), or ``None`` when the
    evaluations cannot be read (the report itself already says why)."""
    from conductor_tui.core.agreement import agreement_report

    try:
        evaluations = list(store.read_evaluations(0).records)
    except (StoreError, OSError):
        return None
    return agreement_report(evaluations, cfg.routing_thresholds)


def _print_agreement(rep: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    t = Table(
        title=f"Judge–human agreement (threshold {rep.min_rate:.0%} over ≥{rep.min_samples} runs)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
    )
    for col in ("by", "name", "agreed", "pairs", "rate", "95% CI"):
        t.add_column(col, justify="left" if col in ("by", "name") else "right")
    for kind, groups in (
        ("ensemble", rep.by_ensemble),
        ("task type", rep.by_task_type),
        ("failure mode", rep.by_failure_mode),
    ):
        for name in sorted(groups):
            a = groups[name]
            lo, hi = a.interval
            low = kind == "ensemble" and name in rep.untrusted
            t.add_row(
                Text(kind, style="dim"),
                Text(name + ("  → back to you" if low else ""), style="red" if low else ""),
                Text(str(a.agreed)),
                Text(str(a.total)),
                Text(f"{a.rate:.0%}"),
                Text(f"{lo:.0%}–{hi:.0%}"),
            )
    console.print(t)


# --------------------------------------------------------------------------- human output


def _fmt(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _short(n: int) -> str:
    """Compact for table cells: ``999``, ``1.2k``, ``181.8M``, ``2.4G``."""
    if abs(n) < 1_000:
        return str(n)
    for div, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)  # pragma: no cover


def _evals_cell(e: dict[str, Any], fmt=_fmt) -> str:
    """``good/acceptable/poor`` counts, e.g. ``12/3/1``."""
    return f"{fmt(e.get('good', 0))}/{fmt(e.get('acceptable', 0))}/{fmt(e.get('poor', 0))}"


def _print_human(
    snap: Snapshot,
    store: ProjectStore,
    cfg: RoutingConfig,
    warnings: list[str],
    *,
    global_tier: bool,
    savings_range: dict[str, Any] | None = None,
) -> None:
    from rich import box
    from rich.table import Table
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
    summary = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    summary.add_column("what", style="bold")
    summary.add_column("value", justify="right")
    rows = [
        ("Routing decisions", _fmt(snap.routing_decisions)),
        ("  handled locally", _fmt(snap.local_decisions)),
        ("  handled by Claude", _fmt(snap.claude_decisions)),
        ("  of which ensemble-prepared", _fmt(snap.prepared_claude_decisions)),
        ("Local share of subtasks", f"{snap.local_share_pct:.1f}%"),
        ("Local tokens", _fmt(snap.total_tokens_local)),
        ("Estimated Claude tokens saved", "~" + _fmt(snap.estimated_claude_tokens_saved)),
        (
            f"  minus Claude overhead (planning {_fmt(snap.claude_overhead_planning_tokens)}"
            f", judging {_fmt(snap.claude_overhead_judge_tokens)})",
            "-" + _fmt(snap.claude_overhead_tokens),
        ),
        ("Net Claude tokens saved", "~" + _fmt(snap.net_claude_tokens_saved)),
        *(
            [
                (
                    "  range (ratio band from your Claude-task records)",
                    f"{_fmt(savings_range['net_range'][0])}–{_fmt(savings_range['net_range'][1])}",
                )
            ]
            if savings_range
            else []
        ),
        ("Claude tokens used", _fmt(snap.claude_tokens)),
        (
            "Interim Claude debt (delegable work Claude did)",
            _fmt(snap.interim_claude_debt)
            + (
                f" ({_fmt(snap.interim_claude_debt_from_profiles)} from task profiles)"
                if snap.interim_claude_debt_from_profiles
                else ""
            ),
        ),
        ("Evaluations good/acceptable/poor (g/a/p)", _evals_cell(snap.evaluations)),
        ("Skipped (unreadable) lines", _fmt(snap.skipped_lines)),
    ]
    for what, value in rows:
        summary.add_row(Text(what), Text(value))
    console.print(summary)

    if snap.by_task_type:
        t = Table(
            title="By task type",
            box=box.SIMPLE_HEAD,
            title_justify="left",
            pad_edge=False,
            collapse_padding=True,
        )
        wide = console.width >= 100  # narrow terminals: drop the derivable columns
        cols: list[tuple[str, dict[str, Any], Any]] = [
            ("task type", {"justify": "left", "overflow": "ellipsis", "ratio": 1}, lambda n, r: n),
            ("runs", {}, lambda n, r: _short(r["decisions"])),
            ("local", {}, lambda n, r: _short(r["local_decisions"])),
            ("Claude", {}, lambda n, r: _short(r["claude_decisions"])),
            ("debt", {}, lambda n, r: _short(r["interim_claude"])),
            ("saved ~tok", {}, lambda n, r: _short(r["estimated_claude_tokens_saved"])),
            ("g/a/p", {}, lambda n, r: _evals_cell(r["evaluations"], _short)),
            ("phase", {"justify": "left"}, lambda n, r: r["phase"] or "claude-only"),
        ]
        if not wide:
            cols = [c for c in cols if c[0] not in ("Claude", "g/a/p")]
        for col, kw, _get in cols:
            t.add_column(col, **{"justify": "right", "no_wrap": True, **kw})
        for name, row in snap.by_task_type.items():
            t.add_row(*(Text(get(name, row)) for _c, _kw, get in cols))
        console.print(t)

    if snap.by_ensemble:
        t = Table(
            title="By ensemble",
            box=box.SIMPLE_HEAD,
            title_justify="left",
            pad_edge=False,
            collapse_padding=True,
        )
        cols_e: list[tuple[str, dict[str, Any], Any]] = [
            ("ensemble", {"justify": "left", "overflow": "ellipsis", "ratio": 1}, lambda n, r: n),
            ("runs", {}, lambda n, r: _short(r["local_decisions"])),
            ("local tok", {}, lambda n, r: _short(r["total_tokens_local"])),
            ("saved ~tok", {}, lambda n, r: _short(r["estimated_claude_tokens_saved"])),
            ("g/a/p", {}, lambda n, r: _evals_cell(r["evaluations"], _short)),
            ("phase", {"justify": "left"}, lambda n, r: r["phase"]),
            (
                "promotion",
                {"justify": "left"},
                lambda n, r: r["promotion"]["level"] + ("  LoRA candidate" if r["lora_candidate"] else ""),
            ),
        ]
        if console.width < 100:
            cols_e = [c for c in cols_e if c[0] != "local tok"]
        for col, kw, _get in cols_e:
            t.add_column(col, **{"justify": "right", "no_wrap": True, **kw})
        for name, row in snap.by_ensemble.items():
            t.add_row(*(Text(get(name, row)) for _c, _kw, get in cols_e))
        console.print(t)
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
        console.print()

    if snap.by_day:
        days = list(snap.by_day.items())[-7:]
        t = Table(
            title="Last active days",
            box=box.SIMPLE_HEAD,
            title_justify="left",
            pad_edge=False,
            collapse_padding=True,
        )
        for col in ("day", "decisions", "local", "local tokens", "saved ~tokens"):
            t.add_column(col, justify="left" if col == "day" else "right")
        for day, row in days:
            t.add_row(
                Text(day),
                Text(_short(row["decisions"])),
                Text(_short(row["local_decisions"])),
                Text(_short(row["total_tokens_local"])),
                Text(_short(row["estimated_claude_tokens_saved"])),
            )
        console.print(t)

    for w in warnings:
        console.print(Text("warning: " + w, style="yellow"))
    console.print(
        Text(
            "Where a figure comes from: conductor-tui report --explain saved|net|overhead|debt …", style="dim"
        )
    )
