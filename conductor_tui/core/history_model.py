"""The derived state of a project's logs (see :mod:`~conductor_tui.core.history`, which reads
it — :func:`~conductor_tui.core.history.build_history` — and says what it holds): each run,
each ensemble's history, the project's :class:`History`, and how the scan's pieces are
added into it (:func:`_apply_pieces`)."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from conductor_tui.core import rules
from conductor_tui.core.history_scan import (
    DONE,
    PieceFacts,
    _count_claude,
    _design_digest,
    _run_fields,
    _s,
    _when,
    all_runs,
    find_run,
    ordinal_at,
    read_run_at,
    session_key,
)
from conductor_tui.core.history_tail import Tail
from conductor_tui.core.history_verdicts import Verdicts, apply_all
from conductor_tui.core.lifecycle import LifecycleTracker
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    Phase,
    RoutingThresholds,
    RunStatus,
)
from conductor_tui.core.schemas import HistoryLine as _Line


@dataclass(slots=True)
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
    offsets: list[int] = field(default_factory=list)  # byte offset of each completed run, in order

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
        self._runs: dict[str, Run] = {}
        self._by_invocation: dict[tuple[str, int], Run] = {}
        # read from a log (build_history): the runs are built when asked for (module docstring)
        self._source: Path | None = None
        self._end = 0  # the bytes of the log read
        self._wanted: frozenset[str] = frozenset()  # ids whose runs were built by the scan
        self._built: list[Run] = []  # those runs, in file order (never changed once built)
        self._found: dict[str, Run] = {}  # runs found by their id since (find_run)
        self._lock = threading.Lock()
        self._blocks: dict[int, list[bytes]] = {}  # split blocks of the log (read_run_at)
        # what the next build goes on from (_continue): the read's end, the evaluations read,
        # the ensembles that the log names (first in ``ensembles``)
        self._tail: Tail | None = None
        self._evaluations: list[Evaluation] = []
        self._log_names: tuple[str, ...] = ()
        self._verdicts: Verdicts | None = None  # the evaluations' links (history_verdicts)
        self.ensembles: dict[str, EnsembleHistory] = {}
        self.claude_by_type: Counter[str] = Counter()  # interim (delegable) Claude decisions
        self.claude_by_type_session: Counter[tuple[str, str]] = Counter()
        self.prepared_by_type: Counter[str] = Counter()  # ensemble-prepared Claude (see the glossary)
        self.evaluation_of: dict[str, Evaluation] = {}  # run id → its effective evaluation
        self.skipped_routing = 0
        self.skipped_evaluations = 0

    # ------------------------------------------------------------------ runs

    @property
    def runs(self) -> dict[str, Run]:
        """Run id → run, every local run of the log (built on first use)."""
        self._complete()
        return self._runs

    @property
    def by_invocation(self) -> dict[tuple[str, int], Run]:
        """(ensemble, ordinal) → completed run (built on first use)."""
        self._complete()
        return self._by_invocation

    def _complete(self) -> None:
        if self._source is None:
            return
        with self._lock:
            if self._source is None:
                return
            runs: dict[str, Run] = {}
            by_invocation: dict[tuple[str, int], Run] = {}
            for fields, ordinal in all_runs(self._source, self._end):
                run = _make_run(fields, ordinal)
                runs[run.id] = run
                if ordinal is not None:
                    by_invocation[(run.ensemble, ordinal)] = run
            self._runs, self._by_invocation = runs, by_invocation
            self._source = None

    def run(self, rid: str) -> Run | None:
        """The run with id ``rid`` (as ``runs.get(rid)``, without building every run)."""
        return self._run_by_id(rid)

    def run_at(self, ensemble: str, n: int) -> Run | None:
        """The ensemble's ``n``-th completed run (as ``by_invocation.get``, without building every run)."""
        return self._run_at(ensemble, n)

    def _run_by_id(self, rid: str) -> Run | None:
        if self._source is not None and rid not in self._wanted and not self._look_up(rid):
            self._complete()
        return self._runs.get(rid)

    def _look_up(self, rid: str) -> bool:
        """Build the run ``rid`` from the one line that spells its id (:func:`find_run`);
        ``False`` when no line does (then only reading every run tells)."""
        with self._lock:
            source = self._source
            if source is None or rid in self._found:
                return True
            hit = find_run(source, rid, self._end)
            if hit is None:
                return False
            fields, start = hit
            ordinal = None
            if fields[3] in DONE:
                eh = self.ensembles.get(fields[0])
                ordinal = None if eh is None else ordinal_at(source, eh.offsets, start)
                if ordinal is None:
                    return False
            run = self._found[rid] = self._runs[rid] = _make_run(fields, ordinal)
            if ordinal is not None:
                self._by_invocation[(run.ensemble, ordinal)] = run
            return True

    def _run_at(self, ens: str, n: int) -> Run | None:
        run = self._by_invocation.get((ens, n))
        source = self._source
        if run is not None or source is None:
            return run
        eh = self.ensembles.get(ens)
        if eh is None or not 1 <= n <= len(eh.offsets):
            return None
        fields = read_run_at(source, eh.offsets[n - 1], self._blocks)
        if fields is None:  # the file changed under us: read it all
            self._complete()
            return self._by_invocation.get((ens, n))
        run = _make_run(fields, n)
        with self._lock:
            self._by_invocation[(ens, n)] = run
        return run

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
        if rid:
            run = self._run_by_id(rid)
            if run is not None:
                return run
        ens = _s(ev.ensemble)
        if ens is None:
            return None
        if isinstance(ev.invocation_number, int):
            run = self._run_at(ens, ev.invocation_number)
            if run is not None:
                return run
        when = _when(ev.timestamp)
        hist = self.ensembles.get(ens)
        if when is None or hist is None or not hist.run_times:
            return None
        i = bisect.bisect_right(hist.run_times, (when.timestamp(), 1 << 62)) - 1
        if i < 0:
            return None
        return self._run_at(ens, hist.run_times[i][1])

    # ------------------------------------------------------------------ building

    def add_run(self, line: _Line, rid: str) -> None:
        self.add_parsed_run(_run_fields(line, rid))

    def add_parsed_run(self, fields: tuple) -> None:
        """A run from :func:`_run_fields` (the form the parallel scan hands back)."""
        ens, rid, tt, status, when, session, plan_id, row_id, sampled = fields
        hist = self.ensemble(ens)
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
        self._complete()
        run = Run(rid, ens, tt, status, when, session, plan_id, row_id, invocation, sampled)
        self._runs[rid] = run
        if invocation is not None:
            self._by_invocation[(ens, invocation)] = run

    def add_claude(self, line: _Line) -> None:
        _count_claude(line, self.prepared_by_type, self.claude_by_type, self.claude_by_type_session)

    def add_lifecycle_event(self, line: _Line) -> None:
        found = _design_digest(line)
        if found is not None:
            self.ensemble(found[0]).failed_digest = found[1]

    def apply_evaluations(self, evaluations: list[Evaluation]) -> None:
        """Link every evaluation to its run, keep one verdict per run, feed the trackers
        (:mod:`~conductor_tui.core.history_verdicts`)."""
        self._verdicts = apply_all(self, evaluations)


