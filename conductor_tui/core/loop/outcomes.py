"""What the loop's calls return: an admission verdict, a recorded run, an evaluation's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import Evaluation, Phase, RoutingDecision


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
