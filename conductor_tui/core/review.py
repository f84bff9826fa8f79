"""What the evaluation and lifecycle screens show, computed from the logs (no Textual).

* :func:`load_review` reads the routing log, the evaluations, the config and the task
  profiles once (tolerant reads; skipped lines are counted).
* :func:`effective_evaluations` — one verdict per run: a later record for the same
  ``routing_id`` (the person agreeing with or overriding the judge) replaces the
  earlier one in place, so a run is never counted twice.
* :func:`evaluation_queue` — runs that need an evaluation: every run of the
  calibration window, sampled runs in Establish (the recorded sampling decision, else a
  stable draw from the run id), runs the person flagged, and runs only the judge has
  scored so far.
* :func:`lifecycle_rows` — per task type and ensemble: phase, evidence, next step,
  interim Claude debt, design rejections.
* :func:`build_evaluation` + :func:`consequences` — the record to append and what it
  changes (phase change, calibration outcome, in-session fallback).

The rules themselves live in :mod:`conductor_tui.core.rules`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan, rules
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    FailureMode,
    Phase,
    RoutingConfig,
    RoutingDecision,
    RunStatus,
    Score,
    TaskProfiles,
    as_datetime,
    line_identity,
)
from conductor_tui.core.schemas import ReviewLine as _Light

FLAG_EVENT = "flagged-unsatisfactory"
_BOM = b"\xef\xbb\xbf"
JUDGES = {"claude", "judge", "claude-judge"}


# --------------------------------------------------------------------------- loading

ALL_RUNS_LIMIT = 500  # the "all runs" view shows the newest local runs, not a million rows
QUEUE_LIMIT = 1000  # runs needing an evaluation kept for the queue (the newest; flagged and
# judged runs are always kept)


@dataclass
class ReviewState:
    """What the review screens need, read in one pass over the logs.

    ``decisions`` holds only the routing decisions the queue shows (materialised as full
    records); counts over the whole log are in ``uses`` / ``last_used`` (per ensemble),
    ``pairs`` (per task type + ensemble), ``debt`` (interim Claude work per task type)
    and ``total_runs``.  A million-line log therefore costs one fast ``msgspec`` pass,
    not a million pydantic records."""

    project: Path
    decisions: list[RoutingDecision] = field(default_factory=list)  # materialised decisions
    events: list[RoutingDecision] = field(default_factory=list)  # materialised non-decision entries
    evaluations: list[Evaluation] = field(default_factory=list)  # raw, file order
    config: RoutingConfig = field(default_factory=RoutingConfig)
    profiles: TaskProfiles = field(default_factory=TaskProfiles)
    skipped_routing: int = 0
    skipped_evaluations: int = 0
    problems: list[str] = field(default_factory=list)
    total_runs: int = 0  # local runs in the whole log (the "all runs" view shows the last ones)
    uses: dict[str, int] = field(default_factory=dict)  # ensemble → local runs
    last_used: dict[str, str] = field(default_factory=dict)  # ensemble → newest timestamp (raw)
    pairs: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (tt, ens) → [runs, last]
    debt: dict[str, int] = field(default_factory=dict)  # task type → interim Claude decisions
    flagged_ids: set[str] = field(default_factory=set)
    run_ensembles: dict[str, str] = field(default_factory=dict)  # routing id → ensemble (for evals)
    queue_due: list[QueueItem] = field(default_factory=list)
    queue_all: list[QueueItem] = field(default_factory=list)
    queue_total: int = 0  # runs needing an evaluation (queue_due keeps the newest QUEUE_LIMIT)
    linked: dict[str, Evaluation] = field(default_factory=dict)  # run id → evaluation naming no run
    agreement: Any = None  # core.agreement.AgreementReport (judge–human agreement)

    @property
    def runs(self) -> list[RoutingDecision]:
        """Local ensemble runs among the materialised decisions."""
        return [d for d in self.decisions if d.is_local]

    @property
    def flagged(self) -> set[str]:
        return self.flagged_ids | {
            str(e.routing_id) for e in self.events if e.event == FLAG_EVENT
        }

    def run(self, routing_id: str) -> RoutingDecision | None:
        index = self.__dict__.get("_index")
        if index is None or index[0] != len(self.decisions):
            index = (len(self.decisions), {d.id: d for d in self.decisions if d.id})
            self.__dict__["_index"] = index
        return index[1].get(routing_id)


_LIGHT = msgspec.json.Decoder(_Light)
_BLOCK = 1 << 20


def _light_from_model(d: RoutingDecision) -> _Light:
    ts = d.timestamp
    return _Light(
        id=d.id,
        timestamp=ts.isoformat() if isinstance(ts, datetime) else ts,
        event=d.event,
        routing_id=d.routing_id,
        task_type=d.task_type,
        routed_to=d.routed_to,
        ensemble=d.ensemble,
        status=d.status,
        delegability_category=getattr(d.delegability_category, "value", d.delegability_category),
        preparation_tokens_local=d.preparation_tokens_local,
        invocation_number=d.invocation_number,
        sampled_for_evaluation=d.sampled_for_evaluation,
    )


def _tolerant_light(line: bytes) -> _Light | None:
    rec = _validate_line(line)
    return _light_from_model(rec) if rec is not None else None


def _ts(raw: Any) -> datetime | None:
    from conductor_tui.core.records import parse_timestamp

    return as_datetime(parse_timestamp(raw)) if raw else None


def _validate_line(line: bytes) -> RoutingDecision | None:
    try:
        rec = RoutingDecision.model_validate_json(line)
    except Exception:
        try:
            rec = RoutingDecision.model_validate(json.loads(line.decode("utf-8")))
        except Exception:
            return None
    if rec.id is None:
        rec.id = line_identity("rd-", line)  # the same identity every reader derives
    return rec


# A queue entry found in the pass, materialised (full record) at the end:
# (block offset, block length, line index, routing id, ensemble, invocation number,
#  eval phase, reason, judge evaluation or None, flagged)
_Pending = tuple
_LOC = slice(0, 3)
_DECISION_EVENTS = (None, "", "routing-decision", "routing")
_DONE = (RunStatus.COMPLETED, "done", "success")
_TRUSTED = "trusted — routine evaluation skipped"


class _EnsembleTrack:
    """Per-ensemble state of the queue pass: completed runs so far and the lifecycle."""

    __slots__ = ("adds", "counter", "phase_key", "phase_now", "tracker")

    def __init__(self, thresholds: Any) -> None:
        from conductor_tui.core.lifecycle import LifecycleTracker

        self.counter = 0  # completed runs (invocations)
        self.tracker = LifecycleTracker(thresholds)
        self.adds = 0  # scores fed to the tracker
        self.phase_key: tuple[int, bool] | None = None
        self.phase_now: Phase | None = None

    def add(self, score: Any, uses: int) -> None:
        self.tracker.add(rules.as_score(score), uses=uses)
        self.adds += 1

    def phase(self, uses: int, trust_after: int) -> Phase:
        """``tracker.phase(uses)``, remembered: it changes only when a score is added or
        ``uses`` passes the trusted-threshold run count."""
        key = (self.adds, uses > trust_after)
        if key != self.phase_key:
            self.phase_key = key
            self.phase_now = self.tracker.phase(uses)
        return self.phase_now  # type: ignore[return-value]


class _ReviewPass:
    """One pass over the routing log: counts for the lifecycle, the evaluation queue."""

    def __init__(self, state: ReviewState, need_ensembles: set[str]) -> None:
        self.state = state
        self.thresholds = state.config.routing_thresholds
        self.effective: dict[str, Evaluation] = {}
        # evaluations that name no run (the conductor skill's logs): by ensemble + invocation
        self.by_invocation: dict[tuple[str, int], Evaluation] = {}
        for ev in effective_evaluations(state.evaluations):
            if ev.routing_id:
                self.effective[str(ev.routing_id)] = ev
            elif ev.ensemble and isinstance(ev.invocation_number, int):
                self.by_invocation[(ev.ensemble, ev.invocation_number)] = ev
        self.effective.update(state.linked)
        from conductor_tui.core.agreement import agreement_report

        # judge–human agreement: an ensemble whose judge is untrusted sends its judge's
        # verdicts back to the person (core.agreement)
        state.agreement = agreement_report(state.evaluations, self.thresholds, lambda ev: ensemble_of(ev, state))
        self.untrusted = state.agreement.untrusted
        self.need = need_ensembles
        self.tracks: dict[str, _EnsembleTrack] = {}
        self.local_cache: dict[Any, bool] = {}
        self.deleg_cache: dict[Any, bool] = {}
        self.due: deque[_Pending] = deque(maxlen=QUEUE_LIMIT)
        self.special: list[_Pending] = []  # flagged or judge-scored: always in the queue
        self.all: deque[_Pending] = deque(maxlen=ALL_RUNS_LIMIT)
        self.due_total = 0
        self.total_runs = 0
        self.pairs: dict[tuple[str, str], list[Any]] = {}
        # where the last pass over the routing log stopped (set by _read_routing)
        self.offset = 0
        self.tail = False
        self.debt: dict[str, int] = {}
        self.trust_after = self.thresholds.trusted_threshold_uses
        self.sampled_reason = f"sampled {self.thresholds.sampling_rate_established:.0%}"

    def _is_local(self, routed: Any) -> bool:
        from conductor_tui.core.records import _null_string

        value = _null_string(routed)
        target = (value or "").strip().lower() if isinstance(value, str) else ""
        hit = self.local_cache[routed] = bool(target) and not target.startswith("claude")
        return hit

    def _delegable(self, category: Any) -> bool:
        key = category if isinstance(category, str) else repr(category)
        hit = self.deleg_cache.get(key)
        if hit is None:
            hit = self.deleg_cache[key] = rules.as_delegability(category) in (
                rules.Delegability.AGENT,
                rules.Delegability.ENSEMBLE,
            )
        return hit

    def feed(self, recs: list[_Light], offset: int, plen: int, first_idx: int = 0, step: Any = None) -> None:
        """Process decoded records in file order (``step``: their line indexes when not
        consecutive from ``first_idx``)."""
        local_cache = self.local_cache
        pairs = self.pairs
        need = self.need
        deleg_cache = self.deleg_cache
        for i, rec in enumerate(recs):
            event = rec.event
            if event is not None and event not in _DECISION_EVENTS:
                continue  # flags were found before the pass (they may follow their run)
            routed = rec.routed_to
            local = local_cache.get(routed)
            if local is None:
                local = self._is_local(routed)
            tt = rec.task_type or "(untyped)"
            if not local:
                if rec.preparation_tokens_local is None:
                    category = rec.delegability_category
                    delegable = deleg_cache.get(category) if category.__class__ is str else None
                    if delegable is None:
                        delegable = self._delegable(category)
                    if delegable:
                        self.debt[tt] = self.debt.get(tt, 0) + 1
                continue
            # a local route always names its ensemble (_is_local is False for an empty one)
            ens: str = rec.ensemble or routed or ""
            self.total_runs += 1
            ts = rec.timestamp
            pair = pairs.get((tt, ens))
            if pair is None:
                pair = pairs[(tt, ens)] = [0, None]
            if (rec.status or RunStatus.COMPLETED) in _DONE:
                pair[0] += 1  # uses: completed runs only
                if ts.__class__ is str and (pair[1] is None or ts > pair[1]):
                    pair[1] = ts
            rid = rec.id
            if rid is None:
                rid = "None"  # only when a caller fed a record without its derived id
            if need and rid in need:
                self.state.run_ensembles[rid] = ens
            idx = step[i] if step is not None else first_idx + i
            self._step(rec, rid, ens, offset, plen, idx)

    def _step(self, rec: _Light, rid: str, ens: str, offset: int, plen: int, idx: int) -> None:
        thresholds = self.thresholds
        track = self.tracks.get(ens)
        if track is None:
            track = self.tracks[ens] = _EnsembleTrack(thresholds)
        tracker = track.tracker
        done = (rec.status or RunStatus.COMPLETED) in _DONE
        ev = self.effective.get(rid)
        if not done:
            # a failed or cancelled run is no invocation (no number, no calibration slot);
            # script / infrastructure failures are not evaluated
            if ev is not None and ev.score is not None:
                track.add(ev.score, track.counter)
            return
        track.counter += 1
        n = track.counter
        if ev is None and self.by_invocation:
            ev = self.by_invocation.get((ens, n))
            if ev is not None:
                self.state.linked[rid] = ev
        phase_now = track.phase(n - 1, self.trust_after)
        if ev is not None and ev.score is not None:
            track.add(ev.score, n)
        judged_only = ev is not None and (
            is_judge(ev) or (ens in self.untrusted and (ev.evaluator or "").strip().lower() in JUDGES)
        )
        reviewed = ev is not None and not judged_only
        is_flagged = rid in self.state.flagged_ids
        if phase_now in (Phase.CALIBRATE, Phase.DESIGN):
            period = thresholds.calibration_period
            window = (
                len(tracker.window) if ev is None or ev.score is None else max(0, len(tracker.window) - 1)
            )
            position = min(window + 1, period) if tracker.calibrating else min(n, period)
            phase, reason, due = EvalPhase.CALIBRATE, f"calibrate {position}/{period}", True
        elif phase_now is Phase.ESTABLISH:
            phase = EvalPhase.ESTABLISH
            sampled = rec.sampled_for_evaluation
            if isinstance(sampled, bool):
                due = sampled
            else:
                due = stable_fraction(rid) < thresholds.sampling_rate_established
            reason = self.sampled_reason if due else "not sampled"
        else:
            phase, reason, due = EvalPhase.TRUST, _TRUSTED, False
        if is_flagged:
            phase, reason, due = EvalPhase.TRIGGERED, "flagged", True
        if judged_only and ev is not None:  # judged_only implies an evaluation
            reason = f"judge: {_label(ev.judge_score or ev.score)}"
            low = self.untrusted.get(ens)
            if low is not None:
                reason += f" · judge agreement {low.rate:.0%} < {self.state.agreement.min_rate:.0%}"
        pending = (
            offset,
            plen,
            idx,
            rid,
            ens,
            n,
            phase,
            reason if not reviewed or ev is None else f"done: {_label(ev.score)}",
            ev if judged_only else None,
            is_flagged,
        )
        self.all.append(pending)
        if (due and not reviewed) or (judged_only and not reviewed):
            (self.special if judged_only or is_flagged else self.due).append(pending)
            self.due_total += 1

    def finish(self) -> None:
        state = self.state
        state.total_runs = self.total_runs
        state.debt = self.debt
        state.pairs = self.pairs
        for (_tt, ens), (count, last) in self.pairs.items():
            state.uses[ens] = state.uses.get(ens, 0) + count
            if last is not None and (state.last_used.get(ens) is None or last > state.last_used[ens]):
                state.last_used[ens] = last


def _scan_flags(path: Path) -> set[str]:
    """Routing ids the person flagged (``flagged-unsatisfactory`` events; rare, found with
    a C-level search per 8 MiB chunk, so runs logged before their flag are known in the
    main pass)."""
    out: set[str] = set()
    if not path.is_file():
        return out
    needle = f'"{FLAG_EVENT}"'.encode()
    carry = b""
    with path.open("rb", buffering=0) as fh:
        while True:
            chunk = fh.read(8 << 20)
            if not chunk:
                data, last = carry, True
            else:
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    carry += chunk
                    continue
                data, carry, last = carry + chunk[: cut + 1], chunk[cut + 1 :], False
            pos = data.find(needle)
            while pos != -1:
                start = data.rfind(b"\n", 0, pos) + 1
                end = data.find(b"\n", pos)
                end = len(data) if end == -1 else end
                rec = _validate_line(data[start:end].strip())
                if rec is not None and rec.event == FLAG_EVENT and rec.routing_id is not None:
                    out.add(str(rec.routing_id))
                pos = data.find(needle, end)
            if last:
                break
    return out


def _read_routing(path: Path, review: _ReviewPass, start: int = 0) -> int:
    """Feed every record of ``path`` from byte ``start`` to ``review`` (fast msgspec blocks,
    per-line fallback for blocks with corrupt or hand-written lines); returns the number of
    skipped lines. ``review.offset`` is left after the last newline read, ``review.tail``
    tells whether an unterminated last line was fed too (see :func:`load_review`)."""
    skipped = 0
    review.offset, review.tail = start, False
    if not path.is_file():
        return 0

    def per_line(piece: bytes, base: int) -> None:
        nonlocal skipped
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

    with path.open("rb", buffering=0) as fh:
        offset = start
        size = _BLOCK
        first = start == 0
        while True:
            fh.seek(offset)
            block = fh.read(size)
            if not block:
                break
            cut = block.rfind(b"\n")
            if cut < 0:
                if len(block) < size:  # the last line has no newline
                    if block.startswith(_BOM) and first:
                        block = block[len(_BOM) :]
                        offset += len(_BOM)
                    per_line(block, offset)
                    review.tail = bool(block.strip())
                    break
                size *= 2
                continue
            if first and block.startswith(_BOM):
                offset += len(_BOM)
                cut -= len(_BOM)
                block = block[len(_BOM) :]
            first = False
            piece = block[: cut + 1]
            try:
                recs = _LIGHT.decode_lines(piece)
            except (msgspec.DecodeError, msgspec.ValidationError):
                recs = None
            if recs is not None and len(recs) == piece.count(b"\n") and all(r.id is not None for r in recs):
                review.feed(recs, offset, len(piece))
            else:
                per_line(piece, offset)
            offset += cut + 1
            size = _BLOCK
    review.offset = offset
    return skipped


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


def load_review(store: Any) -> ReviewState:
    """Read everything the review screens need from a ``ProjectStore``: the evaluations,
    config and task profiles, then one pass over the routing log (see :class:`ReviewState`).

    Repeated calls are cheap (Evaluate and Lifecycle share them; see :class:`_Memo`): an
    unchanged project returns the same state — treat it as read-only —, and when lines
    were only appended to the routing log the pass resumes where it stopped."""
    path = Path(store.routing_log_path)
    with _MEMO_LOCK:
        memo = _MEMO.get(str(path))
        inputs = _inputs(store)
        if memo is not None and memo.inputs == inputs and logscan.file_signature(path) == memo.log_sig:
            return memo.state
        resume = memo if memo is not None and memo.resumable(inputs, path) else None
        log_sig = logscan.file_signature(path)
        state, review, records = _load_review(store, resume)
        _MEMO.pop(str(path), None)
        if review is not None and not state.problems:
            _MEMO[str(path)] = _Memo(inputs, log_sig, state, review, records, path)
        return state


_MEMO_LOCK = threading.Lock()
_MEMO: dict[str, _Memo] = {}  # routing log path → the last load


def _inputs(store: Any) -> tuple:
    """What, besides the routing log, a load depends on: changed → read everything again."""
    return tuple(
        logscan.file_signature(p) for p in (store.evaluations_path, store.config_path, store.profiles_path)
    )


class _Memo:
    """The last :func:`load_review` of a project: its state, the paused routing-log pass
    (its offset and a fingerprint of the bytes before it) and the records it materialised."""

    def __init__(self, inputs: tuple, log_sig: Any, state: ReviewState, review: _ReviewPass, records: dict, path: Path):
        self.inputs, self.log_sig, self.state, self.review, self.records = inputs, log_sig, state, review, records
        self.offset = review.offset
        self.fingerprint = logscan.prefix_fingerprint(path, self.offset)

    def resumable(self, inputs: tuple, path: Path) -> bool:
        """Only lines were appended to the log since (evaluations, config and profiles
        unchanged, no unterminated line was read, and no new flag, which may point back at
        an earlier run): the pass can go on from its offset."""
        return (
            inputs == self.inputs
            and not self.review.tail
            and self.review.offset == self.offset
            and logscan.grew_from(path, self.log_sig, self.offset, self.fingerprint)
            and not logscan.region_contains(path, self.offset, f'"{FLAG_EVENT}"'.encode())
        )


def _load_review(store: Any, resume: _Memo | None) -> tuple[ReviewState, Any, dict]:
    """A full load, or the continuation of ``resume``'s paused pass over the appended lines.
    Returns ``(state, the pass or None when it failed, the materialised records)``."""
    state = ReviewState(project=Path(store.project))
    path = Path(store.routing_log_path)
    if resume is not None:
        old = resume.state
        state.evaluations, state.skipped_evaluations = old.evaluations, old.skipped_evaluations
        state.config, state.profiles, state.flagged_ids = old.config, old.profiles, old.flagged_ids
        state.run_ensembles = dict(old.run_ensembles)
        state.linked = dict(old.linked)
        state.skipped_routing = old.skipped_routing
        review = resume.review
        review.state = state
        try:
            state.skipped_routing += _read_routing(path, review, review.offset)
        except Exception as exc:  # a broken file degrades this view, never the app
            state.problems.append(f"routing-log.jsonl: {exc}")
            return state, None, {}
        return _complete(state, review, path, resume.records)
    try:
        evals = store.read_evaluations(0)
        state.evaluations = list(evals.records)
        state.skipped_evaluations = len(evals.skipped)
    except Exception as exc:
        state.problems.append(f"evaluations.jsonl: {exc}")
    try:
        state.config = store.load_config()
    except Exception as exc:
        state.problems.append(f"routing-config.yaml: {exc}")
    try:
        state.profiles = store.load_task_profiles()
    except Exception as exc:
        state.problems.append(f"task-profiles.yaml: {exc}")
    loose = [
        ev
        for ev in state.evaluations
        if not ev.routing_id and ev.ensemble and not isinstance(ev.invocation_number, int)
    ]
    if loose:  # evaluations that name neither a run nor an invocation: link by time
        try:
            from conductor_tui.core.history import build_history

            hist = build_history(store)
            for ev in loose:
                run = hist.run_for_evaluation(ev)
                if run is not None:
                    state.linked[run.id] = ev
        except Exception as exc:
            state.problems.append(f"linking evaluations: {exc}")
    need = {str(ev.routing_id) for ev in state.evaluations if ev.routing_id and not ev.ensemble}
    review = _ReviewPass(state, need)
    try:
        state.flagged_ids = _scan_flags(path)
        state.skipped_routing = _read_routing(path, review)
    except Exception as exc:  # a broken file degrades this view, never the app
        state.problems.append(f"routing-log.jsonl: {exc}")
        return state, None, {}
    return _complete(state, review, path, {})


def _complete(
    state: ReviewState, review: _ReviewPass, path: Path, known: dict
) -> tuple[ReviewState, Any, dict]:
    """After the pass: the queue entries materialised (``known``: records already read by
    an earlier load, by location), the counts published."""
    try:
        due = sorted({p[_LOC]: p for p in (*review.special, *review.due)}.values(), key=lambda p: p[_LOC])
        wanted = list({p[_LOC]: p for p in (*due, *review.all)}.values())
        missing = [p for p in wanted if p[_LOC] not in known]
        records = _materialise(path, missing) if missing else {}
        records.update((p[_LOC], known[p[_LOC]]) for p in wanted if p[_LOC] in known)
    except Exception as exc:  # a broken file degrades this view, never the app
        state.problems.append(f"routing-log.jsonl: {exc}")
        return state, None, {}
    review.finish()
    # the pass goes on with later appends: the state gets its own copies of its counters
    state.pairs = {k: list(v) for k, v in state.pairs.items()}
    state.debt = dict(state.debt)
    seen: set[tuple[int, int, int]] = set()
    for p in sorted(wanted, key=lambda p: p[_LOC]):
        rec = records.get(p[_LOC])
        if rec is not None and p[_LOC] not in seen:
            seen.add(p[_LOC])
            state.decisions.append(rec)

    def items(pendings: Any) -> list[QueueItem]:
        out = []
        for p in pendings:
            rec = records.get(p[_LOC])
            if rec is not None:
                if len(p) == 6:  # a quiet run of a trusted ensemble
                    out.append(QueueItem(rec, p[4], p[5], EvalPhase.TRUST, _TRUSTED))
                else:
                    out.append(QueueItem(rec, *p[4:]))
        return out

    state.queue_due = items(due)
    state.queue_all = items(review.all)
    state.queue_total = review.due_total
    return state, review, records


# --------------------------------------------------------------------------- evaluations


def is_judge(ev: Evaluation) -> bool:
    """A judge's verdict awaiting the person (the cockpit's Claude judge writes
    ``judge_score``); a session's own ``record evaluation`` is a finished evaluation."""
    return (ev.evaluator or "").strip().lower() in JUDGES and (
        ev.judge_score is not None or (ev.model_extra or {}).get("review") == "pending"
    )


