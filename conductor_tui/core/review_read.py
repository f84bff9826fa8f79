"""How the routing log is read into the review pass (:mod:`conductor_tui.core.review_pass`):
in ~1 MiB blocks decoded at once with msgspec (corrupt or hand-written lines one by one
through pydantic, skipped and counted when neither reads them), from a byte offset on (a
resumed pass reads only appended lines), on every core:

* :func:`read_routing_sharded` — the whole pass when it needs every run in order
  (evaluations naming an invocation): every worker reads the whole log and steps only its
  share of the ensembles (otherwise :mod:`conductor_tui.core.review_split` splits the log
  by line range);
* the counts alone (``counts_only``): :mod:`conductor_tui.core.review_counts`, whose
  pieces read their blocks themselves (``feed_block``);
* :func:`_materialise` — the full records of the queue entries, re-reading only their blocks;
* :func:`_scan_flags` — the runs the person flagged, found before the pass.
"""

from __future__ import annotations

import copy
import gc
import mmap
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan
from conductor_tui.core.records import RoutingDecision, line_identity
from conductor_tui.core.review_collect import Collect
from conductor_tui.core.review_pass import (
    _BOM,
    _LIGHT,
    _LOC,
    _Light,
    _Pending,
    _ReviewPass,
    _tolerant_light,
    _validate_line,
)
from conductor_tui.core.review_state import FLAG_EVENT

_BLOCK = 1 << 20
_ID = attrgetter("id")


def _scan_flags(path: Path) -> set[str]:
    """Routing ids the person flagged (``flagged-unsatisfactory`` events; rare, found with
    a C-level search over the mapped file, so runs logged before their flag are known in
    the main pass)."""
    out: set[str] = set()
    if not path.is_file() or path.stat().st_size == 0:
        return out
    needle = f'"{FLAG_EVENT}"'.encode()
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        pos = data.find(needle)
        while pos != -1:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            end = len(data) if end == -1 else end
            line = data[start:end].strip()
            if line.startswith(_BOM):
                line = line[len(_BOM) :]
            rec = _validate_line(line)
            if rec is not None and rec.event == FLAG_EVENT and rec.routing_id is not None:
                out.add(str(rec.routing_id))
            pos = data.find(needle, end)
    return out


def _feed_per_line(review: Any, piece: bytes, base: int) -> int:
    """Feed a block line by line (msgspec, else pydantic); returns its skipped lines."""
    skipped = 0
    recs: list[_Light] = []
    indexes: list[int] = []
    for idx, raw in enumerate(piece.split(b"\n")):
        line = raw.strip()
        if not line:
            continue
        rec: _Light | None
        try:
            rec = _LIGHT.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            rec = _tolerant_light(line)
        if rec is None:
            skipped += 1
            continue
        if rec.id is None:
            rec.id = line_identity("rd-", line)
        recs.append(rec)
        indexes.append(idx)
    review.feed(recs, base, len(piece), step=indexes)
    return skipped


def _feed_block(review: Any, piece: bytes, offset: int) -> int:
    """Feed a block of whole lines, decoded at once when every line is a clean record
    with its id (else line by line); a fed object with its own ``feed_block`` (the
    counts, :mod:`conductor_tui.core.review_counts`) reads the block itself."""
    own = getattr(review, "feed_block", None)
    if own is not None:
        return int(own(piece, offset))
    try:
        decode = review.decode_lines if isinstance(review, Collect) else _LIGHT.decode_lines
        recs = decode(piece)
    except (msgspec.DecodeError, msgspec.ValidationError):
        recs = None
    if recs is not None and logscan.one_record_per_line(piece, len(recs)) and None not in map(_ID, recs):
        review.feed(recs, offset, len(piece))
        return 0
    return _feed_per_line(review, piece, offset)


