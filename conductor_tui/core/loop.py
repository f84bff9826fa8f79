"""The conductor loop: one service for every caller (no Textual, no engine).

The cockpit, every CLI verb and the headless runner are three doors into one room; this
module is the room. :class:`Conductor` owns

* **routing** — :meth:`Conductor.route_plan` / :meth:`Conductor.route_row`: the triage tree
  with the live lifecycle state (an ensemble back in Design after a failed calibration is
  skipped until revised; a poor calibration score sends its task type to Claude for the rest
  of that session; standing authorisations approve their rows by rule);
* **admission** — :meth:`Conductor.admit`: may this ensemble run now for this task type and
  session, with which routing reason, and is it covered by a standing authorisation;
* **recording** — :meth:`Conductor.record_run` (the routing decision with its reason,
  ``evaluation_summary``, ``standing_auth``, invocation number and the ONE sampling decision),
  :meth:`Conductor.record_evaluation` (invocation number and phase from the ensemble's real
  history) and :meth:`Conductor.record_claude_task`;
* **transitions** — every record is followed, under the store's lock, by the lifecycle
  change it causes: phase, in-session fallback (open plans of that session re-routed to
  Claude), return to Design (a ``lifecycle`` event with the ensemble file's digest, so a
  revision is recognised), and ``task-profiles.yaml`` rewritten as the materialised view.

The append-only logs are the source of truth (:mod:`conductor_tui.core.history`).
Running a plan row — input, context strategy, dependency outputs, propose–judge — is the
engine's :mod:`conductor_tui.engine.row_run`, which calls :meth:`admit` before and
:meth:`record_run` after.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import locations, rules
from conductor_tui.core.history import LIFECYCLE_EVENT, History, build_history, session_key
from conductor_tui.core.records import (
    Delegability,
    EvalPhase,
    Evaluation,
    Phase,
    RoutingConfig,
    RoutingDecision,
    RowStatus,
    Score,
    TaskProfile,
    TaskProfiles,
    WorkflowPlan,
)
from conductor_tui.core.store import ProjectStore

CREATE_ENSEMBLE = "create-ensemble"
LOOP_LOCK = "loop"
PLANS_LOCK = "plans"
_OPEN_ROWS = (RowStatus.PENDING, RowStatus.APPROVED)


def stable_fraction(key: str) -> float:
    """A uniform draw in [0, 1) that is the same for the same run id: the one sampling
    decision of a run, made when it is recorded and re-derivable by any reader."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Admission:
    """Whether ``ensemble`` may run now for a task type in a session, and how it is logged."""

    ensemble: str
    allowed: bool
    reason: str  # routing-log vocabulary: standing-auth | task-profile | user-confirmed | calibration-fallback | calibration-failed
    message: str
    phase: Phase
    standing_auth: bool = False
    evaluation_summary: str | None = None


@dataclass
class RunRecord:
    """A recorded run: the routing decision as written and the evaluation decision."""

    decision: RoutingDecision
    evaluation: rules.EvaluationDecision | None
    phase: Phase


@dataclass
class EvaluationOutcome:
    """A recorded evaluation and the lifecycle change it caused."""

    evaluation: Evaluation
    before: Phase
    after: Phase
    messages: list[str] = field(default_factory=list)
    fallback: bool = False
    rerouted: list[tuple[str, str]] = field(default_factory=list)  # (plan id, row id)


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


