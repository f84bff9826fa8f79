"""``conductor-tui check [--project DIR] [--json]`` — pre-flight discovery.

Ollama (reachable or not and where it looked, version, installed models, loaded
models), every other configured host (Ollama hosts named by profiles, OpenAI-compatible
servers and llama-server: reachable, models, the fix), every ensemble per tier with runnable yes/no and the exact fix, the
profiles, the task profiles, and the spec's summary line
``Discovery: N Ollama models available, M ensembles found (R runnable)``.
Exit codes say what was found: 0 — Ollama reachable and at least one ensemble runnable;
1 — Ollama not reachable; 3 — reachable but no ensemble is runnable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.commands.check_text import print_text
from conductor_tui.core import locations, rules
from conductor_tui.engine import loader
from conductor_tui.engine.model_size import ensemble_size


def _thresholds(project: Path) -> Any:
    from conductor_tui.core.records import RoutingThresholds
    from conductor_tui.core.store import ProjectStore

    try:
        return ProjectStore(project).load_config().routing_thresholds
    except Exception:
        return RoutingThresholds()


def _size_problems(size: Any, thresholds: Any, path: Path | None) -> list[Any]:
    """The model-size ceiling as check problems: above 7B a warning; above the 14B ceiling refused for
    delegation (blocking) unless the ensemble overrides it."""
    from conductor_tui.core.spec import Problem

    out = []
    if size.over_ceiling:
        out.append(
            Problem(
                size.message(thresholds),
                severity="warning" if size.allow_large else "error",
                fix=None
                if size.allow_large
                else "compose ≤7B models, or add `conductor: {allow_large_models: true}`",
                path=path,
                code="model-ceiling",
            )
        )
    if size.large:
        out.append(
            Problem(
                rules.EnsembleSize(size.ensemble, tuple(size.large)).message(thresholds),
                severity="warning",
                path=path,
                code="model-large",
            )
        )
    return out


def discover(project: Path) -> dict[str, Any]:
    """Everything ``check`` reports, as one JSON-ready dict."""
    from conductor_tui.providers import hosts

    catalog = loader.load_catalog(project)
    profiles = catalog.profiles or loader.ProfileSet()
    agents = [a for e in catalog.all_entries() if e.spec is not None for a in e.spec.agents]
    statuses = asyncio.run(hosts.probe_hosts(hosts.configured_endpoints(profiles, agents)))
    status = statuses[0].ollama_status
    now = datetime.now(UTC)
    ensembles = _ensembles(project, catalog, profiles, status, hosts.endpoint_models(statuses[1:]))
    ensembles += [_invalid(entry) for entry in catalog.invalid]
    task_profiles, starter_kit_offered, config_log_gaps = _project_records(project)
    runnable = sum(1 for e in ensembles if e["runnable"])
    n_models = len(status.models) if status.reachable else 0
    local_count = sum(1 for e in ensembles if e["tier"] == "project" and e["description"] is not None)
    return {
        "project": str(project),
        "checked_at": now.isoformat(),
        "ollama": _ollama(status, now),
        "hosts": [h.to_json() for h in statuses],
        "ensembles": ensembles,
        "tiers": [{"tier": t, "path": str(d), "exists": d.is_dir()} for t, d in catalog.dirs],
        "profiles": [
            {
                "name": p.name,
                "model": p.model,
                "provider": p.provider,
                "source": str(p.source) if p.source else None,
            }
            for p in sorted(profiles.profiles.values(), key=lambda p: p.name)
        ],
        "profile_problems": [p.to_json() for p in profiles.problems],
        "task_profiles": task_profiles,
        "config_versions_without_log": config_log_gaps,
        "starter_kit_offered": starter_kit_offered,
        "local_ensembles": local_count,
        "discovery": {"models": n_models, "ensembles": len(ensembles), "runnable": runnable},
        "summary": f"Discovery: {n_models} Ollama models available, {len(ensembles)} ensembles found ({runnable} runnable)",
    }


def _ensembles(
    project: Path, catalog: Any, profiles: Any, status: Any, others: dict[str, list[str] | None]
) -> list[dict[str, Any]]:
    """Each valid ensemble: runnable or not with the fixes, model sizes, capacity now."""
    from conductor_tui.engine.executor import EngineSettings
    from conductor_tui.handoff.capacity import capacity_facts

    by_name = {e.name: e.spec for e in catalog.all_entries() if e.spec is not None}
    max_depth = EngineSettings.from_project(project).max_ensemble_depth
    known = status.reachable and (bool(status.models) or not status.error)
    installed = [m.name for m in status.models] if known else None
    sizes = {m.name: m.parameter_size for m in status.models if m.parameter_size} if known else {}
    thresholds = _thresholds(project)
    capacity = capacity_facts(project, catalog=catalog)
    out: list[dict[str, Any]] = []
    for entry in catalog.all_entries():
        spec = entry.spec
        assert spec is not None
        problems = loader.check_runnable(
            spec,
            installed,
            profiles,
            project=project,
            ollama_host=status.host,
            endpoint_models=others,
            ensembles=by_name,
            max_depth=max_depth,
        )
        size = ensemble_size(spec, profiles, sizes, thresholds)
        problems += _size_problems(size, thresholds, entry.path)
        try:
            verdict = capacity(entry.name)
        except Exception:  # a broken probe leaves the verdict out, never the check
            verdict = None
        out.append(_ensemble(entry, problems, size, verdict))
    return out


def _ensemble(entry: Any, problems: list[Any], size: Any, verdict: Any) -> dict[str, Any]:
    spec = entry.spec
    return {
        "name": entry.name,
        "tier": entry.tier,
        "path": str(entry.path),
        "description": spec.description,
        "runnable": loader.is_runnable(problems),
        "problems": [p.to_json() for p in problems if p.blocking],
        "warnings": [p.to_json() for p in problems if not p.blocking],
        "agents": [{"name": a.name, "type": a.kind} for a in spec.agents],
        "shadowed": [{"tier": t, "path": str(p)} for t, p in entry.shadowed],
        "model_sizes": [
            {"agent": m.agent, "model": m.model, "billions": m.billions, "source": m.source, "level": m.level}
            for m in size.models
        ],
        "size_level": size.level,
        "delegation_refused": size.refused,
        "allow_large_models": size.allow_large,
        # will it run well right now? ok | spill | queue (None: no local model to measure)
        "capacity": verdict.to_json() if verdict is not None else None,
    }


def _invalid(entry: Any) -> dict[str, Any]:
    """An ensemble file that did not load: never runnable, with its problems."""
    return {
        "name": entry.name,
        "tier": entry.tier,
        "path": str(entry.path),
        "description": None,
        "runnable": False,
        "problems": [p.to_json() for p in entry.problems],
        "warnings": [],
        "agents": [],
        "shadowed": [],
    }


def _project_records(project: Path) -> tuple[dict[str, Any], bool | None, list[int]]:
    """(task profiles, whether the starter kit was offered, config versions without a log line)."""
    from conductor_tui.core.store import ProjectStore

    task_profiles: dict[str, Any] = {"count": 0, "names": [], "error": None}
    starter_kit_offered = None
    try:
        store = ProjectStore(project)
        tp = store.load_task_profiles()
        task_profiles["names"] = sorted(tp.profiles)
        task_profiles["count"] = len(tp.profiles)
        starter_kit_offered = bool(store.load_config().starter_kit_offered)
    except Exception as exc:
        task_profiles["error"] = str(exc)
    config_log_gaps: list[int] = []
    try:
        config_log_gaps = ProjectStore(project).config_versions_without_log()
    except Exception:
        pass  # an unreadable config is reported with the task profiles / by report
    return task_profiles, starter_kit_offered, config_log_gaps


def _ollama(status: Any, now: datetime) -> dict[str, Any]:
    """The default Ollama host: reachable, version, installed and loaded models."""
    return {
        "reachable": status.reachable,
        "host": status.host,
        "version": status.version,
        "error": status.error,
        "fix": status.fix,
        "models": [
            {
                "name": m.name,
                "size": m.size,
                "parameter_size": m.parameter_size,
                "quantization_level": m.quantization_level,
                "family": m.family,
            }
            for m in status.models
        ],
        "loaded": [
            {
                "name": m.name,
                "size": m.size,
                "size_vram": m.size_vram,
                "vram_fraction": round(m.vram_fraction, 3),
                "cpu_fraction": round(m.cpu_fraction, 3),
                "expires_at": m.expires_at.isoformat() if m.expires_at else None,
                "seconds_to_unload": m.seconds_to_unload(now),
                "context_length": m.context_length,
            }
            for m in status.loaded
        ],
    }


def main(args: argparse.Namespace) -> int:
    project = Path(args.project).expanduser().resolve() if args.project else locations.find_project()
    data = discover(project)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print_text(data)
    return exit_code(data)


EXIT_OK, EXIT_OLLAMA_UNREACHABLE, EXIT_NOTHING_RUNNABLE = 0, 1, 3


def exit_code(data: dict[str, Any]) -> int:
    """What ``check`` found, as its exit code: 0 Ollama reachable and at least one ensemble
    runnable, 1 Ollama not reachable, 3 reachable but nothing runnable (``check --help``)."""
    if not data["ollama"]["reachable"]:
        return EXIT_OLLAMA_UNREACHABLE
    if not data["discovery"]["runnable"]:
        return EXIT_NOTHING_RUNNABLE
    return EXIT_OK
