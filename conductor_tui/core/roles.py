"""Role-based routing: roles (planner, backend, frontend, tests, reviewer, quick …) mapped
to llm-orc profiles, Ollama models, ensembles or Claude.

Where the mapping lives
-----------------------
``<project>/.llm-orc/conductor/roles.yaml`` (project) over
``$XDG_CONFIG_HOME/llm-orc/conductor/roles.yaml`` (global); a role in the project file
replaces the global one of the same name; with neither file, :data:`DEFAULT_ROLES`.

Why a file of its own, in a ``conductor/`` folder: llm-orc owns ``config.yaml`` (its
``config`` commands rewrite it), parses every ``profiles/*.yaml`` as a profile and every
``ensembles/**/*.yaml`` as an ensemble (a roles file in either place would be skipped with
a warning, or worse, taken for one). A sibling folder is invisible to llm-orc, and profiles
stay the unit underneath: a role names a profile (preferred), or a model, an ensemble, or
Claude.

Format::

    roles:
      planner: {handler: claude, description: Plans and architecture}
      backend: starter-medium                 # shorthand: a profile name
      frontend: {model: qwen2.5-coder:7b}    # provider defaults to ollama
      tests: {ensemble: generate-test-cases}
      quick: {profile: starter-small, system_prompt: "Be terse."}

A row routed by role carries ``role`` and the handler ``role:<name>`` (or the role's
ensemble / ``claude`` when it names one). :func:`role_ensemble` turns a profile/model role
into a one-agent llm-orc ensemble the executor runs like any other.

No Textual here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from conductor_tui.core import locations
from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem
from conductor_tui.core.yamlnodes import Node, YamlFileError, read_yaml_doc

ROLES_DIR = "conductor"
ROLES_FILE = "roles.yaml"
ROLE_HANDLER_PREFIX = "role:"
TargetKind = Literal["profile", "model", "ensemble", "claude"]
_TARGET_KEYS = ("profile", "model", "ensemble", "handler")
_ALLOWED_KEYS = frozenset({*_TARGET_KEYS, "provider", "description", "system_prompt", "temperature"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: Used when neither the project nor the global roles file exists (the default
#: table: Claude plans and reviews; local models build; the small one does quick edits).
DEFAULT_ROLES: dict[str, dict[str, Any]] = {
    "planner": {"handler": "claude", "description": "plans and architecture"},
    "backend": {"profile": "starter-medium", "description": "server-side code"},
    "frontend": {"profile": "starter-medium", "description": "UI code"},
    "tests": {"profile": "starter-medium", "description": "writes tests"},
    "reviewer": {"handler": "claude", "description": "reviews and audits"},
    "quick": {"profile": "starter-small", "description": "small mechanical edits"},
}


@dataclass
class Role:
    """One role and what it routes to."""

    name: str
    kind: TargetKind
    target: str  # profile name, model, ensemble name, or "claude"
    provider: str | None = None  # for kind == "model"
    description: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    source: Path | None = None  # None = built-in default
    line: int | None = None

    @property
    def handler(self) -> str:
        """The plan-row handler for a row routed to this role."""
        if self.kind == "claude":
            return "claude"
        if self.kind == "ensemble":
            return self.target
        return f"{ROLE_HANDLER_PREFIX}{self.name}"

    @property
    def label(self) -> str:
        """``backend → starter-medium`` for a picker."""
        arrow = {"claude": "Claude", "ensemble": f"ensemble {self.target}"}.get(self.kind, self.target)
        return f"{self.name} → {arrow}"

    @property
    def where(self) -> str:
        if self.source is None:
            return "built-in default"
        return f"{self.source}:{self.line}" if self.line else str(self.source)


@dataclass
class RolesConfig:
    roles: dict[str, Role] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    defaults_used: bool = False

    def get(self, name: str | None) -> Role | None:
        if not name:
            return None
        return self.roles.get(name) or self.roles.get(name.strip().lower())

    def names(self) -> list[str]:
        return list(self.roles)

    def __contains__(self, name: object) -> bool:
        return name in self.roles


def project_roles_path(project: str | os.PathLike[str]) -> Path:
    return locations.project_llm_orc_dir(project) / ROLES_DIR / ROLES_FILE


def global_roles_path() -> Path:
    return locations.global_llm_orc_dir() / ROLES_DIR / ROLES_FILE


def _parse_role(
    name: str, key_line: int | None, node: Node, path: Path | None
) -> tuple[Role | None, list[Problem]]:
    problems: list[Problem] = []

    def bad(message: str, line: int | None = None, fix: str | None = None) -> None:
        problems.append(
            Problem(f'role "{name}": {message}', path=path, line=line or key_line, fix=fix, code="role")
        )

    if not _NAME_RE.match(name):
        bad("a role name is letters, digits, '-', '_' or '.'")
        return None, problems
    value = node.data
    if isinstance(value, str):
        text = value.strip()
        if not text:
            bad("is empty", fix="name a profile, or {model: …}, {ensemble: …}, {handler: claude}")
            return None, problems
        if text.lower() == "claude":
            return Role(name, "claude", "claude", source=path, line=key_line), problems
        return Role(name, "profile", text, source=path, line=key_line), problems
    if not isinstance(value, dict):
        bad("must be a profile name or a mapping", node.line)
        return None, problems
    chosen = _role_target(value, node, bad)
    if chosen is None:
        return None, problems
    kind, target = chosen
    provider = value.get("provider")
    temperature = _role_options(value, kind, node, bad)
    if problems:
        return None, problems
    return (
        Role(
            name,
            kind,
            target,
            provider=(str(provider) if provider else "ollama") if kind == "model" else None,
            description=value.get("description"),
            system_prompt=value.get("system_prompt"),
            temperature=float(temperature) if temperature is not None else None,
            source=path,
            line=key_line,
        ),
        problems,
    )


def _role_target(
    value: dict[str, Any], node: Node, bad: Callable[..., None]
) -> tuple[TargetKind, str] | None:
    """The role's one target (profile, model, ensemble or ``handler: claude``); ``None`` when
    it has none, several, or a bad one (reported through ``bad``)."""
    for key in value:
        if key not in _ALLOWED_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_ALLOWED_KEYS), n=1)
            bad(
                f'unknown key "{key}"',
                node.key_line(str(key)),
                fix=f'did you mean "{close[0]}"?' if close else f"keys: {', '.join(sorted(_ALLOWED_KEYS))}",
            )
    given = [k for k in _TARGET_KEYS if value.get(k) not in (None, "")]
    if len(given) != 1:
        what = "none" if not given else ", ".join(given)
        bad(
            f"needs exactly one of profile, model, ensemble, handler (has {what})",
            node.line,
            fix="e.g. profile: starter-medium",
        )
        return None
    key = given[0]
    target = value[key]
    if not isinstance(target, str):
        bad(f"{key} must be a string", node.key_line(key))
        return None
    target = target.strip()
    if key != "handler":
        return key, target  # type: ignore[return-value]
    if target.lower() != "claude":
        bad(
            f'handler "{target}" is not "claude" (use ensemble: or profile: for local work)',
            node.key_line(key),
        )
        return None
    return "claude", "claude"


def _role_options(value: dict[str, Any], kind: str, node: Node, bad: Callable[..., None]) -> Any:
    """Check provider, description and system_prompt; return the temperature (``None`` if bad)."""
    if value.get("provider") is not None and kind != "model":
        bad("provider only goes with model", node.key_line("provider"))
    temperature = value.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        bad("temperature must be a number", node.key_line("temperature"))
        temperature = None
    for text_key in ("description", "system_prompt"):
        if value.get(text_key) is not None and not isinstance(value.get(text_key), str):
            bad(f"{text_key} must be a string", node.key_line(text_key))
    return temperature


def parse_roles(doc: Node, path: Path | None = None) -> RolesConfig:
    """Roles from a parsed file (``roles:`` mapping; a file of only comments is empty)."""
    cfg = RolesConfig()
    if doc.data is None:
        return cfg
    if not isinstance(doc.data, dict):
        cfg.problems.append(
            Problem("a roles file must be a mapping with a roles: section", path=path, line=1)
        )
        return cfg
    for key in doc.data:
        if key != "roles":
            cfg.problems.append(
                Problem(
                    f'unknown top-level key "{key}"',
                    path=path,
                    line=doc.key_line(str(key)),
                    fix="put roles under roles:",
                    code="role",
                )
            )
    section = doc.child("roles")
    if section.data is None:
        return cfg
    if not isinstance(section.data, dict):
        cfg.problems.append(
            Problem("roles: must be a mapping of role → target", path=path, line=section.line)
        )
        return cfg
    for name, key_line, node in section.entries():
        role, problems = _parse_role(str(name), key_line, node, path)
        cfg.problems.extend(problems)
        if role is not None:
            cfg.roles[role.name] = role
    return cfg


def load_roles_file(path: Path) -> RolesConfig:
    """One roles file. Never raises: a file that cannot be parsed gives problems."""
    try:
        doc = read_yaml_doc(path)
    except YamlFileError as exc:
        return RolesConfig(problems=list(exc.problems), sources=[path])
    cfg = parse_roles(doc, path)
    cfg.sources = [path]
    return cfg


def default_roles() -> RolesConfig:
    cfg = RolesConfig(defaults_used=True)
    for name, body in DEFAULT_ROLES.items():
        role, _ = _parse_role(name, None, Node(None, body), None)
        if role is not None:
            cfg.roles[name] = role
    return cfg


def load_roles(project: str | os.PathLike[str] | None) -> RolesConfig:
    """Global roles, overridden role by role by the project's; defaults when neither exists."""
    files = [global_roles_path()]
    if project is not None:
        files.append(project_roles_path(project))
    existing = [f for f in files if f.is_file()]
    if not existing:
        return default_roles()
    merged = RolesConfig()
    for f in existing:
        cfg = load_roles_file(f)
        merged.roles.update(cfg.roles)
        merged.problems.extend(cfg.problems)
        merged.sources.append(f)
    return merged


