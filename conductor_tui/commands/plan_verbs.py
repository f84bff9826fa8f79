"""``conductor-tui plan submit | wait | show | list | from-task``: the session hands a workflow
plan to the cockpit (routed by the conductor loop) and waits for the person's decisions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conductor_tui.commands.verb_io import (
    EXIT_FAILED,
    EXIT_USAGE,
    Out,
    plan_payload,
    project_of,
    read_input,
    rows_text,
    session_of,
)


def plan(args: argparse.Namespace, out: Out) -> int:
    """Dispatch one ``plan`` action."""
    from conductor_tui.core.plan import PlanError
    from conductor_tui.core.store import ProjectStore
    from conductor_tui.handoff import protocol

    project = project_of(args)
    session = session_of(args)
    action = args.action
    if action == "submit":
        try:
            loaded = load_plan(args.file)
        except PlanError as exc:
            return out.fail(str(exc), EXIT_USAGE)
        return _submit(out, project, loaded, session)
    if action == "wait":
        decided = protocol.wait_for_decisions(project, args.plan_id, timeout=args.timeout, session=session)
        payload = plan_payload(decided)
        if decided.status == "abandoned":
            return out.done(payload, f"Plan {decided.id} was abandoned.\n{rows_text(decided)}", EXIT_FAILED)
        return out.done(payload, f"Plan {decided.id} decided:\n{rows_text(decided)}")
    if action == "show":
        shown = protocol.get_plan(project, args.plan_id)
        if shown is None:
            return out.fail(f"no plan {args.plan_id!r} in {ProjectStore(project).plans_path}", EXIT_USAGE)
        return out.done(
            plan_payload(shown), f"{shown.id} ({shown.status}) {shown.meta_task}\n{rows_text(shown)}"
        )
    if action == "list":
        return _list(out, project, session)
    if action == "from-task":
        return from_task(args, out, project, session)
    return out.fail(f"unknown plan action {action!r}", EXIT_USAGE)


def load_plan(source: str) -> Any:
    """A plan from a file, or from standard input for ``-`` (JSON, YAML or one subtask a line)."""
    from conductor_tui.core.plan import PlanError, load_plan_file, plan_from_data, plan_from_text

    if source != "-":
        return load_plan_file(source)
    text = sys.stdin.read()
    if not text.strip():
        raise PlanError("standard input is empty: pipe a plan (JSON, YAML or one subtask per line)")
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        from conductor_tui.core.store import loads_bounded

        try:
            data = loads_bounded(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"<stdin>:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        except ValueError as exc:
            raise PlanError(f"<stdin>:1: invalid JSON: {exc}") from exc
        return plan_from_data(data, source="session")
    import yaml

    from conductor_tui.core import safeyaml

    try:
        data = safeyaml.load(text)
    except safeyaml.YamlLimitError as exc:
        raise PlanError(f"<stdin>:{exc.line or 1}: invalid YAML: {exc.message}") from exc
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict | list) and data:
        try:
            return plan_from_data(data, source="session")
        except PlanError:
            pass
    return plan_from_text(text, source="session")


def route(project: Path, plan: Any) -> Any:
    """The plan routed by the conductor loop: rows without a handler get one from the rules
    with the live lifecycle state, rows the lifecycle forbids go to Claude with the reason,
    rows covered by a standing authorisation are approved by the rule."""
    from conductor_tui.core.loop import Conductor
    from conductor_tui.engine.model_size import size_facts
    from conductor_tui.engine.row_run import candidates_for
    from conductor_tui.handoff.capacity import capacity_facts

    conductor = Conductor(project, size_facts=size_facts(project), capacity_facts=capacity_facts(project))
    return conductor.route_plan(plan, candidates_for(project))


def _submit(out: Out, project: Path, plan: Any, session: str | None) -> int:
    from conductor_tui.core.store import ProjectStore
    from conductor_tui.handoff import protocol

    if not session:
        session = protocol.new_session_id()
    plan.session = plan.session or session
    plan = route(project, plan)
    written = protocol.submit_plan(project, plan, session=session)
    routed = route(project, written)  # standing authorisations approve their rows by rule
    if routed is not written:
        written = ProjectStore(project).append_plan(routed)
    live = protocol.cockpit_alive(project) is not None
    payload = {
        **plan_payload(written),
        "path": str(ProjectStore(project).plans_path),
        "cockpit_open": live,
    }
    text = (
        f"{written.id}\n"
        f"Submitted plan {written.id} ({len(written.subtasks)} rows, session {written.session}) "
        + ("— the cockpit has it." if live else "— open the cockpit on this project to decide it.")
        + f"\nWait for the decisions: conductor-tui plan wait {written.id} --session {written.session}"
    )
    return out.done(payload, text)


def _list(out: Out, project: Path, session: str | None) -> int:
    from conductor_tui.handoff import protocol

    items = [
        {
            "plan_id": p.id,
            "session": p.session,
            "status": p.status,
            "revision": p.revision,
            "meta_task": p.meta_task,
            "rows": len(p.subtasks),
            "decided": protocol.is_plan_decided(p),
        }
        for p in protocol.session_plans(project, session)
    ]
    text = "\n".join(f"{i['plan_id']}  {i['status']:<9} {i['rows']:>3} rows  {i['meta_task']}" for i in items)
    return out.done({"plans": items}, text or "no plans")


def from_task(args: argparse.Namespace, out: Out, project: Path, session: str | None) -> int:
    """``plan from-task``: Claude decomposes the meta-task; the plan is persisted, every row pending."""
    from conductor_tui.handoff.planning import plan_meta_task
    from conductor_tui.providers.anthropic import ClaudeError, ClaudeProvider

    meta_task = read_input(args.meta_task).strip()
    if not meta_task:
        return out.fail("the meta-task is empty", EXIT_USAGE)
    provider = ClaudeProvider()
    if not provider.available:
        return out.fail(provider.unavailable_reason or "Claude is not configured", EXIT_USAGE)
    try:
        build = plan_meta_task(project, meta_task, provider=provider, session=session)
    except ClaudeError as exc:
        return out.fail(str(exc), EXIT_FAILED if exc.kind != "unavailable" else EXIT_USAGE)
    finally:
        provider.close()
    written = build.plan
    payload = {
        **plan_payload(written),
        "planning_tokens": build.planning_tokens,
        "estimated_savings": build.estimated_savings,
        "worthwhile": build.worthwhile,
        "ensembles_to_create": build.gaps,
        "notes": build.notes,
    }
    text = (
        f"{written.id}\nClaude planned {len(written.subtasks)} subtasks ({build.planning_tokens:,} tokens). "
        f"{build.floor_reason}.\n{rows_text(written)}\n"
        f"Ensembles to create: {', '.join(build.gaps) or 'none'}; "
        f"estimated savings ~{build.estimated_savings:,} tokens"
    )
    return out.done(payload, text)
