"""One ensemble file: its top-level keys, its agents (see :mod:`.agents`), dependencies that
exist and form no cycle, and a name that can be a folder."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem
from conductor_tui.core.yamlnodes import _mapping_child
from conductor_tui.engine.loader.agents import parse_agent
from conductor_tui.engine.loader.scripts import EXTERNAL_SCRIPTS_KEY
from conductor_tui.engine.loader.yaml_source import EnsembleLoadError, key_lines, read_yaml

_MAX_NAME = 200


def ensemble_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an ensemble name (it becomes a folder under
    ``.llm-orc/artifacts/``), or ``None`` when it is fine: no path separators, no ``.`` /
    ``..``, no control characters, not absolute, at most 200 characters."""
    if not name or not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return "must not contain a path separator (/ or \\)"
    if name.strip() in (".", ".."):
        return "must not be . or .. (it names a folder)"
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in name):
        return "must not contain control characters"
    if len(name) > _MAX_NAME:
        return f"is longer than {_MAX_NAME} characters"
    return None


def find_cycle(agents: list[AgentSpec]) -> list[str] | None:
    """A dependency cycle as a path that returns to its start, or ``None``."""
    by_name = {a.name: a for a in agents}
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in by_name[name].depends_on:
            if dep not in by_name:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for agent in agents:
        if agent.name not in state:
            found = visit(agent.name)
            if found:
                return found  # "a → b → a": a depends on b, which depends on a
    return None


def parse_ensemble(
    data: Any, *, path: Path | None = None, node: yaml.Node | None = None, tier: str | None = None
) -> EnsembleSpec:
    """Build an :class:`EnsembleSpec` from parsed YAML; raise on any error."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        raise EnsembleLoadError(
            [Problem(f"an ensemble file must be a mapping, this one is {what}", path=path, line=1)]
        )
    lines = key_lines(node)
    _check_top_level(data, lines, path, problems)
    agents = _parse_agents(data.get("agents"), node, lines, path, problems)
    _check_dependencies(agents, path, problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise EnsembleLoadError(problems)
    default_task = data.get("default_task") or data.get("task")
    return EnsembleSpec(
        name=str(data.get("name")),
        description=str(data.get("description") or ""),
        agents=agents,
        path=path,
        tier=tier,
        default_task=str(default_task) if default_task else None,
        raw=dict(data),
        problems=problems,
    )


def _check_top_level(
    data: dict[str, Any], lines: dict[str, int], path: Path | None, problems: list[Problem]
) -> None:
    """The required keys, the name (it becomes a folder) and the external-scripts opt-in."""
    for key in ("name", "description", "agents"):
        if key not in data:
            problems.append(Problem(f'missing required key "{key}"', path=path, line=1, code="missing-key"))
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not name.strip()):
        problems.append(Problem("name must be a non-empty string", path=path, line=lines.get("name")))
    elif isinstance(name, str) and (why := ensemble_name_problem(name)):
        problems.append(Problem(f"name {name!r} {why}", path=path, line=lines.get("name"), code="bad-name"))
    opt_in = data.get(EXTERNAL_SCRIPTS_KEY)
    if opt_in is not None and not isinstance(opt_in, bool):
        problems.append(
            Problem(
                f"{EXTERNAL_SCRIPTS_KEY} must be true or false",
                path=path,
                line=lines.get(EXTERNAL_SCRIPTS_KEY),
            )
        )


def _parse_agents(
    agents_raw: Any,
    node: yaml.Node | None,
    lines: dict[str, int],
    path: Path | None,
    problems: list[Problem],
) -> list[AgentSpec]:
    """The ``agents`` list, each item with its own node for line numbers."""
    agents: list[AgentSpec] = []
    if agents_raw is not None and not isinstance(agents_raw, list):
        problems.append(Problem("agents must be a list", path=path, line=lines.get("agents")))
    elif isinstance(agents_raw, list):
        agents_node = _mapping_child(node, "agents")
        item_nodes = agents_node.value if isinstance(agents_node, yaml.SequenceNode) else []
        for i, raw in enumerate(agents_raw):
            item_node = item_nodes[i] if i < len(item_nodes) else None
            spec = parse_agent(raw, i, item_node, path, problems)
            if spec is not None:
                agents.append(spec)
        if not agents_raw:
            problems.append(Problem("agents is empty", path=path, line=lines.get("agents")))
    return agents


def _check_dependencies(agents: list[AgentSpec], path: Path | None, problems: list[Problem]) -> None:
    """Unique agent names, dependencies that name an agent of this ensemble, no cycle."""
    seen: dict[str, AgentSpec] = {}
    for agent in agents:
        if agent.name in seen:
            problems.append(
                Problem(f'two agents are named "{agent.name}"', path=path, line=agent.line, agent=agent.name)
            )
        seen[agent.name] = agent
    for agent in agents:
        for dep in agent.depends_on:
            if dep not in seen:  # an agent naming itself is reported as a cycle below
                close = difflib.get_close_matches(dep, list(seen), n=1)
                problems.append(
                    Problem(
                        f'agent "{agent.name}" depends on "{dep}", which is not an agent of this ensemble',
                        path=path,
                        line=agent.line,
                        agent=agent.name,
                        fix=f'did you mean "{close[0]}"?' if close else None,
                        code="missing-dependency",
                    )
                )
    cycle = find_cycle(agents)
    if cycle:
        problems.append(
            Problem(
                "dependency cycle: " + " → ".join(cycle),
                path=path,
                line=seen[cycle[0]].line if cycle[0] in seen else None,
                agent=cycle[0],
                code="cycle",
            )
        )


def load_ensemble_file(path: Path, tier: str | None = None) -> EnsembleSpec:
    doc = read_yaml(path)
    return parse_ensemble(doc.data, path=path, node=doc.node, tier=tier)
