"""Every key the code writes into a plan, an evaluation or a lifecycle event is a declared
field of its record; a misspelt key stays an unknown field; a null declared field is left
out of the written line."""

from __future__ import annotations

import json
from pathlib import Path

from conductor_tui.core import templates as tpl
from conductor_tui.core.loop import Conductor
from conductor_tui.core.planner import AvailableEnsemble, PlannerOutput, build_plan
from conductor_tui.core.records import Evaluation, PlanRow, Score, WorkflowPlan
from conductor_tui.core.roles import default_roles
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff.recording import evaluation_from_verdict, record_claude_overhead
from conductor_tui.providers.claude_records import JudgeVerdict, Usage


def _plan_lines(store: ProjectStore) -> list[dict]:
    return [json.loads(line) for line in store.plans_path.read_text().splitlines()]


def _undeclared(plan: WorkflowPlan) -> dict[str, dict]:
    """The unknown fields of the plan and of each row (empty when all keys are declared)."""
    found = {"plan": dict(plan.model_extra or {})}
    found.update({row.id: dict(row.model_extra or {}) for row in plan.subtasks})
    return {k: v for k, v in found.items() if v}


def test_a_planner_plan_reads_back_with_no_unknown_fields(tmp_path: Path) -> None:
    out = PlannerOutput.model_validate(
        {
            "phases": [{"name": "Research"}],
            "notes": "the planner's notes",
            "subtasks": [
                {
                    "id": "s1",
                    "description": "extraction work",
                    "task_type": "extraction",
                    "delegability_category": "agent-delegable",
                    "expected_repetitions": 6,
                    "estimated_claude_tokens": 800,
                    "rationale": "repeated per file",
                },
                {
                    "id": "s2",
                    "description": "classification work",
                    "task_type": "classification",
                    "delegability_category": "agent-delegable",
                    "expected_repetitions": 1,
                    "dag_test": {"dag": True, "script": None, "fanout": True, "synthesis": True},
                },
            ],
        }
    )
    build = build_plan(
        out,
        ensembles=[AvailableEnsemble("extract-endpoints", "Extract HTTP endpoints")],
        meta_task="Refactor",
        planning_tokens=1500,
    )
    store = ProjectStore(tmp_path)
    store.append_plan(build.plan)
    back = store.latest_plans()[build.plan.id]
    assert _undeclared(back) == {}
    assert back.planning_tokens == 1500 and back.planner_notes == "the planner's notes"
    rows = {r.id: r for r in back.subtasks}
    assert rows["s1"].rationale == "repeated per file" and rows["s2"].above_repetition_threshold is False
    # the keys written are the ones set: no null planner field in a template-free row
    line = _plan_lines(store)[0]
    assert "capacity" not in line["subtasks"][0] and "workflow" not in line["subtasks"][0]


def test_a_template_plan_reads_back_with_no_unknown_fields(tmp_path: Path) -> None:
    template = tpl.get_template("feature-build", None)
    plan = tpl.instantiate(template, "Add rate limiting", {"feature": "rate-limit"}, roles=default_roles())
    store = ProjectStore(tmp_path)
    store.append_plan(plan)
    back = store.latest_plans()[plan.id]
    assert _undeclared(back) == {}
    rows = {r.id: r for r in back.subtasks}
    assert rows["plan"].workflow == "feature-build" and rows["plan"].output
    # a planner-only field is absent from the written line, not null
    assert all("planning_tokens" not in line for line in _plan_lines(store))
    assert all("triage_reason" not in row for row in _plan_lines(store)[0]["subtasks"])


def test_a_judge_evaluation_reads_back_with_no_unknown_fields(tmp_path: Path) -> None:
    verdict = JudgeVerdict(reflection="fine", score=Score.GOOD, failure_mode=None, model="claude-x")
    store = ProjectStore(tmp_path)
    store.append_evaluation(evaluation_from_verdict(verdict, ensemble="e", routing_id="rd-1"))
    back = store.read_evaluations().records[0]
    assert back.model_extra == {} and back.review == "pending" and back.judge_model == "claude-x"
    # a person's evaluation writes neither key
    store.append_evaluation(Evaluation(ensemble="e", score="good", evaluator="human"))
    line = json.loads(store.evaluations_path.read_text().splitlines()[1])
    assert "review" not in line and "judge_model" not in line


def test_lifecycle_events_read_back_with_no_unknown_fields(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    conductor = Conductor(tmp_path, store=store)
    conductor.record_generality("e", "useful in any repository", general=True)
    store.update_thresholds("tune", repetition_threshold=4)
    store.update_thresholds("tune again", repetition_threshold=6)
    store.rollback_config(reason="back")
    record_claude_overhead(tmp_path, "planning", Usage(input_tokens=200, output_tokens=50), store=store)
    events = store.read_routing().records
    assert [e.event for e in events][-2] == "rollback" and events[-2].rolled_back_to
    assert events[-1].purpose == "planning" and events[-1].usage["input_tokens"] == 200
    assert {e.event: e.model_extra for e in events if e.model_extra} == {}
    assert events[0].general is True and events[0].assessed_by == "person"
    assert conductor.generality_assessment("e")["assessment"] == "useful in any repository"


def test_a_misspelt_key_stays_an_unknown_field_and_is_written_back() -> None:
    row = PlanRow.model_validate({"id": "r1", "capactiy": {"verdict": "spill"}})
    assert row.capacity is None and row.model_extra == {"capactiy": {"verdict": "spill"}}
    row.worflow = "feature-build"  # an attribute typo is kept, not taken as ``workflow``
    assert row.workflow is None and row.model_extra["worflow"] == "feature-build"
    written = row.to_json_dict()
    assert written["capactiy"] == {"verdict": "spill"} and written["worflow"] == "feature-build"
    assert "capacity" not in written and "workflow" not in written
    plan = WorkflowPlan.model_validate({"id": "p", "planing_tokens": 3})
    assert plan.planning_tokens is None and plan.model_extra == {"planing_tokens": 3}
    ev = Evaluation.model_validate({"reveiw": "pending"})
    assert ev.review is None and ev.model_extra == {"reveiw": "pending"}


def test_a_line_written_before_the_fields_were_declared_round_trips_unchanged() -> None:
    row = {
        "id": "r1",
        "description": "d",
        "task_type": None,
        "delegability_category": None,
        "dag_test_result": None,
        "phase": None,
        "handler": "h",
        "role": None,
        "claude_only_criterion": None,
        "depends_on": [],
        "expected_repetitions": None,
        "estimated_local_tokens": None,
        "estimated_claude_tokens": None,
        "preparation_ensemble": None,
        "status": "pending",
        "note": None,
        "original_handler": None,
        "decided_at": None,
        "routing_id": None,
        "route_reason": None,
        "decided_by": None,
        "triage_reason": "ensemble",
        "triage_message": "m",
        "capacity": {"verdict": "queue"},
        "hand_added": 1,
    }
    line = {
        "id": "p",
        "revision": 2,
        "timestamp": "2026-01-01T00:00:00Z",
        "meta_task": "m",
        "session": None,
        "source": "claude",
        "status": "proposed",
        "subtasks": [row],
        "change": None,
        "phases": [],
        "planning_tokens": 10,
        "estimated_savings": 5,
        "worthwhile": False,
        "complexity": "too few subtasks",
        "ensembles_to_create": [],
    }
    text = json.dumps(line)
    assert json.dumps(WorkflowPlan.model_validate_json(text).to_json_dict()) == text
