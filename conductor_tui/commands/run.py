"""``conductor-tui run ENSEMBLE [--project DIR] [--input TEXT | -] [--json]``.

Streams each agent's output live (prefixed with the agent's name), then prints
per-agent tokens, tokens/s and time, the deliverable and the artifact path.
``--json`` prints one result object instead. Exit code 0 only when the run
completed; Ctrl-C cancels cleanly (the run is recorded as cancelled, exit 130).
Every run writes ``execution.json`` and appends one routing decision.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from conductor_tui.core import locations
from conductor_tui.core.text import safe_text
from conductor_tui.engine import loader
from conductor_tui.engine.events import (
    AgentFailed,
    AgentFinished,
    AgentNotice,
    AgentSkipped,
    AgentStarted,
    Event,
    TextDelta,
)
from conductor_tui.engine.executor import RunResult


class LivePrinter:
    """Prints streamed deltas with an ``[agent]`` prefix at every line start."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.current: str | None = None
        self.at_line_start = True

    def _switch(self, agent: str) -> None:
        if self.current != agent:
            if not self.at_line_start:
                self.out.write("\n")
                self.at_line_start = True
            self.current = agent

    def _line_break(self) -> None:
        if not self.at_line_start:
            self.out.write("\n")
            self.at_line_start = True

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if event.thinking:
                return
            self._switch(event.agent)
            prefix = f"[{event.agent}] "
            for piece in re.split(r"(\n)", safe_text(event.text).replace("\\x0a", "\n")):
                if piece == "\n":
                    self.out.write("\n")
                    self.at_line_start = True
                elif piece:
                    if self.at_line_start:
                        self.out.write(prefix)
                        self.at_line_start = False
                    self.out.write(piece)
            self.out.flush()
        elif isinstance(event, AgentStarted):
            self._line_break()
            what = event.model or "script"
            self.err.write(f"▶ {event.agent} ({what})\n")
            self.current = None
        elif isinstance(event, AgentFinished):
            self._line_break()
            self.current = None
        elif isinstance(event, AgentFailed):
            self._line_break()
            fix = f" — fix: {event.fix}" if event.fix else ""
            self.err.write(f"✗ {event.agent} failed ({event.failure}): {safe_text(event.reason)}{fix}\n")
            self.current = None
        elif isinstance(event, AgentSkipped):
            self._line_break()
            self.err.write(f"– {event.agent} skipped: {safe_text(event.reason)}\n")
        elif isinstance(event, AgentNotice):
            self._line_break()
            self.err.write(f"! {event.agent}: {safe_text(event.message)}\n")
        self.err.flush()


def resolve_input(args: argparse.Namespace, spec: Any) -> str:
    if args.input == "-":
        return sys.stdin.read()
    if args.input is not None:
        return args.input
    return spec.default_task or ""


def find_ensemble(
    project: Path, name: str
) -> tuple[loader.EnsembleEntry | None, loader.EnsembleCatalog, str | None]:
    """(entry, catalog, error message) — see :func:`conductor_tui.engine.row_run.find_ensemble`."""
    from conductor_tui.engine.row_run import find_ensemble as find

    return find(project, name)


def result_json(result: RunResult, decision: Any, entry: loader.EnsembleEntry) -> dict[str, Any]:
    out = result.to_json()
    out["tier"] = entry.tier
    out["path"] = str(entry.path)
    if decision is not None:
        out["routing_id"] = decision.id
        out["estimated_claude_tokens"] = decision.estimated_claude_tokens
        out["tokens_saved"] = decision.tokens_saved
    return out


