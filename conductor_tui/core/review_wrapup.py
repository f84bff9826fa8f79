"""The workflow wrap-up: what a plan's session did — runs, savings, the phase changes it
caused — from its routing decisions and the evaluations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import (
    Phase,
    RoutingDecision,
    RunStatus,
    as_datetime,
)
from conductor_tui.core.review_state import _DONE, effective_evaluations


@dataclass
class Progression:
    task_type: str
    ensemble: str | None
    before: Phase | None
    after: Phase
    detail: str

    def line(self) -> str:
        if self.before is None or self.before is self.after:
            phases = self.after.value.title()
        else:
            phases = f"{self.before.value.title()} → {self.after.value.title()}"
        return f"{self.task_type}: {phases} ({self.detail})"


@dataclass
class WrapUp:
    """The conductor's session wrap-up for one workflow plan."""

    plan_id: str
    meta_task: str
    subtasks: int
    local: int
    local_tokens: int
    saved_tokens: int
    claude_tokens: int
    debt: int
    ratio: float
    progression: list[Progression] = field(default_factory=list)
    open_rows: int = 0  # rows still pending, approved or running

    def lines(self) -> list[str]:
        head = (
            "Workflow complete."
            if self.open_rows == 0
            else f"Workflow in progress ({self.open_rows} of {self.subtasks} subtasks not done yet)."
        )
        out = [
            f"{head} {self.local}/{self.subtasks} subtasks handled locally.",
            f"Local: {self.local_tokens:,} tokens | Claude savings: ~{self.saved_tokens:,} tokens",
            "Lifecycle progression:",
        ]
        out += [f"  {p.line()}" for p in self.progression] or ["  (no delegable task types)"]
        out.append(f"Interim Claude debt: {self.debt} delegable tasks handled by Claude")
        return out


def _scan_lines(path: Path, needles: list[str]) -> list[bytes]:
    """Lines of ``path`` containing any of ``needles`` (one C-level regex pass over the
    file, so a million-line log costs a fraction of a second)."""
    import mmap
    import re

    if not needles or not path.is_file() or path.stat().st_size == 0:
        return []
    pattern = re.compile(
        b"|".join(re.escape(n.encode()) for n in sorted(set(needles), key=len, reverse=True))
    )
    found: list[bytes] = []
    seen: set[int] = set()
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for m in pattern.finditer(data):
            start = data.rfind(b"\n", 0, m.start()) + 1
            if start in seen:
                continue
            seen.add(start)
            end = data.find(b"\n", m.end())
            found.append(data[start : end if end != -1 else len(data)])
    return found


def latest_plan(store: Any) -> Any:
    """The most recently updated workflow plan (newest revision), or ``None``."""
    try:
        plans = list(store.latest_plans().values())
    except Exception:
        return None
    if not plans:
        return None
    floor = datetime(1970, 1, 1, tzinfo=UTC)
    return max(plans, key=lambda p: (as_datetime(p.timestamp) or floor, p.revision))


def workflow_wrapup(
    store: Any,
    plan: Any = None,
    *,
    uses: dict[str, int] | None = None,
    ensembles: dict[str, Any] | None = None,
) -> WrapUp | None:
    """The wrap-up of ``plan`` (default: the latest plan) from its routing decisions and
    the evaluations; ``None`` when there is no plan.  ``uses``: completed local runs per
    ensemble over the whole log; ``ensembles``: the report's ``by_ensemble`` rows — when
    given, the phase after the session is the report's (one source for every screen)."""
    plan = plan or latest_plan(store)
    if plan is None:
        return None
    decisions = _plan_decisions(store, plan)
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:
        from conductor_tui.core.records import RoutingThresholds

        thresholds = RoutingThresholds()
    ratio = float(thresholds.local_to_claude_token_ratio or 1.2)
    local_all = [d for d in decisions.values() if d.is_local]
    local = [d for d in local_all if (d.status or RunStatus.COMPLETED) in _DONE]  # failed runs are no success
    saved = sum(
        d.tokens_saved if d.tokens_saved is not None else round((d.total_tokens_local or 0) / ratio)
        for d in local
    )
    # progression: each delegable task type of the plan, phase before the plan vs now
    starts = [t for t in (as_datetime(d.timestamp) for d in decisions.values()) if t]
    try:
        evaluations = effective_evaluations(list(store.read_evaluations(0).records))
    except Exception:
        evaluations = []
    progress = _Progress(
        thresholds, evaluations, min(starts) if starts else None, uses or {}, ensembles or {}
    )
    return WrapUp(
        plan_id=plan.id,
        meta_task=plan.meta_task,
        subtasks=len(plan.subtasks),
        local=len(local),
        local_tokens=sum(d.total_tokens_local or 0 for d in local_all),
        saved_tokens=saved,
        claude_tokens=sum(d.claude_tokens or 0 for d in decisions.values() if not d.is_local),
        debt=sum(1 for d in decisions.values() if rules.is_interim_claude(d)),
        ratio=ratio,
        progression=progress.of_plan(plan, local),
        open_rows=sum(
            1
            for r in plan.subtasks
            if str(getattr(r.status, "value", r.status)) in ("pending", "approved", "running")
        ),
    )