def effective_evaluations(evaluations: list[Evaluation]) -> list[Evaluation]:
    """One evaluation per run, in the position of its first record, with the latest verdict."""
    order: list[str] = []
    latest: dict[str, Evaluation] = {}
    loose: list[tuple[int, Evaluation]] = []
    for i, ev in enumerate(evaluations):
        key = ev.routing_id
        if not key and ev.ensemble and isinstance(ev.invocation_number, int):
            key = f"\1{ev.ensemble}#{ev.invocation_number}"  # names no run: ensemble + invocation
        if not key:
            loose.append((i, ev))
            order.append(f"\0{i}")
            continue
        if key not in latest:
            order.append(key)
        latest[key] = ev
    loose_map = {f"\0{i}": ev for i, ev in loose}
    return [loose_map[k] if k.startswith("\0") else latest[k] for k in order]


def ensemble_of(ev: Evaluation, state: ReviewState | None = None) -> str | None:
    if ev.ensemble:
        return ev.ensemble
    if state is not None and ev.routing_id:
        known = state.run_ensembles.get(str(ev.routing_id))
        if known is not None:
            return known
        run = state.run(ev.routing_id)
        if run is not None:
            return run.ensemble or run.routed_to
    return None


def run_ensemble(run: RoutingDecision) -> str:
    return str(run.ensemble or run.routed_to or "?")


