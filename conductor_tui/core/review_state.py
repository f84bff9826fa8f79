"""What the review screens read: :class:`ReviewState` (one pass over the logs), the queue
item, and the evaluation helpers the pass and the screens share (one verdict per run, the
ensemble of an evaluation, the stable sampling draw)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    RoutingConfig,
    RoutingDecision,
    RunStatus,
    TaskProfiles,
    as_datetime,
)

FLAG_EVENT = "flagged-unsatisfactory"
JUDGES = {"claude", "judge", "claude-judge"}

ALL_RUNS_LIMIT = 500  # the "all runs" view shows the newest local runs, not a million rows
QUEUE_LIMIT = 1000  # runs needing an evaluation kept for the queue (the newest; flagged and
# judged runs are always kept)

_DONE = (RunStatus.COMPLETED, "done", "success")


def _ts(raw: Any) -> datetime | None:
    from conductor_tui.core.records import parse_timestamp

    return as_datetime(parse_timestamp(raw)) if raw else None


@dataclass
class ReviewState:
    """What the review screens need, read in one pass over the logs.

    ``decisions`` holds only the routing decisions the queue shows (materialised as full
    records); counts over the whole log are in ``uses`` / ``last_used`` (per ensemble),
    ``pairs`` (per task type + ensemble), ``debt`` (interim Claude work per task type)
    and ``total_runs``.  A million-line log therefore costs one fast ``msgspec`` pass,
    not a million pydantic records."""

    project: Path
    decisions: list[RoutingDecision] = field(default_factory=list)  # materialised decisions
    events: list[RoutingDecision] = field(default_factory=list)  # materialised non-decision entries
    evaluations: list[Evaluation] = field(default_factory=list)  # raw, file order
    config: RoutingConfig = field(default_factory=RoutingConfig)
    profiles: TaskProfiles = field(default_factory=TaskProfiles)
    skipped_routing: int = 0
    skipped_evaluations: int = 0
    problems: list[str] = field(default_factory=list)
    total_runs: int = 0  # local runs in the whole log (the "all runs" view shows the last ones)
    uses: dict[str, int] = field(default_factory=dict)  # ensemble → local runs
    last_used: dict[str, str] = field(default_factory=dict)  # ensemble → newest timestamp (raw)
    pairs: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (tt, ens) → [runs, last]
    debt: dict[str, int] = field(default_factory=dict)  # task type → interim Claude decisions
    flagged_ids: set[str] = field(default_factory=set)
    evaluations_end: tuple[int, int] = (0, 1)  # (byte offset, line number) after the evaluations read
    run_ensembles: dict[str, str] = field(default_factory=dict)  # routing id → ensemble (for evals)
    queue_due: list[QueueItem] = field(default_factory=list)
    queue_all: list[QueueItem] = field(default_factory=list)
    queue_total: int = 0  # runs needing an evaluation (queue_due keeps the newest QUEUE_LIMIT)
    linked: dict[str, Evaluation] = field(default_factory=dict)  # run id → evaluation naming no run
    agreement: Any = None  # core.agreement.AgreementReport (judge–human agreement)

    @property
    def runs(self) -> list[RoutingDecision]:
        """Local ensemble runs among the materialised decisions."""
        return [d for d in self.decisions if d.is_local]

    @property
    def flagged(self) -> set[str]:
        return self.flagged_ids | {str(e.routing_id) for e in self.events if e.event == FLAG_EVENT}

    def run(self, routing_id: str) -> RoutingDecision | None:
        index = self.__dict__.get("_index")
        if index is None or index[0] != len(self.decisions):
            index = (len(self.decisions), {d.id: d for d in self.decisions if d.id})
            self.__dict__["_index"] = index
        return index[1].get(routing_id)


def is_judge(ev: Evaluation) -> bool:
    """A judge's verdict awaiting the person (the cockpit's Claude judge writes
    ``judge_score``); a session's own ``record evaluation`` is a finished evaluation."""
    return (ev.evaluator or "").strip().lower() in JUDGES and (
        ev.judge_score is not None or ev.review == "pending"
    )


def effective_key(ev: Evaluation) -> Any:
    """What makes two evaluations verdicts on one run (the later replaces the earlier): its
    run id, else its ensemble + invocation number; ``None`` when it names neither."""
    key = ev.routing_id
    if not key and ev.ensemble and isinstance(ev.invocation_number, int):
        key = f"\1{ev.ensemble}#{ev.invocation_number}"  # names no run: ensemble + invocation
    return key or None


def effective_evaluations(evaluations: list[Evaluation]) -> list[Evaluation]:
    """One evaluation per run, in the position of its first record, with the latest verdict."""
    order: list[str] = []
    latest: dict[str, Evaluation] = {}
    loose: list[tuple[int, Evaluation]] = []
    for i, ev in enumerate(evaluations):
        key = effective_key(ev)
        if not key:
            loose.append((i, ev))
            order.append(f"\0{i}")
            continue
        if key not in latest:
            order.append(key)
        latest[key] = ev
    loose_map = {f"\0{i}": ev for i, ev in loose}
    return [loose_map[k] if k.startswith("\0") else latest[k] for k in order]


def ensemble_of(ev: Evaluation, state: ReviewState | None = None) -> str | None:
    if ev.ensemble:
        return ev.ensemble
    if state is not None and ev.routing_id:
        known = state.run_ensembles.get(str(ev.routing_id))
        if known is not None:
            return known
        run = state.run(ev.routing_id)
        if run is not None:
            return run.ensemble or run.routed_to
    return None


def run_ensemble(run: RoutingDecision) -> str:
    return str(run.ensemble or run.routed_to or "?")


def scores_for(
    state: ReviewState, ensemble: str, *, before: datetime | None = None, exclude: str | None = None
) -> list[Any]:
    out = []
    for ev in effective_evaluations(state.evaluations):
        if ensemble_of(ev, state) != ensemble or ev.routing_id == exclude:
            continue
        when = as_datetime(ev.timestamp)
        if before is not None and when is not None and when >= before:
            continue
        out.append(ev.score)
    return out


def status_for(
    state: ReviewState, ensemble: str, *, extra_score: Any = None, exclude: str | None = None
) -> rules.LifecycleStatus:
    scores = scores_for(state, ensemble, exclude=exclude)
    if extra_score is not None:
        scores.append(extra_score)
    uses = state.uses.get(ensemble, 0)
    return rules.lifecycle_status(scores, state.config.routing_thresholds, invocations=uses)


def stable_fraction(key: str) -> float:
    """A uniform draw in [0, 1) that is the same for the same run id (re-derived sampling)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class QueueItem:
    run: RoutingDecision
    ensemble: str
    invocation_number: int
    phase: EvalPhase
    reason: str
    judge: Evaluation | None = None
    flagged: bool = False

    @property
    def routing_id(self) -> str:
        return str(self.run.id)


def evaluation_queue(state: ReviewState, *, include_all: bool = False) -> list[QueueItem]:
    """Runs that still need a person's evaluation, oldest first (the newest
    :data:`QUEUE_LIMIT`); with ``include_all`` the newest :data:`ALL_RUNS_LIMIT` local runs.
    Computed by :func:`load_review` in its pass over the log."""
    return list(state.queue_all if include_all else state.queue_due)


def _label(value: Any) -> str:
    return str(getattr(value, "value", value))
