"""Shared set-up for the issue-5 screen tests: the demo project (or a small fixture) in a
cockpit with a fixed clock, no polling, a fake GPU and a fixed CPU/RAM sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.demo import copy_sample_project
from conductor_tui.providers.system import SystemSample
from conductor_tui.ui.app import make_app
from conductor_tui.ui.services import Services
from tests.fakes.gpu import FakeGpuProbe

CLOCK = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
GIB = 1024**3
SIZE = (120, 36)
CLOSED_HOST = "http://127.0.0.1:9"  # discard port: nothing listens there


def services_for(
    project: Path, tmp: Path, *, gpu: Any = None, host: str = CLOSED_HOST, poll: float = 0
) -> Services:
    svc = Services(
        project=project,
        ollama_host=host,
        gpu_probe=gpu if gpu is not None else FakeGpuProbe(),
        clock=lambda: CLOCK,
        demo=True,
        settings_path=tmp / "settings.json",
        poll_interval=poll,
    )
    svc.system_sampler = lambda: SystemSample(23.0, 12 * GIB, 32 * GIB, 16)  # type: ignore[attr-defined]
    return svc


def demo_app(tmp: Path, mode: str, **kw: Any):
    project = copy_sample_project(tmp)
    return make_app(services=services_for(project, tmp, **kw), initial_mode=mode), project


def empty_app(tmp: Path, mode: str, **kw: Any):
    project = tmp / "empty-project"
    (project / ".llm-orc").mkdir(parents=True)
    return make_app(services=services_for(project, tmp, **kw), initial_mode=mode), project


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")


def calibrating_project(tmp: Path, *, evaluated: int = 4) -> Path:
    """One ensemble, five runs; the first ``evaluated`` scored good, the rest pending."""
    project = tmp / "calib-project"
    evals = project / ".llm-orc" / "evaluations"
    runs = []
    for i in range(1, 6):
        runs.append(
            {
                "id": f"rt-{i}",
                "timestamp": f"2026-11-20T10:0{i}:00Z",
                "task_type": "extraction",
                "delegability_category": "agent-delegable",
                "task_summary": f"Extract endpoints from api_{i}.py",
                "routed_to": "extract-endpoints",
                "ensemble": "extract-endpoints",
                "total_tokens_local": 900,
                "estimated_claude_tokens": 750,
                "tokens_saved": 750,
                "status": "completed",
            }
        )
    write_jsonl(evals / "routing-log.jsonl", runs)
    write_jsonl(
        evals / "evaluations.jsonl",
        [
            {
                "timestamp": f"2026-11-20T10:0{i}:30Z",
                "routing_id": f"rt-{i}",
                "ensemble": "extract-endpoints",
                "invocation_number": i,
                "phase": "calibrate",
                "score": "good",
                "reasoning": "ok",
                "evaluator": "human",
            }
            for i in range(1, evaluated + 1)
        ],
    )
    return project


async def settle(pilot) -> None:
    """Wait until every worker finished and the screen has processed its messages."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])
