"""The whole review pass (Evaluate's queue) with the routing log split by line range, one
piece per core: each forked worker decodes only its piece and returns the counts and, per
block, one byte per line naming the ensemble of each quiet run, with the records of the runs
an evaluation names (:mod:`conductor_tui.core.review_collect`) and the flags found in it;
here the pieces are stitched: their counts added, the flagged runs they did not keep taken
out of the quiet runs, and each ensemble's runs followed through the blocks of every piece
in order and stepped (:mod:`conductor_tui.core.review_walk`). The workers are started
before the evaluations are read (:func:`split_early`), which this process does meanwhile.
Same result as one pass over the log (``_ReviewPass.feed``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import compress
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan, review_read
from conductor_tui.core.review_collect import _ID, _SEP, DRAW, NO_RUN, SAMPLED, Block, Collect, merge_counts
from conductor_tui.core.review_pass import _BOM, _LOC, _Light, _ReviewPass
from conductor_tui.core.review_read import (
    _feed_per_line,
    no_collection,
    routing_ids_named,
    split_ranges,
)
from conductor_tui.core.review_state import ReviewState
from conductor_tui.core.review_walk import RunSequence, _Walk, draw_bound, newest


def _collect_piece(job: tuple[_ReviewPass, Path, int, int | None, set[str] | None]) -> tuple:
    review, path, start, end, events = job
    part = Collect(review, events=events)
    with no_collection():
        return part.result(_read_piece(path, part, start, end), path)


def _read_piece(path: Path, part: Collect, start: int, end: int | None) -> int:
    """``review_read._read_routing`` of a piece — the same records fed in the same blocks,
    the same skipped lines, offset and tail — read into one buffer used again for every
    block (a fresh block of bytes per read, and its copy without the partial last line,
    cost more than the read itself: new pages to fault in)."""
    skipped = 0
    part.offset, part.tail = start, False
    if not path.is_file():
        return 0
    block = review_read._BLOCK
    size = block
    buf = bytearray(size)
    with path.open("rb", buffering=0) as fh:
        offset = start
        first = start == 0
        while True:
            want = size if end is None else min(size, end - offset)
            if len(buf) < want:
                buf = bytearray(want)
            fh.seek(offset)
            n = fh.readinto(memoryview(buf)[:want])
            if not n:
                break
            cut = buf.rfind(b"\n", 0, n)
            if cut < 0:
                if n < size:  # the last line has no newline
                    data = bytes(buf[:n])
                    if first and data.startswith(_BOM):
                        data = data[len(_BOM) :]
                        offset += len(_BOM)
                    skipped += _feed_per_line(part, data, offset)
                    part.tail = bool(data.strip())
                    break
                size *= 2
                continue
            lo = len(_BOM) if first and buf.startswith(_BOM, 0, n) else 0
            first = False
            offset += lo
            skipped += _feed_piece(part, buf, lo, cut + 1, offset)
            offset += cut + 1 - lo
            size = block
    part.offset = offset
    return skipped


def _feed_piece(part: Collect, buf: bytearray, lo: int, hi: int, offset: int) -> int:
    """``review_read._feed_block`` of ``buf[lo:hi]`` (whole lines)."""
    view = memoryview(buf)[lo:hi]
    try:
        recs = part.decode_lines(view)
    except (msgspec.DecodeError, msgspec.ValidationError):
        recs = None
    if recs is not None and logscan.one_record_per_line(buf, len(recs), lo=lo, hi=hi):
        ids = list(map(_ID, recs))
        if None not in ids:
            part.feed(recs, offset, hi - lo, ids=ids)
            return 0
    return _feed_per_line(part, bytes(view), offset)


def _collect_or_meanwhile(job: Any) -> Any:
    return job() if callable(job) else _collect_piece(job)


def read_routing_split(path: Path, review: _ReviewPass) -> int | None:
    """The whole pass over ``path`` from the start, split by line range across the cores;
    returns the skipped lines, or ``None`` (nothing done) when the log should be read in
    one process (small, one core) or the pass needs every run in order (evaluations that
    name an invocation, not a run)."""
    if review.by_invocation or review.counts_only:
        return None
    events = set(review.effective) | review.state.flagged_ids | review.need  # what Collect keeps
    parts = collect_split(path, review)
    if parts is None:
        return None
    skipped = stitch(review, parts)
    if skipped is not None:
        review.split_named = review.split_noted = events
    return skipped


# a log this big, too small to split, is read as one piece of the split pass all the same
ONE_PIECE_BYTES = 2 << 20


def collect_split(
    path: Path,
    review: _ReviewPass,
    events: set[str] | None = None,
    meanwhile: Callable[[], Any] | None = None,
) -> list[tuple] | None:
    """The pieces of ``path`` read on every core (``events``: see :class:`Collect`);
    ``meanwhile`` runs here during the read. A log too small to split but of
    :data:`ONE_PIECE_BYTES` or more is one piece (a verdict recorded later is stepped from
    it, ``core.review_refresh``, instead of the log read again). ``None`` (and
    ``meanwhile`` not run) when the log should be read in one pass."""
    ranges = split_ranges(path)
    if not ranges and path.is_file() and path.stat().st_size >= ONE_PIECE_BYTES:
        ranges = [(0, None)]
    if not ranges:
        return None
    jobs: list[Any] = [(review, path, a, b, events) for a, b in ranges]
    if len(jobs) == 1:  # one piece: read here (no fork, nothing pickled), then ``meanwhile``
        with no_collection():
            parts = [_collect_piece(jobs[0])]
        if meanwhile is not None:
            meanwhile()
        return parts
    if meanwhile is not None:
        jobs.append(meanwhile)
    with no_collection():  # the pieces unpickled here are many objects, in no cycle
        return logscan.fork_map(_collect_or_meanwhile, jobs)[: len(ranges)]


def stitch(review: _ReviewPass, parts: list[tuple], reuse: Reuse | None = None) -> int | None:
    """The pieces' counts added into ``review`` and every ensemble's runs stepped in order
    (``review`` has the evaluations, flags and config; it must not need every run in order,
    see :func:`read_routing_split`); returns the skipped lines, or ``None`` (``review``
    untouched) when a piece has more ensembles than its codes can name. ``reuse``: the
    walks of an earlier stitch of the same pieces, for the ensembles it did not change."""
    if any(part[9] for part in parts):
        return None
    with no_collection():  # the stitch creates many small objects and frees none
        return _stitch(review, parts, reuse)


class Reuse:
    """An earlier stitch's walks (``walks``: ensemble → walk), for the ensembles whose runs,
    verdicts or flags changed since: ``changed`` (their kept runs ``ids`` got a verdict or a
    flag) and ``grown`` (runs appended); its judge agreement (``untrusted``) is compared once
    the new one is known (an ensemble whose judge agreement changed is walked again)."""

    def __init__(
        self,
        walks: dict[str, _Walk],
        untrusted: dict[str, Any],
        changed: set[str],
        ids: set[str],
        grown: set[str],
    ) -> None:
        self.walks, self.untrusted = walks, untrusted
        self.changed, self.ids, self.grown = changed, ids, grown

    def walk(self, review: _ReviewPass, ens: str, seq: RunSequence, bound: bytes) -> _Walk | None:
        """``ens``'s walk over ``seq`` from its earlier one: taken as it is when nothing it
        depends on changed, else gone on from where it stood before the first change
        (:meth:`~conductor_tui.core.review_walk._Walk.go_on`); ``None``: walk it."""
        earlier = self.walks.get(ens)
        if earlier is None:
            return None
        before, now = self.untrusted.get(ens), review.untrusted.get(ens)
        if (before is None) != (now is None) or (
            before is not None and (before.agreed, before.total) != (now.agreed, now.total)
        ):
            return None
        if ens in self.changed:
            seq.count_runs()
            first = next((i for i, entry in enumerate(seq.kept) if entry[2] in self.ids), None)
            return None if first is None else earlier.go_on(review, seq, bound, first)
        if ens in self.grown:
            return earlier.go_on(review, seq, bound, None)
        earlier.adopt(review)
        return earlier


def _stitch(review: _ReviewPass, parts: list[tuple], reuse: Reuse | None = None) -> int:
    skipped = merge_counts(review, parts)
    review.refresh_agreement()  # the pieces' run ensembles are known before any run is stepped
    parts, _others, touched = keep_runs(review.state.flagged_ids, parts)
    if reuse is not None:
        reuse.changed |= touched
    review.split_parts = parts  # a later load goes on from them (core.review_refresh)
    blocks: list[Block] = []
    ids: dict[int, list[str]] = {}  # block → its lines' ids (split when needed)
    seqs: dict[str, RunSequence] = {}
    for part in parts:
        for ens, (number, kept) in part[8].items():
            seq = seqs.get(ens)
            if seq is None:
                seq = seqs[ens] = RunSequence(blocks, ids)
            seq.add_piece(len(blocks), len(part[7]), number, kept)
        blocks += part[7]
    bound = draw_bound(review.thresholds.sampling_rate_established)
    walks = []
    for ens, seq in seqs.items():
        walk = reuse.walk(review, ens, seq, bound) if reuse is not None else None
        if walk is None:
            seq.count_runs()
            walk = _Walk(review, ens, seq, bound)
            walk.run()
        walks.append(walk)
    review.walks = {walk.ens: walk for walk in walks}
    every, due = newest(walks)
    review.due = deque(due, maxlen=review.due.maxlen)
    review.all = deque(every, maxlen=review.all.maxlen)
    review.special.sort(key=lambda p: p[_LOC])
    return skipped


def keep_runs(ids: set[str], parts: list[tuple]) -> tuple[list[tuple], set[str], set[str]]:
    """The pieces with the runs of ``ids`` they did not keep (the flags were found by the
    pieces themselves, mostly after their runs; a later load adds the runs of new
    verdicts) taken out of their ensembles' quiet runs and kept, as if the pieces had
    known them: a quiet run is completed, and its sampling code stands for its recorded
    decision. The pieces given are not changed (a piece with such runs is copied).
    Also returns the ids of ``ids`` found on lines that are no quiet run and not kept
    (a failed run, a Claude decision, another event: its record is not at hand), and the
    ensembles that got kept runs."""
    kept = {entry[3] for part in parts for _number, entries in part[8].values() for entry in entries}
    missing = ids - kept
    others: set[str] = set()
    changed: set[str] = set()
    if not missing:
        return parts, others, changed
    out = []
    for part in parts:
        blocks, seqs = part[7], part[8]
        touched: set[int] = set()
        names = {number: entries for _ens, (number, entries) in seqs.items()}
        for k, block in enumerate(blocks):
            hits = _lines_of(block[5], missing)
            if not hits:
                continue
            quiet = [i for i in hits if block[3][i] != NO_RUN]
            if len(quiet) < len(hits):
                listed = block[5] if isinstance(block[5], list) else block[5].split(_SEP)
                others.update(listed[i] for i in hits if block[3][i] == NO_RUN)
            if not quiet:
                continue
            if not touched:  # the first change to this piece: its own lists from here on
                blocks = list(blocks)
                seqs = {ens: (number, list(entries)) for ens, (number, entries) in seqs.items()}
                names = {number: entries for _ens, (number, entries) in seqs.items()}
            codes, samp, step = bytearray(block[3]), block[4], block[2]
            for i in quiet:
                code = DRAW if samp is None else samp[i]
                rec = _Light(sampled_for_evaluation=None if code == DRAW else code == SAMPLED)
                rid = block[5][i] if isinstance(block[5], list) else block[5].split(_SEP)[i]
                loc = (block[0], block[1], step[i] if step is not None else i)
                names[codes[i]].append((k, i, rec, rid, loc))
                touched.add(codes[i])
                codes[i] = NO_RUN
            blocks[k] = (*block[:3], bytes(codes), *block[4:])
        for number in touched:
            names[number].sort(key=lambda entry: (entry[0], entry[1]))
        changed.update(ens for ens, (number, _entries) in seqs.items() if number in touched)
        out.append((*part[:7], blocks, seqs, *part[9:]) if touched else part)
    return out, others - kept, changed


def _lines_of(joined: Any, ids: set[str]) -> list[int]:
    """The line positions in a block (its ids joined, or listed) whose id is in ``ids``."""
    if isinstance(joined, list):
        return [i for i, rid in enumerate(joined) if rid in ids]
    if len(ids) > 16 or "" in ids:  # one split is cheaper than many searches
        listed = joined.split(_SEP)
        return list(compress(range(len(listed)), map(ids.__contains__, listed)))
    out = []
    for rid in ids:
        pos = joined.find(rid)
        while pos >= 0:
            end = pos + len(rid)
            if (pos == 0 or joined[pos - 1] == _SEP) and (end == len(joined) or joined[end] == _SEP):
                out.append(joined.count(_SEP, 0, pos))
            pos = joined.find(rid, end)
    return sorted(out)


# --------------------------------------------------------------------------- started early


def count_early(store: Any, state: ReviewState, path: Path, meanwhile: Any) -> _ReviewPass | None:
    """The counts pass started before the evaluations are read, which ``meanwhile`` does
    here: its workers record the ensemble of every run an evaluation names without naming
    its ensemble (a quick read of the ids). ``None`` (nothing read) when the evaluations'
    ids cannot be read."""
    from conductor_tui.core.review_counts import read_counts_split

    named = routing_ids_named(Path(store.evaluations_path), unless_ensemble=True)
    if named is None:
        return None
    early = _ReviewPass(state, named)  # counts need neither the evaluations nor the config
    early.counts_only = True
    state.skipped_routing = read_counts_split(path, early, meanwhile=meanwhile)
    return early


def split_early(store: Any, state: ReviewState, path: Path, meanwhile: Any) -> tuple[set[str], list] | None:
    """The whole pass's pieces read before the evaluations are, which ``meanwhile`` does
    here: the workers keep the records of the runs an evaluation names (a quick read of
    the ids) and find the flags in their pieces (``state.flagged_ids``: their runs are
    taken out of the quiet runs when stitched, see :func:`keep_runs`). ``(those ids,
    the pieces)``, or ``None`` (nothing read) when the log is read in one process or the
    ids cannot be read."""
    named = routing_ids_named(Path(store.evaluations_path))
    if named is None:
        return None
    early = _ReviewPass(state, named)  # the pieces need neither the evaluations nor the config
    parts = collect_split(path, early, named, meanwhile)
    state.run_ensembles.clear()
    if parts is None:
        return None
    state.flagged_ids = set().union(*(part[10] for part in parts))
    return named, parts


def adopt_counts(review: _ReviewPass, early: _ReviewPass) -> None:
    review.pairs, review.debt, review.total_runs = early.pairs, early.debt, early.total_runs
    review.offset, review.tail = early.offset, early.tail
