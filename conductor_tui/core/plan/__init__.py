"""Workflow plans: decisions, summary, loading (see the glossary: meta-task).

Every operation is a pure function: it takes a :class:`WorkflowPlan` and returns a
NEW revision (``revision + 1``, a ``change`` text, ``decided_at`` on the rows it
touched).  The caller persists it (``store.append_plan``) before showing it.

Plans come from ``workflow-plans.jsonl`` (the coding session), from a file (JSON or
YAML, a WorkflowPlan or a bare list of subtasks) or from text the person types
(one subtask per line, optionally in the spec's ``description → handler (category)``
form).  Errors name the file and line.

Where it lives: ``rows`` (handlers, decision state), ``revisions`` (decisions),
``summary`` (the summary line, the complexity floor), ``reading`` (files and text).
Every name is re-exported here. Never imports Textual.
"""

from __future__ import annotations

from conductor_tui.core.plan.reading import (
    load_plan_file,
    parse_plan_line,
    plan_from_data,
    plan_from_text,
)
from conductor_tui.core.plan.revisions import (
    approve,
    attach_note,
    bulk_decide,
    decide,
    edit_description,
    next_revision,
    override_handler,
    reject,
    row_number,
    send_to_claude_for_capacity,
    set_row_status,
)
from conductor_tui.core.plan.rows import (
    CLAUDE,
    CREATE_ENSEMBLE,
    FINAL_STATUSES,
    Clock,
    PlanError,
    effective_handler,
    handler_kind,
    handler_label,
    is_decided,
    is_final,
    is_local,
    normalise_handler,
)
from conductor_tui.core.plan.summary import (
    PlanSummary,
    estimated_claude_tokens,
    local_to_claude_ratio,
    summarize,
    worth_planning,
)

__all__ = [
    "CLAUDE",
    "CREATE_ENSEMBLE",
    "Clock",
    "FINAL_STATUSES",
    "PlanError",
    "PlanSummary",
    "approve",
    "attach_note",
    "bulk_decide",
    "decide",
    "edit_description",
    "effective_handler",
    "estimated_claude_tokens",
    "handler_kind",
    "handler_label",
    "is_decided",
    "is_final",
    "is_local",
    "load_plan_file",
    "local_to_claude_ratio",
    "next_revision",
    "normalise_handler",
    "override_handler",
    "parse_plan_line",
    "plan_from_data",
    "plan_from_text",
    "reject",
    "row_number",
    "send_to_claude_for_capacity",
    "set_row_status",
    "summarize",
    "worth_planning",
]
