"""The conductor's rules at and around every threshold, with the spec's numbers."""

from __future__ import annotations

import pytest

from conductor_tui.core import rules
from conductor_tui.core.records import (
    DagTestResult,
    Delegability,
    FailureMode,
    Phase,
    RoutingConfig,
    RoutingDecision,
    RoutingThresholds,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
)

T = RoutingThresholds()
G, A, P = "good", "acceptable", "poor"


def seq(*parts: tuple[str, int]) -> list[str]:
    out: list[str] = []
    for score, n in parts:
        out += [score] * n
    return out


# --------------------------------------------------------------------------- calibration


@pytest.mark.parametrize(
    ("scores", "kind", "remaining", "fallback"),
    [
        ([], "in-progress", 5, False),
        ([G, G, G, G], "in-progress", 1, False),
        ([G, P], "in-progress", 3, True),
        ([G, G, A, G, G], "pass", 0, False),
        ([G, G, P, G, G], "mixed", 0, True),
        ([G, P, P, G, G], "fail", 0, True),
        ([G, P, P], "fail", 0, True),  # 2 poor fail the window before it is full
        ([P, P, P, P, P], "fail", 0, True),
        ([G, G, G, G, G, P], "pass", 0, False),  # only the window counts
        (["Good", "ACCEPTABLE", "good ", "ok", "Good"], "pass", 0, False),  # spellings
    ],
)
def test_calibration_outcome(scores, kind, remaining, fallback) -> None:
    out = rules.calibration_outcome(scores, T)
    assert (out.kind, out.remaining, out.fallback) == (kind, remaining, fallback)


def test_calibration_uses_config_period_and_fail_count() -> None:
    t = RoutingThresholds(calibration_period=3, calibration_fail_poor=3)
    assert rules.calibration_outcome([G, G, G], t).kind == "pass"
    assert rules.calibration_outcome([P, P, G], t).kind == "mixed"
    assert rules.calibration_outcome([P, P], t).kind == "in-progress"
    assert rules.calibration_outcome([P, P, P], t).kind == "fail"


def test_in_session_fallback_only_in_calibration() -> None:
    d = rules.calibration_fallback(Phase.CALIBRATE, [G, P], ensemble="extract-x", task_type="extraction")
    assert d.fallback
    assert d.message.startswith(
        "Ensemble 'extract-x' scored poor during calibration — falling back to Claude"
    )
    assert not rules.calibration_fallback("calibration", [G, A]).fallback
    assert rules.calibration_fallback("Calibration", [P]).fallback
    assert not rules.calibration_fallback(Phase.ESTABLISH, [P]).fallback


# --------------------------------------------------------------------------- lifecycle


def test_design_without_ensemble() -> None:
    st = rules.lifecycle_status([], T, has_ensemble=False)
    assert st.phase is Phase.DESIGN


@pytest.mark.parametrize(("n", "remaining"), [(0, 5), (1, 4), (4, 1)])
def test_calibrate_for_the_first_period(n: int, remaining: int) -> None:
    st = rules.lifecycle_status([G] * n, T)
    assert st.phase is Phase.CALIBRATE
    word = "evaluation" if remaining == 1 else "evaluations"
    assert st.next_step == f"{remaining} more {word} to finish Calibrate"


def test_establish_after_a_passing_window() -> None:
    st = rules.lifecycle_status([G, G, A, G, G], T)
    assert st.phase is Phase.ESTABLISH
    assert st.calibration is not None and st.calibration.kind == "pass"
    assert st.next_step == "16 more uses for Trust"  # > 20 uses: 21 - 5


def test_mixed_gets_a_second_window_then_design() -> None:
    first = seq((G, 4), (P, 1))
    st = rules.lifecycle_status(first, T)
    assert st.phase is Phase.CALIBRATE
    assert "second window" in st.next_step
    assert rules.lifecycle_status(first + seq((G, 5)), T).phase is Phase.ESTABLISH
    assert rules.lifecycle_status(first + seq((G, 4), (P, 1)), T).phase is Phase.DESIGN
    # the second poor across calibration fails at once, not at the end of the window
    assert rules.lifecycle_status(first + seq((G, 1), (P, 1)), T).phase is Phase.DESIGN


