"""Recording the work Claude handled.

:meth:`ClaudeTasks.record_claude_task` logs a subtask Claude did: delegable work is interim
(technical debt, see the glossary: interim Claude) and may, by adaptive observation, propose
an ensemble request to the designer; ensemble-prepared Claude work records the
preparation's tokens and savings instead.
"""

from __future__ import annotations

from conductor_tui.core import rules
from conductor_tui.core.history import History
from conductor_tui.core.loop.admission import Admitting
from conductor_tui.core.loop.designer_hooks import DesignerHooks
from conductor_tui.core.loop.state import LOOP_LOCK, profile_of, set_field
from conductor_tui.core.records import Delegability, RoutingDecision, TaskProfile

_DELEGABLE = (Delegability.AGENT, Delegability.ENSEMBLE)


def claude_category(
    task_type: str, delegable: bool | None, category: Delegability | str | None
) -> Delegability:
    """The delegability a Claude-handled subtask is logged with: the given category, else
    ``--delegable`` / ``--not-delegable``, else the task type's default."""
    cat = rules.as_delegability(category) if category is not None else None
    if cat is not None:
        return cat
    if delegable is True:
        cat = rules.default_category(task_type)
        return cat if cat in _DELEGABLE else Delegability.AGENT
    if delegable is False:
        return Delegability.CLAUDE
    return rules.default_category(task_type) or Delegability.CLAUDE


class ClaudeTasks(Admitting, DesignerHooks):
    """:meth:`record_claude_task` (module docstring)."""

    # long: the spec's fields of a Claude-handled subtask, each a keyword of the CLI verb
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
        cat = claude_category(task_type, delegable, category)
        is_delegable = cat in _DELEGABLE
        if reason is None and plan_id and row_id and self._sent_for_capacity(plan_id, row_id):
            reason = "capacity"  # the person sent the row to Claude because its ensemble would spill or queue
        with self.store.lock(LOOP_LOCK):
            hist = self.history()
            if reason is None:
                reason = self._claude_reason(hist, task_type, session, is_delegable)
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
                set_field(decision, "claude_only_criterion", criterion)
            if is_delegable:
                set_field(decision, "interim", True)
            written = self.store.append_routing(decision)
            profile = None
            if is_delegable:
                profile = self._after_interim(task_type, written, cat, remaining, expected_output_format)
        return written, profile

    def _claude_reason(self, hist: History, task_type: str, session: str | None, delegable: bool) -> str:
        """Why Claude handled it: a competence boundary, no ensemble yet, or an ensemble of
        the type that may not run now (fallback, failed calibration)."""
        if not delegable:
            return "competence-boundary"
        for ens in hist.ensembles_for(task_type):
            adm = self.admit(ens, task_type=task_type, session=session, hist=hist)
            if adm.reason in ("calibration-fallback", "calibration-failed"):
                return adm.reason
        return "no-ensemble"

    def _after_interim(
        self,
        task_type: str,
        written: RoutingDecision,
        cat: Delegability,
        remaining: int | None,
        expected_output_format: str | None,
    ) -> TaskProfile | None:
        """After interim Claude work: the adaptive designer request (when no ensemble
        exists) and the task profile's debt count."""
        after = self.history()
        if written.reason == "no-ensemble":
            try:
                self.design_request = self._adaptive_request(
                    after, written, remaining=remaining, expected_output_format=expected_output_format
                )
            except OSError:
                self.design_request = None
        profiles = self.sync_profiles(after, [task_type], category=cat)
        return profile_of(profiles, task_type)

    def _sent_for_capacity(self, plan_id: str, row_id: str) -> bool:
        """The plan row was sent to Claude for capacity (``route_reason: "capacity: …"``)."""
        try:
            plan = self.store.latest_plan(plan_id)
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
