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

The verbs live by group: :mod:`~conductor_tui.commands.plan_verbs`,
:mod:`~conductor_tui.commands.run_verbs`, :mod:`~conductor_tui.commands.record_verbs`,
:mod:`~conductor_tui.commands.design_verbs`; their parsers in
:mod:`~conductor_tui.commands.session_args`, the shared output in
:mod:`~conductor_tui.commands.verb_io`.
"""

from __future__ import annotations

import argparse

from conductor_tui.commands.design_verbs import design
from conductor_tui.commands.plan_verbs import plan
from conductor_tui.commands.record_verbs import record
from conductor_tui.commands.run_verbs import request_result, request_run
from conductor_tui.commands.session_args import EVAL_PHASES, EVALUATORS, VERBS, add_arguments, seconds
from conductor_tui.commands.verb_io import (
    EXIT_COCKPIT_GONE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_OTHER,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Out,
    plan_payload,
)

__all__ = [
    "EVALUATORS",
    "EVAL_PHASES",
    "EXIT_COCKPIT_GONE",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_OTHER",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "VERBS",
    "add_arguments",
    "main",
    "seconds",
]


def main(args: argparse.Namespace) -> int:
    out = Out(bool(getattr(args, "json", False)))
    from conductor_tui.core.store import StoreError
    from conductor_tui.handoff.protocol import HandoffError, HandoffTimeout

    verb = getattr(args, "verb", None)
    try:
        if verb == "plan":
            return plan(args, out)
        if verb == "request-run":
            return request_run(args, out)
        if verb == "request-result":
            return request_result(args, out)
        if verb == "record":
            return record(args, out)
        if verb == "design":
            return design(args, out)
    except HandoffTimeout as exc:
        payload = plan_payload(exc.state) if hasattr(exc.state, "subtasks") else {}
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