def scores_for(
    state: ReviewState, ensemble: str, *, before: datetime | None = None, exclude: str | None = None
) -> list[Any]:
    out = []
    for ev in effective_evaluations(state.evaluations):
        if ensemble_of(ev, state) != ensemble or ev.routing_id == exclude:
            continue
        when = as_datetime(ev.timestamp)
        if before is not None and when is not None and when >= before:
            continue
        out.append(ev.score)
    return out


def status_for(
    state: ReviewState, ensemble: str, *, extra_score: Any = None, exclude: str | None = None
) -> rules.LifecycleStatus:
    scores = scores_for(state, ensemble, exclude=exclude)
    if extra_score is not None:
        scores.append(extra_score)
    uses = state.uses.get(ensemble, 0)
    return rules.lifecycle_status(scores, state.config.routing_thresholds, invocations=uses)


def stable_fraction(key: str) -> float:
    """A uniform draw in [0, 1) that is the same for the same run id (re-derived sampling)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class QueueItem:
    run: RoutingDecision
    ensemble: str
    invocation_number: int
    phase: EvalPhase
    reason: str
    judge: Evaluation | None = None
    flagged: bool = False

    @property
    def routing_id(self) -> str:
        return str(self.run.id)


def evaluation_queue(state: ReviewState, *, include_all: bool = False) -> list[QueueItem]:
    """Runs that still need a person's evaluation, oldest first (the newest
    :data:`QUEUE_LIMIT`); with ``include_all`` the newest :data:`ALL_RUNS_LIMIT` local runs.
    Computed by :func:`load_review` in its pass over the log."""
    return list(state.queue_all if include_all else state.queue_due)


def _label(value: Any) -> str:
    return str(getattr(value, "value", value))


# --------------------------------------------------------------------------- artifacts


def artifact_dir(project: Path, run: RoutingDecision) -> Path | None:
    ref = run.artifact
    if not ref:
        return None
    p = Path(ref)
    if not p.is_absolute():
        p = project / p
    if p.name == "execution.json":
        p = p.parent
    return p


def read_artifact(project: Path, run: RoutingDecision) -> tuple[str | None, str]:
    """(input text, output text) from the run's ``execution.json``; the output says why
    when it cannot be read.  Reads llm-orc's shape (``results`` per agent, ``synthesis``)."""
    folder = artifact_dir(project, run)
    if folder is None:
        return None, "(no artifact recorded for this run)"
    path = folder / "execution.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"(artifact not found: {path})"
    except (OSError, ValueError) as exc:
        return None, f"(artifact unreadable: {path}: {exc})"
    if not isinstance(data, dict):
        return None, f"(artifact is not a JSON object: {path})"
    inp = data.get("input")
    if isinstance(inp, dict):
        inp = inp.get("data", inp.get("input"))
    input_text = inp if isinstance(inp, str) else (json.dumps(inp, indent=2) if inp is not None else None)
    synthesis = data.get("synthesis")
    if isinstance(synthesis, str) and synthesis.strip():
        return input_text, synthesis
    results = data.get("results")
    if isinstance(results, dict) and results:
        last = list(results.values())[-1]
        if isinstance(last, dict):
            resp = last.get("response", last.get("output", last.get("result")))
            if resp is None and last.get("error"):
                return input_text, f"(agent failed: {last.get('error')})"
            if isinstance(resp, str):
                return input_text, resp
            if resp is not None:
                return input_text, json.dumps(resp, indent=2)
    agents = data.get("agents")
    if isinstance(agents, list) and agents:
        last = agents[-1]
        if isinstance(last, dict) and isinstance(last.get("result"), str):
            return input_text, last["result"]
    for key in ("output", "result", "response"):
        if isinstance(data.get(key), str):
            return input_text, data[key]
    return input_text, "(no output found in the artifact)"


