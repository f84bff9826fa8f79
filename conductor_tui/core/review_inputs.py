"""What a review load reads besides the routing log — the evaluations, the routing config
and the task profiles — once, in this process while the workers read the log; for the
Lifecycle counts also the verdicts' walks (``review_lifecycle.prewalk``) and, when nothing
in it depends on the log (every evaluation names its ensemble), the counts' pass itself."""

from __future__ import annotations

from typing import Any

from conductor_tui.core.review_lifecycle import prewalk
from conductor_tui.core.review_pass import _ReviewPass
from conductor_tui.core.review_read import no_collection
from conductor_tui.core.review_state import ReviewState


class Inputs:
    """Called (no arguments) as the load's ``meanwhile``; reads once. ``ready``: the counts'
    pass when it could be built here (see the module docstring), else ``None``."""

    def __init__(self, store: Any, state: ReviewState, *, counts_only: bool) -> None:
        self.store, self.state, self.counts_only = store, state, counts_only
        self.done = False
        self.ready: _ReviewPass | None = None

    def __call__(self) -> None:
        if self.done:
            return
        self.done = True
        store, state = self.store, self.state
        # no collection meanwhile: the records and walks made here hold no cycles, and a
        # collection of the heap they grow would cost about as much as the reads
        with no_collection():
            read_evaluations(store, state)
            read_config(store, state)
            if self.counts_only and not state.problems:
                prewalk(state)
                if all(ev.ensemble for ev in state.evaluations):  # none to link or look up in the log
                    self.ready = _ReviewPass(state, set())


def read_config(store: Any, state: ReviewState) -> None:
    try:
        state.config = store.load_config()
    except Exception as exc:
        state.problems.append(f"routing-config.yaml: {exc}")
    try:
        state.profiles = store.load_task_profiles()
    except Exception as exc:
        state.problems.append(f"task-profiles.yaml: {exc}")


def read_evaluations(store: Any, state: ReviewState) -> None:
    try:
        evals = store.read_evaluations(0)
        state.evaluations = list(evals.records)
        state.skipped_evaluations = len(evals.skipped)
        state.evaluations_end = (evals.end_offset, evals.next_line)
    except Exception as exc:
        state.problems.append(f"evaluations.jsonl: {exc}")
