"""The conductor's rules as pure functions (the terms are in docs/GLOSSARY.md).

Every number comes from :class:`~conductor_tui.core.records.RoutingThresholds` (the
routing config), never from a constant here:

================================  =================================  ==========
rule                              threshold field                    spec value
================================  =================================  ==========
calibration window                ``calibration_period``             5
established sampling rate         ``sampling_rate_established``      0.15
trust: uses (strictly more)       ``trusted_threshold_uses``         20
trust: acceptable-or-good ratio   ``trusted_threshold_good_ratio``   0.8 (>)
repetition threshold              ``repetition_threshold``           3
calibration fail (poor count)     ``calibration_fail_poor``          2
global promotion (good count)     ``promotion_global_good``          3
library promotion (good count)    ``promotion_library_good``         5
LoRA candidate (poor count)       ``lora_poor_threshold``            3
LoRA dominant failure-mode share  ``lora_dominant_share``            0.66
complexity floor                  ``complexity_min_subtasks`` /      5 / 3
                                  ``complexity_min_delegable``
local → Claude token ratio        ``local_to_claude_token_ratio``    1.2
ratio refinement samples          ``ratio_min_samples``              3
prepared-Claude minimum           ``preparation_min_tokens``         500
================================  =================================  ==========

Scores, phases and categories may be given as enum members or as the strings found
in files ("Good", "calibration" …); they are normalised here. No I/O, no Textual.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from conductor_tui.core.records import (
    DagTestResult,
    Delegability,
    FailureMode,
    Phase,
    RoutingConfig,
    RoutingDecision,
    RoutingThresholds,
    Score,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.vocab import (
    as_delegability,
    as_failure_mode,
    as_phase,
    as_score,
)

# --------------------------------------------------------------------------- score counts


@dataclass(frozen=True)
class ScoreCounts:
    """Evaluations by score. ``evaluated`` counts only scored evaluations."""

    good: int = 0
    acceptable: int = 0
    poor: int = 0

    @property
    def evaluated(self) -> int:
        return self.good + self.acceptable + self.poor

    @property
    def acceptable_or_good(self) -> int:
        return self.good + self.acceptable

    def ratio_acceptable_or_good(self) -> float:
        """Share of acceptable-or-good among evaluated (0.0 when nothing is evaluated)."""
        return self.acceptable_or_good / self.evaluated if self.evaluated else 0.0

    def summary(self) -> str:
        """``"6/8 good"`` — the routing log's ``evaluation_summary`` form."""
        return f"{self.good}/{self.evaluated} good"


def count_scores(scores: Iterable[Any]) -> ScoreCounts:
    """Count good / acceptable / poor; unscored or unknown values are ignored."""
    c = Counter(as_score(s) for s in scores)
    return ScoreCounts(c[Score.GOOD], c[Score.ACCEPTABLE], c[Score.POOR])


# --------------------------------------------------------------------------- calibration


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


# --------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class PromotionReadiness:
    """The promotion gates: ``promotion_global_good``+ good → global; ``promotion_library_good``+
    good plus a generality assessment → library. ``next_step`` says what is still needed
    ("1 more good for global promotion")."""

    good: int
    global_ready: bool
    library_ready: bool
    next_step: str

    @property
    def level(self) -> str:
        """``"library"``, ``"global"`` or ``"none"``."""
        return "library" if self.library_ready else "global" if self.global_ready else "none"


def promotion_readiness(
    scores: Iterable[Any] | ScoreCounts,
    thresholds: RoutingThresholds,
    *,
    generality_assessed: bool = False,
    phase: Phase | None = None,
) -> PromotionReadiness:
    """Promotion readiness from an ensemble's evaluation scores (or their counts). With
    ``phase`` the lifecycle gate applies too: only a trusted ensemble (Trust / Promote) is
    a promotion candidate — never one still calibrating or back in Design."""
    counts = scores if isinstance(scores, ScoreCounts) else count_scores(scores)
    good = counts.good
    g, lib = thresholds.promotion_global_good, thresholds.promotion_library_good
    gated = phase is not None and phase not in (Phase.TRUST, Phase.PROMOTE)
    global_ready = good >= g and not gated
    library_good = good >= lib
    library_ready = library_good and generality_assessed and not gated
    if gated and good >= g:
        label = "a failed calibration must be revised" if phase is Phase.DESIGN else "reach Trust"
        next_step = f"{label} before promotion ({good} good)"
    elif not global_ready:
        next_step = f"{_n(g - good, 'more good')} for global promotion"
    elif not library_good:
        next_step = f"{_n(lib - good, 'more good')} for library contribution"
    elif not generality_assessed:
        next_step = "generality assessment for library contribution"
    else:
        next_step = "ready for library contribution"
    return PromotionReadiness(good, global_ready, library_ready, next_step)