def test_fail_returns_to_design_and_revised_ensemble_recalibrates() -> None:
    failed = seq((G, 3), (P, 2))
    st = rules.lifecycle_status(failed, T)
    assert st.phase is Phase.DESIGN and st.calibration.kind == "fail"
    assert rules.lifecycle_status(failed + [G, G], T).phase is Phase.CALIBRATE
    assert rules.lifecycle_status(failed + [G] * 5, T).phase is Phase.ESTABLISH


@pytest.mark.parametrize(
    ("uses", "scores", "phase"),
    [
        (20, seq((G, 2), (A, 4)), Phase.ESTABLISH),  # 20 is not > 20
        (21, seq((G, 2), (A, 4)), Phase.TRUST),  # 21 uses, 100% acceptable-or-good, 2 good
        (21, seq((G, 5), (P, 1), (A, 4), (P, 1), (A, 4), (P, 1)), Phase.ESTABLISH),  # last 10: 80%, not > 80%
        (21, seq((G, 5), (A, 4), (P, 1)), Phase.PROMOTE),  # 90% and 5 good
        (21, seq((A, 5), (G, 3)), Phase.PROMOTE),  # 3 good → promotion candidate
        (40, seq((A, 5), (G, 2)), Phase.TRUST),
    ],
)
def test_trust_threshold_is_strict(uses: int, scores: list[str], phase: Phase) -> None:
    assert rules.lifecycle_status(scores, T, invocations=uses).phase is phase


def test_trust_uses_config_thresholds() -> None:
    t = RoutingThresholds(trusted_threshold_uses=8, trusted_threshold_good_ratio=0.5)
    assert rules.lifecycle_phase(seq((A, 5)), t, invocations=9) is Phase.TRUST
    assert rules.lifecycle_phase(seq((A, 5)), t, invocations=8) is Phase.ESTABLISH


def test_establish_next_step_when_ratio_is_low() -> None:
    st = rules.lifecycle_status(seq((G, 5), (P, 1), (G, 4), (P, 1), (G, 4), (P, 1)), T, invocations=30)
    assert st.phase is Phase.ESTABLISH
    assert "must exceed 80%" in st.next_step


# --------------------------------------------------------------------------- sampling


def test_needs_evaluation_per_phase() -> None:
    never = lambda: 0.99  # noqa: E731
    always = lambda: 0.0  # noqa: E731
    assert rules.needs_evaluation(Phase.CALIBRATE, T, rand=never).evaluate
    assert rules.needs_evaluation("calibration", T, rand=never).evaluate
    assert rules.needs_evaluation(Phase.ESTABLISH, T, rand=always).evaluate
    assert not rules.needs_evaluation(Phase.ESTABLISH, T, rand=never).evaluate
    assert not rules.needs_evaluation(Phase.TRUST, T, rand=always).evaluate
    assert not rules.needs_evaluation(Phase.PROMOTE, T, rand=always).evaluate
    assert not rules.needs_evaluation(Phase.DESIGN, T, rand=always).evaluate
    assert rules.needs_evaluation(Phase.TRUST, T, triggered=True).evaluate


@pytest.mark.parametrize(("draw", "expected"), [(0.0, True), (0.1499, True), (0.15, False), (0.5, False)])
def test_sampling_rate_boundary(draw: float, expected: bool) -> None:
    assert rules.needs_evaluation(Phase.ESTABLISH, T, rand=lambda: draw).evaluate is expected


def test_sampling_rate_statistics_with_seeded_random() -> None:
    import random

    rng = random.Random(7)
    hits = sum(rules.needs_evaluation(Phase.ESTABLISH, T, rand=rng.random).evaluate for _ in range(10_000))
    assert 1350 < hits < 1650  # 15% ± noise
    t = RoutingThresholds(sampling_rate_established=0.2)
    assert rules.needs_evaluation(Phase.ESTABLISH, t, rand=lambda: 0.19).evaluate


