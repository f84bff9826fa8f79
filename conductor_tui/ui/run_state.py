"""The state of one ensemble run as the run screen shows it, folded from engine events.

Pure Python (no Textual): :meth:`RunView.apply` takes one engine event and returns
the names of the agents it changed, so the screen can refresh only those, on its own
timer (deltas are coalesced, never rendered one by one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, ClassVar

from conductor_tui.core.records import RunStatus
from conductor_tui.engine.events import (
    AgentFailed,
    AgentFinished,
    AgentSkipped,
    AgentStarted,
    RunFinished,
    RunStarted,
    TextDelta,
)


class AgentState(StrEnum):
    """One agent's state in the run view (a ``StrEnum``: equal to its string)."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


WAITING = AgentState.WAITING
RUNNING = AgentState.RUNNING
DONE = AgentState.DONE
FAILED = AgentState.FAILED
SKIPPED = AgentState.SKIPPED
CANCELLED = AgentState.CANCELLED
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
STATE_MARK = {
    WAITING: ("○", "dim"),
    RUNNING: ("◐", "bold yellow"),
    DONE: ("●", "green"),
    FAILED: ("✗", "bold red"),
    SKIPPED: ("⊘", "dim"),
    CANCELLED: ("■", "magenta"),
}


@dataclass
class AgentView:
    name: str
    base: str | None = None  # fan-out instances: the agent they belong to
    instance: int | None = None
    state: AgentState = WAITING
    kind: str = "llm"
    model: str | None = None
    depends_on: list[str] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    thinking_chunks: int = 0
    streamed_tokens: int = 0  # deltas seen (≈ tokens while streaming)
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_per_second: float | None = None
    duration_ms: int | None = None
    started_t: float | None = None
    finished_t: float | None = None
    error: str | None = None
    fix: str | None = None
    instances: list[str] = field(default_factory=list)
    expected_instances: int | None = None  # fan-out width announced by the engine

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else self.streamed_tokens

    def rate(self, now_t: float) -> float | None:
        if self.tokens_per_second is not None:
            return self.tokens_per_second
        if self.started_t is None or not self.streamed_tokens:
            return None
        end = self.finished_t if self.finished_t is not None else now_t
        span = end - self.started_t
        return self.streamed_tokens / span if span > 0.05 else None

    def elapsed(self, now_t: float) -> float | None:
        if self.started_t is None:
            return None
        if self.duration_ms is not None and self.finished_t is not None:
            return self.duration_ms / 1000
        end = self.finished_t if self.finished_t is not None else now_t
        return max(0.0, end - self.started_t)


