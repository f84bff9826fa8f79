"""Reading one phase of a template (and its tasks or routing) from its YAML node."""

from __future__ import annotations

import difflib
from typing import Any

from conductor_tui.core.context import DEFAULT_DISTILL_ENSEMBLE, parse_strategy
from conductor_tui.core.templates.model import (
    _NAME_RE,
    _PHASE_KEYS,
    _TASK_KEYS,
    PHASE_TYPES,
    PhaseTemplate,
    TaskTemplate,
    _CheckText,
    _Err,
    _str_list,
)
from conductor_tui.core.yamlnodes import Node


def _parse_task(
    tnode: Node, phase: str, ptype: str, index: int, err: _Err, check_text: _CheckText
) -> TaskTemplate | None:
    data = tnode.data
    if isinstance(data, str):  # shorthand: a role for routed, an ensemble for parallel
        data = {"name": data, ("role" if ptype == "routed" else "ensemble"): data}
        tnode = Node(tnode.node, data)
    if not isinstance(data, dict):
        err(f'phase "{phase}": task #{index + 1} must be a mapping', tnode.line)
        return None
    for key in data:
        if key not in _TASK_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_TASK_KEYS), n=1)
            err(
                f'phase "{phase}": task #{index + 1}: unknown key "{key}"',
                tnode.key_line(str(key)),
                f'did you mean "{close[0]}"?' if close else None,
            )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        err(f'phase "{phase}": task #{index + 1} needs a name (letters, digits, - or _)', tnode.line)
        return None
    targets = [k for k in ("handler", "role", "ensemble") if data.get(k)]
    if ptype == "routed" and "role" not in targets:
        err(f'phase "{phase}": task "{name}" needs a role (a routed phase routes by role)', tnode.line)
    elif len(targets) != 1:
        err(
            f'phase "{phase}": task "{name}" needs exactly one of handler, role, ensemble',
            tnode.line,
        )
    context = data.get("context")
    strategy = parse_strategy(context) if context is not None else None
    if context is not None and strategy is None:
        err(
            f'phase "{phase}": task "{name}": unknown context strategy "{context}"',
            tnode.key_line("context"),
            "full, scoped, distilled or fresh",
        )
    files = _str_list(tnode.child("files"))
    if files is None:
        err(f'phase "{phase}": task "{name}": files must be a list of paths', tnode.key_line("files"))
        files = []
    return TaskTemplate(
        name=name,
        description=check_text(
            data.get("description"), f'task "{name}" description', tnode.key_line("description")
        ),
        ensemble=data.get("ensemble") if isinstance(data.get("ensemble"), str) else None,
        handler=data.get("handler") if isinstance(data.get("handler"), str) else None,
        role=data.get("role") if isinstance(data.get("role"), str) else None,
        files=[f for f, _ in files],
        context=strategy,
        task_type=data.get("task_type") if isinstance(data.get("task_type"), str) else None,
        line=tnode.line,
    )


def _parse_phase(pnode: Node, index: int, err: _Err, check_text: _CheckText) -> PhaseTemplate | None:
    data = pnode.data
    if not isinstance(data, dict):
        err(f"phase #{index + 1} must be a mapping", pnode.line)
        return None
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        err(f"phase #{index + 1} needs a name (letters, digits, - or _)", pnode.line, code="missing-key")
        return None
    for key in data:
        if key not in _PHASE_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_PHASE_KEYS), n=1)
            err(
                f'phase "{name}": unknown key "{key}"',
                pnode.key_line(str(key)),
                f'did you mean "{close[0]}"?' if close else None,
            )
    ptype = data.get("type")
    if ptype not in PHASE_TYPES:
        close = difflib.get_close_matches(str(ptype), PHASE_TYPES, n=1)
        err(
            f'phase "{name}": unknown phase type "{ptype}"'
            if "type" in data
            else f'phase "{name}" has no type',
            pnode.key_line("type") if "type" in data else pnode.line,
            f'did you mean "{close[0]}"?' if close else f"one of {', '.join(PHASE_TYPES)}",
            code="phase-type",
        )
        return None
    phase = PhaseTemplate(name=name, type=ptype, line=pnode.line)
    _phase_fields(phase, data, pnode, err, check_text)
    _phase_targets(phase, data, pnode, err)
    if ptype in ("routed", "parallel"):
        _phase_tasks(phase, pnode, err, check_text)
    else:
        for k in ("tasks", "routing"):
            if data.get(k) is not None:
                err(f'phase "{name}": {k}: belongs to a routed or parallel phase', pnode.key_line(k))
    return phase


