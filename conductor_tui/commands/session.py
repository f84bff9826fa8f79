"""CLI verbs for the coding session (a Claude Code skill calls them from Bash).

::

    conductor-tui plan submit [FILE|-] [--session ID] [--json]       → plan id
    conductor-tui plan wait PLAN_ID [--timeout S] [--session ID]     → the decided rows
    conductor-tui plan show PLAN_ID | plan list [--session ID]
    conductor-tui plan from-task "META TASK" [--session ID]          → Claude plans it
    conductor-tui request-run ENSEMBLE --input TEXT|- [--wait] [--timeout S]
    conductor-tui request-result REQUEST_ID [--timeout S]
    conductor-tui record claude-task --task-type T --tokens N [--delegable]
    conductor-tui record evaluation --ensemble E --score S [--reasoning …]

Exit codes: 0 ok, 1 other error (e.g. a log that cannot be written), 2 usage / bad input,
3 timeout, 4 rejected / failed, 5 the cockpit that claimed a request died before finishing it.
With ``--json`` every verb prints exactly one JSON object on stdout (errors too:
``{"ok": false, "error": …}``); messages for people go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conductor_tui.core.text import safe_text

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_TIMEOUT, EXIT_FAILED, EXIT_COCKPIT_GONE = 0, 1, 2, 3, 4, 5


def seconds(text: str) -> float:
    """argparse type for a timeout: a finite number ≥ 0 (``nan``, ``inf``, ``-1`` → usage error)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds ≥ 0, not {text!r}")
    return value


def _bounded_int(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo:,} and {hi:,}, not {value:,}")
        return value

    parse.__name__ = "whole number"
    return parse


VERBS = ("plan", "request-run", "request-result", "record", "design", "design-notes")
EVALUATORS = ("claude", "human")
EVAL_PHASES = ("calibrate", "establish", "trust", "triggered")


# --------------------------------------------------------------------------- argparse


