"""The Lifecycle screen's counts (uses and last use per task type + ensemble, local runs,
debt, the ensemble of the runs an evaluation names without its ensemble) read from the
routing log split at line boundaries, one piece per core (:func:`read_counts_split`): each
piece decodes only the fields the counts read and counts a block of records with a few
C-level passes (:class:`_CountPiece`); the pieces' counts are added up
(``review_collect.merge_counts``). Same result as the pass's own per-record loop over the
same bytes (``_ReviewPass.feed`` with ``counts_only``), which takes the blocks read line by line.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import Counter
from collections.abc import Callable
from itertools import compress, islice, repeat
from operator import attrgetter, is_not, le
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan
from conductor_tui.core.interning import InterningDecoder
from conductor_tui.core.records import RunStatus
from conductor_tui.core.review_collect import merge_counts
from conductor_tui.core.review_pass import _DECISION_EVENTS, _ReviewPass
from conductor_tui.core.review_read import (
    _ID,
    _feed_per_line,
    _read_routing,
    no_collection,
    routing_ids_named,
    split_ranges,
)
from conductor_tui.core.review_state import _DONE, ReviewState

_PER_LINE_BYTES = 1 << 13  # a piece's block that is not all clean records is halved down to this size


class _CountLine(msgspec.Struct, gc=False):
    """The routing-log fields the counts read. Typed as in ``ReviewLine`` or stricter
    (``delegability_category`` as ``str | None``, a key of the counts): a line this decoder
    rejects is read line by line through ``ReviewLine`` as before, and one it accepts
    ``ReviewLine`` reads the same."""

    id: str | None = None
    timestamp: Any = None
    event: str | None = None
    task_type: str | None = None
    routed_to: str | None = None
    ensemble: str | None = None
    status: str | None = None
    delegability_category: str | None = None
    preparation_tokens_local: Any = None


_COUNT_INTERNED = ("event", "routed_to", "task_type", "ensemble", "status", "delegability_category")
_COUNT_KEY = attrgetter(*_COUNT_INTERNED)
_TS = attrgetter("timestamp")
_PREP = attrgetter("preparation_tokens_local")


class _CountPiece:
    """A piece's counts alone — local runs, uses and last use per task type + ensemble,
    debt, the ensemble of the runs ``review.need`` names —, fed by :func:`_read_routing`
    like a ``counts_only`` :class:`_ReviewPass`, with the same result. A block of clean
    records is counted with C-level passes over it (its records grouped by their distinct
    ``(event, target, task type, ensemble, status, category)``, each key classified once);
    the records of a block read line by line take the pass's own loop. The ids matter only
    for ``need``: without it a block whose lines lack ids is not read line by line."""

    def __init__(self, review: _ReviewPass) -> None:
        self.review = review
        self.need: set[str] = set(review.need)
        self.ids_needed = bool(self.need)
        self.decode_lines = InterningDecoder(_CountLine, _COUNT_INTERNED).decode_lines
        self.offset, self.tail = 0, False
        self.pairs: dict[tuple[str, str], list[Any]] = {}
        self.debt: dict[str, int] = {}
        self.run_ensembles: dict[str, str] = {}
        self.runs = 0
        self.index: dict[tuple, int] = {}  # key → its number (the position in ``kinds``)
        # per key: (its pair's [uses, last use] when a local run, else None; completed;
        # the task type its debt goes to when an interim Claude decision, else None; ensemble)
        self.kinds: list[tuple[Any, bool, str | None, str]] = []
        slow = self.slow = copy.copy(review)  # the pass's loop, for records read line by line
        slow.pairs, slow.debt, slow.total_runs, slow.counts_only = self.pairs, self.debt, 0, True
        slow.state = copy.copy(review.state)
        slow.state.run_ensembles = self.run_ensembles

    def _classify(self, key: tuple) -> None:
        """What ``_ReviewPass.feed`` decides for a record with this key (before its debt's
        ``preparation_tokens_local`` check, done per record)."""
        event, routed, tt, ens, status, category = key
        kind: tuple[Any, bool, str | None, str] = (None, False, None, "")
        if event is None or event in _DECISION_EVENTS:
            review = self.review
            local = review.local_cache.get(routed)
            if local is None:
                local = review._is_local(routed)
            tt = tt or "(untyped)"
            if local:
                ens = ens or routed or ""
                pair = self.pairs.get((tt, ens))
                if pair is None:
                    pair = self.pairs[(tt, ens)] = [0, None]
                kind = (pair, (status or RunStatus.COMPLETED) in _DONE, None, ens)
            elif review._delegable(category):
                kind = (None, False, tt, "")
        self.index[key] = len(self.kinds)
        self.kinds.append(kind)

    def feed(self, recs: list[Any], offset: int, plen: int, first_idx: int = 0, step: Any = None) -> None:
        if step is not None or first_idx:  # read line by line: any value, the pass's loop
            self.slow.feed(recs, offset, plen, first_idx, step)
            return
        if not recs:
            return
        index, kinds, debt = self.index, self.kinds, self.debt
        get = index.get
        # (attribute reads in a comprehension are cheaper than an attrgetter of six)
        looked = [
            get((r.event, r.routed_to, r.task_type, r.ensemble, r.status, r.delegability_category))
            for r in recs
        ]
        if None in looked:  # classified in file order: the pairs are listed as they appear
            for key in dict.fromkeys(map(_COUNT_KEY, recs)):
                if key not in index:
                    self._classify(key)
            looked = list(map(index.__getitem__, map(_COUNT_KEY, recs)))
        kids: list[int] = looked  # type: ignore[assignment]  # no None left
        runs = 0
        debts: dict[int, int] = {}  # key → its decisions in this block that are debt
        for k, n in Counter(kids).items():
            pair, done, debt_tt, _ens = kinds[k]
            if pair is not None:
                runs += n
                if done:
                    pair[0] += n  # uses: completed runs only
            elif debt_tt is not None:
                debts[k] = n
        self.runs += runs
        if debts:
            preps = list(map(_PREP, recs))
            if preps.count(None) != len(preps):  # no debt for a decision the ensemble prepared
                for k in compress(kids, map(is_not, preps, repeat(None))):
                    if k in debts:
                        debts[k] -= 1
            for k, n in debts.items():
                tt = kinds[k][2]
                if n and tt is not None:
                    debt[tt] = debt.get(tt, 0) + n
        self._latest(kids, list(map(_TS, recs)))
        if self.ids_needed:
            ids = list(map(_ID, recs))
            found = self.need.intersection(ids)
            for i in compress(range(len(ids)), map(found.__contains__, ids)) if found else ():
                pair, _done, _tt, ens = kinds[kids[i]]
                if pair is not None:
                    self.run_ensembles[ids[i]] = ens

    def _latest(self, kids: list[int], tss: list[Any]) -> None:
        """The newest timestamp (text) of each key's completed local runs into its pair."""
        try:  # in file order, all text: the last of each key is its newest
            ordered = tss[0].__class__ is str and all(map(le, tss, islice(tss, 1, None)))
        except TypeError:  # a value that is not text among them (text compares only with text)
            ordered = False
        if ordered:
            latest = dict(zip(kids, tss, strict=True))
        else:
            latest = {}
            for k, ts in zip(kids, tss, strict=True):
                if ts.__class__ is str and (k not in latest or ts > latest[k]):
                    latest[k] = ts
        kinds = self.kinds
        for k, ts in latest.items():
            pair, done = kinds[k][:2]
            if done and (pair[1] is None or ts > pair[1]):
                pair[1] = ts

    def feed_block(self, piece: bytes, offset: int) -> int:
        """A block of whole lines (see :func:`_feed_counted`); returns its skipped lines."""
        return _feed_counted(self, piece, offset)

    def counts(self, skipped: int) -> tuple[Any, ...]:
        """What :func:`merge_counts` adds up."""
        runs = self.runs + self.slow.total_runs
        return skipped, self.offset, self.tail, self.pairs, self.debt, runs, self.run_ensembles