# --------------------------------------------------------------------------- promotion / LoRA


@pytest.mark.parametrize(
    ("good", "generality", "level", "next_step"),
    [
        (0, False, "none", "3 more good for global promotion"),
        (2, False, "none", "1 more good for global promotion"),
        (3, False, "global", "2 more good for library contribution"),
        (4, True, "global", "1 more good for library contribution"),
        (5, False, "global", "generality assessment for library contribution"),
        (5, True, "library", "ready for library contribution"),
    ],
)
def test_promotion_readiness(good: int, generality: bool, level: str, next_step: str) -> None:
    pr = rules.promotion_readiness([G] * good + [A, P], T, generality_assessed=generality)
    assert pr.level == level
    assert pr.next_step == next_step
    assert pr.global_ready is (good >= 3)


def test_promotion_thresholds_from_config() -> None:
    t = RoutingThresholds(promotion_global_good=1, promotion_library_good=2)
    assert rules.promotion_readiness([G], t).global_ready
    assert rules.promotion_readiness([G, G], t, generality_assessed=True).library_ready


@pytest.mark.parametrize(
    ("evals", "flag", "mode"),
    [
        ([(P, "incomplete")] * 2, False, FailureMode.INCOMPLETE),  # only 2 poor
        ([(P, "incomplete")] * 3, True, FailureMode.INCOMPLETE),
        ([(P, "incomplete"), (P, "Incomplete"), (P, "hallucination")], True, FailureMode.INCOMPLETE),
        ([(P, "incomplete"), (P, "wrong-format"), (P, "hallucination")], False, None),  # spread
        ([(P, "incomplete")] * 2 + [(P, "off-topic")] * 2, False, None),  # tie
        ([(P, "wrong format")] * 3 + [(G, None)] * 10, True, FailureMode.WRONG_FORMAT),
        ([(P, None)] * 4, False, None),  # no failure mode recorded
    ],
)
def test_lora_candidate(evals, flag: bool, mode) -> None:
    out = rules.lora_candidate(evals, T)
    assert out.flag is flag
    assert out.dominant_failure_mode == mode


# --------------------------------------------------------------------------- DAG test / triage


def test_dag_category() -> None:
    all_true = {"dag": True, "script": True, "fanout": True, "synthesis": True}
    assert rules.dag_category(all_true) is Delegability.ENSEMBLE
    assert rules.dag_category({**all_true, "fanout": False}) is Delegability.CLAUDE
    assert rules.dag_category({**all_true, "synthesis": None}) is None
    assert rules.dag_category(None) is None
    assert rules.dag_category(DagTestResult(dag="yes", script="true", fanout="✓", synthesis="pass")) is (
        Delegability.ENSEMBLE
    )
    assert rules.dag_failed_conditions({**all_true, "dag": False}) == ["DAG-decomposable"]
    assert rules.dag_uncertain_conditions({**all_true, "script": None}) == ["script-absorbable"]


def _cfg(*auths: tuple[str, str]) -> RoutingConfig:
    return RoutingConfig(
        standing_authorizations=[StandingAuthorization(task_type=t, ensemble=e) for t, e in auths]
    )


def test_triage_claude_only_categories() -> None:
    d = rules.triage("holistic-judgment", config=_cfg())
    assert (d.handler, d.reason, d.step) == ("claude", "competence-boundary", 2)
    assert d.message == "This requires holistic judgment — handling via Claude."
    assert not d.needs_confirmation
    d = rules.triage(
        "naming", config=_cfg(), category="claude-only", claude_only_criterion="aesthetic judgment"
    )
    assert d.message == "This requires aesthetic judgment — handling via Claude."


