"""What the session (or the cockpit) records: Claude-handled subtasks, evaluations, the
judge's verdicts and Claude's planning cost (no Textual).

* :func:`record_claude_task` — one routing decision ``routed_to="claude"`` with the
  actual ``claude_tokens``; for delegable task types it is interim work (technical debt,
  ``reason="no-ensemble"``) and the task profile's ``interim_claude_count`` goes up.
* :func:`record_evaluation` — one ``evaluations.jsonl`` line with the invocation number
  and lifecycle phase worked out from the ensemble's earlier evaluations.
* :func:`evaluation_from_verdict` — the judge's verdict as an evaluation awaiting the
  person's agreement (``evaluator="claude"``, ``review="pending"``, ``judge_*`` fields,
  ``judge_tokens`` so savings subtract the judge's cost).
* :func:`judge_run` — judge + record in one blocking call (for the cockpit's worker).
* :func:`record_claude_overhead` — Claude tokens spent on planning or judging, as a
  routing-log event (``event="claude-overhead"``) that savings figures subtract.
"""

from __future__ import annotations

import os
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import (
    Delegability,
    Evaluation,
    RoutingDecision,
    Score,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.store import ProjectStore

CLAUDE_OVERHEAD_EVENT = "claude-overhead"


def record_claude_task(
    project: str | os.PathLike[str],
    task_type: str,
    tokens: int,
    *,
    delegable: bool | None = None,
    category: Delegability | str | None = None,
    summary: str | None = None,
    session: str | None = None,
    plan_id: str | None = None,
    row_id: str | None = None,
    criterion: str | None = None,
    store: ProjectStore | None = None,
) -> tuple[RoutingDecision, TaskProfile | None]:
    """Log a subtask Claude handled; returns (decision as written, updated profile or None)."""
    if tokens < 0:
        raise ValueError("tokens must be ≥ 0")
    store = store or ProjectStore(project)
    cat = rules.as_delegability(category) if category is not None else None
    if cat is None:
        if delegable is True:
            cat = rules.default_category(task_type)
            if cat not in (Delegability.AGENT, Delegability.ENSEMBLE):
                cat = Delegability.AGENT
        elif delegable is False:
            cat = Delegability.CLAUDE
        else:
            cat = rules.default_category(task_type) or Delegability.CLAUDE
    is_delegable = cat in (Delegability.AGENT, Delegability.ENSEMBLE)
    decision = RoutingDecision(
        task_type=task_type,
        delegability_category=cat,
        task_summary=summary,
        routed_to="claude",
        reason="no-ensemble" if is_delegable else "competence-boundary",
        claude_tokens=tokens,
        session=session,
        plan_id=plan_id,
        row_id=row_id,
    )
    if criterion:
        decision.claude_only_criterion = criterion
    if is_delegable:
        decision.interim = True
    written = store.append_routing(decision)
    profile = None
    if is_delegable:
        bumped: list[TaskProfile] = []

        def bump(profiles: TaskProfiles) -> TaskProfiles:
            # runs under the task profiles' lock: no other writer's update is lost
            key = task_type
            prof = profiles.profiles.get(key) or profiles.profiles.get(rules.task_type_key(key))
            if prof is None:
                prof = TaskProfile(phase="design", ensemble=None, delegability_category=cat)
                profiles.profiles[rules.task_type_key(key)] = prof
            prof.interim_claude_count = (prof.interim_claude_count or 0) + 1
            if prof.phase is None:
                prof.phase = "design"
            bumped.append(prof)
            return profiles

        store.update_task_profiles(bump)
        profile = bumped[-1]
    return written, profile


def _phase_for(store: ProjectStore, ensemble: str) -> tuple[int, Any]:
    """(invocation number of the next evaluation, its phase) for ``ensemble``."""
    earlier = [e for e in store.read_evaluations().records if e.ensemble == ensemble]
    number = len(earlier) + 1
    try:
        thresholds = store.load_config().routing_thresholds
        phase = rules.lifecycle_phase([e.score for e in earlier], thresholds)
    except Exception:
        phase = None
    value = getattr(phase, "value", phase)
    if value not in ("calibrate", "establish", "trust"):
        value = "trust" if value == "promote" else "calibrate" if value in (None, "design") else value
    return number, value


def record_evaluation(
    project: str | os.PathLike[str],
    ensemble: str,
    score: Score | str,
    *,
    reasoning: str | None = None,
    failure_mode: str | None = None,
    routing_id: str | None = None,
    input_summary: str | None = None,
    output_length: int | None = None,
    task_type: str | None = None,
    evaluator: str = "claude",
    phase: str | None = None,
    user_feedback: str | None = None,
    judge_tokens: int | None = None,
    session: str | None = None,
    store: ProjectStore | None = None,
) -> Evaluation:
    """Append one evaluation (seed 001, Evaluation Record) and return it as written."""
    store = store or ProjectStore(project)
    sc = rules.as_score(score)
    if sc is None:
        raise ValueError(f"score must be good, acceptable or poor (got {score!r})")
    fm = rules.as_failure_mode(failure_mode) if failure_mode else None
    if sc is not Score.POOR:
        fm = None
    number, auto_phase = _phase_for(store, ensemble)
    evaluation = Evaluation(
        ensemble=ensemble,
        routing_id=routing_id,
        invocation_number=number,
        phase=phase or ("triggered" if user_feedback else auto_phase),
        score=sc,
        reasoning=reasoning,
        failure_mode=fm,
        input_summary=input_summary,
        output_length=output_length,
        task_type=task_type,
        evaluator=evaluator,
        user_feedback=user_feedback,
        judge_tokens=judge_tokens,
        session=session,
    )
    return store.append_evaluation(evaluation)


def evaluation_from_verdict(
    verdict: Any,
    *,
    ensemble: str,
    routing_id: str | None = None,
    input_summary: str | None = None,
    output_length: int | None = None,
    task_type: str | None = None,
    invocation_number: int | None = None,
    phase: str | None = None,
    session: str | None = None,
) -> Evaluation:
    """The judge's :class:`~conductor_tui.providers.anthropic.JudgeVerdict` as an
    evaluation awaiting the person's agreement or override (``review="pending"``)."""
    usage = getattr(verdict, "usage", None)
    tokens = getattr(usage, "total", None)
    evaluation = Evaluation(
        ensemble=ensemble,
        routing_id=routing_id,
        invocation_number=invocation_number,
        phase=phase,
        score=verdict.score,
        reasoning=verdict.reflection,
        failure_mode=verdict.failure_mode,
        input_summary=input_summary,
        output_length=output_length,
        task_type=task_type,
        evaluator="claude",
        judge_score=verdict.score,
        judge_reasoning=verdict.reflection,
        judge_tokens=tokens,
        session=session,
    )
    evaluation.review = "pending"
    evaluation.judge_model = getattr(verdict, "model", None)
    return evaluation


def record_judge_verdict(
    project: str | os.PathLike[str],
    verdict: Any,
    *,
    ensemble: str,
    store: ProjectStore | None = None,
    **fields: Any,
) -> Evaluation:
    """Append the judge's verdict as an evaluation (invocation number and phase filled in)."""
    store = store or ProjectStore(project)
    number, phase = _phase_for(store, ensemble)
    fields.setdefault("invocation_number", number)
    fields.setdefault("phase", phase)
    return store.append_evaluation(evaluation_from_verdict(verdict, ensemble=ensemble, **fields))


def judge_run(
    project: str | os.PathLike[str],
    provider: Any,
    *,
    ensemble: str,
    task: str,
    input_summary: str,
    output: str,
    on_reflection_delta: Any = None,
    routing_id: str | None = None,
    task_type: str | None = None,
    session: str | None = None,
    store: ProjectStore | None = None,
) -> Evaluation:
    """Have Claude judge one run (reflection streamed to ``on_reflection_delta`` before the
    score) and record the verdict as an evaluation awaiting the person's review.

    Blocking (call from a thread worker).  A :class:`~conductor_tui.providers.anthropic.ClaudeError`
    propagates with the partial reflection on it; nothing is recorded then."""
    verdict = provider.judge(task, input_summary, output, on_reflection_delta, ensemble=ensemble)
    return record_judge_verdict(
        project,
        verdict,
        ensemble=ensemble,
        store=store,
        routing_id=routing_id,
        input_summary=input_summary,
        output_length=len(output),
        task_type=task_type,
        session=session,
    )


def record_claude_overhead(
    project: str | os.PathLike[str],
    purpose: str,
    usage: Any,
    *,
    session: str | None = None,
    plan_id: str | None = None,
    store: ProjectStore | None = None,
) -> RoutingDecision:
    """Claude tokens spent on planning / judging (not a routing decision; savings subtract it)."""
    store = store or ProjectStore(project)
    tokens = int(getattr(usage, "total", usage) or 0)
    event = RoutingDecision(
        event=CLAUDE_OVERHEAD_EVENT,
        task_type=purpose,
        routed_to="claude",
        claude_tokens=tokens,
        session=session,
        plan_id=plan_id,
    )
    event.purpose = purpose
    if hasattr(usage, "to_dict"):
        event.usage = usage.to_dict()
    return store.append_routing(event)
