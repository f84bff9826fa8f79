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

import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import logscan, review_pass, review_refresh, review_split, rules
from conductor_tui.core.records import (
    EvalPhase,
    Evaluation,
    FailureMode,
    Phase,
    RoutingDecision,
    Score,
)
from conductor_tui.core.review_artifacts import artifact_dir, read_artifact
from conductor_tui.core.review_counts import read_counts_split
from conductor_tui.core.review_inputs import Inputs
from conductor_tui.core.review_lifecycle import (
    LifecycleRow,
    interim_debt,
    lifecycle_rows,
    profiles_after_evaluation,
)
from conductor_tui.core.review_pass import _ReviewPass, _validate_line
from conductor_tui.core.review_queue import _complete
from conductor_tui.core.review_read import (
    _read_routing,
    _scan_flags,
    no_collection,
    read_routing_sharded,
)
from conductor_tui.core.review_state import (
    ALL_RUNS_LIMIT,
    FLAG_EVENT,
    JUDGES,
    QUEUE_LIMIT,
    QueueItem,
    ReviewState,
    _label,
    effective_evaluations,
    ensemble_of,
    evaluation_queue,
    is_judge,
    run_ensemble,
    scores_for,
    stable_fraction,
    status_for,
)
from conductor_tui.core.review_wrapup import Progression, WrapUp, latest_plan, workflow_wrapup

__all__ = [
    "ALL_RUNS_LIMIT",
    "EvalPhase",
    "FLAG_EVENT",
    "JUDGES",
    "QUEUE_LIMIT",
    "Consequences",
    "LifecycleRow",
    "Progression",
    "QueueItem",
    "ReviewState",
    "WrapUp",
    "artifact_dir",
    "build_evaluation",
    "consequences",
    "effective_evaluations",
    "ensemble_of",
    "evaluation_queue",
    "flag_event",
    "interim_debt",
    "is_judge",
    "latest_plan",
    "lifecycle_rows",
    "load_review",
    "profiles_after_evaluation",
    "read_artifact",
    "review_pass",
    "run_ensemble",
    "scores_for",
    "stable_fraction",
    "status_for",
    "workflow_wrapup",
    "_label",
    "_validate_line",
]


def load_review(store: Any, *, queue: bool = True) -> ReviewState:
    """Read everything the review screens need from a ``ProjectStore``: the evaluations,
    config and task profiles, then one pass over the routing log (see :class:`ReviewState`).

    ``queue=False`` (the Lifecycle screen) reads the counts alone — uses, last use, debt —
    with the log split across the cores, and leaves the queue empty (no ``queue_*``, no
    flags); a remembered full load serves it too.

    Repeated calls are cheap (Evaluate and Lifecycle share them; see :class:`_Memo`): an
    unchanged project returns the same state — treat it as read-only —, and when lines
    were only appended to the routing log the pass resumes where it stopped."""
    path = Path(store.routing_log_path)
    kinds = (_FULL,) if queue else (_FULL, _COUNTS)
    with _MEMO_LOCK:
        inputs = _inputs(store)
        log_sig = logscan.file_signature(path)
        memos = [(kind, _MEMO.get((str(path), kind))) for kind in kinds]
        for _kind, memo in memos:
            if memo is not None and memo.inputs == inputs and memo.log_sig == log_sig:
                return memo.state
        # a full pass that can go on over the appended lines keeps Evaluate up to date too
        kind, resume = next(
            ((k, m) for k, m in memos if m is not None and m.resumable(inputs, path)), (kinds[-1], None)
        )
        if resume is None:  # new verdicts, flags or profiles: no re-read of the log
            refreshed = _refresh(store, memos, inputs, log_sig, path)
            if refreshed is not None:
                return refreshed
        # the full pass makes no reference cycles: no collection walks its pieces meanwhile
        # (freed before the collector is back, which then walks only what the load keeps)
        with no_collection() if kind == _FULL else nullcontext():
            state, review, records = _load_review(store, resume, counts_only=kind == _COUNTS)
        _MEMO.pop((str(path), kind), None)
        if review is not None and not state.problems:
            _MEMO[(str(path), kind)] = _Memo(inputs, log_sig, state, review, records, path, store)
            if kind == _FULL:
                _MEMO.pop((str(path), _COUNTS), None)  # the full load serves the counts too
        return state


