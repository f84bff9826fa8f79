"""Recording runs and evaluations, and the lifecycle transitions they cause.

:meth:`Recording.record_run` appends the routing decision of a finished run with the loop's
fields (reason, ``standing_auth``, ``evaluation_summary``, invocation number, the one
sampling decision); :meth:`Recording.record_evaluation` appends an evaluation with the phase
and invocation number from the ensemble's real history. Both work under the loop's lock
and are followed by the change they cause: phase, in-session fallback (open plans
re-routed), return to Design (a ``lifecycle`` event with the file's digest), the
task profiles rewritten and the designer's artifacts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history import LIFECYCLE_EVENT, History
from conductor_tui.core.loop.designer_feedback import DesignerFeedback
from conductor_tui.core.loop.outcomes import EvaluationOutcome, RunRecord
from conductor_tui.core.loop.routing import Routing
from conductor_tui.core.loop.state import LOOP_LOCK, set_field, stable_fraction, value_of
from conductor_tui.core.records import Evaluation, Phase, RoutingDecision, RunStatus, Score


class Recording(Routing, DesignerFeedback):
    """:meth:`record_run` and :meth:`record_evaluation` (module docstring)."""

    def record_run(self, decision: RoutingDecision, *, hist: History | None = None) -> RunRecord:
        """Append the routing decision of a finished run (built by the engine: tokens,
        status, artifact) with the loop's fields filled in, under the lock:

        * ``invocation_number`` — the run's ordinal among the ensemble's completed runs;
        * ``reason`` / ``standing_auth`` / ``evaluation_summary`` — from :meth:`admit`;
        * ``sampled_for_evaluation`` — the ONE sampling decision (calibration: always;
          established: a stable draw from the run id; trusted: no);
        * a run that did not complete saves nothing and takes no calibration slot.
        """
        with self.store.lock(LOOP_LOCK):
            hist = hist if hist is not None else self.history()
            ens = decision.ensemble or decision.routed_to or ""
            session = decision.session
            adm = self.admit(ens, task_type=decision.task_type, session=session, hist=hist)
            phase = self.phase(ens, hist)
            fields: dict[str, Any] = {
                "standing_auth": adm.standing_auth,
                "evaluation_summary": decision.evaluation_summary or adm.evaluation_summary,
            }
            if not decision.reason:
                fields["reason"] = adm.reason
            completed = (decision.status or RunStatus.COMPLETED) == RunStatus.COMPLETED
            evaluation = None
            if completed:
                fields["invocation_number"] = hist.next_invocation(ens)
                rid = decision.id or ""
                evaluation = rules.needs_evaluation(phase, hist.thresholds, rand=lambda: stable_fraction(rid))
                fields["sampled_for_evaluation"] = evaluation.evaluate
                fields["phase"] = value_of(phase)
            else:
                fields["tokens_saved"] = 0
            for key, value in fields.items():
                set_field(decision, key, value)
            status_before = self.status(ens, hist)
            written = self.store.append_routing(decision)
            hist2 = self.history()
            self.sync_profiles(hist2, [decision.task_type] if decision.task_type else None)
            artifacts: list[Any] = []
            if completed and ens in hist2.ensembles:
                try:
                    artifacts = self._promotion_feedback(
                        ens,
                        status_before,
                        hist2,
                        None,
                        {"routing_id": written.id, "task_type": written.task_type},
                    )
                except OSError:
                    artifacts = []
        return RunRecord(written, evaluation, phase, artifacts)

    def record_evaluation(
        self,
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
        extra: dict[str, Any] | None = None,
        candidates_for: Callable[[str], Sequence[str]] | None = None,
        per_model: dict[str, str] | Sequence[str] | None = None,
    ) -> EvaluationOutcome:
        """Append one evaluation (see the glossary: evaluation) and apply its consequences.

        ``per_model``: for a complementary (multi-model) ensemble, each model's verdict
        (``{model: correct | incorrect}``) — kept on the record as ``per_model``
        for the designer's union accuracy and contradiction penalty."""
        from conductor_tui.core.designer import parse_per_model

        verdicts = parse_per_model(per_model)
        sc, fm = _score_and_mode(score, failure_mode)
        given: dict[str, Any] = {
            "score": sc,
            "reasoning": reasoning,
            "failure_mode": fm,
            "input_summary": input_summary,
            "output_length": output_length,
            "task_type": task_type,
            "evaluator": evaluator,
            "phase": phase,
            "user_feedback": user_feedback,
            "judge_tokens": judge_tokens,
            "session": session,
        }
        with self.store.lock(LOOP_LOCK):
            hist = self.history()
            run = self._evaluated_run(hist, ensemble, routing_id)
            before = self.phase(ensemble, hist)
            status_before = self.status(ensemble, hist)
            eh_before = hist.ensembles.get(ensemble)
            windows_before = eh_before.tracker.windows if eh_before and eh_before.tracker else 0
            fields = self._evaluation_fields(hist, ensemble, run, routing_id, given)
            for key, value in (extra or {}).items():
                if fields.get(key) is None:
                    fields[key] = value
            if verdicts:
                fields["per_model"] = verdicts
            written = self.store.append_evaluation(Evaluation(**fields))
            outcome = self._after_evaluation(
                ensemble, written, before, status_before, windows_before, candidates_for
            )
        return outcome

    def _evaluated_run(self, hist: History, ensemble: str, routing_id: str | None) -> Any:
        """The run an evaluation is about: by routing id, else the ensemble's newest
        unevaluated run; a routing id of another ensemble's run is an error."""
        run = hist.run(routing_id) if routing_id else None
        if run is None and routing_id is None:
            run = self._newest_unevaluated(hist, ensemble)
        if run is not None and run.ensemble != ensemble and routing_id:
            raise ValueError(f"routing id {routing_id!r} is a run of {run.ensemble!r}, not {ensemble!r}")
        return run

    def _evaluation_fields(
        self, hist: History, ensemble: str, run: Any, routing_id: str | None, given: dict[str, Any]
    ) -> dict[str, Any]:
        """The evaluation record's fields: phase and invocation number from the ensemble's
        real history, task type and session from the run when not given."""
        flagged = bool(given["user_feedback"])
        number = run.invocation if run is not None and run.invocation else None
        if number is None:
            number = hist.unlinked_number(ensemble)
        return {
            **given,
            "ensemble": ensemble,
            "routing_id": run.id if run is not None else routing_id,
            "invocation_number": number,
            "phase": given["phase"] or value_of(hist.eval_phase(ensemble, triggered=flagged)),
            "task_type": given["task_type"] or (run.task_type if run is not None else None),
            "session": given["session"] or (run.session if run is not None else None),
        }

    def _after_evaluation(
        self,
        ensemble: str,
        written: Evaluation,
        before: Phase,
        status_before: rules.LifecycleStatus,
        windows_before: int,
        candidates_for: Callable[[str], Sequence[str]] | None,
    ) -> EvaluationOutcome:
        """The consequences of a written evaluation (under the loop's lock): the phase
        change, the Design transition event, re-routed open plans, profiles, designer."""
        after_hist = self.history()
        after = self.phase(ensemble, after_hist)
        outcome = self._consequences(ensemble, written, before, after, status_before, after_hist)
        if outcome.after is Phase.DESIGN and before is not Phase.DESIGN:
            self._log_transition(ensemble, written, before, after, status_before)
        if outcome.fallback or outcome.after is Phase.DESIGN:
            outcome.rerouted = self.reroute_open_plans(after_hist, candidates_for)
        types = {t for t in (written.task_type, *after_hist.ensembles[ensemble].task_types) if t}
        self.sync_profiles(after_hist, sorted(types))
        try:
            self._designer_feedback(ensemble, written, windows_before, status_before, after_hist, outcome)
        except OSError as exc:  # the evaluation is recorded; the artifact is a side product
            outcome.messages.append(f"Could not write the designer artifact: {exc}")
        return outcome

    def _newest_unevaluated(self, hist: History, ensemble: str) -> Any:
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return None
        for n in range(eh.completed, 0, -1):
            run = hist.run_at(ensemble, n)
            if run is not None and run.id not in hist.evaluation_of:
                return run
        return None

    def _consequences(
        self,
        ensemble: str,
        ev: Evaluation,
        before: Phase,
        after: Phase,
        status_before: rules.LifecycleStatus,
        hist: History,
    ) -> EvaluationOutcome:
        status = self.status(ensemble, hist)
        msgs: list[str] = []
        if before is not after:
            eh = hist.ensembles[ensemble]
            why = eh.tracker.transitions[-1].reason if eh.tracker and eh.tracker.transitions else ""
            msgs.append(
                f"'{ensemble}': {before.value.title()} → {after.value.title()}" + (f" — {why}" if why else "")
            )
        else:
            msgs.append(f"'{ensemble}' stays in {after.value.title()} — next: {status.next_step}")
        fallback = before is Phase.CALIBRATE and rules.calibration_fallback(after, [ev.score]).fallback
        if fallback:
            tt = ev.task_type
            msgs.append(
                f"Ensemble '{ensemble}' scored poor during calibration — falling back to Claude for the "
                "rest of this session" + (f" ({tt} subtasks)." if tt else ".")
            )
        if status.promotion.global_ready and not status_before.promotion.global_ready:
            msgs.append(f"'{ensemble}' is now ready for global promotion ({status.promotion.good} good).")
        return EvaluationOutcome(ev, before, after, msgs, fallback)

    def _log_transition(
        self, ensemble: str, ev: Evaluation, before: Phase, after: Phase, status: rules.LifecycleStatus
    ) -> None:
        event = RoutingDecision(
            event=LIFECYCLE_EVENT,
            ensemble=ensemble,
            task_type=ev.task_type,
            reason=f"failed calibration — returning to Design for revision (evaluation {ev.id})",
            from_phase=before.value,
            to=after.value,
            ensemble_digest=self.digest(ensemble),
        )
        self.store.append_routing(event)


def _score_and_mode(score: Score | str, failure_mode: str | None) -> tuple[Score, Any]:
    """The evaluation's score (an unknown one is an error) and its failure mode (poor only)."""
    sc = rules.as_score(score)
    if sc is None:
        raise ValueError(f"score must be good, acceptable or poor (got {score!r})")
    fm = rules.as_failure_mode(failure_mode) if failure_mode else None
    return sc, fm if sc is Score.POOR else None
