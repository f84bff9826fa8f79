"""A verdict recorded through the loop reads the run artifacts (a byte scan of the whole
routing log) only when it writes a designer feedback, and the feedback it writes cites the
evaluated runs' outputs as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conductor_tui.core.loop import Conductor, designer_hooks
from conductor_tui.core.store import ProjectStore

CONFIG = "routing_thresholds:\n  calibration_period: 3\n  calibration_fail_poor: 2\n"


def _project(root: Path) -> None:
    logs = root / ".llm-orc" / "evaluations"
    logs.mkdir(parents=True)
    (logs / "routing-config.yaml").write_text(CONFIG)
    with (logs / "routing-log.jsonl").open("w") as fh:
        for i in range(1, 7):
            art = root / "artifacts" / f"run{i}"
            art.mkdir(parents=True)
            (art / "execution.json").write_text(json.dumps({"deliverable": f"OUT-{i}"}))
            rec = {"id": f"rd-{i}", "routed_to": "extract-endpoints", "ensemble": "extract-endpoints",
                   "timestamp": f"2026-01-0{i}T10:00:00Z", "status": "completed", "artifact": str(art)}  # fmt: skip
            fh.write(json.dumps(rec) + "\n")


def _outputs(outcome: Any) -> dict[str, list[str]]:
    return {
        art.data["feedback_type"]: [s["output"] for s in art.data["sample_evaluations"]]
        for art in outcome.artifacts
        if art.kind == "feedback"
    }


def test_the_run_artifacts_are_read_only_for_a_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    scans: list[int] = []
    real = designer_hooks.routing_objects_with

    def counted(*args: Any) -> Any:
        scans.append(1)
        return real(*args)

    monkeypatch.setattr(designer_hooks, "routing_objects_with", counted)
    loop = Conductor(tmp_path, store=ProjectStore(tmp_path))
    good = loop.record_evaluation("extract-endpoints", "good", routing_id="rd-1", evaluator="human")
    assert not good.artifacts and scans == []  # no feedback: the routing log not scanned
    poor = loop.record_evaluation("extract-endpoints", "poor", routing_id="rd-2", evaluator="human")
    assert _outputs(poor) == {"poor_evaluation": ["OUT-2"]} and scans == [1]
    scans.clear()
    fail = loop.record_evaluation("extract-endpoints", "poor", routing_id="rd-3", evaluator="human")
    assert _outputs(fail) == {"calibration_summary": ["OUT-2", "OUT-3", "OUT-1"]}
    assert [a.kind for a in fail.artifacts] == ["feedback", "request"] and scans == [1]  # read once
