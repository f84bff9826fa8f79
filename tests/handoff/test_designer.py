"""The Ensemble Designer handoff (Invariant 12, ADR-010, ADR-014, Invariants 15–16), driven through
the CLI verbs and the conductor loop: every trigger writes its artifact in the spec's shape, once,
with the state the person's decisions give it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from conductor_tui import cli
from conductor_tui.core.designer import designer_dir
from conductor_tui.core.loop import Conductor
from conductor_tui.core.records import RoutingDecision
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import decide_rows

REQUEST_KEYS = [
    "request_type",
    "task_type",
    "delegability_category",
    "dag_test_result",
    "sample_inputs",
    "expected_output_format",
    "repetition_count",
]
FEEDBACK_KEYS = [
    "feedback_type",
    "ensemble",
    "scores",
    "dominant_failure_mode",
    "sample_evaluations",
    "recommendation",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".llm-orc" / "ensembles").mkdir(parents=True)
    return tmp_path


def _cli(capsys, project: Path, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--project", str(project), "--json"])
    out = capsys.readouterr().out.strip()
    try:
        return code, json.loads(out.splitlines()[-1])
    except json.JSONDecodeError:
        return code, json.loads(out)  # `report --json` is indented


def _files(project: Path, kind: str) -> list[dict]:
    folder = designer_dir(project) / kind
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))] if folder.is_dir() else []


def _profile(project: Path, task_type: str) -> dict:
    data = yaml.safe_load((project / ".llm-orc/evaluations/task-profiles.yaml").read_text()) or {}
    return data.get(task_type) or {}


# ----------------------------------------------------------------------------- adaptive observation


def test_third_delegable_claude_task_proposes_a_request_and_the_person_approves(project, capsys) -> None:
    outs = []
    for i in range(3):
        code, out = _cli(
            capsys,
            project,
            "record", "claude-task", "--task-type", "extraction", "--tokens", "600", "--delegable",
            "--summary", f"extract endpoints from svc{i}.py", "--session", "s1",
        )  # fmt: skip
        assert code == 0, out
        outs.append(out)
    assert outs[0]["ensemble_request"] is None and outs[1]["ensemble_request"] is None
    req = outs[2]["ensemble_request"]
    assert req["state"] == "proposed" and req["trigger"] == "adaptive-observation"
    assert list(req)[: len(REQUEST_KEYS)] == REQUEST_KEYS  # the spec's shape, in the spec's order
    assert req["request_type"] == "new" and req["task_type"] == "extraction"
    assert "extract endpoints from svc0.py" in req["sample_inputs"]
    assert req["repetition_count"] == 3
    # Not approved yet: the profile does not claim a request (Invariant 1 gates the handoff).
    assert _profile(project, "extraction").get("design_requested") is None

    # A fourth occurrence does not write a second request: it answers with the open one.
    _, out4 = _cli(capsys, project, "record", "claude-task", "--task-type", "extraction", "--tokens", "10",
                   "--delegable", "--session", "s1")  # fmt: skip
    assert out4["ensemble_request"]["id"] == req["id"]
    assert len(_files(project, "requests")) == 1

    code, out = _cli(capsys, project, "design", "approve", req["id"])
    assert code == 0 and out["ensemble_request"]["state"] == "requested"
    assert _profile(project, "extraction")["design_requested"] is not None
    _, listing = _cli(capsys, project, "design", "list")
    assert [a["state"] for a in listing["artifacts"]] == ["requested"]

    # The designer returns an ensemble for the task type → the request is answered.
    (project / ".llm-orc/ensembles/extract-endpoints.yaml").write_text(
        "name: extract-endpoints\ndescription: d\nconductor:\n  task_type: extraction\n"
        "agents:\n  - name: a\n    model: qwen3:1.7b\n    provider: ollama\n"
    )
    _, listing = _cli(capsys, project, "design", "list")
    assert [a["state"] for a in listing["artifacts"]] == ["answered"]


def test_no_proposal_when_nothing_remains_or_in_another_session(project, capsys) -> None:
    for i in range(3):
        _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "summarization", "--tokens", "9",
                      "--delegable", "--session", "s1" if i < 2 else "s2")  # fmt: skip
        assert out["ensemble_request"] is None  # two in s1, one in s2: no session reached 3
    _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "summarization", "--tokens", "9",
                  "--delegable", "--session", "s1", "--remaining", "0")  # fmt: skip
    assert out["ensemble_request"] is None  # the pattern is over: nothing to save
    _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "summarization", "--tokens", "9",
                  "--delegable", "--session", "s1", "--remaining", "4")  # fmt: skip
    assert out["ensemble_request"]["repetition_count"] == 4 + 4
    # Claude-only work never proposes an ensemble.
    for _ in range(4):
        _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "architecture", "--tokens", "9",
                      "--session", "s1")  # fmt: skip
        assert out["ensemble_request"] is None


def test_design_rejection_marks_claude_only_and_stops_requests(project, capsys) -> None:
    for _ in range(3):
        _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "cross-file-analysis",
                      "--tokens", "9", "--delegable", "--session", "s1")  # fmt: skip
    req_id = out["ensemble_request"]["id"]
    code, out = _cli(
        capsys, project, "design", "reject", "cross-file-analysis", "--reason", "needs backtracking"
    )
    assert code == 0
    prof = _profile(project, "cross-file-analysis")
    assert prof["design_rejected"] is True and prof["rejection_reason"] == "needs backtracking"
    assert prof["interim_claude_count"] == 3  # the loop keeps the person's fields on the next sync
    _, listing = _cli(capsys, project, "design", "list")
    assert {a["id"]: a["state"] for a in listing["artifacts"]} == {req_id: "rejected"}
    _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "cross-file-analysis",
                  "--tokens", "9", "--delegable", "--session", "s1")  # fmt: skip
    assert out["ensemble_request"] is None
    assert _profile(project, "cross-file-analysis")["design_rejected"] is True


# ----------------------------------------------------------------------------- plan gap approved


def test_approving_a_create_ensemble_row_writes_the_request(project, capsys, monkeypatch) -> None:
    plan = {
        "meta_task": "Refactor handlers",
        "subtasks": [
            {"id": "s1", "description": "Map callers of auth helpers in api/", "task_type": "cross-file-analysis",
             "delegability_category": "ensemble-delegable", "expected_repetitions": 5,
             "dag_test": {"dag": True, "script": True, "fanout": True, "synthesis": True}},
            {"id": "s2", "description": "Decide the flow", "task_type": "architecture",
             "delegability_category": "claude-only", "claude_only_criterion": "interacting-constraints"},
        ],
    }  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(plan)))
    code, out = _cli(capsys, project, "plan", "submit", "-", "--session", "s1")
    assert code == 0
    rows = {r["id"]: r for r in out["rows"]}
    assert rows["s1"]["handler"] == "create-ensemble"
    assert _files(project, "requests") == []  # proposed in the plan; the person has not approved yet
    decide_rows(project, out["plan_id"], {"s1": "approved", "s2": "approved"})
    (req,) = _files(project, "requests")
    assert req["state"] == "requested" and req["trigger"] == "plan-gap"
    assert req["request_type"] == "new" and req["task_type"] == "cross-file-analysis"
    assert req["delegability_category"] == "ensemble-delegable"
    assert req["dag_test_result"] == {"dag": True, "script": True, "fanout": True, "synthesis": True}
    assert req["sample_inputs"] == ["Map callers of auth helpers in api/"]
    assert req["repetition_count"] == 5 and req["plan_id"] == out["plan_id"]
    assert _profile(project, "cross-file-analysis")["design_requested"] is not None
    # Deciding again (a note, another row) does not write it twice.
    decide_rows(project, out["plan_id"], {"s2": {"note": "ok"}})
    assert len(_files(project, "requests")) == 1


# ----------------------------------------------------------------------------- evaluations


def _runs(conductor: Conductor, ensemble: str, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        rec = conductor.record_run(
            RoutingDecision(id=f"rd-{ensemble}-{i}", task_type="extraction", routed_to=ensemble, ensemble=ensemble,
                            status="completed", total_tokens_local=500, session="s1")
        )  # fmt: skip
        ids.append(rec.decision.id)
    return ids


def _clocked(project: Path) -> Conductor:
    t = {"now": datetime(2026, 4, 1, 8, tzinfo=UTC)}

    def tick() -> datetime:
        t["now"] += timedelta(seconds=1)
        return t["now"]

    return Conductor(project, now=tick)


def test_failed_calibration_writes_summary_and_a_revision_request(project: Path) -> None:
    ens = project / ".llm-orc/ensembles/extract-endpoints.yaml"
    ens.write_text("name: extract-endpoints\ndescription: d\nagents:\n  - name: a\n    model: m\n")
    c = _clocked(project)
    ids = _runs(c, "extract-endpoints", 3)
    first = c.record_evaluation("extract-endpoints", "good", routing_id=ids[0], input_summary="a.py")
    assert first.artifacts == []
    one = c.record_evaluation("extract-endpoints", "poor", routing_id=ids[1], failure_mode="incomplete",
                              reasoning="missed 3 of 8 routes", input_summary="b.py")  # fmt: skip
    (fb,) = one.artifacts  # a poor score that does not end calibration: poor_evaluation
    assert fb.data["feedback_type"] == "poor_evaluation"
    two = c.record_evaluation("extract-endpoints", "poor", routing_id=ids[2], failure_mode="incomplete",
                              reasoning="missed all POST routes", input_summary="c.py")  # fmt: skip
    assert two.after.value == "design"
    kinds = sorted((a.kind, a.type, a.state) for a in two.artifacts)
    assert kinds == [("feedback", "calibration_summary", "sent"), ("request", "revision", "proposed")]
    summary = next(a for a in two.artifacts if a.kind == "feedback").data
    assert list(summary)[: len(FEEDBACK_KEYS)] == FEEDBACK_KEYS
    assert summary["scores"] == {"good": 1, "acceptable": 0, "poor": 2}
    assert summary["dominant_failure_mode"] == "incomplete"
    assert summary["sample_evaluations"][0]["score"] == "poor"
    revision = next(a for a in two.artifacts if a.kind == "request").data
    assert revision["request_type"] == "revision" and revision["ensemble"] == "extract-endpoints"
    assert revision["evaluation_data"]["scores"] == ["good", "poor", "poor"]
    assert revision["evaluation_data"]["dominant_failure_mode"] == "incomplete"
    assert revision["evaluation_data"]["sample_poor_outputs"]  # the poor outputs (or their reasoning)
    # Design notes regenerated for the designer.
    notes = yaml.safe_load((designer_dir(project) / "notes/extraction.yaml").read_text())
    assert notes["ensembles"][0]["phase"] == "design"
    assert notes["ensembles"][0]["failure_modes"] == {"incomplete": 2}
    assert notes["what_failed"] and not notes["what_worked"]
    # The designer revises the file → the revision request is answered.
    ens.write_text(ens.read_text() + "# chunked extraction\n")
    states = {a.id: a.state for a in c.design_artifacts().artifacts if a.kind == "request"}
    assert list(states.values()) == ["answered"]


def test_mixed_calibration_writes_a_summary_only(project: Path) -> None:
    c = _clocked(project)
    ids = _runs(c, "summ", 5)
    outs = [c.record_evaluation("summ", s, routing_id=r, failure_mode="incomplete" if s == "poor" else None)
            for s, r in zip(["good", "good", "poor", "good", "good"], ids, strict=True)]  # fmt: skip
    last = outs[-1]
    assert last.after.value == "calibrate"  # a second window follows
    assert [(a.kind, a.type) for a in last.artifacts] == [("feedback", "calibration_summary")]
    assert "second calibration window" in last.artifacts[0].data["recommendation"]


def test_promotion_candidate_once_when_readiness_is_reached(project: Path) -> None:
    c = _clocked(project)
    ids = _runs(c, "extract-endpoints", 5)
    for r in ids:
        out = c.record_evaluation("extract-endpoints", "good", routing_id=r)
        assert not any(a.type == "promotion_candidate" for a in out.artifacts)  # Establish: not yet
    written = []
    for i in range(5, 22):  # the run that crosses the Trust bar (>20 uses) makes it a candidate
        written += c.record_run(
            RoutingDecision(id=f"rd-x-{i}", task_type="extraction", routed_to="extract-endpoints",
                            ensemble="extract-endpoints", status="completed", total_tokens_local=5)
        ).artifacts  # fmt: skip
    (fb,) = written
    assert fb.data["feedback_type"] == "promotion_candidate"
    assert fb.data["scores"] == {"good": 5, "acceptable": 0, "poor": 0}
    assert "promote extract-endpoints --to global" in fb.data["recommendation"]


# ----------------------------------------------------------------------------- per-model, notes, prepared


def test_per_model_correctness_recorded_and_summarised(project: Path, capsys) -> None:
    c = _clocked(project)
    ids = _runs(c, "verify-pair", 3)
    verdicts = [("correct", "incorrect"), ("correct", "correct"), ("incorrect", "incorrect")]
    for rid, (a, b) in zip(ids, verdicts, strict=True):
        code, out = _cli(capsys, project, "record", "evaluation", "--ensemble", "verify-pair", "--score",
                         "good" if "correct" in (a,) else "poor", "--failure-mode", "incomplete",
                         "--routing-id", rid, "--per-model", f"qwen3:4b={a}", "--per-model", f"llama3.2:3b={b}")  # fmt: skip
        assert code == 0, out
        assert out["per_model"] == {"qwen3:4b": a, "llama3.2:3b": b}
    code, out = _cli(capsys, project, "record", "evaluation", "--ensemble", "verify-pair", "--score", "good",
                     "--per-model", "qwen3:4b=maybe")  # fmt: skip
    assert code == 2 and "MODEL=correct" in out["error"]
    code, out = _cli(capsys, project, "design-notes", "extraction")
    assert code == 0
    pm = out["notes"]["ensembles"][0]["per_model"]
    assert pm["qwen3:4b"]["correct"] == 2 and pm["llama3.2:3b"]["correct"] == 1
    assert pm["_ensemble"]["union_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert pm["_ensemble"]["contradiction_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert Path(out["path"]).is_file()


def test_prepared_claude_task_is_counted_as_the_spec_says(project: Path, capsys) -> None:
    code, out = _cli(capsys, project, "record", "claude-task", "--task-type", "code-review", "--tokens", "700",
                     "--prepared-by", "review-prep", "--preparation-tokens", "2400", "--estimated-full", "3000")  # fmt: skip
    assert code == 0, out
    assert out["preparation_tokens_local"] == 2400 and out["judgment_tokens_claude"] == 700
    assert out["estimated_full_claude_tokens"] == 3000 and out["preparation_savings"] == 2300
    assert out["evaluate_combined"] is True and out["pattern_uses"] == 1
    (line,) = [
        json.loads(x) for x in (project / ".llm-orc/evaluations/routing-log.jsonl").read_text().splitlines()
    ]
    assert line["routed_to"] == "claude" and line["preparation_ensemble"] == "review-prep"
    assert line["delegability_category"] == "claude-only" and line.get("total_tokens_local") is None
    code, report = _cli(capsys, project, "report")
    text = json.dumps(report)
    assert '"prepared_claude_decisions": 1' in text and '"interim_claude": 0' in text
    # default estimate: the judgment plus the preparation's Claude equivalent (local / 1.2)
    _, out = _cli(capsys, project, "record", "claude-task", "--task-type", "code-review", "--tokens", "500",
                  "--prepared-by", "review-prep", "--preparation-tokens", "1200")  # fmt: skip
    assert out["estimated_full_claude_tokens"] == 500 + 1000 and out["pattern_uses"] == 2
    code, out = _cli(capsys, project, "record", "claude-task", "--task-type", "code-review", "--tokens", "5",
                     "--prepared-by", "review-prep")  # fmt: skip
    assert code == 2 and "--preparation-tokens" in out["error"]


def test_unreadable_artifact_is_reported_not_fatal(project: Path, capsys) -> None:
    folder = designer_dir(project) / "requests"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("request_type: [unclosed\n")
    code, out = _cli(capsys, project, "design", "list")
    assert code == 0 and out["artifacts"] == [] and "broken.yaml" in out["problems"][0]
    assert ProjectStore(project).exists() is False  # listing writes nothing
