"""Reading a project's :class:`~conductor_tui.core.history_model.History` (see
:mod:`~conductor_tui.core.history`): :func:`build_history` remembers the last one per routing
log, reads it from the start (:func:`_read_history`), or goes on from the remembered one over
lines appended to the logs since (:func:`_continue`)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from conductor_tui.core import logscan
from conductor_tui.core.history_model import History, _apply_pieces
from conductor_tui.core.history_scan import PieceFacts, _s, scan_pieces
from conductor_tui.core.history_tail import Mark, Tail, appended, signatures
from conductor_tui.core.history_verdicts import go_on
from conductor_tui.core.records import Evaluation, RoutingThresholds

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
