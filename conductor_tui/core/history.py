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

Reading (:mod:`~conductor_tui.core.history_scan`): the routing log is read on every core into
per-ensemble counts; of the runs themselves only those the evaluations name are built then.
Any other run is built when first asked for — by ordinal from its place in the log (one block), or
all of them when :attr:`History.runs` / :attr:`History.by_invocation` is read — so the
Lifecycle screen and the loop's decisions, which need counts and phases, never build a
million run objects. A run named by id that the scan did not build is found by its id's text
(:func:`~conductor_tui.core.history_scan.find_run`; every run is built only when no line
spells it).

Appending (:func:`build_history`): the history read last is remembered, and when lines were
only appended to the logs since (:mod:`~conductor_tui.core.history_tail`), the next build goes
on from it — the appended routing bytes are scanned as one more piece, the appended
evaluations read from where the last read stopped — into a new :class:`History` equal to one
read from the start. The evaluations' part is derived again from all of them when routing lines
were appended (a new run can change which run an earlier evaluation belongs to); when only
evaluations were, only for the ensembles they touch (:mod:`~conductor_tui.core.history_verdicts`).
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import logscan, rules
from conductor_tui.core.history_scan import (
    DONE,
    LIFECYCLE_EVENT,
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
    scan_pieces,
    session_key,
)
from conductor_tui.core.history_tail import Mark, Tail, appended, signatures
from conductor_tui.core.history_verdicts import Verdicts, apply_all, go_on
from conductor_tui.core.lifecycle import LifecycleTracker
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    Phase,
    RoutingThresholds,
    RunStatus,
)
from conductor_tui.core.schemas import HistoryLine as _Line

__all__ = ["DONE", "LIFECYCLE_EVENT", "EnsembleHistory", "History", "Run", "build_history", "session_key"]


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


_MEMO_LOCK = threading.Lock()
_MEMO: dict[str, tuple[tuple, History]] = {}  # routing log path → (file signatures, history)


def build_history(store: Any) -> History:
    """Read ``store``'s routing log and evaluations into a :class:`History`.

    Remembered while the routing log, the evaluations and the config are unchanged (same
    inode, size and mtime): the Lifecycle screen and the loop ask for it on every visit and
    every decision, and a million-line log takes seconds to read. After lines were only
    appended to the logs, the remembered history goes on over them (:func:`_continue`: a new
    object, equal to a read from the start). Treat it as read-only."""
    path = str(Path(store.routing_log_path))
    key = signatures(store)
    with _MEMO_LOCK:
        found = _MEMO.get(path)
    if found is not None and found[0] == key:
        return found[1]
    hist = _continue(store, found[1]) if found is not None else None
    if hist is None:
        hist = _read_history(store)
    with _MEMO_LOCK:
        _MEMO[path] = (key, hist)
    return hist


def _read_history(store: Any) -> History:
    config = logscan.file_signature(store.config_path)
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:  # a broken config must not stop the loop; the defaults are the spec's
        thresholds = RoutingThresholds()
    hist = History(thresholds)
    evaluations_path = Path(store.evaluations_path)
    evaluations_sig = logscan.file_signature(evaluations_path)
    evaluations_mark, next_line = None, 1
    try:
        read = store.read_evaluations(0)
        evaluations = list(read.records)
        hist.skipped_evaluations = len(read.skipped)
        evaluations_mark = Mark.after(evaluations_path, evaluations_sig, read.end_offset)
        next_line = read.next_line
    except Exception:
        evaluations = []
    path = Path(store.routing_log_path)
    sig = logscan.file_signature(path)
    routing_mark = None
    if sig is not None and path.is_file():
        wanted = frozenset(filter(None, (_s(ev.routing_id) for ev in evaluations)))
        _apply_pieces(hist, scan_pieces(path, wanted, 0, sig[1]))
        hist._source, hist._wanted, hist._end = path, wanted, sig[1]
        routing_mark = Mark.after(path, sig, sig[1])
    for eh in hist.ensembles.values():
        eh.run_times.sort()
    tail = None
    if routing_mark is not None and evaluations_mark is not None:
        tail = Tail(routing_mark, evaluations_mark, next_line, config)
    _finish(hist, evaluations, tail)
    return hist


def _finish(
    hist: History, evaluations: list[Evaluation], tail: Tail | None, old: History | None = None
) -> None:
    """The log's facts are in ``hist``: remember them, then the evaluations' part — from
    ``old``'s when ``old`` read the same routing log and the evaluations before the last
    ones (:func:`~conductor_tui.core.history_verdicts.go_on`)."""
    hist._log_names = tuple(hist.ensembles)
    hist._evaluations = evaluations
    hist._tail = tail
    if old is not None:
        verdicts = go_on(hist, old, evaluations[len(old._evaluations) :])
        if verdicts is not None:
            hist._verdicts = verdicts
            return
    hist.apply_evaluations(evaluations)


