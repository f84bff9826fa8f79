"""The file protocol between a coding session (Claude Code) and the cockpit (no Textual).

Everything lives under ``<project>/.llm-orc/`` and is append-only (one locked write per
line, :func:`conductor_tui.core.store.append_jsonl`), so the session, the cockpit and
headless runs can write at the same time:

``evaluations/workflow-plans.jsonl``
    Plan revisions (:class:`WorkflowPlan`).  The session appends revision 1
    (``source="session"``, ``session=<id>``, every row ``pending``); the cockpit appends
    each decision as a new revision (rows ``approved`` / ``rejected``, ``handler``
    overridden, ``note``).  The newest revision of an id is the plan.  A plan is decided
    when no row is ``pending``.  Plan ids are unique, and each plan carries its session, so
    two sessions on one project never read each other's decisions.

``conductor/requests.jsonl``
    Run requests (:class:`RunRequest`): ``{id, ensemble, input, session, task_type,
    plan_id, row_id}``.

``conductor/results.jsonl``
    Events about requests (:class:`RunEvent`): ``claimed`` (by ``cockpit`` or
    ``headless``; the FIRST claim line of a request wins — claims are made under a lock by
    :func:`try_claim`), then optionally ``running``, then ``completed`` / ``failed`` /
    ``cancelled`` with output, tokens, routing id, artifact, error.

``conductor/cockpit.json``
    The cockpit's heartbeat ``{pid, host, project, started, heartbeat}`` written
    atomically by :func:`cockpit_heartbeat` every second or two while the cockpit is open,
    removed by :func:`cockpit_closed`.  :func:`cockpit_alive` treats it as stale after
    ``stale_after`` seconds, or when the pid is gone on this host.

The cockpit's side (call from a Textual thread worker or ``asyncio.to_thread``; every
function is a short, blocking file operation):
``cockpit_heartbeat(project)`` on a timer; ``claim_requests(project)`` on the same timer
→ requests to run; ``post_result(project, request_id, "running" | "completed" | "failed",
…)``; plan decisions through ``core.plan`` + ``store.append_plan`` (or :func:`decide_rows`);
``cockpit_closed(project)`` on exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from conductor_tui.core.records import (
    Record,
    RowStatus,
    Timestamp,
    WorkflowPlan,
    new_id,
    now_utc,
)
from conductor_tui.core.store import ProjectStore, append_jsonl, atomic_write_text, read_jsonl

CONDUCTOR_DIR = "conductor"
REQUESTS_LOG = "requests.jsonl"
RESULTS_LOG = "results.jsonl"
COCKPIT_FILE = "cockpit.json"
PLANS_LOCK = "plans"  # ProjectStore.lock name for every plan read-modify-append
HEARTBEAT_STALE_AFTER = 6.0  # seconds without a heartbeat → the cockpit is gone

FINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "refused"})


class HandoffError(Exception):
    """A handoff operation that cannot proceed; ``code`` is the CLI exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CockpitGone(HandoffError):
    """The cockpit that claimed a request stopped (no heartbeat) before finishing it."""

    def __init__(self, message: str, state: Any = None) -> None:
        super().__init__(message, code=5)
        self.state = state