def _n(n: int, what: str) -> str:
    return f"{n} {what}"


# --------------------------------------------------------------------------- LoRA


@dataclass(frozen=True)
class LoraCandidate:
    """3+ poor evaluations with one dominant failure mode → LoRA fine-tuning candidate."""

    flag: bool
    poor: int
    dominant_failure_mode: FailureMode | str | None
    dominant_count: int


def lora_candidate(evaluations: Iterable[tuple[Any, Any]], thresholds: RoutingThresholds) -> LoraCandidate:
    """From ``(score, failure_mode)`` pairs. The dominant mode is the most common failure
    mode among the poor evaluations, provided it covers at least ``lora_dominant_share``
    (0.66: 2 of 3, 4 of 6) of them and is not tied — a spread means no single consistent
    mode. Flagged when poor ≥ ``lora_poor_threshold`` and a dominant mode exists."""
    modes: list[Any] = []
    for score, mode in evaluations:
        if as_score(score) is Score.POOR:
            modes.append(as_failure_mode(mode))
    poor = len(modes)
    known = Counter(m for m in modes if m is not None)
    top = known.most_common(2)
    dominant, count = top[0] if top else (None, 0)
    tie = len(top) > 1 and top[1][1] == count
    if dominant is not None and (tie or count < thresholds.lora_dominant_share * poor):
        dominant, count = None, 0
    flag = poor >= thresholds.lora_poor_threshold and dominant is not None
    return LoraCandidate(flag, poor, dominant, count)


