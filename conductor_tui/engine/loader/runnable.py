"""Whether an ensemble can run here: scripts found, profiles resolved, providers supported,
API keys set, hosts up and models installed — each problem with its fix."""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core import locations
from conductor_tui.core.spec import DEFAULT_MAX_ENSEMBLE_DEPTH, AgentSpec, EnsembleSpec, Problem
from conductor_tui.engine.loader.composition import check_composition
from conductor_tui.engine.loader.profiles import (
    ProfileSet,
    fallback_chain,
    load_profiles,
    resolve_agent_model,
)
from conductor_tui.engine.loader.scripts import (
    EXTERNAL_SCRIPTS_KEY,
    external_scripts_allowed,
    locate_script,
    looks_like_path,
    script_search_dirs,
)


def normalise_model(name: str) -> str:
    """Ollama's implicit tag: ``llama3`` means ``llama3:latest``."""
    name = name.strip()
    return name if ":" in name.split("/")[-1] else f"{name}:latest"


def model_installed(model: str, installed: Collection[str]) -> bool:
    wanted = normalise_model(model)
    return any(normalise_model(m) == wanted for m in installed)


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

    check = _RunnableCheck(
        ensemble=ensemble,
        installed_models=installed_models,
        profiles=profiles if profiles is not None else load_profiles(project),
        project=project,
        ollama_host=ollama_host,
        endpoint_models=endpoint_models,
        env=env,
        ensembles=ensembles,
        max_depth=max_depth,
        stack=_stack,
        default_ollama=endpoints.endpoint_for("ollama", None, ollama_host=ollama_host),
        problems=[p for p in ensemble.problems if p.severity != "warning"],
    )
    for agent in ensemble.agents:
        if agent.kind == "script" and agent.script:
            check.script(agent, agent.script)
        elif agent.kind in ("ensemble", "loop", "dispatch"):
            check.composition(agent)
        elif agent.kind == "llm":
            check.llm(agent)
    return check.finish()


