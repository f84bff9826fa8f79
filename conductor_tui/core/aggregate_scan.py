"""The report's scan of a routing log, as the forked workers run it: whole lines of a byte
range decoded in blocks and folded into normalised group counters
(:mod:`~conductor_tui.core.aggregate_fold`), with nothing else loaded — no pydantic until
a line the fast decoder rejects needs the tolerant path.

:func:`start_routing_scan` starts the workers of a whole log before the rest of a command
has loaded: ``report`` calls it first, loads its other modules and reads the config and the
evaluations while the workers read the log, and the :class:`~conductor_tui.core.aggregate.Aggregator`
then takes the results (:class:`RoutingPrefetch`) when they are for the file it reads.

No Textual, no pydantic at import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import locations, logscan
from conductor_tui.core.aggregate_fold import FoldMixin, _add_counts
from conductor_tui.core.aggregate_rows import _BOM, _FileState, _new_bucket, _tolerant, route_decoder


def _add_bucket(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key, value in theirs.items():
        if key == "unestimated":
            unest = mine[key]
            for tt, n in value.items():
                unest[tt] = unest.get(tt, 0) + n
        else:
            mine[key] += value


BLOCK_SIZE = 1 << 18  # 256 KiB: the decoded records of a block stay in the CPU cache for the loop
MAX_SKIPPED_LINE_NUMBERS = 1000
# fold a group table into the totals once it has this many keys (it stays in the CPU cache)
GROUP_FLUSH = 2048


class Folder(FoldMixin):
    """Blocks of lines decoded and folded (what a scan needs of the aggregator: the fold,
    the key normalisation and its caches)."""

    def __init__(self) -> None:
        self._key_cache: dict[tuple, tuple] = {}
        self._pair_cache: dict[tuple, Any] = {}
        self._day_cache: dict[str | None, str] = {}
        self._reset_routes()

    def _reset_routes(self) -> None:
        """The routing log's totals (what :meth:`_apply_collapsed` adds to)."""
        self._totals = _new_bucket()
        self._events = 0
        self._by_tt: dict[str, dict[str, Any]] = {}
        self._by_ens: dict[str, dict[str, Any]] = {}
        self._by_day: dict[str, dict[str, Any]] = {}
        # task type → [local tokens sum, n, claude tokens sum, n, min, max] for the ratio
        self._ratio: dict[str, list[int]] = {}
        # task type → [fixed, fixed_unest, unest, pairs] of its saving's range (core.savings_band)
        self._range: dict[str, list[Any]] = {}
        # ensemble → task type → decisions (to attribute evaluations without a task type)
        self._ens_tt: dict[str, dict[str, int]] = {}
        self._overhead: dict[str, int] = {"planning": 0, "judge": 0}

    def _route_totals(self) -> tuple:
        """The routing totals, to send from a worker (:meth:`_merge_route_totals` adds them)."""
        return (
            self._totals,
            self._events,
            self._by_tt,
            self._by_ens,
            self._by_day,
            self._ratio,
            self._range,
            self._ens_tt,
            self._overhead,
        )

    def _merge_route_totals(self, part: tuple) -> None:
        """Add a worker's routing totals (:meth:`_route_totals`) to these."""
        totals, events, by_tt, by_ens, by_day, ratio, rng, ens_tt, overhead = part
        _add_bucket(self._totals, totals)
        self._events += events
        for mine, theirs in ((self._by_tt, by_tt), (self._by_ens, by_ens), (self._by_day, by_day)):
            for key, bucket in theirs.items():
                have = mine.get(key)
                if have is None:
                    mine[key] = bucket
                else:
                    _add_bucket(have, bucket)
        for tt, r in ratio.items():
            mr = self._ratio.get(tt)
            if mr is None:
                self._ratio[tt] = r
                continue
            for i in range(4):
                mr[i] += r[i]
            if r[4] and (not mr[4] or r[4] < mr[4]):
                mr[4] = r[4]
            mr[5] = max(mr[5], r[5])
        for tt, (fixed, fixed_unest, unest, pairs) in rng.items():
            acc = self._range.setdefault(tt, [0, 0, 0, {}])
            acc[0] += fixed
            acc[1] += fixed_unest
            acc[2] += unest
            if not acc[3]:
                acc[3] = pairs
            else:
                _add_counts(acc[3], pairs)
        for ens, tts in ens_tt.items():
            have_tts = self._ens_tt.setdefault(ens, {})
            for tt, n in tts.items():
                have_tts[tt] = have_tts.get(tt, 0) + n
        for kind, n in overhead.items():
            self._overhead[kind] = self._overhead.get(kind, 0) + n

    def _decode_piece(
        self,
        piece: bytes | memoryview,
        line_no: int,
        decoder: Any,
        routing: bool,
        state: _FileState,
        groups: dict[tuple, list[int]],
        lines: int,
    ) -> None:
        """Fold the ``lines`` whole lines of ``piece`` (its first is line ``line_no``):
        decoded at once; a piece the decoder rejects, or that does not decode to one record
        per line (:func:`~conductor_tui.core.logscan.one_record_per_line`), is bisected down to small pieces
        read line by line, the lines the decoder still rejects through the tolerant path,
        skipped and counted when that fails too."""
        try:
            recs = decoder.decode_lines(piece)
        except (msgspec.DecodeError, msgspec.ValidationError):
            recs = None
        if recs is not None and logscan.one_record_per_line(piece, len(recs), lines):
            self._add(recs, routing, groups)
            return
        piece = bytes(piece)
        if len(piece) > 16384:
            mid = piece.find(b"\n", len(piece) // 2)
            if 0 <= mid < len(piece) - 1:
                left = piece[: mid + 1]
                n_left = left.count(b"\n")
                self._decode_piece(left, line_no, decoder, routing, state, groups, n_left)
                self._decode_piece(
                    piece[mid + 1 :], line_no + n_left, decoder, routing, state, groups, lines - n_left
                )
                return
        good: list[Any] = []
        for raw in piece.split(b"\n")[:-1]:
            line = raw.strip()
            if line:
                try:
                    good.append(decoder.decode(line))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    rec = _tolerant(line, state.kind)
                    if rec is None:
                        state.skipped += 1
                        if len(state.skipped_lines) < MAX_SKIPPED_LINE_NUMBERS:
                            state.skipped_lines.append(line_no)
                    else:
                        good.append(rec)
            line_no += 1
        self._add(good, routing, groups)


def scan_routing_range(job: tuple[str, int, int]) -> tuple[tuple, int, int, list[int]]:
    """One piece of a parallel routing-log read (whole lines ``[start, end)`` of ``path``):
    ``(routing totals, lines, skipped lines, their numbers within the piece)``; the totals
    are added up here, on every core, so the caller only merges them."""
    folder, collapsed, lines, state = _scan_range(job)
    folder._apply_collapsed(collapsed)
    return folder._route_totals(), lines, state.skipped, state.skipped_lines


def _scan_range(job: tuple[str, int, int]) -> tuple[Folder, dict, int, _FileState]:
    """The lines ``[start, end)`` of ``path`` folded into normalised group counters."""
    path, start, end = job
    folder = Folder()
    state = _FileState(kind="routing")
    groups: dict[tuple, list[int]] = {}
    collapsed: dict[tuple, list[int]] = {}
    lines = 0
    decoder = route_decoder()
    with open(path, "rb", buffering=0) as fh:
        for piece, first, n in logscan.iter_blocks(fh, start, end, BLOCK_SIZE):
            folder._decode_piece(piece, first, decoder, True, state, groups, n)
            lines += n
            if len(groups) > GROUP_FLUSH:
                groups = folder._fold_groups(groups, collapsed)
    folder._collapse(groups, collapsed)
    return folder, collapsed, lines, state


def routing_ranges(fh: Any, start: int, size: int) -> tuple[int, int, list[tuple[int, int]]]:
    """``(start, end, ranges)`` of a parallel read of ``fh`` from ``start`` (a log read
    from its beginning starts after a byte-order mark): the whole lines up to the last
    newline, one range per worker; no ranges when the rest is too small to split."""
    n = logscan.parallel_workers(size - start)
    if n <= 1:
        return start, start, []
    if start == 0:
        fh.seek(0)
        if fh.read(len(_BOM)) == _BOM:
            start = len(_BOM)
    end = logscan.last_newline(fh, start, size)
    return start, end, logscan.line_ranges(fh, start, end, n)


@dataclass
class RoutingPrefetch:
    """The workers of a whole routing log, started ahead (see :func:`start_routing_scan`)."""

    dev: int
    ino: int
    start: int
    end: int
    job: logscan.ForkJob | None

    def take(self, fh: Any, offset: int, size: int) -> list[Any] | None:
        """The workers' results when they read the file ``fh`` is open on, from ``offset``
        (0: a read from the start; after a byte-order mark they started behind it), and the
        file still holds their lines; ``None`` otherwise. Once asked about their own file,
        the workers are done with: a read from elsewhere, or of a shorter (rewritten) file,
        stops them."""
        job = self.job
        if job is None:
            return None
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != (self.dev, self.ino):
            return None  # another file: left for its own read
        self.job = None
        if offset != 0 or size < self.end:
            job.cancel()
            return None
        return job.join()

    @property
    def workers(self) -> int:
        """How many processes read the log."""
        return len(self.job.items) if self.job is not None else 0

    def cancel(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.cancel()


def start_routing_scan(path: str | os.PathLike[str]) -> RoutingPrefetch | None:
    """Start reading the whole routing log at ``path`` on every core, or ``None`` when it
    is missing or too small to split. The caller hands the result to
    :meth:`~conductor_tui.core.aggregate.Aggregator.adopt` (or cancels it)."""
    try:
        fh = open(Path(path), "rb", buffering=0)
    except OSError:
        return None
    with fh:
        st = os.fstat(fh.fileno())
        start, end, ranges = routing_ranges(fh, 0, st.st_size)
    if not ranges:
        return None
    job = logscan.ForkJob(scan_routing_range, [(str(path), a, b) for a, b in ranges])
    return RoutingPrefetch(st.st_dev, st.st_ino, start, end, job)


def start_cold_scan(evaluations_dir: str | os.PathLike[str]) -> RoutingPrefetch | None:
    """Start reading the routing log of ``evaluations_dir`` on every core when a read of
    it will start from its beginning: no offset cache (``report``'s, shared with the
    Savings dashboard) to continue from, or caching turned off
    (``CONDUCTOR_TUI_NO_CACHE=1``). Called first, so the workers run while the caller
    loads its modules, the config and the evaluations."""
    if (
        not os.environ.get("CONDUCTOR_TUI_NO_CACHE")
        and locations.aggregate_cache_path(evaluations_dir).exists()
    ):
        return None
    return start_routing_scan(Path(evaluations_dir) / locations.ROUTING_LOG)
