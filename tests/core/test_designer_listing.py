"""The designer listing reads the history (a pass over the routing log) only when an open
request needs it: the Lifecycle screen lists a project's artifacts without a second pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.core.designer import designer_dir
from conductor_tui.core.loop import Conductor


@pytest.fixture
def project(tmp_path: Path) -> Path:
    evals = tmp_path / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True)
    run = {"id": "rt-1", "routed_to": "ens", "ensemble": "ens", "task_type": "extraction"}
    (evals / "routing-log.jsonl").write_text(json.dumps(run) + "\n")
    return tmp_path


def test_no_artifacts_no_history(project: Path, monkeypatch) -> None:
    def no_history(self):
        raise AssertionError("the history was read")

    monkeypatch.setattr(Conductor, "history", no_history)
    listing = Conductor(project).design_artifacts(lambda _tt: [])
    assert listing.artifacts == [] and listing.problems == []


def test_an_open_request_reads_the_history_once(project: Path, monkeypatch) -> None:
    requests = designer_dir(project) / "requests"
    requests.mkdir(parents=True)
    for i, tt in enumerate(("extraction", "summarization")):
        (requests / f"req-{i}.yaml").write_text(f"id: req-{i}\ntask_type: {tt}\nstate: proposed\n")
    calls: list[int] = []
    real = Conductor.history

    def counted(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Conductor, "history", counted)
    listing = Conductor(project).design_artifacts(lambda _tt: [])
    assert len(listing.artifacts) == 2
    assert calls == [1]  # asked for by both requests, read once
    # the run of 'ens' for extraction: an ensemble now serves it (it is calibrating, not in Design)
    states = {a.id: a.state for a in listing.artifacts}
    assert states["req-0"] == "answered" and states["req-1"] == "proposed"
