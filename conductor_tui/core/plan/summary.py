"""The plan's summary line: counts by category, ensembles to create, estimated savings; and
the complexity floor applied to a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core.plan.rows import CLAUDE, CREATE_ENSEMBLE, effective_handler
from conductor_tui.core.records import (
    Delegability,
    PlanRow,
    RoutingThresholds,
    RowStatus,
    WorkflowPlan,
)
from conductor_tui.core.rules import complexity_floor, default_ratio, estimate_claude_tokens

# --------------------------------------------------------------------------- summary


@dataclass
class PlanSummary:
    """The numbers of the spec's summary line."""

    agent: int = 0
    ensemble: int = 0
    claude: int = 0
    prepared: int = 0
    unclassified: int = 0
    local: int = 0
    total: int = 0
    rejected: int = 0
    pending: int = 0
    approved: int = 0
    to_create: list[str] = field(default_factory=list)
    create_uses: dict[str, int] = field(default_factory=dict)
    estimated_savings: int = 0

    @property
    def local_percent(self) -> int:
        return round(100 * self.local / self.total) if self.total else 0

    def line(self) -> str:
        text = (
            f"{self.agent} agent-delegable, {self.ensemble} ensemble-delegable, "
            f"{self.claude} Claude-only ({self.prepared} ensemble-prepared) ({self.local_percent}% local)"
        )
        if self.unclassified:
            text += f", {self.unclassified} unclassified"
        return text

    def create_line(self) -> str:
        if not self.to_create:
            return "Ensembles to create: none"
        parts = []
        for name in self.to_create:
            uses = self.create_uses.get(name) or 0
            parts.append(f"{name} ({uses} uses)" if uses else name)
        return "Ensembles to create: " + ", ".join(parts)

    def savings_line(self) -> str:
        return f"Estimated token savings: ~{self.estimated_savings:,} tokens"

    def decisions_line(self) -> str:
        return f"{self.approved} approved · {self.rejected} rejected · {self.pending} pending"


def local_to_claude_ratio(thresholds: Any = None) -> float:
    """The local→Claude token ratio of the routing config (:func:`rules.default_ratio`); the
    config's default when ``thresholds`` is absent or holds no positive ratio."""
    if isinstance(thresholds, RoutingThresholds) and thresholds.local_to_claude_token_ratio > 0:
        return default_ratio(thresholds).ratio
    return default_ratio(RoutingThresholds()).ratio


def worth_planning(plan: WorkflowPlan, thresholds: Any = None) -> tuple[bool, str]:
    """The complexity floor (:func:`rules.complexity_floor`) over the rows not rejected."""
    rows = [r for r in plan.subtasks if r.status != RowStatus.REJECTED]
    delegable = sum(1 for r in rows if r.delegability_category in (Delegability.AGENT, Delegability.ENSEMBLE))
    t = thresholds if isinstance(thresholds, RoutingThresholds) else RoutingThresholds()
    decision = complexity_floor(len(rows), delegable, t)
    return decision.plan, decision.reason


def estimated_claude_tokens(row: PlanRow, ratio: float | None = None) -> int | None:
    """What Claude would spend on the row: given, or :func:`rules.estimate_claude_tokens`."""
    if row.estimated_claude_tokens is not None:
        return row.estimated_claude_tokens
    if row.estimated_local_tokens is not None:
        return estimate_claude_tokens(row.estimated_local_tokens, ratio or local_to_claude_ratio())
    return None


def summarize(plan: WorkflowPlan, ratio: float | None = None) -> PlanSummary:
    """Counts over the rows that are not rejected."""
    ratio = ratio or local_to_claude_ratio()
    out = PlanSummary()
    create: dict[str, int] = {}  # task type → expected uses (the design priority)
    for row in plan.subtasks:
        if row.status == RowStatus.REJECTED:
            out.rejected += 1
            continue
        if row.status == RowStatus.PENDING:
            out.pending += 1
        else:
            out.approved += 1
        out.total += 1
        category = row.delegability_category
        if category == Delegability.AGENT:
            out.agent += 1
        elif category == Delegability.ENSEMBLE:
            out.ensemble += 1
        elif category == Delegability.CLAUDE:
            out.claude += 1
        else:
            out.unclassified += 1
        handler = effective_handler(row)
        if handler == CLAUDE:
            if row.preparation_ensemble:
                out.prepared += 1
            continue
        out.local += 1
        if handler == CREATE_ENSEMBLE:
            key = row.task_type or row.description[:40]
            create[key] = create.get(key, 0) + (row.expected_repetitions or 0)
        saved = estimated_claude_tokens(row, ratio)
        if saved:
            out.estimated_savings += saved
    # Sequence ensemble requests by expected repetitions (higher first).
    out.to_create = sorted(create, key=lambda k: -create[k])
    out.create_uses = dict(create)
    return out
