"""Detecting a propose–judge ensemble: explicit (a top-level ``conductor:`` mapping) or by shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem

MARKER_KEY = "conductor"
PATTERN = "propose-judge"
CLAUDE_JUDGE = "claude"

# --------------------------------------------------------------------------- detection


@dataclass
class ProposeJudgeShape:
    ensemble: str
    judge: str
    proposers: list[str]
    explicit: bool  # declared with the conductor: marker
    problems: list[Problem] = field(default_factory=list)

    @property
    def claude_judge(self) -> bool:
        """The judge is Claude, called after the ensemble (``conductor: {judge: claude}``)."""
        return self.judge == CLAUDE_JUDGE

    @property
    def agents(self) -> list[str]:
        """The ensemble agents that take part (proposers, and the judge when it is an agent)."""
        return list(self.proposers) if self.claude_judge else [*self.proposers, self.judge]


def _is_llm(agent: AgentSpec | None) -> TypeGuard[AgentSpec]:
    return agent is not None and agent.kind == "llm"


def _marker(ensemble: EnsembleSpec) -> dict[str, Any] | None:
    raw = ensemble.raw.get(MARKER_KEY) if isinstance(ensemble.raw, dict) else None
    if not isinstance(raw, dict):
        return None
    pattern = str(raw.get("pattern") or "").strip().lower().replace("_", "-").replace(" ", "-")
    return raw if pattern in (PATTERN, "propose-and-judge", "proposejudge") else None


def _shape_candidates(ensemble: EnsembleSpec) -> list[tuple[AgentSpec, list[AgentSpec]]]:
    out = []
    for agent in ensemble.terminal_agents():
        if not _is_llm(agent) or agent.fan_out:
            continue
        deps = [ensemble.agent(d) for d in agent.depends_on]
        proposers = [d for d in deps if _is_llm(d) and not d.fan_out]
        if len(proposers) < 2:
            continue
        inputs = {tuple(sorted(p.depends_on)) for p in proposers}
        if len(inputs) != 1:
            continue
        out.append((agent, proposers))
    return out


def detect_propose_judge(ensemble: EnsembleSpec) -> ProposeJudgeShape | None:
    """The propose–judge structure of ``ensemble``, or ``None``."""
    marker = _marker(ensemble)
    if marker is not None:
        problems: list[Problem] = []
        names = {a.name for a in ensemble.agents}
        judge = marker.get("judge")
        if isinstance(judge, str) and judge.strip().lower() == CLAUDE_JUDGE and CLAUDE_JUDGE not in names:
            proposers_raw = marker.get("proposers")
            if isinstance(proposers_raw, list) and proposers_raw:
                proposers = [str(p) for p in proposers_raw]
            else:
                proposers = [a.name for a in ensemble.terminal_agents() if _is_llm(a)]
            problems += _proposer_problems(ensemble, proposers, names)
            return ProposeJudgeShape(ensemble.name, CLAUDE_JUDGE, proposers, True, problems)
        if not isinstance(judge, str) or not judge.strip():
            terminals = [a for a in ensemble.terminal_agents() if _is_llm(a)]
            judge = terminals[-1].name if terminals else ""
        if judge not in names:
            problems.append(
                Problem(
                    f'conductor.judge "{judge}" is not an agent of this ensemble',
                    path=ensemble.path,
                    code="propose-judge",
                )
            )
            return ProposeJudgeShape(ensemble.name, str(judge), [], True, problems)
        judge_agent = ensemble.agent(judge)
        proposers_raw = marker.get("proposers")
        if isinstance(proposers_raw, list) and proposers_raw:
            proposers = [str(p) for p in proposers_raw]
        else:
            proposers = [d for d in judge_agent.depends_on if _is_llm(ensemble.agent(d))]  # type: ignore[union-attr]
        problems += _proposer_problems(ensemble, proposers, names, judge_agent)
        return ProposeJudgeShape(ensemble.name, judge, proposers, True, problems)
    candidates = _shape_candidates(ensemble)
    if not candidates:
        return None
    judge_spec, proposer_specs = candidates[-1]
    return ProposeJudgeShape(ensemble.name, judge_spec.name, [p.name for p in proposer_specs], False)


def _proposer_problems(
    ensemble: Any, proposers: list[str], names: set[str], judge_agent: Any = None
) -> list[Problem]:
    """Declared proposers that are not agents, that a local judge does not depend on, or too few."""
    problems: list[Problem] = []
    for p in proposers:
        if p not in names:
            problems.append(
                Problem(
                    f'conductor.proposers: "{p}" is not an agent of this ensemble',
                    path=ensemble.path,
                    code="propose-judge",
                )
            )
        elif judge_agent is not None and p not in judge_agent.depends_on:
            problems.append(
                Problem(
                    f'the judge "{judge_agent.name}" does not depend on proposer "{p}", so it never sees it',
                    path=ensemble.path,
                    line=judge_agent.line,
                    fix=f"add {p} to {judge_agent.name}'s depends_on",
                    code="propose-judge",
                )
            )
    if len(proposers) < 2:
        problems.append(
            Problem(
                "a propose–judge ensemble needs at least two proposers",
                path=ensemble.path,
                severity="warning",
                code="propose-judge",
            )
        )
    return problems
