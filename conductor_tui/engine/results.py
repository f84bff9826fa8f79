"""What a run produces: the result of each agent and of the whole run, and the agent statuses.

Its own module so that ``engine.artifacts`` (which writes them) and ``engine.executor`` (which
makes them) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.core.records import RunStatus
from conductor_tui.core.spec import EnsembleSpec
from conductor_tui.engine.events import Usage

SUCCESS = "success"
FAILED = "failed"
PARTIAL = "partial"  # fan-out with some failed instances (llm-orc's word)
SKIPPED = "skipped"
CANCELLED = "cancelled"
PENDING = "pending"


@dataclass
class AgentResult:
    name: str
    kind: str
    status: str = PENDING
    response: str | None = None
    error: str | None = None
    failure: str | None = None  # infrastructure | model | config | cancelled
    fix: str | None = None
    usage: Usage | None = None
    model: str | None = None
    model_substituted: bool = False
    started: float | None = None  # seconds since run start
    finished: float | None = None
    instances: list[AgentResult] | None = None  # fan-out
    index: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    @property
    def duration_ms(self) -> int:
        if self.started is None or self.finished is None:
            return 0
        return int(round((self.finished - self.started) * 1000))

    def to_json(self) -> dict[str, Any]:
        usage = self.usage or Usage()
        out: dict[str, Any] = {
            "status": self.status,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "duration_ms": usage.duration_ms or self.duration_ms,
            "tokens_per_second": usage.tokens_per_second,
            "model": self.model,
            "error": self.error,
            "failure": self.failure,
            "model_substituted": self.model_substituted,
        }
        if self.instances is not None:
            out["instances"] = [i.to_json() for i in self.instances]
        return out


@dataclass
class RunResult:
    run_id: str
    ensemble: EnsembleSpec
    input: str
    status: RunStatus = RunStatus.RUNNING
    deliverable: str | None = None
    agents: dict[str, AgentResult] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_ms: int = 0
    artifact: Path | None = None
    error: str | None = None
    events: int = 0

    def all_results(self) -> list[AgentResult]:
        """Agents and fan-out instances, flattened (instances after their agent)."""
        out: list[AgentResult] = []
        for r in self.agents.values():
            out.append(r)
            out.extend(r.instances or [])
        return out

    def usage_results(self) -> list[AgentResult]:
        """The results that carry usage: instances instead of their fan-out agent."""
        out: list[AgentResult] = []
        for r in self.agents.values():
            if r.instances is not None:
                out.extend(i for i in r.instances if i.usage is not None)
            elif r.usage is not None:
                out.append(r)
        return out

    @property
    def total_input_tokens(self) -> int:
        return sum(r.usage.input_tokens for r in self.usage_results() if r.usage)

    @property
    def total_output_tokens(self) -> int:
        return sum(r.usage.output_tokens for r in self.usage_results() if r.usage)

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.total_output_tokens

    @property
    def failed_agents(self) -> list[AgentResult]:
        return [r for r in self.agents.values() if r.status in (FAILED, PARTIAL)]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ensemble": self.ensemble.name,
            "status": self.status,
            "deliverable": self.deliverable,
            "agents": {name: r.to_json() for name, r in self.agents.items()},
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "total_tokens": self.total_tokens,
            "duration_ms": self.duration_ms,
            "artifact": str(self.artifact) if self.artifact else None,
            "error": self.error,
        }


class AgentFailure(Exception):
    """Why an agent failed: the reason, its failure kind, a fix when one is known, and the
    provider's error kind (``model-missing``, ``timeout`` …) when a provider call failed."""

    def __init__(
        self,
        reason: str,
        failure: str | None = "infrastructure",
        fix: str | None = None,
        *,
        provider_kind: str | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.failure = failure
        self.fix = fix
        self.provider_kind = provider_kind