def test_triage_dag_test_for_ensemble_delegable() -> None:
    fail = {"dag": True, "script": True, "fanout": False, "synthesis": True}
    d = rules.triage("cross-file-analysis", config=_cfg(), dag_test=fail, available_ensembles=["x"])
    assert d.handler == "claude" and d.reason == "competence-boundary"
    assert d.category is Delegability.CLAUDE
    assert "fan-out-parallelizable" in d.message
    unsure = {"dag": True, "script": None, "fanout": True, "synthesis": True}
    d = rules.triage("cross-file-analysis", config=_cfg(), dag_test=unsure)
    assert d.reason == "uncertain" and d.needs_confirmation
    assert d.uncertain_conditions == ["script-absorbable"]
    ok = {"dag": True, "script": True, "fanout": True, "synthesis": True}
    d = rules.triage("cross-file-analysis", config=_cfg(), dag_test=ok, available_ensembles=["cross-deps"])
    assert (d.handler, d.reason, d.category) == ("cross-deps", "user-confirmed", Delegability.ENSEMBLE)


def test_triage_standing_auth_then_profile_then_available_then_design() -> None:
    profiles = TaskProfiles(
        profiles={
            "extraction": TaskProfile(ensemble="extract-endpoints", good_count=4, acceptable_count=1),
            "classification": TaskProfile(phase="design", interim_claude_count=2),
        }
    )
    cfg = _cfg(("extraction", "extract-endpoints"))
    d = rules.triage("extraction", config=cfg, profiles=profiles)
    assert (d.handler, d.reason, d.standing_auth, d.needs_confirmation) == (
        "extract-endpoints",
        "standing-auth",
        True,
        False,
    )
    rd = d.routing_decision("Extract endpoints from server.py")
    assert rd.standing_auth is True and rd.reason == "standing-auth" and rd.routed_to == "extract-endpoints"
    d = rules.triage("extraction", config=_cfg(), profiles=profiles)
    assert (d.handler, d.reason, d.step) == ("extract-endpoints", "task-profile", 4)
    assert d.message == "Route to ensemble 'extract-endpoints' (4/5 good evaluations)?"
    d = rules.triage("summarization", config=_cfg(), available_ensembles=["write-changelog"])
    assert (d.handler, d.reason, d.step) == ("write-changelog", "user-confirmed", 5)
    assert d.message == "Ensemble 'write-changelog' is available for summarization tasks. Route to it?"
    d = rules.triage("classification", config=_cfg(), profiles=profiles)
    assert (d.handler, d.reason, d.phase, d.interim) == ("claude", "no-ensemble", Phase.DESIGN, True)
    assert d.interim_claude_count == 3 and d.request_design
    d = rules.triage("template-fill", config=_cfg())
    assert d.interim_claude_count == 1


def test_triage_standing_auth_needs_runnable_ensemble_and_fallback_wins() -> None:
    cfg = _cfg(("extraction", "extract-endpoints"))
    d = rules.triage("extraction", config=cfg, available_ensembles=["other-extractor"])
    assert d.reason == "user-confirmed" and d.handler == "other-extractor"
    d = rules.triage("extraction", config=cfg, fallen_back=True)
    assert (d.handler, d.reason) == ("claude", "calibration-fallback")


def test_triage_design_rejected_profile_is_claude_only() -> None:
    profiles = {
        "evidence-gathering": TaskProfile(design_rejected=True, rejection_reason="needs backtracking")
    }
    d = rules.triage("evidence-gathering", config=_cfg(), profiles=profiles, available_ensembles=["x"])
    assert d.handler == "claude" and d.reason == "competence-boundary"
    assert "needs backtracking" in d.message


# --------------------------------------------------------------------------- repetition / complexity


@pytest.mark.parametrize(("uses", "above"), [(1, False), (2, False), (3, True), (30, True)])
def test_repetition_threshold(uses: int, above: bool) -> None:
    r = rules.repetition_assessment(uses, T, tokens_per_use=500)
    assert r.above is above
    if above:
        assert r.message == f"This pattern recurs — an ensemble would save ~{uses * 500:,} tokens across uses"
    else:
        assert r.message.startswith("This pattern may not recur")


def test_repetition_cross_session_and_config() -> None:
    assert rules.repetition_assessment(1, T, prior_uses=3).above
    assert not rules.repetition_assessment(1, T, prior_uses=2).above
    assert not rules.repetition_assessment(3, RoutingThresholds(repetition_threshold=4)).above
    assert rules.adaptive_design_trigger(3, 4, T)
    assert not rules.adaptive_design_trigger(2, 4, T)
    assert not rules.adaptive_design_trigger(3, 0, T)


