"""One agent of an ensemble file: llm-orc's agent kinds and each kind's keys, checked
with ``file:line`` problems (see :func:`parse_agent`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core.spec import KEYS_BY_KIND, LOOP_KEYS, AgentSpec, Problem
from conductor_tui.engine.loader.yaml_source import key_lines, node_line, suggest_key

_WHEN_RE = re.compile(r"^\s*\$\{[^.}]+\.[^}]+\}\s*(==\s*\S.*)?$")


def agent_kind(data: dict[str, Any]) -> str:
    """llm-orc's discrimination by key presence (``parse_agent_config``)."""
    for key, kind in (
        ("script", "script"),
        ("loop", "loop"),
        ("dispatch", "dispatch"),
        ("ensemble", "ensemble"),
    ):
        if key in data:
            return kind
    return "llm"


def dep_name(dep: Any) -> str | None:
    if isinstance(dep, str):
        return dep
    if isinstance(dep, dict) and isinstance(dep.get("agent_name"), str):
        return dep["agent_name"]
    return None


@dataclass
class _Reporter:
    """Adds one agent's problems, each at the line of the key it is about."""

    name: str
    path: Path | None
    line: int | None
    lines: dict[str, int]
    problems: list[Problem]

    def __call__(self, msg: str, key: str | None = None, fix: str | None = None, code: str = "agent") -> None:
        self.problems.append(
            Problem(
                f'agent "{self.name}": {msg}',
                path=self.path,
                line=self.lines.get(key, self.line) if key else self.line,
                agent=self.name,
                fix=fix,
                code=code,
            )
        )


def parse_agent(
    raw: Any, index: int, node: yaml.Node | None, path: Path | None, problems: list[Problem]
) -> AgentSpec | None:
    """The :class:`AgentSpec` of agent #``index``, adding its problems to ``problems``;
    ``None`` when it is not a mapping or has no name."""
    line = node_line(node)
    if not isinstance(raw, dict):
        problems.append(Problem(f"agent #{index + 1} is not a mapping", path=path, line=line, code="agent"))
        return None
    lines = key_lines(node)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(
            Problem(f"agent #{index + 1} has no name", path=path, line=line, code="agent", fix="add name: …")
        )
        return None
    kind = agent_kind(raw)
    bad = _Reporter(name, path, line, lines, problems)
    allowed = KEYS_BY_KIND[kind]
    for key in raw:
        if key not in allowed:
            bad(
                f'unknown key "{key}" for a {kind} agent (llm-orc rejects extra keys)',
                key,
                fix=suggest_key(str(key), allowed),
                code="unknown-key",
            )
    spec = _parse_common(raw, name, kind, line, bad)
    _KIND_PARSERS[kind](spec, raw, bad)
    if not spec.supported:
        problems.append(
            Problem(
                f'agent "{name}" is a {kind} agent; conductor-tui\'s engine does not run {kind} agents yet',
                severity="unsupported",
                path=path,
                line=lines.get(kind, line),
                agent=name,
                fix="run this ensemble with llm-orc itself (llm-orc invoke …)",
                code="unsupported-agent",
            )
        )
    return spec


def _parse_depends_on(raw: dict[str, Any], bad: _Reporter) -> tuple[list[str], list[Any]]:
    """(the dependency names, the entries as written)."""
    deps_raw = raw.get("depends_on") or []
    if not isinstance(deps_raw, list):
        deps_raw = [deps_raw] if isinstance(deps_raw, str | dict) else []
        if not isinstance(raw.get("depends_on"), str | dict):
            bad("depends_on must be a list of agent names", "depends_on")
    deps: list[str] = []
    for dep in deps_raw:
        dname = dep_name(dep)
        if dname is None:
            bad(f"depends_on entry {dep!r} is neither a name nor {{agent_name: …}}", "depends_on")
        else:
            deps.append(dname)
    return deps, deps_raw


def _parse_fan_out(raw: dict[str, Any], deps: list[str], bad: _Reporter) -> bool:
    fan_out = raw.get("fan_out", False)
    if not isinstance(fan_out, bool):
        bad("fan_out must be true or false", "fan_out")
        fan_out = bool(fan_out)
    if fan_out and not deps:
        bad(
            "fan_out: true needs depends_on (the upstream agent that produces the array)",
            "fan_out",
            code="fan-out",
        )
    return fan_out