# --------------------------------------------------------------------------- a new evaluation


def build_evaluation(
    item: QueueItem,
    *,
    score: Score | str,
    reasoning: str,
    failure_mode: FailureMode | str | None = None,
    user_feedback: str | None = None,
    output_length: int | None = None,
    now: datetime | None = None,
    session: str | None = None,
) -> Evaluation:
    """The spec's evaluation record for ``item`` (judge verdict kept when there was one)."""
    score = Score(score)
    if score is Score.POOR and not failure_mode:
        raise ValueError("a poor score needs a failure mode")
    run = item.run
    fields: dict[str, Any] = {
        "routing_id": item.routing_id,
        "ensemble": item.ensemble,
        "task_type": run.task_type,
        "invocation_number": item.invocation_number,
        "phase": item.phase,
        "score": score,
        "reasoning": reasoning.strip(),
        "failure_mode": failure_mode if score is Score.POOR else None,
        "input_summary": run.task_summary,
        "output_length": output_length,
        "user_feedback": (user_feedback or "").strip() or None,
        "evaluator": "human",
        "session": session,
    }
    if now is not None:
        fields["timestamp"] = now
    if item.judge is not None:
        fields["judge_score"] = item.judge.judge_score or item.judge.score
        fields["judge_reasoning"] = item.judge.judge_reasoning or item.judge.reasoning
        fields["judge_tokens"] = item.judge.judge_tokens
        agreed = Score(fields["judge_score"]) is score if fields["judge_score"] else False
        fields["judge_agreement"] = "agreed" if agreed else "overridden"
    calibration_context = run.extras.get("calibration_context")
    if calibration_context:
        fields["calibration_context"] = calibration_context
    return Evaluation(**fields)