@dataclass
class _RunnableCheck:
    """One :func:`check_runnable` pass: its inputs and the problems found so far."""

    ensemble: EnsembleSpec
    installed_models: Collection[str] | None
    profiles: ProfileSet
    project: Path | None
    ollama_host: str | None
    endpoint_models: Mapping[str, Collection[str] | None] | None
    env: Mapping[str, str] | None
    ensembles: Mapping[str, EnsembleSpec] | None
    max_depth: int
    stack: tuple[str, ...]
    default_ollama: Any
    problems: list[Problem]
    missing_models: dict[str, Problem] = field(default_factory=dict)
    down_reported: set[str] = field(default_factory=set)
    has_llm: bool = False  # an agent on the default Ollama host

    def script(self, agent: AgentSpec, script: str) -> None:
        """A path-like script must be found, inside the scripts folders unless opted out."""
        if not looks_like_path(script):
            return
        ensemble = self.ensemble
        found, why = locate_script(script, self.project, allow_external=external_scripts_allowed(ensemble))
        if found is None and why == "outside":
            self.problems.append(
                Problem(
                    f'script "{script}" is outside the scripts folders (agent "{agent.name}")',
                    path=ensemble.path,
                    line=agent.line,
                    agent=agent.name,
                    fix=f"move it into .llm-orc/scripts/, or set {EXTERNAL_SCRIPTS_KEY}: true "
                    "at the top of the ensemble to allow it",
                    code="script-outside",
                )
            )
        elif found is None:
            looked = ", ".join(str(d) for d in script_search_dirs(self.project)[:2])
            self.problems.append(
                Problem(
                    f'script "{script}" not found (agent "{agent.name}")',
                    path=ensemble.path,
                    line=agent.line,
                    agent=agent.name,
                    fix=f"put it in .llm-orc/scripts/ (looked in {looked})",
                    code="missing-script",
                )
            )

    def composition(self, agent: AgentSpec) -> None:
        def check_child(child: EnsembleSpec, stack: tuple[str, ...]) -> list[Problem]:
            return check_runnable(
                child,
                self.installed_models,
                self.profiles,
                project=self.project,
                ollama_host=self.ollama_host,
                endpoint_models=self.endpoint_models,
                env=self.env,
                ensembles=self.ensembles,
                max_depth=self.max_depth,
                _stack=stack,
            )

        stack = (*self.stack, self.ensemble.name)
        self.problems.extend(
            check_composition(self.ensemble, agent, self.ensembles, self.max_depth, stack, check_child)
        )

    def llm(self, agent: AgentSpec) -> None:
        """Its model resolves, its provider is supported, its API key set, its host serves the model."""
        from conductor_tui.providers import endpoints

        resolved = resolve_agent_model(agent, self.profiles, self.ensemble)
        self.problems.extend(resolved.problems)
        if resolved.problems or not resolved.model:
            return
        ep = endpoints.endpoint_for(resolved.provider, resolved.profile, ollama_host=self.ollama_host)
        if ep is None:
            self.problems.append(
                Problem(
                    f'agent "{agent.name}" uses provider "{resolved.provider}"; conductor-tui runs '
                    "ollama, openai-compatible and llama-server models",
                    severity="unsupported",
                    path=self.ensemble.path,
                    line=agent.line,
                    agent=agent.name,
                    fix="point its profile at one of those providers, or run it with llm-orc itself",
                    code="unsupported-provider",
                )
            )
            return
        if ep.api_key_env and not (self.env if self.env is not None else os.environ).get(ep.api_key_env):
            self.problems.append(
                Problem(
                    f'agent "{agent.name}": {ep.api_key_env} is not set (the API key for {ep.label})',
                    path=(resolved.profile.source if resolved.profile else None) or self.ensemble.path,
                    agent=agent.name,
                    fix=f"export {ep.api_key_env}=<key>",
                    code="missing-api-key",
                )
            )
            return
        if self.default_ollama is None or ep.key != self.default_ollama.key:
            probed = self.endpoint_models or {}
            self.problems.extend(
                _check_endpoint_model(self.ensemble, agent, resolved.model, ep, probed, self.down_reported)
            )
            return
        self.has_llm = True
        if self.installed_models is not None:
            self.default_host_model(agent, resolved.model, self.installed_models)

    def default_host_model(self, agent: AgentSpec, model: str, installed: Collection[str]) -> None:
        """A model on the default Ollama host: installed, or a warning when a fallback is."""
        if model_installed(model, installed):
            return
        fallbacks = [
            p
            for p in fallback_chain(agent, self.profiles)
            if p.model and (p.provider or "").lower() == "ollama" and model_installed(p.model, installed)
        ]
        name = self.ensemble.name
        if fallbacks:
            self.problems.append(
                Problem(
                    f'Ensemble "{name}" prefers {model} (agent "{agent.name}"), which is not installed; '
                    f"it will fall back to {fallbacks[0].model}",
                    severity="warning",
                    agent=agent.name,
                    fix=f"ollama pull {model}",
                    code="missing-model",
                )
            )
        elif model not in self.missing_models:
            self.missing_models[model] = Problem(
                f'Ensemble "{name}" requires {model} which is not installed',
                agent=agent.name,
                fix=f"ollama pull {model}",
                code="missing-model",
            )

    def finish(self) -> list[Problem]:
        """The problems, one per missing model, and one when Ollama could not be asked."""
        self.problems.extend(self.missing_models.values())
        if self.has_llm and self.installed_models is None:
            where = self.ollama_host or locations.ollama_host()
            self.problems.append(
                Problem(
                    f"Ollama is not reachable at {where}; its models cannot be checked",
                    fix="start Ollama (ollama serve) or set OLLAMA_HOST",
                    code="ollama-down",
                )
            )
        return self.problems


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
        return [_host_down(ep, agent)]
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


def _host_down(ep: Any, agent: AgentSpec) -> Problem:
    """The problem for a host that did not answer, with how to start its kind of server."""
    fix = (
        "start Ollama there (OLLAMA_HOST=0.0.0.0 ollama serve on that machine) or fix base_url"
        if ep.family == "ollama"
        else "start llama-server (llama-server -m MODEL.gguf --port 8080) or fix base_url"
        if ep.provider == "llama-server"
        else f"start the server behind {ep.url} or fix base_url in the profile"
    )
    return Problem(
        f'{ep.label} is not reachable (agent "{agent.name}")',
        agent=agent.name,
        fix=fix,
        code="host-down",
    )


def is_runnable(problems: Iterable[Problem]) -> bool:
    return not any(p.blocking for p in problems)
