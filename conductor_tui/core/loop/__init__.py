"""The conductor loop: one service for every caller (no Textual, no engine).

The cockpit, every CLI verb and the headless runner are three doors into one room; this
module is the room. :class:`Conductor` owns

* **routing** — :meth:`Conductor.route_plan` / :meth:`Conductor.route_row`: the triage tree
  with the live lifecycle state (an ensemble back in Design after a failed calibration is
  skipped until revised; a poor calibration score sends its task type to Claude for the rest
  of that session; standing authorisations approve their rows by rule);
* **admission** — :meth:`Conductor.admit`: may this ensemble run now for this task type and
  session, with which routing reason, and is it covered by a standing authorisation;
* **recording** — :meth:`Conductor.record_run` (the routing decision with its reason,
  ``evaluation_summary``, ``standing_auth``, invocation number and the ONE sampling decision),
  :meth:`Conductor.record_evaluation` (invocation number and phase from the ensemble's real
  history) and :meth:`Conductor.record_claude_task`;
* **transitions** — every record is followed, under the store's lock, by the lifecycle
  change it causes: phase, in-session fallback (open plans of that session re-routed to
  Claude), return to Design (a ``lifecycle`` event with the ensemble file's digest, so a
  revision is recognised), and ``task-profiles.yaml`` rewritten as the materialised view.

The parts live in this package, each in its own module; :class:`Conductor` composes them:
:mod:`.state` (the project, its history, config, profiles and phases), :mod:`.admission`,
:mod:`.routing`, :mod:`.recording`, :mod:`.claude_tasks`, :mod:`.profiles` (the
``task-profiles.yaml`` view), :mod:`.designer_hooks` and :mod:`.designer_feedback` (the
designer handoff), :mod:`.promotion_gate`; :mod:`.outcomes` holds what the calls return.

The append-only logs are the source of truth (:mod:`conductor_tui.core.history`).
Running a plan row — input, context strategy, dependency outputs, propose–judge — is the
engine's :mod:`conductor_tui.engine.row_run`, which calls :meth:`admit` before and
:meth:`record_run` after.
"""

from __future__ import annotations

from conductor_tui.core.loop.conductor import Conductor
from conductor_tui.core.loop.outcomes import Admission, EvaluationOutcome, RunRecord
from conductor_tui.core.loop.state import (
    CREATE_ENSEMBLE,
    GENERALITY_EVENT,
    LOOP_LOCK,
    PLANS_LOCK,
    stable_fraction,
)
from conductor_tui.core.records import EvalPhase

__all__ = [
    "CREATE_ENSEMBLE",
    "GENERALITY_EVENT",
    "LOOP_LOCK",
    "PLANS_LOCK",
    "Admission",
    "Conductor",
    "EvaluationOutcome",
    "RunRecord",
    "evaluation_phase_values",
    "stable_fraction",
]


def evaluation_phase_values() -> tuple[str, ...]:
    return tuple(p.value for p in EvalPhase)
