"""Declarative workflow templates: phases in YAML that load as plan templates.

Where templates come from (:func:`list_templates`), the first of a name wins:

1. project ``<project>/.llm-orc/workflows/*.yaml``
2. global ``$XDG_CONFIG_HOME/llm-orc/workflows/*.yaml``
3. shipped with conductor-tui (``conductor_tui/workflows/``: workshop, plan, feature-build)

Format::

    name: feature-build
    description: Build a feature end to end
    parameters:                 # optional; {name} placeholders in descriptions/outputs
      feature: short name of the feature     # (or {description: …, default: …})
    phases:
      - name: patterns
        type: ensemble          # ensemble | single | routed | parallel
        ensemble: extract-code-patterns
        description: Extract the code patterns around {feature}
        context: fresh          # full | scoped | distilled | fresh
      - name: plan
        type: ensemble
        ensemble: plan-review   # a propose–judge ensemble
        input: patterns.output  # input / inputs: phase, phase.output or phase.outputs
        context: distilled
        distill_with: distill-context
        output: docs/ai/{feature}/plan.md
      - name: implement
        type: single
        handler: claude         # single: exactly one of handler, role, ensemble
        inputs: [plan]
        context: scoped
        files: ["src/**/*.py"]
      - name: build
        type: routed            # one row per task, each routed by role
        tasks:
          - {name: api, role: backend, description: …}
        # or  routing: {frontend: frontend, backend: backend}  (category → role)
      - name: checks
        type: parallel          # rows that run side by side
        tasks:
          - {name: lint, ensemble: fix-lint-violations}
          - {name: changelog, ensemble: write-changelog}
        after: [build]          # ordering without passing outputs

``{task}`` is the meta-task. Every error names the file and line (YAML node marks).
:func:`instantiate` turns a template into a :class:`WorkflowPlan` (rows with handler, role,
phase, depends_on; context strategy, inputs, files, output and phase type as extra row
fields, which the store keeps). No Textual here.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core import locations
from conductor_tui.core.context import DEFAULT_DISTILL_ENSEMBLE, ContextStrategy, parse_strategy
from conductor_tui.core.records import Delegability, PlanRow, WorkflowPlan
from conductor_tui.core.spec import Problem
from conductor_tui.core.yamlnodes import Node, YamlFileError, parse_yaml_text, read_yaml_doc

PHASE_TYPES = ("ensemble", "single", "routed", "parallel")
WORKFLOWS_DIR = "workflows"
SHIPPED_TEMPLATES = ("workshop", "plan", "feature-build")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_TOP_KEYS = frozenset({"name", "description", "parameters", "phases"})
_PHASE_KEYS = frozenset(
    {
        "name",
        "type",
        "description",
        "ensemble",
        "handler",
        "role",
        "input",
        "inputs",
        "after",
        "context",
        "context_strategy",
        "files",
        "distill_with",
        "output",
        "tasks",
        "routing",
        "task_type",
    }
)
_TASK_KEYS = frozenset(
    {"name", "description", "ensemble", "handler", "role", "files", "context", "task_type"}
)
_REF_SUFFIXES = (".outputs", ".output")

# parse_template's problem collector: err(message, line, fix=None, code="workflow")
_Err = Callable[..., None]
# parse_template's text check: check_text(value, what, line) -> the text
_CheckText = Callable[[Any, str, "int | None"], str]


class TemplateError(Exception):
    """A template that cannot be used; ``problems`` each say file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class TaskTemplate:
    name: str
    description: str = ""
    ensemble: str | None = None
    handler: str | None = None
    role: str | None = None
    files: list[str] = field(default_factory=list)
    context: ContextStrategy | None = None
    task_type: str | None = None
    line: int | None = None


@dataclass
class PhaseTemplate:
    name: str
    type: str
    description: str = ""
    ensemble: str | None = None
    handler: str | None = None
    role: str | None = None
    inputs: list[str] = field(default_factory=list)  # phase names whose outputs it reads
    after: list[str] = field(default_factory=list)  # ordering only
    context: ContextStrategy = ContextStrategy.FULL
    files: list[str] = field(default_factory=list)
    distill_with: str = DEFAULT_DISTILL_ENSEMBLE
    output: str | None = None
    tasks: list[TaskTemplate] = field(default_factory=list)
    task_type: str | None = None
    line: int | None = None

    @property
    def depends_on(self) -> list[str]:
        return list(dict.fromkeys([*self.inputs, *self.after]))


