"""Running a requested ensemble headless (no cockpit open), through the engine (no Textual).

The same path as ``conductor-tui run`` (its ``find_ensemble`` + ``run_async``): the
engine's catalog finds the ensemble, the executor runs it on Ollama (``$OLLAMA_HOST``)
and writes the llm-orc execution artifact, and
:func:`conductor_tui.engine.artifacts.record_run` logs the routing decision (with the
request's task type, session, plan and row) and its token savings.  The outcome is posted to ``results.jsonl`` like the cockpit's would be.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from conductor_tui.handoff.protocol import RunEvent, RunRequest, mark_row, post_result


def run_request_headless(
    project: str | os.PathLike[str],
    request: RunRequest,
    *,
    host: str | None = None,
    by: str = "headless",
) -> RunEvent:
    """Run ``request`` to the end here and post (and return) its final event."""
    t0 = time.monotonic()
    post_result(project, request.id, "running", by=by)
    mark_row(project, request.plan_id, request.row_id, "running")
    try:
        outcome = _execute(Path(project), request, host=host)
    except Exception as exc:  # the engine reports most failures in the result; this is the rest
        outcome = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "duration_ms": int((time.monotonic() - t0) * 1000),
        }
    event = post_result(project, request.id, by=by, **outcome)
    mark_row(
        project,
        request.plan_id,
        request.row_id,
        "done" if event.status == "completed" else "failed",
        routing_id=event.routing_id,
    )
    return event


def _execute(project: Path, request: RunRequest, *, host: str | None) -> dict[str, Any]:
    from conductor_tui.commands.run import find_ensemble, run_async

    entry, catalog, error = find_ensemble(project, request.ensemble)
    if entry is None or entry.spec is None:
        return {"status": "failed", "error": error or f"ensemble {request.ensemble!r} cannot be loaded"}
    blocking = [p for p in entry.spec.problems if getattr(p, "blocking", False)]
    if blocking:
        msg = "; ".join(str(p) for p in blocking)
        return {"status": "failed", "error": f"{entry.spec.name} cannot run here: {msg}"}
    result, decision = asyncio.run(
        run_async(
            entry,
            project,
            request.input,
            json_mode=True,  # headless: no live printing
            task_type=request.task_type,
            session=request.session,
            plan_id=request.plan_id,
            row_id=request.row_id,
            host=host,
            profiles=catalog.profiles,
        )
    )
    status = "completed" if result.status == "completed" else "failed"
    error = result.error
    if status == "failed" and not error:
        failed = result.failed_agents
        error = f"agent {failed[0].name} failed: {failed[0].error}" if failed else f"run {result.status}"
    return {
        "status": status,
        "output": result.deliverable,
        "error": error,
        "total_tokens": result.total_tokens,
        "routing_id": getattr(decision, "id", None),
        "artifact": str(result.artifact) if result.artifact else None,
        "duration_ms": result.duration_ms,
    }