def check_timeout(value: float | None, name: str = "timeout") -> float | None:
    """``value`` when it is ``None`` or a finite number ≥ 0; else :class:`HandoffError`
    (code 2) — ``nan`` would wait forever, a negative or infinite one is a mistake."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise HandoffError(f"{name} must be a finite number of seconds ≥ 0, not {value!r}", code=2)
    return float(value)


class HandoffTimeout(HandoffError):
    """Waiting ran out of time; ``state`` is what was known at that moment."""

    def __init__(self, message: str, state: Any = None) -> None:
        super().__init__(message, code=3)
        self.state = state


# --------------------------------------------------------------------------- records


class RunRequest(Record):
    """One line of ``conductor/requests.jsonl``."""

    id: str = Field(default_factory=lambda: new_id("req-"))
    timestamp: Timestamp = Field(default_factory=now_utc)
    ensemble: str = ""
    input: str = ""
    session: str | None = None
    task_type: str | None = None
    plan_id: str | None = None
    row_id: str | None = None
    requested_by: str = "session"


class RunEvent(Record):
    """One line of ``conductor/results.jsonl``."""

    request_id: str
    timestamp: Timestamp = Field(default_factory=now_utc)
    status: str  # claimed | running | completed | failed | cancelled
    by: str | None = None  # cockpit | headless
    output: str | None = None
    error: str | None = None
    total_tokens: int | None = None
    routing_id: str | None = None
    artifact: str | None = None
    duration_ms: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


# --------------------------------------------------------------------------- paths


def conductor_dir(project: str | os.PathLike[str]) -> Path:
    return Path(project) / ".llm-orc" / CONDUCTOR_DIR


def requests_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / REQUESTS_LOG


def results_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / RESULTS_LOG


def cockpit_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / COCKPIT_FILE


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


def new_session_id() -> str:
    return new_id("s-")


def session_from_env() -> str | None:
    """The session id a coding session set for itself (``CONDUCTOR_SESSION``)."""
    return os.environ.get("CONDUCTOR_SESSION") or None


# --------------------------------------------------------------------------- plans


def submit_plan(
    project: str | os.PathLike[str],
    plan: WorkflowPlan,
    *,
    session: str | None = None,
    source: str = "session",
    store: ProjectStore | None = None,
) -> WorkflowPlan:
    """Persist ``plan`` as a new plan (revision 1, every row pending) and return it as written.

    A plan id already in the log is replaced by a fresh one (a resubmission never merges
    into someone else's plan); duplicate row ids are made unique."""
    store = store or ProjectStore(project)
    plan = plan.model_copy(deep=True)
    with store.lock(PLANS_LOCK):
        existing = set(store.latest_plans())
        if not plan.id or plan.id in existing:
            plan.id = new_id("plan-")
        return store.append_plan(_fresh_plan(plan, session=session, source=source))


def _fresh_plan(plan: WorkflowPlan, *, session: str | None, source: str) -> WorkflowPlan:
    plan.revision = 1
    plan.timestamp = now_utc()
    plan.session = session or plan.session
    plan.source = source
    plan.status = "proposed"
    plan.change = plan.change or f"submitted by {source}"
    seen: set[str] = set()
    for row in plan.subtasks:
        if not row.id or row.id in seen:
            row.id = new_id("r-")
        seen.add(row.id)
        row.status = RowStatus.PENDING
        row.decided_at = None
    return plan


def _rebase(base: WorkflowPlan, new: WorkflowPlan, latest: WorkflowPlan) -> WorkflowPlan:
    """``new`` was made from ``base``, but ``latest`` was written since: apply what
    ``new`` changed (rows and plan fields that differ from ``base``) on top of ``latest``."""
    out = latest.model_copy(deep=True)
    base_rows = {r.id: r for r in base.subtasks}
    new_ids = {r.id for r in new.subtasks}
    rows = {r.id: r for r in out.subtasks}
    for row in new.subtasks:
        old = base_rows.get(row.id)
        if old is None or row != old:
            rows[row.id] = row.model_copy(deep=True)
    removed = set(base_rows) - new_ids
    order = [r.id for r in out.subtasks]
    order += [r.id for r in new.subtasks if r.id not in order]
    out.subtasks = [rows[i] for i in order if i not in removed]
    for name in type(new).model_fields:
        if name in ("revision", "subtasks"):
            continue
        if getattr(new, name) != getattr(base, name):
            setattr(out, name, getattr(new, name))
    if out.status in ("proposed", "decided"):  # the merged rows decide it, not either side
        out.status = "decided" if is_plan_decided(out) else "proposed"
    return out


def append_revision(store: ProjectStore, base: WorkflowPlan | None, new: WorkflowPlan) -> WorkflowPlan:
    """Append ``new`` (a revision made from ``base``) as ONE critical section under the
    store's plans lock, across processes: when another writer appended a revision since
    ``base``, ``new``'s changes are applied on top of it (nothing lost) and it gets the next
    revision number (never a duplicate). Returns the revision as written."""
    if base is not None and base.id != new.id:
        base = None
    with store.lock(PLANS_LOCK):
        latest = store.latest_plans().get(new.id)
        if latest is not None and base is not None and latest.revision != base.revision:
            new = _rebase(base, new, latest)
        if latest is not None:
            new = new.model_copy(update={"revision": latest.revision + 1})
        return store.append_plan(new)


def get_plan(
    project: str | os.PathLike[str], plan_id: str, *, store: ProjectStore | None = None
) -> WorkflowPlan | None:
    """The newest revision of ``plan_id``, or ``None``."""
    return (store or ProjectStore(project)).latest_plans().get(plan_id)


def session_plans(
    project: str | os.PathLike[str], session: str | None, *, store: ProjectStore | None = None
) -> list[WorkflowPlan]:
    """Newest revisions of the plans of one session (all plans when ``session`` is None)."""
    plans = (store or ProjectStore(project)).latest_plans().values()
    return [p for p in plans if session is None or p.session == session]


def is_plan_decided(plan: WorkflowPlan) -> bool:
    """No row is pending (and there is at least one row), or the plan was abandoned."""
    if plan.status == "abandoned":
        return True
    return bool(plan.subtasks) and all(r.status != RowStatus.PENDING for r in plan.subtasks)


def wait_for_decisions(
    project: str | os.PathLike[str],
    plan_id: str,
    *,
    timeout: float | None = None,
    poll: float = 0.1,
    session: str | None = None,
    on_change: Callable[[WorkflowPlan], None] | None = None,
) -> WorkflowPlan:
    """Block until every row of ``plan_id`` is decided; return that revision.

    Reads the plans log incrementally (from the last offset).  Raises
    :class:`HandoffError` (code 2) for an unknown plan or another session's plan, and
    :class:`HandoffTimeout` (its ``state`` = the newest revision) when time runs out."""
    timeout = check_timeout(timeout)
    store = ProjectStore(project)
    deadline = None if timeout is None else time.monotonic() + timeout
    offset, line = 0, 1
    latest: WorkflowPlan | None = None
    while True:
        result = store.read_plans(offset, first_line=line)
        offset, line = result.end_offset, result.next_line
        changed = False
        for plan in result.records:
            if plan.id == plan_id and (latest is None or plan.revision >= latest.revision):
                latest = plan
                changed = True
        if latest is None:
            raise HandoffError(f"no plan {plan_id!r} in {store.plans_path}", code=2)
        if session and latest.session and latest.session != session:
            raise HandoffError(
                f"plan {plan_id!r} belongs to session {latest.session!r}, not {session!r}", code=2
            )
        if changed and on_change is not None:
            on_change(latest)
        if is_plan_decided(latest):
            return latest
        if deadline is not None and time.monotonic() >= deadline:
            pending = sum(1 for r in latest.subtasks if r.status == RowStatus.PENDING)
            raise HandoffTimeout(
                f"plan {plan_id} still has {pending} pending row(s) after {timeout:g} s", state=latest
            )
        time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))


