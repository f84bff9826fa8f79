"""A review load that goes on from the last one when the logs were only appended to — new
verdicts in ``evaluations.jsonl``, new runs or flags in ``routing-log.jsonl``, the task
profiles rewritten (what recording a verdict or a run does) — without reading the routing
log again: the split pass's pieces are kept (:mod:`~conductor_tui.core.review_split`), the
appended routing lines are read as one more piece, the runs the new verdicts name are
taken out of the quiet runs, and the pieces are stitched again — the ensembles nothing
touched keep their walks, the others go on from where theirs stood before the change
(:class:`~conductor_tui.core.review_split.Reuse`). Same result as a full load; anything else (a file rewritten, the config changed,
a verdict that names no run or names a run that is not a quiet one) is left to the full
load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conductor_tui.core import logscan, review_split
from conductor_tui.core.review_pass import _ReviewPass
from conductor_tui.core.review_queue import _complete
from conductor_tui.core.review_state import ReviewState


def piece(path: Path, start: int, end: int | None, named: set[str], state: ReviewState) -> tuple:
    """The lines ``[start, end)`` of ``path`` (``None``: to its end) read as one more piece of
    the split pass, keeping the runs of ``named``."""
    early = ReviewState(project=state.project)
    early.config = state.config
    collector = _ReviewPass(early, named)  # the pieces need neither the evaluations nor the flags
    return review_split._collect_piece((collector, path, start, end, named))


def _appended_evaluations(store: Any, memo: Any, inputs: tuple, state: ReviewState) -> list[Any] | None:
    """``state`` given ``memo``'s config, profiles (read again when rewritten) and
    evaluations, with the evaluations appended since; returns those (``[]``: none), or
    ``None`` when the load cannot go on from ``memo`` (the config changed, the evaluations
    were rewritten, an appended one names no run, the profiles cannot be read)."""
    old = memo.state
    if old.linked or old.problems or inputs[1] != memo.inputs[1]:  # the config changed
        return None
    evals_grew = inputs[0] != memo.inputs[0]
    if evals_grew and not logscan.grew_from(
        store.evaluations_path, memo.inputs[0], memo.eval_end[0], memo.eval_fingerprint
    ):
        return None
    state.config, state.profiles = old.config, old.profiles
    state.evaluations, state.skipped_evaluations = old.evaluations, old.skipped_evaluations
    state.evaluations_end = old.evaluations_end
    if inputs[2] != memo.inputs[2]:
        try:
            state.profiles = store.load_task_profiles()
        except Exception:
            return None  # the full load says what is wrong with it
    if not evals_grew:
        return []
    read = store.read_evaluations(old.evaluations_end[0], first_line=old.evaluations_end[1])
    if any(not ev.routing_id for ev in read.records):
        return None  # linked by invocation or by time: the full load does that
    state.evaluations = [*old.evaluations, *read.records]
    state.skipped_evaluations += len(read.skipped)
    state.evaluations_end = (read.end_offset, read.next_line)
    return read.records


def _agreement(review: _ReviewPass, old: ReviewState, added: list[Any]) -> tuple[Any, set[str]]:
    """The last pass's judge–human agreement when the evaluations ``added`` cannot change
    it (else ``None``: computed again), and the runs a judge's verdict names now."""
    from conductor_tui.core.agreement import judged_keys, touches_pairs

    judged = review.judged_keys
    if judged is None:
        judged = judged_keys(old.evaluations)
    if old.agreement is None or touches_pairs(added, judged):
        return None, judged | judged_keys(added)
    return old.agreement, judged


def _next_pass(
    review: _ReviewPass, old: ReviewState, state: ReviewState, need: set[str], added: list
) -> _ReviewPass:
    """The pass after ``review`` over ``state``: its verdicts per run with the ``added`` ones
    set on them (the later replaces the earlier; each names its run), its judge agreement
    when ``added`` cannot change it."""
    effective = dict(review.effective)
    for ev in added:
        effective[str(ev.routing_id)] = ev
    agreement, judged = _agreement(review, old, added)
    fresh = _ReviewPass(state, need, effective, agreement)
    fresh.judged_keys = judged
    return fresh


