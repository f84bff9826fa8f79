"""The token ratio, the Claude-token estimate and the complexity floor each have one home in
core.rules; a plan's numbers follow the routing config, never a number of their own."""

from __future__ import annotations

from conductor_tui.core import plan as P
from conductor_tui.core import rules
from conductor_tui.core.planner import build_plan
from conductor_tui.core.records import (
    Delegability,
    PlanRow,
    RoutingConfig,
    RoutingThresholds,
    RowStatus,
    WorkflowPlan,
)


def _plan(n: int, delegable: int) -> WorkflowPlan:
    rows = [
        PlanRow(
            id=f"r{i}",
            description=f"step {i}",
            delegability_category=Delegability.AGENT if i < delegable else Delegability.CLAUDE,
            estimated_local_tokens=300,
        )
        for i in range(n)
    ]
    return WorkflowPlan(meta_task="m", subtasks=rows)


def test_ratio_value_reads_every_form_of_the_ratio() -> None:
    t = RoutingThresholds(local_to_claude_token_ratio=1.5)
    assert rules.ratio_value(t) == 1.5
    assert rules.ratio_value(rules.default_ratio(t)) == 1.5
    assert rules.ratio_value(3) == 3.0


def test_local_and_claude_estimates_are_inverse_through_one_ratio() -> None:
    t = RoutingThresholds(local_to_claude_token_ratio=1.5)
    assert rules.estimate_claude_tokens(300, t) == 200
    assert rules.estimate_local_tokens(200, t) == 300


def test_plan_ratio_comes_from_the_config_and_its_default() -> None:
    assert P.local_to_claude_ratio(RoutingThresholds(local_to_claude_token_ratio=3.0)) == 3.0
    # absent, or a config holding no positive ratio: the routing config's default
    default = RoutingThresholds().local_to_claude_token_ratio
    assert P.local_to_claude_ratio(None) == default
    assert (
        P.local_to_claude_ratio(RoutingThresholds.model_construct(local_to_claude_token_ratio=0)) == default
    )


def test_plan_estimate_is_the_rules_estimate() -> None:
    row = PlanRow(id="a", description="x", estimated_local_tokens=301)
    for ratio in (1.2, 2.0, 0.7):
        assert P.estimated_claude_tokens(row, ratio) == rules.estimate_claude_tokens(301, ratio)
    assert P.estimated_claude_tokens(row) == rules.estimate_claude_tokens(301, RoutingThresholds())


def test_worth_planning_follows_the_configured_floor() -> None:
    small = _plan(3, 2)
    ok, reason = P.worth_planning(small)  # defaults 5 / 3
    assert not ok and "(< 5)" in reason
    loose = RoutingThresholds(complexity_min_subtasks=2, complexity_min_delegable=2)
    assert P.worth_planning(small, loose) == (True, rules.complexity_floor(3, 2, loose).reason)
    strict = RoutingThresholds(complexity_min_subtasks=2, complexity_min_delegable=3)
    ok, reason = P.worth_planning(small, strict)
    assert not ok and "(< 3)" in reason


def test_rejected_rows_do_not_count_for_the_floor() -> None:
    plan = _plan(5, 5)
    for row in plan.subtasks[:2]:
        row.status = RowStatus.REJECTED
    assert P.worth_planning(plan)[0] is False


def test_planner_local_estimate_uses_the_configured_ratio() -> None:
    cfg = RoutingConfig()
    cfg.routing_thresholds.local_to_claude_token_ratio = 2.0
    built = build_plan(
        {
            "meta_task": "m",
            "subtasks": [
                {
                    "id": "a",
                    "description": "pull the names out",
                    "task_type": "extraction",
                    "delegability_category": "agent-delegable",
                    "estimated_claude_tokens": 150,
                }
            ],
        },
        config=cfg,
    )
    assert built.plan.subtasks[0].estimated_local_tokens == 300
