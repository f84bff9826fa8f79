"""Where templates come from (project, global, shipped) and which one wins by name."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from conductor_tui.core import locations
from conductor_tui.core.spec import Problem
from conductor_tui.core.templates.model import (
    WORKFLOWS_DIR,
    TemplateError,
    WorkflowTemplate,
)
from conductor_tui.core.templates.parsing import load_template_file

# --------------------------------------------------------------------------- discovery

#: the package folder holding the shipped templates (YAML only, like the starter kit's)
SHIPPED_DIR = "templates"


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
    """The templates shipped with conductor-tui: the package's ``templates/`` data folder."""
    return Path(str(resources.files("conductor_tui") / SHIPPED_DIR))


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
