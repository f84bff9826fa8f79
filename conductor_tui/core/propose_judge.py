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

No Textual here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem

MARKER_KEY = "conductor"
PATTERN = "propose-judge"
CLAUDE_JUDGE = "claude"
VerdictKind = Literal["pick", "synthesis"]

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


# --------------------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    verdict: VerdictKind | None
    picked: str | None
    reasoning: str
    result: str
    parsed: bool  # the judge's output held a JSON object
    raw: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``picked propose-llama`` / ``synthesised`` / ``no verdict`` for a heading."""
        if self.verdict == "pick" and self.picked:
            return f"picked {self.picked}"
        if self.verdict == "synthesis":
            return "synthesised from " + self.picked if self.picked else "synthesised"
        return "no clear verdict"


_VERDICT_KEYS = ("verdict", "decision", "choice", "mode", "action", "outcome")
_PICKED_KEYS = (
    "picked",
    "pick",
    "winner",
    "chosen",
    "selected",
    "selection",
    "best",
    "best_proposal",
    "proposal",
)
_REASON_KEYS = ("reasoning", "reason", "rationale", "why", "explanation", "justification")
_RESULT_KEYS = ("result", "final", "final_plan", "plan", "output", "answer", "synthesis", "content", "text")
_PICK_WORDS = {
    "pick",
    "picked",
    "select",
    "selected",
    "choose",
    "chose",
    "chosen",
    "winner",
    "best",
    "single",
}
_SYNTH_WORDS = {
    "synthesis",
    "synthesise",
    "synthesize",
    "synthesised",
    "synthesized",
    "synth",
    "merge",
    "merged",
    "combine",
    "combined",
    "combination",
    "blend",
    "hybrid",
}


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in ``text`` (code fences and prose around them allowed)."""
    out: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    i = 0
    while True:
        start = text.find("{", i)
        if start < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, start)
        except ValueError:
            i = start + 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = end
    return out


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in obj.items()}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return lowered[key]
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def _verdict_word(value: Any) -> VerdictKind | None:
    if not isinstance(value, str):
        return None
    words = set(re.findall(r"[a-z]+", value.lower()))
    if words & _SYNTH_WORDS:
        return "synthesis"
    if words & _PICK_WORDS:
        return "pick"
    return None


def match_proposer(value: Any, proposers: list[str] | None) -> str | None:
    """Map "Proposal B", "2", "propose_llama", "Agent propose-llama (…)" onto a proposer."""
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).strip()
    if not proposers:
        return text or None
    norm = {re.sub(r"[\s_]+", "-", p.lower()): p for p in proposers}
    key = re.sub(r"[\s_]+", "-", text.lower()).strip("\"'`.")
    if key in norm:
        return norm[key]
    for k, p in sorted(norm.items(), key=lambda kv: -len(kv[0])):
        if k in key:
            return p
    m = re.fullmatch(r"(?:proposal|option|plan|agent|candidate)?[-\s#]*([a-z]|\d+)", key)
    if m:
        token = m.group(1)
        index = int(token) - 1 if token.isdigit() else ord(token) - ord("a")
        if 0 <= index < len(proposers):
            return proposers[index]
    return text or None


def parse_verdict(text: str | None, proposers: list[str] | None = None) -> Verdict:
    """The judge's verdict from its output, however it was wrapped."""
    raw = text or ""
    problems: list[str] = []
    for obj in reversed(_json_objects(raw)):
        verdict_value = _first(obj, _VERDICT_KEYS)
        picked_value = _first(obj, _PICKED_KEYS)
        reasoning = _as_text(_first(obj, _REASON_KEYS))
        result = _as_text(_first(obj, _RESULT_KEYS))
        if verdict_value is None and picked_value is None and not result:
            continue
        kind = _verdict_word(verdict_value)
        picked = match_proposer(picked_value, proposers)
        if kind is None:
            kind = "pick" if picked and (not proposers or picked in proposers) else None
            if verdict_value is not None:
                problems.append(f'verdict "{verdict_value}" is neither pick nor synthesis')
        if kind == "pick" and proposers and picked not in proposers:
            problems.append(f'picked "{picked_value}" is not one of the proposers ({", ".join(proposers)})')
        if not result:
            problems.append("the judge gave no result")
        return Verdict(kind, picked, reasoning, result, True, raw, problems)
    # No JSON: read the prose.
    kind = _verdict_word(" ".join(raw.split()[:40]))
    picked = None
    if proposers:
        m = re.search(r"\b(?:pick|picked|choose|chose|select|selected|winner)\b[:\s]*([^\n.,;]+)", raw, re.I)
        if m:
            picked = match_proposer(m.group(1), proposers)
            picked = picked if picked in proposers else None
    problems.append("the judge's output is not JSON; showing it as the result")
    return Verdict(kind, picked, "", raw.strip(), False, raw, problems)


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
