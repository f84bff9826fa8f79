"""Typed ensembles, agents and profiles in llm-orc's format, plus :class:`Problem`.

The keys mirror what llm-orc's own loader accepts (its agent models forbid extra
keys), so a file that loads here loads in llm-orc and the other way round.
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

AgentKind = Literal["llm", "script", "ensemble", "loop", "dispatch"]
Tier = Literal["project", "library", "global", "kit"]

# Keys every agent may carry (llm-orc BaseAgentConfig).
# ``on_dependency_failure`` (llm-orc >= 0.20) is accepted too.
BASE_AGENT_KEYS = frozenset(
    {
        "name",
        "depends_on",
        "fan_out",
        "input_key",
        "input_scope",
        "when",
        "timeout_seconds",
        "on_dependency_failure",
    }
)
LLM_AGENT_KEYS = BASE_AGENT_KEYS | {
    "model_profile",
    "model",
    "provider",
    "system_prompt",
    "temperature",
    "max_tokens",
    "options",
    "ollama_format",  # llm-orc <= 0.19
    "response_format",  # llm-orc >= 0.20 (same meaning: Ollama's ``format``)
    "output_format",
    "fallback_model_profile",
}
SCRIPT_AGENT_KEYS = BASE_AGENT_KEYS | {"script", "parameters"}
ENSEMBLE_AGENT_KEYS = BASE_AGENT_KEYS | {"ensemble"}
LOOP_AGENT_KEYS = BASE_AGENT_KEYS | {"loop"}
DISPATCH_AGENT_KEYS = BASE_AGENT_KEYS | {"dispatch"}
KEYS_BY_KIND: dict[str, frozenset[str]] = {
    "llm": LLM_AGENT_KEYS,
    "script": SCRIPT_AGENT_KEYS,
    "ensemble": ENSEMBLE_AGENT_KEYS,
    "loop": LOOP_AGENT_KEYS,
    "dispatch": DISPATCH_AGENT_KEYS,
}
UNSUPPORTED_KINDS: frozenset[str] = frozenset()  # ensemble, loop and dispatch agents run too
LOOP_KEYS = frozenset({"body", "until", "max_iterations", "carry"})
DEFAULT_MAX_ENSEMBLE_DEPTH = 5  # llm-orc performance.execution.max_ensemble_depth

# Profile fields llm-orc documents (unknown ones are kept in ``raw``).
PROFILE_KEYS = frozenset(
    {
        "name",
        "model",
        "provider",
        "system_prompt",
        "timeout_seconds",
        "options",
        "fallback_model_profile",
        "cost_per_token",
        "temperature",
        "max_tokens",
        "base_url",
    }
)

DEFAULT_TIMEOUT_SECONDS = 60  # llm-orc's performance.execution.default_timeout


@dataclass
class Problem:
    """One thing wrong with an ensemble, a profile or the set-up.

    ``severity``: ``error`` (llm-orc would reject it / it cannot run),
    ``unsupported`` (valid llm-orc, but conductor-tui's engine cannot run it),
    ``warning`` (runs, but worth knowing).
    """

    message: str
    severity: Literal["error", "unsupported", "warning"] = "error"
    fix: str | None = None
    path: Path | None = None
    line: int | None = None
    agent: str | None = None
    code: str = "invalid"

    @property
    def blocking(self) -> bool:
        return self.severity in ("error", "unsupported")

    @property
    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "path": str(self.path) if self.path else None,
            "line": self.line,
            "agent": self.agent,
        }


@dataclass
class AgentSpec:
    """One agent as llm-orc accepts it. ``raw`` keeps the mapping as written."""

    name: str
    kind: AgentKind
    depends_on: list[str] = field(default_factory=list)
    depends_on_raw: list[Any] = field(default_factory=list)
    fan_out: bool = False
    input_key: str | None = None
    input_scope: str | None = None
    when: str | None = None
    timeout_seconds: float | None = None
    on_dependency_failure: str = "skip"  # "run": run even when no dependency succeeded
    # LLM agents
    model_profile: str | None = None
    model: str | None = None
    provider: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    options: dict[str, Any] | None = None
    ollama_format: str | dict[str, Any] | None = None
    output_format: str | None = None
    fallback_model_profile: str | None = None
    # script agents
    script: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # composition agents: a child ensemble, a bounded loop over a body ensemble, a runtime-chosen ensemble
    ensemble: str | None = None
    loop: dict[str, Any] | None = None
    dispatch: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @property
    def supported(self) -> bool:
        return self.kind not in UNSUPPORTED_KINDS


@dataclass
class EnsembleSpec:
    name: str
    description: str
    agents: list[AgentSpec] = field(default_factory=list)
    path: Path | None = None
    tier: str | None = None
    default_task: str | None = None
    relative_path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def agent(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    @property
    def unsupported_agents(self) -> list[AgentSpec]:
        return [a for a in self.agents if not a.supported]

    def terminal_agents(self) -> list[AgentSpec]:
        """Agents no other agent depends on, in declaration order."""
        used = {d for a in self.agents for d in a.depends_on}
        return [a for a in self.agents if a.name not in used]

    def dependents(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {a.name: [] for a in self.agents}
        for a in self.agents:
            for d in a.depends_on:
                out.setdefault(d, []).append(a.name)
        return out


@dataclass
class Profile:
    """A model profile (``model_profiles:`` entry or ``profiles/<name>.yaml``)."""

    name: str
    model: str | None = None
    provider: str | None = None
    system_prompt: str | None = None
    timeout_seconds: float | None = None
    options: dict[str, Any] | None = None
    fallback_model_profile: str | None = None
    cost_per_token: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    shadowed: list[Path] = field(default_factory=list)

    @classmethod
    def from_mapping(cls, name: str, data: dict[str, Any], source: Path | None) -> Profile:
        def _num(key: str) -> float | None:
            value = data.get(key)
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None

        options = data.get("options")
        return cls(
            name=str(name),
            model=str(data["model"]) if data.get("model") is not None else None,
            provider=str(data["provider"]) if data.get("provider") is not None else None,
            system_prompt=data.get("system_prompt") if isinstance(data.get("system_prompt"), str) else None,
            timeout_seconds=_num("timeout_seconds"),
            options=dict(options) if isinstance(options, dict) else None,
            fallback_model_profile=(
                str(data["fallback_model_profile"]) if data.get("fallback_model_profile") else None
            ),
            cost_per_token=_num("cost_per_token"),
            temperature=_num("temperature"),
            max_tokens=int(data["max_tokens"]) if isinstance(data.get("max_tokens"), int) else None,
            source=source,
            raw=dict(data),
        )
