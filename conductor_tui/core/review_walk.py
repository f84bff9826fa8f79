"""Each ensemble's runs stepped in order for the split review pass
(:mod:`conductor_tui.core.review_split`): its quiet runs — completed, without verdict or
flag — followed through the blocks of every piece (:class:`RunSequence`), the kept runs
(a verdict or a flag) taken one by one through the pass's full step, the quiet stretches
between them in bulk (:class:`_Walk`): while no score is added an ensemble's phase changes
only when its run count passes the trusted-threshold run count, so a stretch adds to the
counters at once, and only the newest of its runs — the ones the queue and the "all runs"
view keep (:data:`QUEUE_LIMIT`, :data:`ALL_RUNS_LIMIT`) — become queue entries
(:func:`newest`). The stable sampling draws of a stretch in Establish are compared as
digest bytes (:func:`draw_bound`).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator
from hashlib import sha256
from itertools import compress
from operator import methodcaller
from typing import Any

from conductor_tui.core.records import EvalPhase, Phase, RunStatus
from conductor_tui.core.review_collect import _SEP, DRAW, SAMPLED, Block
from conductor_tui.core.review_pass import _LOC, _TRUSTED, _EnsembleTrack, _Pending, _ReviewPass
from conductor_tui.core.review_state import _DONE, ALL_RUNS_LIMIT, QUEUE_LIMIT

# a walk remembers where it stood every this many kept runs (core.review_refresh goes on from there)
CHECK_EVERY = 128
# a stretch of quiet runs: its kind decides their entries
_ESTABLISH, _CALIBRATE, _TRUST = 0, 1, 2


def newest(walks: list[_Walk]) -> tuple[list[_Pending], list[_Pending]]:
    """The newest :data:`ALL_RUNS_LIMIT` entries of every run and :data:`QUEUE_LIMIT` due
    entries over all ensembles, in file order (what the pass's bounded queues keep): the
    ensembles' entries merged newest first, each ensemble building only as many as are
    still wanted."""
    need = [ALL_RUNS_LIMIT, QUEUE_LIMIT]
    every: list[_Pending] = []
    due: list[_Pending] = []
    if need[0] <= 0 and need[1] <= 0:
        return every, due
    for pending, is_due in heapq.merge(*(w.newest(need) for w in walks), key=_loc_of, reverse=True):
        if need[0] > 0:
            every.append(pending)
            need[0] -= 1
        if is_due and need[1] > 0:
            due.append(pending)
            need[1] -= 1
        if need[0] <= 0 and need[1] <= 0:
            break
    return every[::-1], due[::-1]


def _loc_of(entry: tuple[_Pending, bool]) -> tuple:
    return entry[0][_LOC]


_DIGEST = methodcaller("digest")


def draw_bound(rate: float) -> bytes:
    """What a run id's sha256 digest sorts below exactly when its stable draw
    (:func:`~conductor_tui.core.review_state.stable_fraction`) is below ``rate``: the
    draw is the digest's first 8 bytes as an integer over 2**64, so it is below ``rate``
    exactly for the integers below the smallest one that is not — found by bisection —,
    and bytes compare as big-endian integers."""
    lo, hi = 0, 1 << 64
    while lo < hi:
        mid = (lo + hi) // 2
        if mid / 2**64 < rate:
            lo = mid + 1
        else:
            hi = mid
    return lo.to_bytes(8, "big") + bytes(24) if lo < 1 << 64 else b"\xff" * 33


def count_drawn(ids: list[str], bound: bytes) -> int:
    """How many of ``ids`` the stable draw samples (``bound``: :func:`draw_bound`)."""
    return sum(map(bound.__gt__, map(_DIGEST, map(sha256, map(str.encode, ids)))))


def _width(joined: Any, lines: int) -> int:
    """The length + 1 of every id joined in ``joined`` (``lines`` of them, which a piece
    joins only when none holds the separator), 0 when they differ in length."""
    if not isinstance(joined, str) or lines == 0:
        return 0
    first = joined.find(_SEP)
    width = (len(joined) if first < 0 else first) + 1
    if len(joined) != lines * width - 1 or joined[width - 1 :: width] != _SEP * (lines - 1):
        return 0
    return width


_MASKS: dict[int, bytes] = {}


def _mask(number: int) -> bytes:
    """The ``bytes.translate`` table that maps ``number`` to 1 and every other code to 0."""
    table = _MASKS.get(number)
    if table is None:
        table = _MASKS[number] = bytes(int(c == number) for c in range(256))
    return table


class RunSequence:
    """One ensemble's quiet runs (completed, without verdict or flag) across the blocks of
    every piece, by their ordinal in file order, and its kept runs (``kept``: ``(ordinal of
    the next quiet run, record, id, (offset, block length, line index))``)."""

    def __init__(self, blocks: list[Block], ids: dict[int, list[str]]) -> None:
        self.blocks = blocks
        self.ids = ids
        self.numbers: dict[int, int] = {}  # block → this ensemble's code in it
        self.kept: list[tuple] = []
        self.starts: list[int] = []  # blocks with runs, and the ordinal of their first run
        self.order: list[int] = []
        self.total = 0
        self.where: dict[int, list[int]] = {}  # block → positions (see :meth:`positions`)
        self.widths: dict[int, int] = {}  # block → its ids' length + 1, 0 when they differ
        self.counted = False

    def add_piece(self, base: int, count: int, number: int, kept: list[tuple]) -> None:
        for b in range(base, base + count):
            self.numbers[b] = number
        self.kept += [(base + b, i, rec, rid, loc) for b, i, rec, rid, loc in kept]

    def count_runs(self) -> None:
        """Ordinals: of each block's first run, of each kept run's next quiet run (once)."""
        if self.counted:
            return
        self.counted = True
        blocks, total = self.blocks, 0
        first: dict[int, int] = {}
        for b, number in self.numbers.items():
            n = blocks[b][3].count(number)
            if n:
                self.order.append(b)
                self.starts.append(total)
            first[b] = total
            total += n
        self.total = total
        self.kept = [
            (first[b] + self.blocks[b][3].count(self.numbers[b], 0, i), rec, rid, loc)
            for b, i, rec, rid, loc in self.kept
        ]

    def positions(self, b: int) -> list[int]:
        """The line positions of this ensemble's quiet runs in block ``b``."""
        pos = self.where.get(b)
        if pos is None:
            codes = self.blocks[b][3]
            pos = self.where[b] = list(compress(range(len(codes)), codes.translate(_mask(self.numbers[b]))))
        return pos

    def runs_back(self, a: int, end: int) -> Iterator[tuple[int, int]]:
        """``(block, line position)`` of the runs with ordinals ``end - 1`` down to ``a``."""
        if a >= end:
            return
        k = bisect_right(self.starts, end - 1) - 1
        while k >= 0:
            b, first = self.order[k], self.starts[k]
            for i in reversed(self.positions(b)[max(a - first, 0) : end - first]):
                yield b, i
            if first <= a:
                return
            k -= 1

    def chunks(self, a: int, end: int) -> Iterator[tuple[int, list[int]]]:
        """The runs with ordinals ``a`` to ``end``, in order, a block at a time:
        ``(block, line positions)``."""
        k = max(bisect_right(self.starts, a) - 1, 0)
        while k < len(self.order) and self.starts[k] < end:
            b, first = self.order[k], self.starts[k]
            yield b, self.positions(b)[max(a - first, 0) : end - first]
            k += 1

    def block_ids(self, b: int) -> list[str]:
        ids = self.ids.get(b)
        if ids is None:
            joined = self.blocks[b][5]
            ids = self.ids[b] = joined.split(_SEP) if isinstance(joined, str) else joined
        return ids

    def rid(self, b: int, i: int) -> str:
        return self.block_ids(b)[i]

    def ids_at(self, b: int, positions: list[int]) -> list[str]:
        """The ids of block ``b``'s lines at ``positions``: cut out of the joined ids when
        they all have one length (no split of the whole block for a few of them)."""
        ids = self.ids.get(b)
        if ids is None:
            width = self.widths.get(b)
            if width is None:
                width = self.widths[b] = _width(self.blocks[b][5], len(self.blocks[b][3]))
            if width:
                joined, n = self.blocks[b][5], width - 1
                return [joined[p * width : p * width + n] for p in positions]
            ids = self.block_ids(b)
        return list(map(ids.__getitem__, positions))

    def sampled(self, b: int, i: int) -> int:
        samp = self.blocks[b][4]
        return DRAW if samp is None else samp[i]

    def location(self, b: int, i: int) -> tuple[int, int, int]:
        offset, plen, step = self.blocks[b][:3]
        return offset, plen, (step[i] if step is not None else i)


class _Walk:
    """One ensemble's runs stepped in order: the kept runs (a verdict or a flag) one by one
    (``_ReviewPass._step``), the quiet stretches between them in bulk; :meth:`newest`
    then builds the newest queue entries from the end."""

    def __init__(self, review: _ReviewPass, ens: str, seq: RunSequence, bound: bytes) -> None:
        self.review: Any = review  # while it runs (not kept after: a later pass may keep the walk)
        self.ens, self.seq = ens, seq
        self.period = review.thresholds.calibration_period
        self.sampled_reason = review.sampled_reason
        self.bound = bound  # the stable draw's bound (see :func:`draw_bound`)
        # in file order: (None, all entries, due entries) of a full step, or a quiet stretch
        # (kind, first, end, run count before it, calibrating, calibration window length)
        self.timeline: list[tuple] = []
        # what the walk added to the pass besides its timeline (a later stitch that finds
        # this ensemble unchanged adds them again instead of walking it)
        self.track: _EnsembleTrack | None = None
        self.special: list[_Pending] = []
        self.due_count = 0
        # where it stood every CHECK_EVERY kept runs, and at its end (a later stitch goes on
        # from one, :meth:`go_on`): (kept runs stepped, quiet runs, timeline length, special
        # entries, due runs, a copy of its track then)
        self.checks: list[tuple] = []
        self.ended: tuple | None = None
        self._base = (0, 0, 0, 0)

    def run(self, kept: int = 0, pos: int = 0) -> None:
        """Step the runs (``kept``, ``pos``: from that kept run and quiet run on, when the
        walk goes on from an earlier one, :meth:`go_on`)."""
        review = self.review
        self._base = (len(review.special), review.due_total, len(self.special), self.due_count)
        self._run(kept, pos)
        self.ended = self._check(len(self.seq.kept), self.seq.total)
        self.track = review.tracks.get(self.ens)
        self.special += review.special[self._base[0] :]
        self.due_count += review.due_total - self._base[1]
        self.review = None

    def _check(self, kept: int, pos: int) -> tuple:
        review = self.review
        special, due, had_special, had_due = self._base
        track = review.tracks.get(self.ens)
        return (
            kept,
            pos,
            len(self.timeline),
            had_special + len(review.special) - special,
            had_due + review.due_total - due,
            track.copy() if track is not None else None,
        )

    def go_on(self, review: _ReviewPass, seq: RunSequence, bound: bytes, changed: int | None) -> _Walk | None:
        """This ensemble's walk over ``seq``, going on from where this walk stood before its
        kept run ``changed`` (the first whose verdict or flag changed since), or from its end
        (``None``: runs were only appended): this walk's timeline and results up to there
        taken, the rest stepped. ``seq`` holds this walk's runs before that point, in the same
        order. ``None`` (nothing done) when there is no such point."""
        if changed is None:
            at = self.ended
        else:
            at = next((c for c in reversed(self.checks) if c[0] <= changed), None)
        if at is None:
            return None
        kept, pos, length, special, due, track = at
        seq.count_runs()
        if len(seq.kept) < kept or seq.total < pos or seq.kept[:kept] != self.seq.kept[:kept]:
            return None
        walk = _Walk(review, self.ens, seq, bound)
        walk.timeline = self.timeline[:length]
        walk.special, walk.due_count = self.special[:special], due
        walk.checks = [c for c in self.checks if c[0] <= kept]
        if track is not None:
            review.tracks[self.ens] = track.copy()
        review.special += walk.special
        review.due_total += due
        walk.run(kept, pos)
        return walk

    def adopt(self, review: _ReviewPass) -> None:
        """Add this walk's results to ``review`` (a later pass over the same runs of this
        ensemble, with the same verdicts, flags, judge agreement and thresholds)."""
        if self.track is not None:
            review.tracks[self.ens] = self.track
        review.special += self.special
        review.due_total += self.due_count

    def _run(self, kept: int, pos: int) -> None:
        review, seq = self.review, self.seq
        effective, flagged = review.effective, review.state.flagged_ids
        runs = seq.kept
        for i in range(kept, len(runs)):
            if i % CHECK_EVERY == 0 and i != kept:  # (where a walk goes on from has its own)
                self.checks.append(self._check(i, pos))
            o, rec, rid, loc = runs[i]
            if (
                rid not in effective
                and rid not in flagged
                and (rec.status or RunStatus.COMPLETED) not in _DONE
            ):
                continue  # kept by a superset of the ids: a failed run without a verdict
            # (a completed run without verdict or flag takes the full step: the same result)
            if o > pos:
                self._quiet(pos, o)
                pos = o
            saved_all, saved_due = review.all, review.due
            review.all, review.due = [], []
            try:
                review._step(rec, rid, self.ens, *loc)
                self.timeline.append((None, review.all, review.due))
            finally:
                review.all, review.due = saved_all, saved_due
        if pos < seq.total:
            self._quiet(pos, seq.total)

    def _quiet(self, a: int, b: int) -> None:
        """Runs ``a`` to ``b`` (completed, no verdict, no flag): counted, their stretches
        (one per phase) remembered for :meth:`newest`."""
        review = self.review
        track = review.tracks.get(self.ens)
        if track is None:  # the ensemble's first run: what the full step would create
            track = review.tracks[self.ens] = _EnsembleTrack(review.thresholds)
        trust_after = review.trust_after
        while a < b:
            before = track.counter
            phase = track.phase(before, trust_after)
            # the phase holds until the run count passes the trusted-threshold run count
            end = b if before > trust_after else min(b, a + trust_after - before + 1)
            if phase is Phase.ESTABLISH:
                kind = _ESTABLISH
                review.due_total += self._count_sampled(a, end)
            elif phase is Phase.CALIBRATE or phase is Phase.DESIGN:
                kind = _CALIBRATE
                review.due_total += end - a
            else:
                kind = _TRUST
            tracker = track.tracker
            self.timeline.append((kind, a, end, before, tracker.calibrating, len(tracker.window)))
            track.counter += end - a
            a = end

    def _is_sampled(self, run: tuple[int, int]) -> bool:
        """Whether a run in Establish is sampled (recorded, else :func:`stable_fraction`)."""
        code = self.seq.sampled(*run)
        if code == DRAW:
            return sha256(self.seq.rid(*run).encode()).digest() < self.bound
        return code == SAMPLED

    def _count_sampled(self, a: int, end: int) -> int:
        """:meth:`_is_sampled` summed over runs ``a`` to ``end`` (a block at a time: the
        draws of ~100,000 runs)."""
        seq, due = self.seq, 0
        draws: list[str] = []
        for b, positions in seq.chunks(a, end):
            samp = seq.blocks[b][4]
            if samp is None:
                draws += seq.ids_at(b, positions)
                continue
            codes = bytes(map(samp.__getitem__, positions))
            due += codes.count(SAMPLED)
            draws += seq.ids_at(b, list(compress(positions, map(DRAW.__eq__, codes))))
        return due + count_drawn(draws, self.bound)

    def newest(self, need: list[int]) -> Iterator[tuple[_Pending, bool]]:
        """This ensemble's entries, newest first, with whether each is due, while ``need``
        (entries of every run, due entries: lowered by the caller as it takes them) asks
        for more: once every run's entries are taken, only due ones are built."""
        for item in reversed(self.timeline):
            if need[0] <= 0 and need[1] <= 0:
                return
            if item[0] is None:
                for pending in reversed(item[1]):
                    yield pending, any(p is pending for p in item[2])
            else:
                yield from self._stretch_newest(item, need)

    def _stretch_newest(self, item: tuple, need: list[int]) -> Iterator[tuple[_Pending, bool]]:
        """A quiet stretch's entries, newest first, while ``need`` asks for more."""
        kind, a, end, before, calibrating, window = item
        seq, ens = self.seq, self.ens
        period = self.period
        n = before + end - a + 1  # the invocation number of the run after the stretch
        for run in seq.runs_back(a, end):
            if need[0] <= 0 and (need[1] <= 0 or kind == _TRUST):
                return
            n -= 1
            if kind == _CALIBRATE:
                due = True
                position = min(window + 1, period) if calibrating else min(n, period)
                phase: Any = EvalPhase.CALIBRATE
                reason = f"calibrate {position}/{period}"
            elif kind == _ESTABLISH:
                due = self._is_sampled(run)
                phase, reason = EvalPhase.ESTABLISH, self.sampled_reason if due else "not sampled"
            else:
                due, phase, reason = False, EvalPhase.TRUST, _TRUSTED
            if not due and need[0] <= 0:
                continue
            yield (*seq.location(*run), seq.rid(*run), ens, n, phase, reason, None, False), due
