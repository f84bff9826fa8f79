"""The numbers behind ``conductor-tui report`` and the live savings dashboard.

:class:`Aggregator` reads ``routing-log.jsonl`` and ``evaluations.jsonl`` incrementally:
each :meth:`Aggregator.feed_file` call reads only the complete lines appended since the
previous call (it remembers the byte offset and line number per file, and starts over
if a file was truncated or replaced). :meth:`Aggregator.snapshot` returns plain totals.

Speed (targets: 1,000,000 lines cold ≤ 0.25× plain ``json.loads`` per line, warm ≤ 0.1×,
appends reflected < 50 ms, < 250 MB; measured by ``benchmarks/bench_floor.py`` and
``benchmarks/bench_report.py``):

* the hot path decodes whole 256 KiB blocks of lines (read unbuffered, passed as a
  memoryview, no copies) with one typed ``msgspec`` decoder (``Decoder.decode_lines``)
  that materialises only the fields the report needs. msgspec is C; it skips the other
  keys without building them, which is what makes it ~3x faster than ``json.loads`` + dict
  access over the same file (a pydantic model per line would be ~20x slower);
* per record the loop only builds a small key tuple of raw strings and adds integers to
  the group's counters (a completed local run with a logged saving also counts its
  (saving, tokens) pair, under one integer key, in the pair table its group points to);
  the (small, cache-resident) group table is folded into the totals whenever it grows past
  ``GROUP_FLUSH`` keys, the pair tables once at the end, and normalisation (near-miss
  spellings, local vs Claude, day validity) runs once per *distinct key*, not once per line;
* the categorical fields (event, task type, target, ensemble, status …) are decoded as
  learned ``Literal`` types (:mod:`~conductor_tui.core.interning`): one string object per
  value, hashed once;
* the whole lines of a big log are split between the cores
  (:mod:`~conductor_tui.core.logscan`, :mod:`~conductor_tui.core.aggregate_scan`): each
  forked worker folds its piece and adds it up into routing totals, merged here in file
  order. ``report`` starts those workers before its other modules load
  (:func:`~conductor_tui.core.aggregate_scan.start_routing_scan`, :meth:`Aggregator.adopt`),
  and reads the evaluations and walks the lifecycles while they run;
* a block the strict decoder rejects (a corrupt line, ``"450"`` as a string, a numeric
  timestamp …) is bisected — halves decode fast again — down to small pieces read line by
  line: lines msgspec accepts stay on the fast path, the rest go through the tolerant
  pydantic records, and lines that still fail are counted as skipped with their line
  numbers, exactly like :mod:`~conductor_tui.core.store`'s reads;
* :meth:`Aggregator.save_cache` / :meth:`Aggregator.load_cache` keep the state by file
  offset (with a fingerprint of the file) so a warm start reads only new lines (the run →
  verdict index stays encoded until new evaluations need it; an unchanged cache is not
  written again).

Savings accounting: for a local decision, the saving is its logged ``tokens_saved``,
else its logged ``estimated_claude_tokens``, else ``total_tokens_local / ratio`` where
``ratio`` is the task type's refined local/Claude ratio (:func:`rules.refine_ratio`) or the
config's default 1.2. Ensemble-prepared Claude adds its ``preparation_savings`` (else
``estimated_full_claude_tokens - judgment_tokens_claude``). ``by_day`` uses the calendar
date as written in the timestamp.

Claude's own costs are subtracted (``net_claude_tokens_saved``): routing-log events
``event="claude-overhead"`` (planning; their ``purpose``/``task_type`` starting with
``judg`` counts as judging instead), the ``judge_tokens`` of evaluations (the judge's
verdicts) and the ``propose_judge.claude_judge_tokens`` of propose–judge runs that Claude
judged. Each judge call is recorded once — on its evaluation, or as an overhead event
when it produced no evaluation — so the two sources never overlap.

Interim Claude debt comes from the routing log (delegable work Claude did). The task
profiles' ``interim_claude_count`` (``task-profiles.yaml``, fed with
:meth:`Aggregator.feed_task_profiles`) also counts it — each logged interim decision
bumps it too — so per task type the debt is ``max(logged, profile count)``: the profile
only adds what the logs lack (rotated logs, a conductor that updated only the profile),
never the same work twice.

The saving's range (:meth:`Aggregator.savings_range`, ``report --json``'s
``savings_range``) comes from the same pass (:mod:`~conductor_tui.core.savings_band`):
:func:`savings_range_for` reuses the aggregator that read the logs last while they are
unchanged, so ``report`` and the Savings dashboard read each line once.

Parts: :mod:`~conductor_tui.core.aggregate_rows` (decoders, counter layout, tolerant
path), :mod:`~conductor_tui.core.aggregate_fold` (hot loops, merging),
:mod:`~conductor_tui.core.aggregate_scan` (a worker's scan; no pydantic),
:mod:`~conductor_tui.core.aggregate_cache` (warm-start cache),
:mod:`~conductor_tui.core.aggregate_snapshot` (:class:`Snapshot`, the range); this module
keeps the feeding and re-exports what others import.

No Textual, no Rich.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import aggregate_scan, logscan
from conductor_tui.core.aggregate_cache import CACHE_FORMAT, CacheMixin, cache_path_for
from conductor_tui.core.aggregate_rows import (
    _BOM,
    _EVAL_DEC,
    _FileState,
    _tolerant,
    route_decoder,
)
from conductor_tui.core.aggregate_scan import MAX_SKIPPED_LINE_NUMBERS, Folder, RoutingPrefetch
from conductor_tui.core.aggregate_snapshot import Snapshot, SnapshotMixin
from conductor_tui.core.records import RoutingThresholds, Score
from conductor_tui.core.store import EVALUATIONS_LOG

__all__ = [
    "CACHE_FORMAT",
    "Aggregator",
    "Snapshot",
    "_FileState",
    "_tolerant",
    "cache_path_for",
    "savings_range_for",
]

_LAST: Aggregator | None = None  # the aggregator that read a log last (see savings_range_for)


def savings_range_for(store: Any, thresholds: RoutingThresholds) -> dict[str, Any]:
    """:meth:`Aggregator.savings_range` of ``store``'s logs: from the aggregator that read
    them last in this process when they are unchanged since (``report`` and the Savings
    dashboard have just read them), else from a new pass."""
    paths = [store.routing_log_path, store.evaluations_path]
    agg = _LAST
    if agg is None or not agg.covers(paths, thresholds):
        agg = Aggregator(thresholds)
        agg.feed_file(paths[0], "routing")
        agg.feed_file(paths[1], "evaluations")
    return agg.savings_range()


class Aggregator(SnapshotMixin, CacheMixin, Folder):
    """Incremental totals over the conductor logs.

    ``feed_file(path)`` reads the complete lines appended since its last call for that
    path (the kind — routing log or evaluations — comes from the file name unless
    ``kind`` is given). ``snapshot()`` returns a :class:`Snapshot`. ``thresholds`` (from
    the routing config) drive lifecycle phases, promotion readiness and the token ratio.
    Not thread-safe: feed and snapshot from one thread at a time (e.g. one worker).
    """

    def __init__(self, thresholds: RoutingThresholds | None = None) -> None:
        self.thresholds = thresholds or RoutingThresholds()
        self._files: dict[str, _FileState] = {}
        self._prefetched: list[RoutingPrefetch] = []  # workers started ahead (adopt)
        # task-profiles.yaml: task type → interim_claude_count (read whole, not cached)
        self._profile_interim: dict[str, int] = {}
        self._profiles_sig: tuple | None = None
        self._reset_data()

    def _reset_data(self) -> None:
        self._reset_routes()
        self._key_cache: dict[tuple, tuple] = {}
        self._pair_cache: dict[tuple, Any] = {}
        self._day_cache: dict[str | None, str] = {}
        self._status_cache: dict[str, tuple] = {}
        self._eval_scores: dict[str, list[Score | None]] = {}
        self._eval_modes: dict[str, list[Any]] = {}
        # the run an evaluation belongs to → [ensemble, index in its lists, label, task type]:
        # a later verdict on the same run (the person agreeing with or overriding the judge)
        # replaces the earlier one — one verdict per run, as core.history counts them
        self._eval_index: dict[str, list[Any]] = {}
        self._eval_index_raw: msgspec.Raw | None = None  # still encoded, from a loaded cache
        self._eval_tt: dict[str, dict[str, int]] = {}  # explicit task type → score counts
        self._eval_implicit: dict[str, dict[str, int]] = {}  # ensemble → counts w/o task type
        self._eval_totals: dict[str, int] = {"total": 0, "good": 0, "acceptable": 0, "poor": 0, "unscored": 0}

    # ----------------------------------------------------------------- feeding

    def reset(self) -> None:
        """Forget everything, including file offsets."""
        self._files.clear()
        self._reset_data()

    def feed_file(self, path: str | os.PathLike[str], kind: str | None = None) -> int:
        """Read what was appended to ``path`` since the last call; returns the number of
        new lines consumed (blank and skipped lines included). A missing file reads as
        empty. An unreadable one raises ``OSError``."""
        global _LAST
        _LAST = self  # savings_range_for reuses it while the files stay as read
        p = Path(path)
        key = str(p)
        state = self._files.get(key)
        if state is None:
            if kind is None:
                kind = "evaluations" if p.name == EVALUATIONS_LOG or "evaluation" in p.name else "routing"
            state = self._files[key] = _FileState(kind=kind)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if state.offset:
                self._restart()
            return 0
        if st.st_size < state.offset or (state.ino is not None and st.st_ino != state.ino):
            # truncated or replaced: start over for every file (totals are shared)
            self._restart()
            state = self._files[key]
        state.ino = st.st_ino
        if st.st_size == state.offset:
            return 0
        before = state.next_line
        gc_was_enabled = gc.isenabled()
        gc.disable()  # the records are untracked structs; a full collection here is pure cost
        try:
            with open(p, "rb", buffering=0) as fh:
                self._consume(fh, state)
        finally:
            if gc_was_enabled:
                gc.enable()
        return state.next_line - before

    def covers(self, paths: list[Any], thresholds: RoutingThresholds) -> bool:
        """Whether this aggregator has read every byte of ``paths`` as they are now, with
        ``thresholds`` (then its figures are those of the files: no need to read them again)."""
        if thresholds != self.thresholds:
            return False
        for path in paths:
            st = self._files.get(str(Path(path)))
            sig = logscan.file_signature(path)
            if sig is None:
                if st is not None and st.offset:
                    return False
                continue
            if st is None or st.ino != sig[0] or st.offset != sig[1]:
                return False
        return True

    def feed_routing_log(self, path: str | os.PathLike[str]) -> int:
        return self.feed_file(path, "routing")

    def feed_evaluations(self, path: str | os.PathLike[str]) -> int:
        return self.feed_file(path, "evaluations")

    def feed_logs(
        self,
        routing: str | os.PathLike[str],
        evaluations: str | os.PathLike[str],
        *,
        prefetch: RoutingPrefetch | None = None,
        meanwhile: Any = None,
    ) -> int:
        """Feed the evaluations, then the routing log; returns the new lines. A read of the
        routing log from its start runs on its workers (``prefetch``, or started here)
        while the evaluations are read, the lifecycles they decide are walked and
        ``meanwhile()`` (if given) runs. An ``OSError`` names the file it is about."""
        state = self._files.get(str(Path(routing)))
        if prefetch is None and (state is None or state.offset == 0):
            prefetch = aggregate_scan.start_routing_scan(routing)
        self.adopt(prefetch)
        try:
            n = self._feed_named(evaluations, "evaluations")
            self.walk_lifecycles()
            if meanwhile is not None:
                meanwhile()
            return n + self._feed_named(routing, "routing")
        finally:
            self.drop_prefetched()

    def _feed_named(self, path: str | os.PathLike[str], kind: str) -> int:
        try:
            return self.feed_file(path, kind)
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(path)
            raise

    def feed_store(self, store: Any, prefetch: RoutingPrefetch | None = None) -> int:
        """Feed a :class:`~conductor_tui.core.store.ProjectStore`'s routing log,
        evaluations and task profiles (what a dashboard calls on every refresh; a
        malformed ``task-profiles.yaml`` keeps the counts read before). ``prefetch``: the
        routing log's workers, started earlier (see :meth:`feed_logs`)."""
        from conductor_tui.core.store import StoreError

        n = self.feed_logs(store.routing_log_path, store.evaluations_path, prefetch=prefetch)
        try:
            self.feed_task_profiles(store)
        except (StoreError, OSError):
            pass
        return n

    def feed_task_profiles(self, store: Any) -> bool:
        """Read the task profiles' ``interim_claude_count`` from ``store`` (a
        :class:`~conductor_tui.core.store.ProjectStore`) when ``task-profiles.yaml``
        changed since the last call (size, mtime, inode); returns whether it was read.
        Raises :class:`~conductor_tui.core.store.StoreError` when the file is malformed."""
        path = Path(store.profiles_path)
        try:
            st = os.stat(path)
            sig: tuple | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            sig = None
        if sig == self._profiles_sig and (sig is not None or not self._profile_interim):
            return False
        counts: dict[str, int] = {}
        if sig is not None:
            for name, profile in store.load_task_profiles().profiles.items():
                if profile.interim_claude_count and profile.interim_claude_count > 0:
                    counts[name] = int(profile.interim_claude_count)
        self._profile_interim = counts
        self._profiles_sig = sig
        return True

    def set_task_profile_interim(self, counts: dict[str, int]) -> None:
        """Set task type → ``interim_claude_count`` directly (see :meth:`feed_task_profiles`)."""
        self._profile_interim = {k: int(v) for k, v in counts.items() if v and int(v) > 0}
        self._profiles_sig = None

    def _restart(self) -> None:
        files = list(self._files.items())
        self._reset_data()
        self._files = {}
        for name, st in files:
            self._files[name] = _FileState(kind=st.kind)
        for name, _st in files:
            if Path(name).exists():
                self.feed_file(name)

    def _consume(self, fh: Any, state: _FileState) -> None:
        """Read complete lines from ``state.offset`` (``fh`` is an unbuffered binary file).

        Blocks are decoded through a memoryview up to their last newline; the partial line
        after it is re-read with the next block (a seek, not a copy of the block)."""
        routing = state.kind == "routing"
        decoder = route_decoder() if routing else _EVAL_DEC
        groups: dict[tuple, list[int]] = {}
        size = aggregate_scan.BLOCK_SIZE
        tail, tail_skip = b"", 0
        if state.offset > 0:
            # After a consumed last line that had no newline, the newline that later ends
            # it belongs to that line: skip it without counting a line.
            fh.seek(state.offset - 1)
            head = fh.read(3)
            if head[:1] != b"\n":
                if head[1:2] == b"\n":
                    state.offset += 1
                elif head[1:3] == b"\r\n":
                    state.offset += 2
        if routing:
            self._consume_parallel(fh, state)
        fh.seek(state.offset)
        while True:
            block = fh.read(size)
            if not block:
                break
            skip = len(_BOM) if state.offset == 0 and block.startswith(_BOM) else 0
            cut = block.rfind(b"\n")
            if cut < 0:
                if len(block) < size:  # EOF inside an unterminated line
                    tail, tail_skip = block, skip
                    break
                size *= 2  # a line longer than the block: read more at once
                fh.seek(state.offset)
                continue
            n_lines = block.count(b"\n", skip, cut + 1)
            piece = memoryview(block)[skip : cut + 1]
            self._decode_piece(piece, state.next_line, decoder, routing, state, groups, n_lines)
            if routing and len(groups) > aggregate_scan.GROUP_FLUSH:
                # Keep the group table small (it stays in the CPU cache): fold it now.
                groups = self._fold_groups(groups)
            state.lines += n_lines
            state.next_line += n_lines
            state.offset += cut + 1
            if cut + 1 < len(block):
                fh.seek(state.offset)
        self._consume_tail(tail, tail_skip, decoder, state, groups)
        if routing:
            self._merge_routes(groups)

    def _consume_tail(self, tail: bytes, skip: int, decoder: Any, state: _FileState, groups: dict) -> None:
        """An unterminated last line: taken only if it is already a complete record."""
        text = tail[skip:].strip()
        if not text:
            state.offset += len(tail)
            return
        rec = None
        try:
            rec = decoder.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            if text.endswith(b"}"):
                rec = _tolerant(text, state.kind)
        if rec is not None:
            self._add([rec], state.kind == "routing", groups)
            state.lines += 1
            state.next_line += 1
            state.offset += len(tail)

    def adopt(self, prefetch: RoutingPrefetch | None) -> None:
        """Take the workers :func:`~conductor_tui.core.aggregate_scan.start_routing_scan`
        started: the next read of that file from its start uses their results (a read of
        another file, or from elsewhere, leaves them; :meth:`drop_prefetched` ends them)."""
        if prefetch is not None:
            self._prefetched.append(prefetch)

    def drop_prefetched(self) -> None:
        """Stop the adopted workers no read has used."""
        while self._prefetched:
            self._prefetched.pop().cancel()

    def _consume_parallel(self, fh: Any, state: _FileState) -> None:
        """Read the whole lines from ``state.offset`` on every core when there are enough
        of them (:mod:`~conductor_tui.core.logscan`): the bytes split at line boundaries,
        each piece folded into normalised group counters by a forked worker, the partials
        added here in file order (line numbers of skipped lines shifted by the lines
        before their piece). The unterminated tail, if any, is left to :meth:`_consume`."""
        size = os.fstat(fh.fileno()).st_size
        parts: list[Any] | None = None
        for prefetch in self._prefetched:
            parts = prefetch.take(fh, state.offset, size)
            if parts is not None:
                self._apply_parts(parts, state, prefetch.end)
                break
        self._prefetched = [p for p in self._prefetched if p.job is not None]
        if parts is not None:
            return
        _start, end, ranges = aggregate_scan.routing_ranges(fh, state.offset, size)
        if not ranges:
            return
        parts = logscan.fork_map(aggregate_scan.scan_routing_range, [(fh.name, a, b) for a, b in ranges])
        self._apply_parts(parts, state, end)

    def _apply_parts(self, parts: list[Any], state: _FileState, end: int) -> None:
        for totals, lines, skipped, skipped_lines in parts:
            self._merge_route_totals(totals)
            state.skipped += skipped
            room = MAX_SKIPPED_LINE_NUMBERS - len(state.skipped_lines)
            if room > 0:
                state.skipped_lines.extend(state.next_line - 1 + n for n in skipped_lines[:room])
            state.lines += lines
            state.next_line += lines
        state.offset = end