def _read_counts(job: tuple[_ReviewPass, Path, int, int | None]) -> tuple[Any, ...]:
    review, path, start, end = job
    piece = _CountPiece(review)
    with no_collection():
        skipped = _read_routing(path, piece, start, end)
    return piece.counts(skipped)


def _counts_or_meanwhile(job: Any) -> Any:
    return job() if callable(job) else _read_counts(job)


def read_counts_split(
    path: Path, review: _ReviewPass, start: int = 0, meanwhile: Callable[[], Any] | None = None
) -> int:
    """:func:`_read_routing` of a ``counts_only`` pass from ``start``, the bytes split at line
    boundaries into one piece per core (the counts of the pieces add up: runs and debt are
    summed, the last use is the newest). Returns the skipped lines; same result as one read.
    ``meanwhile`` runs here while forked workers read every piece (else before the read).
    Workers :func:`prefetch_counts` started for this read are taken when they still fit."""
    early = _take_prefetch(path, start, review)
    if early is not None:
        if meanwhile is not None:
            meanwhile()
        return merge_counts(review, early.join())
    ranges = split_ranges(path, start)
    if not ranges:
        if meanwhile is not None:
            meanwhile()
        return merge_counts(review, [_read_counts((review, path, start, None))])
    jobs: list[Any] = [(review, path, a, b) for a, b in ranges]
    if meanwhile is not None:
        jobs.append(meanwhile)
    parts = logscan.fork_map(_counts_or_meanwhile, jobs)
    return merge_counts(review, parts[: len(ranges)])


# --------------------------------------------------------------------------- started ahead


