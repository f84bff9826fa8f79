"""What a workflow template is: its phases and tasks, the keys a file may use, and its errors."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core.context import DEFAULT_DISTILL_ENSEMBLE, ContextStrategy
from conductor_tui.core.spec import Problem
from conductor_tui.core.yamlnodes import Node

PHASE_TYPES = ("ensemble", "single", "routed", "parallel")
#: the folder under a project's (or the global) ``.llm-orc/`` where a person keeps templates
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
