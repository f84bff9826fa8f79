"""Every ensemble's history, derived from the append-only logs (no Textual).

The logs are the source of truth (``task-profiles.yaml`` is a materialised view): this
module reads ``routing-log.jsonl`` and ``evaluations.jsonl`` once and answers, per
ensemble, how many runs completed, which run each evaluation belongs to, the lifecycle
phase (:class:`~conductor_tui.core.lifecycle.LifecycleTracker`), whether a session has
fallen back to Claude, and whether a failed ensemble has been revised since.

Identity: a line without ``id`` gets the stable :func:`~conductor_tui.core.records.line_identity`
of its content. Linking an evaluation to its run: its ``routing_id`` when that names a run;
otherwise the ensemble's run with the evaluation's ``invocation_number`` (the ordinal of the
run among the ensemble's completed runs); otherwise the ensemble's newest completed run at
or before the evaluation's timestamp. A later evaluation of the same run replaces the
earlier one (the person agreeing with or overriding the judge): one verdict per run.

Runs: only completed runs are invocations (they get the ordinal, use a calibration slot
and count as local successes); failed and cancelled runs are counted apart.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan, rules
from conductor_tui.core.lifecycle import LifecycleTracker
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    Phase,
    RoutingThresholds,
    RunStatus,
    as_datetime,
    line_identity,
    parse_timestamp,
)
from conductor_tui.core.schemas import HistoryLine as _Line

LIFECYCLE_EVENT = "lifecycle"
DONE = frozenset({RunStatus.COMPLETED, "done", "success"})
_DECISION_EVENTS = (None, "", "routing-decision", "routing")


_DECODE = msgspec.json.Decoder(_Line)


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _local(routed: Any) -> bool:
    target = (_s(routed) or "").lower()
    return bool(target) and not target.startswith("claude") and "|" not in target


def _when(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    try:
        return as_datetime(parse_timestamp(raw)) if raw else None
    except Exception:
        return None


def session_key(session: str | None, when: datetime | None = None) -> str:
    """The session a record belongs to: its id, else the calendar day (UTC) it was written
    on — a person working without session ids is one session per day."""
    if session:
        return str(session)
    day = (when or datetime.now(UTC)).astimezone(UTC).date().isoformat()
    return f"day:{day}"


@dataclass
class Run:
    """One local run (a routing decision sent to an ensemble)."""

    id: str
    ensemble: str
    task_type: str | None
    status: str
    timestamp: datetime | None
    session: str | None
    plan_id: str | None
    row_id: str | None
    invocation: int | None  # ordinal among the ensemble's completed runs; None if not completed
    sampled: bool | None = None

    @property
    def completed(self) -> bool:
        return self.invocation is not None


@dataclass
class EnsembleHistory:
    name: str
    thresholds: RoutingThresholds
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    task_types: Counter[str] = field(default_factory=Counter)
    last_used: datetime | None = None
    tracker: LifecycleTracker | None = None
    evaluations: list[Evaluation] = field(default_factory=list)  # effective, evaluation order
    run_times: list[tuple[float, int]] = field(default_factory=list)  # (ts, invocation) of completed runs
    failed_at: datetime | None = None  # when calibration failed (the failing evaluation)
    failed_digest: str | None = None  # the ensemble file's digest then (lifecycle event)

    def phase(self) -> Phase:
        assert self.tracker is not None
        return self.tracker.phase(self.completed)

    def status(self, *, generality_assessed: bool = False) -> rules.LifecycleStatus:
        assert self.tracker is not None
        return rules.status_from_tracker(
            self.tracker, self.completed, generality_assessed=generality_assessed
        )


class History:
    """The derived state of one project's logs (see the module docstring)."""

    def __init__(self, thresholds: RoutingThresholds | None = None) -> None:
        self.thresholds = thresholds or RoutingThresholds()
        self.runs: dict[str, Run] = {}
        self.by_invocation: dict[tuple[str, int], Run] = {}
        self.ensembles: dict[str, EnsembleHistory] = {}
        self.claude_by_type: Counter[str] = Counter()  # interim (delegable) Claude decisions
        self.claude_by_type_session: Counter[tuple[str, str]] = Counter()
        self.prepared_by_type: Counter[str] = Counter()  # ensemble-prepared Claude (see the glossary)
        self.evaluation_of: dict[str, Evaluation] = {}  # run id → its effective evaluation
        self.skipped_routing = 0
        self.skipped_evaluations = 0

    # ------------------------------------------------------------------ queries

    def ensemble(self, name: str) -> EnsembleHistory:
        hist = self.ensembles.get(name)
        if hist is None:
            hist = self.ensembles[name] = EnsembleHistory(name, self.thresholds)
            hist.tracker = LifecycleTracker(self.thresholds)
        return hist

    def phase(self, name: str) -> Phase:
        return self.ensemble(name).phase() if name in self.ensembles else Phase.CALIBRATE

    def fallback(self, name: str, session: str | None, when: datetime | None = None) -> bool:
        """True when a poor calibration score of ``name`` sends this session to Claude."""
        hist = self.ensembles.get(name)
        if hist is None or hist.tracker is None:
            return False
        return hist.tracker.fallback_for(session_key(session, when))

    def next_invocation(self, name: str) -> int:
        return (self.ensembles[name].completed if name in self.ensembles else 0) + 1

    def unlinked_number(self, name: str) -> int:
        """The invocation number of an evaluation that names no logged run: after every run
        and every evaluation of the ensemble seen so far."""
        eh = self.ensembles.get(name)
        return (max(eh.completed, len(eh.evaluations)) if eh is not None else 0) + 1

    def eval_phase(self, name: str, *, triggered: bool = False) -> EvalPhase:
        """The phase an evaluation of ``name`` is recorded under now."""
        if triggered:
            return EvalPhase.TRIGGERED
        phase = self.phase(name)
        if phase is Phase.ESTABLISH:
            return EvalPhase.ESTABLISH
        if phase in (Phase.TRUST, Phase.PROMOTE):
            return EvalPhase.TRUST
        return EvalPhase.CALIBRATE

    def ensembles_for(self, task_type: str) -> list[str]:
        """Ensembles that ran ``task_type``, most used first."""
        key = rules.task_type_key(task_type)
        found = [
            (h.task_types.get(task_type, 0) + (h.task_types.get(key, 0) if key != task_type else 0), n)
            for n, h in self.ensembles.items()
        ]
        return [n for c, n in sorted(found, key=lambda x: (-x[0], x[1])) if c > 0]

    def run_for_evaluation(self, ev: Evaluation) -> Run | None:
        """The run an evaluation belongs to (see the module docstring)."""
        rid = _s(ev.routing_id)
        if rid and rid in self.runs:
            return self.runs[rid]
        ens = _s(ev.ensemble)
        if ens is None:
            return None
        if isinstance(ev.invocation_number, int):
            run = self.by_invocation.get((ens, ev.invocation_number))
            if run is not None:
                return run
        when = _when(ev.timestamp)
        hist = self.ensembles.get(ens)
        if when is None or hist is None or not hist.run_times:
            return None
        i = bisect.bisect_right(hist.run_times, (when.timestamp(), 1 << 62)) - 1
        if i < 0:
            return None
        return self.by_invocation.get((ens, hist.run_times[i][1]))

    # ------------------------------------------------------------------ building

    def add_run(self, line: _Line, rid: str) -> None:
        ens = _s(line.ensemble) or _s(line.routed_to) or "?"
        hist = self.ensemble(ens)
        status = (_s(line.status) or RunStatus.COMPLETED).lower()
        when = _when(line.timestamp)
        tt = _s(line.task_type)
        invocation = None
        if status in DONE:
            hist.completed += 1
            invocation = hist.completed
            if when is not None:
                hist.run_times.append((when.timestamp(), invocation))
            if tt:
                hist.task_types[tt] += 1
            if when is not None and (hist.last_used is None or when > hist.last_used):
                hist.last_used = when
        elif status == RunStatus.CANCELLED:
            hist.cancelled += 1
        else:
            hist.failed += 1
        sampled = line.sampled_for_evaluation if isinstance(line.sampled_for_evaluation, bool) else None
        run = Run(
            rid,
            ens,
            tt,
            status,
            when,
            _s(line.session),
            _s(line.plan_id),
            _s(line.row_id),
            invocation,
            sampled,
        )
        self.runs[rid] = run
        if invocation is not None:
            self.by_invocation[(ens, invocation)] = run

    def add_claude(self, line: _Line) -> None:
        if line.preparation_tokens_local is not None:
            self.prepared_by_type[_s(line.task_type) or "(untyped)"] += 1
            return
        cat = rules.as_delegability(line.delegability_category)
        if cat in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE):
            tt = _s(line.task_type) or "(untyped)"
            self.claude_by_type[tt] += 1
            self.claude_by_type_session[(tt, session_key(_s(line.session), _when(line.timestamp)))] += 1

    def add_lifecycle_event(self, line: _Line) -> None:
        ens = _s(line.ensemble)
        if ens and _s(line.to) == Phase.DESIGN.value and line.ensemble_digest:
            self.ensemble(ens).failed_digest = str(line.ensemble_digest)

    def apply_evaluations(self, evaluations: list[Evaluation]) -> None:
        """Link every evaluation to its run, keep one verdict per run, feed the trackers."""
        order: list[str] = []
        latest: dict[str, tuple[Evaluation, Run | None, str]] = {}
        for ev in evaluations:
            run = self.run_for_evaluation(ev)
            ens = _s(ev.ensemble) or (run.ensemble if run is not None else None)
            if ens is None:
                continue
            key = f"run:{run.id}" if run is not None else f"ev:{ev.id}"
            if key not in latest:
                order.append(key)
            latest[key] = (ev, run, ens)
        for key in order:
            ev, run, ens = latest[key]
            hist = self.ensemble(ens)
            hist.evaluations.append(ev)
            if run is not None:
                self.evaluation_of[run.id] = ev
            score = rules.as_score(ev.score)
            when = _when(ev.timestamp)
            session = _s(ev.session) or (run.session if run is not None else None)
            uses = run.invocation if run is not None and run.invocation else hist.completed
            assert hist.tracker is not None
            change = hist.tracker.add(score, session=session_key(session, when), uses=uses)
            if change is not None and change.after is Phase.DESIGN:
                hist.failed_at = when