@dataclass
class Consequences:
    before: Phase
    after: Phase
    messages: list[str]
    fallback: bool = False


def consequences(state_before: ReviewState, item: QueueItem, score: Score | str) -> Consequences:
    """What this score changes: phase, calibration outcome, in-session fallback."""
    ens = item.ensemble
    before = status_for(state_before, ens, exclude=item.routing_id)
    after = status_for(state_before, ens, extra_score=score, exclude=item.routing_id)
    msgs: list[str] = []
    if before.phase is not after.phase:
        msgs.append(f"'{ens}': {before.phase.value.title()} → {after.phase.value.title()}")
    else:
        msgs.append(f"'{ens}' stays in {after.phase.value.title()} — next: {after.next_step}")
    if after.calibration is not None and after.calibration_windows > before.calibration_windows:
        msgs.append(f"Calibration outcome for '{ens}': {after.calibration.message}")
    fb = rules.calibration_fallback(before.phase, [score], ensemble=ens, task_type=item.run.task_type or "")
    if fb.fallback:
        msgs.append(
            f"Ensemble '{ens}' scored poor during calibration — falling back to Claude for the rest of this session"
            + (f" ({item.run.task_type} subtasks)." if item.run.task_type else ".")
        )
    if after.promotion.global_ready and not before.promotion.global_ready:
        msgs.append(f"'{ens}' is now ready for global promotion ({after.promotion.good} good).")
    return Consequences(before.phase, after.phase, msgs, fb.fallback)


