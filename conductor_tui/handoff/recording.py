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

from conductor_tui.core.records import (
    Delegability,
    Evaluation,
    RoutingDecision,
    Score,
    TaskProfile,
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
    """Log a subtask Claude handled through the conductor loop
    (:meth:`~conductor_tui.core.loop.Conductor.record_claude_task`); returns (decision as
    written, the task type's profile as rewritten, or None for Claude-only work)."""
    from conductor_tui.core.loop import Conductor

    store = store or ProjectStore(project)
    return Conductor(project, store=store).record_claude_task(
        task_type,
        tokens,
        delegable=delegable,
        category=category,
        summary=summary,
        session=session,
        plan_id=plan_id,
        row_id=row_id,
        criterion=criterion,
    )


def _phase_for(store: ProjectStore, ensemble: str, routing_id: str | None = None) -> tuple[int, Any]:
    """(invocation number, phase) an evaluation of ``ensemble`` is recorded under: the run's
    ordinal among the ensemble's completed runs and the ensemble's live phase."""
    from conductor_tui.core.history import build_history

    hist = build_history(store)
    run = hist.run(routing_id) if routing_id else None
    number = run.invocation if run is not None and run.invocation else hist.unlinked_number(ensemble)
    return number, hist.eval_phase(ensemble).value


def record_evaluation(
    project: str | os.PathLike[str],
    ensemble: str,
    score: Score | str,
    *,
    store: ProjectStore | None = None,
    **fields: Any,
) -> Evaluation:
    """Append one evaluation through the conductor loop and return it as written (the
    lifecycle change it causes is applied: :meth:`~conductor_tui.core.loop.Conductor.record_evaluation`)."""
    return evaluate(project, ensemble, score, store=store, **fields).evaluation


def evaluate(
    project: str | os.PathLike[str],
    ensemble: str,
    score: Score | str,
    *,
    store: ProjectStore | None = None,
    **fields: Any,
) -> Any:
    """:func:`record_evaluation` returning the whole :class:`~conductor_tui.core.loop.EvaluationOutcome`."""
    from conductor_tui.core.loop import Conductor

    store = store or ProjectStore(project)
    return Conductor(project, store=store).record_evaluation(ensemble, score, **fields)


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
    number, phase = _phase_for(store, ensemble, fields.get("routing_id"))
    fields.setdefault("invocation_number", number)
    fields.setdefault("phase", phase)
    evaluation = evaluation_from_verdict(verdict, ensemble=ensemble, **fields)
    advice = judge_advice_only(store, ensemble)
    if advice:  # the judge is not trusted for this ensemble: its verdict is advice, not a score
        evaluation.score = None
        evaluation.advisory = advice  # type: ignore[attr-defined]  # an extra field (Record keeps unknown fields), not declared in records.py
    return store.append_evaluation(evaluation)


def judge_advice_only(store: ProjectStore, ensemble: str) -> str | None:
    """Why the judge's verdicts for ``ensemble`` are recorded as advice only (no score, the
    person decides), or ``None`` while the judge is trusted (:mod:`conductor_tui.core.agreement`)."""
    from conductor_tui.core.agreement import agreement_report, untrusted_reason

    try:
        thresholds = store.load_config().routing_thresholds
        evaluations = list(store.read_evaluations(0).records)
    except Exception:
        return None
    report = agreement_report(evaluations, thresholds)
    low = report.untrusted.get(ensemble)
    return untrusted_reason(ensemble, low, report.min_rate) if low is not None else None


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
