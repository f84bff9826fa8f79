"""core.planner: Claude's decomposition → plan rows with the foundation's rules."""

from __future__ import annotations

from conductor_tui.core.planner import (
    CREATE_ENSEMBLE,
    AvailableEnsemble,
    PlannerOutput,
    build_plan,
    matching_ensembles,
)
from conductor_tui.core.records import (
    Delegability,
    RoutingConfig,
    RowStatus,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
)

ENSEMBLES = [
    AvailableEnsemble("extract-endpoints", "Extract HTTP endpoints from source files"),
    AvailableEnsemble("summarize-docs", "Condense documentation"),
    AvailableEnsemble(
        "gather-auth-usage", "cross-file analysis of auth usage", task_types=("cross-file-analysis",)
    ),
    AvailableEnsemble("broken-extract", "extraction", runnable=False),
]


def _sub(id_, task_type, category, **kw):
    return {
        "id": id_,
        "description": f"{task_type} work",
        "task_type": task_type,
        "delegability_category": category,
        **kw,
    }


def test_matching_prefers_declared_task_types_then_names_and_skips_unrunnable():
    assert matching_ensembles("extraction", ENSEMBLES) == ["extract-endpoints"]
    assert matching_ensembles("summarization", ENSEMBLES) == ["summarize-docs"]
    assert matching_ensembles("cross-file-analysis", ENSEMBLES) == ["gather-auth-usage"]
    assert matching_ensembles("classification", ENSEMBLES) == []


def test_rows_get_ensembles_gaps_and_claude():
    out = PlannerOutput(
        subtasks=[
            _sub("s1", "extraction", "agent-delegable", expected_repetitions=6, estimated_claude_tokens=800),
            _sub(
                "s2", "classification", "agent-delegable", expected_repetitions=1, estimated_claude_tokens=200
            ),
            _sub(
                "s3",
                "architectural-design",
                "claude-only",
                claude_only_criterion="interacting-constraints",
                depends_on=["s1", "s2"],
            ),
        ]
    )
    build = build_plan(out, ensembles=ENSEMBLES, meta_task="Refactor", session="s-1", planning_tokens=1500)
    rows = {r.id: r for r in build.plan.subtasks}
    assert rows["s1"].handler == "extract-endpoints"
    assert rows["s2"].handler == CREATE_ENSEMBLE and rows["s2"].above_repetition_threshold is False
    assert "may not recur" in rows["s2"].repetition_message
    assert rows["s3"].handler == "claude" and rows["s3"].claude_only_criterion == "interacting-constraints"
    assert rows["s3"].depends_on == ["s1", "s2"]
    assert all(r.status == RowStatus.PENDING for r in rows.values())
    assert build.gaps == ["classification"]
    assert (
        build.plan.session == "s-1" and build.plan.source == "claude" and build.plan.meta_task == "Refactor"
    )
    # savings: local rows' Claude-equivalent tokens × repetitions, net of planning
    assert build.estimated_savings == 800 * 6 + 200 * 1
    assert build.net_savings == build.estimated_savings - 1500
    assert build.plan.planning_tokens == 1500
    assert rows["s1"].estimated_local_tokens == round(800 * 1.2)


def test_gap_priority_follows_expected_repetitions():
    out = PlannerOutput(
        subtasks=[
            _sub("a", "template-fill", "agent-delegable", expected_repetitions=2),
            _sub("b", "classification", "agent-delegable", expected_repetitions=7),
        ]
    )
    build = build_plan(out, ensembles=[])
    assert build.gaps == ["classification", "template-fill"]
    assert {r.id: r.above_repetition_threshold for r in build.plan.subtasks} == {"a": False, "b": True}


def test_standing_authorization_and_task_profile_win():
    config = RoutingConfig(
        standing_authorizations=[StandingAuthorization(task_type="extraction", ensemble="extract-endpoints")]
    )
    profiles = TaskProfiles(profiles={"summarization": TaskProfile(ensemble="summarize-docs", good_count=4)})
    out = PlannerOutput(
        subtasks=[_sub("s1", "extraction", "agent-delegable"), _sub("s2", "summarization", "agent-delegable")]
    )
    build = build_plan(out, ensembles=ENSEMBLES, config=config, profiles=profiles)
    s1, s2 = build.plan.subtasks
    assert (s1.handler, s1.triage_reason) == ("extract-endpoints", "standing-auth")
    assert (s2.handler, s2.triage_reason) == ("summarize-docs", "task-profile")


def test_failed_dag_test_makes_it_claude_only_and_undecided_is_surfaced():
    out = PlannerOutput(
        subtasks=[
            _sub(
                "s1",
                "cross-file-analysis",
                "ensemble-delegable",
                dag_test={"dag": True, "script": True, "fanout": False, "synthesis": True},
            ),
            _sub(
                "s2",
                "evidence-gathering",
                "ensemble-delegable",
                dag_test={"dag": True, "script": None, "fanout": True, "synthesis": True},
            ),
        ]
    )
    s1, s2 = build_plan(out, ensembles=ENSEMBLES).plan.subtasks
    assert s1.handler == "claude" and s1.delegability_category == Delegability.CLAUDE
    assert "fan-out" in (s1.claude_only_criterion or "")
    assert s2.triage_reason == "uncertain" and s2.uncertain_conditions == ["script-absorbable"]


def test_prepared_claude_kept_when_worth_it():
    out = PlannerOutput(
        subtasks=[
            _sub(
                "p",
                "cross-file-analysis",
                "ensemble-delegable",
                prepares="j",
                estimated_claude_tokens=4000,
                dag_test={"dag": True, "script": True, "fanout": True, "synthesis": True},
            ),
            _sub("j", "architectural-design", "claude-only", claude_only_criterion="holistic-judgment"),
        ]
    )
    rows = {r.id: r for r in build_plan(out, ensembles=ENSEMBLES).plan.subtasks}
    assert rows["j"].preparation_ensemble == "gather-auth-usage"
    assert rows["j"].depends_on == ["p"] and rows["p"].prepares == "j"


def test_prepared_claude_folded_back_when_trivial_or_not_recurring():
    out = PlannerOutput(
        subtasks=[
            _sub("s0", "extraction", "agent-delegable"),
            _sub(
                "p",
                "evidence-gathering",
                "ensemble-delegable",
                prepares="j",
                estimated_claude_tokens=300,
                depends_on=["s0"],
                dag_test={"dag": True, "script": True, "fanout": True, "synthesis": True},
            ),
            _sub("j", "architectural-design", "claude-only", depends_on=["p"]),
        ]
    )
    build = build_plan(out, ensembles=ENSEMBLES)
    rows = {r.id: r for r in build.plan.subtasks}
    assert "p" not in rows and rows["j"].preparation_ensemble is None
    assert rows["j"].depends_on == ["s0"]  # the folded row's dependencies are inherited
    assert "too small" in rows["j"].note and "evidence-gathering" not in build.gaps


def test_complexity_floor():
    small = PlannerOutput(
        subtasks=[_sub("a", "extraction", "agent-delegable"), _sub("b", "naming", "claude-only")]
    )
    build = build_plan(small, ensembles=ENSEMBLES)
    assert not build.worthwhile and "only 2 subtasks" in build.floor_reason
    big = PlannerOutput(subtasks=[_sub(str(i), "extraction", "agent-delegable") for i in range(5)])
    assert build_plan(big, ensembles=ENSEMBLES).worthwhile
