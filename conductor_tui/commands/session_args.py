"""The argument parsers of the session verbs (plan, request-run, request-result, record,
design, design-notes) and the argument types they share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

VERBS = ("plan", "request-run", "request-result", "record", "design", "design-notes")
EVALUATORS = ("claude", "human")
EVAL_PHASES = ("calibrate", "establish", "trust", "triggered")


def seconds(text: str) -> float:
    """argparse type for a timeout: a finite number ≥ 0 (``nan``, ``inf``, ``-1`` → usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds ≥ 0, not {text!r}")
    return value


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """argparse type for a whole number between ``lo`` and ``hi``."""

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


def common(p: argparse.ArgumentParser, *, session: bool = True) -> None:
    """``--project``, ``--json`` and (unless ``session=False``) ``--session``."""
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
        _plan_arguments(p)
    elif name == "request-run":
        _request_run_arguments(p)
    elif name == "request-result":
        p.add_argument("request_id")
        p.add_argument("--timeout", type=seconds, default=None, metavar="S")
        common(p, session=False)
    elif name == "record":
        sub = p.add_subparsers(dest="action", metavar="WHAT", required=True)
        _claude_task_arguments(
            sub.add_parser("claude-task", help="log a subtask Claude handled (debt and savings figures)")
        )
        _evaluation_arguments(sub.add_parser("evaluation", help="log an evaluation of an ensemble's output"))
    elif name == "design-notes":
        p.set_defaults(verb="design", action="notes")
        p.add_argument("task_type", help="the task type")
        common(p, session=False)
    elif name == "design":
        _design_arguments(p)


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("submit", help="submit a plan (JSON/YAML file, or - for stdin) and print its id")
    s.add_argument("file", nargs="?", default="-", help="plan file, or - for standard input (default)")
    common(s)
    w = sub.add_parser("wait", help="wait until every row of a plan is decided; print the rows")
    w.add_argument("plan_id")
    w.add_argument(
        "--timeout", type=seconds, default=None, metavar="S", help="give up after S seconds (exit 3)"
    )
    common(w)
    sh = sub.add_parser("show", help="print a plan's newest revision")
    sh.add_argument("plan_id")
    common(sh)
    ls = sub.add_parser("list", help="list plans (of one session with --session)")
    common(ls)
    ft = sub.add_parser(
        "from-task", help="let Claude decompose a meta-task into a plan (needs ANTHROPIC_API_KEY)"
    )
    ft.add_argument("meta_task", help="the meta-task, or - to read it from standard input")
    common(ft)


def _request_run_arguments(p: argparse.ArgumentParser) -> None:
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
    common(p)


def _claude_task_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--task-type", required=True)
    c.add_argument(
        "--tokens", type=bounded_int(0, 10**12), required=True, help="Claude tokens the subtask took"
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
    common(c)


def _evaluation_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("--ensemble", required=True)
    e.add_argument("--score", required=True, help="good | acceptable | poor")
    e.add_argument("--reasoning", default=None, help="the reflection (written before the score)")
    e.add_argument(
        "--failure-mode", default=None, help="hallucination | incomplete | wrong-format | off-topic"
    )
    e.add_argument("--routing-id", default=None)
    e.add_argument("--input-summary", default=None)
    e.add_argument("--output-length", type=bounded_int(0, 10**12), default=None)
    e.add_argument("--task-type", default=None)
    e.add_argument("--evaluator", default="claude", help=" | ".join(EVALUATORS) + " (default: claude)")
    e.add_argument("--phase", default=None, help=" | ".join(EVAL_PHASES) + " (default: worked out)")
    e.add_argument("--user-feedback", default=None)
    e.add_argument("--judge-tokens", type=bounded_int(0, 10**12), default=None)
    e.add_argument(
        "--per-model",
        action="append",
        default=None,
        metavar="MODEL=correct|incorrect",
        help="complementary ensembles: each model's verdict (repeat the option per model)",
    )
    common(e)


def _design_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the designer artifacts (requests, feedback) with their state")
    common(ls, session=False)
    rq = sub.add_parser("request", help="ask the designer for an ensemble for a task type (user request)")
    rq.add_argument("task_type")
    rq.add_argument("--sample", action="append", default=None, help="a sample input (repeatable)")
    rq.add_argument("--output-format", default=None)
    rq.add_argument("--repetitions", type=int, default=None, metavar="N")
    rq.add_argument("--context", default=None)
    common(rq)
    for verb, what in (
        ("approve", "approve a proposed request (hand it to the designer)"),
        ("decline", "decline a proposed request"),
    ):
        a = sub.add_parser(verb, help=what)
        a.add_argument("request_id")
        a.add_argument("--note", default=None)
        common(a, session=False)
    rj = sub.add_parser("reject", help="record the designer's rejection: the task type becomes Claude-only")
    rj.add_argument("task_type")
    rj.add_argument("--reason", required=True)
    common(rj, session=False)
    nt = sub.add_parser("notes", help="design knowledge for a task type (what worked, failure modes)")
    nt.add_argument("task_type")
    common(nt, session=False)