def _continue(store: Any, old: History) -> History | None:
    """``old`` gone on over the lines appended to the logs since it was read: the log's facts
    go on from where ``old``'s stopped (the appended bytes are one more piece), the
    evaluations' part is derived again from all the evaluations, or only for the ensembles
    the appended ones touch when the routing log is the same (:func:`_finish`). ``None`` unless lines
    were only appended (:func:`~conductor_tui.core.history_tail.appended`). ``old`` is
    shared: it is only read, and of its lists only those no build changes are shared."""
    tail = old._tail
    if tail is None or appended(store, tail) is None:
        return None
    path = Path(store.routing_log_path)
    sig = logscan.file_signature(path)
    start = tail.routing.offset
    if sig is None or sig[1] < start:
        return None
    read = _appended_evaluations(store, old, tail)
    if read is None:
        return None
    evaluations, skipped, evaluations_mark, next_line = read
    new = History(old.thresholds)
    new._source, new._end = path, sig[1]
    wanted = old._wanted | _named(evaluations[len(old._evaluations) :])  # (old's: known, below)
    known = _carry_runs(old, new, wanted, evaluations)
    pieces = scan_pieces(path, wanted | known, start, sig[1]) if sig[1] > start else []
    built = len(new._built)
    _carry_log_facts(old, new, pieces)
    new._wanted = known | {run.id for run in new._built[built:]}
    new.skipped_evaluations = skipped
    routing_mark = Mark.after(path, sig, sig[1])
    next_tail = None
    if routing_mark is not None and evaluations_mark is not None:
        next_tail = Tail(routing_mark, evaluations_mark, next_line, tail.config)
    _finish(new, evaluations, next_tail, old if sig[1] == start else None)
    return new


def _named(evaluations: list[Evaluation]) -> frozenset[str]:
    """The run ids ``evaluations`` name."""
    return frozenset(filter(None, (_s(ev.routing_id) for ev in evaluations)))


def _carry_runs(
    old: History, new: History, wanted: frozenset[str], evaluations: list[Evaluation]
) -> frozenset[str]:
    """The runs ``old`` built into ``new``; returns the ids whose runs in the log ``old`` read
    are known: those its scan built or found by id (every id its evaluations name is one of
    them), or, when ``old`` built every run, ``wanted`` and every id ``evaluations`` name (an
    id without text then stays known, not looked for again)."""
    with old._lock:
        every = old._runs if old._source is None else None
        found, by_invocation = dict(old._found), dict(old._by_invocation)
        if every is None:  # its runs are those its scan built and those found by id
            new._built = [*old._built, *found.values()]
            new._runs = dict(old._runs)
            # with every ordinal of them (and of the runs built by ordinal since: the log
            # before the appended lines is the same)
            new._by_invocation = by_invocation
            return old._wanted | found.keys()
    known = wanted | _named(evaluations)
    carried = [run for rid in known if (run := every.get(rid)) is not None]
    for run in carried:
        new._built.append(run)
        new._runs[run.id] = run
        if run.invocation is not None:
            new._by_invocation[(run.ensemble, run.invocation)] = run
    # the runs built by ordinal since: the log before the appended lines is the same
    new._by_invocation.update(by_invocation)
    return known


def _appended_evaluations(
    store: Any, old: History, tail: Tail
) -> tuple[list[Evaluation], int, Mark | None, int] | None:
    """All the evaluations (``old``'s and those appended since), the skipped lines among
    them, the mark of the read and its next line number; ``None`` when the read failed."""
    mark = tail.evaluations
    path = Path(store.evaluations_path)
    sig = logscan.file_signature(path)
    if sig is None or sig[1] == mark.offset:  # nothing appended (a file still missing)
        return old._evaluations, old.skipped_evaluations, mark, tail.next_line
    try:
        read = store.read_evaluations(mark.offset, first_line=tail.next_line)
    except Exception:
        return None
    return (
        [*old._evaluations, *read.records],
        old.skipped_evaluations + len(read.skipped),
        Mark.after(path, sig, read.end_offset),
        read.next_line,
    )


def _carry_log_facts(old: History, new: History, pieces: list[PieceFacts]) -> None:
    """``old``'s facts of the log into ``new`` (its ensembles in the log's order, the
    Claude counters), then those of the appended ``pieces``. Lists an appended piece adds
    to are copied; the others are shared (no build changes them once it is done)."""
    touched = {name for part in pieces for name in part.ensembles}
    sizes: dict[str, int] = {}
    for name in old._log_names:
        was, eh = old.ensembles[name], new.ensemble(name)
        eh.completed, eh.failed, eh.cancelled = was.completed, was.failed, was.cancelled
        eh.last_used, eh.failed_digest = was.last_used, was.failed_digest
        if name in touched:
            eh.task_types, eh.run_times, eh.offsets = (
                Counter(was.task_types),
                list(was.run_times),
                list(was.offsets),
            )
            sizes[name] = len(eh.run_times)
        else:
            eh.task_types, eh.run_times, eh.offsets = was.task_types, was.run_times, was.offsets
    new.claude_by_type = Counter(old.claude_by_type)
    new.claude_by_type_session = Counter(old.claude_by_type_session)
    new.prepared_by_type = Counter(old.prepared_by_type)
    new.skipped_routing = old.skipped_routing
    _apply_pieces(new, pieces)
    for name in touched:  # sorted as a read from the start sorts them: only the new ones, when they follow
        times = new.ensembles[name].run_times
        k = sizes.get(name, 0)
        added = times[k:]
        if added != sorted(added) or (k and added and added[0] < times[k - 1]):
            times.sort()