def flag_event(run: RoutingDecision, note: str | None = None, now: datetime | None = None) -> RoutingDecision:
    """The routing-log entry that marks a run as unsatisfactory (queue it, phase ``triggered``)."""
    fields: dict[str, Any] = {
        "event": FLAG_EVENT,
        "routing_id": run.id,
        "ensemble": run.ensemble or run.routed_to,
        "task_type": run.task_type,
        "reason": note or "the person flagged this output as unsatisfactory",
    }
    if now is not None:
        fields["timestamp"] = now
    return RoutingDecision(**fields)


# --------------------------------------------------------------------------- lifecycle


@dataclass
class LifecycleRow:
    task_type: str
    ensemble: str | None
    status: Any  # rules.LifecycleStatus
    last_used: datetime | None
    debt: int
    design_rejected: bool = False
    rejection_reason: str | None = None
    authorized: bool = False
    fallback_this_session: bool = False
    lora: Any = None  # rules.LoraCandidate

    @property
    def key(self) -> str:
        return f"{self.task_type}::{self.ensemble or '-'}"


def lifecycle_rows(state: ReviewState) -> list[LifecycleRow]:
    cached = state.__dict__.get("_lifecycle_rows")  # a remembered state (load_review) is read-only
    if cached is not None:
        return list(cached)
    thresholds = state.config.routing_thresholds
    pairs: dict[tuple[str, str | None], list[Any]] = {key: value for key, value in state.pairs.items()}
    debt = dict(state.debt)
    for tt, tp in state.profiles.profiles.items():
        if tp.ensemble:
            pairs.setdefault((tt, tp.ensemble), [0, None])
        elif not any(k[0] == tt for k in pairs):
            pairs.setdefault((tt, None), [0, None])
    for tt in debt:
        if not any(k[0] == tt for k in pairs):
            pairs.setdefault((tt, None), [0, None])
    rows: list[LifecycleRow] = []
    evaluations = effective_evaluations(state.evaluations)
    debt_shown: set[str] = set()  # a task type's debt is shown once, not on each of its ensembles
    for (tt, ens), (n_runs, last_raw) in ((k, v or [0, None]) for k, v in pairs.items()):
        prof = state.profiles.profiles.get(tt)
        lora = None
        if ens is None:
            status = rules.lifecycle_status([], thresholds, has_ensemble=False)
        else:
            scores = scores_for(state, ens)
            pairs_sf = [(ev.score, ev.failure_mode) for ev in evaluations if ensemble_of(ev, state) == ens]
            lora = rules.lora_candidate(pairs_sf, thresholds)
            uses = state.uses.get(ens) or n_runs or (prof.invocation_count if prof else 0)
            status = rules.lifecycle_status(scores, thresholds, invocations=uses)
        last = _ts(last_raw)
        if last is None and prof is not None:
            last = as_datetime(prof.last_used)
        rows.append(
            LifecycleRow(
                task_type=tt,
                ensemble=ens,
                status=status,
                last_used=last,
                debt=0
                if tt in debt_shown
                else max(debt.get(tt, 0), prof.interim_claude_count if prof else 0),
                design_rejected=bool(prof and prof.design_rejected),
                rejection_reason=prof.rejection_reason if prof else None,
                authorized=bool(ens and state.config.authorization_for(tt, ens)),
                fallback_this_session=bool(
                    status.calibration and status.calibration.fallback and status.phase is Phase.CALIBRATE
                ),
                lora=lora,
            )
        )
        debt_shown.add(tt)
    order = {p: i for i, p in enumerate(Phase)}
    rows.sort(key=lambda r: (-order[r.status.phase], r.task_type, r.ensemble or ""))
    state.__dict__["_lifecycle_rows"] = list(rows)
    return rows


