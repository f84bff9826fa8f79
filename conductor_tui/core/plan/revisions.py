"""Plan decisions as pure functions: each returns a NEW revision (``revision + 1``, a
``change`` text, ``decided_at`` on the rows it touched); the caller persists it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from conductor_tui.core.plan.rows import (
    Clock,
    PlanError,
    _utcnow,
    effective_handler,
    handler_kind,
    is_decided,
    is_final,
    normalise_handler,
)
from conductor_tui.core.records import (
    PlanRow,
    RowStatus,
    WorkflowPlan,
)

# --------------------------------------------------------------------------- revisions


def _find(plan: WorkflowPlan, row_id: str) -> int:
    for index, row in enumerate(plan.subtasks):
        if row.id == row_id:
            return index
    raise PlanError(f"plan {plan.id} has no row {row_id!r}")


def row_number(plan: WorkflowPlan, row_id: str) -> int:
    """1-based position of a row (what the table's # column shows)."""
    return _find(plan, row_id) + 1


def next_revision(
    plan: WorkflowPlan, rows: list[PlanRow], change: str, clock: Clock = _utcnow
) -> WorkflowPlan:
    """A new revision of ``plan`` with ``rows``; status follows the rows' decisions."""
    new = plan.model_copy(deep=True)
    new.subtasks = [r.model_copy(deep=True) for r in rows]
    new.revision = plan.revision + 1
    new.timestamp = clock()
    new.change = change
    if plan.status in {"proposed", "decided"}:
        new.status = "decided" if rows and all(is_decided(r) for r in rows) else "proposed"
    return new


def _update_rows(
    plan: WorkflowPlan,
    row_ids: Iterable[str],
    change: str,
    clock: Clock,
    mutate: Callable[[PlanRow], None],
) -> WorkflowPlan:
    wanted = list(row_ids)
    indexes = {_find(plan, rid) for rid in wanted}
    if not indexes:
        raise PlanError("no rows to change")
    now = clock()
    rows = []
    for index, row in enumerate(plan.subtasks):
        row = row.model_copy(deep=True)
        if index in indexes:
            mutate(row)
            row.decided_at = now
        rows.append(row)
    return next_revision(plan, rows, change, lambda: now)


def decide(
    plan: WorkflowPlan,
    row_ids: Iterable[str],
    status: RowStatus,
    clock: Clock = _utcnow,
    *,
    change: str | None = None,
) -> WorkflowPlan:
    """Set the decision (approved / rejected / pending) of the given rows."""
    ids = list(row_ids)
    status = RowStatus(status)
    for rid in ids:
        row = plan.subtasks[_find(plan, rid)]
        if is_final(row):
            raise PlanError(
                f"#{row_number(plan, rid)} is {RowStatus(row.status).value}: its decision is final "
                f"(approve, reject and undo only change rows that have not run)"
            )

    def mutate(row: PlanRow) -> None:
        row.status = status

    if change is None:
        numbers = ", ".join(f"#{row_number(plan, rid)}" for rid in ids)
        change = f"{status.value} {numbers}"
    return _update_rows(plan, ids, change, clock, mutate)


def approve(plan: WorkflowPlan, row_id: str, clock: Clock = _utcnow) -> WorkflowPlan:
    return decide(plan, [row_id], RowStatus.APPROVED, clock)


def reject(plan: WorkflowPlan, row_id: str, clock: Clock = _utcnow) -> WorkflowPlan:
    return decide(plan, [row_id], RowStatus.REJECTED, clock)


def bulk_decide(
    plan: WorkflowPlan,
    status: RowStatus,
    clock: Clock = _utcnow,
    row_ids: Iterable[str] | None = None,
) -> WorkflowPlan:
    """Decide many rows at once: ``row_ids``, or every still-pending row."""
    if row_ids is None:
        ids = [r.id for r in plan.subtasks if r.status == RowStatus.PENDING]
    else:
        ids = list(row_ids)
    if not ids:
        raise PlanError("no pending rows to decide")
    status = RowStatus(status)
    return decide(plan, ids, status, clock, change=f"{status.value} {len(ids)} rows (bulk)")


def override_handler(plan: WorkflowPlan, row_id: str, handler: str, clock: Clock = _utcnow) -> WorkflowPlan:
    """Route a row elsewhere (an ensemble name, ``claude`` or ``create-ensemble``).

    The proposed handler is kept in ``original_handler`` (first override only)."""
    handler = handler.strip()
    if not handler:
        raise PlanError("a handler is required")
    new_handler = normalise_handler(handler)
    index = _find(plan, row_id)
    old = effective_handler(plan.subtasks[index])

    def mutate(row: PlanRow) -> None:
        if row.original_handler is None:
            row.original_handler = old
        row.handler = new_handler

    return _update_rows(plan, [row_id], f"override #{index + 1}: {old} → {new_handler}", clock, mutate)


def send_to_claude_for_capacity(
    plan: WorkflowPlan, row_id: str, reason: str, clock: Clock = _utcnow
) -> WorkflowPlan:
    """The person sends a row whose ensemble would spill or queue to Claude: handler
    ``claude``, the proposed handler kept in ``original_handler``, ``route_reason:
    "capacity: <reason>"`` (``record claude-task`` for the row then logs reason ``capacity``)."""
    index = _find(plan, row_id)
    old = effective_handler(plan.subtasks[index])
    if handler_kind(old) != "ensemble":
        raise PlanError(f"row #{index + 1} is not routed to an ensemble ({old})")

    def mutate(row: PlanRow) -> None:
        if row.original_handler is None:
            row.original_handler = old
        row.handler = "claude"
        row.route_reason = f"capacity: {reason}"
        row.capacity = None

    return _update_rows(plan, [row_id], f"capacity #{index + 1}: {old} → claude", clock, mutate)


def edit_description(plan: WorkflowPlan, row_id: str, text: str, clock: Clock = _utcnow) -> WorkflowPlan:
    text = " ".join(text.split())
    if not text:
        raise PlanError("a subtask needs a description")
    index = _find(plan, row_id)
    if plan.subtasks[index].description == text:
        raise PlanError("unchanged")

    def mutate(row: PlanRow) -> None:
        row.description = text

    return _update_rows(plan, [row_id], f"edit #{index + 1}", clock, mutate)


def attach_note(plan: WorkflowPlan, row_id: str, note: str, clock: Clock = _utcnow) -> WorkflowPlan:
    note = note.strip()
    index = _find(plan, row_id)

    def mutate(row: PlanRow) -> None:
        row.note = note or None

    verb = "note" if note else "clear note"
    return _update_rows(plan, [row_id], f"{verb} #{index + 1}", clock, mutate)


def set_row_status(
    plan: WorkflowPlan,
    row_id: str,
    status: RowStatus,
    clock: Clock = _utcnow,
    *,
    routing_id: str | None = None,
) -> WorkflowPlan:
    """Record a row's execution state (running / done / failed) and the run it produced."""
    index = _find(plan, row_id)
    status = RowStatus(status)

    def mutate(row: PlanRow) -> None:
        row.status = status
        if routing_id is not None:
            row.routing_id = routing_id

    return _update_rows(plan, [row_id], f"{status.value} #{index + 1}", clock, mutate)
