"""The lifecycle state machine: every transition, with the spec's numbers."""

from __future__ import annotations

from collections import deque

from conductor_tui.core import rules
from conductor_tui.core.lifecycle import LifecycleTracker, walk
from conductor_tui.core.records import Phase, RoutingThresholds, Score

T = RoutingThresholds()
G, A, P = Score.GOOD, Score.ACCEPTABLE, Score.POOR


def feed(scores, *, uses=None, session=None):
    tr = LifecycleTracker(T)
    changes = []
    for i, s in enumerate(scores):
        c = tr.add(s, session=session, uses=(uses or 0) + i + 1 if uses is not None else None)
        if c is not None:
            changes.append((c.before, c.after))
    return tr, changes


def test_five_good_or_acceptable_pass_calibration():
    tr, changes = feed([G, A, G, G, G])
    assert tr.phase(5) is Phase.ESTABLISH
    assert changes == [(Phase.CALIBRATE, Phase.ESTABLISH)]


def test_second_poor_in_calibration_returns_to_design_at_once():
    tr, changes = feed([G, P, G, P])
    assert tr.phase(4) is Phase.DESIGN and tr.failed
    assert changes == [(Phase.CALIBRATE, Phase.DESIGN)]
    assert "failed calibration (2 poor)" in tr.transitions[-1].reason


def test_one_poor_triggers_fallback_only_for_its_session():
    tr, _ = feed([G, P], session="s-1")
    assert tr.phase(2) is Phase.CALIBRATE
    assert tr.fallback_for("s-1")
    assert not tr.fallback_for("s-2")


def test_mixed_window_then_a_clean_one_passes():
    tr, _ = feed([G, G, P, G, G] + [G] * 5)
    assert tr.phase(10) is Phase.ESTABLISH
    assert tr.windows == 2


def test_establish_demotes_to_calibrate_when_two_of_the_last_five_are_poor():
    tr, changes = feed([G] * 5 + [G, P, G, P])
    assert tr.phase(9) is Phase.CALIBRATE
    assert changes[-1] == (Phase.ESTABLISH, Phase.CALIBRATE)
    # a clean window re-establishes it
    for s in [G] * 5:
        tr.add(s)
    assert tr.phase(14) is Phase.ESTABLISH


def test_trust_and_promote_then_demotion_to_establish_when_the_recent_share_falls():
    tr = walk([G] * 5 + [A] * 16, T)
    assert tr.phase(21) is Phase.PROMOTE  # > 20 uses, 100 %, 5 good
    for s in [P, A, A, A, A, P]:  # never 2 poor in 5, but 2 poor in the last 10 → 80 %
        tr.add(s)
    assert tr.phase(27) is Phase.ESTABLISH
    st = rules.status_from_tracker(tr, 27)
    assert "must exceed 80%" in st.next_step
    assert not st.promotion.global_ready  # promotion needs Trust


def test_revised_ensemble_recalibrates_after_design():
    tr = walk([P, P], T)
    assert tr.phase(2) is Phase.DESIGN
    tr.add(G)
    assert tr.phase(3) is Phase.CALIBRATE and tr.remaining() == 4


def test_promotion_is_gated_by_the_phase():
    st = rules.lifecycle_status(["good", "good", "poor", "good"], T)
    assert st.phase is Phase.CALIBRATE
    assert st.promotion.good == 3 and not st.promotion.global_ready
    assert "reach Trust" in st.promotion.next_step


def test_walk_is_add_score_by_score() -> None:
    """``walk`` carries each score's phase over to the next instead of computing it again:
    the tracker it gives is the one ``add`` builds, slot by slot, transitions included."""
    import random

    from conductor_tui.core.vocab import as_score

    rng = random.Random(3)
    spellings = ["good", "acceptable", "poor", "Good", None, "weird", Score.GOOD, Score.POOR]
    changes = 0
    for thresholds in (
        RoutingThresholds(),
        RoutingThresholds(trusted_threshold_uses=3, calibration_period=3),
    ):
        for _ in range(200):
            scores = rng.choices(spellings, weights=[6, 3, 2, 1, 1, 1, 2, 1], k=rng.randint(0, 60))
            walked = walk(scores, thresholds)
            added = LifecycleTracker(thresholds)
            for s in scores:
                added.add(s if isinstance(s, Score) else as_score(s))
            for slot in LifecycleTracker.__slots__:
                assert getattr(walked, slot) == getattr(added, slot), slot
            changes += len(walked.transitions)
    assert changes > 200  # the walks went through the phases


def _state(tr: LifecycleTracker) -> dict:
    return {slot: getattr(tr, slot) for slot in LifecycleTracker.__slots__}


def test_a_copy_goes_on_like_the_original_and_changes_nothing_of_it():
    import random

    rng = random.Random(3)
    for _ in range(50):
        scores = [rng.choice([G, G, A, P]) for _ in range(rng.randint(0, 40))]
        more = [rng.choice([G, A, P, P]) for _ in range(rng.randint(1, 15))]
        tr, _ = feed(scores, session="s1")
        before = {k: (v.copy() if isinstance(v, list | set | deque) else v) for k, v in _state(tr).items()}
        copy = tr.copy()
        for s in more:
            copy.add(s, session="s2")
        assert _state(tr) == before  # the original is untouched
        whole, _ = feed(scores, session="s1")
        for s in more:
            whole.add(s, session="s2")
        assert _state(copy) == _state(whole)
