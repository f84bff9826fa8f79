"""The triage decision tree, the repetition threshold and the complexity floor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core.records import (
    DagTestResult,
    Delegability,
    Phase,
    RoutingConfig,
    RoutingDecision,
    RoutingThresholds,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.rules.delegability import (
    CLAUDE_ONLY_CRITERIA,
    _dag,
    dag_category,
    dag_failed_conditions,
    dag_uncertain_conditions,
    default_category,
    task_type_key,
)
from conductor_tui.core.vocab import (
    as_delegability,
    as_phase,
)


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
    cat, criterion, uncertain = _classify(task_type, profile, dag, category, claude_only_criterion)

    claude = _route_claude(task_type, cat, criterion, uncertain, dag)
    if claude is not None:
        return claude
    available = list(available_ensembles)
    known = _route_known(task_type, cat, profile, dag, config, available, fallen_back)
    if known is not None:
        return known
    return _route_new(task_type, cat, profile, dag, available)


def _classify(
    task_type: str,
    profile: TaskProfile | None,
    dag: DagTestResult | None,
    category: Delegability | str | None,
    criterion: str | None,
) -> tuple[Delegability | None, str | None, list[str]]:
    """Step 1: (category, Claude-only criterion, undecided DAG conditions)."""
    cat = as_delegability(category) if category is not None else None
    if cat is None and profile is not None:
        cat = as_delegability(profile.delegability_category)
    if cat is None:
        cat = default_category(task_type)
    if profile is not None and profile.design_rejected:
        cat = Delegability.CLAUDE
        criterion = criterion or profile.rejection_reason or "designer rejection"

    uncertain: list[str] = []
    if cat is Delegability.ENSEMBLE or (cat is None and dag is not None):
        verdict = dag_category(dag)
        if verdict is Delegability.CLAUDE:
            cat = Delegability.CLAUDE
            criterion = criterion or ("failing the DAG test (" + ", ".join(dag_failed_conditions(dag)) + ")")
        elif verdict is Delegability.ENSEMBLE:
            cat = Delegability.ENSEMBLE
        elif dag is not None or cat is None:
            uncertain = dag_uncertain_conditions(dag)
    if cat is None and not uncertain:
        uncertain = dag_uncertain_conditions(dag)
    return cat, criterion, uncertain


def _route_claude(
    task_type: str,
    cat: Delegability | None,
    criterion: str | None,
    uncertain: list[str],
    dag: DagTestResult | None,
) -> TriageDecision | None:
    """Step 2: an undecided DAG test goes to the person; Claude-only goes to Claude."""
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
        criterion = criterion or CLAUDE_ONLY_CRITERIA.get(task_type_key(task_type), "judgment")
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
    return None


def _route_known(
    task_type: str,
    cat: Delegability | None,
    profile: TaskProfile | None,
    dag: DagTestResult | None,
    config: RoutingConfig,
    available: list[str],
    fallen_back: bool,
) -> TriageDecision | None:
    """Steps 3-4: an in-session fallback, a standing authorization or a task profile."""
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
    return None


def _route_new(
    task_type: str,
    cat: Delegability | None,
    profile: TaskProfile | None,
    dag: DagTestResult | None,
    available: list[str],
) -> TriageDecision:
    """Steps 5-6: an available ensemble to confirm, else the Design phase (Claude as interim)."""
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