class Conductor:
    """The loop of one project (see the module docstring).

    ``now``: the clock (tests inject a fixed one); ``ensemble_file``: name → the ensemble's
    YAML path, to recognise a revision (default: the three tiers, file name = name)."""

    def __init__(
        self,
        project: str | os.PathLike[str],
        *,
        store: ProjectStore | None = None,
        now: Callable[[], datetime] | None = None,
        ensemble_file: Callable[[str], Path | None] | None = None,
    ) -> None:
        self.project = Path(project)
        self.store = store or ProjectStore(self.project)
        self.now = now or (lambda: datetime.now(UTC))
        self._ensemble_file = ensemble_file or self._find_ensemble_file
        self.refusals: list[Admission] = []  # what the last route_row refused, and why

    # ------------------------------------------------------------------ state

    def history(self) -> History:
        return build_history(self.store)

    def config(self) -> RoutingConfig:
        try:
            return self.store.load_config()
        except Exception:  # a broken config degrades to the spec's defaults, never stops the loop
            return RoutingConfig()

    def profiles(self) -> TaskProfiles:
        try:
            return self.store.load_task_profiles()
        except Exception:
            return TaskProfiles()

    def _find_ensemble_file(self, name: str) -> Path | None:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        roots = [locations.project_llm_orc_dir(self.project) / "ensembles"]
        lib = locations.library_dir()
        if lib is not None:
            roots.append(lib / "ensembles")
        roots.append(locations.global_llm_orc_dir() / "ensembles")
        for root in roots:
            if not root.is_dir():
                continue
            for ext in ("yaml", "yml"):
                direct = root / f"{name}.{ext}"
                if direct.is_file():
                    return direct
                found = next(iter(root.rglob(f"{name}.{ext}")), None)
                if found is not None:
                    return found
        return None

    def digest(self, ensemble: str) -> str | None:
        path = self._ensemble_file(ensemble)
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else None
        except OSError:
            return None

    def revised(self, ensemble: str, hist: History) -> bool:
        """Has the ensemble's file changed since it failed calibration?"""
        eh = hist.ensembles.get(ensemble)
        if eh is None or eh.tracker is None or not eh.tracker.failed:
            return False
        if eh.failed_digest:
            current = self.digest(ensemble)
            return current is not None and current != eh.failed_digest
        path = self._ensemble_file(ensemble)
        if path is None or eh.failed_at is None:
            return False
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, UTC) > eh.failed_at
        except OSError:
            return False

    def phase(self, ensemble: str, hist: History) -> Phase:
        """The live phase; a failed ensemble that has been revised is calibrating again."""
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return Phase.CALIBRATE
        phase = eh.phase()
        if phase is Phase.DESIGN and self.revised(ensemble, hist):
            return Phase.CALIBRATE
        return phase

    def status(self, ensemble: str, hist: History) -> rules.LifecycleStatus:
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return rules.lifecycle_status([], hist.thresholds)
        return eh.status()

    # ------------------------------------------------------------------ admission

    def admit(
        self,
        ensemble: str,
        *,
        task_type: str | None = None,
        session: str | None = None,
        hist: History | None = None,
        config: RoutingConfig | None = None,
        profiles: TaskProfiles | None = None,
    ) -> Admission:
        hist = hist if hist is not None else self.history()
        config = config or self.config()
        phase = self.phase(ensemble, hist)
        status = self.status(ensemble, hist)
        summary = status.counts.summary() if status.counts.evaluated else None
        if phase is Phase.DESIGN:
            return Admission(
                ensemble,
                False,
                "calibration-failed",
                f"Ensemble '{ensemble}' failed calibration ({status.counts.poor} poor) and is back in "
                "Design: it is not routed to until the designer revises it.",
                phase,
                evaluation_summary=summary,
            )
        if hist.fallback(ensemble, session, self.now()):
            rest = f" for the remaining {task_type} subtasks" if task_type else ""
            return Admission(
                ensemble,
                False,
                "calibration-fallback",
                f"Ensemble '{ensemble}' scored poor during calibration — falling back to Claude{rest} "
                "in this session.",
                phase,
                evaluation_summary=summary,
            )
        auth = config.authorization_for(task_type, ensemble) if task_type else None
        if auth is None and task_type:
            auth = config.authorization_for(rules.task_type_key(task_type), ensemble)
        if auth is not None:
            return Admission(
                ensemble,
                True,
                "standing-auth",
                f"Standing authorization: {task_type} → '{ensemble}'.",
                phase,
                standing_auth=True,
                evaluation_summary=summary,
            )
        table = (profiles or self.profiles()).profiles
        prof = table.get(task_type or "") or table.get(rules.task_type_key(task_type))
        reason = "task-profile" if prof is not None and prof.ensemble == ensemble else "user-confirmed"
        return Admission(ensemble, True, reason, f"Route to '{ensemble}'.", phase, evaluation_summary=summary)

    # ------------------------------------------------------------------ routing

    def route_row(
        self,
        row: Any,
        *,
        hist: History,
        config: RoutingConfig,
        profiles: TaskProfiles,
        candidates: Sequence[str],
        session: str | None,
    ) -> rules.TriageDecision:
        """The triage tree for one plan row with the live lifecycle state: ensembles that
        failed calibration are skipped, a session fallback sends the row to Claude."""
        task_type = row.task_type or ""
        allowed: list[str] = []
        refused: list[Admission] = []
        names = list(candidates)
        prof = profiles.profiles.get(task_type) or profiles.profiles.get(rules.task_type_key(task_type))
        if prof is not None and prof.ensemble and prof.ensemble not in names:
            names.append(prof.ensemble)
        for name in names:
            adm = self.admit(
                name, task_type=task_type, session=session, hist=hist, config=config, profiles=profiles
            )
            if not adm.allowed:
                refused.append(adm)
            elif name in candidates:
                allowed.append(name)
        fallen_back = any(a.reason == "calibration-fallback" for a in refused)
        if refused:  # neither a profile nor a standing authorisation routes to a refused ensemble
            gone = {a.ensemble for a in refused}
            if prof is not None and prof.ensemble in gone:
                profiles = profiles.model_copy(deep=True)
                profiles.profiles.pop(task_type, None)
                profiles.profiles.pop(rules.task_type_key(task_type), None)
            config = config.model_copy(deep=True)
            config.standing_authorizations = [
                a for a in config.standing_authorizations if a.ensemble not in gone
            ]
        self.refusals = refused
        return rules.triage(
            task_type,
            config=config,
            profiles=profiles,
            available_ensembles=allowed,
            category=row.delegability_category,
            dag_test=row.dag_test_result,
            claude_only_criterion=row.claude_only_criterion,
            fallen_back=fallen_back and not allowed,
        )

    def route_plan(
        self,
        plan: WorkflowPlan,
        candidates_for: Callable[[str], Sequence[str]],
        *,
        hist: History | None = None,
        change: str = "routed by the conductor",
    ) -> WorkflowPlan:
        """``plan`` with every row routed by the live rules (a NEW revision when anything
        changed, else ``plan`` itself):

        * a row without a handler gets one from :meth:`route_row` (``create-ensemble`` for a gap);
        * an open row whose ensemble may not run now (fallback, failed calibration) goes to
          Claude with the reason in ``route_reason`` (the original handler is kept);
        * a pending row covered by a standing authorisation is approved by the rule
          (``decided_by: standing-auth``; the person can still undo or reject it).
        """
        from conductor_tui.core import plan as plan_ops

        hist = hist if hist is not None else self.history()
        config, profiles = self.config(), self.profiles()
        session = plan.session or session_key(None, _aware(plan.timestamp))
        changed = False
        rows = []
        for row in plan.subtasks:
            new = row.model_copy(deep=True)
            status = (
                RowStatus(_value(new.status)) if _value(new.status) in RowStatus._value2member_map_ else None
            )
            if not new.handler and new.task_type:  # a row without a task type stays the person's to route
                decision = self.route_row(
                    new,
                    hist=hist,
                    config=config,
                    profiles=profiles,
                    candidates=candidates_for(new.task_type or ""),
                    session=session,
                )
                new.handler = CREATE_ENSEMBLE if decision.reason == "no-ensemble" else decision.handler
                if decision.category is not None and new.delegability_category is None:
                    new.delegability_category = decision.category
                failed = [a for a in self.refusals if a.reason == "calibration-failed"]
                if decision.reason == "no-ensemble" and failed:
                    new.route_reason = failed[0].message + " Revision requested from the designer."
                elif decision.reason != "no-ensemble":
                    new.route_reason = decision.message
                changed = True
            handler = plan_ops.effective_handler(new)
            if status is RowStatus.APPROVED and new.decided_by == "standing-auth":
                covered = new.task_type and (
                    config.authorization_for(new.task_type, handler)
                    or config.authorization_for(rules.task_type_key(new.task_type), handler)
                )
                if not covered:  # the authorisation was revoked before the row ran
                    new.status, status = RowStatus.PENDING, RowStatus.PENDING
                    new.decided_by = None
                    new.route_reason = "standing authorisation revoked — waiting for your decision"
                    changed = True
            if status in _OPEN_ROWS and plan_ops.handler_kind(handler) == "ensemble":
                adm = self.admit(
                    handler,
                    task_type=new.task_type,
                    session=session,
                    hist=hist,
                    config=config,
                    profiles=profiles,
                )
                if not adm.allowed:
                    new.original_handler = new.original_handler or handler
                    new.handler = "claude"
                    new.route_reason = adm.message
                    changed = True
                elif adm.standing_auth and status is RowStatus.PENDING:
                    new.status = RowStatus.APPROVED
                    new.decided_by = "standing-auth"
                    new.decided_at = self.now()
                    new.route_reason = adm.message
                    changed = True
            rows.append(new)
        if not changed:
            return plan
        if self._persisted(plan):
            return plan_ops.next_revision(plan, rows, change, self.now)
        routed = plan.model_copy(deep=True)
        routed.subtasks = rows
        if routed.status in ("proposed", "decided"):
            routed.status = "decided" if rows and all(plan_ops.is_decided(r) for r in rows) else "proposed"
        return routed

    def _persisted(self, plan: WorkflowPlan) -> bool:
        try:
            return plan.id in self.store.latest_plans()
        except Exception:
            return False

    def reroute_open_plans(
        self, hist: History, candidates_for: Callable[[str], Sequence[str]] | None = None
    ) -> list[tuple[str, str]]:
        """Append a re-routed revision of every open plan whose rows changed (after a
        fallback or a failed calibration). Returns the (plan id, row id) pairs moved."""
        moved: list[tuple[str, str]] = []
        try:
            plans = self.store.latest_plans()
        except Exception:
            return moved
        for plan in plans.values():
            if plan.status in ("complete", "abandoned"):
                continue
            new = self.route_plan(
                plan,
                candidates_for or (lambda _t: ()),
                hist=hist,
                change="re-routed after a lifecycle change",
            )
            if new is plan:
                continue
            before = {r.id: r.handler for r in plan.subtasks}
            with self.store.lock(PLANS_LOCK):
                latest = self.store.latest_plans().get(plan.id)
                if latest is not None and latest.revision != plan.revision:
                    continue  # decided meanwhile: the next lifecycle change re-routes it
                self.store.append_plan(new)
            moved += [(plan.id, r.id) for r in new.subtasks if before.get(r.id) != r.handler]
        return moved

    # ------------------------------------------------------------------ plan rows

    def mark_row(
        self, plan_id: str, row_id: str, status: RowStatus | str, *, routing_id: str | None = None
    ) -> WorkflowPlan | None:
        """Record a row's execution state (running / done / failed) as a new revision,
        read-modify-append under the plans lock. A no-op (``None``) when the plan or row
        is unknown, or already in that state with that routing id."""
        status = RowStatus(_value(status))
        with self.store.lock(PLANS_LOCK):
            plan = self.store.latest_plans().get(plan_id)
            row = next((r for r in plan.subtasks if r.id == row_id), None) if plan is not None else None
            if plan is None or row is None:
                return None
            if row.status == status and (routing_id is None or row.routing_id == routing_id):
                return None
            from conductor_tui.core import plan as plan_ops

            new = plan_ops.set_row_status(plan, row_id, status, self.now, routing_id=routing_id)
            return self.store.append_plan(new)

    # ------------------------------------------------------------------ recording runs

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
            completed = (decision.status or "completed") == "completed"
            evaluation = None
            if completed:
                fields["invocation_number"] = hist.next_invocation(ens)
                rid = decision.id or ""
                evaluation = rules.needs_evaluation(phase, hist.thresholds, rand=lambda: stable_fraction(rid))
                fields["sampled_for_evaluation"] = evaluation.evaluate
                fields["phase"] = _value(phase)
            else:
                fields["tokens_saved"] = 0
            for key, value in fields.items():
                _set(decision, key, value)
            written = self.store.append_routing(decision)
            hist2 = self.history()
            self.sync_profiles(hist2, [decision.task_type] if decision.task_type else None)
        return RunRecord(written, evaluation, phase)

    # ------------------------------------------------------------------ recording evaluations

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
    ) -> EvaluationOutcome:
        """Append one evaluation (seed 001, Evaluation Record) and apply its consequences."""
        sc = rules.as_score(score)
        if sc is None:
            raise ValueError(f"score must be good, acceptable or poor (got {score!r})")
        fm = rules.as_failure_mode(failure_mode) if failure_mode else None
        if sc is not Score.POOR:
            fm = None
        with self.store.lock(LOOP_LOCK):
            hist = self.history()
            run = hist.runs.get(routing_id) if routing_id else None
            if run is None and routing_id is None:
                run = self._newest_unevaluated(hist, ensemble)
            if run is not None and run.ensemble != ensemble and routing_id:
                raise ValueError(f"routing id {routing_id!r} is a run of {run.ensemble!r}, not {ensemble!r}")
            before = self.phase(ensemble, hist)
            status_before = self.status(ensemble, hist)
            flagged = bool(user_feedback)
            rec_phase = phase or _value(hist.eval_phase(ensemble, triggered=flagged))
            number = run.invocation if run is not None and run.invocation else None
            if number is None:
                number = hist.unlinked_number(ensemble)
            fields: dict[str, Any] = {
                "ensemble": ensemble,
                "routing_id": run.id if run is not None else routing_id,
                "invocation_number": number,
                "phase": rec_phase,
                "score": sc,
                "reasoning": reasoning,
                "failure_mode": fm,
                "input_summary": input_summary,
                "output_length": output_length,
                "task_type": task_type or (run.task_type if run is not None else None),
                "evaluator": evaluator,
                "user_feedback": user_feedback,
                "judge_tokens": judge_tokens,
                "session": session or (run.session if run is not None else None),
            }
            for key, value in (extra or {}).items():
                if fields.get(key) is None:
                    fields[key] = value
            evaluation = Evaluation(**fields)
            written = self.store.append_evaluation(evaluation)
            after_hist = self.history()
            after = self.phase(ensemble, after_hist)
            outcome = self._consequences(ensemble, written, before, after, status_before, after_hist)
            if outcome.after is Phase.DESIGN and before is not Phase.DESIGN:
                self._log_transition(ensemble, written, before, after, status_before)
            if outcome.fallback or outcome.after is Phase.DESIGN:
                outcome.rerouted = self.reroute_open_plans(after_hist, candidates_for)
            types = {t for t in (written.task_type, *after_hist.ensembles[ensemble].task_types) if t}
            self.sync_profiles(after_hist, sorted(types))
        return outcome

    def _newest_unevaluated(self, hist: History, ensemble: str) -> Any:
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return None
        for n in range(eh.completed, 0, -1):
            run = hist.by_invocation.get((ensemble, n))
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
        fallback = (
            rules.as_score(ev.score) is Score.POOR and before is Phase.CALIBRATE and after is Phase.CALIBRATE
        )
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
        )
        extra = event.__pydantic_extra__
        assert extra is not None
        extra.update({"from": before.value, "to": after.value, "ensemble_digest": self.digest(ensemble)})
        self.store.append_routing(event)

    # ------------------------------------------------------------------ Claude-handled work

    def record_claude_task(
        self,
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
        reason: str | None = None,
    ) -> tuple[RoutingDecision, TaskProfile | None]:
        """Log a subtask Claude handled; delegable work is interim (technical debt)."""
        if tokens < 0:
            raise ValueError("tokens must be ≥ 0")
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
        with self.store.lock(LOOP_LOCK):
            hist = self.history()
            if reason is None:
                reason = "competence-boundary"
                if is_delegable:
                    reason = "no-ensemble"
                    for ens in hist.ensembles_for(task_type):
                        adm = self.admit(ens, task_type=task_type, session=session, hist=hist)
                        if adm.reason in ("calibration-fallback", "calibration-failed"):
                            reason = adm.reason
                            break
            decision = RoutingDecision(
                task_type=task_type,
                delegability_category=cat,
                task_summary=summary,
                routed_to="claude",
                reason=reason,
                claude_tokens=tokens,
                session=session,
                plan_id=plan_id,
                row_id=row_id,
            )
            if criterion:
                _set(decision, "claude_only_criterion", criterion)
            if is_delegable:
                _set(decision, "interim", True)
            written = self.store.append_routing(decision)
            profile = None
            if is_delegable:
                profiles = self.sync_profiles(self.history(), [task_type], category=cat)
                profile = profiles.profiles.get(task_type) or profiles.profiles.get(
                    rules.task_type_key(task_type)
                )
        return written, profile

    # ------------------------------------------------------------------ task profiles

    def sync_profiles(
        self,
        hist: History,
        task_types: Iterable[str] | None = None,
        *,
        category: Delegability | None = None,
    ) -> TaskProfiles:
        """Rewrite ``task-profiles.yaml`` (under its lock) as the materialised view of the
        logs for ``task_types`` (default: every task type with an ensemble or Claude debt).
        The person's own fields (``design_rejected``, ``rejection_reason``,
        ``design_requested``, a chosen ``ensemble``, unknown keys) are kept."""

        def change(profiles: TaskProfiles) -> TaskProfiles | None:
            wanted = (
                list(task_types)
                if task_types is not None
                else sorted(
                    {t for eh in hist.ensembles.values() for t in eh.task_types} | set(hist.claude_by_type)
                )
            )
            changed = False
            for tt in wanted:
                if not tt or tt == "(untyped)":
                    continue
                key = tt if tt in profiles.profiles else rules.task_type_key(tt)
                key = key if key in profiles.profiles else tt
                prof = profiles.profiles.get(key)
                new = self._profile_for(tt, prof, hist, category)
                if new is None:
                    continue
                if prof is None or new.to_json_dict() != prof.to_json_dict():
                    profiles.profiles[key] = new
                    changed = True
            return profiles if changed else None

        return self.store.update_task_profiles(change)

    def _profile_for(
        self, task_type: str, prof: TaskProfile | None, hist: History, category: Delegability | None
    ) -> TaskProfile | None:
        ran = hist.ensembles_for(task_type)
        ensemble = prof.ensemble if prof is not None and prof.ensemble else (ran[0] if ran else None)
        debt = hist.claude_by_type.get(task_type, 0) + (
            hist.claude_by_type.get(rules.task_type_key(task_type), 0)
            if rules.task_type_key(task_type) != task_type
            else 0
        )
        if ensemble is None and debt == 0 and prof is None:
            return None
        new = prof.model_copy(deep=True) if prof is not None else TaskProfile()
        if new.delegability_category is None and category is not None:
            new.delegability_category = category
        new.interim_claude_count = max(new.interim_claude_count or 0, debt)
        if new.design_rejected:
            return new
        if ensemble is None:
            new.phase = Phase.DESIGN
            if new.design_requested is None and debt:
                new.design_requested = self.now()
            return new
        eh = hist.ensembles.get(ensemble)
        new.ensemble = ensemble
        new.phase = self.phase(ensemble, hist)
        if eh is not None:
            st = eh.status()
            new.invocation_count = eh.completed
            new.good_count = st.counts.good
            new.acceptable_count = st.counts.acceptable
            new.poor_count = st.counts.poor
            if eh.last_used is not None:
                new.last_used = eh.last_used
        return new


def _set(record: Any, key: str, value: Any) -> None:
    """Set a declared field (validated) or an extra one (kept on rewrite)."""
    if key in type(record).model_fields:
        setattr(record, key, value)
    else:
        extra = record.__pydantic_extra__
        assert extra is not None
        extra[key] = value


def _aware(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def evaluation_phase_values() -> tuple[str, ...]:
    return tuple(p.value for p in EvalPhase)
