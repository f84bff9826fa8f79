"""What a finished run answers with: its single deliverable, and a loop body's output."""

from __future__ import annotations

from typing import Any

from conductor_tui.engine.executor.expressions import as_text, json_or_none
from conductor_tui.engine.results import SUCCESS, RunResult


def terminal_output(deliverable: str | None) -> dict[str, Any]:
    """A loop body's output as llm-orc reads it: its deliverable's JSON object, else ``{"value": …}``."""
    if deliverable is None:
        return {}
    parsed = json_or_none(deliverable)
    if parsed is None:
        return {"value": deliverable}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def deliverable_of(result: RunResult) -> str | None:
    """llm-orc's single deliverable: the last terminal agent that succeeded with
    text, else the last successful agent in declaration order. A script agent's
    ``{"success": true, "data": "<text>"}`` yields the text itself."""
    spec = result.ensemble
    terminals = [a.name for a in spec.terminal_agents()]
    order = [*reversed(terminals), *(a.name for a in reversed(spec.agents))]
    for name in order:
        r = result.agents.get(name)
        if r is not None and r.status == SUCCESS and r.response:
            text = as_text(r.response)
            if r.kind == "script":
                parsed = json_or_none(text)
                if isinstance(parsed, dict) and isinstance(parsed.get("data"), str):
                    return parsed["data"]
            return text
    return None
