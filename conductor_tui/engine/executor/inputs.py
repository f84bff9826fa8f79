"""What an agent receives, in llm-orc's shapes: the run's input alone, or with its
dependencies' results — a prompt for an LLM agent, a JSON payload for a script agent."""

from __future__ import annotations

import json
from typing import Any

from conductor_tui.core.spec import AgentSpec
from conductor_tui.engine.executor.expressions import as_text, json_or_none
from conductor_tui.engine.results import SUCCESS, AgentFailure, AgentResult, RunResult


def role(agent: AgentSpec) -> str:
    """How a dependency is introduced in a prompt: its profile's name, else its own."""
    if agent.model_profile:
        return agent.model_profile.replace("-", " ").title()
    return agent.name.replace("-", " ").title()


def dep_response(agent: AgentSpec, dep: AgentResult, first: bool) -> str | None:
    """A dependency's response as text; with ``input_key``, the first one's field of that name."""
    text = as_text(dep.response)
    if first and agent.input_key:
        parsed = json_or_none(text)
        if not isinstance(parsed, dict):
            raise AgentFailure(
                f'input_key "{agent.input_key}": upstream "{dep.name}" did not return a JSON object',
                "config",
            )
        if agent.input_key not in parsed:
            raise AgentFailure(
                f'input_key "{agent.input_key}" not found in upstream "{dep.name}" output '
                f"(keys: {', '.join(map(str, parsed)) or 'none'})",
                "config",
            )
        value = parsed[agent.input_key]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text


def compose_input(agent: AgentSpec, base: str, result: RunResult) -> Any:
    """Text for an LLM agent, a JSON-able dict for a script agent."""
    dep_texts: dict[str, str] = {}
    for i, dep_name in enumerate(agent.depends_on):
        dep = result.agents[dep_name]
        if dep.status != SUCCESS:
            continue
        dep_texts[dep_name] = dep_response(agent, dep, i == 0) or ""
    if agent.kind == "script":
        return _script_payload(agent, base, result, dep_texts)
    if not agent.depends_on:
        return base
    blocks = [f"Agent {name} ({_role_of(name, result)}):\n{text}" for name, text in dep_texts.items()]
    if agent.on_dependency_failure == "run":
        blocks += [
            f"Agent {d} {result.agents[d].status}: {result.agents[d].error or 'no result'}"
            for d in agent.depends_on
            if d not in dep_texts
        ]
    if agent.input_scope == "dependencies":
        return "\n\n".join(blocks)
    return (
        "Respond to the input below. The results of the agents this step depends on "
        "are included for reference.\n\n"
        f"Original Input:\n{base}\n\n"
        "Previous Agent Results (for your reference):\n" + "\n\n".join(blocks) + "\n\n"
        "Build on these results rather than repeating them."
    )


def _script_payload(agent: AgentSpec, base: str, result: RunResult, dep_texts: dict[str, str]) -> Any:
    """llm-orc's script stdin: the input alone, or with every dependency's result (failed ones
    too when the agent runs on dependency failure)."""
    if not agent.depends_on:
        return {"input": base, "parameters": agent.parameters, "context": {}}
    failed: dict[str, Any] = {}
    if agent.on_dependency_failure == "run":
        failed = {
            d: {
                "response": result.agents[d].response,
                "status": result.agents[d].status,
                "error": result.agents[d].error,
            }
            for d in agent.depends_on
            if d not in dep_texts
        }
    return {
        "agent_name": agent.name,
        "input_data": base,
        "context": {},
        "parameters": agent.parameters,
        "dependencies": {
            **{name: {"response": text, "status": SUCCESS} for name, text in dep_texts.items()},
            **failed,
        },
    }


def _role_of(name: str, result: RunResult) -> str:
    agent = result.ensemble.agent(name)
    return role(agent) if agent else name
