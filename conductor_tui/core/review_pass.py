"""The one pass over the routing log behind Evaluate and Lifecycle: each local run stepped
through its ensemble's lifecycle, the queue kept as the newest entries by location (see
:mod:`conductor_tui.core.review_read` for how the log's blocks are read and fed to it)."""

from __future__ import annotations

import json
import zlib
from collections import deque
from datetime import datetime
from typing import Any

import msgspec

from conductor_tui.core import rules
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    Phase,
    RoutingDecision,
    RunStatus,
    line_identity,
)
from conductor_tui.core.review_state import (
    _DONE,
    ALL_RUNS_LIMIT,
    JUDGES,
    QUEUE_LIMIT,
    ReviewState,
    _label,
    effective_evaluations,
    ensemble_of,
    is_judge,
    stable_fraction,
)
from conductor_tui.core.schemas import ReviewLine as _Light

_BOM = b"\xef\xbb\xbf"
_LIGHT = msgspec.json.Decoder(_Light)


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

    def copy(self) -> _EnsembleTrack:
        """An independent track in the same state (stepped on, it changes nothing of this one)."""
        new = _EnsembleTrack.__new__(_EnsembleTrack)
        new.counter, new.adds, new.tracker = self.counter, self.adds, self.tracker.copy()
        new.phase_key, new.phase_now = self.phase_key, self.phase_now
        return new

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

    def __init__(
        self,
        state: ReviewState,
        need_ensembles: set[str],
        effective: dict[str, Evaluation] | None = None,
        agreement: Any = None,
    ) -> None:
        """``effective``: run id → its verdict, and ``agreement``: the judge–human agreement,
        when the caller knows them (see ``core.review_refresh``)."""
        self.state = state
        self.thresholds = state.config.routing_thresholds
        self.effective: dict[str, Evaluation] = {} if effective is None else effective
        # evaluations that name no run (the conductor skill's logs): by ensemble + invocation
        self.by_invocation: dict[tuple[str, int], Evaluation] = {}
        if effective is None:
            for ev in effective_evaluations(state.evaluations):
                if ev.routing_id:
                    self.effective[str(ev.routing_id)] = ev
                elif ev.ensemble and isinstance(ev.invocation_number, int):
                    self.by_invocation[(ev.ensemble, ev.invocation_number)] = ev
        self.effective.update(state.linked)
        from conductor_tui.core.agreement import agreement_report

        # judge–human agreement: an ensemble whose judge is untrusted sends its judge's
        # verdicts back to the person (core.agreement)
        ensemble = lambda ev: ensemble_of(ev, state)  # noqa: E731
        state.agreement = agreement or agreement_report(state.evaluations, self.thresholds, ensemble)
        self.untrusted = state.agreement.untrusted
        # the runs a judge's verdict names (core.agreement.judged_keys), once a later load
        # needed them: a verdict on none of them, itself no judge's, leaves the agreement
        self.judged_keys: set[str] | None = None
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
        self.shard: tuple[int, int] | None = None  # (k, n): only ensembles of shard k; debt in shard 0
        self.shard_cache: dict[str, bool] = {}
        self.sampled_reason = f"sampled {self.thresholds.sampling_rate_established:.0%}"
        # counts only (uses, last use, debt, run → ensemble): what the Lifecycle rows need,
        # without stepping runs through their lifecycle or keeping a queue
        self.counts_only = False
        # the split pass's pieces, as stitched, and the ids they kept the runs of (set by
        # the stitch and the load): a later load goes on from them (core.review_refresh)
        self.split_parts: list[tuple] | None = None
        self.split_named: set[str] | None = None
        # the ids whose runs' ensembles every piece noted (those the first pieces were read for)
        self.split_noted: set[str] = set()
        self.walks: dict[str, Any] = {}  # ensemble → its walk (core.review_walk), by the stitch
        self.walks_grown: set[str] = set()  # ensembles with runs stepped since their walk

    def refresh_agreement(self) -> bool:
        """The judge–human agreement again once the runs' ensembles are known: a verdict
        that names only its run counted under "(unknown)" while the log was unread.
        Returns whether the untrusted judges changed (the queue then needs the pass again)."""
        agreement = self.state.agreement
        if agreement is None or all(pair.ensemble is not None for pair in agreement.pairs):
            return False
        from conductor_tui.core.agreement import agreement_report

        state = self.state
        state.agreement = agreement_report(
            state.evaluations, self.thresholds, lambda ev: ensemble_of(ev, state)
        )
        before, self.untrusted = self.untrusted, state.agreement.untrusted
        return set(before) != set(self.untrusted)

    def _mine(self, ens: str) -> bool:
        """Whether ``ens`` belongs to this pass's shard (a stable hash of its name)."""
        hit = self.shard_cache.get(ens)
        if hit is None:
            k, n = self.shard  # type: ignore[misc]
            hit = self.shard_cache[ens] = zlib.crc32(ens.encode("utf-8", "surrogatepass")) % n == k
        return hit

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

    # long: the per-record loop of the pass (~1M iterations): locals hoisted, no call per record
    def feed(self, recs: list[_Light], offset: int, plen: int, first_idx: int = 0, step: Any = None) -> None:
        """Process decoded records in file order (``step``: their line indexes when not
        consecutive from ``first_idx``)."""
        local_cache = self.local_cache
        pairs = self.pairs
        need = self.need
        deleg_cache = self.deleg_cache
        shard = self.shard
        effective = self.effective
        flagged = self.state.flagged_ids
        by_invocation = self.by_invocation
        counts_only = self.counts_only
        shard_cache = self.shard_cache
        runs = 0
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
                if rec.preparation_tokens_local is None and (shard is None or shard[0] == 0):
                    category = rec.delegability_category
                    delegable = deleg_cache.get(category) if category.__class__ is str else None
                    if delegable is None:
                        delegable = self._delegable(category)
                    if delegable:
                        self.debt[tt] = self.debt.get(tt, 0) + 1
                continue
            # a local route always names its ensemble (_is_local is False for an empty one)
            ens: str = rec.ensemble or routed or ""
            if shard is not None:
                mine = shard_cache.get(ens)
                if mine is None:
                    mine = self._mine(ens)
                if not mine:
                    continue
            runs += 1
            ts = rec.timestamp
            pair = pairs.get((tt, ens))
            if pair is None:
                pair = pairs[(tt, ens)] = [0, None]
            done = (rec.status or RunStatus.COMPLETED) in _DONE
            if done:
                pair[0] += 1  # uses: completed runs only
                if ts.__class__ is str and (pair[1] is None or ts > pair[1]):
                    pair[1] = ts
            rid = rec.id
            if rid is None:
                rid = "None"  # only when a caller fed a record without its derived id
            if need and rid in need:
                self.state.run_ensembles[rid] = ens
            if counts_only:
                continue
            idx = step[i] if step is not None else first_idx + i
            if rid in effective or rid in flagged or by_invocation:
                self._step(rec, rid, ens, offset, plen, idx)
            elif not done:
                continue  # a failed run without a verdict: no invocation, nothing queued
            elif not self._quiet_step(rec, rid, ens, offset, plen, idx):
                self._step(rec, rid, ens, offset, plen, idx)
        self.total_runs += runs

    def _quiet_step(self, rec: _Light, rid: str, ens: str, offset: int, plen: int, idx: int) -> bool:
        """:meth:`_step` for the common run — completed, no verdict, not flagged — of an
        ensemble seen before (its entry depends only on the phase, the calibration window
        and the sampling); ``False`` (nothing done) for any other, which takes the full step."""
        track = self.tracks.get(ens)
        if track is None:
            return False
        phase_now = track.phase(track.counter, self.trust_after)
        if phase_now is Phase.ESTABLISH:
            track.counter += 1
            sampled = rec.sampled_for_evaluation
            if sampled.__class__ is bool:
                due = sampled
            else:
                due = stable_fraction(rid) < self.thresholds.sampling_rate_established
            pending = (
                offset, plen, idx, rid, ens, track.counter, EvalPhase.ESTABLISH,
                self.sampled_reason if due else "not sampled", None, False,
            )  # fmt: skip
            self.all.append(pending)
            if due:
                self.due.append(pending)
                self.due_total += 1
            return True
        if phase_now is Phase.CALIBRATE or phase_now is Phase.DESIGN:
            tracker = track.tracker
            period = self.thresholds.calibration_period
            track.counter += 1
            n = track.counter
            position = min(len(tracker.window) + 1, period) if tracker.calibrating else min(n, period)
            pending = (
                offset,
                plen,
                idx,
                rid,
                ens,
                n,
                EvalPhase.CALIBRATE,
                f"calibrate {position}/{period}",
                None,
                False,
            )
            self.all.append(pending)
            self.due.append(pending)
            self.due_total += 1
            return True
        track.counter += 1
        self.all.append((offset, plen, idx, rid, ens, track.counter, EvalPhase.TRUST, _TRUSTED, None, False))
        return True

    # long: the per-run step of the pass (~1M calls): one body, no helper call per run
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