class _Prefetch:
    """Counts' workers started ahead of the read that will want them: their job, and what
    they read (the log's signature then, the runs whose ensemble they record)."""

    def __init__(self, job: logscan.ForkJob, signature: Any, need: set[str]) -> None:
        self.job, self.signature, self.need = job, signature, need


_PREFETCHED: dict[str, _Prefetch] = {}  # routing log path → its workers started ahead
_PREFETCH_LOCK = threading.Lock()


def prefetch_counts(store: Any) -> bool:
    """Start the workers of the counts of ``store``'s whole routing log now (the Lifecycle
    screen, as it is built, before its first load): the next :func:`read_counts_split` from
    the start takes their result when the log and the runs to look up (the evaluations'
    ids) are still what they read, else stops them. The counts need neither the config nor
    the evaluations. ``False`` when nothing was started (a log one process reads, ids that
    cannot be read)."""
    path = Path(store.routing_log_path)
    named = routing_ids_named(Path(store.evaluations_path), unless_ensemble=True)
    ranges = split_ranges(path) if named is not None else []
    if not ranges or not hasattr(os, "fork"):
        return False
    early = _ReviewPass(ReviewState(project=Path(store.project)), named or set())
    early.counts_only = True
    signature = logscan.file_signature(path)
    job = logscan.ForkJob(_read_counts, [(early, path, a, b) for a, b in ranges])
    with _PREFETCH_LOCK:
        old = _PREFETCHED.pop(str(path), None)
        _PREFETCHED[str(path)] = _Prefetch(job, signature, set(early.need))
    if old is not None:
        old.job.cancel()
    return True


def drop_prefetch(path: Path) -> None:
    """Stop workers started ahead for ``path`` that no read took."""
    with _PREFETCH_LOCK:
        left = _PREFETCHED.pop(str(path), None)
    if left is not None:
        left.job.cancel()


def _take_prefetch(path: Path, start: int, review: _ReviewPass) -> logscan.ForkJob | None:
    """The job started ahead for this read, if it still fits (else it is stopped)."""
    with _PREFETCH_LOCK:
        ahead = _PREFETCHED.pop(str(path), None)
    if ahead is None:
        return None
    if start == 0 and ahead.need == review.need and ahead.signature == logscan.file_signature(path):
        return ahead.job
    ahead.job.cancel()
    return None


# two values on one line (``decode_lines`` reads both; a line-by-line read rejects it)
_OPEN, _CLOSE = ord("{"), ord("}")


def _framed_lines(piece: bytes) -> int:
    """The number of lines of ``piece`` (whole lines) when every one is ``{`` … ``}`` with
    nothing before or after, else -1 (found with ``find``, which skips to each newline at
    C speed). Then no object of a block that decodes runs over two lines (a line break
    between ``}`` and ``{`` inside an object is malformed JSON, and text holds no raw
    line break) and every line starts one: the block holds one object per line exactly
    when it decodes into as many objects as it has lines."""
    if piece[:1] != b"{":
        return -1
    find = piece.find
    lines = 0
    end = find(b"\n")
    while end >= 0:
        if piece[end - 1] != _CLOSE:
            return -1
        lines += 1
        start = end + 1
        end = find(b"\n", start)
        if end >= 0 and piece[start] != _OPEN:
            return -1
    return lines


def _one_per_line(piece: bytes, records: int) -> bool:
    """Whether ``piece`` (whole lines) holds ``records`` objects one per line (it decoded
    into that many): no blank line, none over two lines, no two on one line."""
    framed = _framed_lines(piece)
    if framed >= 0:
        return records == framed
    return logscan.one_record_per_line(piece, records)


def _feed_counted(review: _CountPiece, piece: bytes, offset: int) -> int:
    """``review_read._feed_block`` for a counts piece: decoded at once when its records are
    one per line (as many as its lines — a record written over two lines is two corrupt
    lines for a line-by-line read — and no two on one line), ids only for ``review.need``
    (a missing one is derived line by line); otherwise read in halves."""
    try:
        recs = review.decode_lines(piece)
    except (msgspec.DecodeError, msgspec.ValidationError):
        recs = None
    if (
        recs is not None
        and _one_per_line(piece, len(recs))
        and (not review.ids_needed or None not in map(_ID, recs))
    ):
        review.feed(recs, offset, len(piece))
        return 0
    return _feed_halves(review, piece, offset)


def _feed_halves(review: _CountPiece, piece: bytes, offset: int) -> int:
    """A block of a counts piece that is not all clean records, fed as two halves (split at
    a line boundary), each decoded at once when it can be: a corrupt line costs a few
    block decodes, not the block line by line. The counts need no line positions."""
    mid = piece.find(b"\n", len(piece) // 2) + 1
    if len(piece) <= _PER_LINE_BYTES or mid <= 0 or mid >= len(piece):
        return _feed_per_line(review, piece, offset)
    return _feed_counted(review, piece[:mid], offset) + _feed_counted(review, piece[mid:], offset + mid)
