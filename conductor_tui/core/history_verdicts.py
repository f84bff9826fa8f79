"""The evaluations' part of a :class:`~conductor_tui.core.history.History` (no Textual).

Each evaluation is linked to its run (:meth:`~conductor_tui.core.history.History.run_for_evaluation`)
and keyed by it (``run:<id>``), or by itself (``ev:<id>``) when it names no run; a later
evaluation with the same key replaces the earlier one and keeps the earlier one's place: one
verdict per run. An ensemble's effective evaluations are the keys whose latest verdict is of
that ensemble, in key order, and its evaluation-derived state — the lifecycle tracker, the
evaluations list, ``failed_at`` — is fed from those alone; ``evaluation_of`` holds each run's
latest verdict. So ensembles do not depend on one another.

Going on (:func:`go_on`) after only evaluations were appended (the routing log unchanged: no
earlier evaluation's link to its run can change), an ensemble that no appended evaluation
touches keeps the remembered history's state (shared: nothing changes a tracker or those lists
once a build is done). One that only gains new keys — after all its others — goes on from a
copy of its tracker. One whose verdict was replaced (the ensemble of the earlier verdict, whose
evaluation leaves it, and that of the later, where it takes the earlier one's place) is fed
again from the start. A replaced verdict of an ensemble that no run names (its place among the
ensembles could change) derives everything again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history_scan import _s, _when, session_key
from conductor_tui.core.records import Evaluation, Phase

Link = tuple[Evaluation, Any, str]  # an effective evaluation, its run (or None), its ensemble


@dataclass(slots=True)
class Verdicts:
    """Every verdict's key in the order keys first appeared, and its latest link."""

    order: list[str] = field(default_factory=list)
    latest: dict[str, Link] = field(default_factory=dict)

    def add(self, ev: Evaluation, run_for: Callable[[Evaluation], Any]) -> str | None:
        """Link ``ev`` (it replaces the verdict with its key); its key, ``None`` when it
        has no ensemble (then it counts for nothing)."""
        run = run_for(ev)
        ens = _s(ev.ensemble) or (run.ensemble if run is not None else None)
        if ens is None:
            return None
        key = f"run:{run.id}" if run is not None else f"ev:{ev.id}"
        if key not in self.latest:
            self.order.append(key)
        self.latest[key] = (ev, run, ens)
        return key


def apply_all(hist: Any, evaluations: Iterable[Evaluation]) -> Verdicts:
    """Link every evaluation of ``hist`` (a History whose log facts are in) and feed every
    ensemble from its effective evaluations."""
    verdicts = Verdicts()
    run_for = hist.run_for_evaluation
    for ev in evaluations:
        verdicts.add(ev, run_for)
    latest = verdicts.latest
    feed(hist, [latest[key] for key in verdicts.order])
    return verdicts


def feed(hist: Any, links: Iterable[Link]) -> None:
    """The next effective evaluations, in order, into their ensembles of ``hist``."""
    evaluation_of = hist.evaluation_of
    for ev, run, ens in links:
        eh = hist.ensemble(ens)
        eh.evaluations.append(ev)
        if run is not None:
            evaluation_of[run.id] = ev
        when = _when(ev.timestamp)
        session = _s(ev.session) or (run.session if run is not None else None)
        uses = run.invocation if run is not None and run.invocation else eh.completed
        change = eh.tracker.add(rules.as_score(ev.score), session=session_key(session, when), uses=uses)
        if change is not None and change.after is Phase.DESIGN:
            eh.failed_at = when


def go_on(new: Any, old: Any, appended: list[Evaluation]) -> Verdicts | None:
    """The evaluations' part of ``new`` — the same routing log as ``old``, and ``old``'s
    evaluations followed by ``appended`` — from ``old``'s (module docstring); ``None``
    (``new`` unchanged but for runs looked up) when it must be derived from the start."""
    was: Verdicts | None = old._verdicts
    if was is None:
        return None
    verdicts = Verdicts(list(was.order), dict(was.latest))
    fresh: list[str] = []  # keys first seen now, in order (at the end of the order)
    replaced: set[str] = set()  # keys of old verdicts replaced now
    run_for = new.run_for_evaluation
    for ev in appended:
        n = len(verdicts.order)
        key = verdicts.add(ev, run_for)
        if key is None:
            continue
        if len(verdicts.order) > n:
            fresh.append(key)
        elif key in was.latest:
            replaced.add(key)
    latest = verdicts.latest
    again = {was.latest[key][2] for key in replaced} | {latest[key][2] for key in replaced}
    log_names = set(new._log_names)
    if not again <= log_names:
        return None
    gained = {latest[key][2] for key in fresh} - again
    new.evaluation_of = dict(old.evaluation_of)
    for name, was_eh in old.ensembles.items():  # the order of ``old``'s (none leaves: above)
        eh = new.ensemble(name)
        if name in again:
            continue  # a fresh tracker (the log's facts made it)
        eh.failed_at = was_eh.failed_at
        if name in gained:
            eh.tracker, eh.evaluations = was_eh.tracker.copy(), list(was_eh.evaluations)
        else:
            eh.tracker, eh.evaluations = was_eh.tracker, was_eh.evaluations
    if again:
        feed(new, [link for key in verdicts.order if (link := latest[key])[2] in again])
    feed(new, [link for key in fresh if (link := latest[key])[2] not in again])
    return verdicts
