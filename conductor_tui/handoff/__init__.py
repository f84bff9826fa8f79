"""The protocol with the coding session (files + CLI verbs). No Textual.

Public API (see :mod:`conductor_tui.handoff.protocol` for the file formats):

* plans: :func:`submit_plan`, :func:`get_plan`, :func:`session_plans`,
  :func:`wait_for_decisions`, :func:`decide_rows`, :func:`is_plan_decided`, :func:`row_view`,
  :func:`mark_row` (running / done / failed), :func:`row_decision`;
* runs: :func:`request_run`, :func:`claim_requests`, :func:`try_claim`, :func:`post_result`,
  :func:`wait_for_result`, :func:`request_state`, :func:`run_request_headless`;
* the cockpit's side in one object: :class:`CockpitLink` (``tick()`` → new plans + claimed
  requests, ``started`` / ``finished`` / ``failed``, ``close``);
* cockpit presence: :func:`cockpit_heartbeat`, :func:`cockpit_alive`, :func:`cockpit_closed`;
* Claude as planner: :func:`plan_meta_task` (context → Claude → rules → pending plan persisted,
  planning tokens logged), :func:`available_ensembles`;
* records: :func:`record_claude_task`, :func:`record_evaluation`,
  :func:`record_judge_verdict`, :func:`evaluation_from_verdict`,
  :func:`judge_run` (judge + record, for the cockpit's worker), :func:`record_claude_overhead`.
"""

from typing import Any

from conductor_tui.handoff.cockpit import CockpitLink, LinkUpdate
from conductor_tui.handoff.planning import available_ensembles, plan_meta_task
from conductor_tui.handoff.protocol import (
    HandoffError,
    HandoffTimeout,
    RunEvent,
    RunRequest,
    claim_requests,
    cockpit_alive,
    cockpit_closed,
    cockpit_heartbeat,
    decide_rows,
    get_plan,
    is_plan_decided,
    mark_row,
    post_result,
    request_run,
    request_state,
    row_decision,
    row_view,
    session_plans,
    submit_plan,
    try_claim,
    wait_for_decisions,
    wait_for_result,
)
from conductor_tui.handoff.recording import (
    evaluation_from_verdict,
    judge_run,
    record_claude_overhead,
    record_claude_task,
    record_evaluation,
    record_judge_verdict,
)


def run_request_headless(*args: Any, **kwargs: Any) -> Any:
    """See :func:`conductor_tui.handoff.runner.run_request_headless` (imports the engine)."""
    from conductor_tui.handoff.runner import run_request_headless as run

    return run(*args, **kwargs)


__all__ = [
    "CockpitLink",
    "LinkUpdate",
    "HandoffError",
    "HandoffTimeout",
    "RunEvent",
    "RunRequest",
    "available_ensembles",
    "claim_requests",
    "cockpit_alive",
    "cockpit_closed",
    "cockpit_heartbeat",
    "decide_rows",
    "evaluation_from_verdict",
    "get_plan",
    "is_plan_decided",
    "judge_run",
    "mark_row",
    "row_decision",
    "plan_meta_task",
    "post_result",
    "record_claude_overhead",
    "record_claude_task",
    "record_evaluation",
    "record_judge_verdict",
    "request_run",
    "request_state",
    "row_view",
    "run_request_headless",
    "session_plans",
    "submit_plan",
    "try_claim",
    "wait_for_decisions",
    "wait_for_result",
]
