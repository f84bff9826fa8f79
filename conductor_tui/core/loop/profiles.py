"""Task profiles as the materialised view of the logs (``task-profiles.yaml``).

After every record the loop rewrites, under the file's lock, the profiles of the task
types it touched: phase, ensemble, counts, last use and interim Claude debt derived from
the logs, while the person's own fields (``design_rejected``, ``rejection_reason``,
``design_requested``, a chosen ``ensemble``, unknown keys) are kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from conductor_tui.core.history import History
from conductor_tui.core.loop.state import LoopState, claude_debt, profile_key
from conductor_tui.core.records import Delegability, Phase, TaskProfile, TaskProfiles


class ProfileSync(LoopState):
    """:meth:`sync_profiles`: the logs → ``task-profiles.yaml``."""

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
                key = profile_key(profiles, tt)
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
        debt = claude_debt(hist, task_type)
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
