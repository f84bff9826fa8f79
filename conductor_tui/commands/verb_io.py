"""What every session verb shares: exit codes, the one-JSON-object-or-text output, the project
and session an invocation is about, standard input, and how a plan's rows are shown."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conductor_tui.core.text import safe_text

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_TIMEOUT, EXIT_FAILED, EXIT_COCKPIT_GONE = 0, 1, 2, 3, 4, 5


class Out:
    """A verb's output: one JSON object with ``--json``, else text for people (errors on stderr)."""

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


def project_of(args: argparse.Namespace) -> Path:
    """``--project``, else the nearest folder with ``.llm-orc/`` at or above the cwd."""
    from conductor_tui.core.locations import find_project

    return Path(args.project).expanduser().resolve() if args.project else find_project()


def session_of(args: argparse.Namespace) -> str | None:
    """``--session``, else ``$CONDUCTOR_SESSION`` (see the glossary: session)."""
    from conductor_tui.handoff.protocol import session_from_env

    return getattr(args, "session", None) or session_from_env()


def read_input(value: str | None) -> str:
    """An option's text, or standard input for ``-``."""
    if value == "-":
        return sys.stdin.read()
    return value or ""


def rows_text(plan: Any) -> str:
    """A plan's rows, one line each: number, status, description, handler, note."""
    from conductor_tui.handoff.protocol import row_view

    lines = []
    for r in row_view(plan):
        handler = r["handler"] or "?"
        if r["original_handler"] and r["original_handler"] != r["handler"]:
            handler += f" (was {r['original_handler']})"
        note = f"  — {r['note']}" if r["note"] else ""
        lines.append(f"  {r['number']}. [{r['status']}] {r['description']} → {handler}{note}")
    return "\n".join(lines)


def plan_payload(plan: Any) -> dict[str, Any]:
    """A plan as the session reads it in JSON."""
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