def _common(p: argparse.ArgumentParser, *, session: bool = True) -> None:
    p.add_argument(
        "--project",
        metavar="DIR",
        default=None,
        help="project directory (default: nearest folder with .llm-orc/ at or above the cwd)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    if session:
        p.add_argument(
            "--session",
            metavar="ID",
            default=None,
            help="the coding session's id (default: $CONDUCTOR_SESSION)",
        )


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    """Fill the parser of one verb (called by ``cli._build_subparser``)."""
    p.set_defaults(verb=name)
    if name == "plan":
        sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        s = sub.add_parser("submit", help="submit a plan (JSON/YAML file, or - for stdin) and print its id")
        s.add_argument("file", nargs="?", default="-", help="plan file, or - for standard input (default)")
        _common(s)
        w = sub.add_parser("wait", help="wait until every row of a plan is decided; print the rows")
        w.add_argument("plan_id")
        w.add_argument(
            "--timeout", type=seconds, default=None, metavar="S", help="give up after S seconds (exit 3)"
        )
        _common(w)
        sh = sub.add_parser("show", help="print a plan's newest revision")
        sh.add_argument("plan_id")
        _common(sh)
        ls = sub.add_parser("list", help="list plans (of one session with --session)")
        _common(ls)
        ft = sub.add_parser(
            "from-task", help="let Claude decompose a meta-task into a plan (needs ANTHROPIC_API_KEY)"
        )
        ft.add_argument("meta_task", help="the meta-task, or - to read it from standard input")
        _common(ft)
    elif name == "request-run":
        p.add_argument("ensemble", help="ensemble name")
        p.add_argument("--input", default=None, metavar="TEXT", help="input text, or - for standard input")
        p.add_argument("--task-type", default=None, help="task type to log")
        p.add_argument("--plan-id", default=None)
        p.add_argument("--row-id", default=None)
        p.add_argument("--wait", action="store_true", help="wait for the result (headless runs always wait)")
        p.add_argument(
            "--timeout", type=seconds, default=None, metavar="S", help="give up waiting after S seconds"
        )
        p.add_argument(
            "--claim-timeout",
            type=seconds,
            default=10.0,
            metavar="S",
            help="run headless if the open cockpit has not picked the request up after S s",
        )
        p.add_argument("--headless", action="store_true", help="run here even if a cockpit is open")
        _common(p)
    elif name == "request-result":
        p.add_argument("request_id")
        p.add_argument("--timeout", type=seconds, default=None, metavar="S")
        _common(p, session=False)
    elif name == "record":
        sub = p.add_subparsers(dest="action", metavar="WHAT", required=True)
        c = sub.add_parser("claude-task", help="log a subtask Claude handled (debt and savings figures)")
        c.add_argument("--task-type", required=True)
        c.add_argument(
            "--tokens", type=_bounded_int(0, 10**12), required=True, help="Claude tokens the subtask took"
        )
        c.add_argument(
            "--delegable",
            action="store_true",
            help="the task type is delegable (interim Claude work: technical debt)",
        )
        c.add_argument("--category", default=None, help="agent-delegable | ensemble-delegable | claude-only")
        c.add_argument("--summary", default=None, help="one-line task summary")
        c.add_argument("--criterion", default=None, help="Claude-only criterion")
        c.add_argument("--plan-id", default=None)
        c.add_argument("--row-id", default=None)
        c.add_argument(
            "--remaining",
            type=int,
            default=None,
            metavar="N",
            help="how many more subtasks of this type the session expects (adaptive ensemble requests)",
        )
        c.add_argument("--output-format", default=None, help="the expected output format (for a request)")
        c.add_argument(
            "--prepared-by",
            default=None,
            metavar="ENSEMBLE",
            help="ensemble-prepared Claude: the ensemble that prepared the brief (--tokens = judgment tokens)",
        )
        c.add_argument(
            "--preparation-tokens",
            type=int,
            default=None,
            metavar="N",
            help="local tokens of the preparation run",
        )
        c.add_argument(
            "--estimated-full",
            type=int,
            default=None,
            metavar="N",
            help="Claude tokens the subtask would have taken without preparation (default: estimated)",
        )
        _common(c)
        e = sub.add_parser("evaluation", help="log an evaluation of an ensemble's output")
        e.add_argument("--ensemble", required=True)
        e.add_argument("--score", required=True, help="good | acceptable | poor")
        e.add_argument("--reasoning", default=None, help="the reflection (written before the score)")
        e.add_argument(
            "--failure-mode", default=None, help="hallucination | incomplete | wrong-format | off-topic"
        )
        e.add_argument("--routing-id", default=None)
        e.add_argument("--input-summary", default=None)
        e.add_argument("--output-length", type=_bounded_int(0, 10**12), default=None)
        e.add_argument("--task-type", default=None)
        e.add_argument("--evaluator", default="claude", help=" | ".join(EVALUATORS) + " (default: claude)")
        e.add_argument("--phase", default=None, help=" | ".join(EVAL_PHASES) + " (default: worked out)")
        e.add_argument("--user-feedback", default=None)
        e.add_argument("--judge-tokens", type=_bounded_int(0, 10**12), default=None)
        e.add_argument(
            "--per-model",
            action="append",
            default=None,
            metavar="MODEL=correct|incorrect",
            help="complementary ensembles: each model's verdict (repeat the option per model)",
        )
        _common(e)
    elif name in ("design", "design-notes"):
        if name == "design-notes":
            p.set_defaults(verb="design", action="notes")
            p.add_argument("task_type", help="the task type")
            _common(p, session=False)
            return
        sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        ls = sub.add_parser("list", help="the designer artifacts (requests, feedback) with their state")
        _common(ls, session=False)
        rq = sub.add_parser("request", help="ask the designer for an ensemble for a task type (user request)")
        rq.add_argument("task_type")
        rq.add_argument("--sample", action="append", default=None, help="a sample input (repeatable)")
        rq.add_argument("--output-format", default=None)
        rq.add_argument("--repetitions", type=int, default=None, metavar="N")
        rq.add_argument("--context", default=None)
        _common(rq)
        for verb, what in (
            ("approve", "approve a proposed request (hand it to the designer)"),
            ("decline", "decline a proposed request"),
        ):
            a = sub.add_parser(verb, help=what)
            a.add_argument("request_id")
            a.add_argument("--note", default=None)
            _common(a, session=False)
        rj = sub.add_parser(
            "reject", help="record the designer's rejection: the task type becomes Claude-only"
        )
        rj.add_argument("task_type")
        rj.add_argument("--reason", required=True)
        _common(rj, session=False)
        nt = sub.add_parser("notes", help="design knowledge for a task type (what worked, failure modes)")
        nt.add_argument("task_type")
        _common(nt, session=False)


# --------------------------------------------------------------------------- output


class _Out:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def done(self, payload: dict[str, Any], text: str, code: int = EXIT_OK) -> int:
        if self.as_json:
            print(json.dumps({"ok": code == EXIT_OK, "exit_code": code, **payload}, default=str))
        else:
            print(safe_text(text))  # model output, plan rows and names: never escapes
        return code

    def fail(self, message: str, code: int, payload: dict[str, Any] | None = None) -> int:
        if self.as_json:
            print(
                json.dumps({"ok": False, "exit_code": code, "error": message, **(payload or {})}, default=str)
            )
        print(f"conductor-tui: {safe_text(message)}", file=sys.stderr)
        return code


def _project(args: argparse.Namespace) -> Path:
    from conductor_tui.core.locations import find_project

    return Path(args.project).expanduser().resolve() if args.project else find_project()


def _session(args: argparse.Namespace) -> str | None:
    from conductor_tui.handoff.protocol import session_from_env

    return getattr(args, "session", None) or session_from_env()


def _read_input(value: str | None) -> str:
    if value == "-":
        return sys.stdin.read()
    return value or ""


def _rows_text(plan: Any) -> str:
    from conductor_tui.handoff.protocol import row_view

    lines = []
    for r in row_view(plan):
        handler = r["handler"] or "?"
        if r["original_handler"] and r["original_handler"] != r["handler"]:
            handler += f" (was {r['original_handler']})"
        note = f"  — {r['note']}" if r["note"] else ""
        lines.append(f"  {r['number']}. [{r['status']}] {r['description']} → {handler}{note}")
    return "\n".join(lines)


def _plan_payload(plan: Any) -> dict[str, Any]:
    from conductor_tui.handoff.protocol import is_plan_decided, row_view

    return {
        "plan_id": plan.id,
        "revision": plan.revision,
        "session": plan.session,
        "status": plan.status,
        "meta_task": plan.meta_task,
        "decided": is_plan_decided(plan),
        "rows": row_view(plan),
    }


# --------------------------------------------------------------------------- entry


def main(args: argparse.Namespace) -> int:
    out = _Out(bool(getattr(args, "json", False)))
    from conductor_tui.core.store import StoreError
    from conductor_tui.handoff.protocol import HandoffError, HandoffTimeout

    verb = getattr(args, "verb", None)
    try:
        if verb == "plan":
            return _plan(args, out)
        if verb == "request-run":
            return _request_run(args, out)
        if verb == "request-result":
            return _request_result(args, out)
        if verb == "record":
            return _record(args, out)
        if verb == "design":
            return _design(args, out)
    except HandoffTimeout as exc:
        payload = _plan_payload(exc.state) if hasattr(exc.state, "subtasks") else {}
        return out.fail(exc.message, EXIT_TIMEOUT, payload)
    except HandoffError as exc:
        return out.fail(exc.message, exc.code)
    except StoreError as exc:
        return out.fail(str(exc), EXIT_OTHER)
    except KeyboardInterrupt:  # Ctrl-C (SIGINT) while waiting: stop cleanly, no traceback
        return out.fail("interrupted", 130)
    except (ValueError, OSError) as exc:
        return out.fail(str(exc), EXIT_USAGE if isinstance(exc, ValueError) else EXIT_OTHER)
    return out.fail(f"unknown verb {verb!r}", EXIT_USAGE)


# --------------------------------------------------------------------------- plan


def _load_plan(source: str) -> Any:
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


def _route(project: Path, plan: Any) -> Any:
    """The plan routed by the conductor loop: rows without a handler get one from the rules
    with the live lifecycle state, rows the lifecycle forbids go to Claude with the reason,
    rows covered by a standing authorisation are approved by the rule."""
    from conductor_tui.core.loop import Conductor
    from conductor_tui.engine.model_size import size_facts
    from conductor_tui.engine.row_run import candidates_for
    from conductor_tui.handoff.capacity import capacity_facts

    conductor = Conductor(project, size_facts=size_facts(project), capacity_facts=capacity_facts(project))
    return conductor.route_plan(plan, candidates_for(project))


def _plan(args: argparse.Namespace, out: _Out) -> int:
    from conductor_tui.core.plan import PlanError
    from conductor_tui.core.store import ProjectStore
    from conductor_tui.handoff import protocol

    project = _project(args)
    session = _session(args)
    action = args.action
    if action == "submit":
        try:
            plan = _load_plan(args.file)
        except PlanError as exc:
            return out.fail(str(exc), EXIT_USAGE)
        if not session:
            session = protocol.new_session_id()
        plan.session = plan.session or session
        plan = _route(project, plan)
        written = protocol.submit_plan(project, plan, session=session)
        routed = _route(project, written)  # standing authorisations approve their rows by rule
        if routed is not written:
            written = ProjectStore(project).append_plan(routed)
        live = protocol.cockpit_alive(project) is not None
        payload = {
            **_plan_payload(written),
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
    if action == "wait":
        plan = protocol.wait_for_decisions(project, args.plan_id, timeout=args.timeout, session=session)
        payload = _plan_payload(plan)
        if plan.status == "abandoned":
            return out.done(payload, f"Plan {plan.id} was abandoned.\n{_rows_text(plan)}", EXIT_FAILED)
        return out.done(payload, f"Plan {plan.id} decided:\n{_rows_text(plan)}")
    if action == "show":
        plan = protocol.get_plan(project, args.plan_id)
        if plan is None:
            return out.fail(f"no plan {args.plan_id!r} in {ProjectStore(project).plans_path}", EXIT_USAGE)
        return out.done(
            _plan_payload(plan), f"{plan.id} ({plan.status}) {plan.meta_task}\n{_rows_text(plan)}"
        )
    if action == "list":
        plans = protocol.session_plans(project, session)
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
            for p in plans
        ]
        text = "\n".join(
            f"{i['plan_id']}  {i['status']:<9} {i['rows']:>3} rows  {i['meta_task']}" for i in items
        )
        return out.done({"plans": items}, text or "no plans")
    if action == "from-task":
        return _from_task(args, out, project, session)
    return out.fail(f"unknown plan action {action!r}", EXIT_USAGE)


def _from_task(args: argparse.Namespace, out: _Out, project: Path, session: str | None) -> int:
    from conductor_tui.handoff.planning import plan_meta_task
    from conductor_tui.providers.anthropic import ClaudeError, ClaudeProvider

    meta_task = _read_input(args.meta_task).strip()
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
        **_plan_payload(written),
        "planning_tokens": build.planning_tokens,
        "estimated_savings": build.estimated_savings,
        "worthwhile": build.worthwhile,
        "ensembles_to_create": build.gaps,
        "notes": build.notes,
    }
    text = (
        f"{written.id}\nClaude planned {len(written.subtasks)} subtasks ({build.planning_tokens:,} tokens). "
        f"{build.floor_reason}.\n{_rows_text(written)}\n"
        f"Ensembles to create: {', '.join(build.gaps) or 'none'}; "
        f"estimated savings ~{build.estimated_savings:,} tokens"
    )
    return out.done(payload, text)


