"""Load ensembles and profiles from llm-orc's three tiers, validate them, and say
whether each one can run here.

Tiers, in precedence order (llm-orc ``ConfigurationManager.get_ensembles_dirs``):

1. project ``<project>/.llm-orc/ensembles/**/*.yaml|yml``
2. library ``$LLM_ORC_LIBRARY_PATH/ensembles``
3. global ``$XDG_CONFIG_HOME/llm-orc/ensembles``

The first ensemble with a given ``name`` wins; the others are recorded as shadowed.

Profiles (llm-orc ``get_model_profiles``, lowest to highest precedence): global
``config.yaml`` ``model_profiles``, global ``profiles/*.yaml`` (``*.local.yaml``
last), local ``config.yaml``, local ``profiles/*.yaml`` (``*.local.yaml`` last).
A profile file needs a top-level ``name`` (llm-orc ignores one without it).

No Textual here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import yaml

from conductor_tui.core import locations
from conductor_tui.core.spec import (
    DEFAULT_MAX_ENSEMBLE_DEPTH,
    KEYS_BY_KIND,
    LOOP_KEYS,
    AgentSpec,
    EnsembleSpec,
    Problem,
    Profile,
)
from conductor_tui.core.yamlnodes import YamlFileError, _mapping_child, read_yaml_doc

TIER_ORDER = ("project", "library", "global")
SCRIPT_EXTENSIONS = (".py", ".sh", ".bash", ".js", ".rb")
_WHEN_RE = re.compile(r"^\s*\$\{[^.}]+\.[^}]+\}\s*(==\s*\S.*)?$")


class EnsembleLoadError(Exception):
    """Raised by :func:`load_ensemble_file` with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --------------------------------------------------------------------------- YAML


@dataclass
class _Doc:
    data: Any
    node: yaml.Node | None


def read_yaml(path: Path) -> _Doc:
    """Parse one YAML file keeping the node tree (for line numbers).

    Raises :class:`EnsembleLoadError` with ``file:line`` on a syntax error.
    """
    try:
        doc = read_yaml_doc(path)
    except YamlFileError as exc:
        raise EnsembleLoadError(exc.problems) from exc
    return _Doc(doc.data, doc.node)


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


# --------------------------------------------------------------------------- ensembles


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