def print_summary(result: RunResult, decision: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write("\n")
    # agent, status, tokens in, tokens out, tokens/s, duration ms, model
    rows: list[tuple[str, str, int, int, float | None, int, str]] = []
    for r in result.all_results():
        if r.instances is not None:
            u = r.usage
            rows.append(
                (
                    r.name,
                    r.status,
                    u.input_tokens if u else 0,
                    u.output_tokens if u else 0,
                    None,
                    r.duration_ms,
                    f"{len(r.instances)} instances",
                )
            )
            continue
        u = r.usage
        rows.append(
            (
                ("  " if r.index is not None else "") + r.name,
                r.status,
                u.input_tokens if u else 0,
                u.output_tokens if u else 0,
                u.tokens_per_second if u else None,
                (u.duration_ms if u and u.duration_ms else r.duration_ms),
                r.model or ("script" if r.kind == "script" else ""),
            )
        )
    width = max([len(r[0]) for r in rows] + [5])
    out.write(f"{'agent':<{width}}  {'status':<9} {'in':>7} {'out':>7} {'tok/s':>7} {'time':>8}  model\n")
    for name, status, tin, tout, tps, ms, model in rows:
        tps_s = f"{tps:.1f}" if tps else "-"
        out.write(f"{name:<{width}}  {status:<9} {tin:>7} {tout:>7} {tps_s:>7} {ms / 1000:>7.2f}s  {model}\n")
    for r in result.all_results():
        if r.error and r.status not in ("success",):
            out.write(f"  {r.name}: {safe_text(r.error)}" + (f" (fix: {r.fix})" if r.fix else "") + "\n")
    out.write(f"\nStatus: {result.status} in {result.duration_ms / 1000:.2f}s\n")
    if result.deliverable:
        out.write("\nDeliverable:\n")
        out.write(safe_text(result.deliverable).replace("\\x0a", "\n").rstrip() + "\n")
    if decision is not None and decision.total_tokens_local is not None:
        out.write(
            f"\nLocal: {decision.total_tokens_local:,} tokens | "
            f"Estimated Claude equivalent: ~{decision.estimated_claude_tokens:,} tokens\n"
        )
    if result.artifact:
        out.write(f"Artifact: {result.artifact}\n")


async def run_async(
    entry: loader.EnsembleEntry,
    project: Path,
    text: str,
    *,
    json_mode: bool = False,
    task_type: str | None = None,
    session: str | None = None,
    plan_id: str | None = None,
    row_id: str | None = None,
    task_summary: str | None = None,
    host: str | None = None,
    profiles: loader.ProfileSet | None = None,
    on_event: Any = None,
) -> tuple[RunResult, Any]:
    """Run ``entry`` to the end and record it through the conductor loop (the same
    :class:`~conductor_tui.engine.row_run.RowRunner` as the cockpit and the headless
    runner). Returns (result, routing decision as written, or ``None`` when the log could
    not be written — a warning goes to stderr, the result is kept).

    A run by hand is never refused: when the lifecycle would not route to the ensemble
    (failed calibration, a session fallback) it runs and is logged as ``user-override``.
    On the main thread Ctrl-C / SIGTERM cancel the run cleanly (it is recorded as cancelled)."""
    from conductor_tui.engine.row_run import RowJob, RowRunner, StageNote, StageStarted

    spec = entry.spec
    assert spec is not None
    runner = RowRunner(project, host=host, profiles=profiles)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, runner.cancel)
        loop.add_signal_handler(signal.SIGTERM, runner.cancel)
    printer = on_event if on_event is not None else (None if json_mode else LivePrinter())

    def forward(event: Any) -> None:
        if printer is not None and not isinstance(event, StageStarted | StageNote):
            printer(event)

    job = RowJob(
        spec.name,
        text,
        spec=spec,
        task_type=task_type,
        task_summary=task_summary,
        session=session,
        plan_id=plan_id,
        row_id=row_id,
        enforce=False,
    )
    try:
        outcome = await runner.run(job, on_event=forward)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
    for note in outcome.notes:
        print(f"warning: {note}", file=sys.stderr)
    if outcome.result is None:
        raise RuntimeError(outcome.error or "the run did not start")
    return outcome.result, outcome.decision


def main(args: argparse.Namespace) -> int:
    project = Path(args.project).expanduser().resolve() if args.project else locations.find_project()
    entry, _catalog, error = find_ensemble(project, args.ensemble)
    if entry is None:
        if args.json:
            print(json.dumps({"status": "error", "error": error, "ensemble": args.ensemble}))
        else:
            print(f"run: {error}", file=sys.stderr)
        return 2
    spec = entry.spec
    assert spec is not None
    unsupported = [p for p in spec.problems if p.blocking]
    if unsupported:
        msg = "; ".join(str(p) for p in unsupported)
        if args.json:
            print(json.dumps({"status": "error", "error": msg, "ensemble": spec.name}))
        else:
            print(f"run: {spec.name} cannot run here: {msg}", file=sys.stderr)
        return 2
    text = resolve_input(args, spec)
    if not args.json:
        print(f"Running {spec.name} [{entry.tier}] {entry.path}", file=sys.stderr)
    result, decision = asyncio.run(
        run_async(entry, project, text, json_mode=bool(args.json), task_type=getattr(args, "task_type", None))
    )
    if args.json:
        print(json.dumps(result_json(result, decision, entry), ensure_ascii=False))
    else:
        print_summary(result, decision)
    if result.status == "cancelled":
        return 130
    return 0 if result.status == "completed" else 1
