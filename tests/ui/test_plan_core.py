"""core/plan.py: decisions as revisions, the summary line, loading plans (no Textual)."""

from __future__ import annotations

import pytest

from conductor_tui.core import plan as P
from conductor_tui.core.records import Delegability, RowStatus
from tests.ui.sample import FIXED_NOW, fixed_clock, mixed_plan


def test_each_decision_is_a_new_revision_and_the_old_one_is_untouched():
    plan = mixed_plan()
    new = P.approve(plan, "r-01", fixed_clock)
    assert (new.revision, new.change, new.timestamp) == (2, "approved #1", FIXED_NOW)
    assert new.subtasks[0].status == RowStatus.APPROVED and new.subtasks[0].decided_at == FIXED_NOW
    assert plan.subtasks[0].status == RowStatus.PENDING and plan.revision == 1
    assert new.subtasks[1].decided_at is None
    rejected = P.reject(new, "r-02", fixed_clock)
    assert rejected.revision == 3 and rejected.subtasks[1].status == RowStatus.REJECTED


def test_override_keeps_the_proposed_handler_once():
    plan = P.override_handler(mixed_plan(), "r-01", "Claude", fixed_clock)
    assert plan.subtasks[0].handler == "claude" and plan.subtasks[0].original_handler == "extract-endpoints"
    plan = P.override_handler(plan, "r-01", "request new ensemble", fixed_clock)
    assert plan.subtasks[0].handler == "create-ensemble"
    assert plan.subtasks[0].original_handler == "extract-endpoints"
    with pytest.raises(P.PlanError):
        P.override_handler(plan, "r-01", "  ", fixed_clock)
    with pytest.raises(P.PlanError, match="no row"):
        P.approve(plan, "r-99", fixed_clock)


def test_edit_note_and_bulk():
    plan = P.edit_description(mixed_plan(), "r-02", "  Summarize   the modules ", fixed_clock)
    assert plan.subtasks[1].description == "Summarize the modules"
    with pytest.raises(P.PlanError, match="unchanged"):
        P.edit_description(plan, "r-02", "Summarize the modules", fixed_clock)
    with pytest.raises(P.PlanError):
        P.edit_description(plan, "r-02", "   ", fixed_clock)
    plan = P.attach_note(plan, "r-02", "only src/", fixed_clock)
    assert plan.subtasks[1].note == "only src/"
    plan = P.attach_note(plan, "r-02", "", fixed_clock)
    assert plan.subtasks[1].note is None and plan.change == "clear note #2"
    plan = P.reject(plan, "r-01", fixed_clock)
    plan = P.bulk_decide(plan, RowStatus.APPROVED, fixed_clock)
    assert plan.status == "decided"
    assert [r.status for r in plan.subtasks][:2] == [RowStatus.REJECTED, RowStatus.APPROVED]
    with pytest.raises(P.PlanError, match="no pending"):
        P.bulk_decide(plan, RowStatus.APPROVED, fixed_clock)


def test_summary_line_matches_the_spec():
    summary = P.summarize(mixed_plan(), 1.2)
    assert summary.line() == (
        "4 agent-delegable, 1 ensemble-delegable, 2 Claude-only (1 ensemble-prepared) (71% local)"
    )
    # sequenced by expected repetitions, highest first (seed 001: design priority)
    assert summary.create_line() == (
        "Ensembles to create: boilerplate-generation (8 uses), cross-file-analysis (3 uses)"
    )
    # local rows: given Claude estimates, else local / 1.2
    assert summary.estimated_savings == 3500 + 8000 + round(14000 / 1.2) + 10000 + round(7000 / 1.2)
    rejected = P.reject(mixed_plan(), "r-03", fixed_clock)
    assert P.summarize(rejected, 1.2).line().startswith("4 agent-delegable, 0 ensemble-delegable")


def test_plan_from_typed_text_in_the_spec_format():
    text = """Workflow plan for: "Refactor auth"

Subtasks:
  1. Extract the TODO comments → extract-todos (agent-delegable)
  2. Decide the session model → Claude (claude-only)
  3. Scan call sites -> create ensemble (ensemble)
  - Write the migration notes

Summary: 1 agent-delegable ...
Proceed?"""
    plan = P.plan_from_text(text, clock=fixed_clock)
    assert plan.meta_task == "Refactor auth"
    assert [(r.description, r.handler, r.delegability_category) for r in plan.subtasks] == [
        ("Extract the TODO comments", "extract-todos", Delegability.AGENT),
        ("Decide the session model", "claude", Delegability.CLAUDE),
        ("Scan call sites", "create-ensemble", Delegability.ENSEMBLE),
        ("Write the migration notes", None, None),
    ]
    with pytest.raises(P.PlanError):
        P.plan_from_text("\n\n  \n")


def test_load_yaml_json_and_lists(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "- Extract endpoints\n- description: Review\n  ensemble: review-files\n  reps: 4\n"
    )
    plan = P.load_plan_file(tmp_path / "p.yaml", clock=fixed_clock)
    assert plan.meta_task == "p" and plan.source == "file"
    assert plan.subtasks[1].handler == "review-files" and plan.subtasks[1].expected_repetitions == 4
    (tmp_path / "p.json").write_text(
        '{"meta_task": "M", "subtasks": [{"subtask": "A", "category": "claude"}]}'
    )
    plan = P.load_plan_file(tmp_path / "p.json")
    assert plan.subtasks[0].delegability_category == Delegability.CLAUDE


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "bad.json",
            '{"subtasks": [\n {"description": "a"},\n {"description": }\n]}',
            "bad.json:3: invalid JSON",
        ),
        ("bad.yaml", "subtasks:\n  - description: a\n  - description: [b\n", "bad.yaml:4: invalid YAML"),
        (
            "shape.yaml",
            "subtasks:\n  - description: a\n  - handler: x\n",
            "shape.yaml:3: subtask 2: a subtask has no description",
        ),
        (
            "nums.yaml",
            "subtasks:\n  - description: a\n    expected_repetitions: lots\n",
            "nums.yaml:2: subtask 1: expected_repetitions",
        ),
        ("empty.yaml", "", "empty.yaml: the file is empty"),
        ("none.yaml", "meta_task: x\n", "none.yaml: the plan has no subtasks"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    with pytest.raises(P.PlanError) as info:
        P.load_plan_file(tmp_path / name)
    assert where in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(P.PlanError, match="no such file"):
        P.load_plan_file(tmp_path / "nope.yaml")


def test_handler_labels():
    plan = mixed_plan()
    labels = [P.handler_label(r) for r in plan.subtasks]
    assert labels == [
        "extract-endpoints",
        "summarize-files",
        "create ensemble",
        "classify-issues",
        "Claude",
        "Claude ← summarize-files",
        "create ensemble",
    ]
