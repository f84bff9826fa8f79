"""The Lifecycle screen's rows: per task type and ensemble, the phase, the evidence, the
next step, interim Claude debt and design rejections (from a :class:`ReviewState`), and the
task profiles after a new evaluation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from operator import attrgetter, is_
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import (
    Evaluation,
    Phase,
    TaskProfiles,
    as_datetime,
)
from conductor_tui.core.review_state import (
    QueueItem,
    ReviewState,
    _ts,
    effective_evaluations,
    effective_key,
    ensemble_of,
    status_for,
)


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
    by_ensemble = _by_ensemble(state)
    tkey = thresholds.model_dump_json()
    debt_shown: set[str] = set()  # a task type's debt is shown once, not on each of its ensembles
    for (tt, ens), (n_runs, last_raw) in ((k, v or [0, None]) for k, v in pairs.items()):
        prof = state.profiles.profiles.get(tt)
        lora = None
        if ens is None:
            status = rules.lifecycle_status([], thresholds, has_ensemble=False)
        else:
            tracker, evaluated, lora = _walked(ens, by_ensemble.get(ens, []), thresholds, tkey)
            uses = state.uses.get(ens) or n_runs or (prof.invocation_count if prof else 0)
            status = rules.status_from_tracker(tracker, max(uses or 0, evaluated))
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


# (ensemble, thresholds, its verdicts) → (lifecycle tracker fed with them, evaluated
# scores, LoRA candidacy): a reload after new routing lines leaves the verdicts as they were,
# and walking 20,000 of them again is most of a Lifecycle reload. The newest few are kept.
_WALKS: dict[tuple, tuple[Any, int, Any]] = {}
_WALKS_KEPT = 64
_VERDICT = attrgetter("score", "failure_mode")


# the last walk of each ensemble by the identity of its verdicts' list (a shared grouping,
# see _by_ensemble): ensemble → (list, its length, thresholds, walk)
_SAME_LIST: dict[str, tuple[list[Evaluation], int, str, tuple[Any, int, Any]]] = {}


def _walked(
    ens: str, mine: list[Evaluation], thresholds: Any, tkey: str | None = None
) -> tuple[Any, int, Any]:
    """:func:`rules.walk_evidence` of an ensemble's verdicts, remembered (``tkey``: the
    thresholds as JSON, when the caller has it)."""
    tkey = thresholds.model_dump_json() if tkey is None else tkey
    same = _SAME_LIST.get(ens)
    if same is not None and same[0] is mine and same[1] == len(mine) and same[2] == tkey:
        return same[3]
    verdicts = tuple(map(_VERDICT, mine))
    key = (ens, tkey, verdicts)
    hit = _WALKS.get(key)
    if hit is None:
        hit = rules.walk_evidence([v[0] for v in verdicts], [v[1] for v in verdicts], thresholds)
        with contextlib.suppress(RuntimeError, KeyError, StopIteration):  # another thread's drop
            while len(_WALKS) >= _WALKS_KEPT:
                _WALKS.pop(next(iter(_WALKS)))
        _WALKS[key] = hit
    if len(_SAME_LIST) >= _WALKS_KEPT:
        _SAME_LIST.clear()
    _SAME_LIST[ens] = (mine, len(mine), tkey, hit)
    return hit


# the last evaluations whose verdicts all name their ensemble, grouped (they hold no run's
# ensemble, so every state read from them shares the grouping): [(list, length, grouping,
# run key → (ensemble, position in its list))]
_GROUPED: list[tuple[list[Evaluation], int, dict[str | None, list[Evaluation]], dict[Any, tuple]]] = []


def _by_ensemble(state: ReviewState) -> dict[str | None, list[Evaluation]]:
    """Each ensemble's verdicts in log order, from one walk over the evaluations (what
    ``scores_for`` gives per ensemble, without a walk per row); read-only. Evaluations that
    only grew (a verdict recorded) take the last grouping on (:func:`_grown`)."""
    evaluations = state.evaluations
    for held, length, grouped, keys in list(_GROUPED):
        if held is evaluations and length == len(evaluations):
            return grouped
        grown = _grown(evaluations, held, grouped, keys)
        if grown is not None:
            _GROUPED[:] = [(evaluations, len(evaluations), *grown)]
            return grown[0]
    grouped = {}
    index: dict[Any, tuple] = {}
    named = True
    for ev in effective_evaluations(evaluations):
        named = named and bool(ev.ensemble)
        mine = grouped.setdefault(ensemble_of(ev, state), [])
        index[effective_key(ev)] = (ev.ensemble, len(mine))
        mine.append(ev)
    if named:
        index.pop(None, None)  # evaluations naming no run: each its own
        _GROUPED[:] = [(evaluations, len(evaluations), grouped, index)]
    return grouped


def _grown(
    evaluations: list[Evaluation], held: list[Evaluation], grouped: dict, index: dict[Any, tuple]
) -> tuple[dict, dict] | None:
    """The grouping of ``evaluations`` when they are ``held`` (grouped as ``grouped``) and
    more, every one of them naming its ensemble: a verdict on a new run goes to the end of
    its ensemble's list, a later verdict on a run replaces the earlier in place (the lists
    of the other ensembles are the same objects: their walks stay remembered). ``None``
    otherwise."""
    length = len(held)
    if len(evaluations) <= length or not all(map(is_, islice(evaluations, length), held)):
        return None
    out, keys, copied = dict(grouped), dict(index), set()
    for ev in islice(evaluations, length, None):
        ens = ev.ensemble
        if not ens:
            return None
        key = effective_key(ev)
        at = keys.get(key) if key is not None else None
        if at is not None and at[0] != ens:
            return None  # a later verdict naming another ensemble: its place is elsewhere
        if ens not in copied:
            out[ens] = list(out.get(ens, ()))
            copied.add(ens)
        mine = out[ens]
        if at is not None:
            mine[at[1]] = ev
            continue
        if key is not None:
            keys[key] = (ens, len(mine))
        mine.append(ev)
    return out, keys


def prewalk(state: ReviewState) -> None:
    """:func:`_walked` for every ensemble the evaluations name, ahead of the routing log's
    counts (the load does it while its workers read the log): when every verdict names its
    ensemble, the rows' grouping and walks are these. Otherwise nothing (a verdict that
    names only its run belongs to the ensemble the log gives it)."""
    grouped = _by_ensemble(state)
    if not any(held is grouped for _e, _n, held, _index in _GROUPED):
        return  # not shared: a verdict names only its run
    thresholds = state.config.routing_thresholds
    tkey = thresholds.model_dump_json()
    for ens, evs in grouped.items():
        if ens is not None:
            _walked(ens, evs, thresholds, tkey)


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