def _iter_lines(path: Path) -> Iterator[tuple[_Line | None, bytes]]:
    """(decoded line, raw bytes) for every non-blank line; ``None`` for a corrupt one."""
    for _n, line in logscan.numbered_lines(path):
        try:
            yield _DECODE.decode(line), line
        except (msgspec.DecodeError, msgspec.ValidationError):
            try:
                obj = json.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                yield None, line
                continue
            yield _Line(**{k: obj.get(k) for k in _Line.__struct_fields__}), line


_MEMO_LOCK = threading.Lock()
_MEMO: dict[str, tuple[tuple, History]] = {}  # routing log path → (file signatures, history)


def build_history(store: Any) -> History:
    """Read ``store``'s routing log and evaluations into a :class:`History`.

    Remembered while the routing log, the evaluations and the config are unchanged (same
    inode, size and mtime): the Lifecycle screen and the loop ask for it on every visit and
    every decision, and a million-line log takes seconds to read. Treat it as read-only."""
    path = str(Path(store.routing_log_path))
    key = tuple(
        logscan.file_signature(p) for p in (store.routing_log_path, store.evaluations_path, store.config_path)
    )
    with _MEMO_LOCK:
        found = _MEMO.get(path)
        if found is not None and found[0] == key:
            return found[1]
    hist = _read_history(store)
    with _MEMO_LOCK:
        _MEMO[path] = (key, hist)
    return hist


def _read_history(store: Any) -> History:
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:  # a broken config must not stop the loop; the defaults are the spec's
        thresholds = RoutingThresholds()
    hist = History(thresholds)
    path = Path(store.routing_log_path)
    if path.is_file():
        for line, raw in _iter_lines(path):
            if line is None:
                hist.skipped_routing += 1
                continue
            event = _s(line.event)
            if event == LIFECYCLE_EVENT:
                hist.add_lifecycle_event(line)
                continue
            if event not in _DECISION_EVENTS:
                continue
            if _local(line.routed_to):
                rid = _s(line.id) or line_identity("rd-", raw)
                hist.add_run(line, rid)
            else:
                hist.add_claude(line)
    for eh in hist.ensembles.values():
        eh.run_times.sort()
    try:
        read = store.read_evaluations(0)
        evaluations = list(read.records)
        hist.skipped_evaluations = len(read.skipped)
    except Exception:
        evaluations = []
    hist.apply_evaluations(evaluations)
    return hist
