"""Composition agents (``ensemble``, ``loop``, ``dispatch``) judged before a run: the target
exists, no reference cycle, nesting within the depth limit, the child ensemble runnable."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypedDict

from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem


def composition_target(agent: AgentSpec) -> str | None:
    """The ensemble a composition agent names statically (``None``: none, or chosen at run time)."""
    if agent.kind == "ensemble":
        return agent.ensemble
    if agent.kind == "loop":
        body = (agent.loop or {}).get("body")
        return body if isinstance(body, str) else None
    if agent.kind == "dispatch" and agent.dispatch and "${" not in agent.dispatch:
        return agent.dispatch
    return None


class _Where(TypedDict):
    """Where a composition problem is: keyword arguments of :class:`Problem`."""

    path: Path | None
    line: int | None
    agent: str | None


def check_composition(
    ensemble: EnsembleSpec,
    agent: AgentSpec,
    ensembles: Mapping[str, EnsembleSpec] | None,
    max_depth: int,
    stack: tuple[str, ...],
    check_child: Callable[[EnsembleSpec, tuple[str, ...]], list[Problem]],
) -> list[Problem]:
    """An ``ensemble`` / ``loop`` / ``dispatch`` agent: its target exists, no cycle, depth bound,
    and the child ensemble's own blocking problems (prefixed with the path to them)."""
    where: _Where = {"path": ensemble.path, "line": agent.line, "agent": agent.name}
    target = composition_target(agent)
    if target is None:
        if agent.kind == "dispatch" and agent.dispatch:
            return [
                Problem(
                    f'agent "{agent.name}" dispatches to the ensemble named by {agent.dispatch} at run time; '
                    "it is checked when the run gets there",
                    severity="warning",
                    code="dynamic-dispatch",
                    **where,
                )
            ]
        return []
    if ensembles is None:
        return []
    if target in stack:
        cycle = " → ".join([*stack[stack.index(target) :], target])
        return [Problem(f"ensemble reference cycle: {cycle}", code="ensemble-cycle", **where)]
    if len(stack) > max_depth:
        return [
            Problem(
                f'agent "{agent.name}": ensemble nesting depth {len(stack)} > limit {max_depth} ({" → ".join(stack)} → {target})',
                code="ensemble-depth",
                fix="raise performance.execution.max_ensemble_depth in config.yaml, or flatten the ensembles",
                **where,
            )
        ]
    child = ensembles.get(target)
    if child is None:
        close = difflib.get_close_matches(target, list(ensembles), n=1)
        return [
            Problem(
                f'agent "{agent.name}" runs ensemble "{target}", which is not found in any tier',
                code="missing-ensemble",
                fix=f'did you mean "{close[0]}"?' if close else f"create .llm-orc/ensembles/{target}.yaml",
                **where,
            )
        ]
    return _child_problems(check_child(child, stack), target, agent)


def _child_problems(problems: list[Problem], target: str, agent: AgentSpec) -> list[Problem]:
    """The child ensemble's blocking problems, each prefixed with the path to them."""
    out = []
    for p in problems:
        if not p.blocking:
            continue
        out.append(
            Problem(
                f'child ensemble "{target}" (agent "{agent.name}"): {p.message}',
                severity=p.severity,
                fix=p.fix,
                path=p.path,
                line=p.line,
                agent=agent.name,
                code=p.code,
            )
        )
    return out
