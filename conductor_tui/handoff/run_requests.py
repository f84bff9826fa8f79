"""Run requests and their results: append a request, claim it under the results lock (the
first claim line wins), post events, and wait for a final one while watching the cockpit
that claimed it (no Textual).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from conductor_tui.core.store import append_jsonl, read_jsonl
from conductor_tui.handoff.presence import cockpit_alive
from conductor_tui.handoff.schema import (
    FINAL_STATUSES,
    HEARTBEAT_STALE_AFTER,
    CockpitGone,
    HandoffError,
    HandoffTimeout,
    RunEvent,
    RunRequest,
    check_timeout,
    conductor_dir,
    requests_path,
    results_path,
)


@contextlib.contextmanager
def _results_lock(project: str | os.PathLike[str]) -> Iterator[None]:
    lock = conductor_dir(project) / ".results.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def request_run(
    project: str | os.PathLike[str],
    ensemble: str,
    input_text: str,
    *,
    session: str | None = None,
    task_type: str | None = None,
    plan_id: str | None = None,
    row_id: str | None = None,
    requested_by: str = "session",
) -> RunRequest:
    """Append a run request and return it."""
    if not ensemble.strip():
        raise HandoffError("an ensemble name is required", code=2)
    req = RunRequest(
        ensemble=ensemble.strip(),
        input=input_text,
        session=session,
        task_type=task_type,
        plan_id=plan_id,
        row_id=row_id,
        requested_by=requested_by,
    )
    append_jsonl(requests_path(project), req.to_json_dict(), fsync=True)
    return req


def read_requests(project: str | os.PathLike[str]) -> list[RunRequest]:
    """Every run request. A line written without an ``id`` gets one derived from the line
    itself (:func:`~conductor_tui.core.store.derived_id`), the same on every read — so a
    cockpit claims and runs it once, never again on its next poll."""
    return read_jsonl(requests_path(project), RunRequest, derive_id="req-").records


def read_events(project: str | os.PathLike[str], request_id: str | None = None) -> list[RunEvent]:
    events = read_jsonl(results_path(project), RunEvent).records
    return [e for e in events if request_id is None or e.request_id == request_id]


def claim_owner(events: Iterable[RunEvent], request_id: str) -> str | None:
    """Who claimed ``request_id`` (the first claim line wins)."""
    for event in events:
        if event.request_id == request_id and event.status == "claimed":
            return event.by or "unknown"
    return None


def try_claim(project: str | os.PathLike[str], request_id: str, by: str) -> bool:
    """Claim one request for ``by`` (``cockpit`` / ``headless``); False if already claimed."""
    with _results_lock(project):
        if claim_owner(read_events(project), request_id) is not None:
            return False
        post_result(project, request_id, "claimed", by=by)
        return True


def claim_requests(project: str | os.PathLike[str], *, by: str = "cockpit") -> list[RunRequest]:
    """Claim every unclaimed request (the cockpit's poll); returns the ones now ours, oldest first."""
    requests = read_requests(project)
    if not requests:
        return []
    claimed: list[RunRequest] = []
    with _results_lock(project):
        events = read_events(project)
        taken = {e.request_id for e in events if e.status in ("claimed", *FINAL_STATUSES)}
        for req in requests:
            if req.id in taken:
                continue
            post_result(project, req.id, "claimed", by=by)
            claimed.append(req)
    return claimed


def post_result(
    project: str | os.PathLike[str],
    request_id: str,
    status: str,
    *,
    by: str | None = None,
    output: str | None = None,
    error: str | None = None,
    total_tokens: int | None = None,
    routing_id: str | None = None,
    artifact: str | None = None,
    duration_ms: int | None = None,
    **extra: Any,
) -> RunEvent:
    """Append an event about a request (``running``, ``completed``, ``failed`` …)."""
    event = RunEvent(
        request_id=request_id,
        status=status,
        by=by,
        output=output,
        error=error,
        total_tokens=total_tokens,
        routing_id=routing_id,
        artifact=artifact,
        duration_ms=duration_ms,
        **extra,
    )
    append_jsonl(results_path(project), event.to_json_dict(), fsync=status in FINAL_STATUSES)
    return event


def request_state(project: str | os.PathLike[str], request_id: str) -> tuple[str | None, RunEvent | None]:
    """(claimed by, newest event) of a request."""
    events = read_events(project, request_id)
    return claim_owner(events, request_id), (events[-1] if events else None)


def wait_for_result(
    project: str | os.PathLike[str],
    request_id: str,
    *,
    timeout: float | None = None,
    poll: float = 0.1,
    on_event: Callable[[RunEvent], None] | None = None,
    watch_cockpit: bool = True,
    stale_after: float = HEARTBEAT_STALE_AFTER,
) -> RunEvent:
    """Block until ``request_id`` has a final event; :class:`HandoffTimeout` otherwise.

    With ``watch_cockpit`` (the default), a request claimed by the cockpit whose heartbeat
    then stops (the cockpit died or was closed mid-run) raises :class:`CockpitGone`
    (code 5) instead of waiting forever."""
    timeout = check_timeout(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    offset, line = 0, 1
    last: RunEvent | None = None
    claimed_by: str | None = None
    next_check = time.monotonic() + 1.0
    while True:
        result = read_jsonl(results_path(project), RunEvent, offset, first_line=line)
        offset, line = result.end_offset, result.next_line
        for event in result.records:
            if event.request_id != request_id:
                continue
            last = event
            if event.status == "claimed" and claimed_by is None:
                claimed_by = event.by or "unknown"
            if on_event is not None:
                on_event(event)
            if event.final:
                return event
        if watch_cockpit and claimed_by == "cockpit" and time.monotonic() >= next_check:
            next_check = time.monotonic() + 1.0
            if cockpit_alive(project, stale_after=stale_after) is None:
                raise CockpitGone(
                    f"the cockpit that claimed request {request_id} is gone (no heartbeat) and did not "
                    f"finish it ({last.status if last else 'claimed'}); run it again with --headless",
                    state=last,
                )
        if deadline is not None and time.monotonic() >= deadline:
            state = last.status if last else "not claimed"
            raise HandoffTimeout(
                f"request {request_id} not finished after {timeout:g} s ({state})", state=last
            )
        time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))