def _needed(review: _ReviewPass, added: list) -> set[str]:
    """The runs whose ensemble an evaluation needs (it names none): the last pass's and the
    new ones'."""
    return review.need | {str(ev.routing_id) for ev in added if ev.routing_id and not ev.ensemble}


def refresh_counts(
    store: Any, memo: Any, inputs: tuple, log_sig: Any
) -> tuple[ReviewState, _ReviewPass, dict] | None:
    """The Lifecycle counts' load (``load_review(queue=False)``) gone on from ``memo`` when
    only verdicts or the profiles changed: the counts of the unchanged routing log are the
    same; ``None`` when it cannot."""
    review = memo.review
    if not review.counts_only or review.tail or review.offset != memo.offset or log_sig != memo.log_sig:
        return None
    state = ReviewState(project=Path(store.project))
    added = _appended_evaluations(store, memo, inputs, state)
    if added is None:
        return None
    need = _needed(review, added)
    if not need <= memo.state.run_ensembles.keys():
        return None  # a run whose ensemble the counts did not note
    state.run_ensembles = {rid: memo.state.run_ensembles[rid] for rid in need}
    state.skipped_routing = memo.state.skipped_routing
    fresh = _next_pass(review, memo.state, state, need, added)
    fresh.counts_only = True
    review_split.adopt_counts(fresh, review)
    return _complete(state, fresh, Path(store.routing_log_path), {})


def refresh(
    store: Any, memo: Any, inputs: tuple, log_sig: Any
) -> tuple[ReviewState, _ReviewPass, dict] | None:
    """The load of ``store`` gone on from ``memo`` (``core.review._Memo``, with ``inputs``
    and ``log_sig`` as they are now), or ``None`` when it cannot: the caller reads
    everything."""
    old, review = memo.state, memo.review
    parts, named = review.split_parts, review.split_named
    if parts is None or named is None or review.tail or review.offset != memo.offset or review.by_invocation:
        return None
    path = Path(store.routing_log_path)
    log_grew = log_sig != memo.log_sig
    if log_grew and not logscan.grew_from(path, memo.log_sig, memo.offset, memo.fingerprint):
        return None
    state = ReviewState(project=Path(store.project))
    added = _appended_evaluations(store, memo, inputs, state)
    if added is None:
        return None
    new_ids = {str(ev.routing_id) for ev in added} - named
    need = _needed(review, added)
    if not need - review.need <= review.split_noted:
        return None  # a run whose ensemble the pieces did not note
    state.flagged_ids = set(old.flagged_ids)
    changed: set[str] = set()  # the ensembles to step again (the others' walks are kept)
    grown = set(review.walks_grown)  # those with runs appended: their walks go on
    if log_grew:
        more = piece(path, memo.offset, None, named | new_ids, state)
        parts = [*parts, more]
        state.flagged_ids |= more[10]
        grown.update(more[8])
    parts, others, touched = review_split.keep_runs(new_ids, parts)
    if others:
        return None  # a verdict on a failed run (or no run): its record is not at hand
    changed |= touched
    again: set[str] = set()  # the runs new verdicts and flags name
    if added or state.flagged_ids != old.flagged_ids:  # the kept runs they name
        again = {str(ev.routing_id) for ev in added} | (state.flagged_ids - old.flagged_ids)
        changed.update(
            ens
            for part in parts
            for ens, (_number, entries) in part[8].items()
            if any(entry[3] in again for entry in entries)
        )
    fresh = _next_pass(review, old, state, need, added)
    reuse = review_split.Reuse(review.walks, review.untrusted, changed, again, grown)
    skipped = review_split.stitch(fresh, parts, reuse)
    if skipped is None:
        return None
    fresh.split_named, fresh.split_noted = named | new_ids, review.split_noted
    state.skipped_routing = skipped
    state.run_ensembles = {rid: ens for rid, ens in state.run_ensembles.items() if rid in need}
    return _complete(state, fresh, path, memo.records)
