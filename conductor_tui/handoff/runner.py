"""Running a requested ensemble headless (no cockpit open), through the engine (no Textual).

The same path as the cockpit's Run screen and ``conductor-tui run``:
:class:`conductor_tui.engine.row_run.RowRunner` admits the run (a session that fell back to
Claude, or an ensemble back in Design, is refused with the reason), builds a plan row's input
under its context strategy, runs it, judges a propose–judge ensemble, and records it through
the conductor loop. The outcome is posted to ``results.jsonl`` like the cockpit's would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from conductor_tui.handoff.protocol import RunEvent, RunRequest, post_result


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
    try:
        outcome = asyncio.run(_execute(Path(project), request, host=host))
    except Exception as exc:  # the engine reports most failures in the result; this is the rest
        outcome = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "duration_ms": int((time.monotonic() - t0) * 1000),
        }
    return post_result(project, request.id, by=by, **outcome)


def job_for(request: RunRequest) -> Any:
    """The :class:`~conductor_tui.engine.row_run.RowJob` of a session's run request."""
    from conductor_tui.engine.row_run import RowJob

    text = request.input or ""
    summary = text.strip().splitlines()[0][:120] if text.strip() else None
    return RowJob(
        ensemble=request.ensemble,
        input_text=text,
        task_type=request.task_type,
        task_summary=summary,
        session=request.session,
        plan_id=request.plan_id,
        row_id=request.row_id,
        request_id=request.id,
    )


def outcome_fields(outcome: Any) -> dict[str, Any]:
    """A row outcome as a run request's final event: a failed or refused run carries its
    error and no ``output`` (a session must never mistake an agent's text for the result)."""
    result = outcome.result
    fields: dict[str, Any] = {
        "status": "completed" if outcome.status == "completed" else outcome.status,
        "error": outcome.error if outcome.status != "completed" else None,
        "total_tokens": getattr(result, "total_tokens", None),
        "routing_id": getattr(outcome.decision, "id", None),
        "artifact": str(result.artifact) if result is not None and result.artifact else None,
        "duration_ms": getattr(result, "duration_ms", None),
    }
    if outcome.status == "completed":
        fields["output"] = outcome.deliverable
    if outcome.evaluation is not None:
        fields["evaluate"] = outcome.evaluation.evaluate
        fields["evaluation_reason"] = outcome.evaluation.reason
    if outcome.admission is not None:
        fields["reason"] = (
            outcome.admission.reason if outcome.admission.allowed else outcome.admission.message
        )
    return fields


async def _execute(project: Path, request: RunRequest, *, host: str | None) -> dict[str, Any]:
    from conductor_tui.engine.row_run import RowRunner

    runner = RowRunner(project, host=host)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, runner.cancel)
        loop.add_signal_handler(signal.SIGTERM, runner.cancel)
    try:
        outcome = await runner.run(job_for(request))
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
    return outcome_fields(outcome)
