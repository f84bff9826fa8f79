"""The end of a review load (:func:`conductor_tui.core.review.load_review`): the queue
entries the pass kept materialised as full records (re-read by location, or taken from an
earlier load) and the pass's counts published on the state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conductor_tui.core.records import EvalPhase
from conductor_tui.core.review_pass import _LOC, _TRUSTED, _ReviewPass
from conductor_tui.core.review_read import _materialise
from conductor_tui.core.review_state import QueueItem, ReviewState


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
