"""Promotion and demotion through the loop: the live evidence, the gates, the events.

:meth:`PromotionGate.promotion_check` feeds :func:`conductor_tui.core.promotion.check_promotion`
the lifecycle phase, the good evaluations since the last failed calibration and, for the
library, the recorded generality assessment; :meth:`PromotionGate.promote` and
:meth:`PromotionGate.demote` copy or remove the files under the loop's lock and log a
``promotion`` / ``demotion`` event in the routing log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history import History
from conductor_tui.core.loop.state import GENERALITY_EVENT, LOOP_LOCK, LoopState, routing_objects
from conductor_tui.core.records import RoutingDecision, Score


class PromotionGate(LoopState):
    """Promotion, demotion and generality assessments (module docstring)."""

    def generality_assessment(self, ensemble: str) -> dict[str, Any] | None:
        """The newest recorded generality assessment of ``ensemble`` (a routing-log event
        ``generality-assessment``: ``general``, ``assessment``, ``assessed_by``), or None."""
        marker, name = GENERALITY_EVENT.encode(), json.dumps(ensemble).encode()
        found = None
        for obj in routing_objects(
            Path(self.store.routing_log_path), lambda raw: marker in raw and name in raw
        ):
            if obj.get("event") == GENERALITY_EVENT and obj.get("ensemble") == ensemble:
                found = obj
        return found

    def record_generality(
        self, ensemble: str, assessment: str, *, general: bool = True, assessed_by: str = "person"
    ) -> RoutingDecision:
        """Record a generality assessment (needed for library contribution, a promotion gate)."""
        if not assessment.strip():
            raise ValueError(
                "a generality assessment needs its reasoning (why it is, or is not, project-specific)"
            )
        event = RoutingDecision(
            event=GENERALITY_EVENT,
            ensemble=ensemble,
            reason=assessment.strip(),
            general=bool(general),
            assessment=assessment.strip(),
            assessed_by=assessed_by,
        )
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
                destination=check.destination,
                copied=[str(p) for p in result.copied],
                skipped=[str(p) for p in result.skipped],
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
        from conductor_tui.core.demotion import check_demotion, demote

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
                tier=tier,
                removed=str(removed),
            )
            self.store.append_routing(event)
        return check, removed