# --------------------------------------------------------------------------- lifecycle


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
        nxt = f"{_n(rem, 'more evaluated use' if rem == 1 else 'more evaluated uses')} to finish calibration"
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
    """Whether to evaluate this invocation (Invariants 4, 5; When to Evaluate):

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


# --------------------------------------------------------------------------- delegability

AGENT_DELEGABLE_TYPES: frozenset[str] = frozenset(
    {
        "extraction",
        "classification",
        "summarization",
        "template-fill",
        "mechanical-transform",
        "boilerplate-generation",
    }
)
ENSEMBLE_DELEGABLE_TYPES: frozenset[str] = frozenset(
    {
        "cross-file-analysis",
        "evidence-gathering",
        "factual-knowledge-retrieval",
        "tool-based-scanning",
        "decomposable-multi-step-reasoning",
    }
)
CLAUDE_ONLY_CRITERIA: dict[str, str] = {
    "recursive-reconsideration": "recursive reconsideration",
    "interacting-constraints": "interacting constraints",
    "holistic-judgment": "holistic judgment",
    "novel-insight": "novel insight",
    "aesthetic-judgment": "aesthetic judgment",
}
DAG_CONDITIONS: tuple[str, ...] = ("dag", "script", "fanout", "synthesis")
DAG_CONDITION_NAMES: dict[str, str] = {
    "dag": "DAG-decomposable",
    "script": "script-absorbable",
    "fanout": "fan-out-parallelizable",
    "synthesis": "structured-synthesizable",
}


def task_type_key(task_type: str | None) -> str:
    """``"Cross file analysis"`` → ``cross-file-analysis``."""
    return re.sub(r"[\s_]+", "-", (task_type or "").strip().lower())


def default_category(task_type: str | None) -> Delegability | None:
    """The delegability taxonomy: known agent-delegable types, ensemble-delegable candidates
    (which still need the DAG test) and Claude-only criteria; ``None`` when unknown."""
    key = task_type_key(task_type)
    if key in AGENT_DELEGABLE_TYPES:
        return Delegability.AGENT
    if key in ENSEMBLE_DELEGABLE_TYPES:
        return Delegability.ENSEMBLE
    if key in CLAUDE_ONLY_CRITERIA:
        return Delegability.CLAUDE
    return None


def _dag(result: DagTestResult | Mapping[str, Any] | None) -> DagTestResult | None:
    if result is None or isinstance(result, DagTestResult):
        return result
    return DagTestResult.model_validate(dict(result))


def dag_failed_conditions(result: DagTestResult | Mapping[str, Any] | None) -> list[str]:
    """Names of the conditions that explicitly failed (``False``)."""
    r = _dag(result)
    if r is None:
        return []
    return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS if getattr(r, c) is False]


def dag_uncertain_conditions(result: DagTestResult | Mapping[str, Any] | None) -> list[str]:
    """Names of the conditions not yet decided (``None``)."""
    r = _dag(result)
    if r is None:
        return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS]
    return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS if getattr(r, c) is None]


def dag_category(result: DagTestResult | Mapping[str, Any] | None) -> Delegability | None:
    """The DAG test's four conditions: all four hold → ensemble-delegable; any fails →
    Claude-only; otherwise (a condition undecided) → ``None``: uncertain, ask the user."""
    r = _dag(result)
    if r is None:
        return None
    if r.passed():
        return Delegability.ENSEMBLE
    if dag_failed_conditions(r):
        return Delegability.CLAUDE
    return None


# --------------------------------------------------------------------------- triage


@dataclass(frozen=True)
class TriageDecision:
    """The outcome of the triage decision tree for one (sub)task.

    ``handler``: an ensemble name or ``"claude"``. ``reason`` uses the routing log's
    vocabulary (``standing-auth``, ``task-profile``, ``user-confirmed``,
    ``competence-boundary``, ``no-ensemble``) plus ``calibration-fallback`` (in-session
    fallback) and ``uncertain`` (DAG test undecided — the user chooses). ``step`` is the
    tree step that matched (1-6). ``needs_confirmation``: ask the user before acting.
    ``interim``: Claude handles delegable work as a stop-gap (Design phase),
    and ``interim_claude_count`` is the task profile's new count to store.
    """

    task_type: str
    category: Delegability | None
    handler: str
    reason: str
    step: int
    message: str
    needs_confirmation: bool = True
    standing_auth: bool = False
    phase: Phase | None = None
    interim: bool = False
    interim_claude_count: int = 0
    request_design: bool = False
    dag_test: DagTestResult | None = None
    uncertain_conditions: list[str] = field(default_factory=list)

    @property
    def is_local(self) -> bool:
        return self.handler != "claude"

    def routing_decision(self, task_summary: str = "", **extra: Any) -> RoutingDecision:
        """A :class:`RoutingDecision` pre-filled from this decision (tokens added later)."""
        return RoutingDecision(
            task_type=self.task_type,
            delegability_category=self.category,
            dag_test_result=self.dag_test,
            task_summary=task_summary,
            routed_to=self.handler,
            reason=self.reason,
            standing_auth=self.standing_auth,
            ensemble=self.handler if self.is_local else None,
            **extra,
        )


def triage(
    task_type: str,
    *,
    config: RoutingConfig,
    profiles: TaskProfiles | Mapping[str, TaskProfile] | None = None,
    available_ensembles: Sequence[str] = (),
    category: Delegability | str | None = None,
    dag_test: DagTestResult | Mapping[str, Any] | None = None,
    claude_only_criterion: str | None = None,
    fallen_back: bool = False,
) -> TriageDecision:
    """The triage decision tree, first match wins:

    1. classify (``category`` if given, else the delegability taxonomy; a task profile with
       ``design_rejected`` is Claude-only); ensemble-delegable candidates take the DAG test
       (``dag_test``); any failed condition → Claude-only; undecided → ``uncertain``
       (surface to the user — never silently Claude);
    2. Claude-only → ``claude`` / ``competence-boundary``: "This requires {criterion} —
       handling via Claude.";
    3. a standing authorization for the task type (with a runnable ensemble when
       ``available_ensembles`` is given) → that ensemble, ``standing-auth``, no question;
       (an in-session calibration fallback, ``fallen_back``, sends it to Claude first);
    4. a task profile mapping the type to an ensemble → ``task-profile``, confirm with the
       evidence ("Route to ensemble 'x' (4/5 good evaluations)?");
    5. an available matching ensemble → ``user-confirmed`` once the person agrees;
    6. none → Design phase: ``claude`` / ``no-ensemble``, interim, request the designer,
       ``interim_claude_count`` + 1.
    """
    table = profiles.profiles if isinstance(profiles, TaskProfiles) else dict(profiles or {})
    profile = table.get(task_type) or table.get(task_type_key(task_type))
    dag = _dag(dag_test)

    cat = as_delegability(category) if category is not None else None
    if cat is None and profile is not None:
        cat = as_delegability(profile.delegability_category)
    if cat is None:
        cat = default_category(task_type)
    if profile is not None and profile.design_rejected:
        cat = Delegability.CLAUDE
        claude_only_criterion = claude_only_criterion or profile.rejection_reason or "designer rejection"

    uncertain: list[str] = []
    if cat is Delegability.ENSEMBLE or (cat is None and dag is not None):
        verdict = dag_category(dag)
        if verdict is Delegability.CLAUDE:
            cat = Delegability.CLAUDE
            claude_only_criterion = claude_only_criterion or (
                "failing the DAG test (" + ", ".join(dag_failed_conditions(dag)) + ")"
            )
        elif verdict is Delegability.ENSEMBLE:
            cat = Delegability.ENSEMBLE
        elif dag is not None or cat is None:
            uncertain = dag_uncertain_conditions(dag)
    if cat is None and not uncertain:
        uncertain = dag_uncertain_conditions(dag)

    if uncertain:
        return TriageDecision(
            task_type,
            cat,
            "claude",
            "uncertain",
            2,
            "Delegability is uncertain (" + ", ".join(uncertain) + " undecided) — "
            "your call: ensemble-delegable or Claude-only?",
            needs_confirmation=True,
            dag_test=dag,
            uncertain_conditions=uncertain,
        )

    if cat is Delegability.CLAUDE:
        criterion = claude_only_criterion or CLAUDE_ONLY_CRITERIA.get(task_type_key(task_type), "judgment")
        return TriageDecision(
            task_type,
            cat,
            "claude",
            "competence-boundary",
            2,
            f"This requires {criterion} — handling via Claude.",
            needs_confirmation=False,
            dag_test=dag,
        )

    available = list(available_ensembles)
    if fallen_back:
        name = (profile.ensemble if profile else None) or (available[0] if available else "")
        return TriageDecision(
            task_type,
            cat,
            "claude",
            "calibration-fallback",
            3,
            f"Ensemble '{name}' scored poor during calibration — falling back to Claude.",
            needs_confirmation=False,
            phase=Phase.CALIBRATE,
            dag_test=dag,
        )

    for auth in config.standing_authorizations:
        if auth.task_type in (task_type, task_type_key(task_type)) and (
            not available or auth.ensemble in available
        ):
            return TriageDecision(
                task_type,
                cat,
                auth.ensemble,
                "standing-auth",
                3,
                f"Standing authorization: routing {task_type} to '{auth.ensemble}'.",
                needs_confirmation=False,
                standing_auth=True,
                dag_test=dag,
            )

    if profile is not None and profile.ensemble and (not available or profile.ensemble in available):
        total = profile.good_count + profile.acceptable_count + profile.poor_count
        return TriageDecision(
            task_type,
            cat,
            profile.ensemble,
            "task-profile",
            4,
            f"Route to ensemble '{profile.ensemble}' ({profile.good_count}/{total} good evaluations)?",
            phase=as_phase(profile.phase),
            dag_test=dag,
        )

    if available:
        name = available[0]
        return TriageDecision(
            task_type,
            cat,
            name,
            "user-confirmed",
            5,
            f"Ensemble '{name}' is available for {task_type} tasks. Route to it?",
            phase=Phase.CALIBRATE,
            dag_test=dag,
        )

    count = (profile.interim_claude_count if profile else 0) + 1
    return TriageDecision(
        task_type,
        cat,
        "claude",
        "no-ensemble",
        6,
        f"Task type '{task_type}' is delegable but has no ensemble. Lifecycle phase: Design. "
        "Requesting from the Ensemble Designer. [Claude handles this invocation as interim.]",
        needs_confirmation=True,
        phase=Phase.DESIGN,
        interim=True,
        interim_claude_count=count,
        request_design=True,
        dag_test=dag,
    )


# --------------------------------------------------------------------------- repetition / floor


@dataclass(frozen=True)
class RepetitionAssessment:
    """Whether a pattern is at/above the repetition threshold."""

    expected_uses: int
    above: bool
    message: str


def repetition_assessment(
    expected_uses: int,
    thresholds: RoutingThresholds,
    *,
    prior_uses: int = 0,
    tokens_per_use: int | None = None,
) -> RepetitionAssessment:
    """Predictive mode: ``expected_uses`` ≥ ``repetition_threshold`` is "above". Cross-session
    frequency counts too: when prior sessions (task profile ``invocation_count``) reached the
    threshold, even one expected use justifies a request. The message is the plan's
    cost-benefit line; the user decides either way."""
    t = thresholds.repetition_threshold
    above = expected_uses >= t or (expected_uses >= 1 and prior_uses >= t)
    if above:
        saving = f"~{expected_uses * tokens_per_use:,} tokens" if tokens_per_use else "tokens"
        msg = f"This pattern recurs — an ensemble would save {saving} across uses"
    else:
        msg = "This pattern may not recur — ensemble builds reusable infrastructure but has upfront cost"
    return RepetitionAssessment(expected_uses, above, msg)


def adaptive_design_trigger(claude_count: int, remaining: int, thresholds: RoutingThresholds) -> bool:
    """Adaptive mode: Claude has done the same subtask type ``repetition_threshold``+ times
    this session and more repetitions remain → propose a Design transition."""
    return claude_count >= thresholds.repetition_threshold and remaining > 0


@dataclass(frozen=True)
class PlanningDecision:
    plan: bool
    reason: str


def complexity_floor(subtasks: int, delegable: int, thresholds: RoutingThresholds) -> PlanningDecision:
    """A meta-task is worth a workflow plan only with ≥ ``complexity_min_subtasks``
    subtasks AND ≥ ``complexity_min_delegable`` delegable ones; below → handle directly."""
    ms, md = thresholds.complexity_min_subtasks, thresholds.complexity_min_delegable
    if subtasks < ms:
        return PlanningDecision(False, f"only {subtasks} subtasks (< {ms}) — decomposition not worthwhile")
    if delegable < md:
        return PlanningDecision(False, f"only {delegable} delegable subtasks (< {md}) — not worth planning")
    return PlanningDecision(True, f"{subtasks} subtasks, {delegable} delegable — plan the workflow")


# --------------------------------------------------------------------------- token savings


@dataclass(frozen=True)
class TokenRatio:
    """Local tokens per Claude token for a task type. ``source`` is ``"default"`` (the
    config's ``local_to_claude_token_ratio``) or ``"refined"`` (from the logs)."""

    ratio: float
    source: str
    local_samples: int = 0
    claude_samples: int = 0


def default_ratio(thresholds: RoutingThresholds) -> TokenRatio:
    return TokenRatio(thresholds.local_to_claude_token_ratio, "default")


def refine_ratio(
    local_tokens_sum: int,
    local_samples: int,
    claude_tokens_sum: int,
    claude_samples: int,
    thresholds: RoutingThresholds,
) -> TokenRatio:
    """Refine the local/Claude token ratio for one task type (Token Savings Quantification).

    When the logs hold at least ``ratio_min_samples`` local decisions with
    ``total_tokens_local`` AND as many Claude-handled decisions with ``claude_tokens`` for
    the same task type, the ratio is the mean local tokens per local decision divided by
    the mean Claude tokens per Claude decision. Otherwise (or if a mean is 0) the
    default ratio applies."""
    n = thresholds.ratio_min_samples
    if local_samples >= n and claude_samples >= n and local_tokens_sum > 0 and claude_tokens_sum > 0:
        ratio = (local_tokens_sum / local_samples) / (claude_tokens_sum / claude_samples)
        return TokenRatio(ratio, "refined", local_samples, claude_samples)
    return TokenRatio(thresholds.local_to_claude_token_ratio, "default", local_samples, claude_samples)


def ratios_by_task_type(
    decisions: Iterable[RoutingDecision], thresholds: RoutingThresholds
) -> dict[str, TokenRatio]:
    """:func:`refine_ratio` for every task type in ``decisions``."""
    acc: dict[str, list[int]] = {}
    for d in decisions:
        if not d.is_decision or not d.task_type:
            continue
        a = acc.setdefault(d.task_type, [0, 0, 0, 0])
        if d.is_local and d.total_tokens_local is not None:
            a[0] += d.total_tokens_local
            a[1] += 1
        elif not d.is_local and d.claude_tokens is not None and not d.is_prepared_claude:
            a[2] += d.claude_tokens
            a[3] += 1
    return {k: refine_ratio(a[0], a[1], a[2], a[3], thresholds) for k, a in acc.items()}


def estimate_claude_tokens(local_tokens: int, ratio: TokenRatio | float | RoutingThresholds) -> int:
    """``estimated_claude_tokens = total_tokens_local / ratio`` (rounded)."""
    if isinstance(ratio, RoutingThresholds):
        r = ratio.local_to_claude_token_ratio
    elif isinstance(ratio, TokenRatio):
        r = ratio.ratio
    else:
        r = float(ratio)
    return round(local_tokens / r) if r > 0 else 0


class TokenSavingsFields(TypedDict):
    """:meth:`TokenSavings.fields`: keyword arguments of a routing-log record."""

    total_tokens_local: int
    estimated_claude_tokens: int
    tokens_saved: int


class PreparationSavingsFields(TypedDict):
    """:meth:`PreparationSavings.fields`: keyword arguments of a routing-log record."""

    preparation_tokens_local: int
    judgment_tokens_claude: int
    estimated_full_claude_tokens: int
    preparation_savings: int


@dataclass(frozen=True)
class TokenSavings:
    """The token-savings fields of a local routing decision."""

    total_tokens_local: int
    estimated_claude_tokens: int
    tokens_saved: int

    def line(self) -> str:
        return (
            f"Local: {self.total_tokens_local:,} tokens | "
            f"Estimated Claude equivalent: ~{self.estimated_claude_tokens:,} tokens"
        )

    def fields(self) -> TokenSavingsFields:
        return {
            "total_tokens_local": self.total_tokens_local,
            "estimated_claude_tokens": self.estimated_claude_tokens,
            "tokens_saved": self.tokens_saved,
        }


def token_savings(local_tokens: int, ratio: TokenRatio | float | RoutingThresholds) -> TokenSavings:
    """Savings of a local invocation: the estimated Claude tokens NOT consumed."""
    est = estimate_claude_tokens(local_tokens, ratio)
    return TokenSavings(local_tokens, est, est)


@dataclass(frozen=True)
class PreparationSavings:
    """Ensemble-prepared Claude accounting."""

    preparation_tokens_local: int
    judgment_tokens_claude: int
    estimated_full_claude_tokens: int
    preparation_savings: int
    reduction_pct: float

    def fields(self) -> PreparationSavingsFields:
        return {
            "preparation_tokens_local": self.preparation_tokens_local,
            "judgment_tokens_claude": self.judgment_tokens_claude,
            "estimated_full_claude_tokens": self.estimated_full_claude_tokens,
            "preparation_savings": self.preparation_savings,
        }


def preparation_savings(
    preparation_tokens_local: int, judgment_tokens_claude: int, estimated_full_claude_tokens: int
) -> PreparationSavings:
    """``preparation_savings`` = estimated full Claude tokens − judgment tokens (the delta);
    ``reduction_pct`` = that delta as a share of the full estimate."""
    delta = estimated_full_claude_tokens - judgment_tokens_claude
    pct = 100.0 * delta / estimated_full_claude_tokens if estimated_full_claude_tokens > 0 else 0.0
    return PreparationSavings(
        preparation_tokens_local, judgment_tokens_claude, estimated_full_claude_tokens, delta, pct
    )


def should_prepare(
    estimated_preparation_tokens: int,
    *,
    ensemble_exists: bool,
    expected_uses: int,
    thresholds: RoutingThresholds,
    separable: bool = True,
) -> bool:
    """Use ensemble-prepared Claude only when there is a separable preparation
    phase of at least ``preparation_min_tokens``, and either a matching ensemble exists or
    the preparation pattern reaches the repetition threshold."""
    if not separable or estimated_preparation_tokens < thresholds.preparation_min_tokens:
        return False
    return ensemble_exists or expected_uses >= thresholds.repetition_threshold


def is_interim_claude(decision: RoutingDecision) -> bool:
    """Delegable work that Claude did (technical debt): a routing decision to Claude whose
    category is agent- or ensemble-delegable (not ensemble-prepared Claude)."""
    if not decision.is_decision or decision.is_local or decision.is_prepared_claude:
        return False
    return as_delegability(decision.delegability_category) in (Delegability.AGENT, Delegability.ENSEMBLE)


# --------------------------------------------------------------------------- model-size ceiling


def parameter_billions(parameter_size: Any = None, model: str | None = None) -> tuple[float | None, str]:
    """(billions of parameters, source) from Ollama's ``parameter_size`` (``"14.8B"``,
    ``"999.89M"``) — else from the model's size tag (``qwen3:14b``) — else ``(None, "unknown")``."""
    import re

    text = str(parameter_size or "").strip().upper()
    m = re.fullmatch(r"([\d.]+)\s*([KMBT]?)", text)
    if m:
        try:
            value = float(m.group(1))
        except ValueError:
            value = None
        if value is not None:
            scale = {"K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3, "": 1e-9}[m.group(2)]
            return value * scale, "ollama"
    if model:
        tag = re.search(r"[:\-_](\d+(?:\.\d+)?)([bm])\b", model.lower())
        if tag:
            value = float(tag.group(1)) * (1.0 if tag.group(2) == "b" else 1e-3)
            return value, "name"
    return None, "unknown"


@dataclass(frozen=True)
class ModelSize:
    """One LLM agent's model against the model-size ceiling. ``nominal`` is the size class (14.8B is a
    14B model, 7.6B a 7B one): ``level`` is ``ok`` (≤ small_model_max_b), ``large`` (above it:
    reserved for synthesis across 4+ upstream outputs), ``over-ceiling`` (above
    model_ceiling_b: refused for delegation) or ``unknown``."""

    agent: str
    model: str
    billions: float | None
    source: str
    level: str

    @property
    def nominal(self) -> int | None:
        import math

        return math.floor(self.billions + 0.05) if self.billions is not None else None

    def label(self) -> str:
        size = f"{self.billions:.1f}B" if self.billions is not None else "size unknown"
        return f"{self.agent}: {self.model} ({size})"


def model_size(agent: str, model: str, parameter_size: Any, thresholds: RoutingThresholds) -> ModelSize:
    billions, source = parameter_billions(parameter_size, model)
    level = "unknown"
    if billions is not None:
        import math

        nominal = math.floor(billions + 0.05)
        level = (
            "over-ceiling"
            if nominal > thresholds.model_ceiling_b
            else "large"
            if nominal > thresholds.small_model_max_b
            else "ok"
        )
    return ModelSize(agent, model, billions, source, level)


@dataclass(frozen=True)
class EnsembleSize:
    """The model-size ceiling for one ensemble: its agents' model sizes and the user's override
    (a top-level ``conductor: {allow_large_models: true}`` in the ensemble file)."""

    ensemble: str
    models: tuple[ModelSize, ...]
    allow_large: bool = False

    @property
    def large(self) -> list[ModelSize]:
        return [m for m in self.models if m.level == "large"]

    @property
    def over_ceiling(self) -> list[ModelSize]:
        return [m for m in self.models if m.level == "over-ceiling"]

    @property
    def refused(self) -> bool:
        return bool(self.over_ceiling) and not self.allow_large

    @property
    def level(self) -> str:
        if self.over_ceiling:
            return "over-ceiling"
        return "large" if self.large else "ok"

    def message(self, thresholds: RoutingThresholds | None = None) -> str:
        t = thresholds or RoutingThresholds()
        if self.over_ceiling:
            names = ", ".join(m.label() for m in self.over_ceiling)
            if self.allow_large:
                return f"Above the {t.model_ceiling_b:g}B ceiling (allowed by the ensemble's override): {names}"
            return (
                f"Ensemble '{self.ensemble}' uses a model above the {t.model_ceiling_b:g}B ceiling ({names}): "
                "refused for delegation (Invariant 3) — compose smaller models, or set "
                "`conductor: {allow_large_models: true}` in the ensemble to override."
            )
        if self.large:
            names = ", ".join(m.label() for m in self.large)
            return (
                f"Above {t.small_model_max_b:g}B ({names}): larger models are reserved for synthesis across "
                "4+ upstream outputs — prefer a swarm of ≤7B models (Invariant 3)."
            )
        return ""


# --------------------------------------------------------------------------- threshold ranges

# name → (minimum, maximum, integer?) ; None = unbounded on that side
THRESHOLD_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "calibration_period": (1, None, True),
    "sampling_rate_established": (0.0, 1.0, False),
    "trusted_threshold_uses": (0, None, True),
    "trusted_threshold_good_ratio": (0.0, 1.0, False),
    "repetition_threshold": (1, None, True),
    "calibration_fail_poor": (1, None, True),
    "promotion_global_good": (1, None, True),
    "promotion_library_good": (1, None, True),
    "lora_poor_threshold": (1, None, True),
    "lora_dominant_share": (0.0, 1.0, False),
    "complexity_min_subtasks": (1, None, True),
    "complexity_min_delegable": (0, None, True),
    "local_to_claude_token_ratio": (1e-9, None, False),
    "ratio_min_samples": (1, None, True),
    "preparation_min_tokens": (0, None, True),
    "small_model_max_b": (1e-9, None, False),
    "model_ceiling_b": (1e-9, None, False),
    "demotion_window": (1, None, True),
}


def threshold_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``name`` threshold (None when it is): a number of the
    right kind inside its range — a rate or ratio in [0, 1], a period or count ≥ 1 …"""
    rng = THRESHOLD_RANGES.get(name)
    if rng is None:
        return None
    low, high, integer = rng
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number (got {value!r})"
    if integer and (isinstance(value, float) and not value.is_integer()):
        return f"{name} must be a whole number (got {value!r})"
    if value != value:  # NaN
        return f"{name} must be a number (got NaN)"
    if low is not None and high is not None and not low <= value <= high:
        return f"{name} must be between {low:g} and {high:g} (got {value!r})"
    if low is not None and value < low:
        if low == 1e-9:
            return f"{name} must be greater than 0 (got {value!r})"
        return f"{name} must be ≥ {low:g} (got {value!r})"
    if high is not None and value > high:
        return f"{name} must be between {low:g} and {high:g} (got {value!r})"
    return None


def thresholds_problems(thresholds: RoutingThresholds) -> list[str]:
    """Every range problem of a set of thresholds, plus the ones between them."""
    out = [
        p
        for name in THRESHOLD_RANGES
        if hasattr(thresholds, name) or name in (thresholds.extras or {})
        for p in [threshold_problem(name, getattr(thresholds, name, (thresholds.extras or {}).get(name)))]
        if p
    ]
    if not out:
        if thresholds.promotion_library_good < thresholds.promotion_global_good:
            out.append(
                "promotion_library_good must be ≥ promotion_global_good (the library asks for more evidence)"
            )
        if thresholds.model_ceiling_b < thresholds.small_model_max_b:
            out.append("model_ceiling_b must be ≥ small_model_max_b")
        if thresholds.calibration_fail_poor > thresholds.calibration_period:
            out.append("calibration_fail_poor must be ≤ calibration_period (a window could never fail)")
    return out
