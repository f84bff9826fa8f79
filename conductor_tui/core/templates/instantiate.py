"""A template filled in for a meta-task: the plan's rows, their dependencies and context fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conductor_tui.core.records import Delegability, PlanRow, WorkflowPlan
from conductor_tui.core.templates.model import PhaseTemplate, WorkflowTemplate


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:6]) or "task"


class _Format(dict):
    def __missing__(self, key: str) -> str:  # pragma: no cover - placeholders are checked at load
        return "{" + key + "}"


def _handler_for(ensemble: str | None, handler: str | None, role: str | None, roles: Any) -> tuple[str, Any]:
    """(handler, delegability) of a phase or task."""
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core.roles import ROLE_HANDLER_PREFIX

    if ensemble:
        return ensemble, Delegability.ENSEMBLE
    if handler:
        h = plan_ops.normalise_handler(handler)
        return h, Delegability.CLAUDE if h == plan_ops.CLAUDE else Delegability.ENSEMBLE
    assert role is not None
    resolved = roles.get(role) if roles is not None else None
    if resolved is None:
        return f"{ROLE_HANDLER_PREFIX}{role}", Delegability.AGENT
    if resolved.kind == "claude":
        return "claude", Delegability.CLAUDE
    if resolved.kind == "ensemble":
        return resolved.handler, Delegability.ENSEMBLE
    return resolved.handler, Delegability.AGENT


def instantiate(
    template: WorkflowTemplate,
    meta_task: str,
    params: dict[str, str] | None = None,
    *,
    roles: Any = None,
    source: str | None = None,
) -> WorkflowPlan:
    """A :class:`WorkflowPlan` (revision 1, every row pending) from ``template``.

    Rows are ``<phase>`` (ensemble / single) or ``<phase>.<task>`` (routed / parallel).
    A row depends on every row of the phases in its phase's ``inputs`` and ``after``.
    Template row fields: ``workflow``, ``phase_type``, ``inputs`` (row ids whose outputs it
    reads explicitly), ``context_strategy``, ``context_files``, ``distill_with``, ``output``.
    A parameter with no value and no default becomes the slug of ``meta_task``.
    """
    fmt = _Format(_parameter_values(template, meta_task, params))

    def fill(text: str | None) -> str:
        return text.format_map(fmt) if text else ""

    rows_of: dict[str, list[str]] = {}
    rows: list[PlanRow] = []
    for phase in template.phases:
        common: dict[str, Any] = {
            "workflow": template.name,
            "phase_type": phase.type,
            "inputs": [rid for p in phase.inputs for rid in rows_of.get(p, [])],
            "context_strategy": phase.context.value,
            "distill_with": phase.distill_with,
        }
        if phase.output:
            common["output"] = fill(phase.output)
        deps = [rid for p in phase.depends_on for rid in rows_of.get(p, [])]
        base_desc = fill(phase.description) or f"{phase.name}: {meta_task.strip()}"
        phase_rows = _phase_rows(phase, base_desc, deps, common, fill, roles)
        rows += phase_rows
        rows_of[phase.name] = [row.id for row in phase_rows]
    return WorkflowPlan(
        meta_task=meta_task.strip(),
        source=source or f"template:{template.name}",
        subtasks=rows,
        change=f"from workflow template {template.name}",
    )


def _parameter_values(
    template: WorkflowTemplate, meta_task: str, params: dict[str, str] | None
) -> dict[str, str]:
    """``{task}`` and every parameter: the given value, else its default, else the task's slug."""
    values: dict[str, str] = {"task": meta_task.strip()}
    for name, spec in template.parameters.items():
        given = (params or {}).get(name)
        default = spec.get("default")
        values[name] = str(
            given if given not in (None, "") else default if default not in (None, "") else _slug(meta_task)
        )
    return values


def _phase_rows(
    phase: PhaseTemplate,
    base_desc: str,
    deps: list[str],
    common: dict[str, Any],
    fill: Callable[[str | None], str],
    roles: Any,
) -> list[PlanRow]:
    """One row for an ensemble or single phase; one per task for a routed or parallel one."""
    if phase.type in ("ensemble", "single"):
        handler, category = _handler_for(phase.ensemble, phase.handler, phase.role, roles)
        return [
            PlanRow(
                id=phase.name,
                description=base_desc,
                task_type=phase.task_type,
                delegability_category=category,
                phase=phase.name,
                handler=handler,
                role=phase.role,
                depends_on=deps,
                **common,
                context_files=list(phase.files),
            )
        ]
    rows: list[PlanRow] = []
    for task in phase.tasks:
        handler, category = _handler_for(task.ensemble, task.handler, task.role, roles)
        desc = fill(task.description)
        extra = dict(common)
        if task.context is not None:
            extra["context_strategy"] = task.context.value
        rows.append(
            PlanRow(
                id=f"{phase.name}.{task.name}",
                description=f"{base_desc} — {desc}" if desc else base_desc,
                task_type=task.task_type or phase.task_type,
                delegability_category=category,
                phase=phase.name,
                handler=handler,
                role=task.role,
                depends_on=deps,
                **extra,
                context_files=list(task.files or phase.files),
            )
        )
    return rows