def _refresh(store: Any, memos: list, inputs: tuple, log_sig: Any, path: Path) -> ReviewState | None:
    """The load gone on from a remembered one (:mod:`~conductor_tui.core.review_refresh`):
    the full pass's (Evaluate's, which serves the counts too), else the counts'; ``None``
    when neither can."""
    for kind, memo in memos:
        if memo is None:
            continue
        go_on = review_refresh.refresh if kind == _FULL else review_refresh.refresh_counts
        with no_collection():  # as the full load: many small objects, no cycles
            refreshed = go_on(store, memo, inputs, log_sig)
        if refreshed is not None:
            state, review, records = refreshed
            _MEMO[(str(path), kind)] = _Memo(inputs, log_sig, state, review, records, path, store)
            if kind == _FULL:
                _MEMO.pop((str(path), _COUNTS), None)
            return state
    return None


def remembered(store: Any) -> bool:
    """Whether a load of ``store``'s routing log is remembered (the next one starts from it)."""
    path = str(Path(store.routing_log_path))
    with _MEMO_LOCK:
        return any(kept == path for kept, _kind in _MEMO)


_FULL, _COUNTS = "full", "counts"
_MEMO_LOCK = threading.Lock()
_MEMO: dict[tuple[str, str], _Memo] = {}  # (routing log path, full or counts) → the last load


def _inputs(store: Any) -> tuple:
    """What, besides the routing log, a load depends on: changed → read everything again."""
    return tuple(
        logscan.file_signature(p) for p in (store.evaluations_path, store.config_path, store.profiles_path)
    )


class _Memo:
    """The last :func:`load_review` of a project: its state, the paused routing-log pass
    (its offset and a fingerprint of the bytes before it) and the records it materialised."""

    def __init__(
        self,
        inputs: tuple,
        log_sig: Any,
        state: ReviewState,
        review: _ReviewPass,
        records: dict,
        path: Path,
        store: Any,
    ):
        self.inputs, self.log_sig, self.state, self.review, self.records = (
            inputs,
            log_sig,
            state,
            review,
            records,
        )
        self.offset = review.offset
        self.fingerprint = logscan.prefix_fingerprint(path, self.offset)
        # where the evaluations read stopped (a later load reads only what was appended)
        self.eval_end = state.evaluations_end
        self.eval_fingerprint = logscan.prefix_fingerprint(store.evaluations_path, self.eval_end[0])

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


def _load_review(
    store: Any, resume: _Memo | None, *, counts_only: bool = False
) -> tuple[ReviewState, Any, dict]:
    """A full load (``counts_only``: see :func:`load_review`), or the continuation of
    ``resume``'s paused pass over the appended lines. Returns ``(state, the pass or None
    when it failed, the materialised records)``."""
    state = ReviewState(project=Path(store.project))
    path = Path(store.routing_log_path)
    if resume is not None:
        return _resume(state, resume, path)
    read_inputs = Inputs(store, state, counts_only=counts_only)
    prepared: list[Any] = []  # the pass, prepared while the log is read

    def prepare() -> None:
        read_inputs()
        try:
            prepared.append(_new_pass(store, state, counts_only, read_inputs))
        except Exception as exc:  # raised here, after the read, as before
            prepared.append(exc)

    early = None
    split: tuple[set[str], list[tuple]] | None = None
    try:  # the log is read on the other cores while the evaluations are read here
        if counts_only:
            early = review_split.count_early(store, state, path, read_inputs)
        else:
            split = review_split.split_early(store, state, path, prepare)
    except Exception as exc:  # a broken file degrades this view, never the app
        read_inputs()
        state.problems.append(f"routing-log.jsonl: {exc}")
        return state, None, {}
    if not prepared:
        prepare()
    review = prepared[0]
    if isinstance(review, Exception):
        raise review
    need = review.need
    if early is not None and need <= early.need:
        review_split.adopt_counts(review, early)
        state.run_ensembles = {rid: ens for rid, ens in state.run_ensembles.items() if rid in need}
        return _complete(state, review, path, {})
    state.run_ensembles.clear()
    try:
        state.skipped_routing, review = _read_log(review, path, split, need)
    except Exception as exc:  # a broken file degrades this view, never the app
        state.problems.append(f"routing-log.jsonl: {exc}")
        return state, None, {}
    return _complete(state, review, path, {})


