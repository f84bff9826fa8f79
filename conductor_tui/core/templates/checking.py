"""What stops a template (unknown ensembles or roles) or makes a plan expensive (cost multipliers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conductor_tui.core.propose_judge import cost_multiplier
from conductor_tui.core.records import WorkflowPlan
from conductor_tui.core.spec import Problem
from conductor_tui.core.templates.model import WorkflowTemplate


def _spec_of(ensembles: Any, name: str) -> Any:
    """The ``EnsembleSpec`` called ``name`` in an ``EnsembleCatalog`` (entries with ``spec``) or a mapping."""
    if ensembles is None:
        return None
    entry = ensembles.get(name)
    return getattr(entry, "spec", entry) if entry is not None else None


def check_template(
    template: WorkflowTemplate,
    *,
    ensembles: Any = None,
    roles: Any = None,
) -> list[Problem]:
    """What stops (or makes expensive) this template in this project: unknown ensembles or
    roles, and ensemble phases that multiply cost. Each problem has the phase's file:line.

    ``ensembles``: an engine ``EnsembleCatalog`` (``get(name)`` → entry with ``spec``) or a mapping
    name → ``EnsembleSpec``; ``roles``: a ``roles.RolesConfig``.
    """
    out: list[Problem] = []
    for phase in template.phases:
        where = f'phase "{phase.name}"'
        out += _target_problems(
            template.path, where, phase.line, phase.ensemble, phase.role, ensembles, roles
        )
        for task in phase.tasks:
            out += _target_problems(
                template.path,
                f'{where} task "{task.name}"',
                task.line,
                task.ensemble,
                task.role,
                ensembles,
                roles,
            )
    return out


def _target_problems(
    path: Path | None,
    where: str,
    line: int | None,
    ensemble: str | None,
    role: str | None,
    ensembles: Any,
    roles: Any,
) -> list[Problem]:
    """A phase's or task's ensemble (missing, or multiplying cost) and role (not configured)."""
    out: list[Problem] = []
    if ensemble and ensembles is not None:
        spec = _spec_of(ensembles, ensemble)
        if spec is None:
            out.append(
                Problem(
                    f'{where}: ensemble "{ensemble}" not found in this project',
                    path=path,
                    line=line,
                    fix="install the starter kit or create it",
                    code="missing-ensemble",
                )
            )
        else:
            cm = cost_multiplier(spec)
            if cm.warn:
                out.append(
                    Problem(
                        f"{where}: {ensemble}: {cm.message()}",
                        severity="warning",
                        path=path,
                        line=line,
                        code="cost",
                    )
                )
    if role and roles is not None and roles.get(role) is None:
        out.append(
            Problem(
                f'{where}: role "{role}" is not configured',
                severity="warning",
                path=path,
                line=line,
                fix=f"add it to .llm-orc/conductor/roles.yaml (roles: {', '.join(roles.names())})",
                code="missing-role",
            )
        )
    return out


def plan_cost_warnings(plan: WorkflowPlan, ensembles: Any) -> dict[str, Any]:
    """Row id → ``CostMultiplier`` for every row whose ensemble multiplies cost (propose–judge,
    several LLM agents, fan-out). ``ensembles``: an ``EnsembleCatalog`` or name → ``EnsembleSpec``."""
    out: dict[str, Any] = {}
    for row in plan.subtasks:
        name = (row.handler or "").strip()
        if not name:
            continue
        spec = _spec_of(ensembles, name)
        if spec is None or not hasattr(spec, "agents"):
            continue
        cm = cost_multiplier(spec)
        if cm.warn:
            out[row.id] = cm
    return out
