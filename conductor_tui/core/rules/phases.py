"""The lifecycle phases: calibration windows, in-session fallback, an ensemble's phase status
and whether to evaluate a run (sampling)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.records import (
    Phase,
    RoutingThresholds,
    Score,
)
from conductor_tui.core.rules.gates import PromotionReadiness, lora_candidate, promotion_readiness
from conductor_tui.core.rules.scores import ScoreCounts, _n, count_scores
from conductor_tui.core.vocab import (
    as_phase,
    as_score,
)


@dataclass(frozen=True)
class CalibrationOutcome:
    """Outcome of one calibration window (see the glossary: calibration window).

    ``kind``: ``"pass"`` (0 poor: advance to Establish), ``"mixed"`` (1 poor: stay in
    Calibrate, another window next session), ``"fail"`` (``calibration_fail_poor``+ poor:
    back to Design for revision), or ``"in-progress"`` (fewer than ``calibration_period``
    evaluated). ``remaining``: evaluated uses still needed to finish the window.
    ``fallback``: a "poor" was seen, so this session falls back to Claude (in-session fallback).
    """

    kind: str
    evaluated: int
    poor: int
    remaining: int
    fallback: bool

    @property
    def message(self) -> str:
        if self.kind == "in-progress":
            return f"{self.evaluated}/{self.evaluated + self.remaining} evaluated"
        if self.kind == "pass":
            return "calibration passed (0 poor) — quality confirmed"
        if self.kind == "mixed":
            return f"calibration mixed ({self.poor} poor) — another calibration window next session"
        return f"failed calibration ({self.poor} poor) — returning to Design for revision"


def calibration_outcome(window_scores: Sequence[Any], thresholds: RoutingThresholds) -> CalibrationOutcome:
    """The outcome of a calibration window from its scores in order.

    Only the first ``calibration_period`` scored evaluations are considered. With fewer,
    the outcome is ``"in-progress"`` (``fallback`` tells whether a poor has already
    triggered the in-session Claude fallback).

    >>> t = RoutingThresholds()
    >>> calibration_outcome(["good"] * 4 + ["acceptable"], t).kind
    'pass'
    """
    period = thresholds.calibration_period
    scored = [s for s in (as_score(x) for x in window_scores) if s is not None][:period]
    poor = sum(1 for s in scored if s is Score.POOR)
    if poor >= thresholds.calibration_fail_poor:
        return CalibrationOutcome("fail", len(scored), poor, 0, True)
    if len(scored) < period:
        return CalibrationOutcome("in-progress", len(scored), poor, period - len(scored), poor > 0)
    if poor == 0:
        kind = "pass"
    elif poor >= thresholds.calibration_fail_poor:
        kind = "fail"
    else:
        kind = "mixed"
    return CalibrationOutcome(kind, len(scored), poor, 0, poor > 0)


@dataclass(frozen=True)
class FallbackDecision:
    """Whether this session falls back to Claude for the task type (in-session fallback)."""

    fallback: bool
    message: str = ""


def calibration_fallback(
    phase: Phase | str | None, session_scores: Sequence[Any], *, ensemble: str = "", task_type: str = ""
) -> FallbackDecision:
    """In-session fallback: while an ensemble is in Calibrate, any "poor" score this session
    sends the remaining subtasks of its type to Claude for the rest of the session.
    Outside Calibrate a poor score does not trigger the fallback (it feeds sampling)."""
    if as_phase(phase) is not Phase.CALIBRATE:
        return FallbackDecision(False)
    if any(as_score(s) is Score.POOR for s in session_scores):
        rest = f" for remaining {task_type} subtasks" if task_type else ""
        return FallbackDecision(
            True, f"Ensemble '{ensemble}' scored poor during calibration — falling back to Claude{rest}."
        )
    return FallbackDecision(False)


@dataclass(frozen=True)
class LifecycleStatus:
    """Where an ensemble (or task type) stands in Design → Calibrate → Establish → Trust →
    Promote, with the evidence and what is needed next."""

    phase: Phase
    invocations: int
    counts: ScoreCounts
    calibration: CalibrationOutcome | None
    promotion: PromotionReadiness
    next_step: str
    calibration_windows: int = 0  # completed windows (a mixed one earns a second)

    @property
    def evaluated(self) -> int:
        return self.counts.evaluated


def lifecycle_status(
    scores: Sequence[Any],
    thresholds: RoutingThresholds,
    *,
    invocations: int | None = None,
    has_ensemble: bool = True,
    generality_assessed: bool = False,
) -> LifecycleStatus:
    """The lifecycle phase of an ensemble from its effective evaluation scores in log
    order and its invocation count (completed local runs; defaults to the number of
    evaluations). The transitions are :class:`conductor_tui.core.lifecycle.LifecycleTracker`'s;
    no ensemble → **Design**."""
    from conductor_tui.core.lifecycle import walk

    counts = count_scores(scores)
    uses = max(invocations or 0, counts.evaluated)
    if not has_ensemble:
        promo = promotion_readiness(
            counts, thresholds, generality_assessed=generality_assessed, phase=Phase.DESIGN
        )
        return LifecycleStatus(
            Phase.DESIGN, uses, counts, None, promo, "ensemble requested from the designer"
        )
    return status_from_tracker(walk(scores, thresholds), uses, generality_assessed=generality_assessed)


def walk_evidence(
    scores: Sequence[Any], modes: Sequence[Any], thresholds: RoutingThresholds
) -> tuple[Any, int, Any]:
    """An ensemble's whole evaluation history, walked once: ``(lifecycle tracker fed with
    the scores, evaluated scores, LoRA candidacy from the scores and failure modes)``.
    ``lifecycle_status(scores, t, invocations=uses)`` is ``status_from_tracker(tracker,
    max(uses, evaluated))``, so callers that keep this can skip the walk while the
    history is unchanged."""
    from conductor_tui.core.lifecycle import walk

    # normalised once for the three readers (a member is its own normal form)
    known = [s if s.__class__ is Score else as_score(s) for s in scores]
    return (
        walk(known, thresholds),
        len(known) - known.count(None),
        lora_candidate(zip(known, modes, strict=False), thresholds),
    )


def status_from_tracker(tracker: Any, uses: int, *, generality_assessed: bool = False) -> LifecycleStatus:
    """:class:`LifecycleStatus` of a fed :class:`~conductor_tui.core.lifecycle.LifecycleTracker`."""
    t = tracker.t
    counts = ScoreCounts(tracker.good, tracker.acceptable, tracker.poor)
    uses = max(uses, counts.evaluated)
    phase = tracker.phase(uses)
    promo = promotion_readiness(counts, t, generality_assessed=generality_assessed, phase=phase)
    period = t.calibration_period
    if phase is Phase.CALIBRATE:
        window_poor = sum(1 for s in tracker.window if s is Score.POOR)
        outcome = CalibrationOutcome(
            "in-progress", len(tracker.window), window_poor, tracker.remaining(), tracker.cal_poor > 0
        )
        rem = outcome.remaining
        nxt = f"{_n(rem, 'more evaluation' if rem == 1 else 'more evaluations')} to finish Calibrate"
        if tracker.mixed:
            nxt += " (second window after a mixed result)"
        return LifecycleStatus(phase, uses, counts, outcome, promo, nxt, tracker.windows)
    if phase is Phase.DESIGN:
        outcome = CalibrationOutcome("fail", period, t.calibration_fail_poor, 0, True)
        return LifecycleStatus(
            phase, uses, counts, outcome, promo, "revision requested from the designer", tracker.windows
        )
    outcome = CalibrationOutcome("pass", period, 0, 0, False)
    if phase is Phase.ESTABLISH:
        trusted_uses = t.trusted_threshold_uses
        if uses <= trusted_uses:
            more = trusted_uses + 1 - uses
            nxt = f"{_n(more, 'more uses' if more != 1 else 'more use')} for Trust"
        else:
            ratio = counts.ratio_acceptable_or_good()
            recent = list(tracker.recent)
            recent_ratio = sum(recent) / len(recent) if recent else 1.0
            shown = min(ratio, recent_ratio)
            nxt = f"acceptable-or-good {shown:.0%} must exceed {t.trusted_threshold_good_ratio:.0%} for Trust"
        return LifecycleStatus(phase, uses, counts, outcome, promo, nxt, tracker.windows)
    return LifecycleStatus(phase, uses, counts, outcome, promo, promo.next_step, tracker.windows)


def lifecycle_phase(
    scores: Sequence[Any],
    thresholds: RoutingThresholds,
    *,
    invocations: int | None = None,
    has_ensemble: bool = True,
) -> Phase:
    """Just the phase of :func:`lifecycle_status`."""
    return lifecycle_status(scores, thresholds, invocations=invocations, has_ensemble=has_ensemble).phase


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class EvaluationDecision:
    evaluate: bool
    reason: str


def needs_evaluation(
    phase: Phase | str | None,
    thresholds: RoutingThresholds,
    *,
    triggered: bool = False,
    rand: Callable[[], float] = random.random,
) -> EvaluationDecision:
    """Whether to evaluate this invocation (the sampling decision, docs/GLOSSARY.md):

    * the user says the output is unsatisfactory (``triggered``) → always;
    * Calibrate → always (first ``calibration_period`` invocations);
    * Establish → when ``rand() < sampling_rate_established`` (inject ``rand`` in tests);
    * Trust / Promote → skip routine evaluation;
    * Design (Claude interim, no ensemble) → nothing to evaluate.
    """
    if triggered:
        return EvaluationDecision(True, "triggered by the user")
    p = as_phase(phase)
    if p is Phase.CALIBRATE:
        return EvaluationDecision(True, "calibration: every invocation is evaluated")
    if p is Phase.ESTABLISH:
        rate = thresholds.sampling_rate_established
        hit = rand() < rate
        return EvaluationDecision(
            hit, f"established: sampled at {rate:.0%}" + ("" if hit else " (not drawn)")
        )
    if p in (Phase.TRUST, Phase.PROMOTE):
        return EvaluationDecision(False, "trusted: routine evaluation skipped")
    return EvaluationDecision(False, "no ensemble to evaluate")