def _suggest(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else "remove it"


def _parse_agent(
    raw: Any, index: int, node: yaml.Node | None, path: Path | None, problems: list[Problem]
) -> AgentSpec | None:
    line = _line(node)
    if not isinstance(raw, dict):
        problems.append(Problem(f"agent #{index + 1} is not a mapping", path=path, line=line, code="agent"))
        return None
    lines = _key_lines(node)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(
            Problem(f"agent #{index + 1} has no name", path=path, line=line, code="agent", fix="add name: …")
        )
        return None
    kind = agent_kind(raw)
    allowed = KEYS_BY_KIND[kind]

    def bad(msg: str, key: str | None = None, fix: str | None = None, code: str = "agent") -> None:
        problems.append(
            Problem(
                f'agent "{name}": {msg}',
                path=path,
                line=lines.get(key, line) if key else line,
                agent=name,
                fix=fix,
                code=code,
            )
        )

    for key in raw:
        if key not in allowed:
            bad(
                f'unknown key "{key}" for a {kind} agent (llm-orc rejects extra keys)',
                key,
                fix=_suggest(str(key), allowed),
                code="unknown-key",
            )

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

    spec = AgentSpec(
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
    if kind == "llm":
        for key in (
            "model_profile",
            "model",
            "provider",
            "system_prompt",
            "output_format",
            "fallback_model_profile",
        ):
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
    elif kind == "script":
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
    elif kind == "ensemble":
        target = raw.get("ensemble")
        if not isinstance(target, str) or not target.strip():
            bad("ensemble must name another ensemble", "ensemble")
        else:
            spec.ensemble = target.strip()
    elif kind == "loop":
        loop = raw.get("loop")
        if not isinstance(loop, dict):
            bad("loop must be a mapping with body, until, max_iterations", "loop")
        else:
            for key in loop:
                if key not in LOOP_KEYS:
                    bad(
                        f'unknown key "{key}" in loop (llm-orc rejects extra keys)',
                        "loop",
                        fix=_suggest(str(key), LOOP_KEYS),
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
    elif kind == "dispatch":
        target = raw.get("dispatch")
        if not isinstance(target, str) or not target.strip():
            bad("dispatch must be an ensemble name or a ${agent.field} reference", "dispatch")
        else:
            spec.dispatch = target.strip()
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
    lines = _key_lines(node)
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
    agents_raw = data.get("agents")
    agents: list[AgentSpec] = []
    if agents_raw is not None and not isinstance(agents_raw, list):
        problems.append(Problem("agents must be a list", path=path, line=lines.get("agents")))
    elif isinstance(agents_raw, list):
        agents_node = _mapping_child(node, "agents")
        item_nodes = agents_node.value if isinstance(agents_node, yaml.SequenceNode) else []
        for i, raw in enumerate(agents_raw):
            item_node = item_nodes[i] if i < len(item_nodes) else None
            spec = _parse_agent(raw, i, item_node, path, problems)
            if spec is not None:
                agents.append(spec)
        if not agents_raw:
            problems.append(Problem("agents is empty", path=path, line=lines.get("agents")))
    seen: dict[str, AgentSpec] = {}
    for agent in agents:
        if agent.name in seen:
            problems.append(
                Problem(f'two agents are named "{agent.name}"', path=path, line=agent.line, agent=agent.name)
            )
        seen[agent.name] = agent
    for agent in agents:
        for dep in agent.depends_on:
            if dep not in seen:
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
            elif dep == agent.name:
                pass  # reported as a cycle below
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
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise EnsembleLoadError(problems)
    default_task = data.get("default_task") or data.get("task")
    return EnsembleSpec(
        name=str(name),
        description=str(data.get("description") or ""),
        agents=agents,
        path=path,
        tier=tier,
        default_task=str(default_task) if default_task else None,
        raw=dict(data),
        problems=problems,
    )


def load_ensemble_file(path: Path, tier: str | None = None) -> EnsembleSpec:
    doc = read_yaml(path)
    return parse_ensemble(doc.data, path=path, node=doc.node, tier=tier)


# --------------------------------------------------------------------------- tiers


@dataclass
class EnsembleEntry:
    """One ensemble name as found across the tiers."""

    name: str
    tier: str
    path: Path
    spec: EnsembleSpec | None = None
    problems: list[Problem] = field(default_factory=list)
    shadowed: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.spec is not None


@dataclass
class Catalog:
    """Every ensemble visible from a project, with the winner per name."""

    project: Path | None
    dirs: list[tuple[str, Path]]
    entries: dict[str, EnsembleEntry] = field(default_factory=dict)
    invalid: list[EnsembleEntry] = field(default_factory=list)
    profiles: ProfileSet | None = None

    def get(self, name: str) -> EnsembleEntry | None:
        """The winning ensemble called ``name`` (or by ``relative/name``)."""
        entry = self.entries.get(name)
        if entry is not None:
            return entry
        for e in self.entries.values():
            if e.spec and e.spec.relative_path and f"{e.spec.relative_path}/{e.name}" == name:
                return e
        return None

    def find_invalid(self, name: str) -> list[EnsembleEntry]:
        return [e for e in self.invalid if e.name == name or e.path.stem == name]

    def all_entries(self) -> list[EnsembleEntry]:
        return sorted(
            self.entries.values(),
            key=lambda e: (TIER_ORDER.index(e.tier) if e.tier in TIER_ORDER else 9, e.name),
        )


def ensemble_dirs(project: Path | None) -> list[tuple[str, Path]]:
    """(tier, directory) in precedence order; directories may not exist."""
    dirs: list[tuple[str, Path]] = []
    if project is not None:
        dirs.append(("project", locations.project_llm_orc_dir(project) / "ensembles"))
    lib = locations.library_dir()
    if lib is not None:
        dirs.append(("library", lib / "ensembles"))
    dirs.append(("global", locations.global_llm_orc_dir() / "ensembles"))
    return dirs


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    files = [*directory.rglob("*.yaml"), *directory.rglob("*.yml")]
    return sorted(p for p in files if p.is_file())


def load_catalog(project: str | os.PathLike[str] | None, *, with_profiles: bool = True) -> Catalog:
    """Scan the three tiers. Never raises for a bad file: it lands in ``invalid``."""
    proj = Path(project) if project is not None else None
    dirs = ensemble_dirs(proj)
    catalog = Catalog(project=proj, dirs=dirs)
    for tier, directory in dirs:
        for file in _yaml_files(directory):
            try:
                spec = load_ensemble_file(file, tier=tier)
            except EnsembleLoadError as exc:
                catalog.invalid.append(
                    EnsembleEntry(name=file.stem, tier=tier, path=file, problems=exc.problems)
                )
                continue
            rel = file.parent.relative_to(directory)
            spec.relative_path = str(rel) if str(rel) != "." else None
            existing = catalog.entries.get(spec.name)
            if existing is not None:
                existing.shadowed.append((tier, file))
                continue
            catalog.entries[spec.name] = EnsembleEntry(
                name=spec.name, tier=tier, path=file, spec=spec, problems=list(spec.problems)
            )
    if with_profiles:
        catalog.profiles = load_profiles(proj)
    return catalog


# --------------------------------------------------------------------------- profiles


@dataclass
class ProfileSet:
    profiles: dict[str, Profile] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)

    def get(self, name: str | None) -> Profile | None:
        return self.profiles.get(name) if name else None

    def __contains__(self, name: object) -> bool:
        return name in self.profiles

    def __len__(self) -> int:
        return len(self.profiles)


def _profile_layers(project: Path | None) -> list[tuple[str, Path]]:
    """(kind, path) from lowest to highest precedence; kind 'config' or 'dir'."""
    layers: list[tuple[str, Path]] = []
    g = locations.global_llm_orc_dir()
    layers += [("config", g / "config.yaml"), ("dir", g / "profiles")]
    lib = locations.library_dir()
    if lib is not None:  # profiles promoted with a library ensemble
        layers += [("config", lib / "config.yaml"), ("dir", lib / "profiles")]
    if project is not None:
        local = locations.project_llm_orc_dir(project)
        if local.is_dir():
            layers += [("config", local / "config.yaml"), ("dir", local / "profiles")]
    return layers


def load_profiles(project: str | os.PathLike[str] | None) -> ProfileSet:
    """Merge the profiles with llm-orc's precedence (later layers win)."""
    out = ProfileSet()
    proj = Path(project) if project is not None else None

    def put(name: str, data: dict[str, Any], source: Path) -> None:
        prof = Profile.from_mapping(name, data, source)
        old = out.profiles.get(name)
        if old is not None and old.source is not None:
            prof.shadowed = [*old.shadowed, old.source]
        out.profiles[name] = prof

    for kind, path in _profile_layers(proj):
        if kind == "config":
            if not path.is_file():
                continue
            try:
                doc = read_yaml(path)
            except EnsembleLoadError as exc:
                out.problems.extend(exc.problems)
                continue
            out.sources.append(path)
            data = doc.data if isinstance(doc.data, dict) else {}
            section = data.get("model_profiles") or {}
            if not isinstance(section, dict):
                out.problems.append(
                    Problem("model_profiles must be a mapping", path=path, severity="warning")
                )
                continue
            for name, body in section.items():
                if isinstance(body, dict):
                    put(str(name), body, path)
            continue
        if not path.is_dir():
            continue
        files = sorted(path.glob("*.yaml"))
        ordered = [f for f in files if not f.name.endswith(".local.yaml")] + [
            f for f in files if f.name.endswith(".local.yaml")
        ]
        for file in ordered:
            try:
                doc = read_yaml(file)
            except EnsembleLoadError as exc:
                out.problems.extend(p for p in exc.problems)
                continue
            out.sources.append(file)
            if not isinstance(doc.data, dict) or "name" not in doc.data:
                out.problems.append(
                    Problem(
                        "profile file has no top-level name; llm-orc ignores it",
                        path=file,
                        severity="warning",
                        fix="add name: <profile name> (one profile per file)",
                        code="profile-name",
                    )
                )
                continue
            put(str(doc.data["name"]), doc.data, file)
    return out


# --------------------------------------------------------------------------- scripts


# A top-level (not agent) key: llm-orc rejects unknown agent keys. ``true`` lets this
# ensemble's script agents name files outside the tiers' scripts folders (absolute paths,
# ``../``) — the user's explicit opt-in, per ensemble.
EXTERNAL_SCRIPTS_KEY = "allow_external_scripts"

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


def script_roots(project: Path | None) -> list[Path]:
    """The folders script agents may run files from without the opt-in: each tier's
    ``scripts`` folder (project ``.llm-orc/scripts``, the library's, the global tier's)."""
    base = project or Path.cwd()
    roots = [base / ".llm-orc" / "scripts", locations.global_llm_orc_dir() / "scripts"]
    lib = locations.library_dir()
    if lib is not None:
        roots.append(lib / "scripts")
    return roots


def script_confined(path: Path, project: Path | None) -> bool:
    """True when ``path`` (symlinks resolved) lies inside one of :func:`script_roots`."""
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    for root in script_roots(project):
        try:
            real.relative_to(root.resolve())
            return True
        except (ValueError, OSError):
            continue
    return False


def looks_like_path(script: str) -> bool:
    """llm-orc's rule: a path has a slash or a known script extension; else inline."""
    s = script.strip()
    return "/" in s or "\\" in s or s.endswith(SCRIPT_EXTENSIONS)


def script_search_dirs(project: Path | None) -> list[Path]:
    base = project or Path.cwd()
    dirs = [base / ".llm-orc" / "scripts", base / ".llm-orc", base]
    lib = locations.library_dir()
    if lib is not None:
        dirs += [lib / "scripts", lib]
    g = locations.global_llm_orc_dir()  # a promoted ensemble's scripts run from the global tier
    dirs += [g / "scripts", g]
    return dirs


def resolve_script(script: str, project: Path | None) -> Path | None:
    """The script file a path-like reference names, or ``None`` when not found.

    Search order as llm-orc: ``.llm-orc/scripts``, ``.llm-orc``, the project, the
    library, then the global tier (where promoted ensembles' scripts land); also tries ``-`` → ``_`` and dropping a leading ``scripts/``.
    """
    ref = script.strip()
    if os.path.isabs(ref):
        p = Path(ref)
        return p if p.is_file() else None
    candidates = [ref]
    if "-" in ref:
        candidates.append(ref.replace("-", "_"))
    if ref.startswith("scripts/"):
        candidates.append(ref.removeprefix("scripts/"))
    for directory in script_search_dirs(project):
        for cand in candidates:
            p = directory / cand
            if p.is_file():
                return p
    return None


def external_scripts_allowed(ensemble: Any) -> bool:
    """The ensemble's explicit opt-in (top-level ``allow_external_scripts: true``)."""
    raw = getattr(ensemble, "raw", None)
    return isinstance(raw, dict) and raw.get(EXTERNAL_SCRIPTS_KEY) is True


def locate_script(
    script: str, project: Path | None, *, allow_external: bool = False
) -> tuple[Path | None, str]:
    """(the script file, "ok") — or (None, "missing" | "outside"): a path-like script must
    resolve inside a tier's scripts folder (:func:`script_roots`) unless ``allow_external``."""
    path = resolve_script(script, project)
    if path is None:
        return None, "missing"
    if not allow_external and not script_confined(path, project):
        return None, "outside"
    return path, "ok"


# --------------------------------------------------------------------------- runnability


def normalise_model(name: str) -> str:
    """Ollama's implicit tag: ``llama3`` means ``llama3:latest``."""
    name = name.strip()
    return name if ":" in name.split("/")[-1] else f"{name}:latest"


def model_installed(model: str, installed: Collection[str]) -> bool:
    wanted = normalise_model(model)
    return any(normalise_model(m) == wanted for m in installed)


@dataclass
class ResolvedModel:
    """What an LLM agent will actually call."""

    model: str | None
    provider: str | None
    profile: Profile | None
    problems: list[Problem] = field(default_factory=list)


def _unreadable_profile_file(name: str, profiles: ProfileSet) -> Problem | None:
    """A profile file that could not be read and may define ``name`` (named after it, or
    mentioning it) — so the advice is "fix that file", never "create" what exists."""
    candidates = [(p, p.path) for p in profiles.problems if p.code in ("yaml", "io") and p.path is not None]
    for problem, path in candidates:
        if Path(path).stem in (name, f"{name}.local"):
            return problem
    for problem, path in candidates:
        try:
            if name.encode() in Path(path).read_bytes()[:1_000_000]:
                return problem
        except OSError:
            continue
    return None


def resolve_agent_model(
    agent: AgentSpec, profiles: ProfileSet, ensemble: EnsembleSpec | None = None
) -> ResolvedModel:
    path = ensemble.path if ensemble else None
    if agent.model_profile:
        prof = profiles.get(agent.model_profile)
        if prof is None:
            close = difflib.get_close_matches(agent.model_profile, list(profiles.profiles), n=1)
            unreadable = _unreadable_profile_file(agent.model_profile, profiles)
            return ResolvedModel(
                None,
                None,
                None,
                [
                    Problem(
                        f'profile "{agent.model_profile}" not found (agent "{agent.name}")'
                        + (
                            f" — {unreadable.path}"
                            + (f":{unreadable.line}" if unreadable.line else "")
                            + f" could not be read: {unreadable.message}"
                            if unreadable
                            else ""
                        ),
                        path=path,
                        line=agent.line,
                        agent=agent.name,
                        fix=(
                            f"fix {unreadable.path} (it may define this profile)"
                            if unreadable
                            else f'did you mean "{close[0]}"?'
                            if close
                            else f"create .llm-orc/profiles/{agent.model_profile}.yaml with name, model, provider"
                        ),
                        code="missing-profile",
                    )
                ],
            )
        if not prof.model or not prof.provider:
            return ResolvedModel(
                prof.model,
                prof.provider,
                prof,
                [
                    Problem(
                        f'profile "{prof.name}" is incomplete: both model and provider are required',
                        path=prof.source,
                        agent=agent.name,
                        code="bad-profile",
                    )
                ],
            )
        return ResolvedModel(prof.model, prof.provider, prof)
    return ResolvedModel(agent.model, agent.provider, None)


def fallback_chain(agent: AgentSpec, profiles: ProfileSet) -> list[Profile]:
    """The fallback profiles to try, in order (agent's own, then the profile's chain)."""
    chain: list[Profile] = []
    seen: set[str] = set()
    start = agent.fallback_model_profile
    if not start and agent.model_profile:
        prof = profiles.get(agent.model_profile)
        start = prof.fallback_model_profile if prof else None
        if agent.model_profile:
            seen.add(agent.model_profile)
    name = start
    while name and name not in seen:
        seen.add(name)
        prof = profiles.get(name)
        if prof is None:
            break
        chain.append(prof)
        name = prof.fallback_model_profile
    return chain


def check_runnable(
    ensemble: EnsembleSpec,
    installed_models: Collection[str] | None,
    profiles: ProfileSet | None = None,
    *,
    project: Path | None = None,
    ollama_host: str | None = None,
    endpoint_models: Mapping[str, Collection[str] | None] | None = None,
    env: Mapping[str, str] | None = None,
    ensembles: Mapping[str, EnsembleSpec] | None = None,
    max_depth: int = DEFAULT_MAX_ENSEMBLE_DEPTH,
    _stack: tuple[str, ...] = (),
) -> list[Problem]:
    """Everything that stops ``ensemble`` from running here, each with its fix.

    ``installed_models=None`` means the default Ollama host could not be asked; that is one
    problem for ensembles with Ollama agents (not one per model).
    ``endpoint_models``: what the other hosts serve, by :attr:`Endpoint.key` (``None`` = not
    reachable); a host missing from it was not probed and is not judged.
    ``ensembles``: the catalog by name, to judge ``ensemble`` / ``loop`` / ``dispatch`` agents (their
    targets exist, no reference cycle, nesting within ``max_depth``, the child ensembles runnable).
    """
    from conductor_tui.providers import endpoints

    default_ollama = endpoints.endpoint_for("ollama", None, ollama_host=ollama_host)
    probed = endpoint_models or {}
    down_reported: set[str] = set()
    profiles = profiles if profiles is not None else load_profiles(project)
    problems: list[Problem] = [p for p in ensemble.problems if p.severity != "warning"]
    missing_models: dict[str, Problem] = {}
    has_llm = False  # an agent on the default Ollama host
    for agent in ensemble.agents:
        if agent.kind == "script" and agent.script:
            if looks_like_path(agent.script):
                found, why = locate_script(
                    agent.script, project, allow_external=external_scripts_allowed(ensemble)
                )
                if found is None and why == "outside":
                    problems.append(
                        Problem(
                            f'script "{agent.script}" is outside the scripts folders (agent "{agent.name}")',
                            path=ensemble.path,
                            line=agent.line,
                            agent=agent.name,
                            fix=f"move it into .llm-orc/scripts/, or set {EXTERNAL_SCRIPTS_KEY}: true "
                            "at the top of the ensemble to allow it",
                            code="script-outside",
                        )
                    )
                elif found is None:
                    problems.append(
                        Problem(
                            f'script "{agent.script}" not found (agent "{agent.name}")',
                            path=ensemble.path,
                            line=agent.line,
                            agent=agent.name,
                            fix=f"put it in .llm-orc/scripts/ (looked in {', '.join(str(d) for d in script_search_dirs(project)[:2])})",
                            code="missing-script",
                        )
                    )
            continue
        if agent.kind in ("ensemble", "loop", "dispatch"):
            problems.extend(
                _check_composition(
                    ensemble,
                    agent,
                    ensembles,
                    max_depth,
                    (*_stack, ensemble.name),
                    lambda child, stack: check_runnable(
                        child,
                        installed_models,
                        profiles,
                        project=project,
                        ollama_host=ollama_host,
                        endpoint_models=endpoint_models,
                        env=env,
                        ensembles=ensembles,
                        max_depth=max_depth,
                        _stack=stack,
                    ),
                )
            )
            continue
        if agent.kind != "llm":
            continue
        resolved = resolve_agent_model(agent, profiles, ensemble)
        problems.extend(resolved.problems)
        if resolved.problems or not resolved.model:
            continue
        ep = endpoints.endpoint_for(resolved.provider, resolved.profile, ollama_host=ollama_host)
        if ep is None:
            problems.append(
                Problem(
                    f'agent "{agent.name}" uses provider "{resolved.provider}"; conductor-tui runs '
                    "ollama, openai-compatible and llama-server models",
                    severity="unsupported",
                    path=ensemble.path,
                    line=agent.line,
                    agent=agent.name,
                    fix="point its profile at one of those providers, or run it with llm-orc itself",
                    code="unsupported-provider",
                )
            )
            continue
        if ep.api_key_env and not (env if env is not None else os.environ).get(ep.api_key_env):
            problems.append(
                Problem(
                    f'agent "{agent.name}": {ep.api_key_env} is not set (the API key for {ep.label})',
                    path=(resolved.profile.source if resolved.profile else None) or ensemble.path,
                    agent=agent.name,
                    fix=f"export {ep.api_key_env}=<key>",
                    code="missing-api-key",
                )
            )
            continue
        if default_ollama is None or ep.key != default_ollama.key:
            problems.extend(_check_endpoint_model(ensemble, agent, resolved.model, ep, probed, down_reported))
            continue
        has_llm = True
        if installed_models is None:
            continue
        if not model_installed(resolved.model, installed_models):
            fallbacks = [
                p
                for p in fallback_chain(agent, profiles)
                if p.model
                and (p.provider or "").lower() == "ollama"
                and model_installed(p.model, installed_models)
            ]
            key = resolved.model
            if fallbacks:
                problems.append(
                    Problem(
                        f'Ensemble "{ensemble.name}" prefers {resolved.model} (agent "{agent.name}"), which is not installed; '
                        f"it will fall back to {fallbacks[0].model}",
                        severity="warning",
                        agent=agent.name,
                        fix=f"ollama pull {resolved.model}",
                        code="missing-model",
                    )
                )
            elif key not in missing_models:
                missing_models[key] = Problem(
                    f'Ensemble "{ensemble.name}" requires {resolved.model} which is not installed',
                    agent=agent.name,
                    fix=f"ollama pull {resolved.model}",
                    code="missing-model",
                )
    problems.extend(missing_models.values())
    if has_llm and installed_models is None:
        where = ollama_host or locations.ollama_host()
        problems.append(
            Problem(
                f"Ollama is not reachable at {where}; its models cannot be checked",
                fix="start Ollama (ollama serve) or set OLLAMA_HOST",
                code="ollama-down",
            )
        )
    return problems


def composition_target(agent: AgentSpec) -> str | None:
    """The ensemble a composition agent names statically (``None``: none, or chosen at run time)."""
    if agent.kind == "ensemble":
        return agent.ensemble
    if agent.kind == "loop":
        body = (agent.loop or {}).get("body")
        return body if isinstance(body, str) else None
    if agent.kind == "dispatch" and agent.dispatch and "${" not in agent.dispatch:
        return agent.dispatch
    return None


class _Where(TypedDict):
    """Where a composition problem is: keyword arguments of :class:`Problem`."""

    path: Path | None
    line: int | None
    agent: str | None


def _check_composition(
    ensemble: EnsembleSpec,
    agent: AgentSpec,
    ensembles: Mapping[str, EnsembleSpec] | None,
    max_depth: int,
    stack: tuple[str, ...],
    check_child: Any,
) -> list[Problem]:
    """An ``ensemble`` / ``loop`` / ``dispatch`` agent: its target exists, no cycle, depth bound,
    and the child ensemble's own blocking problems (prefixed with the path to them)."""
    where: _Where = {"path": ensemble.path, "line": agent.line, "agent": agent.name}
    target = composition_target(agent)
    if target is None:
        if agent.kind == "dispatch" and agent.dispatch:
            return [
                Problem(
                    f'agent "{agent.name}" dispatches to the ensemble named by {agent.dispatch} at run time; '
                    "it is checked when the run gets there",
                    severity="warning",
                    code="dynamic-dispatch",
                    **where,
                )
            ]
        return []
    if ensembles is None:
        return []
    if target in stack:
        cycle = " → ".join([*stack[stack.index(target) :], target])
        return [Problem(f"ensemble reference cycle: {cycle}", code="ensemble-cycle", **where)]
    if len(stack) > max_depth:
        return [
            Problem(
                f'agent "{agent.name}": ensemble nesting depth {len(stack)} > limit {max_depth} ({" → ".join(stack)} → {target})',
                code="ensemble-depth",
                fix="raise performance.execution.max_ensemble_depth in config.yaml, or flatten the ensembles",
                **where,
            )
        ]
    child = ensembles.get(target)
    if child is None:
        close = difflib.get_close_matches(target, list(ensembles), n=1)
        return [
            Problem(
                f'agent "{agent.name}" runs ensemble "{target}", which is not found in any tier',
                code="missing-ensemble",
                fix=f'did you mean "{close[0]}"?' if close else f"create .llm-orc/ensembles/{target}.yaml",
                **where,
            )
        ]
    out = []
    for p in check_child(child, stack):
        if not p.blocking:
            continue
        out.append(
            Problem(
                f'child ensemble "{target}" (agent "{agent.name}"): {p.message}',
                severity=p.severity,
                fix=p.fix,
                path=p.path,
                line=p.line,
                agent=agent.name,
                code=p.code,
            )
        )
    return out


def _check_endpoint_model(
    ensemble: EnsembleSpec,
    agent: AgentSpec,
    model: str,
    ep: Any,
    probed: Mapping[str, Collection[str] | None],
    down_reported: set[str],
) -> list[Problem]:
    """Problems for an agent on a host other than the default Ollama: down, or model not served."""
    if ep.key not in probed:
        return []
    served = probed[ep.key]
    if served is None:
        if ep.key in down_reported:
            return []
        down_reported.add(ep.key)
        fix = (
            "start Ollama there (OLLAMA_HOST=0.0.0.0 ollama serve on that machine) or fix base_url"
            if ep.family == "ollama"
            else "start llama-server (llama-server -m MODEL.gguf --port 8080) or fix base_url"
            if ep.provider == "llama-server"
            else f"start the server behind {ep.url} or fix base_url in the profile"
        )
        return [
            Problem(
                f'{ep.label} is not reachable (agent "{agent.name}")',
                agent=agent.name,
                fix=fix,
                code="host-down",
            )
        ]
    if ep.family == "ollama":
        if model_installed(model, served):
            return []
        return [
            Problem(
                f'Ensemble "{ensemble.name}" requires {model} which is not installed on {ep.label}',
                agent=agent.name,
                fix=f"OLLAMA_HOST={ep.url} ollama pull {model}",
                code="missing-model",
            )
        ]
    if model in served:
        return []
    listed = ", ".join(sorted(served)[:5]) or "none"
    if ep.provider == "llama-server":
        # llama.cpp's server answers any model name with the model it loaded (unless it routes)
        return [
            Problem(
                f'agent "{agent.name}" asks {ep.label} for {model}; it serves {listed}',
                severity="warning",
                agent=agent.name,
                fix=f"set model: {sorted(served)[0]} in the profile" if served else None,
                code="model-not-served",
            )
        ]
    close = difflib.get_close_matches(model, list(served), n=1)
    return [
        Problem(
            f'agent "{agent.name}" needs {model}, which {ep.label} does not serve (it serves {listed})',
            agent=agent.name,
            fix=f'use "{close[0]}" in the profile'
            if close
            else f"serve {model} there (e.g. vllm serve {model})",
            code="model-not-served",
        )
    ]


def is_runnable(problems: Iterable[Problem]) -> bool:
    return not any(p.blocking for p in problems)