def decide_rows(
    project: str | os.PathLike[str],
    plan_id: str,
    decisions: Mapping[str, str | RowStatus | Mapping[str, Any]],
    *,
    change: str | None = None,
    store: ProjectStore | None = None,
) -> WorkflowPlan:
    """Append a revision of ``plan_id`` with the given row decisions (what the cockpit does
    when the person approves / rejects / overrides).  A decision is a status, or a mapping
    ``{status, handler, note}``."""
    store = store or ProjectStore(project)
    with store.lock(PLANS_LOCK):  # read, decide, append: one critical section
        return _decide_rows_locked(store, plan_id, decisions, change)


def _decide_rows_locked(
    store: ProjectStore,
    plan_id: str,
    decisions: Mapping[str, str | RowStatus | Mapping[str, Any]],
    change: str | None,
) -> WorkflowPlan:
    plan = store.latest_plans().get(plan_id)
    if plan is None:
        raise HandoffError(f"no plan {plan_id!r}", code=2)
    new = plan.model_copy(deep=True)
    known = {r.id for r in new.subtasks}
    unknown = [rid for rid in decisions if rid not in known]
    if unknown:
        raise HandoffError(f"plan {plan_id} has no row(s) {', '.join(unknown)}", code=2)
    now = now_utc()
    for row in new.subtasks:
        if row.id not in decisions:
            continue
        decision = decisions[row.id]
        spec = dict(decision) if isinstance(decision, Mapping) else {"status": decision}
        if spec.get("status") is not None:
            row.status = RowStatus(str(getattr(spec["status"], "value", spec["status"])))
        if spec.get("handler"):
            if row.original_handler is None:
                row.original_handler = row.handler
            row.handler = str(spec["handler"])
        if "note" in spec:
            row.note = spec["note"] or None
        row.decided_at = now
    new.revision = plan.revision + 1
    new.timestamp = now
    new.change = change or "decided " + ", ".join(decisions)
    if new.status in ("proposed", "decided"):
        new.status = "decided" if is_plan_decided(new) else "proposed"
    written = store.append_plan(new)
    from conductor_tui.core.loop import Conductor

    project = store.project if store.project is not None else Path(".")
    Conductor(project, store=store).note_plan_decisions(written)  # approved gaps → ensemble requests
    return written