def _make_run(fields: tuple, ordinal: int | None) -> Run:
    ens, rid, tt, status, when, session, plan_id, row_id, sampled = fields
    return Run(rid, ens, tt, status, when, session, plan_id, row_id, ordinal, sampled)


def _apply_pieces(hist: History, parts: list[PieceFacts]) -> None:
    """The pieces' facts into ``hist``, in file order: the same counts, ordinals and order
    of ensembles as one sequential pass."""
    for part in parts:
        base: dict[str, int] = {}
        for name, (completed, failed, cancelled, task_types, last, times, offsets) in part.ensembles.items():
            eh = hist.ensemble(name)
            base[name] = done = eh.completed
            eh.completed += completed
            eh.failed += failed
            eh.cancelled += cancelled
            eh.task_types.update(task_types)
            if last is not None and (eh.last_used is None or last > eh.last_used):
                eh.last_used = last
            eh.run_times.extend([(ts, done + k) for ts, k in times] if done else times)
            eh.offsets.extend(offsets)
        for name, digest in part.digests:
            hist.ensembles[name].failed_digest = digest
        for fields, ordinal in part.wanted:
            run = _make_run(fields, None if ordinal is None else base[fields[0]] + ordinal)
            hist._built.append(run)
            hist._runs[run.id] = run
            if run.invocation is not None:
                hist._by_invocation[(run.ensemble, run.invocation)] = run
        hist.prepared_by_type.update(part.prepared)
        hist.claude_by_type.update(part.by_type)
        hist.claude_by_type_session.update(part.by_type_session)
        hist.skipped_routing += part.skipped
