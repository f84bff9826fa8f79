"""Propose–judge ensembles: several agents propose, one judge picks or synthesises.

Detection (:func:`detect_propose_judge`):

* **explicit** — a top-level ``conductor:`` mapping in the ensemble file::

      conductor:
        pattern: propose-judge
        judge: judge                       # optional: the last terminal agent
        proposers: [propose-a, propose-b]  # optional: the judge's LLM dependencies

  llm-orc reads only the top-level keys it knows (``name``, ``description``, ``agents``,
  ``default_task``, ``task``, ``validation``, ``test_mode``) and ignores the rest, so the
  file stays valid llm-orc; agent keys are never touched (llm-orc rejects unknown ones).
* **by shape** — a terminal LLM agent depending on ≥ 2 LLM agents that are not fanned out
  and share the same input (the same ``depends_on``; usually none = the user's input).

Verdicts (:func:`parse_verdict`) are read tolerantly: JSON in a code fence or inside prose,
key and value synonyms, "Proposal B" / "2" / an agent name for ``picked``; text with no
JSON still yields the result (``parsed`` False).

Cost (:func:`propose_judge_cost`) sums every proposer and the judge from per-agent usage
(a ``RunResult``, an ``Execution`` read from ``execution.json``, or a plain mapping);
:func:`cost_multiplier` is the static estimate the plan screen warns with.

Where it lives: ``shape`` (detection), ``verdict`` (parsing), ``cost`` (usage, multiplier),
``judge`` (the run view's outcome, a Claude judge); every name is re-exported here. No Textual here.
"""

from __future__ import annotations

from conductor_tui.core.propose_judge.cost import (
    AgentCost,
    CostMultiplier,
    ProposeJudgeCost,
    cost_multiplier,
    propose_judge_cost,
    usage_by_agent,
)
from conductor_tui.core.propose_judge.judge import (
    JUDGE_SYSTEM,
    VERDICT_SCHEMA,
    VERDICT_TOOL,
    ClaudeJudgement,
    Proposal,
    ProposeJudgeOutcome,
    judge_prompt,
    judge_with_claude,
    outcome,
)
from conductor_tui.core.propose_judge.shape import (
    CLAUDE_JUDGE,
    MARKER_KEY,
    PATTERN,
    ProposeJudgeShape,
    detect_propose_judge,
)
from conductor_tui.core.propose_judge.verdict import (
    Verdict,
    VerdictKind,
    match_proposer,
    parse_verdict,
)

__all__ = [
    "AgentCost",
    "CLAUDE_JUDGE",
    "ClaudeJudgement",
    "CostMultiplier",
    "JUDGE_SYSTEM",
    "MARKER_KEY",
    "PATTERN",
    "Proposal",
    "ProposeJudgeCost",
    "ProposeJudgeOutcome",
    "ProposeJudgeShape",
    "VERDICT_SCHEMA",
    "VERDICT_TOOL",
    "Verdict",
    "VerdictKind",
    "cost_multiplier",
    "detect_propose_judge",
    "judge_prompt",
    "judge_with_claude",
    "match_proposer",
    "outcome",
    "parse_verdict",
    "propose_judge_cost",
    "usage_by_agent",
]