def _phase_fields(
    phase: PhaseTemplate, data: dict[str, Any], pnode: Node, err: _Err, check_text: _CheckText
) -> None:
    """Description, string fields, output, inputs / after (resolved later), context, files."""
    name = phase.name
    phase.description = check_text(
        data.get("description"), f'phase "{name}" description', pnode.key_line("description")
    )
    for key in ("ensemble", "handler", "role", "distill_with", "task_type"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            err(f'phase "{name}": {key} must be a string', pnode.key_line(key))
        elif value is not None:
            setattr(phase, key, value)
    if phase.distill_with is None:
        phase.distill_with = DEFAULT_DISTILL_ENSEMBLE
    if data.get("output") is not None:
        phase.output = check_text(data.get("output"), f'phase "{name}" output', pnode.key_line("output"))

    # inputs (data flow) and after (ordering); resolved against earlier phases by the caller
    lines: list[tuple[str, int | None, str]] = []
    for key in ("input", "inputs"):
        refs = _str_list(pnode.child(key))
        if refs is None:
            err(f'phase "{name}": {key} must be a phase name or a list of them', pnode.key_line(key))
        else:
            lines.extend((ref, line, key) for ref, line in refs)
    after = _str_list(pnode.child("after"))
    if after is None:
        err(f'phase "{name}": after must be a phase name or a list of them', pnode.key_line("after"))
        after = []
    phase._inputs_lines = lines  # type: ignore[attr-defined]
    phase._after_lines = [(ref, line, "after") for ref, line in after]  # type: ignore[attr-defined]

    context_key = "context" if "context" in data else "context_strategy"
    context = data.get(context_key)
    if context is not None:
        strategy = parse_strategy(context)
        if strategy is None:
            err(
                f'phase "{name}": unknown context strategy "{context}"',
                pnode.key_line(context_key),
                "full, scoped, distilled or fresh",
                code="context",
            )
        else:
            phase.context = strategy
    files = _str_list(pnode.child("files"))
    if files is None:
        err(f'phase "{name}": files must be a list of paths or globs', pnode.key_line("files"))
    else:
        phase.files = [f for f, _ in files]


def _phase_targets(phase: PhaseTemplate, data: dict[str, Any], pnode: Node, err: _Err) -> None:
    """Who runs the phase: an ensemble phase names one ensemble, a single phase exactly one of
    handler / role / ensemble; routed and parallel phases put them on each task."""
    name, ptype = phase.name, phase.type
    targets = [k for k in ("handler", "role", "ensemble") if data.get(k)]
    if ptype == "ensemble":
        if not data.get("ensemble"):
            err(f'phase "{name}": an ensemble phase needs ensemble: <name>', pnode.line, code="missing-key")
        for k in ("handler", "role"):
            if data.get(k):
                err(f'phase "{name}": {k} does not go with an ensemble phase', pnode.key_line(k))
    elif ptype == "single":
        if len(targets) != 1:
            err(
                f'phase "{name}": a single phase needs exactly one of handler, role, ensemble'
                + (f" (has {', '.join(targets)})" if targets else ""),
                pnode.line,
                code="missing-key",
            )
    else:
        for k in targets:
            err(f'phase "{name}": {k} goes on each task of a {ptype} phase', pnode.key_line(k))


def _phase_tasks(phase: PhaseTemplate, pnode: Node, err: _Err, check_text: _CheckText) -> None:
    """The rows of a routed or parallel phase: ``tasks:`` and (routed) ``routing:``."""
    name, ptype = phase.name, phase.type
    tasks_node = pnode.child("tasks")
    routing_node = pnode.child("routing")
    if tasks_node.data is not None and not isinstance(tasks_node.data, list):
        err(f'phase "{name}": tasks must be a list', pnode.key_line("tasks"))
    for i, tnode in enumerate(tasks_node.items()):
        task = _parse_task(tnode, name, ptype, i, err, check_text)
        if task is not None:
            if any(t.name == task.name for t in phase.tasks):
                err(f'phase "{name}": two tasks are named "{task.name}"', tnode.line)
                continue
            phase.tasks.append(task)
    if routing_node.data is not None:
        if ptype != "routed":
            err(f'phase "{name}": routing: belongs to a routed phase', pnode.key_line("routing"))
        elif not isinstance(routing_node.data, dict):
            err(f'phase "{name}": routing must map a category to a role', pnode.key_line("routing"))
        else:
            _routing_tasks(phase, routing_node, err)
    if not phase.tasks and tasks_node.data is None and routing_node.data is None:
        what = "tasks: (each with a role) or routing:" if ptype == "routed" else "tasks:"
        err(f'phase "{name}": a {ptype} phase needs {what}', pnode.line, code="missing-key")
    if ptype == "parallel" and len(phase.tasks) == 1:
        err(f'phase "{name}": a parallel phase with one task is a single phase', pnode.key_line("tasks"))


def _routing_tasks(phase: PhaseTemplate, routing_node: Node, err: _Err) -> None:
    """``routing: {category: role}`` → one task per category, routed by its role."""
    name = phase.name
    for category, cline, cnode in routing_node.entries():
        if not isinstance(cnode.data, str) or not cnode.data.strip():
            err(f'phase "{name}": routing "{category}" must name a role', cline)
            continue
        if not _NAME_RE.match(category):
            err(f'phase "{name}": routing category "{category}" is not a valid name', cline)
            continue
        if any(t.name == category for t in phase.tasks):
            err(f'phase "{name}": "{category}" is both a task and a routing category', cline)
            continue
        phase.tasks.append(
            TaskTemplate(
                name=category,
                description=f"the {category} part",
                role=cnode.data.strip(),
                line=cline,
            )
        )
