"""Workflow plans in the handoff: submit, revise under the plans lock (rebasing a
concurrent writer's revision), decide rows, mark rows' execution state, wait for the
decisions, and the row view the session sees (no Textual).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conductor_tui.core.records import RowStatus, WorkflowPlan, new_id, now_utc
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff.schema import PLANS_LOCK, HandoffError, HandoffTimeout, check_timeout


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
        latest = store.latest_plan(new.id)
        if latest is not None and base is not None and latest.revision != base.revision:
            new = _rebase(base, new, latest)
        if latest is not None:
            new = new.model_copy(update={"revision": latest.revision + 1})
        return store.append_plan(new)


def get_plan(
    project: str | os.PathLike[str], plan_id: str, *, store: ProjectStore | None = None
) -> WorkflowPlan | None:
    """The newest revision of ``plan_id``, or ``None``."""
    return (store or ProjectStore(project)).latest_plan(plan_id)


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


def _row_copies(plan: WorkflowPlan) -> WorkflowPlan:
    """A copy of ``plan`` whose rows can be changed (their scalar fields) without touching
    ``plan``: a deep copy of a 100-row plan costs ~10 ms, this a tenth of it."""
    return plan.model_copy(update={"subtasks": [row.model_copy() for row in plan.subtasks]})


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
    plan = store.latest_plan(plan_id)
    if plan is None:
        raise HandoffError(f"no plan {plan_id!r}", code=2)
    new = _row_copies(plan)
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
    plan = store.latest_plan(plan_id)
    if plan is None:
        return None
    for row in plan.subtasks:
        if row.id != row_id:
            continue
        if row.status == status and (routing_id is None or row.routing_id == routing_id):
            return None
        new = _row_copies(plan)
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
