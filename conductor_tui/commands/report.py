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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conductor_tui.core import locations

if TYPE_CHECKING:
    from conductor_tui.core.aggregate import Snapshot
    from conductor_tui.core.aggregate_scan import RoutingPrefetch
    from conductor_tui.core.records import RoutingConfig
    from conductor_tui.core.store import ProjectStore

# The command's other modules (pydantic records, the store, the aggregator) load inside its
# functions, after a cold read of a big routing log has started on every core
# (:func:`~conductor_tui.core.aggregate_scan.start_cold_scan`).


def build_report(
    store: ProjectStore,
    prefetch: RoutingPrefetch | None = None,
    meanwhile: Callable[[RoutingConfig], object] | None = None,
) -> tuple[Snapshot, RoutingConfig, list[str]]:
    """Aggregate ``store``'s logs (``prefetch``: its routing log's workers, already started;
    ``meanwhile``: called with the config once the evaluations are read, before the routing
    log is). Raises ``OSError`` / :class:`StoreError` when a log cannot be read; a malformed
    routing config only adds a warning (defaults apply)."""
    from conductor_tui.core.aggregate import Aggregator, cache_path_for
    from conductor_tui.core.records import RoutingConfig
    from conductor_tui.core.store import StoreError

    warnings: list[str] = []
    try:
        cfg = store.load_config()
    except StoreError as exc:
        warnings.append(f"{exc} — using default thresholds")
        cfg = RoutingConfig()
    agg = Aggregator(cfg.routing_thresholds)
    cache = None if os.environ.get("CONDUCTOR_TUI_NO_CACHE") else cache_path_for(store.root)
    loaded = cache is not None and agg.load_cache(cache)  # a warm start reads only the lines appended since
    try:
        new_lines = agg.feed_logs(
            store.routing_log_path,
            store.evaluations_path,
            prefetch=prefetch,
            meanwhile=None if meanwhile is None else lambda: meanwhile(cfg),
        )
    except OSError as exc:
        raise StoreError(exc.filename or store.routing_log_path, exc.strerror or str(exc)) from exc
    try:
        agg.feed_task_profiles(store)
    except StoreError as exc:
        warnings.append(f"{exc} — interim Claude debt from the routing log only")
    except OSError as exc:
        warnings.append(
            f"{store.profiles_path}: {exc.strerror or exc} — interim Claude debt from the routing log only"
        )
    snap = agg.snapshot()
    if cache is not None and not (loaded and new_lines == 0):  # an unchanged cache stays as it is
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
    global_tier = bool(getattr(args, "global_tier", False))
    project: Path | None = None
    if global_tier:
        root = locations.evaluations_dir(None, global_tier=True)
        missing = not root.is_dir()
        where = root
    else:
        project = Path(args.project).expanduser().resolve() if args.project else locations.find_project()
        root = locations.evaluations_dir(project)
        missing = not locations.project_llm_orc_dir(project).is_dir()
        where = project
    explain = getattr(args, "explain", None)
    prefetch = None
    if not (missing or explain):  # the log's workers start before the rest of the command loads
        from conductor_tui.core.aggregate_scan import start_cold_scan

        prefetch = start_cold_scan(root)
    try:
        return _report(args, project, where, missing, prefetch)
    finally:
        if prefetch is not None:
            prefetch.cancel()  # not taken (an error before the read): stop its workers


def _report(
    args: argparse.Namespace,
    project: Path | None,
    where: Path,
    missing: bool,
    prefetch: RoutingPrefetch | None,
) -> int:
    from conductor_tui.commands import import_quietly

    import_quietly("conductor_tui.commands.report_text")  # the aggregator, store and records with it
    from conductor_tui.commands.report_text import print_human
    from conductor_tui.core.aggregate import Snapshot
    from conductor_tui.core.store import ProjectStore, StoreError

    as_json = bool(getattr(args, "json", False))
    global_tier = bool(getattr(args, "global_tier", False))
    store = ProjectStore(None, global_tier=True) if global_tier else ProjectStore(project)
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
    agreements: list[Any] = []  # judge–human agreement needs the evaluations only
    try:
        snap, cfg, warnings = build_report(store, prefetch, lambda c: agreements.append(_agreement(store, c)))
    except StoreError as exc:
        print(f"conductor-tui report: cannot read {exc.path}: {exc.reason}", file=sys.stderr)
        return 1
    agreement = agreements[0] if agreements else _agreement(store, cfg)
    savings_range = _savings_range(store, cfg)
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
    print_human(snap, store, cfg, warnings, global_tier=global_tier, savings_range=savings_range)
    if agreement is not None and agreement.pairs:
        _print_agreement(agreement)
    return 0


def _savings_range(store: ProjectStore, cfg: RoutingConfig) -> dict[str, Any] | None:
    """The saving and net saving as ranges (:mod:`conductor_tui.core.savings_band`), from
    the pass that just read the logs (:func:`~conductor_tui.core.aggregate.savings_range_for`)."""
    from conductor_tui.core.aggregate import savings_range_for

    try:
        return savings_range_for(store, cfg.routing_thresholds)
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
    from conductor_tui.core.agreement import agreement_report, may_have_pairs
    from conductor_tui.core.store import StoreError

    try:
        if not may_have_pairs(store.evaluations_path):  # no judge verdict anywhere: no pairs
            return agreement_report([], cfg.routing_thresholds)
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