# --------------------------------------------------------------------------- resolution


@dataclass
class ResolvedRole:
    """What a role runs on, checked against the llm-orc profiles."""

    role: Role
    handler: str
    model: str | None = None
    provider: str | None = None
    profile: str | None = None
    ensemble: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def resolve_role(
    name: str, roles: RolesConfig, profiles: Any = None, ensembles: Any = None
) -> ResolvedRole | None:
    """Resolve ``name`` → profile/model/ensemble/Claude; ``None`` when the role is unknown.

    ``profiles``: an engine ``ProfileSet`` (or any mapping-like with ``get``); when given,
    a missing profile is a problem with the roles file's line. ``ensembles``: a collection
    of known ensemble names (or a catalog with ``get``), checked the same way.
    """
    role = roles.get(name)
    if role is None:
        return None
    out = ResolvedRole(role=role, handler=role.handler)
    if role.kind == "claude":
        return out
    if role.kind == "ensemble":
        out.ensemble = role.target
        if ensembles is not None:
            found = ensembles.get(role.target) if hasattr(ensembles, "get") else role.target in ensembles
            if not found:
                out.problems.append(
                    Problem(
                        f'role "{role.name}": ensemble "{role.target}" not found',
                        path=role.source,
                        line=role.line,
                        code="role-ensemble",
                    )
                )
        return out
    if role.kind == "model":
        out.model, out.provider = role.target, role.provider or "ollama"
        return out
    out.profile = role.target
    if profiles is not None:
        prof = profiles.get(role.target)
        if prof is None:
            known = list(getattr(profiles, "profiles", {}) or [])
            close = difflib.get_close_matches(role.target, known, n=1)
            out.problems.append(
                Problem(
                    f'role "{role.name}": profile "{role.target}" not found',
                    path=role.source,
                    line=role.line,
                    fix=f'did you mean "{close[0]}"?' if close else "create it under .llm-orc/profiles/",
                    code="role-profile",
                )
            )
        else:
            out.model = getattr(prof, "model", None)
            out.provider = getattr(prof, "provider", None)
    return out


