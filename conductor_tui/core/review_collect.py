"""What a piece of the routing log (a line range, read in a forked worker) gives the review
pass without stepping any run through its lifecycle: the counts (uses and last use per task
type + ensemble, debt, local runs, the ensemble of the runs an evaluation names) and, for
the whole pass, each ensemble's runs in file order as a compact sequence (see
:class:`RunSequence`), stepped later in order by :mod:`conductor_tui.core.review_split`.

A record is classified once per distinct ``(event, routed_to, task_type, ensemble,
status)``: the per-record loop does a tuple lookup instead of the pass's checks.
"""

from __future__ import annotations

from array import array
from operator import attrgetter
from typing import Any

from conductor_tui.core.records import RunStatus
from conductor_tui.core.review_pass import _DECISION_EVENTS, _Light, _ReviewPass
from conductor_tui.core.review_state import _DONE

_KEY = attrgetter("event", "routed_to", "task_type", "ensemble", "status")
_SKIP = (0,)  # not a routing decision (flags were found before the pass)

# a run's code in its sequence: the recorded sampling decision (False / True), none
# recorded (the stable draw from its id decides, when it matters), or an event (a run
# with a verdict or a flag: stepped in full with its record)
NOT_SAMPLED, SAMPLED, DRAW, EVENT = 0, 1, 2, 3
_SEP = "\n"


class RunSequence:
    """One ensemble's completed runs (and its runs with a verdict or a flag) in file order:
    ``codes`` (one byte per run), ``rids``, where each run is (``offs``: its block's byte
    offset, ``idxs``: its line index in the block), and ``events``: ``(position in the
    sequence, record, (offset, block length, line index))``."""

    __slots__ = ("codes", "events", "idxs", "offs", "rids")

    def __init__(self) -> None:
        self.codes = bytearray()
        self.rids: list[str] = []
        self.offs = array("q")
        self.idxs = array("q")
        self.events: list[tuple[int, _Light, tuple[int, int, int]]] = []

    def packed(self) -> tuple:
        """A form that pickles fast (the ids joined into one string when none holds the
        separator)."""
        joined: Any = _SEP.join(self.rids)
        if joined.count(_SEP) != max(0, len(self.rids) - 1):
            joined = self.rids
        return bytes(self.codes), joined, self.offs, self.idxs, self.events

    def extend(self, packed: tuple) -> None:
        """Append a later piece's :meth:`packed` sequence."""
        codes, rids, offs, idxs, events = packed
        base = len(self.codes)
        self.codes += codes
        if isinstance(rids, str):
            rids = rids.split(_SEP) if codes else []
        self.rids += rids
        self.offs += offs
        self.idxs += idxs
        self.events += [(base + j, rec, loc) for j, rec, loc in events]


