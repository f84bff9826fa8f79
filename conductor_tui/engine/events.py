"""Typed events of one ensemble run, for a UI or a terminal printer. No Textual.

Every event carries ``run_id`` and ``t`` (seconds since the run started, from
``time.perf_counter``), so consumers can order and time them. Fan-out instances
are agents named ``agent[i]`` with ``instance`` = i and ``base`` = ``agent``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from conductor_tui.core.records import RunStatus

FailureKind = Literal["infrastructure", "model", "config", "cancelled"]


@dataclass
class Usage:
    """Per-agent usage from Ollama's own counts (``prompt_eval_count``, ``eval_count``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int = 0
    model: str | None = None
    tokens_per_second: float | None = None
    load_duration_ms: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "duration_ms": self.duration_ms,
            "model": self.model,
            "tokens_per_second": self.tokens_per_second,
        }


@dataclass
class Event:
    run_id: str
    t: float

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["event"] = self.kind
        for key, value in list(data.items()):
            if isinstance(value, Path):
                data[key] = str(value)
        return data


@dataclass
class RunStarted(Event):
    ensemble: str
    agents: list[str]
    input: str = ""


@dataclass
class AgentStarted(Event):
    agent: str
    agent_type: str  # "llm" | "script"
    model: str | None = None
    instance: int | None = None
    instances: int | None = None
    base: str | None = None


@dataclass
class TextDelta(Event):
    agent: str
    text: str
    thinking: bool = False


@dataclass
class AgentFinished(Event):
    agent: str
    response: str
    usage: Usage = field(default_factory=Usage)
    model_substituted: bool = False


@dataclass
class AgentFailed(Event):
    agent: str
    reason: str
    failure: FailureKind = "infrastructure"
    fix: str | None = None
    usage: Usage | None = None


@dataclass
class AgentNotice(Event):
    """Something worth showing while an agent runs (e.g. a fallback model)."""

    agent: str
    message: str


@dataclass
class AgentSkipped(Event):
    agent: str
    reason: str


@dataclass
class RunFinished(Event):
    status: RunStatus
    deliverable: str | None
    total_input_tokens: int
    total_output_tokens: int
    duration_ms: int
    artifact: Path | None = None
    error: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.total_output_tokens
