"""``conductor-tui record claude-task | evaluation``: the session logs a subtask Claude handled
(interim Claude debt, ensemble-prepared Claude, adaptive ensemble requests) or an evaluation
(see the glossary: interim Claude / debt, ensemble-prepared Claude, evaluation)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from conductor_tui.commands.session_args import EVAL_PHASES, EVALUATORS
from conductor_tui.commands.verb_io import EXIT_USAGE, Out, project_of, session_of


def record(args: argparse.Namespace, out: Out) -> int:
    """Dispatch one ``record`` action."""
    project = project_of(args)
    session = session_of(args)
    if args.action == "claude-task":
        if args.tokens < 0:
            return out.fail("--tokens must be ≥ 0", EXIT_USAGE)
        return _claude_task(args, out, project, session)
    if args.action == "evaluation":
        return _evaluation(args, out, project, session)
    return out.fail(f"unknown record action {args.action!r}", EXIT_USAGE)


def _claude_task(args: argparse.Namespace, out: Out, project: Path, session: str | None) -> int:
    from conductor_tui.core.loop import Conductor

    conductor = Conductor(project)
    decision, profile = conductor.record_claude_task(
        args.task_type,
        args.tokens,
        delegable=True if args.delegable else None,
        category=args.category,
        summary=args.summary,
        session=session,
        plan_id=args.plan_id,
        row_id=args.row_id,
        criterion=args.criterion,
        remaining=args.remaining,
        expected_output_format=args.output_format,
        prepared_by=args.prepared_by,
        preparation_tokens=args.preparation_tokens,
        estimated_full_tokens=args.estimated_full,
    )
    if args.prepared_by:
        return _prepared(args, out, conductor, decision)
    payload = {
        "routing_id": decision.id,
        "task_type": decision.task_type,
        "delegability_category": getattr(
            decision.delegability_category, "value", decision.delegability_category
        ),
        "claude_tokens": decision.claude_tokens,
        "reason": decision.reason,
        "interim_claude_count": profile.interim_claude_count if profile else None,
        "phase": getattr(profile.phase, "value", profile.phase) if profile else None,
        "ensemble": profile.ensemble if profile else None,
    }
    debt = f"; interim Claude debt for {args.task_type}: {profile.interim_claude_count}" if profile else ""
    text = f"{decision.id}\nRecorded {args.tokens:,} Claude tokens for {args.task_type}{debt}"
    request = conductor.design_request
    payload["ensemble_request"] = request.summary() if request is not None else None
    if request is not None:
        text += (
            f"\n{request.data.get('context', '')}\n"
            f"Ensemble request {request.id} ({request.state}): ask the person, then "
            f"`conductor-tui design approve {request.id}` (or `design decline`)."
        )
    return out.done(payload, text)


def _prepared(args: argparse.Namespace, out: Out, conductor: Any, decision: Any) -> int:
    """Ensemble-prepared Claude: the preparation's local tokens, the judgment's Claude tokens,
    the reduction against the estimate without preparation, and the pattern's calibration."""
    uses = conductor.prepared_uses(args.task_type)
    period = conductor.config().routing_thresholds.calibration_period
    payload = {
        "routing_id": decision.id,
        "task_type": decision.task_type,
        "prepared_by": args.prepared_by,
        "claude_tokens": decision.claude_tokens,
        "preparation_tokens_local": decision.preparation_tokens_local,
        "judgment_tokens_claude": decision.judgment_tokens_claude,
        "estimated_full_claude_tokens": decision.estimated_full_claude_tokens,
        "preparation_savings": decision.preparation_savings,
        "pattern_uses": uses,
        "evaluate_combined": uses <= period,
    }
    full = decision.estimated_full_claude_tokens or 0
    pct = 100 * (decision.preparation_savings or 0) / full if full else 0.0
    text = (
        f"{decision.id}\nPreparation: {args.prepared_by}, local {decision.preparation_tokens_local:,} tokens\n"
        f"Claude: {args.tokens:,} tokens (estimated {full:,} without preparation — {pct:.0f}% reduction)"
    )
    if uses <= period:
        text += f"\nPattern calibration {uses}/{period}: evaluate the brief + judgment as a unit."
    return out.done(payload, text)


def _evaluation(args: argparse.Namespace, out: Out, project: Path, session: str | None) -> int:
    from conductor_tui.engine.row_run import candidates_for
    from conductor_tui.handoff.recording import evaluate

    evaluator = (args.evaluator or "").strip().lower()
    if evaluator not in EVALUATORS:
        return out.fail(
            f"--evaluator must be one of {', '.join(EVALUATORS)} (got {args.evaluator!r})", EXIT_USAGE
        )
    phase = args.phase.strip().lower() if args.phase else None
    if phase is not None and phase not in EVAL_PHASES:
        return out.fail(f"--phase must be one of {', '.join(EVAL_PHASES)} (got {args.phase!r})", EXIT_USAGE)
    outcome = evaluate(
        project,
        args.ensemble,
        args.score,
        reasoning=args.reasoning,
        failure_mode=args.failure_mode,
        routing_id=args.routing_id,
        input_summary=args.input_summary,
        output_length=args.output_length,
        task_type=args.task_type,
        evaluator=evaluator,
        phase=phase,
        user_feedback=args.user_feedback,
        judge_tokens=args.judge_tokens,
        session=session,
        candidates_for=candidates_for(project),
        per_model=args.per_model,
    )
    evaluation = outcome.evaluation
    payload = {
        "evaluation_id": evaluation.id,
        "ensemble": evaluation.ensemble,
        "routing_id": evaluation.routing_id,
        "score": getattr(evaluation.score, "value", evaluation.score),
        "invocation_number": evaluation.invocation_number,
        "phase": getattr(evaluation.phase, "value", evaluation.phase),
        "lifecycle_before": outcome.before.value,
        "lifecycle_after": outcome.after.value,
        "fallback": outcome.fallback,
        "rerouted_rows": [{"plan_id": p, "row_id": r} for p, r in outcome.rerouted],
        "designer_artifacts": [a.summary() for a in outcome.artifacts],
        "messages": outcome.messages,
    }
    if evaluation.per_model:
        payload["per_model"] = evaluation.per_model
    text = (
        f"{evaluation.id}\nRecorded evaluation #{evaluation.invocation_number} of "
        f"{args.ensemble}: {payload['score']} ({payload['phase']})"
    )
    return out.done(payload, "\n".join([text, *outcome.messages]))
