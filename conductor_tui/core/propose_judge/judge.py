"""The run view's outcome (proposals beside the verdict and the cost) and a Claude judge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.propose_judge.cost import (
    AgentCost,
    ProposeJudgeCost,
    _get,
    propose_judge_cost,
    usage_by_agent,
)
from conductor_tui.core.propose_judge.shape import ProposeJudgeShape
from conductor_tui.core.propose_judge.verdict import Verdict, _as_text, parse_verdict

# --------------------------------------------------------------------------- outcome (for the run view)


@dataclass
class Proposal:
    agent: str
    text: str
    status: str
    model: str | None
    tokens: int
    picked: bool


@dataclass
class ProposeJudgeOutcome:
    shape: ProposeJudgeShape
    proposals: list[Proposal]
    verdict: Verdict | None  # None when the judge did not run
    cost: ProposeJudgeCost


def outcome(shape: ProposeJudgeShape, run: Any, claude: ClaudeJudgement | None = None) -> ProposeJudgeOutcome:
    """Proposals side by side with the verdict and the cost, from a finished ``RunResult``
    (or anything with ``agents: {name: {response, status, usage}}``); for a Claude judge,
    pass what :func:`judge_with_claude` returned."""
    agents = _get(run, "agents") or {}
    usage = usage_by_agent(run)
    if shape.claude_judge:
        verdict = claude.verdict if claude is not None else None
    else:
        judge_res = agents.get(shape.judge)
        judge_text = _get(judge_res, "response") if judge_res is not None else None
        judge_ok = judge_res is not None and _get(judge_res, "status") == "success" and judge_text
        verdict = parse_verdict(_as_text(judge_text), shape.proposers) if judge_ok else None
    proposals = []
    for name in shape.proposers:
        res = agents.get(name)
        agent_cost = usage.get(name, AgentCost(name, ran=False))
        proposals.append(
            Proposal(
                agent=name,
                text=_as_text(_get(res, "response")) if res is not None else "",
                status=str(_get(res, "status") or "not run") if res is not None else "not run",
                model=_get(res, "model") if res is not None else None,
                tokens=agent_cost.total_tokens,
                picked=bool(verdict and verdict.picked == name),
            )
        )
    cost = propose_judge_cost(shape, run, claude.usage if claude is not None else None)
    return ProposeJudgeOutcome(shape, proposals, verdict, cost)


# --------------------------------------------------------------------------- a Claude judge

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pick", "synthesis"]},
        "picked": {"type": "string", "description": "the agent name of the chosen proposal"},
        "reasoning": {"type": "string", "description": "two to four sentences: why"},
        "result": {"type": "string", "description": "the final answer in Markdown"},
    },
    "required": ["verdict", "picked", "reasoning", "result"],
}
VERDICT_TOOL: dict[str, Any] = {
    "name": "record_verdict",
    "description": "Record which proposal wins (or the synthesis), why, and the final result.",
    "input_schema": VERDICT_SCHEMA,
}
JUDGE_SYSTEM = (
    "You are the judge of a propose–judge ensemble. Several local models each proposed an "
    "answer to the same task. Compare them on correctness, completeness, concreteness and "
    "risk. PICK the single best proposal when it is clearly best as written, or SYNTHESISE "
    "a better answer from their strengths. Record the verdict with the record_verdict tool: "
    "picked is the agent name of the proposal chosen (for a synthesis, the one you built on "
    "most); result is the picked proposal verbatim, or your synthesis."
)


def judge_prompt(task: str, proposals: dict[str, str]) -> str:
    """The judge's input: the task, then each proposal under its agent name."""
    blocks = [f'<proposal agent="{name}">\n{text.strip()}\n</proposal>' for name, text in proposals.items()]
    return f"Task:\n{task.strip()}\n\nProposals ({len(proposals)}):\n\n" + "\n\n".join(blocks)


@dataclass
class ClaudeJudgement:
    verdict: Verdict
    usage: Any  # providers.anthropic.Usage (input_tokens, output_tokens, …)
    model: str | None = None


def judge_with_claude(provider: Any, shape: ProposeJudgeShape, task: str, run: Any) -> ClaudeJudgement:
    """Ask Claude to judge the successful proposals of ``run`` (blocking: call it from a
    worker thread). ``provider``: a ``providers.anthropic.ClaudeProvider``; raises its
    ``ClaudeError`` (unavailable, rate-limit, …) unchanged.

    Uses the provider's forced-tool streaming (``stream_tool``), so the verdict comes back
    as structured JSON and is then read by :func:`parse_verdict` like a local judge's.
    """
    agents = _get(run, "agents") or {}
    proposals = {
        name: _as_text(_get(agents.get(name), "response"))
        for name in shape.proposers
        if agents.get(name) is not None and _get(agents.get(name), "status") == "success"
    }
    if not proposals:
        raise ValueError("no proposal succeeded; there is nothing to judge")
    raw, usage, tool_input = provider.stream_tool(
        VERDICT_TOOL, JUDGE_SYSTEM, judge_prompt(task, proposals), provider.max_tokens_judge
    )
    text = json.dumps(tool_input) if isinstance(tool_input, dict) else raw
    verdict = parse_verdict(text, list(proposals))
    return ClaudeJudgement(verdict, usage, getattr(provider, "model", None))