def role_of_handler(handler: str | None) -> str | None:
    """``"role:backend"`` → ``"backend"``; anything else → ``None``."""
    text = (handler or "").strip()
    if text.lower().startswith(ROLE_HANDLER_PREFIX):
        return text[len(ROLE_HANDLER_PREFIX) :].strip() or None
    return None


@dataclass
class RoleChoice:
    """One line of the handler picker."""

    role: str
    handler: str
    label: str
    description: str | None
    available: bool
    problem: str | None = None
    builtin: bool = False  # a default role (no roles.yaml declares it)


def role_choices(roles: RolesConfig, profiles: Any = None, ensembles: Any = None) -> list[RoleChoice]:
    """Every role for the handler picker, in file order, with whether it can run here."""
    out: list[RoleChoice] = []
    for name in roles.names():
        res = resolve_role(name, roles, profiles, ensembles)
        if res is None:  # pragma: no cover - names() come from roles
            continue
        out.append(
            RoleChoice(
                role=name,
                handler=res.handler,
                label=res.role.label,
                description=res.role.description,
                available=res.ok,
                problem=str(res.problems[0]) if res.problems else None,
                builtin=res.role.source is None,
            )
        )
    return out


def route_row(row: Any, role_name: str, roles: RolesConfig) -> Any:
    """A copy of the plan row routed to ``role_name`` (``role`` and ``handler`` set).

    Raises ``KeyError`` for an unknown role. The caller records the decision
    (``core.plan.override_handler`` keeps revisions); this only computes the row.
    """
    role = roles.get(role_name)
    if role is None:
        raise KeyError(f'unknown role "{role_name}" (roles: {", ".join(roles.names()) or "none"})')
    return row.model_copy(update={"role": role.name, "handler": role.handler})


