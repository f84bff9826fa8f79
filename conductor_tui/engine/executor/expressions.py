"""llm-orc's small expression language over agent outputs: ``${agent.field}`` references,
``when`` guards, a loop's ``until`` and ``carry`` over its body's output, and the JSON array a
fan-out reads."""

from __future__ import annotations

import json
from typing import Any

from conductor_tui.engine.results import SUCCESS, AgentResult


def json_or_none(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None


def parse_array(response: Any, input_key: str | None = None) -> list[Any] | None:
    """The array an upstream response carries: a JSON array, ``{"data": [...]}``,
    or (with ``input_key``) ``{input_key: [...]}``."""
    if isinstance(response, list):
        return response
    parsed = json_or_none(response)
    if input_key:
        return (
            parsed.get(input_key)
            if isinstance(parsed, dict) and isinstance(parsed.get(input_key), list)
            else None
        )
    if isinstance(parsed, list):
        return parsed
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), list):
        return parsed["data"]
    return None


def resolve_reference(token: str, results: dict[str, AgentResult]) -> Any:
    """``${dep.field.sub}`` → the value in ``dep``'s JSON response (``None`` when absent)."""
    token = token.strip()
    if not (token.startswith("${") and token.endswith("}")):
        return token
    inner = token[2:-1]
    dep, _, path = inner.partition(".")
    result = results.get(dep)
    if result is None or result.status != SUCCESS:
        return None
    value: Any = json_or_none(result.response)
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _literal(token: str) -> Any:
    if token == "true":
        return True
    if token == "false":
        return False
    if token in ("null", "none", "None"):
        return None
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def evaluate_when(expr: str, results: dict[str, AgentResult]) -> bool:
    """llm-orc's guard grammar: ``${ref}`` (truthy) or ``${ref} == literal``."""
    expr = expr.strip()
    if "==" in expr:
        left, right = expr.split("==", 1)
        return bool(resolve_reference(left, results) == _literal(right.strip()))
    return bool(resolve_reference(expr, results))


def as_text(response: Any) -> str:
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False)


def resolve_in(token: str, output: dict[str, Any]) -> Any:
    """``${field.sub}`` → the value in a loop body's ``output`` (``None`` when absent)."""
    token = token.strip()
    if not (token.startswith("${") and token.endswith("}")):
        return token
    value: Any = output
    for part in token[2:-1].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def evaluate_on(expr: str, output: dict[str, Any]) -> bool:
    """A loop's ``until``: ``${field}`` (truthy) or ``${field} == literal`` over the body's output."""
    expr = expr.strip()
    if "==" in expr:
        left, right = expr.split("==", 1)
        return bool(resolve_in(left, output) == _literal(right.strip()))
    return bool(resolve_in(expr, output))
