"""What a propose–judge run costs: every proposer and the judge, and the static multiplier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conductor_tui.core.propose_judge.shape import CLAUDE_JUDGE, ProposeJudgeShape, detect_propose_judge
from conductor_tui.core.spec import EnsembleSpec

# --------------------------------------------------------------------------- cost


@dataclass
class AgentCost:
    name: str
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None
    ran: bool = True

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class ProposeJudgeCost:
    proposers: list[AgentCost]
    judge: AgentCost
    other_tokens: int = 0  # agents outside the pattern (e.g. a script that prepares input)

    @property
    def proposer_tokens(self) -> int:
        return sum(p.total_tokens for p in self.proposers)

    @property
    def total_tokens(self) -> int:
        return self.proposer_tokens + self.judge.total_tokens + self.other_tokens

    @property
    def multiplier(self) -> float:
        """Measured: total tokens over one average proposer's."""
        ran = [p for p in self.proposers if p.ran and p.total_tokens]
        if not ran:
            return 0.0
        mean = self.proposer_tokens / len(ran)
        return round((self.proposer_tokens + self.judge.total_tokens) / mean, 2) if mean else 0.0

    def line(self) -> str:
        parts = " + ".join(f"{p.name} {p.total_tokens:,}" for p in self.proposers)
        return (
            f"{len(self.proposers)} proposers {self.proposer_tokens:,} ({parts}) + judge "
            f"{self.judge.total_tokens:,} = {self.total_tokens:,} tokens (≈{self.multiplier:g}× one proposer)"
        )


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def usage_by_agent(source: Any) -> dict[str, AgentCost]:
    """Per-agent token usage from a ``RunResult``, an ``Execution`` or ``{agent: usage}``.

    Fan-out instances are summed into their agent.
    """
    agents = _get(source, "agents") if not isinstance(source, dict) else source
    if not isinstance(agents, dict):
        return {}
    out: dict[str, AgentCost] = {}
    for name, item in agents.items():
        instances = _get(item, "instances")
        pieces = instances if isinstance(instances, list) and instances else [item]
        cost = AgentCost(str(name))
        ran = False
        for piece in pieces:
            usage = _get(piece, "usage")
            holder = usage if usage is not None else piece
            inp, outp = _get(holder, "input_tokens"), _get(holder, "output_tokens")
            if isinstance(inp, int) or isinstance(outp, int):
                ran = True
            cost.input_tokens += int(inp or 0)
            cost.output_tokens += int(outp or 0)
            cost.model = cost.model or _get(holder, "model") or _get(piece, "model")
        cost.ran = ran
        out[str(name)] = cost
    return out


def propose_judge_cost(shape: ProposeJudgeShape, source: Any, claude_usage: Any = None) -> ProposeJudgeCost:
    """Every proposer plus the judge (plus any other agent) from per-agent usage.

    For a Claude judge pass its usage (``input_tokens``/``output_tokens``) as ``claude_usage``.
    """
    usage = usage_by_agent(source)
    proposers = [usage.get(p, AgentCost(p, ran=False)) for p in shape.proposers]
    if shape.claude_judge:
        judge = AgentCost(CLAUDE_JUDGE, ran=claude_usage is not None, model="claude")
        if claude_usage is not None:
            judge.input_tokens = int(_get(claude_usage, "input_tokens") or 0)
            judge.output_tokens = int(_get(claude_usage, "output_tokens") or 0)
            judge.model = _get(claude_usage, "model") or "claude"
    else:
        judge = usage.get(shape.judge, AgentCost(shape.judge, ran=False))
    others = sum(c.total_tokens for n, c in usage.items() if n not in shape.agents)
    return ProposeJudgeCost(proposers, judge, others)


@dataclass
class CostMultiplier:
    """A static estimate of how many single-agent calls one run of an ensemble costs."""

    ensemble: str
    factor: float
    llm_calls: int
    proposers: int = 0
    judge: bool = False
    fan_out: bool = False  # a fanned-out LLM agent multiplies by its item count (unknown here)
    claude_judge: bool = False

    @property
    def warn(self) -> bool:
        return self.factor >= 2 or self.fan_out

    def message(self) -> str:
        if self.proposers:
            who = "Claude judge" if self.claude_judge else "judge"
            text = f"{self.proposers} proposers + {who} ≈ {self.factor:g}× the tokens of one agent"
            if self.claude_judge:
                return text + " (the judge's tokens are Claude's)"
            return text + " (the judge also reads every proposal)"
        if self.fan_out:
            return "an LLM agent runs once per item (fan-out): cost grows with the number of items"
        if self.llm_calls > 1:
            return f"{self.llm_calls} LLM agents ≈ {self.factor:g}× the tokens of one agent"
        return "one LLM call"


def cost_multiplier(ensemble: EnsembleSpec) -> CostMultiplier:
    """``3 proposers + judge ≈ 4× the tokens of one agent`` for the plan screen."""
    llm = [a for a in ensemble.agents if a.kind == "llm"]
    fan = any(a.fan_out for a in llm)
    shape = detect_propose_judge(ensemble)
    if shape is not None and shape.proposers:
        calls = len(llm) + (1 if shape.claude_judge else 0)
        return CostMultiplier(
            ensemble.name, float(calls), calls, len(shape.proposers), True, fan, shape.claude_judge
        )
    return CostMultiplier(ensemble.name, float(max(1, len(llm))) if llm else 0.0, len(llm), fan_out=fan)