def _new_pass(store: Any, state: ReviewState, counts_only: bool, inputs: Inputs) -> _ReviewPass:
    """The pass, once ``inputs`` (the evaluations, the config, the task profiles) are read:
    the evaluations that name no run linked, the runs whose ensemble an evaluation needs;
    the counts' pass ``inputs`` built meanwhile when no evaluation needs the log."""
    _link_loose(store, state)
    need = {str(ev.routing_id) for ev in state.evaluations if ev.routing_id and not ev.ensemble}
    ready = inputs.ready
    review = ready if ready is not None and not need and not state.linked else _ReviewPass(state, need)
    review.counts_only = counts_only
    return review


def _read_log(
    review: _ReviewPass, path: Path, split: tuple[set[str], list] | None, need: set[str]
) -> tuple[int, _ReviewPass]:
    """The pass over the whole log: the pieces read early stitched when they kept every
    run it needs, else read now (split across the cores, sharded, or in one process).
    Returns the skipped lines and the pass that read them."""
    state = review.state
    if (
        split is not None
        and need <= split[0]
        and review.effective.keys() <= split[0]
        and not review.by_invocation
    ):
        skipped = review_split.stitch(review, split[1])
        if skipped is not None:
            review.split_named = review.split_noted = split[0]
            state.run_ensembles = {rid: ens for rid, ens in state.run_ensembles.items() if rid in need}
            return skipped, review
    if review.counts_only:
        skipped = read_counts_split(path, review)
        review.refresh_agreement()
        return skipped, review
    if split is None:
        state.flagged_ids = _scan_flags(path)
    skipped = _read_runs(path, review)
    if review.refresh_agreement():
        # a judge found untrusted only once its runs' ensembles were read (verdicts that
        # name only their run): a new pass, the ensembles now known, builds the queue again
        review = _ReviewPass(state, review.need)
        skipped = _read_runs(path, review)
    return skipped, review


def _read_runs(path: Path, review: _ReviewPass) -> int:
    skipped = review_split.read_routing_split(path, review)
    return read_routing_sharded(path, review) if skipped is None else skipped


def _resume(state: ReviewState, resume: _Memo, path: Path) -> tuple[ReviewState, Any, dict]:
    """``resume``'s paused pass gone on over the lines appended since."""
    old = resume.state
    state.evaluations, state.skipped_evaluations = old.evaluations, old.skipped_evaluations
    state.config, state.profiles, state.flagged_ids = old.config, old.profiles, old.flagged_ids
    state.run_ensembles = dict(old.run_ensembles)
    state.linked = dict(old.linked)
    state.agreement = old.agreement  # the same evaluations: the same judge agreement
    state.skipped_routing = old.skipped_routing
    state.evaluations_end = old.evaluations_end
    review = resume.review
    review.state = state
    start = review.offset
    try:
        state.skipped_routing += _read_routing(path, review, start)
        if review.split_parts is not None and review.split_named is not None:
            # the pieces go on too (a later verdict is stepped from them): the same lines
            more = review_refresh.piece(path, start, review.offset, review.split_named, state)
            review.split_parts = [*review.split_parts, more]
            review.walks_grown.update(more[8])  # stepped on by the pass: their walks go on later
    except Exception as exc:  # a broken file degrades this view, never the app
        state.problems.append(f"routing-log.jsonl: {exc}")
        return state, None, {}
    return _complete(state, review, path, resume.records)


def _link_loose(store: Any, state: ReviewState) -> None:
    """Evaluations that name neither a run nor an invocation: linked to a run by time."""
    loose = [
        ev
        for ev in state.evaluations
        if not ev.routing_id and ev.ensemble and not isinstance(ev.invocation_number, int)
    ]
    if loose:
        try:
            from conductor_tui.core.history import build_history

            hist = build_history(store)
            for ev in loose:
                run = hist.run_for_evaluation(ev)
                if run is not None:
                    state.linked[run.id] = ev
        except Exception as exc:
            state.problems.append(f"linking evaluations: {exc}")


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