# --------------------------------------------------------------------------- runs


def _event_payload(event: Any, request: Any = None) -> dict[str, Any]:
    data = {k: v for k, v in event.to_json_dict().items() if v is not None}
    if request is not None:
        data["ensemble"] = request.ensemble
    return data


def _finish_event(out: _Out, event: Any, request: Any = None) -> int:
    payload = _event_payload(event, request)
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


def _request_run(args: argparse.Namespace, out: _Out) -> int:
    from conductor_tui.handoff import protocol

    project = _project(args)
    text = _read_input(args.input)
    if args.input is None:
        return out.fail("--input is required (text, or - for standard input)", EXIT_USAGE)
    if args.plan_id and args.row_id:
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
    request = protocol.request_run(
        project,
        args.ensemble,
        text,
        session=_session(args),
        task_type=args.task_type,
        plan_id=args.plan_id,
        row_id=args.row_id,
    )
    cockpit = None if args.headless else protocol.cockpit_alive(project)
    if cockpit is not None:
        claim_wait = min(args.claim_timeout, args.timeout) if args.timeout is not None else args.claim_timeout
        owner = _wait_claim(project, request.id, claim_wait)
        if owner is None and protocol.try_claim(project, request.id, "headless"):
            owner = "headless"
        if owner is None:
            owner = protocol.request_state(project, request.id)[0]
        if owner != "headless":
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
            return _finish_event(out, event, request)
    elif not protocol.try_claim(project, request.id, "headless"):
        event = protocol.wait_for_result(project, request.id, timeout=args.timeout)
        return _finish_event(out, event, request)
    print(
        safe_text(f"conductor-tui: no cockpit open on {project}; running {request.ensemble} here (headless)"),
        file=sys.stderr,
    )
    from conductor_tui.handoff.runner import run_request_headless

    event = run_request_headless(project, request)
    return _finish_event(out, event, request)


