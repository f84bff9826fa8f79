"""Routing: the triage tree with the live lifecycle state, for one row or a whole plan.

:meth:`Routing.route_row` runs :func:`conductor_tui.core.rules.triage` for a plan row after
asking :meth:`admit` about every candidate ensemble (failed calibration skipped, a session
fallback sends the row to Claude). :meth:`Routing.route_plan` applies that to every row of a
plan and re-checks the open rows (fallback, standing authorisations, capacity flags);
:meth:`Routing.reroute_open_plans` appends the re-routed revisions after a lifecycle change,
and :meth:`Routing.mark_row` records a row's execution state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history import History, session_key
from conductor_tui.core.loop.admission import Admitting
from conductor_tui.core.loop.outcomes import Admission
from conductor_tui.core.loop.state import (
    CREATE_ENSEMBLE,
    OPEN_ROWS,
    PLANS_LOCK,
    authorization,
    aware,
    profile_of,
    value_of,
)
from conductor_tui.core.records import RoutingConfig, RowStatus, TaskProfiles, WorkflowPlan


class Routing(Admitting):
    """Routing plan rows (module docstring)."""

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
        prof = profile_of(profiles, task_type)
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
        session = plan.session or session_key(None, aware(plan.timestamp))
        changed = False
        rows = []
        for row in plan.subtasks:
            new = row.model_copy(deep=True)
            if not new.handler and new.task_type:  # a row without a task type stays the person's to route
                self._assign_handler(
                    new, hist, config, profiles, candidates_for(new.task_type or ""), session
                )
                changed = True
            changed = self._recheck_open_row(new, hist, config, profiles, session) or changed
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

    def _assign_handler(
        self,
        row: Any,
        hist: History,
        config: RoutingConfig,
        profiles: TaskProfiles,
        candidates: Sequence[str],
        session: str | None,
    ) -> None:
        """Give a row without a handler the triage's (``create-ensemble`` for a gap)."""
        decision = self.route_row(
            row, hist=hist, config=config, profiles=profiles, candidates=candidates, session=session
        )
        row.handler = CREATE_ENSEMBLE if decision.reason == "no-ensemble" else decision.handler
        if decision.category is not None and row.delegability_category is None:
            row.delegability_category = decision.category
        failed = [a for a in self.refusals if a.reason == "calibration-failed"]
        if decision.reason == "no-ensemble" and failed:
            row.route_reason = failed[0].message + " Revision requested from the designer."
        elif decision.reason != "no-ensemble":
            row.route_reason = decision.message

    def _recheck_open_row(
        self,
        row: Any,
        hist: History,
        config: RoutingConfig,
        profiles: TaskProfiles,
        session: str | None,
    ) -> bool:
        """Re-check an open row against the live rules (revoked authorisation, admission,
        capacity flag); True when the row changed."""
        from conductor_tui.core import plan as plan_ops

        raw = value_of(row.status)
        status = RowStatus(raw) if raw in RowStatus._value2member_map_ else None
        handler = plan_ops.effective_handler(row)
        changed = False
        if status is RowStatus.APPROVED and row.decided_by == "standing-auth":
            if not authorization(config, row.task_type, handler):  # revoked before the row ran
                row.status, status = RowStatus.PENDING, RowStatus.PENDING
                row.decided_by = None
                row.route_reason = "standing authorisation revoked — waiting for your decision"
                changed = True
        if status in OPEN_ROWS and plan_ops.handler_kind(handler) == "ensemble":
            adm = self.admit(
                handler, task_type=row.task_type, session=session, hist=hist, config=config, profiles=profiles
            )
            if not adm.allowed:
                row.original_handler = row.original_handler or handler
                row.handler = "claude"
                row.route_reason = adm.message
                changed = True
            elif adm.standing_auth and status is RowStatus.PENDING:
                row.status = RowStatus.APPROVED
                row.decided_by = "standing-auth"
                row.decided_at = self.now()
                row.route_reason = adm.message
                changed = True
            if adm.allowed and self.capacity_facts is not None:
                changed = _flag_capacity(row, adm.capacity) or changed
        elif status in OPEN_ROWS and row.capacity is not None:
            changed = _flag_capacity(row, None) or changed  # routed elsewhere: no longer applies
        return changed

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
                latest = self.store.latest_plan(plan.id)
                if latest is not None and latest.revision != plan.revision:
                    continue  # decided meanwhile: the next lifecycle change re-routes it
                self.store.append_plan(new)
            moved += [(plan.id, r.id) for r in new.subtasks if before.get(r.id) != r.handler]
        return moved

    def mark_row(
        self, plan_id: str, row_id: str, status: RowStatus | str, *, routing_id: str | None = None
    ) -> WorkflowPlan | None:
        """Record a row's execution state (running / done / failed) as a new revision,
        read-modify-append under the plans lock. A no-op (``None``) when the plan or row
        is unknown, or already in that state with that routing id."""
        status = RowStatus(value_of(status))
        with self.store.lock(PLANS_LOCK):
            plan = self.store.latest_plan(plan_id)
            row = next((r for r in plan.subtasks if r.id == row_id), None) if plan is not None else None
            if plan is None or row is None:
                return None
            if row.status == status and (routing_id is None or row.routing_id == routing_id):
                return None
            from conductor_tui.core import plan as plan_ops

            new = plan_ops.set_row_status(plan, row_id, status, self.now, routing_id=routing_id)
            return self.store.append_plan(new)


def _flag_capacity(row: Any, verdict: Any) -> bool:
    """Set (or clear, ``verdict=None``) the row's ``capacity`` flag; True when it changed."""
    flag = verdict.row_flag() if verdict is not None else None
    if row.capacity == flag:
        return False
    row.capacity = flag
    return True
