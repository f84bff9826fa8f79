"""Model profiles: merged from llm-orc's layers (global, library, local; ``*.local.yaml``
last), and what an LLM agent will call once its profile (and fallbacks) are resolved."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core import locations
from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem, Profile
from conductor_tui.engine.loader.yaml_source import EnsembleLoadError, read_yaml


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
