"""The designer handoff: ensemble requests and their states, from every trigger.

The loop writes ensemble requests (see the glossary: designer) when a plan has a gap the
person approved (``create-ensemble`` rows), when adaptive observation sees Claude repeat
delegable work, or when the person asks; it records the designer's rejection and the
person's approval in ``task-profiles.yaml``. :mod:`conductor_tui.core.designer` builds,
writes and lists the artifact files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history import History, session_key
from conductor_tui.core.loop.profiles import ProfileSync
from conductor_tui.core.loop.state import (
    CREATE_ENSEMBLE,
    aware,
    profile_key,
    profile_of,
    routing_objects_with,
    value_of,
)
from conductor_tui.core.records import (
    Delegability,
    Phase,
    RoutingDecision,
    RowStatus,
    TaskProfile,
    TaskProfiles,
    WorkflowPlan,
)


class DesignerHooks(ProfileSync):
    """Ensemble requests and the designer's answers (module docstring)."""

    def designer(self) -> Any:
        from conductor_tui.core.designer import Designer

        return Designer(self.project, now=self.now)

    def design_artifacts(
        self, candidates_for: Callable[[str], Sequence[str]] | None = None, *, hist: History | None = None
    ) -> Any:
        """Every designer artifact with its live state (:meth:`core.designer.Designer.list`).

        The history (a pass over the routing log) is read only when an open request asks
        for it: a project without designer artifacts lists none without reading the log."""
        read: list[History] = [hist] if hist is not None else []

        def history() -> History:
            if not read:
                read.append(self.history())
            return read[0]

        profiles = self.profiles()

        def has_ensemble(task_type: str) -> bool:
            hist = history()
            names = list(candidates_for(task_type)) if candidates_for else []
            names += hist.ensembles_for(task_type)
            prof = profile_of(profiles, task_type)
            if prof is not None and prof.ensemble:
                names.append(prof.ensemble)
            return any(self.phase(n, hist) is not Phase.DESIGN for n in names)

        def revised(ensemble: str, digest: str | None) -> bool:
            if digest:
                current = self.digest(ensemble)
                return current is not None and current != digest
            return self.revised(ensemble, history())

        return self.designer().list(profiles=profiles, has_ensemble=has_ensemble, revised=revised)

    def _artifact_paths(self, routing_ids: Iterable[str | None]) -> dict[str, str]:
        """routing id → the run's artifact path, by a byte scan of the routing log."""
        wanted = {r for r in routing_ids if r}
        found: dict[str, str] = {}
        if not wanted:
            return found
        for obj in routing_objects_with(Path(self.store.routing_log_path), (r.encode() for r in wanted)):
            rid = obj.get("id")
            if isinstance(rid, str) and rid in wanted and rid not in found and obj.get("artifact"):
                found[rid] = str(obj["artifact"])
                if len(found) == len(wanted):
                    break
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
        prof = profile_of(profiles, task_type)
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
            key = profile_key(profiles, task_type)
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
            key = profile_key(profiles, task_type)
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
            if value_of(row.status) != RowStatus.APPROVED.value or row.decided_by == "standing-auth":
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
        key = session_key(decision.session, aware(decision.timestamp))
        done = hist.claude_by_type_session.get((task_type, key), 0)
        if remaining is None and decision.plan_id:
            try:
                plan = self.store.latest_plan(decision.plan_id)
            except Exception:
                plan = None
            if plan is not None:
                remaining = sum(
                    1
                    for r in plan.subtasks
                    if r.task_type == task_type
                    and r.id != decision.row_id
                    and value_of(r.status) in (RowStatus.PENDING.value, RowStatus.APPROVED.value)
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