def mark_row(
    project: str | os.PathLike[str],
    plan_id: str | None,
    row_id: str | None,
    status: str | RowStatus,
    *,
    routing_id: str | None = None,
    store: ProjectStore | None = None,
) -> WorkflowPlan | None:
    """Record a row's execution state (running / done / failed) as a new plan revision.

    A no-op (``None``) when the plan or row is unknown, or already in that state with that
    routing id — so the cockpit and a headless run can both call it safely."""
    if not plan_id or not row_id:
        return None
    store = store or ProjectStore(project)
    status = RowStatus(getattr(status, "value", status))
    with store.lock(PLANS_LOCK):  # read, change, append: one critical section
        return _mark_row_locked(store, plan_id, row_id, status, routing_id)


def _mark_row_locked(
    store: ProjectStore, plan_id: str, row_id: str, status: RowStatus, routing_id: str | None
) -> WorkflowPlan | None:
    plan = store.latest_plans().get(plan_id)
    if plan is None:
        return None
    for row in plan.subtasks:
        if row.id != row_id:
            continue
        if row.status == status and (routing_id is None or row.routing_id == routing_id):
            return None
        new = plan.model_copy(deep=True)
        for target in new.subtasks:
            if target.id == row_id:
                target.status = status
                if routing_id is not None:
                    target.routing_id = routing_id
        new.revision = plan.revision + 1
        new.timestamp = now_utc()
        new.change = f"{status.value} {row_id}"
        return store.append_plan(new)
    return None


def row_decision(project: str | os.PathLike[str], plan_id: str | None, row_id: str | None) -> Any:
    """The row ``row_id`` of the newest revision of ``plan_id`` (``None`` if unknown)."""
    if not plan_id or not row_id:
        return None
    plan = get_plan(project, plan_id)
    if plan is None:
        return None
    return next((r for r in plan.subtasks if r.id == row_id), None)


def row_view(plan: WorkflowPlan) -> list[dict[str, Any]]:
    """The rows as the session sees them (JSON-ready)."""
    out = []
    for number, row in enumerate(plan.subtasks, start=1):
        out.append(
            {
                "number": number,
                "id": row.id,
                "description": row.description,
                "task_type": row.task_type,
                "delegability_category": _plain(row.delegability_category),
                "handler": row.handler,
                "original_handler": row.original_handler,
                "preparation_ensemble": row.preparation_ensemble,
                "status": _plain(row.status),
                "note": row.note,
                "depends_on": list(row.depends_on),
                "route_reason": row.route_reason,
                "decided_by": row.decided_by,
                "routing_id": row.routing_id,
            }
        )
    return out


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


# --------------------------------------------------------------------------- cockpit presence


def cockpit_heartbeat(
    project: str | os.PathLike[str], *, pid: int | None = None, started: float | None = None
) -> None:
    """Say "a cockpit is open on this project" (call every 1–2 s from the cockpit)."""
    path = cockpit_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = _read_cockpit(path)
    now = time.time()
    if started is None:
        started = previous.get("started", now) if previous.get("pid") == (pid or os.getpid()) else now
    data = {
        "pid": pid or os.getpid(),
        "host": socket.gethostname(),
        "project": str(Path(project).resolve()),
        "started": started,
        "heartbeat": now,
    }
    atomic_write_text(path, json.dumps(data) + "\n")


def cockpit_closed(project: str | os.PathLike[str], *, pid: int | None = None) -> None:
    """Remove the heartbeat file (only our own: another cockpit may have taken over)."""
    path = cockpit_path(project)
    data = _read_cockpit(path)
    if data and data.get("pid") not in (None, pid or os.getpid()):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read_cockpit(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cockpit_alive(
    project: str | os.PathLike[str], *, stale_after: float = HEARTBEAT_STALE_AFTER
) -> dict[str, Any] | None:
    """The heartbeat of the cockpit open on ``project``, or ``None`` when there is none
    (no file, stale heartbeat, or its process is gone on this host)."""
    data = _read_cockpit(cockpit_path(project))
    beat = data.get("heartbeat")
    if not isinstance(beat, int | float) or time.time() - beat > stale_after:
        return None
    if data.get("host") == socket.gethostname() and not _pid_alive(data.get("pid")):
        return None
    return data


# --------------------------------------------------------------------------- run requests


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
