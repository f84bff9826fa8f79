"""The routing decision a finished run appends to the routing log: its task type (given,
mapped by a task profile, or declared by the ensemble), the local tokens and the Claude tokens
they stand for (see docs/GLOSSARY.md, token savings), and why a run that did not complete
goes back to Claude."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conductor_tui.engine.results import RunResult, RunStatus


def _ratio_for(store: Any, task_type: str | None) -> Any:
    """The rules' local→Claude ratio (refined per task type when the log allows), else 1.2."""
    try:
        from conductor_tui.core import rules

        cfg = store.load_config()
        thresholds = cfg.routing_thresholds
        ratio = rules.default_ratio(thresholds)
        path = getattr(store, "routing_log_path", None)
        if task_type and path is not None and Path(path).is_file() and Path(path).stat().st_size < 20_000_000:
            decisions = store.read_routing().records
            ratio = rules.ratios_by_task_type(decisions, thresholds).get(task_type, ratio)
        return ratio
    except Exception:
        return 1.2


def declared_task_types(spec: Any) -> list[str]:
    """The task types an ensemble declares: its ``conductor: {task_type | task_types}`` block
    (a top-level key llm-orc ignores), else the starter kit's known type for it."""
    block = (getattr(spec, "raw", None) or {}).get("conductor")
    out: list[str] = []
    if isinstance(block, dict):
        single = block.get("task_type")
        if isinstance(single, str) and single.strip():
            out.append(single.strip())
        many = block.get("task_types")
        if isinstance(many, list):
            out += [str(t).strip() for t in many if isinstance(t, str) and t.strip()]
    if not out:
        from conductor_tui.engine.kit import TASK_TYPES, WORKFLOW_TASK_TYPES

        known = TASK_TYPES.get(spec.name) or WORKFLOW_TASK_TYPES.get(spec.name)
        if known:
            out.append(known)
    return list(dict.fromkeys(out))


def infer_task_type(store: Any, spec: Any) -> str | None:
    """The task type a run of ``spec`` is logged under when the caller gave none.

    In order: the task profile that maps a task type to this ensemble
    (``task-profiles.yaml``), then the ensemble's declared task types
    (:func:`declared_task_types`). Never the ensemble's name: an ensemble that declares
    nothing is logged untyped rather than inventing a task type.
    """
    name = spec.name
    try:
        profiles = store.load_task_profiles().profiles
    except Exception:  # a malformed task-profiles.yaml must not stop a run being logged
        profiles = {}
    for task_type, profile in profiles.items():
        if profile.ensemble == name:
            return task_type
    declared = declared_task_types(spec)
    return declared[0] if declared else None


def build_decision(
    store: Any,
    result: RunResult,
    *,
    task_type: str | None = None,
    task_summary: str | None = None,
    reason: str | None = None,
    standing_auth: bool = False,
    plan_id: str | None = None,
    row_id: str | None = None,
    session: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    """The routing decision of a finished run, not yet written (see :func:`record_run`).

    ``estimated_claude_tokens`` uses the rules' ratio (refined from the log when
    possible, default 1.2); a run that did not complete saved nothing
    (``tokens_saved`` 0) — Claude will have to do that work."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import RoutingDecision

    task_type = task_type or infer_task_type(store, result.ensemble)
    ratio = _ratio_for(store, task_type)
    local = result.total_tokens
    estimated = rules.estimate_claude_tokens(local, ratio)
    saved = estimated if result.status == RunStatus.COMPLETED else 0
    script_failed = any(r.kind == "script" for r in result.failed_agents)
    summary = task_summary or (result.input.strip().splitlines()[0][:120] if result.input.strip() else None)
    failure = _failure_reason(result)
    script_failure: dict[str, Any] = {"failure": "infrastructure"} if script_failed else {}
    decision = RoutingDecision(
        id=f"rd-{result.run_id}",
        task_type=task_type,
        delegability_category=rules.default_category(task_type) if task_type else None,
        task_summary=summary,
        routed_to=result.ensemble.name,
        ensemble=result.ensemble.name,
        status=result.status,
        reason=failure or reason,  # a run that did not complete says why (Claude takes it over)
        standing_auth=standing_auth,
        total_tokens_local=local,
        estimated_claude_tokens=estimated,
        tokens_saved=saved,
        artifact=str(result.artifact) if result.artifact else None,
        plan_id=plan_id,
        row_id=row_id,
        session=session,
        duration_ms=result.duration_ms,
        **script_failure,
        **{k: v for k, v in (extra or {}).items() if k not in RoutingDecision.model_fields},
    )
    for k, v in (extra or {}).items():  # declared fields (context, role, request_id …) not set above
        if k in RoutingDecision.model_fields and getattr(decision, k) is None:
            setattr(decision, k, v)
    return decision


def _failure_reason(result: RunResult) -> str | None:
    """Why a run that did not complete goes back to Claude (``None`` when it completed)."""
    if result.status == RunStatus.COMPLETED:
        return None
    failed = result.failed_agents
    script_failed = [r for r in failed if r.kind == "script"]
    if script_failed:
        return f"Script agent failed ({script_failed[0].error}) — falling back to Claude"
    if failed:
        return f"agent {failed[0].name} failed: {failed[0].error}"
    return result.error or result.status


def record_run(store: Any, result: RunResult, **fields: Any) -> Any:
    """Append ONE routing decision for a finished run through the conductor loop
    (:meth:`conductor_tui.core.loop.Conductor.record_run`: invocation number, reason,
    standing authorisation, evaluation summary, the sampling decision) and return it."""
    from conductor_tui.core.loop import Conductor

    decision = build_decision(store, result, **fields)
    return Conductor(store.project, store=store).record_run(decision).decision


def now_ms() -> int:
    return int(time.time() * 1000)
