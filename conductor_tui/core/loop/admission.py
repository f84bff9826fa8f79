"""Admission: may this ensemble run now, for this task type and session?

One verdict (:class:`~conductor_tui.core.loop.outcomes.Admission`) for every caller — the
router, the recorder and the headless runner — in the spec's order: an ensemble back in
Design after a failed calibration is refused; so is one above the model-size ceiling; a
poor calibration score this session falls back to Claude (see the glossary: in-session
fallback); a standing authorisation admits by rule; otherwise the task profile or the
person's confirmation does. Capacity (spill / queue) is advice carried on the verdict,
never a refusal.
"""

from __future__ import annotations

from typing import Any

from conductor_tui.core.history import History
from conductor_tui.core.loop.outcomes import Admission
from conductor_tui.core.loop.state import LoopState, authorization, profile_of
from conductor_tui.core.records import Phase, RoutingConfig, TaskProfiles


class Admitting(LoopState):
    """:meth:`admit` and the facts it reads (model size, capacity)."""

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
        refused = self._refusal(ensemble, task_type, session, hist, phase, status.counts.poor)
        if refused is not None:
            reason, message = refused
            return Admission(ensemble, False, reason, message, phase, evaluation_summary=summary)
        if authorization(config, task_type, ensemble) is not None:
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
        prof = profile_of(profiles or self.profiles(), task_type)
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

    def _refusal(
        self,
        ensemble: str,
        task_type: str | None,
        session: str | None,
        hist: History,
        phase: Phase,
        poor: int,
    ) -> tuple[str, str] | None:
        """(reason, message) when ``ensemble`` may not run now, else ``None``."""
        if phase is Phase.DESIGN:
            return (
                "calibration-failed",
                f"Ensemble '{ensemble}' failed calibration ({poor} poor) and is back in "
                "Design: it is not routed to until the designer revises it.",
            )
        size = self._size(ensemble)
        if size is not None and size.refused:
            return "model-ceiling", size.message(hist.thresholds)
        if hist.fallback(ensemble, session, self.now()):
            rest = f" for the remaining {task_type} subtasks" if task_type else ""
            return (
                "calibration-fallback",
                f"Ensemble '{ensemble}' scored poor during calibration — falling back to Claude{rest} "
                "in this session.",
            )
        return None

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
