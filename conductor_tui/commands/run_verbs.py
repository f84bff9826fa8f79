"""``conductor-tui request-run`` and ``request-result``: the session asks for an ensemble run —
in the open cockpit when one claims it in time, else here, headless — and reads its result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conductor_tui.commands.verb_io import EXIT_FAILED, EXIT_USAGE, Out, project_of, read_input, session_of
from conductor_tui.core.text import safe_text


def event_payload(event: Any, request: Any = None) -> dict[str, Any]:
    """A result event as JSON (unset fields left out), with the ensemble when known."""
    data = {k: v for k, v in event.to_json_dict().items() if v is not None}
    if request is not None:
        data["ensemble"] = request.ensemble
    return data


def finish_event(out: Out, event: Any, request: Any = None) -> int:
    """Print a final event: the output when completed, else the failure (exit 4)."""
    payload = event_payload(event, request)
    if event.status == "completed":
        tokens = f" ({event.total_tokens:,} local tokens)" if event.total_tokens is not None else ""
        return out.done(payload, f"{event.output or ''}\n[completed by {event.by or '?'}{tokens}]".lstrip())
    message = f"run {event.request_id} {event.status}: {event.error or 'no detail'}"
    if out.as_json:
        print(json.dumps({"ok": False, "exit_code": EXIT_FAILED, **payload}, default=str))
    else:
        print(safe_text(message))
    print(f"conductor-tui: {safe_text(message)}", file=sys.stderr)
    return EXIT_FAILED


def request_run(args: argparse.Namespace, out: Out) -> int:
    """``request-run``: append the request, then let the cockpit run it or run it headless."""
    from conductor_tui.handoff import protocol

    project = project_of(args)
    text = read_input(args.input)
    if args.input is None:
        return out.fail("--input is required (text, or - for standard input)", EXIT_USAGE)
    if args.plan_id and args.row_id:
        refused = _check_row(args, out, project)
        if refused is not None:
            return refused
    request = protocol.request_run(
        project,
        args.ensemble,
        text,
        session=session_of(args),
        task_type=args.task_type,
        plan_id=args.plan_id,
        row_id=args.row_id,
    )
    cockpit = None if args.headless else protocol.cockpit_alive(project)
    if cockpit is not None:
        claim_wait = min(args.claim_timeout, args.timeout) if args.timeout is not None else args.claim_timeout
        owner = wait_claim(project, request.id, claim_wait)
        if owner is None and protocol.try_claim(project, request.id, "headless"):
            owner = "headless"
        if owner is None:
            owner = protocol.request_state(project, request.id)[0]
        if owner != "headless":
            return _in_cockpit(args, out, project, request, owner)
    elif not protocol.try_claim(project, request.id, "headless"):
        event = protocol.wait_for_result(project, request.id, timeout=args.timeout)
        return finish_event(out, event, request)
    print(
        safe_text(f"conductor-tui: no cockpit open on {project}; running {request.ensemble} here (headless)"),
        file=sys.stderr,
    )
    from conductor_tui.handoff.runner import run_request_headless

    event = run_request_headless(project, request)
    return finish_event(out, event, request)


def _check_row(args: argparse.Namespace, out: Out, project: Path) -> int | None:
    """The exit code when the plan row may not run (unknown, rejected, undecided); ``None`` when
    it may (with a note on stderr when the person routed it to another ensemble)."""
    from conductor_tui.handoff import protocol

    row = protocol.row_decision(project, args.plan_id, args.row_id)
    if row is None:
        return out.fail(f"plan {args.plan_id!r} has no row {args.row_id!r}", EXIT_USAGE)
    status = getattr(row.status, "value", row.status)
    if status == "rejected":
        return out.fail(
            f"row {args.row_id} of {args.plan_id} was rejected by the person; not running it",
            EXIT_FAILED,
            {"row_status": status},
        )
    if status == "pending":
        return out.fail(
            f"row {args.row_id} of {args.plan_id} is not decided yet: wait with "
            f"`conductor-tui plan wait {args.plan_id}`",
            EXIT_FAILED,
            {"row_status": status},
        )
    if row.handler and row.handler not in ("claude", "create-ensemble") and row.handler != args.ensemble:
        print(
            safe_text(
                f"conductor-tui: note: the person routed row {args.row_id} to {row.handler!r}, "
                f"not {args.ensemble!r}"
            ),
            file=sys.stderr,
        )
    return None


def _in_cockpit(args: argparse.Namespace, out: Out, project: Path, request: Any, owner: str | None) -> int:
    """The cockpit claimed the request: say so, or wait for its result with ``--wait``."""
    from conductor_tui.handoff import protocol

    if not args.wait:
        return out.done(
            {
                "request_id": request.id,
                "status": "claimed",
                "by": owner,
                "ensemble": request.ensemble,
            },
            f"{request.id}\nThe cockpit is running {request.ensemble}; "
            f"get the result with: conductor-tui request-result {request.id}",
        )
    event = protocol.wait_for_result(project, request.id, timeout=args.timeout)
    return finish_event(out, event, request)


def wait_claim(project: Path, request_id: str, timeout: float) -> str | None:
    """Who claimed the request within ``timeout`` seconds (``None``: nobody yet)."""
    import time

    from conductor_tui.handoff import protocol

    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        owner, _ = protocol.request_state(project, request_id)
        if owner is not None or time.monotonic() >= deadline:
            return owner
        time.sleep(0.1)


def request_result(args: argparse.Namespace, out: Out) -> int:
    """``request-result``: wait for a request's final event and print it."""
    from conductor_tui.handoff import protocol

    project = project_of(args)
    if not any(r.id == args.request_id for r in protocol.read_requests(project)):
        return out.fail(f"no request {args.request_id!r} in {protocol.requests_path(project)}", EXIT_USAGE)
    event = protocol.wait_for_result(project, args.request_id, timeout=args.timeout)
    return finish_event(out, event)