def _plan_decisions(store: Any, plan: Any) -> dict[str, RoutingDecision]:
    """The routing decisions of ``plan``'s rows (found with one search over the log)."""
    ids = {str(r.routing_id) for r in plan.subtasks if r.routing_id}
    raw = _scan_lines(Path(store.routing_log_path), [f'"{i}"' for i in ids] + [f'"{plan.id}"'])
    decisions: dict[str, RoutingDecision] = {}
    for line in raw:
        try:
            rec = RoutingDecision.model_validate_json(line)
        except Exception:
            continue
        if not rec.is_decision:
            continue
        if (rec.id and rec.id in ids) or rec.plan_id == plan.id:
            decisions[rec.id or f"line-{len(decisions)}"] = rec
    return decisions


class _Progress:
    """Each delegable task type of a plan: its ensemble's phase before the plan and now."""

    def __init__(
        self,
        thresholds: Any,
        evaluations: list[Any],
        start: Any,
        uses: dict[str, int],
        ensembles: dict[str, Any],
    ) -> None:
        self.t, self.evaluations, self.start, self.uses, self.ensembles = (
            thresholds,
            evaluations,
            start,
            uses,
            ensembles,
        )

    def of_plan(self, plan: Any, local: list[RoutingDecision]) -> list[Progression]:
        out: list[Progression] = []
        seen_types: set[str] = set()
        for row in plan.subtasks:
            tt = row.task_type
            cat = rules.as_delegability(row.delegability_category)
            if (
                not tt
                or tt in seen_types
                or cat not in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE)
            ):
                continue
            seen_types.add(tt)
            names = sorted({str(d.ensemble or d.routed_to) for d in local if d.task_type == tt})
            if not names:
                out.append(Progression(tt, None, None, Phase.DESIGN, "no ensemble yet; Claude as interim"))
            else:
                out.append(self._of_ensemble(tt, names[0]))
        return out

    def _of_ensemble(self, tt: str, ens: str) -> Progression:
        t, start = self.t, self.start
        scores_all = [e.score for e in self.evaluations if e.ensemble == ens]
        scores_before = [
            e.score
            for e in self.evaluations
            if e.ensemble == ens and start is not None and (as_datetime(e.timestamp) or start) < start
        ]
        before = (
            rules.lifecycle_status(scores_before, t, invocations=len(scores_before))
            if scores_before
            else None
        )
        after = rules.lifecycle_status(scores_all, t, invocations=self.uses.get(ens, len(scores_all)))
        reported = self.ensembles.get(ens)
        reported_phase = rules.as_phase(reported.get("phase")) if reported is not None else None
        if reported_phase is not None:
            after = dataclasses.replace(after, phase=reported_phase)
        if after.phase is Phase.CALIBRATE and after.calibration is not None:
            detail = f"{ens} {after.calibration.evaluated}/{t.calibration_period} evaluated"
            if after.calibration.fallback:
                detail += " · poor → Claude fallback"
        else:
            detail = ens
        return Progression(tt, ens, before.phase if before else Phase.DESIGN, after.phase, detail)