@pytest.mark.parametrize(
    ("subtasks", "delegable", "plan"),
    [(4, 4, False), (5, 2, False), (5, 3, True), (33, 21, True), (6, 3, True)],
)
def test_complexity_floor(subtasks: int, delegable: int, plan: bool) -> None:
    assert rules.complexity_floor(subtasks, delegable, T).plan is plan


# --------------------------------------------------------------------------- token savings


def test_default_ratio_and_savings() -> None:
    s = rules.token_savings(1200, T)
    assert (s.total_tokens_local, s.estimated_claude_tokens, s.tokens_saved) == (1200, 1000, 1000)
    assert s.line() == "Local: 1,200 tokens | Estimated Claude equivalent: ~1,000 tokens"
    assert rules.estimate_claude_tokens(600, 1.5) == 400
    assert rules.estimate_claude_tokens(100, RoutingThresholds(local_to_claude_token_ratio=2.0)) == 50


def test_ratio_refined_only_with_enough_samples_on_both_sides() -> None:
    assert rules.refine_ratio(3000, 2, 2000, 5, T).source == "default"
    r = rules.refine_ratio(4500, 3, 3000, 3, T)  # 1500 local vs 1000 Claude per task
    assert r.source == "refined" and r.ratio == pytest.approx(1.5)
    decisions = [
        RoutingDecision(task_type="extraction", routed_to="extract-x", total_tokens_local=1500),
        RoutingDecision(task_type="extraction", routed_to="extract-x", total_tokens_local=1500),
        RoutingDecision(task_type="extraction", routed_to="extract-x", total_tokens_local=1500),
        RoutingDecision(task_type="extraction", routed_to="claude", claude_tokens=900),
        RoutingDecision(task_type="extraction", routed_to="claude", claude_tokens=1100),
        RoutingDecision(task_type="extraction", routed_to="Claude", claude_tokens=1000),
        RoutingDecision(task_type="summarization", routed_to="claude", claude_tokens=1000),
        RoutingDecision(event="config-change", reason="x"),
    ]
    ratios = rules.ratios_by_task_type(decisions, T)
    assert ratios["extraction"].ratio == pytest.approx(1.5)
    assert ratios["summarization"].source == "default" and ratios["summarization"].ratio == 1.2


def test_preparation_savings_and_should_prepare() -> None:
    p = rules.preparation_savings(4000, 800, 3000)
    assert p.preparation_savings == 2200
    assert p.reduction_pct == pytest.approx(73.33, abs=0.01)
    assert rules.should_prepare(500, ensemble_exists=True, expected_uses=1, thresholds=T)
    assert not rules.should_prepare(499, ensemble_exists=True, expected_uses=9, thresholds=T)
    assert not rules.should_prepare(800, ensemble_exists=False, expected_uses=2, thresholds=T)
    assert rules.should_prepare(800, ensemble_exists=False, expected_uses=3, thresholds=T)
    assert not rules.should_prepare(800, ensemble_exists=True, expected_uses=3, thresholds=T, separable=False)


def test_interim_claude_detection() -> None:
    assert rules.is_interim_claude(
        RoutingDecision(routed_to="claude", delegability_category="agent delegable", reason="no-ensemble")
    )
    assert not rules.is_interim_claude(
        RoutingDecision(routed_to="claude", delegability_category="claude-only")
    )
    assert not rules.is_interim_claude(
        RoutingDecision(routed_to="x", delegability_category="agent-delegable")
    )
    assert not rules.is_interim_claude(
        RoutingDecision(routed_to="claude", delegability_category="ensemble", preparation_tokens_local=10)
    )


def test_score_counts_summary() -> None:
    c = rules.count_scores([G, G, A, P, None, "weird", "Good"])
    assert (c.good, c.acceptable, c.poor, c.evaluated) == (3, 1, 1, 5)
    assert c.summary() == "3/5 good"
