"""The ensembles the cockpit can route to, and whether each can run right now.

Uses the engine's loader (all tiers: project, library, global) and its runnable
check against the models Ollama has.  Runs in a thread worker (YAML parsing);
never raises: a broken ensemble file becomes a problem on that ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EnsembleInfo:
    name: str
    description: str = ""
    tier: str = ""
    path: str = ""
    runnable: bool = True
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    @property
    def first_fix(self) -> str | None:
        return self.fixes[0] if self.fixes else None


@dataclass
class Catalog:
    ensembles: dict[str, EnsembleInfo] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)
    ollama_up: bool = False
    loaded: bool = False  # False until the first load finished
    checked: bool = False  # runnability checked against an Ollama status (not just parsed)
    error: str | None = None

    def get(self, name: str | None) -> EnsembleInfo | None:
        return self.ensembles.get(name or "")

    def runnable_names(self) -> list[str]:
        return sorted(n for n, e in self.ensembles.items() if e.runnable)

    def all_names(self) -> list[str]:
        return sorted(self.ensembles)


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def _problem_parts(problem: Any) -> tuple[str, str | None]:
    if isinstance(problem, str):
        return problem, None
    message = getattr(problem, "message", None) or getattr(problem, "problem", None) or str(problem)
    fix = getattr(problem, "fix", None)
    if isinstance(problem, dict):
        message = problem.get("message") or problem.get("problem") or str(problem)
        fix = problem.get("fix")
    path, line = getattr(problem, "path", None), getattr(problem, "line", None)
    if path is not None:
        # the CLI's precision: "cycle.yaml:4: dependency cycle: first → second → first"
        where = Path(path).name + (f":{line}" if line else "")
        if not _text(message).startswith(where):
            message = f"{where}: {_text(message)}"
    return _text(message), (_text(fix) or None)


async def probe_other_hosts(project: Path, ollama_host: str | None = None) -> list[Any]:
    """The hosts the profiles name besides the default Ollama (other Ollama hosts, OpenAI-compatible
    servers, llama-server), each probed once: a list of ``HostStatus`` (empty: none configured).
    Profiles are read and the ``openai`` client imported in a thread, never on the UI loop."""
    import asyncio

    def configured() -> list[Any]:
        from conductor_tui.engine import loader
        from conductor_tui.providers import hosts

        found = hosts.configured_endpoints(loader.load_profiles(project), ollama_host=ollama_host)[1:]
        if any(ep.family == "openai" for ep, _ in found):
            import openai  # noqa: F401 - ~0.5 s import, paid here in the thread

        return found

    try:
        found = await asyncio.to_thread(configured)
        if not found:
            return []
        from conductor_tui.providers import hosts

        return await hosts.probe_hosts(found, default_first=False)
    except Exception:  # a broken profile file is reported by the catalog; the probe stays quiet
        return []


def load_catalog(project: Path, status: Any = None, hosts: list[Any] | None = None) -> Catalog:
    """Every ensemble visible from ``project`` with its runnable state (never raises).

    ``status`` is the last OllamaStatus (None = not asked yet: nothing is flagged); ``hosts`` the
    other hosts' statuses (:func:`probe_other_hosts`), so agents on them are judged too."""
    models = {str(getattr(m, "name", m)) for m in (getattr(status, "models", None) or [])}
    up = bool(getattr(status, "reachable", False))
    catalog = Catalog(models=models, ollama_up=up, loaded=True, checked=status is not None)
    try:
        from conductor_tui.engine import loader
    except ImportError as exc:  # pragma: no cover - engine is part of the package
        catalog.error = f"ensemble loader unavailable: {exc}"
        return catalog
    try:
        found = loader.load_catalog(project)
    except Exception as exc:
        catalog.error = f"could not load ensembles: {exc}"
        return catalog
    installed = models if up else None
    by_name = {e.name: e.spec for e in found.all_entries() if e.spec is not None}
    endpoint_models = {h.endpoint.key: h.known_models for h in hosts} if hosts is not None else None
    for entry in found.all_entries():
        info = EnsembleInfo(
            name=entry.name,
            description=str(getattr(entry.spec, "description", "") or ""),
            tier=entry.tier,
            path=str(entry.path),
        )
        checks = (installed, found.profiles, project, status, endpoint_models, by_name)
        blocking = [p for p in _entry_problems(loader, entry, *checks) if getattr(p, "blocking", True)]
        parts = [_problem_parts(p) for p in blocking]
        info.problems = [m for m, _ in parts]
        info.fixes = [f for _, f in parts if f]
        info.runnable = not blocking
        catalog.ensembles.setdefault(info.name, info)
    for entry in found.invalid:
        if entry.name not in catalog.ensembles:
            catalog.ensembles[entry.name] = _invalid_info(entry)
    return catalog


def _entry_problems(
    loader: Any,
    entry: Any,
    installed: set[str] | None,
    profiles: Any,
    project: Path,
    status: Any,
    endpoint_models: dict[str, Any] | None,
    by_name: dict[str, Any],
) -> list[Any]:
    """An entry's problems: its own when it did not parse, only the blocking ones before Ollama
    was asked, else the runnable check against the installed models and other hosts."""
    spec = entry.spec
    if spec is None:
        return list(entry.problems)
    if status is None:
        return [p for p in entry.problems if getattr(p, "blocking", True)]
    try:
        return list(
            loader.check_runnable(
                spec,
                installed,
                profiles,
                project=project,
                ollama_host=getattr(status, "host", None),
                endpoint_models=endpoint_models,
                ensembles=by_name,
            )
        )
    except Exception as exc:
        return [f"cannot check: {exc}"]


def _invalid_info(entry: Any) -> EnsembleInfo:
    """An ensemble file that does not load: not runnable, with its problems and fixes."""
    parts = [_problem_parts(p) for p in entry.problems]
    return EnsembleInfo(
        name=entry.name,
        tier=entry.tier,
        path=str(entry.path),
        runnable=False,
        problems=[m for m, _ in parts] or ["invalid ensemble file"],
        fixes=[f for _, f in parts if f] or [f"edit {entry.path}"],
    )


def not_runnable_reason(found: Any, name: str) -> str:
    """Why ``name`` has no runnable spec in the engine catalog ``found``, with the CLI's
    precision (``cycle.yaml:4: dependency cycle: first → second → first``)."""
    for entry in getattr(found, "invalid", []) or []:
        if entry.name == name or entry.path.stem == name:
            parts = [_problem_parts(p) for p in entry.problems if getattr(p, "blocking", True)]
            if parts:
                return f'ensemble "{name}" is invalid: {parts[0][0]}'
    return f'no ensemble named "{name}" in this project, the library or the global tier'
