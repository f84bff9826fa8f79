"""A meta-task → a persisted, pending workflow plan, with Claude as planner (no Textual).

:func:`plan_meta_task` is what ``conductor-tui plan from-task`` and the cockpit's "new
meta-task" both call: it gathers the context (runnable ensembles, task profiles, the
repetition threshold), asks Claude for the decomposition, applies the rules
(:func:`conductor_tui.core.planner.build_plan`), appends the plan (every row pending) and
logs the planning tokens as Claude overhead.  Blocking: call from a thread worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conductor_tui.core.planner import AvailableEnsemble, PlanBuild, build_plan, ensembles_from_catalog
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import protocol
from conductor_tui.handoff.recording import record_claude_overhead


def available_ensembles(project: str | os.PathLike[str]) -> list[AvailableEnsemble]:
    """The ensembles visible from ``project`` (engine catalog); empty if it cannot be read."""
    try:
        from conductor_tui.engine.loader import load_catalog

        return ensembles_from_catalog(load_catalog(Path(project), with_profiles=False))
    except Exception:
        return []


def plan_meta_task(
    project: str | os.PathLike[str],
    meta_task: str,
    *,
    provider: Any = None,
    session: str | None = None,
    source: str = "claude",
    on_progress: Callable[[int], None] | None = None,
    ensembles: list[AvailableEnsemble] | None = None,
) -> PlanBuild:
    """Plan ``meta_task`` with Claude and persist it; returns the build (``build.plan`` as written).

    Raises :class:`~conductor_tui.providers.anthropic.ClaudeError` (``kind="unavailable"``
    without an API key) — nothing is written then."""
    if provider is None:
        from conductor_tui.providers.anthropic import ClaudeProvider

        provider = ClaudeProvider()
    store = ProjectStore(project)
    config, profiles = store.load_config(), store.load_task_profiles()
    ensembles = available_ensembles(project) if ensembles is None else ensembles
    context = {
        "ensembles": [{"name": e.name, "description": e.description} for e in ensembles if e.runnable],
        "task_profiles": {
            k: {"ensemble": v.ensemble, "phase": getattr(v.phase, "value", v.phase)}
            for k, v in profiles.profiles.items()
        },
        "repetition_threshold": config.routing_thresholds.repetition_threshold,
    }
    output, usage = provider.plan(meta_task, context, on_progress=on_progress)
    session = session or protocol.new_session_id()
    build = build_plan(
        output,
        ensembles=ensembles,
        config=config,
        profiles=profiles,
        meta_task=meta_task,
        session=session,
        source=source,
        planning_tokens=usage.total,
    )
    build.plan = protocol.submit_plan(project, build.plan, session=session, source=source, store=store)
    record_claude_overhead(project, "planning", usage, session=session, plan_id=build.plan.id, store=store)
    build.usage = usage
    return build