def _wait_claim(project: Path, request_id: str, timeout: float) -> str | None:
    import time

    from conductor_tui.handoff import protocol

    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        owner, _ = protocol.request_state(project, request_id)
        if owner is not None or time.monotonic() >= deadline:
            return owner
        time.sleep(0.1)


def _request_result(args: argparse.Namespace, out: _Out) -> int:
    from conductor_tui.handoff import protocol

    project = _project(args)
    if not any(r.id == args.request_id for r in protocol.read_requests(project)):
        return out.fail(f"no request {args.request_id!r} in {protocol.requests_path(project)}", EXIT_USAGE)
    event = protocol.wait_for_result(project, args.request_id, timeout=args.timeout)
    return _finish_event(out, event)


# --------------------------------------------------------------------------- record


def _record(args: argparse.Namespace, out: _Out) -> int:
    from conductor_tui.handoff.recording import evaluate

    project = _project(args)
    session = _session(args)
    if args.action == "claude-task":
        if args.tokens < 0:
            return out.fail("--tokens must be ≥ 0", EXIT_USAGE)
        from conductor_tui.core.loop import Conductor

        conductor = Conductor(project)
        decision, profile = conductor.record_claude_task(
            args.task_type,
            args.tokens,
            delegable=True if args.delegable else None,
            category=args.category,
            summary=args.summary,
            session=session,
            plan_id=args.plan_id,
            row_id=args.row_id,
            criterion=args.criterion,
            remaining=args.remaining,
            expected_output_format=args.output_format,
            prepared_by=args.prepared_by,
            preparation_tokens=args.preparation_tokens,
            estimated_full_tokens=args.estimated_full,
        )
        if args.prepared_by:
            uses = conductor.prepared_uses(args.task_type)
            period = conductor.config().routing_thresholds.calibration_period
            payload = {
                "routing_id": decision.id,
                "task_type": decision.task_type,
                "prepared_by": args.prepared_by,
                "claude_tokens": decision.claude_tokens,
                "preparation_tokens_local": decision.preparation_tokens_local,
                "judgment_tokens_claude": decision.judgment_tokens_claude,
                "estimated_full_claude_tokens": decision.estimated_full_claude_tokens,
                "preparation_savings": decision.preparation_savings,
                "pattern_uses": uses,
                "evaluate_combined": uses <= period,
            }
            full = decision.estimated_full_claude_tokens or 0
            pct = 100 * (decision.preparation_savings or 0) / full if full else 0.0
            text = (
                f"{decision.id}\nPreparation: {args.prepared_by}, local {decision.preparation_tokens_local:,} tokens\n"
                f"Claude: {args.tokens:,} tokens (estimated {full:,} without preparation — {pct:.0f}% reduction)"
            )
            if uses <= period:
                text += f"\nPattern calibration {uses}/{period}: evaluate the brief + judgment as a unit."
            return out.done(payload, text)
        payload = {
            "routing_id": decision.id,
            "task_type": decision.task_type,
            "delegability_category": getattr(
                decision.delegability_category, "value", decision.delegability_category
            ),
            "claude_tokens": decision.claude_tokens,
            "reason": decision.reason,
            "interim_claude_count": profile.interim_claude_count if profile else None,
            "phase": getattr(profile.phase, "value", profile.phase) if profile else None,
            "ensemble": profile.ensemble if profile else None,
        }
        debt = (
            f"; interim Claude debt for {args.task_type}: {profile.interim_claude_count}" if profile else ""
        )
        text = f"{decision.id}\nRecorded {args.tokens:,} Claude tokens for {args.task_type}{debt}"
        request = conductor.design_request
        payload["ensemble_request"] = request.summary() if request is not None else None
        if request is not None:
            text += (
                f"\n{request.data.get('context', '')}\n"
                f"Ensemble request {request.id} ({request.state}): ask the person, then "
                f"`conductor-tui design approve {request.id}` (or `design decline`)."
            )
        return out.done(payload, text)
    if args.action == "evaluation":
        from conductor_tui.engine.row_run import candidates_for

        evaluator = (args.evaluator or "").strip().lower()
        if evaluator not in EVALUATORS:
            return out.fail(
                f"--evaluator must be one of {', '.join(EVALUATORS)} (got {args.evaluator!r})", EXIT_USAGE
            )
        phase = args.phase.strip().lower() if args.phase else None
        if phase is not None and phase not in EVAL_PHASES:
            return out.fail(
                f"--phase must be one of {', '.join(EVAL_PHASES)} (got {args.phase!r})", EXIT_USAGE
            )
        outcome = evaluate(
            project,
            args.ensemble,
            args.score,
            reasoning=args.reasoning,
            failure_mode=args.failure_mode,
            routing_id=args.routing_id,
            input_summary=args.input_summary,
            output_length=args.output_length,
            task_type=args.task_type,
            evaluator=evaluator,
            phase=phase,
            user_feedback=args.user_feedback,
            judge_tokens=args.judge_tokens,
            session=session,
            candidates_for=candidates_for(project),
            per_model=args.per_model,
        )
        evaluation = outcome.evaluation
        payload = {
            "evaluation_id": evaluation.id,
            "ensemble": evaluation.ensemble,
            "routing_id": evaluation.routing_id,
            "score": getattr(evaluation.score, "value", evaluation.score),
            "invocation_number": evaluation.invocation_number,
            "phase": getattr(evaluation.phase, "value", evaluation.phase),
            "lifecycle_before": outcome.before.value,
            "lifecycle_after": outcome.after.value,
            "fallback": outcome.fallback,
            "rerouted_rows": [{"plan_id": p, "row_id": r} for p, r in outcome.rerouted],
            "designer_artifacts": [a.summary() for a in outcome.artifacts],
            "messages": outcome.messages,
        }
        if evaluation.per_model:
            payload["per_model"] = evaluation.per_model
        text = (
            f"{evaluation.id}\nRecorded evaluation #{evaluation.invocation_number} of "
            f"{args.ensemble}: {payload['score']} ({payload['phase']})"
        )
        return out.done(payload, "\n".join([text, *outcome.messages]))
    return out.fail(f"unknown record action {args.action!r}", EXIT_USAGE)


