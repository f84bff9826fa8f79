"""Model-size facts for the model-size ceiling (≤7B preferred, 14B ceiling), from the engine's side.

The conductor loop (core) must not import the engine, so the engine builds the facts and
passes them in: :func:`size_facts` returns ``ensemble name → rules.EnsembleSize`` for
:class:`~conductor_tui.core.loop.Conductor` (``size_facts=``), ``check``, the Plan and
Models screens. Each LLM agent's model is resolved as the executor would (``model`` or its
``model_profile``); its parameter count comes from Ollama's ``/api/tags`` details
(``parameter_size``), else from the model's size tag (``qwen3:14b``). The override is a
top-level ``conductor: {allow_large_models: true}`` in the ensemble file (llm-orc rejects
unknown agent keys, so the flag never sits on an agent).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from conductor_tui.core import locations, rules
from conductor_tui.core.records import RoutingThresholds

T = TypeVar("T")

_CACHE: dict[str, tuple[float, dict[str, str]]] = {}
_LOCK = threading.Lock()
CACHE_SECONDS = 30.0


def installed_parameter_sizes(host: str | None = None, *, timeout: float = 2.0) -> dict[str, str]:
    """``{model name: parameter_size}`` from Ollama's ``/api/tags`` (cached for 30 s per
    host); ``{}`` when Ollama does not answer — sizes then come from the model names."""
    host = host or locations.ollama_host()
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(host)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return dict(hit[1])
    sizes: dict[str, str] = {}
    try:
        import ollama

        listing = ollama.Client(host=host, timeout=timeout).list()
        for m in getattr(listing, "models", None) or []:
            name = getattr(m, "model", None) or getattr(m, "name", None)
            details = getattr(m, "details", None)
            size = getattr(details, "parameter_size", None) if details is not None else None
            if name and size:
                sizes[str(name)] = str(size)
    except Exception:
        return {}
    with _LOCK:
        _CACHE[host] = (now, sizes)
    return dict(sizes)


def lookup_model(model: str, table: Mapping[str, T]) -> T | None:
    """``table[model]``, else the entry whose name is the same model once normalised
    (``qwen3`` ~ ``qwen3:latest``)."""
    from conductor_tui.engine.loader import normalise_model

    if model in table:
        return table[model]
    wanted = normalise_model(model)
    for name, value in table.items():
        if normalise_model(name) == wanted:
            return value
    return None


def allow_large_models(path: Path | None) -> bool:
    """The ensemble file's top-level ``conductor: {allow_large_models: true}``."""
    if path is None:
        return False
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    block = data.get("conductor") if isinstance(data, dict) else None
    return bool(isinstance(block, dict) and block.get("allow_large_models") is True)


def ensemble_size(
    spec: Any, profiles: Any, sizes: Mapping[str, str], thresholds: RoutingThresholds | None = None
) -> rules.EnsembleSize:
    """The model-size ceiling for one loaded ensemble (LLM agents only; scripts have no model)."""
    from conductor_tui.engine.loader import resolve_agent_model

    t = thresholds or RoutingThresholds()
    found: list[rules.ModelSize] = []
    for agent in getattr(spec, "agents", []) or []:
        if getattr(agent, "kind", "llm") != "llm":
            continue
        try:
            resolved = resolve_agent_model(agent, profiles, spec)
        except Exception:
            continue
        if not resolved.model:
            continue
        found.append(rules.model_size(agent.name, resolved.model, lookup_model(resolved.model, sizes), t))
    return rules.EnsembleSize(spec.name, tuple(found), allow_large_models(getattr(spec, "path", None)))


def size_facts(
    project: str | os.PathLike[str] | None,
    *,
    catalog: Any = None,
    sizes: Mapping[str, str] | None = None,
    thresholds: RoutingThresholds | None = None,
) -> Callable[[str], rules.EnsembleSize | None]:
    """``ensemble name → EnsembleSize`` (``None`` for an unknown ensemble), computed lazily
    and memoised for the life of the returned function."""
    from conductor_tui.engine import loader

    state: dict[str, Any] = {"catalog": catalog, "sizes": sizes}
    memo: dict[str, rules.EnsembleSize | None] = {}

    def facts(name: str) -> rules.EnsembleSize | None:
        if name in memo:
            return memo[name]
        if state["catalog"] is None:
            try:
                state["catalog"] = loader.load_catalog(Path(project) if project is not None else None)
            except Exception:
                memo[name] = None
                return None
        entry = state["catalog"].get(name)
        if entry is None or entry.spec is None:
            memo[name] = None
            return None
        if state["sizes"] is None:
            state["sizes"] = installed_parameter_sizes()
        profiles = state["catalog"].profiles or loader.ProfileSet()
        memo[name] = ensemble_size(entry.spec, profiles, state["sizes"], thresholds)
        return memo[name]

    return facts
