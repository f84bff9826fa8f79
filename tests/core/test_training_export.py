"""``export training-data``: the spec's triples with the runs' real input and output, poor
examples labelled by failure mode, nothing from other projects, a manifest of counts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conductor_tui.cli import main
from conductor_tui.core.store import ProjectStore
from conductor_tui.core.training import export_training_data
from tests.core.unique_logs import write_project

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path):
    proj, other = tmp_path / "proj", tmp_path / "other"
    proj.mkdir()
    other.mkdir()
    return proj, write_project(proj, other)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_export_writes_real_triples_labels_and_manifest(project) -> None:
    proj, truth = project
    res = export_training_data(ProjectStore(proj), now=NOW)
    rows = _lines(res.data_file)
    assert Counter(r["label"] for r in rows) == truth.exportable
    for r in rows:  # the run's real input and output, from its artifact
        assert r["input"] == truth.inputs[r["routing_id"]]
        assert r["output"] == truth.outputs[r["routing_id"]]
        assert set(r) >= {"input_summary", "output", "score", "reasoning"}
    by_id = {r["routing_id"]: r for r in rows}
    # the person's verdict replaced the judge's: run 4 was overridden to poor (hallucination)
    assert by_id["rd-ex4"]["score"] == "poor" and by_id["rd-ex4"]["label"] == "poor:hallucination"
    assert by_id["rd-ex4"]["reasoning"] == "person reflects on 4"
    assert by_id["rd-ex5"]["label"] == "acceptable"
    # nothing from other projects
    assert "rd-far" not in by_id and "rd-elsewhere" not in by_id
    assert "SECRET" not in res.data_file.read_text()
    manifest = json.loads((res.folder / "manifest.json").read_text())
    assert manifest["examples"] == len(rows) == sum(truth.exportable.values())
    assert manifest["by_label"] == truth.exportable
    assert manifest["by_task_type"] == truth.exportable_by_tt
    assert manifest["skipped"] == truth.skipped
    assert manifest["by_failure_mode"] == {"hallucination": 1, "wrong-format": 2}
    assert res.folder.parent == proj / ".llm-orc" / "training-data"
    assert "extract" in manifest["untrusted_judges"]


def test_export_filters_by_task_type_and_writes_chatml(project, tmp_path: Path) -> None:
    proj, truth = project
    out = tmp_path / "out"
    res = export_training_data(
        ProjectStore(proj), task_type="test-generation", fmt="chatml", out_dir=out, now=NOW
    )
    rows = _lines(out / "training-data.chatml.jsonl")
    assert len(rows) == truth.exportable_by_tt["test-generation"] == res.count
    for r in rows:
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert r["messages"][1]["content"] == truth.inputs[r["routing_id"]]
        assert r["messages"][2]["content"] == truth.outputs[r["routing_id"]]
        assert r["task_type"] == "test-generation"
    assert Counter(r["label"] for r in rows) == {"poor:wrong-format": 2, "good": 1}


def test_judge_only_verdicts_export_while_the_judge_is_trusted(project) -> None:
    proj, _truth = project
    store = ProjectStore(proj)
    store.update_thresholds("trust the judge", judge_agreement_min=0.5)
    res = export_training_data(store, task_type="extraction", now=NOW)
    ids = {ex.routing_id for ex in res.examples}
    assert "rd-ex6" in ids and len(ids) == 6


def test_cli_export(project, tmp_path: Path, capsys) -> None:
    proj, truth = project
    out = tmp_path / "cli-out"
    code = main(["export", "training-data", "--project", str(proj), "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == sum(truth.exportable.values())
    assert (out / "manifest.json").is_file()
    assert main(["export", "training-data", "--project", str(proj), "--format", "csv"]) == 2
    assert "jsonl" in capsys.readouterr().err