# --------------------------------------------------------------------------- design


def _design(args: argparse.Namespace, out: _Out) -> int:
    """The handoff to the Ensemble Designer: artifacts, approvals, rejections, notes."""
    from conductor_tui.core.loop import Conductor
    from conductor_tui.engine.row_run import candidates_for

    project = _project(args)
    conductor = Conductor(project)
    action = args.action
    if action == "list":
        listing = conductor.design_artifacts(candidates_for(project))
        items = [a.summary() for a in listing.artifacts]
        lines = [
            f"{a.id}  {a.kind:<8} {a.type:<19} {a.subject:<24} {a.state}" for a in listing.artifacts
        ] or ["no designer artifacts yet"]
        lines += [f"! {p}" for p in listing.problems]
        return out.done({"artifacts": items, "problems": listing.problems}, "\n".join(lines))
    if action == "request":
        art = conductor.request_ensemble(
            args.task_type,
            trigger="user-request",
            state="requested",
            repetition_count=args.repetitions,
            expected_output_format=args.output_format,
            context=args.context or "Requested by the user.",
            session=_session(args),
        )
        if art is not None and args.sample:
            from conductor_tui.core import designer as d

            data = dict(art.data)
            data["sample_inputs"] = list(dict.fromkeys([*args.sample, *(data.get("sample_inputs") or [])]))[
                :5
            ]
            d.Designer(project)._write(d.REQUESTS, art.id, data)
            art.data = data
        return out.done(
            {"ensemble_request": art.summary()},
            f"{art.id}\nEnsemble request for '{args.task_type}' ({art.state})",
        )
    if action in ("approve", "decline"):
        art = conductor.set_request_state(
            args.request_id, "requested" if action == "approve" else "declined", note=args.note
        )
        return out.done({"ensemble_request": art.summary()}, f"{art.id}: {art.state}")
    if action == "reject":
        prof = conductor.reject_design(args.task_type, args.reason)
        return out.done(
            {"task_type": args.task_type, "design_rejected": True, "rejection_reason": prof.rejection_reason},
            f"Designer determined '{args.task_type}' cannot be composed into an ensemble: "
            f"{prof.rejection_reason}. Marking as Claude-only.",
        )
    if action == "notes":
        notes, path = conductor.design_notes(args.task_type, candidates_for=candidates_for(project))
        from conductor_tui.core.designer import notes_text

        return out.done({"path": str(path), "notes": notes}, notes_text(notes) + f"\n(written to {path})")
    return out.fail(f"unknown design action {action!r}", EXIT_USAGE)