@dataclass
class WorkflowTemplate:
    name: str
    description: str
    phases: list[PhaseTemplate]
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    tier: str | None = None  # project | global | shipped

    def phase(self, name: str) -> PhaseTemplate | None:
        return next((p for p in self.phases if p.name == name), None)


# --------------------------------------------------------------------------- parsing


def _str_list(node: Node) -> list[tuple[str, int | None]] | None:
    """A string or list of strings, each with its line; ``None`` when it is neither."""
    if node.data is None:
        return []
    if isinstance(node.data, str):
        return [(node.data, node.line)]
    if isinstance(node.data, list) and all(isinstance(v, str) for v in node.data):
        return [(item.data, item.line) for item in node.items()]
    return None


def _placeholders(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return ["{"]


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

    parameters: dict[str, dict[str, Any]] = {}
    params_node = doc.child("parameters")
    if params_node.data is not None:
        if not isinstance(params_node.data, dict):
            err("parameters must be a mapping of name → description", doc.key_line("parameters"))
        else:
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
    known_placeholders = {"task", *parameters}

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

    phases: list[PhaseTemplate] = []
    phases_node = doc.child("phases")
    if "phases" in data and not isinstance(phases_node.data, list):
        err("phases must be a list", doc.key_line("phases"))
    elif isinstance(phases_node.data, list) and not phases_node.data:
        err("phases is empty", doc.key_line("phases"))
    seen: dict[str, PhaseTemplate] = {}
    order: list[str] = []
    for index, pnode in enumerate(phases_node.items()):
        phase = _parse_phase(pnode, index, err, check_text)
        if phase is None:
            continue
        if phase.name in seen:
            err(f'two phases are named "{phase.name}"', pnode.key_line("name"))
            continue
        # references: only to earlier phases (a workflow is written in order)
        for kind, target_list in (("inputs", phase.inputs), ("after", phase.after)):
            resolved: list[str] = []
            for ref, line, key in getattr(phase, f"_{kind}_lines"):
                target = ref
                for suffix in _REF_SUFFIXES:
                    if target.endswith(suffix):
                        target = target[: -len(suffix)]
                        break
                if target == phase.name:
                    err(f'phase "{phase.name}" lists itself in {key}', line)
                elif target not in seen:
                    all_names = [
                        p.data.get("name") if isinstance(p.data, dict) else None for p in phases_node.items()
                    ]
                    if target in all_names[:index]:
                        continue  # an earlier phase that failed to load: already reported
                    if target in all_names:
                        err(
                            f'phase "{phase.name}": {key} "{ref}" refers to a later phase',
                            line,
                            "phases run in the order written; move it after " + target,
                        )
                    else:
                        close = difflib.get_close_matches(target, order, n=1)
                        err(
                            f'phase "{phase.name}": {key} "{ref}" is not a phase of this workflow',
                            line,
                            f'did you mean "{close[0]}"?'
                            if close
                            else f"phases so far: {', '.join(order) or 'none'}",
                            code="unknown-phase",
                        )
                else:
                    resolved.append(target)
            target_list[:] = list(dict.fromkeys(resolved))
        seen[phase.name] = phase
        order.append(phase.name)
        phases.append(phase)
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
    if ptype in ("routed", "parallel"):
        for k in targets:
            err(f'phase "{name}": {k} goes on each task of a {ptype} phase', pnode.key_line(k))
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
        if not phase.tasks and tasks_node.data is None and routing_node.data is None:
            what = "tasks: (each with a role) or routing:" if ptype == "routed" else "tasks:"
            err(f'phase "{name}": a {ptype} phase needs {what}', pnode.line, code="missing-key")
        if ptype == "parallel" and len(phase.tasks) == 1:
            problems_line = pnode.key_line("tasks")
            err(f'phase "{name}": a parallel phase with one task is a single phase', problems_line)
    else:
        for k in ("tasks", "routing"):
            if data.get(k) is not None:
                err(f'phase "{name}": {k}: belongs to a routed or parallel phase', pnode.key_line(k))
    return phase


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


# --------------------------------------------------------------------------- discovery


@dataclass
class TemplateEntry:
    name: str
    tier: str  # project | global | shipped
    path: Path
    template: WorkflowTemplate | None = None
    problems: list[Problem] = field(default_factory=list)
    shadowed: list[Path] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.template is not None

    @property
    def description(self) -> str:
        return self.template.description if self.template else "; ".join(str(p) for p in self.problems[:1])


def shipped_dir() -> Path:
    return Path(__file__).resolve().parents[1] / WORKFLOWS_DIR


def template_dirs(project: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    """(tier, directory) in precedence order; directories may not exist."""
    dirs: list[tuple[str, Path]] = []
    if project is not None:
        dirs.append(("project", locations.project_llm_orc_dir(project) / WORKFLOWS_DIR))
    dirs.append(("global", locations.global_llm_orc_dir() / WORKFLOWS_DIR))
    dirs.append(("shipped", shipped_dir()))
    return dirs


def list_templates(project: str | os.PathLike[str] | None) -> list[TemplateEntry]:
    """Every template visible from ``project``; the project's wins over a shipped one by name.

    Never raises: a broken file is an entry with ``problems`` (file:line) and no template.
    Sorted by name.
    """
    found: dict[str, TemplateEntry] = {}
    for tier, directory in template_dirs(project):
        if not directory.is_dir():
            continue
        files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        for file in files:
            try:
                template = load_template_file(file, tier=tier)
                name, problems = template.name, []
            except TemplateError as exc:
                template, name, problems = None, file.stem, exc.problems
            existing = found.get(name)
            if existing is not None:
                existing.shadowed.append(file)
                continue
            found[name] = TemplateEntry(name, tier, file, template, problems)
    return [found[k] for k in sorted(found)]


def get_template(name: str, project: str | os.PathLike[str] | None) -> WorkflowTemplate:
    """The winning template called ``name``; raise :class:`TemplateError` (broken) or ``KeyError``."""
    for entry in list_templates(project):
        if entry.name == name:
            if entry.template is None:
                raise TemplateError(entry.problems)
            return entry.template
    raise KeyError(f'no workflow template "{name}"')


# --------------------------------------------------------------------------- checking


def check_template(
    template: WorkflowTemplate,
    *,
    ensembles: Any = None,
    roles: Any = None,
) -> list[Problem]:
    """What stops (or makes expensive) this template in this project: unknown ensembles or
    roles, and ensemble phases that multiply cost. Each problem has the phase's file:line.

    ``ensembles``: an engine ``EnsembleCatalog`` (``get(name)`` → entry with ``spec``) or a mapping
    name → ``EnsembleSpec``; ``roles``: a ``roles.RolesConfig``.
    """
    from conductor_tui.core.propose_judge import cost_multiplier

    out: list[Problem] = []
    path = template.path

    def spec_of(name: str) -> Any:
        if ensembles is None:
            return None
        entry = ensembles.get(name)
        return getattr(entry, "spec", entry) if entry is not None else None

    def check_target(where: str, line: int | None, ensemble: str | None, role: str | None) -> None:
        if ensemble and ensembles is not None:
            spec = spec_of(ensemble)
            if spec is None:
                out.append(
                    Problem(
                        f'{where}: ensemble "{ensemble}" not found in this project',
                        path=path,
                        line=line,
                        fix="install the starter kit or create it",
                        code="missing-ensemble",
                    )
                )
            else:
                cm = cost_multiplier(spec)
                if cm.warn:
                    out.append(
                        Problem(
                            f"{where}: {ensemble}: {cm.message()}",
                            severity="warning",
                            path=path,
                            line=line,
                            code="cost",
                        )
                    )
        if role and roles is not None and roles.get(role) is None:
            out.append(
                Problem(
                    f'{where}: role "{role}" is not configured',
                    severity="warning",
                    path=path,
                    line=line,
                    fix=f"add it to .llm-orc/conductor/roles.yaml (roles: {', '.join(roles.names())})",
                    code="missing-role",
                )
            )

    for phase in template.phases:
        where = f'phase "{phase.name}"'
        check_target(where, phase.line, phase.ensemble, phase.role)
        for task in phase.tasks:
            check_target(f'{where} task "{task.name}"', task.line, task.ensemble, task.role)
    return out


# --------------------------------------------------------------------------- instantiation


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:6]) or "task"


