"""Every ensemble's history, derived from the append-only logs (no Textual).

The logs are the source of truth (``task-profiles.yaml`` is a materialised view): this
module reads ``routing-log.jsonl`` and ``evaluations.jsonl`` once and answers, per
ensemble, how many runs completed, which run each evaluation belongs to, the lifecycle
phase (:class:`~conductor_tui.core.lifecycle.LifecycleTracker`), whether a session has
fallen back to Claude, and whether a failed ensemble has been revised since.

Identity: a line without ``id`` gets the stable :func:`~conductor_tui.core.records.line_identity`
of its content. Linking an evaluation to its run: its ``routing_id`` when that names a run;
otherwise the ensemble's run with the evaluation's ``invocation_number`` (the ordinal of the
run among the ensemble's completed runs); otherwise the ensemble's newest completed run at
or before the evaluation's timestamp. A later evaluation of the same run replaces the
earlier one (the person agreeing with or overriding the judge): one verdict per run.

Runs: only completed runs are invocations (they get the ordinal, use a calibration slot
and count as local successes); failed and cancelled runs are counted apart.

Reading (:mod:`~conductor_tui.core.history_scan`): the routing log is read on every core into
per-ensemble counts; of the runs themselves only those the evaluations name are built then.
Any other run is built when first asked for — by ordinal from its place in the log (one block), or
all of them when :attr:`History.runs` / :attr:`History.by_invocation` is read — so the
Lifecycle screen and the loop's decisions, which need counts and phases, never build a
million run objects. A run named by id that the scan did not build is found by its id's text
(:func:`~conductor_tui.core.history_scan.find_run`; every run is built only when no line
spells it).

Appending (:func:`build_history`): the history read last is remembered, and when lines were
only appended to the logs since (:mod:`~conductor_tui.core.history_tail`), the next build goes
on from it — the appended routing bytes are scanned as one more piece, the appended
evaluations read from where the last read stopped — into a new :class:`History` equal to one
read from the start. The evaluations' part is derived again from all of them when routing lines
were appended (a new run can change which run an earlier evaluation belongs to); when only
evaluations were, only for the ensembles they touch (:mod:`~conductor_tui.core.history_verdicts`).
"""

from __future__ import annotations

from conductor_tui.core.history_build import _MEMO, _MEMO_LOCK, _read_history, build_history
from conductor_tui.core.history_model import EnsembleHistory, History, Run
from conductor_tui.core.history_scan import DONE, LIFECYCLE_EVENT, session_key

__all__ = [
    "DONE",
    "LIFECYCLE_EVENT",
    "EnsembleHistory",
    "History",
    "Run",
    "_MEMO",
    "_MEMO_LOCK",
    "_read_history",
    "build_history",
    "session_key",
]
