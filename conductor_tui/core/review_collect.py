"""What a piece of the routing log (a line range, read in a forked worker) gives the whole
review pass without stepping any run through its lifecycle: the counts (uses and last use
per task type + ensemble, debt, local runs, the ensemble of the runs an evaluation names)
and each block's runs as one byte per line (:class:`Block`), stepped later in order, per
ensemble, by :mod:`conductor_tui.core.review_split`. (The counts-only pass of the
Lifecycle screen keeps the pass's own per-record loop: without the run sequences it is as
fast.)

A block is handled with C-level operations over its decoded records (``map``, ``zip``,
``Counter``, set intersections, ``bytes``): a record is classified once per distinct
``(event, routed_to, task_type, ensemble, status)``, so the per-line Python work of the
pass is gone; only unusual blocks (timestamps out of order or not strings, unusual
delegability categories) take a per-record loop for that part.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress, islice, repeat
from operator import attrgetter, is_, le
from pathlib import Path
from typing import Any

from msgspec.structs import astuple

from conductor_tui.core.interning import InterningDecoder
from conductor_tui.core.records import RunStatus
from conductor_tui.core.review_pass import _BOM, _DECISION_EVENTS, _Light, _ReviewPass, _validate_line
from conductor_tui.core.review_state import _DONE, FLAG_EVENT

_KEY = attrgetter("event", "routed_to", "task_type", "ensemble", "status")
_ID = attrgetter("id")
_TS = attrgetter("timestamp")
_PREP = attrgetter("preparation_tokens_local")
_CAT = attrgetter("delegability_category")
_SAMPLED_FIELD = attrgetter("sampled_for_evaluation")

# a run's sampling code: the recorded decision (False / True), or none recorded (the
# stable draw from its id decides, when it matters)
NOT_SAMPLED, SAMPLED, DRAW = 0, 1, 2
_SAMPLED_CODE = {id(True): SAMPLED, id(False): NOT_SAMPLED}
NO_RUN = 255  # a line that is no quiet run (the codes of a block name the ensemble)
MAX_ENSEMBLES = NO_RUN  # more in one piece: the pass is read in one process
_SEP = "\n"
_INTERNED = ("event", "routed_to", "task_type", "ensemble", "status")
_KINDS_SKIP, _KIND_CLAUDE, _KIND_LOCAL = 0, 1, 2

# One block: (offset, length, line indexes or None (consecutive from 0), codes: per record
# the piece's number of the ensemble of a completed run without verdict or flag, else
# NO_RUN, sampling codes or None (all DRAW), ids joined by _SEP (or a list))
Block = tuple


class Collect:
    """Fed like a :class:`_ReviewPass` (by ``review_read._read_routing``) over one piece of
    the log; ``review`` lends its caches and the ids it needs. ``events``: the ids of the
    runs kept with their records (by default those with a verdict or a flag; a superset is
    fine: the stepping tells them apart)."""

    def __init__(self, review: _ReviewPass, events: Any = None) -> None:
        self.review = review
        if events is None:
            events = set(review.effective) | review.state.flagged_ids
        if not review.need <= events:
            events = events | review.need  # their ensembles are found among the kept runs
        self.events: set[str] = events
        self.offset = 0
        self.tail = False
        self.index: dict[tuple, int] = {}  # key → its number (the position in the lists below)
        self.classes: list[tuple] = []  # (kind, task type, pair, ensemble, done)
        self.codes: list[int] = []  # the code of its records in a block
        self.claude: list[int] = []  # 1: a Claude decision (no local route)
        self.code_table = bytearray(256)  # the codes and Claude marks of the first 256 keys,
        self.claude_table = bytearray(256)  # as ``bytes.translate`` tables
        self.numbers: dict[str, int] = {}  # ensemble → its number in this piece
        self.blocks: list[Block] = []
        self.kept: dict[str, list] = {}  # ensemble → [(block, index, record, id)]
        self.overflow = False
        self.flag_keys: set[int] = set()  # the numbers of the keys of flag events
        self.flag_blocks: list[tuple[int, int]] = []  # (offset, length) of blocks with a flag
        self.pairs: dict[tuple[str, str], list[Any]] = {}
        self.debt: dict[str, int] = {}
        self.runs = 0
        self.run_ensembles: dict[str, str] = {}
        # the repeated strings decoded as the same objects every time (cheaper lookups)
        self.decode_lines = InterningDecoder(_Light, _INTERNED).decode_lines

    def _classify(self, key: tuple) -> None:
        event, routed, tt, ens, status = key
        code = NO_RUN
        if event is not None and event not in _DECISION_EVENTS:
            out: tuple = (_KINDS_SKIP,)
        else:
            review = self.review
            local = review.local_cache.get(routed)
            if local is None:
                local = review._is_local(routed)
            tt = tt or "(untyped)"
            if not local:
                out = (_KIND_CLAUDE, tt)
            else:
                ens = ens or routed or ""
                pair = self.pairs.get((tt, ens))
                if pair is None:
                    pair = self.pairs[(tt, ens)] = [0, None]
                done = (status or RunStatus.COMPLETED) in _DONE
                out = (_KIND_LOCAL, tt, pair, ens, done)
                number = self.numbers.get(ens)
                if number is None:
                    number = self.numbers[ens] = len(self.numbers)
                    self.kept[ens] = []
                    self.overflow = self.overflow or number >= MAX_ENSEMBLES
                if done and number < MAX_ENSEMBLES:
                    code = number
        if event == FLAG_EVENT:
            self.flag_keys.add(len(self.classes))  # the number the key gets below
        kid = len(self.classes)  # the key's number
        self.index[key] = kid
        self.classes.append(out)
        self.codes.append(code)
        self.claude.append(int(out[0] == _KIND_CLAUDE))
        if kid < 256:
            self.code_table[kid] = code
            self.claude_table[kid] = self.claude[-1]

    def feed(
        self,
        recs: list[_Light],
        offset: int,
        plen: int,
        first_idx: int = 0,
        step: Any = None,
        ids: Any = None,
    ) -> None:
        """Process a block's decoded records in file order (``step``: their line indexes
        when not consecutive from ``first_idx``; ``ids``: theirs, when already listed)."""
        if step is None and first_idx:
            step = range(first_idx, first_idx + len(recs))
        index = self.index
        try:  # one byte per record while there are few keys: the per-key lookups translate it
            numbers: Any = bytes(map(index.__getitem__, map(_KEY, recs)))
        except (KeyError, ValueError):  # a new key (or more than 256)
            keys = list(map(_KEY, recs))
            for key in dict.fromkeys(keys):
                if key not in index:  # classified in file order: the pairs are listed as they appear
                    self._classify(key)
            numbers = list(map(index.__getitem__, keys))
            if len(self.classes) <= 256:
                numbers = bytes(numbers)
        seen = self._count(recs, numbers)
        if self.flag_keys and any(k in seen for k in self.flag_keys):
            self.flag_blocks.append((offset, plen))
        if ids is None:
            ids = list(map(_ID, recs))  # the feeders derive a missing id (``_read_routing``)
        need = self.review.need
        hit = self.events.intersection(ids)
        found = hit & need if hit and need else None
        if found:
            classes = self.classes
            for i in compress(range(len(ids)), map(found.__contains__, ids)):
                c = classes[numbers[i]]
                if c[0] == _KIND_LOCAL:
                    self.run_ensembles[ids[i]] = c[3]
        self._block(recs, numbers, ids, hit, (offset, plen, step))

    def _per_record(self, numbers: Any, values: list[int], table: bytearray) -> Any:
        """``values`` (one per key) for each record: ``table`` (the same values as bytes)
        translates the records' key numbers when they are bytes."""
        if numbers.__class__ is bytes:
            return numbers.translate(table)
        return bytes(map(values.__getitem__, numbers))

    def _count(self, recs: list[_Light], numbers: Any) -> dict[int, int]:
        """Local runs, uses and the newest use per task type + ensemble, and debt; returns
        how many records of each key (its number) the block has."""
        classes = self.classes
        if numbers.__class__ is bytes and len(classes) <= 32:
            seen = {k: n for k in range(len(classes)) if (n := numbers.count(k))}
        else:
            seen = Counter(numbers)
        runs = 0
        for key, k in seen.items():
            c = classes[key]
            if c[0] == _KIND_LOCAL:
                runs += k
                if c[4]:
                    c[2][0] += k  # uses: completed runs only
        self.runs += runs
        tss = list(map(_TS, recs))
        try:  # all strings in order (a string compared with anything else raises)
            ordered = bool(tss) and tss[0].__class__ is str and all(map(le, tss, islice(tss, 1, None)))
        except TypeError:
            ordered = False
        if ordered and numbers.__class__ is bytes:  # in order: the last is the newest
            latest = {k: tss[numbers.rfind(k)] for k in seen if classes[k][0] == _KIND_LOCAL}
        elif ordered:
            latest = dict(zip(numbers, tss, strict=True))
        else:
            latest = {}
            for key, ts in zip(numbers, tss, strict=True):
                if ts.__class__ is str and (key not in latest or ts > latest[key]):
                    latest[key] = ts
        for key, ts in latest.items():
            c = classes[key]
            if c[0] == _KIND_LOCAL and c[4]:
                pair = c[2]
                if pair[1] is None or ts > pair[1]:
                    pair[1] = ts
        self._count_debt(recs, numbers)
        return seen

    def _count_debt(self, recs: list[_Light], numbers: Any) -> None:
        """Interim Claude decisions per task type (no local preparation, delegable)."""
        review, classes, debt = self.review, self.classes, self.debt
        claude = self._per_record(numbers, self.claude, self.claude_table)
        if 1 not in claude:
            return
        recs = list(compress(recs, claude))
        keys: Any = compress(numbers, claude)
        keys = bytes(keys) if numbers.__class__ is bytes else list(keys)
        picked = bytes(map(is_, map(_PREP, recs), repeat(None)))  # no local preparation
        if 1 not in picked:
            return
        cats = list(map(_CAT, recs))
        if 0 in picked:
            keys, cats = keys.__class__(compress(keys, picked)), list(compress(cats, picked))
        try:
            kinds: set | None = set(cats)
        except TypeError:  # an unhashable category
            kinds = None
        # (a category that is no string may equal another type's: those are counted one by one)
        if kinds is not None and all(cat is None or cat.__class__ is str for cat in kinds):
            delegable = {cat: review._delegable(cat) for cat in kinds}
            if not all(delegable.values()):
                keys = keys.__class__(compress(keys, map(delegable.__getitem__, cats)))
            for key, k in Counter(keys).items():
                tt = classes[key][1]
                debt[tt] = debt.get(tt, 0) + k
            return
        for key, rec in zip(compress(numbers, claude), recs, strict=True):
            if rec.preparation_tokens_local is None and review._delegable(rec.delegability_category):
                tt = classes[key][1]
                debt[tt] = debt.get(tt, 0) + 1

    def _block(self, recs: list[_Light], numbers: Any, ids: list, hit: set, where: tuple) -> None:
        """The block's codes; the runs named in ``events`` (``hit``) kept with their records."""
        offset, plen, step = where
        codes = bytearray(self._per_record(numbers, self.codes, self.code_table))
        if hit:
            number = len(self.blocks)
            for i in compress(range(len(ids)), map(hit.__contains__, ids)):
                c = self.classes[numbers[i]]
                if c[0] == _KIND_LOCAL:
                    codes[i] = NO_RUN
                    idx = step[i] if step is not None else i
                    self.kept[c[3]].append((number, i, _plain(recs[i]), ids[i], (offset, plen, idx)))
        sampled = list(map(_SAMPLED_FIELD, recs))
        samp = None  # none recorded
        if sampled.count(None) != len(sampled):
            samp = bytes(map(_SAMPLED_CODE.get, map(id, sampled), repeat(DRAW)))
        joined: Any = _SEP.join(ids)
        if joined.count(_SEP) != max(0, len(ids) - 1):
            joined = ids
        self.blocks.append(
            (offset, plen, list(step) if step is not None else None, bytes(codes), samp, joined)
        )

    def result(self, skipped: int, path: Path | None = None) -> tuple:
        """What a worker sends back (small: the blocks' codes and joined ids), with the
        runs flagged in this piece (``path``: the log it was read from)."""
        seqs = {ens: (self.numbers[ens], self.kept[ens]) for ens in self.numbers}
        flags: set[str] = set()
        if path is not None and self.flag_blocks:
            with path.open("rb", buffering=0) as fh:
                for offset, length in self.flag_blocks:
                    fh.seek(offset)
                    flags |= flags_in(fh.read(length))
        return (
            skipped, self.offset, self.tail, self.pairs, self.debt, self.runs, self.run_ensembles,
            self.blocks, seqs, self.overflow, flags,
        )  # fmt: skip


_FLAG_NEEDLE = f'"{FLAG_EVENT}"'.encode()


def flags_in(data: bytes) -> set[str]:
    """The routing ids the flag events among the lines of ``data`` name: each line holding
    the event's quoted name read as a full record (as ``review_read._scan_flags`` reads
    the whole log)."""
    out: set[str] = set()
    if _FLAG_NEEDLE not in data:
        return out
    for raw in data.split(b"\n"):
        if _FLAG_NEEDLE in raw:
            line = raw.strip()
            if line.startswith(_BOM):
                line = line[len(_BOM) :]
            rec = _validate_line(line)
            if rec is not None and rec.event == FLAG_EVENT and rec.routing_id is not None:
                out.add(str(rec.routing_id))
    return out


def _plain(rec: Any) -> _Light:
    """``rec`` as the plain record type (an interned line's type does not pickle)."""
    if rec.__class__ is _Light:
        return rec
    return _Light(*astuple(rec))  # the interned type has the same fields in the same order


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
