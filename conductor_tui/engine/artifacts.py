"""Run artifacts in llm-orc's shape: written after a run, read back tolerantly (ours or
llm-orc's). The routing decision each run appends is :mod:`conductor_tui.engine.routing`
(its names are re-exported here).

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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conductor_tui.core.store import atomic_write_text
from conductor_tui.engine.events import Usage
from conductor_tui.engine.loader import ensemble_name_problem
from conductor_tui.engine.results import AgentResult, RunResult, RunStatus

# The routing decision each run appends lives in engine.routing; its names stay importable from here.
from conductor_tui.engine.routing import (
    build_decision,
    declared_task_types,
    infer_task_type,
    now_ms,
    record_run,
)

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
    for name, r in result.agents.items():
        if r.status not in ("pending",):
            order.append(name)
        if r.instances is not None:
            fan_out[name] = _fan_out_entries(name, r, results, usage_agents)
        else:
            results[name] = _result_entry(r)
            if r.usage is not None:
                usage_agents[name] = _usage_entry(r, r.usage)
    metadata = _metadata(result, usage_agents)
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


def _usage_entry(r: AgentResult, u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "cost_usd": 0.0,
        "duration_ms": u.duration_ms or r.duration_ms,
        "model": u.model or r.model,
        **({"tokens_per_second": u.tokens_per_second} if u.tokens_per_second else {}),
    }


def _result_entry(r: AgentResult) -> dict[str, Any]:
    e: dict[str, Any] = {
        "response": r.response,
        "status": r.status,
        "model_substituted": r.model_substituted,
    }
    if r.error and r.status != "success":
        e["error"] = r.error
    return e


def _fan_out_entries(
    name: str, r: AgentResult, results: dict[str, Any], usage_agents: dict[str, Any]
) -> dict[str, Any]:
    """Add a fan-out agent's instances and their gathered result; return its counts."""
    instances = r.instances or []
    for inst in instances:
        results[inst.name] = _result_entry(inst)
        if inst.usage is not None:
            usage_agents[inst.name] = _usage_entry(inst, inst.usage)
    gathered = _result_entry(r)
    gathered["response"] = _json_list(r.response)
    gathered["fan_out"] = True
    gathered["instances"] = [
        {
            "index": i.index,
            "status": i.status,
            **({"error": i.error} if i.status != "success" else {}),
        }
        for i in instances
    ]
    results[name] = gathered
    ok = sum(1 for i in instances if i.status == "success")
    return {
        "total_instances": len(instances),
        "successful_instances": ok,
        "failed_instances": len(instances) - ok,
    }


def _metadata(result: RunResult, usage_agents: dict[str, Any]) -> dict[str, Any]:
    """llm-orc's ``metadata`` (timing, usage per agent and totals) plus conductor-tui's own view."""
    totals = {
        "total_tokens": sum(u["total_tokens"] for u in usage_agents.values()),
        "total_input_tokens": sum(u["input_tokens"] for u in usage_agents.values()),
        "total_output_tokens": sum(u["output_tokens"] for u in usage_agents.values()),
        "total_cost_usd": 0.0,
        "total_duration_ms": sum(u["duration_ms"] for u in usage_agents.values()),
        "agents_count": len(usage_agents),
    }
    started = result.started_at.timestamp()
    return {
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


__all__ = [
    "ARTIFACTS_DIR",
    "AgentUsage",
    "Execution",
    "artifact_root",
    "build_decision",
    "declared_task_types",
    "execution_dict",
    "infer_task_type",
    "list_executions",
    "llm_orc_status",
    "now_ms",
    "read_execution",
    "record_run",
    "write_execution_artifact",
]