def _read_routing(path: Path, review: Any, start: int = 0, end: int | None = None) -> int:
    """Feed every record of ``path`` from byte ``start`` to ``review`` (fast msgspec blocks,
    per-line fallback for blocks with corrupt or hand-written lines); returns the number of
    skipped lines. ``review.offset`` is left after the last newline read, ``review.tail``
    tells whether an unterminated last line was fed too (see :func:`load_review`).
    ``end`` (just after a newline) stops the read there instead of at the end of the file."""
    skipped = 0
    review.offset, review.tail = start, False
    if not path.is_file():
        return 0
    with path.open("rb", buffering=0) as fh:
        offset = start
        size = _BLOCK
        first = start == 0
        while True:
            fh.seek(offset)
            block = fh.read(size if end is None else min(size, end - offset))
            if not block:
                break
            cut = block.rfind(b"\n")
            if cut < 0:
                if len(block) < size:  # the last line has no newline
                    if block.startswith(_BOM) and first:
                        block = block[len(_BOM) :]
                        offset += len(_BOM)
                    skipped += _feed_per_line(review, block, offset)
                    review.tail = bool(block.strip())
                    break
                size *= 2
                continue
            if first and block.startswith(_BOM):
                offset += len(_BOM)
                cut -= len(_BOM)
                block = block[len(_BOM) :]
            first = False
            skipped += _feed_block(review, block[: cut + 1], offset)
            offset += cut + 1
            size = _BLOCK
    review.offset = offset
    return skipped