def interim_debt(state: ReviewState) -> int:
    return sum(state.debt.values())


def profiles_after_evaluation(state: ReviewState, item: QueueItem, record: Evaluation) -> TaskProfiles | None:
    """``task-profiles.yaml`` with the task type's counts and phase brought up to date after
    ``record`` (see the glossary: task profile).  ``None`` when there is nothing to update:
    no task type, or the task type is mapped to a different ensemble."""
    task_type = item.run.task_type
    if not task_type:
        return None
    profiles = state.profiles.model_copy(deep=True)
    prof = profiles.profiles.get(task_type)
    if prof is not None and prof.ensemble and prof.ensemble != item.ensemble:
        return None
    if prof is None:
        from conductor_tui.core.records import TaskProfile

        prof = TaskProfile(delegability_category=item.run.delegability_category)
        profiles.profiles[task_type] = prof
    status = status_for(state, item.ensemble, extra_score=record.score, exclude=item.routing_id)
    prof.ensemble = item.ensemble
    prof.phase = status.phase
    prof.invocation_count = status.invocations
    prof.good_count = status.counts.good
    prof.acceptable_count = status.counts.acceptable
    prof.poor_count = status.counts.poor
    raw_last = state.last_used.get(item.ensemble)
    last = _ts(raw_last)
    if last is not None:
        prof.last_used = last
    return profiles


# --------------------------------------------------------------------------- workflow wrap-up


@dataclass
class Progression:
    task_type: str
    ensemble: str | None
    before: Phase | None
    after: Phase
    detail: str

    def line(self) -> str:
        if self.before is None or self.before is self.after:
            phases = self.after.value.title()
        else:
            phases = f"{self.before.value.title()} → {self.after.value.title()}"
        return f"{self.task_type}: {phases} ({self.detail})"


@dataclass
class WrapUp:
    """The conductor's session wrap-up for one workflow plan."""

    plan_id: str
    meta_task: str
    subtasks: int
    local: int
    local_tokens: int
    saved_tokens: int
    claude_tokens: int
    debt: int
    ratio: float
    progression: list[Progression] = field(default_factory=list)
    open_rows: int = 0  # rows still pending, approved or running

    def lines(self) -> list[str]:
        head = (
            "Workflow complete."
            if self.open_rows == 0
            else f"Workflow in progress ({self.open_rows} of {self.subtasks} subtasks not done yet)."
        )
        out = [
            f"{head} {self.local}/{self.subtasks} subtasks handled locally.",
            f"Local: {self.local_tokens:,} tokens | Claude savings: ~{self.saved_tokens:,} tokens",
            "Lifecycle progression:",
        ]
        out += [f"  {p.line()}" for p in self.progression] or ["  (no delegable task types)"]
        out.append(f"Interim Claude debt: {self.debt} delegable tasks handled by Claude")
        return out


