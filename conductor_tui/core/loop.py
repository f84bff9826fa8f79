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
from collections import Counter
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
    RunStatus,
    Score,
    TaskProfile,
    TaskProfiles,
    WorkflowPlan,
)
from conductor_tui.core.store import ProjectStore

CREATE_ENSEMBLE = "create-ensemble"
GENERALITY_EVENT = "generality-assessment"
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
    reason: str  # routing-log vocabulary: standing-auth | task-profile | user-confirmed | calibration-fallback | calibration-failed | model-ceiling
    message: str
    phase: Phase
    standing_auth: bool = False
    evaluation_summary: str | None = None
    capacity: Any = None  # core.capacity.Capacity when the ensemble would spill or queue now (advice)


@dataclass
class RunRecord:
    """A recorded run: the routing decision as written and the evaluation decision."""

    decision: RoutingDecision
    evaluation: rules.EvaluationDecision | None
    phase: Phase
    artifacts: list[Any] = field(default_factory=list)  # designer artifacts written (promotion candidate)


@dataclass
class EvaluationOutcome:
    """A recorded evaluation and the lifecycle change it caused."""

    evaluation: Evaluation
    before: Phase
    after: Phase
    messages: list[str] = field(default_factory=list)
    fallback: bool = False
    rerouted: list[tuple[str, str]] = field(default_factory=list)  # (plan id, row id)
    artifacts: list[Any] = field(default_factory=list)  # designer artifacts written (core.designer)


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
        size_facts: Callable[[str], Any] | None = None,
        capacity_facts: Callable[[str], Any] | None = None,
    ) -> None:
        self.project = Path(project)
        # ensemble → rules.EnsembleSize (model-size ceiling), built by the engine (engine.model_size)
        self.size_facts = size_facts
        # ensemble → core.capacity.Capacity (spill / queue now), measured by handoff.capacity
        self.capacity_facts = capacity_facts
        self.store = store or ProjectStore(self.project)
        self.now = now or (lambda: datetime.now(UTC))
        self._ensemble_file = ensemble_file or self._find_ensemble_file
        self.refusals: list[Admission] = []  # what the last route_row refused, and why
        self.design_request: Any = None  # the ensemble request record_claude_task proposed (adaptive)

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
        size = self._size(ensemble)
        if size is not None and size.refused:
            return Admission(
                ensemble,
                False,
                "model-ceiling",
                size.message(hist.thresholds),
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
                capacity=self._capacity(ensemble),
            )
        table = (profiles or self.profiles()).profiles
        prof = table.get(task_type or "") or table.get(rules.task_type_key(task_type))
        reason = "task-profile" if prof is not None and prof.ensemble == ensemble else "user-confirmed"
        return Admission(
            ensemble,
            True,
            reason,
            f"Route to '{ensemble}'.",
            phase,
            evaluation_summary=summary,
            capacity=self._capacity(ensemble),
        )

    def _capacity(self, ensemble: str) -> Any:
        """The ensemble's capacity verdict when it would spill or queue now (else ``None``).
        Advice only: admission never refuses on it."""
        if self.capacity_facts is None:
            return None
        try:
            verdict = self.capacity_facts(ensemble)
        except Exception:  # a broken probe never stops the loop
            return None
        return verdict if verdict is not None and getattr(verdict, "flagged", False) else None

    def _size(self, ensemble: str) -> Any:
        if self.size_facts is None:
            return None
        try:
            return self.size_facts(ensemble)
        except Exception:  # size facts are advice; a broken probe never stops the loop
            return None

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
          (``decided_by: standing-auth``; the person can still undo or reject it);
        * with ``capacity_facts``, an open row whose ensemble would spill to CPU or queue on
          its host is FLAGGED — ``capacity: {verdict, slowdown, reason}`` on the row — never
          re-routed: the person may send it to Claude (``route_reason: "capacity: …"``).
          The flag is cleared when the ensemble fits again.
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
                if adm.allowed and self.capacity_facts is not None:
                    changed = _flag_capacity(new, adm.capacity) or changed
            elif status in _OPEN_ROWS and (new.model_extra or {}).get("capacity") is not None:
                changed = _flag_capacity(new, None) or changed  # routed elsewhere: no longer applies
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
            completed = (decision.status or RunStatus.COMPLETED) == RunStatus.COMPLETED
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
        per_model: dict[str, str] | Sequence[str] | None = None,
    ) -> EvaluationOutcome:
        """Append one evaluation (see the glossary: evaluation) and apply its consequences.

        ``per_model``: for a complementary (multi-model) ensemble, each model's verdict
        (``{model: correct | incorrect}``) — kept on the record as ``per_model``
        for the designer's union accuracy and contradiction penalty."""
        from conductor_tui.core.designer import parse_per_model

        verdicts = parse_per_model(per_model)
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
            eh_before = hist.ensembles.get(ensemble)
            windows_before = eh_before.tracker.windows if eh_before and eh_before.tracker else 0
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
            if verdicts:
                fields["per_model"] = verdicts
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
            from_phase=before.value,
            to=after.value,
            ensemble_digest=self.digest(ensemble),
        )
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
        remaining: int | None = None,
        expected_output_format: str | None = None,
        prepared_by: str | None = None,
        preparation_tokens: int | None = None,
        estimated_full_tokens: int | None = None,
    ) -> tuple[RoutingDecision, TaskProfile | None]:
        """Log a subtask Claude handled; delegable work is interim (technical debt).

        **Adaptive observation** (see the glossary: repetition threshold): when Claude has now handled the same delegable
        task type ``repetition_threshold`` times in this session and more repetitions remain
        (``remaining``: how many more the session expects; default the plan's open rows of
        that type, or — unknown — assumed), an ensemble request is proposed to the designer
        and left on :attr:`design_request` (the person approves the handoff).

        **Ensemble-prepared Claude**: ``prepared_by`` names the preparation
        ensemble; ``tokens`` are then Claude's judgment tokens on the brief, and the record
        carries ``preparation_tokens_local``, ``judgment_tokens_claude``,
        ``estimated_full_claude_tokens`` (default: the judgment plus the preparation's
        Claude equivalent at the token ratio) and ``preparation_savings``. It is Claude-only
        work (no debt); its savings are the preparation savings."""
        self.design_request = None
        if tokens < 0:
            raise ValueError("tokens must be ≥ 0")
        if remaining is not None and remaining < 0:
            raise ValueError("remaining must be ≥ 0")
        if prepared_by:
            return self._record_prepared(
                task_type,
                tokens,
                prepared_by=prepared_by,
                preparation_tokens=preparation_tokens,
                estimated_full_tokens=estimated_full_tokens,
                summary=summary,
                session=session,
                plan_id=plan_id,
                row_id=row_id,
                criterion=criterion,
            )
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
        if reason is None and plan_id and row_id and self._sent_for_capacity(plan_id, row_id):
            reason = "capacity"  # the person sent the row to Claude because its ensemble would spill or queue
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
                after = self.history()
                if reason == "no-ensemble":
                    try:
                        self.design_request = self._adaptive_request(
                            after, written, remaining=remaining, expected_output_format=expected_output_format
                        )
                    except OSError:
                        self.design_request = None
                profiles = self.sync_profiles(after, [task_type], category=cat)
                profile = profiles.profiles.get(task_type) or profiles.profiles.get(
                    rules.task_type_key(task_type)
                )
        return written, profile

    def _sent_for_capacity(self, plan_id: str, row_id: str) -> bool:
        """The plan row was sent to Claude for capacity (``route_reason: "capacity: …"``)."""
        try:
            plan = self.store.latest_plans().get(plan_id)
        except Exception:
            return False
        row = next((r for r in plan.subtasks if r.id == row_id), None) if plan is not None else None
        return bool(row is not None and (row.route_reason or "").startswith("capacity:"))

    def _record_prepared(
        self,
        task_type: str,
        tokens: int,
        *,
        prepared_by: str,
        preparation_tokens: int | None,
        estimated_full_tokens: int | None,
        summary: str | None,
        session: str | None,
        plan_id: str | None,
        row_id: str | None,
        criterion: str | None,
    ) -> tuple[RoutingDecision, TaskProfile | None]:
        if preparation_tokens is None or preparation_tokens < 0:
            raise ValueError("an ensemble-prepared Claude task needs --preparation-tokens N (≥ 0)")
        thresholds = self.config().routing_thresholds
        if estimated_full_tokens is None:
            estimated_full_tokens = tokens + rules.estimate_claude_tokens(preparation_tokens, thresholds)
        if estimated_full_tokens < 0:
            raise ValueError("estimated full Claude tokens must be ≥ 0")
        saving = rules.preparation_savings(preparation_tokens, tokens, estimated_full_tokens)
        with self.store.lock(LOOP_LOCK):
            decision = RoutingDecision(
                task_type=task_type,
                delegability_category=Delegability.CLAUDE,
                task_summary=summary,
                routed_to="claude",
                reason="competence-boundary",
                claude_tokens=tokens,
                session=session,
                plan_id=plan_id,
                row_id=row_id,
                **saving.fields(),
            )
            decision.preparation_ensemble = prepared_by  # type: ignore[attr-defined]  # an extra field (Record keeps unknown fields), not declared in records.py
            if criterion:
                decision.claude_only_criterion = criterion
            written = self.store.append_routing(decision)
        return written, None

    def prepared_uses(self, task_type: str) -> int:
        """Ensemble-prepared Claude records of ``task_type`` so far (the pattern's calibration
        covers the first ``calibration_period`` of them: the combined output is evaluated)."""
        return self.history().prepared_by_type.get(task_type, 0)

    # ------------------------------------------------------------------ the designer handoff

    def designer(self) -> Any:
        from conductor_tui.core.designer import Designer

        return Designer(self.project, now=self.now)

    def design_artifacts(
        self, candidates_for: Callable[[str], Sequence[str]] | None = None, *, hist: History | None = None
    ) -> Any:
        """Every designer artifact with its live state (:meth:`core.designer.Designer.list`)."""
        hist = hist if hist is not None else self.history()
        profiles = self.profiles()

        def has_ensemble(task_type: str) -> bool:
            names = list(candidates_for(task_type)) if candidates_for else []
            names += hist.ensembles_for(task_type)
            prof = profiles.profiles.get(task_type) or profiles.profiles.get(rules.task_type_key(task_type))
            if prof is not None and prof.ensemble:
                names.append(prof.ensemble)
            return any(self.phase(n, hist) is not Phase.DESIGN for n in names)

        def revised(ensemble: str, digest: str | None) -> bool:
            if digest:
                current = self.digest(ensemble)
                return current is not None and current != digest
            return self.revised(ensemble, hist)

        return self.designer().list(profiles=profiles, has_ensemble=has_ensemble, revised=revised)

    def _artifact_paths(self, routing_ids: Iterable[str | None]) -> dict[str, str]:
        """routing id → the run's artifact path, by a byte scan of the routing log."""
        import json as _json

        wanted = {r for r in routing_ids if r}
        found: dict[str, str] = {}
        path = Path(self.store.routing_log_path)
        if not wanted or not path.is_file():
            return found
        keys = {r: r.encode() for r in wanted}
        try:
            with path.open("rb") as fh:
                for raw in fh:
                    for rid, key in keys.items():
                        if key in raw and rid not in found:
                            try:
                                obj = _json.loads(raw)
                            except ValueError:
                                continue
                            if isinstance(obj, dict) and obj.get("id") == rid and obj.get("artifact"):
                                found[rid] = str(obj["artifact"])
        except OSError:
            pass
        return found

    def _samples(self, task_type: str, plan: WorkflowPlan | None = None, limit: int = 5) -> list[str]:
        """Sample inputs for a request: the plan's rows of the type, then the task summaries
        of the logged subtasks of that type (newest first)."""
        key = rules.task_type_key(task_type)
        out: list[str] = []
        if plan is not None:
            out += [
                r.description
                for r in plan.subtasks
                if r.description and r.task_type and rules.task_type_key(r.task_type) == key
            ]
        if len(out) < limit:
            try:
                read = self.store.read_routing()
            except Exception:
                read = None
            summaries = [
                d.task_summary
                for d in (read.records if read is not None else [])
                if d.task_summary and d.task_type and rules.task_type_key(d.task_type) == key
            ]
            out += list(reversed(summaries))
        return out[: limit * 2]

    def request_ensemble(
        self,
        task_type: str,
        *,
        trigger: str,
        state: str = "proposed",
        plan: WorkflowPlan | None = None,
        row: Any = None,
        repetition_count: int | None = None,
        expected_output_format: str | None = None,
        context: str | None = None,
        session: str | None = None,
    ) -> Any:
        """Write a ``request_type: new`` ensemble request for ``task_type`` (or return the open
        one, upgraded to ``requested`` when the person has now approved it). ``None`` when the
        designer rejected the task type and the person did not ask explicitly."""
        from conductor_tui.core import designer as d

        profiles = self.profiles()
        prof = profiles.profiles.get(task_type) or profiles.profiles.get(rules.task_type_key(task_type))
        if prof is not None and prof.design_rejected and trigger != "user-request":
            return None
        des = self.designer()
        with self.store.lock("designer"):
            existing = self.design_artifacts().open_request(task_type)
            if existing is not None:
                if state == d.REQUESTED and existing.state == d.PROPOSED:
                    existing = des.set_state(existing.id, d.REQUESTED, note=f"approved ({trigger})")
                    self._mark_design_requested(task_type)
                return existing
            rows = [r for r in (plan.subtasks if plan is not None else []) if r.task_type == task_type]
            if repetition_count is None and rows:
                repetition_count = sum(max(1, r.expected_repetitions or 1) for r in rows)
            body = d.request_body(
                "new",
                task_type,
                delegability_category=getattr(row, "delegability_category", None),
                dag_test_result=getattr(row, "dag_test_result", None),
                sample_inputs=self._samples(task_type, plan),
                expected_output_format=expected_output_format,
                repetition_count=repetition_count,
                context=context or "",
            )
            art = des.write_request(
                body,
                trigger=trigger,
                state=state,
                plan_id=plan.id if plan is not None else None,
                row_id=getattr(row, "id", None),
                session=session or (plan.session if plan is not None else None),
            )
        if state == d.REQUESTED:
            self._mark_design_requested(task_type)
        return art

    def set_request_state(self, artifact_id: str, state: str, *, note: str | None = None) -> Any:
        """The person approves (``requested``) or declines a proposed request."""
        from conductor_tui.core import designer as d

        with self.store.lock("designer"):
            art = self.designer().set_state(artifact_id, state, note=note)
        if state == d.REQUESTED and art.data.get("request_type") == "new" and art.data.get("task_type"):
            self._mark_design_requested(str(art.data["task_type"]))
        return art

    def reject_design(self, task_type: str, reason: str) -> TaskProfile:
        """The designer's rejection: the task type becomes
        Claude-only in ``task-profiles.yaml`` with ``design_rejected: true`` and the reason."""
        if not reason.strip():
            raise ValueError("a design rejection needs its reason")

        def change(profiles: TaskProfiles) -> TaskProfiles:
            key = task_type if task_type in profiles.profiles else rules.task_type_key(task_type)
            key = key if key in profiles.profiles else task_type
            prof = profiles.profiles.get(key) or TaskProfile(phase=Phase.DESIGN)
            prof.design_rejected = True
            prof.rejection_reason = reason.strip()
            prof.delegability_category = Delegability.CLAUDE
            profiles.profiles[key] = prof
            return profiles

        out = self.store.update_task_profiles(change)
        return out.profiles.get(task_type) or out.profiles[rules.task_type_key(task_type)]

    def _mark_design_requested(self, task_type: str) -> None:
        when = self.now()

        def change(profiles: TaskProfiles) -> TaskProfiles | None:
            key = task_type if task_type in profiles.profiles else rules.task_type_key(task_type)
            key = key if key in profiles.profiles else task_type
            prof = profiles.profiles.get(key)
            if prof is None:
                prof = TaskProfile(phase=Phase.DESIGN)
            elif prof.design_requested is not None:
                return None
            prof.design_requested = when
            profiles.profiles[key] = prof
            return profiles

        self.store.update_task_profiles(change)

    def note_plan_decisions(self, plan: WorkflowPlan) -> list[Any]:
        """A ``create-ensemble`` row the person approved is the Design transition approved:
        write (or upgrade) the ensemble request for its task type.
        Returns the requests written or upgraded now (idempotent: an already requested
        task type writes nothing)."""
        from conductor_tui.core import plan as plan_ops

        written: list[Any] = []
        seen: set[str] = set()
        listing = None
        for row in plan.subtasks:
            if _value(row.status) != RowStatus.APPROVED.value or row.decided_by == "standing-auth":
                continue
            if plan_ops.effective_handler(row) != CREATE_ENSEMBLE or not row.task_type:
                continue
            if row.task_type in seen:
                continue
            seen.add(row.task_type)
            listing = listing or self.design_artifacts()
            known = listing.open_request(row.task_type)
            if known is not None and known.state == "requested":
                continue  # already handed over: nothing new to write
            art = self.request_ensemble(
                row.task_type,
                trigger="plan-gap",
                state="requested",
                plan=plan,
                row=row,
                context=f"Workflow plan {plan.id}: {plan.meta_task}".strip(),
            )
            if art is not None:
                written.append(art)
        return written

    def _adaptive_request(
        self,
        hist: History,
        decision: RoutingDecision,
        *,
        remaining: int | None,
        expected_output_format: str | None,
    ) -> Any:
        task_type = decision.task_type or ""
        key = session_key(decision.session, _aware(decision.timestamp))
        done = hist.claude_by_type_session.get((task_type, key), 0)
        if remaining is None and decision.plan_id:
            try:
                plan = self.store.latest_plans().get(decision.plan_id)
            except Exception:
                plan = None
            if plan is not None:
                remaining = sum(
                    1
                    for r in plan.subtasks
                    if r.task_type == task_type
                    and r.id != decision.row_id
                    and _value(r.status) in (RowStatus.PENDING.value, RowStatus.APPROVED.value)
                )
        more = remaining if remaining is not None else 1  # unknown: assume the pattern goes on
        if not rules.adaptive_design_trigger(done, more, hist.thresholds):
            return None
        total = done + (remaining or 0)
        return self.request_ensemble(
            task_type,
            trigger="adaptive-observation",
            state="proposed",
            repetition_count=total,  # with more unknown: the repetitions seen so far (a lower bound)
            expected_output_format=expected_output_format,
            context=(
                f"Adaptive observation: Claude handled '{task_type}' {done} times in this session"
                + (f"; {remaining} more remain." if remaining is not None else "; more are expected.")
            ),
            session=decision.session,
        )

    def _designer_feedback(
        self,
        ensemble: str,
        ev: Evaluation,
        windows_before: int,
        status_before: rules.LifecycleStatus,
        hist: History,
        outcome: EvaluationOutcome,
    ) -> None:
        """The feedback (and revision request) an evaluation's consequences call for."""
        from conductor_tui.core import designer as d

        eh = hist.ensembles.get(ensemble)
        if eh is None or eh.tracker is None:
            return
        tracker = eh.tracker
        des = self.designer()
        evs = eh.evaluations
        period = hist.thresholds.calibration_period
        written: list[Any] = []
        calibration = [e for e in evs if _value(e.phase) in (None, "calibrate", "triggered")][-2 * period :]
        artifacts = self._artifact_paths(e.routing_id for e in evs[-2 * period :])
        meta = {"evaluation_id": ev.id, "task_type": ev.task_type}
        existing = self.design_artifacts(hist=hist)
        outcome_name = tracker.last_outcome if tracker.windows > windows_before else None
        if outcome_name in ("mixed", "fail") and existing.feedback_for(ev.id, "calibration_summary") is None:
            counts = rules.count_scores(e.score for e in calibration)
            if outcome_name == "fail":
                rec = (
                    f"Failed calibration ({counts.poor} poor): revise the ensemble — it is back in "
                    "Design and not routed to until its file changes."
                )
            else:
                rec = (
                    "Mixed calibration (1 poor): a second calibration window follows; a revision "
                    "is requested if it fails again."
                )
            written.append(
                des.write_feedback(
                    d.feedback_body(
                        "calibration_summary", ensemble, calibration, recommendation=rec, artifacts=artifacts
                    ),
                    trigger=f"calibration-{outcome_name}",
                    **meta,
                )
            )
            if outcome_name == "fail" and existing.open_revision(ensemble) is None:
                tt = ev.task_type or (eh.task_types.most_common(1)[0][0] if eh.task_types else ensemble)
                body = d.request_body(
                    "revision",
                    tt,
                    sample_inputs=[e.input_summary or "" for e in calibration],
                    repetition_count=eh.completed or None,
                    evaluation_data=d.revision_evaluation_data(calibration, artifacts),
                    context=f"Ensemble '{ensemble}' failed calibration ({counts.poor} poor) — revise it.",
                )
                written.append(
                    des.write_request(
                        body,
                        trigger="calibration-failed",
                        state=d.PROPOSED,
                        ensemble=ensemble,
                        ensemble_digest=self.digest(ensemble),
                        evaluation_id=ev.id,
                    )
                )
        elif (
            rules.as_score(ev.score) is Score.POOR and existing.feedback_for(ev.id, "poor_evaluation") is None
        ):
            mode = _value(ev.failure_mode) or "unclassified"
            written.append(
                des.write_feedback(
                    d.feedback_body(
                        "poor_evaluation",
                        ensemble,
                        [
                            ev,
                            *[
                                e
                                for e in reversed(evs)
                                if e.id != ev.id and rules.as_score(e.score) is Score.POOR
                            ],
                        ][: d.SAMPLE_LIMIT],
                        counted=evs,
                        recommendation=f"Poor output ({mode}) in {_value(ev.phase) or 'use'}: "
                        "look at the failing stage of the DAG.",
                        artifacts=artifacts,
                    ),
                    trigger="poor-evaluation",
                    **meta,
                )
            )
        written += self._promotion_feedback(ensemble, status_before, hist, artifacts, meta)
        if written and (ev.task_type or eh.task_types):
            tt = ev.task_type or eh.task_types.most_common(1)[0][0]
            self.design_notes(tt, hist=hist)
        for art in written:
            outcome.artifacts.append(art)
            what = art.type.replace("_", " ")
            outcome.messages.append(
                f"Designer {art.kind} written: {what} for '{art.subject}' ({art.state}) — {art.path.name}"
            )

    def _promotion_feedback(
        self,
        ensemble: str,
        status_before: rules.LifecycleStatus,
        hist: History,
        artifacts: dict[str, str] | None,
        meta: dict[str, Any],
    ) -> list[Any]:
        """A ``promotion_candidate`` feedback when the ensemble has just become promotion-ready
        (by an evaluation, or by a run that crossed the Trust bar)."""
        from conductor_tui.core import designer as d

        status = self.status(ensemble, hist)
        if not status.promotion.global_ready or status_before.promotion.global_ready:
            return []
        eh = hist.ensembles[ensemble]
        evs = eh.evaluations
        good = [e for e in evs if rules.as_score(e.score) is Score.GOOD]
        if artifacts is None:
            artifacts = self._artifact_paths(e.routing_id for e in good[-d.SAMPLE_LIMIT :])
        body = d.feedback_body(
            "promotion_candidate",
            ensemble,
            good[-d.SAMPLE_LIMIT :],
            counted=evs,
            recommendation=(
                f"{status.promotion.good} good evaluations in {self.phase(ensemble, hist).value}: ready for "
                f"global promotion (conductor-tui promote {ensemble} --to global); the library needs "
                f"{hist.thresholds.promotion_library_good} good and a generality assessment."
            ),
            artifacts=artifacts,
        )
        return [self.designer().write_feedback(body, trigger="promotion-candidate", **meta)]

    def design_notes(
        self,
        task_type: str,
        *,
        candidates_for: Callable[[str], Sequence[str]] | None = None,
        hist: History | None = None,
        write: bool = True,
    ) -> tuple[dict[str, Any], Path]:
        """Design knowledge for ``task_type`` accumulated from the logs: every
        ensemble tried for it with its DAG shape, phase, scores, calibration transitions,
        failure modes and per-model correctness; what worked and what failed; Claude debt and
        the designer artifacts. Written to ``designer/notes/<task type>.yaml`` for the designer."""
        import yaml as _yaml

        from conductor_tui.core import designer as d

        hist = hist if hist is not None else self.history()
        key = rules.task_type_key(task_type)
        names = list(
            dict.fromkeys(
                [*hist.ensembles_for(task_type), *(candidates_for(task_type) if candidates_for else [])]
            )
        )
        profiles = self.profiles()
        prof = profiles.profiles.get(task_type) or profiles.profiles.get(key)
        if prof is not None and prof.ensemble and prof.ensemble not in names:
            names.append(prof.ensemble)
        ensembles: list[dict[str, Any]] = []
        worked: list[str] = []
        failed: list[str] = []
        for name in names:
            eh = hist.ensembles.get(name)
            path = self._ensemble_file(name)
            try:
                data = _yaml.safe_load(path.read_text(encoding="utf-8")) if path else None
            except (OSError, _yaml.YAMLError, UnicodeDecodeError):
                data = None
            st = self.status(name, hist)
            evs = [
                e
                for e in (eh.evaluations if eh else [])
                if not e.task_type or rules.task_type_key(e.task_type) == key
            ]
            modes = Counter(
                str(_value(e.failure_mode))
                for e in evs
                if rules.as_score(e.score) is Score.POOR and e.failure_mode
            )
            entry: dict[str, Any] = {
                "name": name,
                "phase": self.phase(name, hist).value,
                "uses": eh.completed if eh else 0,
                "failed_runs": eh.failed if eh else 0,
                "scores": {
                    "good": st.counts.good,
                    "acceptable": st.counts.acceptable,
                    "poor": st.counts.poor,
                },
                "calibration": [
                    {"from": t.before.value, "to": t.after.value, "why": t.reason}
                    for t in (eh.tracker.transitions if eh and eh.tracker else [])
                ],
                "failure_modes": dict(modes.most_common()),
                "dag": d.dag_shape(data) if isinstance(data, dict) else None,
            }
            pm = d.per_model_summary(evs)
            if pm:
                entry["per_model"] = pm
            ensembles.append(entry)
            shape = entry["dag"] or {}
            desc = f"{name} ({shape.get('pattern', 'unknown shape')}, {shape.get('agents', '?')} agents)"
            if entry["phase"] in ("establish", "trust", "promote"):
                good = [e.reasoning for e in evs if rules.as_score(e.score) is Score.GOOD and e.reasoning]
                worked.append(f"{desc} passed calibration" + (f": {good[-1]}" if good else ""))
            if entry["phase"] == "design" or modes:
                poor = [e.reasoning for e in evs if rules.as_score(e.score) is Score.POOR and e.reasoning]
                top = ", ".join(f"{m} ×{n}" for m, n in modes.most_common(2)) or "poor scores"
                failed.append(f"{desc}: {top}" + (f" — {poor[-1]}" if poor else ""))
        listing = self.design_artifacts(candidates_for, hist=hist)
        related = [
            {"id": a.id, "kind": a.kind, "type": a.type, "state": a.state}
            for a in listing.artifacts
            if (a.kind == "request" and rules.task_type_key(a.subject) == key)
            or (a.kind == "feedback" and a.subject in names)
        ]
        debt = hist.claude_by_type.get(task_type, 0) + (
            hist.claude_by_type.get(key, 0) if key != task_type else 0
        )
        notes: dict[str, Any] = {
            "task_type": task_type,
            "generated": self.now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ensembles": ensembles,
            "what_worked": worked,
            "what_failed": failed,
            "interim_claude_count": debt,
            "prepared_claude_uses": hist.prepared_by_type.get(task_type, 0),
            "design_rejected": bool(prof and prof.design_rejected),
            "rejection_reason": prof.rejection_reason if prof else None,
            "artifacts": related,
        }
        path = d.designer_dir(self.project) / d.NOTES / f"{d._slug(task_type)}.yaml"
        if write:
            from conductor_tui.core.store import atomic_write_text

            atomic_write_text(
                path,
                "# conductor-tui design notes (generated from the logs; regenerated on each change)\n"
                + _yaml.safe_dump(notes, sort_keys=False, allow_unicode=True, width=100),
            )
        return notes, path

    # ------------------------------------------------------------------ promotion (Invariants 6, 11)

    def generality_assessment(self, ensemble: str) -> dict[str, Any] | None:
        """The newest recorded generality assessment of ``ensemble`` (a routing-log event
        ``generality-assessment``: ``general``, ``assessment``, ``assessed_by``), or None."""
        import json as _json

        path = Path(self.store.routing_log_path)
        if not path.is_file():
            return None
        found = None
        marker, name = GENERALITY_EVENT.encode(), _json.dumps(ensemble).encode()
        try:
            with path.open("rb") as fh:
                for raw in fh:
                    if marker in raw and name in raw:
                        try:
                            obj = _json.loads(raw)
                        except ValueError:
                            continue
                        if (
                            isinstance(obj, dict)
                            and obj.get("event") == GENERALITY_EVENT
                            and obj.get("ensemble") == ensemble
                        ):
                            found = obj
        except OSError:
            return None
        return found

    def record_generality(
        self, ensemble: str, assessment: str, *, general: bool = True, assessed_by: str = "person"
    ) -> RoutingDecision:
        """Record a generality assessment (needed for library contribution, a promotion gate)."""
        if not assessment.strip():
            raise ValueError(
                "a generality assessment needs its reasoning (why it is, or is not, project-specific)"
            )
        event = RoutingDecision(event=GENERALITY_EVENT, ensemble=ensemble, reason=assessment.strip())
        extra = event.__pydantic_extra__
        assert extra is not None
        extra.update({"general": bool(general), "assessment": assessment.strip(), "assessed_by": assessed_by})
        return self.store.append_routing(event)

    def good_since_failure(self, ensemble: str, hist: History) -> int:
        """Good evaluations that count for promotion: those after the last failed
        calibration (evidence from before a revision is about another ensemble)."""
        eh = hist.ensembles.get(ensemble)
        if eh is None or eh.tracker is None:
            return 0
        scored = [rules.as_score(e.score) for e in eh.evaluations]
        scored = [x for x in scored if x is not None]
        start = eh.tracker.failed_at + 1 if eh.tracker.failed_at is not None else 0
        return sum(1 for x in scored[start:] if x is Score.GOOD)

    def promotion_check(
        self,
        ensemble: str,
        destination: str = "global",
        *,
        library: str | os.PathLike[str] | None = None,
        hist: History | None = None,
    ) -> Any:
        """:func:`core.promotion.check_promotion` with the live evidence: the lifecycle phase
        (Trust / Promote only — never in Calibrate, Establish or back in Design), the good
        evaluations since the last failed calibration, and for the library a recorded
        generality assessment that found the ensemble general."""
        from conductor_tui.core.promotion import check_promotion

        if destination not in ("global", "library"):
            raise ValueError("destination must be global or library")
        hist = hist if hist is not None else self.history()
        assessed = self.generality_assessment(ensemble) if destination == "library" else None
        check = check_promotion(
            self.project,
            ensemble,
            destination=destination,  # type: ignore[arg-type]
            good_count=self.good_since_failure(ensemble, hist),
            thresholds=hist.thresholds,
            library=library,
            generality_confirmed=bool(assessed and assessed.get("general")),
            phase=self.phase(ensemble, hist),
        )
        if destination == "library" and assessed is not None and not assessed.get("general"):
            check.readiness = (
                f"Not ready: the generality assessment found '{ensemble}' project-specific: "
                f"{assessed.get('assessment') or assessed.get('reason')}"
            )
        return check

    def promote(
        self,
        ensemble: str,
        destination: str = "global",
        *,
        library: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
    ) -> tuple[Any, Any]:
        """Check, then copy (ensemble, missing profiles, scripts and their helper modules) and
        log a ``promotion`` event. Returns (check, result or None when a gate failed)."""
        from conductor_tui.core.promotion import promote as copy_files

        with self.store.lock(LOOP_LOCK):
            check = self.promotion_check(ensemble, destination, library=library)
            if not check.ok:
                return check, None
            result = copy_files(check, overwrite=overwrite)
            event = RoutingDecision(
                event="promotion",
                ensemble=ensemble,
                reason=f"promoted to {check.destination} tier ({check.dest_root})",
            )
            extra = event.__pydantic_extra__
            assert extra is not None
            extra.update(
                {
                    "destination": check.destination,
                    "copied": [str(p) for p in result.copied],
                    "skipped": [str(p) for p in result.skipped],
                }
            )
            self.store.append_routing(event)
        return check, result

    def demote(
        self,
        ensemble: str,
        tier: str = "global",
        *,
        library: str | os.PathLike[str] | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> tuple[Any, Path | None]:
        """Remove ``ensemble`` from the global tier or the library (the project keeps its own
        copy — demotion never loses the only one unless ``force``); logged as ``demotion``."""
        from conductor_tui.core.promotion import check_demotion, demote

        if tier not in ("global", "library"):
            raise ValueError("tier must be global or library")
        with self.store.lock(LOOP_LOCK):
            check = check_demotion(self.project, ensemble, tier=tier, library=library, allow_last_copy=force)  # type: ignore[arg-type]
            if not check.ok:
                return check, None
            removed = demote(check)
            event = RoutingDecision(
                event="demotion",
                ensemble=ensemble,
                reason=reason or f"demoted from the {tier} tier",
            )
            extra = event.__pydantic_extra__
            assert extra is not None
            extra.update({"tier": tier, "removed": str(removed)})
            self.store.append_routing(event)
        return check, removed

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
            new.phase = Phase.DESIGN  # design_requested is set when a request is written (core.designer)
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


def _flag_capacity(row: Any, verdict: Any) -> bool:
    """Set (or clear, ``verdict=None``) the row's ``capacity`` flag; True when it changed."""
    extra = row.__pydantic_extra__
    assert extra is not None
    flag = verdict.row_flag() if verdict is not None else None
    if extra.get("capacity") == flag:
        return False
    if flag is None:
        extra.pop("capacity", None)
    else:
        extra["capacity"] = flag
    return True


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