class _Format(dict):
    def __missing__(self, key: str) -> str:  # pragma: no cover - placeholders are checked at load
        return "{" + key + "}"


def _handler_for(ensemble: str | None, handler: str | None, role: str | None, roles: Any) -> tuple[str, Any]:
    """(handler, delegability) of a phase or task."""
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core.roles import ROLE_HANDLER_PREFIX

    if ensemble:
        return ensemble, Delegability.ENSEMBLE
    if handler:
        h = plan_ops.normalise_handler(handler)
        return h, Delegability.CLAUDE if h == plan_ops.CLAUDE else Delegability.ENSEMBLE
    assert role is not None
    resolved = roles.get(role) if roles is not None else None
    if resolved is None:
        return f"{ROLE_HANDLER_PREFIX}{role}", Delegability.AGENT
    if resolved.kind == "claude":
        return "claude", Delegability.CLAUDE
    if resolved.kind == "ensemble":
        return resolved.handler, Delegability.ENSEMBLE
    return resolved.handler, Delegability.AGENT


def instantiate(
    template: WorkflowTemplate,
    meta_task: str,
    params: dict[str, str] | None = None,
    *,
    roles: Any = None,
    source: str | None = None,
) -> WorkflowPlan:
    """A :class:`WorkflowPlan` (revision 1, every row pending) from ``template``.

    Rows are ``<phase>`` (ensemble / single) or ``<phase>.<task>`` (routed / parallel).
    A row depends on every row of the phases in its phase's ``inputs`` and ``after``.
    Extra row fields: ``workflow``, ``phase_type``, ``inputs`` (row ids whose outputs it
    reads explicitly), ``context_strategy``, ``context_files``, ``distill_with``, ``output``.
    A parameter with no value and no default becomes the slug of ``meta_task``.
    """
    values: dict[str, str] = {"task": meta_task.strip()}
    for name, spec in template.parameters.items():
        given = (params or {}).get(name)
        default = spec.get("default")
        values[name] = str(
            given if given not in (None, "") else default if default not in (None, "") else _slug(meta_task)
        )
    fmt = _Format(values)

    def fill(text: str | None) -> str:
        return text.format_map(fmt) if text else ""

    rows_of: dict[str, list[str]] = {}
    rows: list[PlanRow] = []
    for phase in template.phases:
        deps = [rid for p in phase.depends_on for rid in rows_of.get(p, [])]
        inputs = [rid for p in phase.inputs for rid in rows_of.get(p, [])]
        base_desc = fill(phase.description) or f"{phase.name}: {meta_task.strip()}"
        common: dict[str, Any] = {
            "workflow": template.name,
            "phase_type": phase.type,
            "inputs": inputs,
            "context_strategy": phase.context.value,
            "distill_with": phase.distill_with,
        }
        if phase.output:
            common["output"] = fill(phase.output)
        ids: list[str] = []
        if phase.type in ("ensemble", "single"):
            handler, category = _handler_for(phase.ensemble, phase.handler, phase.role, roles)
            row = PlanRow(
                id=phase.name,
                description=base_desc,
                task_type=phase.task_type,
                delegability_category=category,
                phase=phase.name,
                handler=handler,
                role=phase.role,
                depends_on=deps,
                **common,
                context_files=list(phase.files),
            )
            rows.append(row)
            ids.append(row.id)
        else:
            for task in phase.tasks:
                handler, category = _handler_for(task.ensemble, task.handler, task.role, roles)
                desc = fill(task.description)
                extra = dict(common)
                if task.context is not None:
                    extra["context_strategy"] = task.context.value
                row = PlanRow(
                    id=f"{phase.name}.{task.name}",
                    description=f"{base_desc} — {desc}" if desc else base_desc,
                    task_type=task.task_type or phase.task_type,
                    delegability_category=category,
                    phase=phase.name,
                    handler=handler,
                    role=task.role,
                    depends_on=deps,
                    **extra,
                    context_files=list(task.files or phase.files),
                )
                rows.append(row)
                ids.append(row.id)
        rows_of[phase.name] = ids
    return WorkflowPlan(
        meta_task=meta_task.strip(),
        source=source or f"template:{template.name}",
        subtasks=rows,
        change=f"from workflow template {template.name}",
    )


# --------------------------------------------------------------------------- plan screen


def plan_cost_warnings(plan: WorkflowPlan, ensembles: Any) -> dict[str, Any]:
    """Row id → ``CostMultiplier`` for every row whose ensemble multiplies cost (propose–judge,
    several LLM agents, fan-out). ``ensembles``: an ``EnsembleCatalog`` or name → ``EnsembleSpec``."""
    from conductor_tui.core.propose_judge import cost_multiplier

    out: dict[str, Any] = {}
    for row in plan.subtasks:
        name = (row.handler or "").strip()
        if not name:
            continue
        entry = ensembles.get(name)
        spec = getattr(entry, "spec", entry) if entry is not None else None
        if spec is None or not hasattr(spec, "agents"):
            continue
        cm = cost_multiplier(spec)
        if cm.warn:
            out[row.id] = cm
    return out
