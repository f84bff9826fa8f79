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

This module is the one import path for all of it; the parts live in
:mod:`~conductor_tui.handoff.schema` (records, paths, errors), :mod:`~conductor_tui.handoff.plans`,
:mod:`~conductor_tui.handoff.presence` (the heartbeat) and :mod:`~conductor_tui.handoff.run_requests`.
"""

from conductor_tui.core.records import RowStatus, WorkflowPlan
from conductor_tui.handoff.plans import (
    append_revision,
    decide_rows,
    get_plan,
    is_plan_decided,
    mark_row,
    row_decision,
    row_view,
    session_plans,
    submit_plan,
    wait_for_decisions,
)
from conductor_tui.handoff.presence import cockpit_alive, cockpit_closed, cockpit_heartbeat
from conductor_tui.handoff.run_requests import (
    claim_owner,
    claim_requests,
    post_result,
    read_events,
    read_requests,
    request_run,
    request_state,
    try_claim,
    wait_for_result,
)
from conductor_tui.handoff.schema import (
    COCKPIT_FILE,
    CONDUCTOR_DIR,
    FINAL_STATUSES,
    HEARTBEAT_STALE_AFTER,
    PLANS_LOCK,
    REQUESTS_LOG,
    RESULTS_LOG,
    CockpitGone,
    HandoffError,
    HandoffTimeout,
    RunEvent,
    RunRequest,
    check_timeout,
    cockpit_path,
    conductor_dir,
    new_session_id,
    requests_path,
    results_path,
    session_from_env,
)

__all__ = [
    "COCKPIT_FILE",
    "CONDUCTOR_DIR",
    "FINAL_STATUSES",
    "HEARTBEAT_STALE_AFTER",
    "PLANS_LOCK",
    "REQUESTS_LOG",
    "RESULTS_LOG",
    "CockpitGone",
    "HandoffError",
    "HandoffTimeout",
    "RunEvent",
    "RowStatus",
    "RunRequest",
    "WorkflowPlan",
    "append_revision",
    "check_timeout",
    "claim_owner",
    "claim_requests",
    "cockpit_alive",
    "cockpit_closed",
    "cockpit_heartbeat",
    "cockpit_path",
    "conductor_dir",
    "decide_rows",
    "get_plan",
    "is_plan_decided",
    "mark_row",
    "new_session_id",
    "post_result",
    "read_events",
    "read_requests",
    "request_run",
    "request_state",
    "requests_path",
    "results_path",
    "row_decision",
    "row_view",
    "session_from_env",
    "session_plans",
    "submit_plan",
    "try_claim",
    "wait_for_decisions",
    "wait_for_result",
]
