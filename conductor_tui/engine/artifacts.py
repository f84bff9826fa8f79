"""Run artifacts in llm-orc's shape, and the routing decision each run appends.

``<project>/.llm-orc/artifacts/<ensemble>/<YYYYMMDD-HHMMSS-mmm>/execution.json``::

    {"ensemble", "status", "input": {"data"}, "results": {agent: {"response", "status",
     "model_substituted", "error"?}}, "metadata": {"agents_used", "started_at",
     "duration", "completed_at", "usage": {"agents": {agent: {"input_tokens",
     "output_tokens", "total_tokens", "cost_usd", "duration_ms", "model"}},
     "totals": {"total_tokens", "total_input_tokens", "total_output_tokens",
     "total_cost_usd", "total_duration_ms", "agents_count"}}, "fan_out"?},
     "deliverable"?, "execution_order"?}

llm-orc's status words are kept (``completed`` / ``completed_with_errors``);
conductor-tui adds ``cancelled`` and keeps its own view under
``metadata.conductor`` (llm-orc ignores unknown keys). ``execution.md`` and the
``latest`` symlink are written as llm-orc does. No Textual.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conductor_tui.core.store import atomic_write_text
from conductor_tui.engine.loader import ensemble_name_problem
from conductor_tui.engine.results import RunResult, RunStatus

ARTIFACTS_DIR = "artifacts"


def artifact_root(project: str | os.PathLike[str]) -> Path:
    return Path(project) / ".llm-orc" / ARTIFACTS_DIR


def _timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return now.strftime("%Y%m%d-%H%M%S-%f")[:-3]


def llm_orc_status(status: str) -> str:
    mapping: dict[str, str] = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "completed_with_errors"}
    return mapping.get(status, status)


def execution_dict(result: RunResult) -> dict[str, Any]:
    """The llm-orc-shaped ``execution.json`` content of a run."""
    results: dict[str, Any] = {}
    usage_agents: dict[str, Any] = {}
    fan_out: dict[str, Any] = {}
    order: list[str] = []

    def usage_of(r: Any) -> dict[str, Any]:
        u = r.usage
        return {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "total_tokens": u.total_tokens,
            "cost_usd": 0.0,
            "duration_ms": u.duration_ms or r.duration_ms,
            "model": u.model or r.model,
            **({"tokens_per_second": u.tokens_per_second} if u.tokens_per_second else {}),
        }

    def entry(r: Any) -> dict[str, Any]:
        e: dict[str, Any] = {
            "response": r.response,
            "status": r.status,
            "model_substituted": r.model_substituted,
        }
        if r.error and r.status != "success":
            e["error"] = r.error
        return e

    for name, r in result.agents.items():
        if r.status not in ("pending",):
            order.append(name)
        if r.instances is not None:
            for inst in r.instances:
                results[inst.name] = entry(inst)
                if inst.usage is not None:
                    usage_agents[inst.name] = usage_of(inst)
            gathered = entry(r)
            gathered["response"] = _json_list(r.response)
            gathered["fan_out"] = True
            gathered["instances"] = [
                {
                    "index": i.index,
                    "status": i.status,
                    **({"error": i.error} if i.status != "success" else {}),
                }
                for i in r.instances
            ]
            results[name] = gathered
            ok = sum(1 for i in r.instances if i.status == "success")
            fan_out[name] = {
                "total_instances": len(r.instances),
                "successful_instances": ok,
                "failed_instances": len(r.instances) - ok,
            }
        else:
            results[name] = entry(r)
            if r.usage is not None:
                usage_agents[name] = usage_of(r)
    totals = {
        "total_tokens": sum(u["total_tokens"] for u in usage_agents.values()),
        "total_input_tokens": sum(u["input_tokens"] for u in usage_agents.values()),
        "total_output_tokens": sum(u["output_tokens"] for u in usage_agents.values()),
        "total_cost_usd": 0.0,
        "total_duration_ms": sum(u["duration_ms"] for u in usage_agents.values()),
        "agents_count": len(usage_agents),
    }
    started = result.started_at.timestamp()
    metadata: dict[str, Any] = {
        "agents_used": len(result.ensemble.agents),
        "started_at": started,
        "duration": f"{result.duration_ms / 1000:.2f}s",
        "completed_at": started + result.duration_ms / 1000,
        "usage": {"agents": usage_agents, "totals": totals},
        "conductor": {
            "run_id": result.run_id,
            "status": result.status,
            "duration_ms": result.duration_ms,
            "tier": result.ensemble.tier,
            "ensemble_path": str(result.ensemble.path) if result.ensemble.path else None,
            "error": result.error,
            "agents": {
                name: {
                    "status": r.status,
                    "failure": r.failure,
                    "error": r.error,
                    "fix": r.fix,
                    "started_s": r.started,
                    "finished_s": r.finished,
                }
                for name, r in result.agents.items()
            },
        },
    }
    if fan_out:
        metadata["fan_out"] = fan_out
    out: dict[str, Any] = {
        "ensemble": result.ensemble.name,
        "status": llm_orc_status(result.status),
        "input": {"data": result.input},
        "results": results,
        "metadata": metadata,
    }
    if result.deliverable is not None:
        out["deliverable"] = result.deliverable
    if order:
        out["execution_order"] = order
    return out


def _json_list(text: Any) -> Any:
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return text
        return value
    return text


def _markdown(data: dict[str, Any]) -> str:
    lines = ["# Ensemble Execution Report", "", f"**Ensemble:** {data['ensemble']}", ""]
    lines += [f"**Status:** {data['status']}", ""]
    lines += [f"**Input:** {data['input'].get('data', '')}", ""]
    lines += [f"**Total Duration:** {data['metadata'].get('duration', '')}", "", "## Agent Results", ""]
    for name, r in data["results"].items():
        lines.append(f"### {name}")
        lines.append(f"**Status:** {r.get('status')}")
        if r.get("status") == "success" and r.get("response") is not None:
            resp = r["response"] if isinstance(r["response"], str) else json.dumps(r["response"], indent=2)
            lines += ["", "**Output:**", "```", resp, "```"]
        elif r.get("error"):
            lines += ["", "**Error:**", "```", str(r["error"]), "```"]
        lines.append("")
    return "\n".join(lines)


def write_execution_artifact(
    project: str | os.PathLike[str], result: RunResult, *, now: datetime | None = None
) -> Path:
    """Write ``execution.json`` (+ ``execution.md``, ``latest`` link); return the json path."""
    root = artifact_root(project)
    ensemble_dir = root
    if result.ensemble.relative_path:
        ensemble_dir = ensemble_dir / result.ensemble.relative_path
    why = ensemble_name_problem(result.ensemble.name)
    if why:
        raise ValueError(f"ensemble name {result.ensemble.name!r} {why}; no artifact written")
    ensemble_dir = ensemble_dir / result.ensemble.name
    try:
        ensemble_dir.resolve().relative_to(root.resolve())
    except ValueError:
        raise ValueError(
            f"artifact folder {ensemble_dir} would be outside {root}; no artifact written"
        ) from None
    stamp = _timestamp(now)
    target = ensemble_dir / stamp
    n = 1
    while target.exists():  # two runs in the same millisecond
        target = ensemble_dir / f"{stamp}-{n}"
        n += 1
    target.mkdir(parents=True, exist_ok=True)
    data = execution_dict(result)
    path = target / "execution.json"
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False))
    try:
        (target / "execution.md").write_text(_markdown(data), encoding="utf-8")
        latest = ensemble_dir / "latest"
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(target.name)
    except OSError:
        pass  # the report and the link are conveniences; the json is what counts
    return path


# --------------------------------------------------------------------------- reading


@dataclass
class AgentUsage:
    name: str
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    duration_ms: int = 0
    model: str | None = None


@dataclass
class Execution:
    """One ``execution.json`` (ours or llm-orc's), read tolerantly."""

    path: Path
    ensemble: str
    status: str
    deliverable: str | None
    input: str
    agents: dict[str, AgentUsage] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    total_tokens: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    started_at: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def conductor_status(self) -> str:
        """completed | failed | cancelled (llm-orc's ``completed_with_errors`` → failed)."""
        own = (
            (self.raw.get("metadata") or {}).get("conductor", {}).get("status")
            if isinstance(self.raw.get("metadata"), dict)
            else None
        )
        if isinstance(own, str):
            return own
        return {"completed_with_errors": "failed"}.get(self.status, self.status)


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _dict(v: Any) -> dict[str, Any]:
    """``v`` when it is a JSON object, else an empty one."""
    return v if isinstance(v, dict) else {}


def read_execution(path: str | os.PathLike[str]) -> Execution:
    """Read an ``execution.json`` (a directory holding one is accepted too).

    Raises ``ValueError`` naming the file when it is not JSON."""
    p = Path(path)
    if p.is_dir():
        p = p / "execution.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise ValueError(f"{p}: JSON nested too deeply") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a JSON object")
    meta = _dict(data.get("metadata"))
    usage = _dict(meta.get("usage"))
    agents_raw = _dict(usage.get("agents"))
    agents = {}
    for name, u in agents_raw.items():
        if not isinstance(u, dict):
            continue
        inp, out = _int(u.get("input_tokens")), _int(u.get("output_tokens"))
        agents[name] = AgentUsage(
            name,
            inp,
            out,
            _int(u.get("total_tokens")) or inp + out,
            _int(u.get("duration_ms")),
            u.get("model"),
        )
    totals = _dict(usage.get("totals"))
    total = _int(totals.get("total_tokens")) or sum(a.total_tokens for a in agents.values())
    inp_field = data.get("input")
    input_text = inp_field.get("data", "") if isinstance(inp_field, dict) else str(inp_field or "")
    return Execution(
        path=p,
        ensemble=str(data.get("ensemble") or data.get("ensemble_name") or p.parent.parent.name),
        status=str(data.get("status") or "unknown"),
        deliverable=data.get("deliverable") if isinstance(data.get("deliverable"), str) else None,
        input=str(input_text),
        agents=agents,
        results=_dict(data.get("results")),
        total_tokens=total,
        total_input_tokens=_int(totals.get("total_input_tokens"))
        or sum(a.input_tokens for a in agents.values()),
        total_output_tokens=_int(totals.get("total_output_tokens"))
        or sum(a.output_tokens for a in agents.values()),
        started_at=meta.get("started_at") if isinstance(meta.get("started_at"), int | float) else None,
        raw=data,
    )