def _parse_common(raw: dict[str, Any], name: str, kind: str, line: int | None, bad: _Reporter) -> AgentSpec:
    """The keys every kind of agent has: dependencies, fan-out, guards, timeout."""
    deps, deps_raw = _parse_depends_on(raw, bad)
    fan_out = _parse_fan_out(raw, deps, bad)
    input_scope = raw.get("input_scope")
    if input_scope is not None and input_scope != "dependencies":
        bad('input_scope must be "dependencies"', "input_scope")
    when = raw.get("when")
    if when is not None and (not isinstance(when, str) or not _WHEN_RE.match(when)):
        bad(f"when {when!r} is not ${{agent.field}} or ${{agent.field}} == literal", "when")
    timeout = raw.get("timeout_seconds")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        bad("timeout_seconds must be a positive number", "timeout_seconds")
        timeout = None
    odf = raw.get("on_dependency_failure", "skip")
    if odf not in ("run", "skip"):
        bad('on_dependency_failure must be "run" or "skip"', "on_dependency_failure")
        odf = "skip"
    elif odf == "run" and not deps:
        bad("on_dependency_failure: run requires depends_on", "on_dependency_failure")
    input_key = raw.get("input_key")
    if input_key is not None and not isinstance(input_key, str):
        bad("input_key must be a string", "input_key")
        input_key = None
    return AgentSpec(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        depends_on=deps,
        depends_on_raw=list(deps_raw),
        fan_out=bool(fan_out),
        input_key=input_key,
        input_scope=input_scope if isinstance(input_scope, str) else None,
        when=when if isinstance(when, str) else None,
        timeout_seconds=timeout,
        on_dependency_failure=str(odf),
        raw=dict(raw),
        line=line,
    )


_LLM_STRING_KEYS = (
    "model_profile",
    "model",
    "provider",
    "system_prompt",
    "output_format",
    "fallback_model_profile",
)


def _parse_llm(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    """An LLM agent: a profile, or a model with its provider; sampling settings."""
    for key in _LLM_STRING_KEYS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            bad(f"{key} must be a string", key)
            value = str(value)
        setattr(spec, key, value)
    if spec.model_profile and spec.model:
        bad("model_profile and model are mutually exclusive — use one or the other", "model")
    elif spec.model and not spec.provider:
        bad("provider is required when model is given", "model", fix="add provider: ollama")
    elif spec.provider and not spec.model:
        bad("model is required when provider is given", "provider")
    elif not spec.model_profile and not spec.model:
        bad(
            "an LLM agent needs model_profile, or model + provider",
            fix="add model_profile: <profile name>",
            code="no-model",
        )
    _parse_llm_settings(spec, raw, bad)


def _parse_llm_settings(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    temp = raw.get("temperature")
    if temp is not None and (isinstance(temp, bool) or not isinstance(temp, int | float)):
        bad("temperature must be a number", "temperature")
    else:
        spec.temperature = temp
    max_tokens = raw.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        bad("max_tokens must be an integer", "max_tokens")
    else:
        spec.max_tokens = max_tokens
    options = raw.get("options")
    if options is not None and not isinstance(options, dict):
        bad("options must be a mapping", "options")
    else:
        spec.options = options
    fmt_key = "response_format" if "response_format" in raw else "ollama_format"
    if "response_format" in raw and "ollama_format" in raw:
        bad("ollama_format and response_format mean the same; keep one", "response_format")
    fmt = raw.get(fmt_key)
    if fmt is not None and not isinstance(fmt, str | dict):
        bad(f'{fmt_key} must be "json" or a JSON schema mapping', fmt_key)
    else:
        spec.ollama_format = fmt


def _parse_script(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    script = raw.get("script")
    if not isinstance(script, str) or not script.strip():
        bad("script must be a path or an inline command", "script")
    else:
        spec.script = script
    params = raw.get("parameters", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        bad("parameters must be a mapping", "parameters")
        params = {}
    spec.parameters = params


def _parse_ensemble_ref(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    target = raw.get("ensemble")
    if not isinstance(target, str) or not target.strip():
        bad("ensemble must name another ensemble", "ensemble")
    else:
        spec.ensemble = target.strip()


def _parse_loop(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    loop = raw.get("loop")
    if not isinstance(loop, dict):
        bad("loop must be a mapping with body, until, max_iterations", "loop")
        return
    for key in loop:
        if key not in LOOP_KEYS:
            bad(
                f'unknown key "{key}" in loop (llm-orc rejects extra keys)',
                "loop",
                fix=suggest_key(str(key), LOOP_KEYS),
            )
    for key in ("body", "until"):
        if not isinstance(loop.get(key), str) or not loop[key].strip():
            bad(f"loop.{key} is required (a string)", "loop")
    n = loop.get("max_iterations")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        bad(
            "loop.max_iterations is required and must be a positive integer (no unbounded loops)",
            "loop",
        )
    if loop.get("carry") is not None and not isinstance(loop.get("carry"), str):
        bad("loop.carry must be a ${field} reference", "loop")
    spec.loop = dict(loop)


def _parse_dispatch(spec: AgentSpec, raw: dict[str, Any], bad: _Reporter) -> None:
    target = raw.get("dispatch")
    if not isinstance(target, str) or not target.strip():
        bad("dispatch must be an ensemble name or a ${agent.field} reference", "dispatch")
    else:
        spec.dispatch = target.strip()


_KIND_PARSERS: dict[str, Callable[[AgentSpec, dict[str, Any], _Reporter], None]] = {
    "llm": _parse_llm,
    "script": _parse_script,
    "ensemble": _parse_ensemble_ref,
    "loop": _parse_loop,
    "dispatch": _parse_dispatch,
}