def _balanced_shards(path: Path, n: int, samples: int = 16, span: int = 1 << 18) -> dict[str, int]:
    """Ensemble → shard, the busiest ensembles first to the least loaded shard, by their runs
    in a few evenly spread samples of the log (ensembles not sampled fall back to a hash of
    their name). Only the balance of the work depends on it, never the result."""
    runs: dict[str, int] = {}
    size = path.stat().st_size
    with path.open("rb", buffering=0) as fh:
        for i in range(samples):
            fh.seek(size * i // samples)
            lines = fh.read(span).split(b"\n")[1:-1]  # whole lines only
            for line in lines:
                try:
                    rec = _LIGHT.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                routed = rec.routed_to.strip().lower() if isinstance(rec.routed_to, str) else ""
                if routed and not routed.startswith("claude"):
                    ens: str = rec.ensemble or rec.routed_to or ""
                    runs[ens] = runs.get(ens, 0) + 1
    load = [0] * n
    out: dict[str, int] = {}
    for ens, count in sorted(runs.items(), key=lambda kv: (-kv[1], kv[0])):
        k = load.index(min(load))
        out[ens] = k
        load[k] += count
    return out


def _shard_pass(review: _ReviewPass, shard: tuple[int, int], assigned: dict[str, int]) -> _ReviewPass:
    """An empty copy of ``review`` for one shard (same evaluations, state and thresholds)."""
    part = copy.copy(review)
    part.shard = shard
    part.shard_cache = {ens: k == shard[0] for ens, k in assigned.items()}
    part.tracks, part.pairs, part.debt, part.special = {}, {}, {}, []
    part.local_cache, part.deleg_cache = {}, {}
    part.due = deque(maxlen=review.due.maxlen)
    part.all = deque(maxlen=review.all.maxlen)
    part.due_total = part.total_runs = 0
    return part


def _read_shard(job: tuple[_ReviewPass, Path, int, int, dict[str, int]]) -> tuple[Any, ...]:
    review, path, k, n, assigned = job
    part = _shard_pass(review, (k, n), assigned)
    skipped = _read_routing(path, part)
    state = part.state
    return (
        skipped, part.offset, part.tail, part.tracks, part.pairs, part.debt, list(part.due), list(part.all),
        part.special, part.due_total, part.total_runs, dict(state.run_ensembles), dict(state.linked),
    )  # fmt: skip


def read_routing_sharded(path: Path, review: _ReviewPass) -> int:
    """:func:`_read_routing` from the start on every core: each forked worker reads the whole
    log but steps only the runs of its share of the ensembles (an ensemble's runs stay in
    order in one worker; the shares balanced by :func:`_balanced_shards`); the queues are
    merged back by location. Same result as one pass."""
    n = logscan.parallel_workers(path.stat().st_size) if path.is_file() else 1
    if n <= 1:
        return _read_routing(path, review)
    assigned = _balanced_shards(path, n)
    parts = logscan.fork_map(_read_shard, [(review, path, k, n, assigned) for k in range(n)])
    loc = _LOC
    due: list[_Pending] = []
    every: list[_Pending] = []
    special: list[_Pending] = []
    for k, part in enumerate(parts):
        (_sk, review.offset, review.tail, tracks, pairs, debt, p_due, p_all, p_special, due_total, total_runs,
         run_ensembles, linked) = part  # fmt: skip
        review.tracks.update(tracks)
        review.pairs.update(pairs)
        if k == 0:
            review.debt = debt
        due += p_due
        every += p_all
        special += p_special
        review.due_total += due_total
        review.total_runs += total_runs
        review.state.run_ensembles.update(run_ensembles)
        review.state.linked.update(linked)
    review.due = deque(sorted(due, key=lambda p: p[loc]), maxlen=review.due.maxlen)
    review.all = deque(sorted(every, key=lambda p: p[loc]), maxlen=review.all.maxlen)
    review.special = sorted(special, key=lambda p: p[loc])
    return int(parts[0][0])


def _materialise(path: Path, pendings: list[_Pending]) -> dict[tuple[int, int, int], RoutingDecision]:
    """Full records for the queue entries (re-read only the blocks they are in)."""
    by_block: dict[tuple[int, int], list[int]] = {}
    for p in pendings:
        by_block.setdefault((p[0], p[1]), []).append(p[2])
    out: dict[tuple[int, int, int], RoutingDecision] = {}
    with path.open("rb", buffering=0) as fh:
        for (offset, length), indexes in sorted(by_block.items()):
            fh.seek(offset)
            lines = fh.read(length).split(b"\n")
            for idx in indexes:
                if idx < len(lines):
                    rec = _validate_line(lines[idx].strip())
                    if rec is not None:
                        out[(offset, length, idx)] = rec
    return out


@contextmanager
def no_collection() -> Iterator[None]:
    """No garbage collection meanwhile (restored after, if it was on). A piece's read makes
    no reference cycles; and in a forked worker a collection would walk — and so copy,
    page by page — the whole heap it inherited (the cockpit's), for nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def split_ranges(path: Path, start: int = 0) -> list[tuple[int, int | None]]:
    """The bytes of ``path`` from ``start`` as one line range per core (the last one open:
    it reads an unterminated last line too); empty when one process should read them."""
    size = path.stat().st_size if path.is_file() else 0
    n = logscan.parallel_workers(size - start)
    if n <= 1:
        return []
    with path.open("rb", buffering=0) as fh:
        whole = logscan.last_newline(fh, start, size)
        ranges: list[tuple[int, int | None]] = list(logscan.line_ranges(fh, start, whole, n))
    if ranges:
        ranges[-1] = (ranges[-1][0], None)
    return ranges


class _EvalRef(msgspec.Struct, gc=False):
    routing_id: Any = None
    ensemble: Any = None


_EVAL_REF = msgspec.json.Decoder(_EvalRef)


def routing_ids_named(path: Path, *, unless_ensemble: bool = False) -> set[str] | None:
    """Every routing id ``evaluations.jsonl`` names (normalised as the records are), from a
    quick decode of that one field — a superset of the runs whose ensemble an evaluation
    may need (``unless_ensemble``: only those of lines that do not name their ensemble,
    still a superset); ``None`` when the file cannot be read. The file is decoded at once
    when it can be (two values on a line only add ids: still a superset), else line by line."""
    try:
        data = path.read_bytes() if path.is_file() else b""
    except OSError:
        return None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        refs = _EVAL_REF.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        refs = []
        for line in data.split(b"\n"):
            if line.strip():
                try:
                    refs.append(_EVAL_REF.decode(line))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
    from conductor_tui.core.records import _id_or_none

    out: set[str] = set()
    for ref in refs:
        if unless_ensemble and ref.ensemble.__class__ is str and ref.ensemble:
            continue  # a record naming its ensemble needs no run's (a string is kept as is)
        value = _id_or_none(ref.routing_id)
        if value:
            out.add(str(value))
    return out