def list_executions(project: str | os.PathLike[str], ensemble: str | None = None) -> list[Path]:
    """Every ``execution.json`` under the project's artifacts, newest first."""
    root = artifact_root(project)
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("execution.json") if "latest" not in p.parts]
    if ensemble:
        found = [p for p in found if p.parent.parent.name == ensemble]
    return sorted(found, key=lambda p: (p.parent.name, p.stat().st_mtime), reverse=True)


# --------------------------------------------------------------------------- routing log


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
    failed = result.failed_agents
    script_failed = [r for r in failed if r.kind == "script"]
    summary = task_summary or (result.input.strip().splitlines()[0][:120] if result.input.strip() else None)
    failure = None
    if result.status != RunStatus.COMPLETED:
        failure = (
            f"Script agent failed ({script_failed[0].error}) — falling back to Claude"
            if script_failed
            else (
                f"agent {failed[0].name} failed: {failed[0].error}"
                if failed
                else result.error or result.status
            )
        )
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


def record_run(store: Any, result: RunResult, **fields: Any) -> Any:
    """Append ONE routing decision for a finished run through the conductor loop
    (:meth:`conductor_tui.core.loop.Conductor.record_run`: invocation number, reason,
    standing authorisation, evaluation summary, the sampling decision) and return it."""
    from conductor_tui.core.loop import Conductor

    decision = build_decision(store, result, **fields)
    return Conductor(store.project, store=store).record_run(decision).decision


def now_ms() -> int:
    return int(time.time() * 1000)
