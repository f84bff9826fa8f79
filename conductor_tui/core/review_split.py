"""The whole review pass (Evaluate's queue) with the routing log split by line range, one
piece per core: each forked worker decodes only its piece and returns the counts and every
ensemble's runs as a compact sequence (:mod:`conductor_tui.core.review_collect`); here the
sequences of the pieces are joined per ensemble and stepped in order.

Stepping is done in bulk between the runs with a verdict or a flag (which take the pass's
full step): while no score is added an ensemble's phase changes only when its run count
passes the trusted-threshold run count, so a stretch of quiet runs adds to the counters at
once, and only the newest of them — the ones the queue and the "all runs" view keep
(:data:`QUEUE_LIMIT`, :data:`ALL_RUNS_LIMIT`) — become queue entries. Same result as one
pass over the log (``_ReviewPass.feed``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conductor_tui.core import logscan
from conductor_tui.core.records import EvalPhase, Phase, RunStatus
from conductor_tui.core.review_collect import (
    DRAW,
    NOT_SAMPLED,
    SAMPLED,
    Collect,
    RunSequence,
    merge_counts,
)
from conductor_tui.core.review_pass import _LOC, _TRUSTED, _EnsembleTrack, _Pending, _ReviewPass
from conductor_tui.core.review_read import _read_routing, split_ranges
from conductor_tui.core.review_state import _DONE, ALL_RUNS_LIMIT, QUEUE_LIMIT, stable_fraction

# a stretch of quiet runs: its kind decides their entries
_ESTABLISH, _CALIBRATE, _TRUST = "establish", "calibrate", "trust"


def _collect_piece(job: tuple[_ReviewPass, Path, int, int | None, set[str] | None]) -> tuple:
    review, path, start, end, events = job
    part = Collect(review, full=True, events=events)
    return part.result(_read_routing(path, part, start, end))


def _collect_or_meanwhile(job: Any) -> Any:
    return job() if callable(job) else _collect_piece(job)


def read_routing_split(path: Path, review: _ReviewPass) -> int | None:
    """The whole pass over ``path`` from the start, split by line range across the cores;
    returns the skipped lines, or ``None`` (nothing done) when the log should be read in
    one process (small, one core) or the pass needs every run in order (evaluations that
    name an invocation, not a run)."""
    if review.by_invocation or review.counts_only:
        return None
    parts = collect_split(path, review)
    return None if parts is None else stitch(review, parts)


def collect_split(
    path: Path,
    review: _ReviewPass,
    events: set[str] | None = None,
    meanwhile: Callable[[], Any] | None = None,
) -> list[tuple] | None:
    """The pieces of ``path`` read on every core (``events``: see :class:`Collect`);
    ``meanwhile`` runs here during the read. ``None`` (and ``meanwhile`` not run) when the
    log should be read in one process."""
    ranges = split_ranges(path)
    if not ranges:
        return None
    jobs: list[Any] = [(review, path, a, b, events) for a, b in ranges]
    if meanwhile is not None:
        jobs.append(meanwhile)
    return logscan.fork_map(_collect_or_meanwhile, jobs)[: len(ranges)]


def stitch(review: _ReviewPass, parts: list[tuple]) -> int:
    """The pieces' counts added into ``review`` and every ensemble's runs stepped in order
    (``review`` has the evaluations, flags and config; it must not need every run in order,
    see :func:`read_routing_split`); returns the skipped lines."""
    skipped = merge_counts(review, parts)
    blocks: dict[int, int] = {}
    seqs: dict[str, RunSequence] = {}
    for part in parts:
        blocks.update(part[7])
        for ens, packed in part[8].items():
            seq = seqs.get(ens)
            if seq is None:
                seq = seqs[ens] = RunSequence()
            seq.extend(packed)
    due: list[_Pending] = []
    every: list[_Pending] = []
    for ens, seq in seqs.items():
        walk = _Walk(review, ens, seq, blocks)
        walk.run()
        ens_all, ens_due = walk.entries()
        every += ens_all
        due += ens_due
    loc = _LOC
    review.due = deque(sorted(due, key=lambda p: p[loc]), maxlen=review.due.maxlen)
    review.all = deque(sorted(every, key=lambda p: p[loc]), maxlen=review.all.maxlen)
    review.special.sort(key=lambda p: p[loc])
    return skipped


class _Walk:
    """One ensemble's runs stepped in order: the runs with a verdict or a flag one by one
    (``_ReviewPass._step``), the quiet stretches between them in bulk; :meth:`entries`
    then builds the newest queue entries from the end."""

    def __init__(self, review: _ReviewPass, ens: str, seq: RunSequence, blocks: dict[int, int]) -> None:
        self.review, self.ens, self.seq, self.blocks = review, ens, seq, blocks
        self.rate = review.thresholds.sampling_rate_established
        # in file order: (None, all entries, due entries) of a full step, or a quiet stretch
        # (kind, first, end, run count before it, calibrating, calibration window length)
        self.timeline: list[tuple] = []

    def run(self) -> None:
        review, seq = self.review, self.seq
        effective, flagged = review.effective, review.state.flagged_ids
        pos = 0
        for j, rec, loc in seq.events:
            rid = seq.rids[j]
            if rid not in effective and rid not in flagged:  # kept by a superset of the ids
                if (rec.status or RunStatus.COMPLETED) in _DONE:
                    sampled = rec.sampled_for_evaluation
                    seq.codes[j] = (
                        (SAMPLED if sampled else NOT_SAMPLED) if sampled.__class__ is bool else DRAW
                    )
                    continue  # a quiet run: part of the next stretch
                if j > pos:
                    self._quiet(pos, j)
                pos = j + 1  # a failed run without a verdict: no invocation
                continue
            if j > pos:
                self._quiet(pos, j)
            saved_all, saved_due = review.all, review.due
            review.all, review.due = [], []  # type: ignore[assignment]
            try:
                review._step(rec, rid, self.ens, *loc)
                self.timeline.append((None, review.all, review.due))
            finally:
                review.all, review.due = saved_all, saved_due
            pos = j + 1
        if pos < len(seq.codes):
            self._quiet(pos, len(seq.codes))

    def _quiet(self, a: int, b: int) -> None:
        """Runs ``a`` to ``b`` (completed, no verdict, no flag): counted, their stretches
        (one per phase) remembered for :meth:`entries`."""
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
                review.due_total += self._sampled(a, end)
            elif phase is Phase.CALIBRATE or phase is Phase.DESIGN:
                kind = _CALIBRATE
                review.due_total += end - a
            else:
                kind = _TRUST
            tracker = track.tracker
            self.timeline.append((kind, a, end, before, tracker.calibrating, len(tracker.window)))
            track.counter += end - a
            a = end

    def _sampled(self, a: int, end: int) -> int:
        """How many of runs ``a`` to ``end`` are sampled for evaluation in Establish."""
        codes, rids, rate = self.seq.codes, self.seq.rids, self.rate
        due = codes.count(SAMPLED, a, end)
        j = codes.find(DRAW, a, end)
        while j != -1:
            if stable_fraction(rids[j]) < rate:
                due += 1
            j = codes.find(DRAW, j + 1, end)
        return due

    def _is_sampled(self, j: int) -> bool:
        code = self.seq.codes[j]
        return code == SAMPLED or (code == DRAW and stable_fraction(self.seq.rids[j]) < self.rate)

    def entries(self) -> tuple[list[_Pending], list[_Pending]]:
        """The newest :data:`ALL_RUNS_LIMIT` entries of every run and :data:`QUEUE_LIMIT`
        due entries of this ensemble, in file order (the pass's queues keep no more)."""
        need = [ALL_RUNS_LIMIT, QUEUE_LIMIT]
        out: tuple[list[_Pending], list[_Pending]] = ([], [])
        for item in reversed(self.timeline):
            if need[0] <= 0 and need[1] <= 0:
                break
            if item[0] is None:
                for k in (0, 1):
                    take = item[1 + k][-need[k] :] if need[k] > 0 else []
                    out[k].extend(reversed(take))
                    need[k] -= len(take)
            else:
                self._stretch_entries(item, need, out)
        return out[0][::-1], out[1][::-1]

    def _stretch_entries(self, item: tuple, need: list[int], out: tuple[list, list]) -> None:
        """A quiet stretch's entries, newest first, while ``need`` asks for more."""
        kind, a, end, before, calibrating, window = item
        review, seq, ens = self.review, self.seq, self.ens
        period = review.thresholds.calibration_period
        for j in range(end - 1, a - 1, -1):
            if need[0] <= 0 and (need[1] <= 0 or kind is _TRUST):
                return
            n = before + (j - a) + 1
            if kind is _CALIBRATE:
                due = True
                position = min(window + 1, period) if calibrating else min(n, period)
                phase: Any = EvalPhase.CALIBRATE
                reason = f"calibrate {position}/{period}"
            elif kind is _ESTABLISH:
                due = self._is_sampled(j)
                phase, reason = EvalPhase.ESTABLISH, review.sampled_reason if due else "not sampled"
            else:
                due, phase, reason = False, EvalPhase.TRUST, _TRUSTED
            if not due and need[0] <= 0:
                continue
            offset = seq.offs[j]
            pending = (
                offset,
                self.blocks[offset],
                seq.idxs[j],
                seq.rids[j],
                ens,
                n,
                phase,
                reason,
                None,
                False,
            )
            if need[0] > 0:
                out[0].append(pending)
                need[0] -= 1
            if due and need[1] > 0:
                out[1].append(pending)
                need[1] -= 1
