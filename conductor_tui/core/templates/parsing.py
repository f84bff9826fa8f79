"""Reading a template file: top-level keys, parameters, placeholders and the order of phases.
Every problem names the file and line."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from conductor_tui.core.spec import Problem
from conductor_tui.core.templates.model import (
    _NAME_RE,
    _REF_SUFFIXES,
    _TOP_KEYS,
    PhaseTemplate,
    TemplateError,
    WorkflowTemplate,
    _CheckText,
    _Err,
    _placeholders,
)
from conductor_tui.core.templates.phases import _parse_phase
from conductor_tui.core.yamlnodes import Node, YamlFileError, parse_yaml_text, read_yaml_doc


def parse_template(doc: Node, path: Path | None = None, *, tier: str | None = None) -> WorkflowTemplate:
    """Build a :class:`WorkflowTemplate` from a parsed file; raise :class:`TemplateError`."""
    problems: list[Problem] = []

    def err(message: str, line: int | None, fix: str | None = None, code: str = "workflow") -> None:
        problems.append(Problem(message, path=path, line=line, fix=fix, code=code))

    data = doc.data
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        raise TemplateError(
            [
                Problem(
                    f"a workflow template must be a mapping, this one is {what}",
                    path=path,
                    line=doc.line or 1,
                )
            ]
        )
    name, description = _check_top(doc, data, err)
    parameters = _parse_parameters(doc, err)
    check_text = _text_checker(err, {"task", *parameters})
    phases = _parse_phases(doc, data, err, check_text)
    if problems:
        raise TemplateError(problems)
    return WorkflowTemplate(
        name=str(name),
        description=str(description or ""),
        phases=phases,
        parameters=parameters,
        path=path,
        tier=tier,
    )


def _check_top(doc: Node, data: dict[str, Any], err: _Err) -> tuple[Any, Any]:
    """The top-level keys: unknown ones, missing ones, ``name`` and ``description``."""
    for key in data:
        if key not in _TOP_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_TOP_KEYS), n=1)
            err(
                f'unknown top-level key "{key}"',
                doc.key_line(str(key)),
                f'did you mean "{close[0]}"?' if close else None,
            )
    for key in ("name", "description", "phases"):
        if key not in data:
            err(f'missing required key "{key}"', 1, code="missing-key")
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not _NAME_RE.match(name)):
        err("name must be letters, digits, '-' or '_'", doc.key_line("name"))
    description = data.get("description")
    if "description" in data and not isinstance(description, str):
        err("description must be a string", doc.key_line("description"))
    return name, description


def _parse_parameters(doc: Node, err: _Err) -> dict[str, dict[str, Any]]:
    """``parameters:``: name → a description, or ``{description, default}``."""
    parameters: dict[str, dict[str, Any]] = {}
    params_node = doc.child("parameters")
    if params_node.data is None:
        return parameters
    if not isinstance(params_node.data, dict):
        err("parameters must be a mapping of name → description", doc.key_line("parameters"))
        return parameters
    for pname, pline, pnode in params_node.entries():
        if not _NAME_RE.match(pname) or pname == "task":
            err(f'parameter "{pname}" is not a valid name ("task" is reserved)', pline)
            continue
        if isinstance(pnode.data, str) or pnode.data is None:
            parameters[pname] = {"description": pnode.data or "", "default": None}
        elif isinstance(pnode.data, dict):
            unknown = [k for k in pnode.data if k not in ("description", "default")]
            for k in unknown:
                err(f'parameter "{pname}": unknown key "{k}"', pnode.key_line(str(k)))
            parameters[pname] = {
                "description": str(pnode.data.get("description") or ""),
                "default": pnode.data.get("default"),
            }
        else:
            err(f'parameter "{pname}" must be a description or a mapping', pline)
    return parameters


def _text_checker(err: _Err, known_placeholders: set[str]) -> _CheckText:
    """A check for a text field: a string whose ``{placeholders}`` are all declared."""

    def check_text(value: Any, what: str, line: int | None) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            err(f"{what} must be a string", line)
            return ""
        for ph in _placeholders(value):
            if ph == "{" or ph == "":
                err(f"{what}: unbalanced or empty {{}} placeholder", line, 'write "{{" for a literal brace')
            elif ph not in known_placeholders:
                err(
                    f'{what}: unknown placeholder "{{{ph}}}"',
                    line,
                    f"declare it under parameters: (known: {', '.join(sorted(known_placeholders))})",
                )
        return value

    return check_text


def _parse_phases(doc: Node, data: dict[str, Any], err: _Err, check_text: _CheckText) -> list[PhaseTemplate]:
    """``phases:`` in order; each phase's inputs and after resolved against the earlier ones."""
    phases: list[PhaseTemplate] = []
    phases_node = doc.child("phases")
    if "phases" in data and not isinstance(phases_node.data, list):
        err("phases must be a list", doc.key_line("phases"))
    elif isinstance(phases_node.data, list) and not phases_node.data:
        err("phases is empty", doc.key_line("phases"))
    seen: dict[str, PhaseTemplate] = {}
    all_names = [p.data.get("name") if isinstance(p.data, dict) else None for p in phases_node.items()]
    for index, pnode in enumerate(phases_node.items()):
        phase = _parse_phase(pnode, index, err, check_text)
        if phase is None:
            continue
        if phase.name in seen:
            err(f'two phases are named "{phase.name}"', pnode.key_line("name"))
            continue
        for kind, target_list in (("inputs", phase.inputs), ("after", phase.after)):
            refs = getattr(phase, f"_{kind}_lines")
            target_list[:] = _resolve_refs(phase.name, refs, all_names[:index], all_names, list(seen), err)
        seen[phase.name] = phase
        phases.append(phase)
    return phases


def _resolve_refs(
    name: str,
    refs: list[tuple[str, int | None, str]],
    earlier: list[Any],
    all_names: list[Any],
    order: list[str],
    err: _Err,
) -> list[str]:
    """The phase names ``refs`` point at; only earlier phases (a workflow is written in order)."""
    resolved: list[str] = []
    for ref, line, key in refs:
        target = ref
        for suffix in _REF_SUFFIXES:
            if target.endswith(suffix):
                target = target[: -len(suffix)]
                break
        if target == name:
            err(f'phase "{name}" lists itself in {key}', line)
        elif target in order:
            resolved.append(target)
        elif target in earlier:
            continue  # an earlier phase that failed to load: already reported
        elif target in all_names:
            err(
                f'phase "{name}": {key} "{ref}" refers to a later phase',
                line,
                "phases run in the order written; move it after " + target,
            )
        else:
            close = difflib.get_close_matches(target, order, n=1)
            err(
                f'phase "{name}": {key} "{ref}" is not a phase of this workflow',
                line,
                f'did you mean "{close[0]}"?' if close else f"phases so far: {', '.join(order) or 'none'}",
                code="unknown-phase",
            )
    return list(dict.fromkeys(resolved))


def load_template_text(text: str, path: Path | None = None, *, tier: str | None = None) -> WorkflowTemplate:
    try:
        doc = parse_yaml_text(text, path)
    except YamlFileError as exc:
        raise TemplateError(exc.problems) from exc
    return parse_template(doc, path, tier=tier)


def load_template_file(path: str | os.PathLike[str], *, tier: str | None = None) -> WorkflowTemplate:
    """Load one template file; raise :class:`TemplateError` with file:line problems."""
    p = Path(path)
    try:
        doc = read_yaml_doc(p)
    except YamlFileError as exc:
        raise TemplateError(exc.problems) from exc
    return parse_template(doc, p, tier=tier)