def role_ensemble(resolved: ResolvedRole, *, system_prompt: str | None = None) -> EnsembleSpec:
    """A one-agent llm-orc ensemble that runs a profile/model role (for ``role:<name>`` rows).

    Raises ``ValueError`` for a Claude or ensemble role (run those as they are).
    """
    role = resolved.role
    if role.kind in ("claude", "ensemble"):
        raise ValueError(f'role "{role.name}" is handled by {role.handler}, not a single agent')
    agent: dict[str, Any] = {"name": role.name}
    if role.kind == "profile":
        agent["model_profile"] = role.target
    else:
        agent["model"], agent["provider"] = role.target, role.provider or "ollama"
    prompt = system_prompt or role.system_prompt
    if prompt:
        agent["system_prompt"] = prompt
    if role.temperature is not None:
        agent["temperature"] = role.temperature
    # built directly (core sits below the loader); tests/templates/test_roles.py checks it
    # equals what engine.loader.parse_ensemble makes of the same mapping
    raw: dict[str, Any] = {
        "name": f"role-{role.name}",
        "description": f"the {role.name} role ({role.label})",
        "agents": [agent],
    }
    spec = AgentSpec(
        name=role.name,
        kind="llm",
        model_profile=agent.get("model_profile"),
        model=agent.get("model"),
        provider=agent.get("provider"),
        system_prompt=agent.get("system_prompt"),
        temperature=agent.get("temperature"),
        raw=agent,
    )
    return EnsembleSpec(name=raw["name"], description=raw["description"], agents=[spec], raw=raw)


def assign_role(plan: Any, row_id: str, role_name: str, roles: RolesConfig, clock: Any = None) -> Any:
    """A new revision of ``plan`` with row ``row_id`` routed to ``role_name`` (the handler
    picker's "role" choice): handler as :attr:`Role.handler`, ``role`` set, the proposed
    handler kept in ``original_handler``. Raises ``KeyError`` for an unknown role and
    ``core.plan.PlanError`` for an unknown row. The caller persists the revision.
    """
    from conductor_tui.core import plan as plan_ops

    role = roles.get(role_name)
    if role is None:
        raise KeyError(f'unknown role "{role_name}" (roles: {", ".join(roles.names()) or "none"})')
    new = (
        plan_ops.override_handler(plan, row_id, role.handler)
        if clock is None
        else plan_ops.override_handler(plan, row_id, role.handler, clock)
    )
    for row in new.subtasks:
        if row.id == row_id:
            row.role = role.name
    new.change = f"{new.change} (role {role.name})"
    return new