def _scan_lines(path: Path, needles: list[str]) -> list[bytes]:
    """Lines of ``path`` containing any of ``needles`` (one C-level regex pass over the
    file, so a million-line log costs a fraction of a second)."""
    import mmap
    import re

    if not needles or not path.is_file() or path.stat().st_size == 0:
        return []
    pattern = re.compile(
        b"|".join(re.escape(n.encode()) for n in sorted(set(needles), key=len, reverse=True))
    )
    found: list[bytes] = []
    seen: set[int] = set()
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for m in pattern.finditer(data):
            start = data.rfind(b"\n", 0, m.start()) + 1
            if start in seen:
                continue
            seen.add(start)
            end = data.find(b"\n", m.end())
            found.append(data[start : end if end != -1 else len(data)])
    return found


def latest_plan(store: Any) -> Any:
    """The most recently updated workflow plan (newest revision), or ``None``."""
    try:
        plans = list(store.latest_plans().values())
    except Exception:
        return None
    if not plans:
        return None
    floor = datetime(1970, 1, 1, tzinfo=UTC)
    return max(plans, key=lambda p: (as_datetime(p.timestamp) or floor, p.revision))


def workflow_wrapup(
    store: Any, plan: Any = None, *, uses: dict[str, int] | None = None, ensembles: dict[str, Any] | None = None
) -> WrapUp | None:
    """The wrap-up of ``plan`` (default: the latest plan) from its routing decisions and
    the evaluations; ``None`` when there is no plan.  ``uses``: completed local runs per
    ensemble over the whole log; ``ensembles``: the report's ``by_ensemble`` rows — when
    given, the phase after the session is the report's (one source for every screen)."""
    plan = plan or latest_plan(store)
    if plan is None:
        return None
    ids = {str(r.routing_id) for r in plan.subtasks if r.routing_id}
    raw = _scan_lines(Path(store.routing_log_path), [f'"{i}"' for i in ids] + [f'"{plan.id}"'])
    decisions: dict[str, RoutingDecision] = {}
    for line in raw:
        try:
            rec = RoutingDecision.model_validate_json(line)
        except Exception:
            continue
        if not rec.is_decision:
            continue
        if (rec.id and rec.id in ids) or rec.plan_id == plan.id:
            decisions[rec.id or f"line-{len(decisions)}"] = rec
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:
        from conductor_tui.core.records import RoutingThresholds

        thresholds = RoutingThresholds()
    ratio = float(thresholds.local_to_claude_token_ratio or 1.2)
    local_all = [d for d in decisions.values() if d.is_local]
    local = [d for d in local_all if (d.status or RunStatus.COMPLETED) in _DONE]  # failed runs are no success
    local_tokens = sum(d.total_tokens_local or 0 for d in local_all)
    saved = sum(
        d.tokens_saved if d.tokens_saved is not None else round((d.total_tokens_local or 0) / ratio)
        for d in local
    )
    claude_tokens = sum(d.claude_tokens or 0 for d in decisions.values() if not d.is_local)
    debt = sum(1 for d in decisions.values() if rules.is_interim_claude(d))
    # progression: each delegable task type of the plan, phase before the plan vs now
    starts = [t for t in (as_datetime(d.timestamp) for d in decisions.values()) if t]
    start = min(starts) if starts else None
    try:
        evaluations = effective_evaluations(list(store.read_evaluations(0).records))
    except Exception:
        evaluations = []
    progression: list[Progression] = []
    seen_types: set[str] = set()
    for row in plan.subtasks:
        tt = row.task_type
        cat = rules.as_delegability(row.delegability_category)
        if not tt or tt in seen_types or cat not in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE):
            continue
        seen_types.add(tt)
        names = sorted({str(d.ensemble or d.routed_to) for d in local if d.task_type == tt})
        if not names:
            progression.append(
                Progression(tt, None, None, Phase.DESIGN, "no ensemble yet; Claude as interim")
            )
            continue
        ens = names[0]
        scores_all = [e.score for e in evaluations if e.ensemble == ens]
        scores_before = [
            e.score
            for e in evaluations
            if e.ensemble == ens and start is not None and (as_datetime(e.timestamp) or start) < start
        ]
        before = (
            rules.lifecycle_status(scores_before, thresholds, invocations=len(scores_before))
            if scores_before
            else None
        )
        total_uses = (uses or {}).get(ens, len(scores_all))
        after = rules.lifecycle_status(scores_all, thresholds, invocations=total_uses)
        reported = (ensembles or {}).get(ens)
        reported_phase = rules.as_phase(reported.get("phase")) if reported is not None else None
        if reported_phase is not None:
            after = dataclasses.replace(after, phase=reported_phase)
        if after.phase is Phase.CALIBRATE and after.calibration is not None:
            evaluated = after.calibration.evaluated
            detail = f"{ens} {evaluated}/{thresholds.calibration_period} evaluated"
            if after.calibration.fallback:
                detail += " · poor → Claude fallback"
        else:
            detail = ens
        progression.append(
            Progression(tt, ens, before.phase if before else Phase.DESIGN, after.phase, detail)
        )
    return WrapUp(
        plan_id=plan.id,
        meta_task=plan.meta_task,
        subtasks=len(plan.subtasks),
        local=len(local),
        local_tokens=local_tokens,
        saved_tokens=saved,
        claude_tokens=claude_tokens,
        debt=debt,
        ratio=ratio,
        progression=progression,
        open_rows=sum(
            1 for r in plan.subtasks if str(getattr(r.status, "value", r.status)) in ("pending", "approved", "running")
        ),
    )