@dataclass
class RunView:
    ensemble: str = ""
    run_id: str = ""
    input: str = ""
    status: RunStatus | None = None  # None: not started (waiting for the first event)
    agents: dict[str, AgentView] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # top-level agents, ensemble order
    t: float = 0.0  # latest event time (s since start)
    deliverable: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int | None = None
    artifact: str | None = None
    error: str | None = None
    events: int = 0
    spec: Any = field(default=None, repr=False, compare=False)  # the EnsembleSpec, when known

    @classmethod
    def from_spec(cls, spec: Any, input_text: str = "") -> RunView:
        """All agents waiting, with their dependencies, before the first event."""
        view = cls(ensemble=str(getattr(spec, "name", "")), input=input_text, spec=spec)
        for agent in getattr(spec, "agents", []) or []:
            view._agent(agent.name).depends_on = list(getattr(agent, "depends_on", []) or [])
            view.agents[agent.name].kind = str(getattr(agent, "kind", "llm"))
        return view

    def _agent(self, name: str, base: str | None = None) -> AgentView:
        agent = self.agents.get(name)
        if agent is None:
            agent = AgentView(name=name, base=base)
            self.agents[name] = agent
            if base is None:
                self.order.append(name)
            else:
                parent = self._agent(base)
                if name not in parent.instances:
                    parent.instances.append(name)
        return agent

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def streamed_tokens(self) -> int:
        return sum(a.tokens for a in self.agents.values() if not a.instances)

    def apply(self, event: Any) -> set[str]:
        """Fold one event in; return the agents whose display changed."""
        self.events += 1
        self.t = max(self.t, float(getattr(event, "t", 0.0) or 0.0))
        for cls in type(event).__mro__:  # the event's class, or the engine class it extends
            fold = self._FOLDS.get(cls)
            if fold is not None:
                return fold(self, event)
        return set()

    def _text_delta(self, event: TextDelta) -> set[str]:
        agent = self._agent(event.agent)
        if event.thinking:
            agent.thinking_chunks += 1
        else:
            agent.chunks.append(event.text)
            agent.streamed_tokens += 1
        if agent.state == WAITING:
            agent.state = RUNNING
        return {event.agent}

    def _run_started(self, event: RunStarted) -> set[str]:
        self.ensemble = event.ensemble
        self.run_id = event.run_id
        self.input = event.input or self.input
        self.status = RunStatus.RUNNING
        for name in event.agents:
            self._agent(name)
        return set(event.agents)

    def _agent_started(self, event: AgentStarted) -> set[str]:
        agent = self._agent(event.agent, event.base if event.instance is not None else None)
        agent.instance = event.instance
        agent.state = RUNNING
        agent.kind = event.agent_type
        agent.model = event.model
        agent.started_t = event.t
        changed = {event.agent}
        if event.base and event.base in self.agents:
            parent = self.agents[event.base]
            if event.instances:
                parent.expected_instances = event.instances
            if parent.state == WAITING:
                parent.state = RUNNING
                parent.started_t = event.t
            changed.add(event.base)
        return changed

    def _agent_finished(self, event: AgentFinished) -> set[str]:
        agent = self._agent(event.agent)
        agent.state = DONE
        agent.finished_t = event.t
        usage = event.usage
        if usage is not None:
            agent.input_tokens = usage.input_tokens
            agent.output_tokens = usage.output_tokens
            agent.duration_ms = usage.duration_ms or None
            agent.tokens_per_second = usage.tokens_per_second
            agent.model = usage.model or agent.model
        if event.response and not agent.chunks:
            agent.chunks = [event.response]
        elif event.response and agent.text != event.response and agent.kind != "llm":
            agent.chunks = [event.response]
        return {event.agent, *self._parent_of(agent)}

    def _agent_failed(self, event: AgentFailed) -> set[str]:
        agent = self._agent(event.agent)
        agent.state = CANCELLED if event.failure == "cancelled" else FAILED
        agent.finished_t = event.t
        agent.error = event.reason
        agent.fix = event.fix
        if event.usage is not None:
            agent.input_tokens = event.usage.input_tokens
            agent.output_tokens = event.usage.output_tokens
        return {event.agent, *self._parent_of(agent)}

    def _agent_skipped(self, event: AgentSkipped) -> set[str]:
        agent = self._agent(event.agent)
        agent.state = SKIPPED
        agent.error = event.reason
        return {event.agent}

    def _run_finished(self, event: RunFinished) -> set[str]:
        self.status = RunStatus(event.status)
        self.deliverable = event.deliverable
        self.input_tokens = event.total_input_tokens
        self.output_tokens = event.total_output_tokens
        self.duration_ms = event.duration_ms
        self.artifact = str(event.artifact) if event.artifact else None
        self.error = event.error
        changed = set()
        for agent in self.agents.values():
            if agent.state in (WAITING, RUNNING):
                agent.state = CANCELLED if event.status == RunStatus.CANCELLED else SKIPPED
                changed.add(agent.name)
        for name in self.order:
            self._settle_parent(name)
        return changed | set(self.order)

    # event class → the method that folds it in
    _FOLDS: ClassVar[dict[type, Callable[[RunView, Any], set[str]]]] = {
        TextDelta: _text_delta,
        RunStarted: _run_started,
        AgentStarted: _agent_started,
        AgentFinished: _agent_finished,
        AgentFailed: _agent_failed,
        AgentSkipped: _agent_skipped,
        RunFinished: _run_finished,
    }

    def _parent_of(self, agent: AgentView) -> set[str]:
        if agent.base and agent.base in self.agents:
            self._settle_parent(agent.base)
            return {agent.base}
        return set()

    def _settle_parent(self, name: str) -> None:
        parent = self.agents[name]
        if not parent.instances:
            return
        states: list[AgentState] = [self.agents[i].state for i in parent.instances]
        if any(s in (WAITING, RUNNING) for s in states):
            return
        parent.state = (
            FAILED if any(s == FAILED for s in states) else CANCELLED if CANCELLED in states else DONE
        )
        parent.output_tokens = sum(self.agents[i].tokens for i in parent.instances)
        parent.finished_t = max((self.agents[i].finished_t or 0.0) for i in parent.instances)


def run_agents(view: RunView) -> Any:
    """The view as an object with ``agents = {name: {response, status, model, usage}}`` — the shape
    ``core.propose_judge.outcome`` and ``propose_judge_cost`` read, so a live run and a
    recorded one (events fed in) give the same verdict and cost."""
    agents: dict[str, Any] = {}
    for name, agent in view.agents.items():
        if agent.base is not None:
            continue  # fan-out instances are summed into their agent below
        pieces = [view.agents[i] for i in agent.instances] or [agent]
        usage = None
        if any(p.input_tokens is not None or p.output_tokens is not None for p in pieces):
            usage = {
                "input_tokens": sum(p.input_tokens or 0 for p in pieces),
                "output_tokens": sum(p.output_tokens or 0 for p in pieces),
                "model": agent.model,
            }
        agents[name] = {
            "response": agent.text,
            "status": "success" if agent.state == DONE else agent.state,
            "model": agent.model,
            "usage": usage,
        }
    # an object, not a dict: usage_by_agent takes a bare dict for the agents mapping itself
    return SimpleNamespace(agents=agents)