class Collect:
    """Fed like a :class:`_ReviewPass` (by ``review_read._read_routing``) over one piece of
    the log; ``review`` lends its evaluations, flags, caches and the ids it needs. With
    ``full`` False only the counts are gathered. ``events``: the ids of the runs to keep
    with their records (by default those with a verdict or a flag; a superset is fine:
    the stepping tells them apart)."""

    def __init__(self, review: _ReviewPass, full: bool, events: Any = None) -> None:
        self.review = review
        self.full = full
        if events is None:
            events = set(review.effective) | review.state.flagged_ids
        self.events: set[str] = events
        self.offset = 0
        self.tail = False
        self.classes: dict[tuple, tuple] = {}
        self.seqs: dict[str, RunSequence] = {}
        self.blocks: dict[int, int] = {}  # block offset → block length
        self.pairs: dict[tuple[str, str], list[Any]] = {}
        self.debt: dict[str, int] = {}
        self.runs = 0
        self.run_ensembles: dict[str, str] = {}

    def _classify(self, key: tuple) -> tuple:
        event, routed, tt, ens, status = key
        if event is not None and event not in _DECISION_EVENTS:
            out: tuple = _SKIP
        else:
            review = self.review
            local = review.local_cache.get(routed)
            if local is None:
                local = review._is_local(routed)
            tt = tt or "(untyped)"
            if not local:
                out = (1, tt)
            else:
                ens = ens or routed or ""
                pair = self.pairs.get((tt, ens))
                if pair is None:
                    pair = self.pairs[(tt, ens)] = [0, None]
                seq = self.seqs.get(ens)
                if seq is None:
                    seq = self.seqs[ens] = RunSequence()
                out = (2, pair, ens, (status or RunStatus.COMPLETED) in _DONE, seq)
        self.classes[key] = out
        return out

    def _debt(self, rec: _Light, tt: str) -> None:
        if rec.preparation_tokens_local is None:
            review = self.review
            category = rec.delegability_category
            delegable = review.deleg_cache.get(category) if category.__class__ is str else None
            if delegable is None:
                delegable = review._delegable(category)
            if delegable:
                self.debt[tt] = self.debt.get(tt, 0) + 1

    # long: the per-record loop (~1M iterations): locals hoisted, no call per record
    def feed(self, recs: list[_Light], offset: int, plen: int, first_idx: int = 0, step: Any = None) -> None:
        """Process decoded records in file order (``step``: their line indexes when not
        consecutive from ``first_idx``)."""
        self.blocks[offset] = plen
        classes = self.classes
        review = self.review
        need = review.need
        run_ensembles = self.run_ensembles
        events = self.events
        full = self.full
        runs = 0
        for i, (rec, key) in enumerate(zip(recs, map(_KEY, recs), strict=False)):
            c = classes.get(key)
            if c is None:
                c = self._classify(key)
            kind = c[0]
            if kind != 2:
                if kind == 1:
                    self._debt(rec, c[1])
                continue
            runs += 1
            _, pair, ens, done, seq = c
            if done:
                pair[0] += 1  # uses: completed runs only
                ts = rec.timestamp
                if ts.__class__ is str and (pair[1] is None or ts > pair[1]):
                    pair[1] = ts
            rid = rec.id
            if rid is None:
                rid = "None"  # only when a caller fed a record without its derived id
            if need and rid in need:
                run_ensembles[rid] = ens
            if not full:
                continue
            if rid in events:
                idx = step[i] if step is not None else first_idx + i
                seq.events.append((len(seq.codes), rec, (offset, plen, idx)))
                code = EVENT
            elif not done:
                continue  # a failed run without a verdict: no invocation, nothing queued
            else:
                sampled = rec.sampled_for_evaluation
                code = (SAMPLED if sampled else NOT_SAMPLED) if sampled.__class__ is bool else DRAW
                idx = step[i] if step is not None else first_idx + i
            seq.codes.append(code)
            seq.rids.append(rid)
            seq.offs.append(offset)
            seq.idxs.append(idx)
        self.runs += runs

    def result(self, skipped: int) -> tuple:
        """What a worker sends back (small: the sequences in their packed form)."""
        seqs = {ens: seq.packed() for ens, seq in self.seqs.items()} if self.full else {}
        return (
            skipped, self.offset, self.tail, self.pairs, self.debt, self.runs, self.run_ensembles,
            self.blocks, seqs,
        )  # fmt: skip


def merge_counts(review: _ReviewPass, parts: list[tuple]) -> int:
    """Add the pieces' counts (in file order) into ``review``: runs and debt are summed,
    the newest use is kept; returns the skipped lines. ``review.offset`` / ``tail`` are
    the last piece's."""
    skipped = 0
    for part in parts:
        part_skipped, review.offset, review.tail, pairs, debt, total_runs, run_ensembles = part[:7]
        skipped += part_skipped
        for key, (count, last) in pairs.items():
            pair = review.pairs.get(key)
            if pair is None:
                review.pairs[key] = [count, last]
                continue
            pair[0] += count
            if last is not None and (pair[1] is None or last > pair[1]):
                pair[1] = last
        for tt, count in debt.items():
            review.debt[tt] = review.debt.get(tt, 0) + count
        review.total_runs += total_runs
        review.state.run_ensembles.update(run_ensembles)
    return skipped
