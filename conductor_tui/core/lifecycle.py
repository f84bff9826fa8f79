"""The ensemble lifecycle as one state machine (Design → Calibrate → Establish → Trust →
Promote), walked score by score. No I/O, no Textual.

:class:`LifecycleTracker` is the single home of the transition rules; the lifecycle screen,
the evaluation queue, ``report``, the CLI verbs and the run path all feed it an ensemble's
effective evaluation scores in log order and read its phase. Every number comes from the
routing thresholds (glossary: ``docs/GLOSSARY.md``):

* **Calibrate** — the first ``calibration_period`` (5) evaluated uses form a window. Any
  poor score triggers the in-session fallback to Claude. ``calibration_fail_poor``
  (2) poor scores across calibration (one window, or a mixed window and the next) is a
  **fail**: back to **Design** at once, the ensemble is not routed to, proposed or promoted
  until it is revised. A full window with 0 poor passes; with 1 poor it is **mixed**: a
  second window follows.
* **Establish** — after a pass. Back to **Calibrate** (re-verification, every use
  evaluated) when the last ``calibration_period`` evaluations hold ``calibration_fail_poor``
  poor scores — the bar that fails a calibration window.
* **Trust** — more than ``trusted_threshold_uses`` uses and an acceptable-or-good share
  above ``trusted_threshold_good_ratio`` over every evaluation AND over the last
  ``demotion_window`` (10): a falling recent ratio demotes Trust → Establish.
* **Promote** — Trust with ``promotion_global_good`` (3) good scores.
* A score that arrives for an ensemble in Design after a failed calibration belongs to the
  revised ensemble and starts a new calibration.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.records import Phase, RoutingThresholds, Score
from conductor_tui.core.vocab import as_score

DEFAULT_DEMOTION_WINDOW = 10


@dataclass(frozen=True)
class Transition:
    """A phase change caused by one score (``index``: the score's position, 0-based)."""

    index: int
    before: Phase
    after: Phase
    reason: str


class LifecycleTracker:
    """An ensemble's lifecycle walked one effective evaluation score at a time.

    ``add(score)`` is O(1); ``phase(uses)`` reads the phase for ``uses`` completed runs.
    Unknown scores (``None``) are ignored. ``session`` tags a poor calibration score with
    the session it happened in (see :attr:`fallback_sessions`)."""

    __slots__ = (
        "t",
        "_stage",
        "window",
        "cal_poor",
        "windows",
        "mixed",
        "good",
        "acceptable",
        "poor",
        "since_scored",
        "since_ok",
        "recent",
        "recent_ok",
        "recent_cal",
        "recent_cal_poor",
        "last_outcome",
        "transitions",
        "fallback_sessions",
        "scored",
        "failed_at",
    )

    def __init__(self, thresholds: RoutingThresholds) -> None:
        self.t = thresholds
        self._stage = "calibrate"  # calibrate | design | passed
        self.window: list[Score] = []
        self.cal_poor = 0  # poor scores across calibration since the last reset
        self.windows = 0  # completed calibration windows
        self.mixed = False
        self.good = self.acceptable = self.poor = 0
        self.since_scored = 0  # scored since the last pass
        self.since_ok = 0
        n = int(getattr(thresholds, "demotion_window", DEFAULT_DEMOTION_WINDOW) or DEFAULT_DEMOTION_WINDOW)
        self.recent: deque[bool] = deque(maxlen=max(1, n))  # acceptable-or-good? (newest n)
        self.recent_ok = 0  # sum(recent), kept as scores come and go
        self.recent_cal: deque[bool] = deque(maxlen=max(1, thresholds.calibration_period))  # poor?
        self.recent_cal_poor = 0  # sum(recent_cal)
        self.last_outcome: str | None = None  # pass | mixed | fail
        self.transitions: list[Transition] = []
        self.fallback_sessions: set[str] = set()
        self.scored = 0
        self.failed_at: int | None = None  # index of the score that failed calibration

    def copy(self) -> LifecycleTracker:
        """An independent tracker in the same state (fed on, it changes nothing of this one)."""
        new = LifecycleTracker.__new__(LifecycleTracker)
        for slot in LifecycleTracker.__slots__:
            value = getattr(self, slot)
            setattr(new, slot, value.copy() if isinstance(value, (list, set, deque)) else value)
        return new

    # ------------------------------------------------------------------ feeding

    def add(
        self, score: Score | None, *, session: str | None = None, uses: int | None = None
    ) -> Transition | None:
        """Feed the next score; returns the transition it caused, if any (``uses``: the
        completed runs at that moment, for the Trust check of the returned transition)."""
        if score is None:
            return None
        return self._step(score, session, uses, self.phase(uses if uses is not None else self.scored))[0]

    def _step(
        self, score: Score, session: str | None, uses: int | None, before: Phase
    ) -> tuple[Transition | None, Phase]:
        """:meth:`add` of a known score, the phase before it given; returns the transition
        and the phase after it (``walk`` carries it over as the next score's phase before:
        nothing changes in between)."""
        index = self.scored
        self.scored += 1
        if score is Score.GOOD:
            self.good += 1
        elif score is Score.ACCEPTABLE:
            self.acceptable += 1
        else:
            self.poor += 1
        is_poor = score is Score.POOR
        reason = ""
        if self._stage == "design":  # the revised ensemble's first calibration score
            self._reset_calibration()
            self.recent.clear()
            self.recent_ok = 0
            self._stage = "calibrate"
        recent = self.recent
        if len(recent) == recent.maxlen:
            self.recent_ok -= recent[0]  # the oldest leaves the window
        recent.append(not is_poor)
        self.recent_ok += not is_poor
        if self._stage == "calibrate":
            reason = self._calibrate(is_poor, session, index)
        else:
            self.since_scored += 1
            self.since_ok += 0 if is_poor else 1
            recent_cal = self.recent_cal
            if len(recent_cal) == recent_cal.maxlen:
                self.recent_cal_poor -= recent_cal[0]
            recent_cal.append(is_poor)
            self.recent_cal_poor += is_poor
            if self.recent_cal_poor >= self.t.calibration_fail_poor:
                self._stage = "calibrate"
                self._reset_calibration()
                reason = (
                    f"{self.t.calibration_fail_poor} poor in the last {self.t.calibration_period} "
                    "evaluations — back to Calibrate: every use is evaluated again"
                )
        after = self.phase(uses if uses is not None else self.scored)
        if after is before:
            return None, after
        if not reason:
            reason = self._why(before, after)
        tr = Transition(index, before, after, reason)
        self.transitions.append(tr)
        return tr, after

    def _calibrate(self, is_poor: bool, session: str | None, index: int) -> str:
        t = self.t
        self.window.append(Score.POOR if is_poor else Score.GOOD)
        if is_poor:
            self.cal_poor += 1
            self.fallback_sessions.add(session or "")
        if self.cal_poor >= t.calibration_fail_poor:
            poor = self.cal_poor
            self.windows += 1
            self.last_outcome = "fail"
            self._stage = "design"
            self.failed_at = index
            self._reset_calibration()
            return f"failed calibration ({poor} poor) — returning to Design for revision"
        if len(self.window) >= t.calibration_period:
            self.windows += 1
            window_poor = sum(1 for s in self.window if s is Score.POOR)
            self.window = []
            if window_poor == 0:
                self.last_outcome = "pass"
                self._stage = "passed"
                self.since_scored = self.since_ok = 0
                self.recent_cal.clear()
                self.recent_cal_poor = 0
                self.fallback_sessions.clear()
                return "calibration passed (0 poor) — quality confirmed"
            self.last_outcome = "mixed"
            self.mixed = True
        return ""

    def _reset_calibration(self) -> None:
        self.window = []
        self.cal_poor = 0
        self.mixed = False
        self.fallback_sessions = set()

    @staticmethod
    def _why(before: Phase, after: Phase) -> str:
        if after is Phase.TRUST and before is Phase.PROMOTE:
            return "good evaluations no longer reach the promotion bar"
        if after in (Phase.TRUST, Phase.PROMOTE):
            return "proven quality — routine evaluation skipped"
        if after is Phase.ESTABLISH and before in (Phase.TRUST, Phase.PROMOTE):
            return "the recent acceptable-or-good share fell — back to Establish (sampled evaluation)"
        return f"{before.value} → {after.value}"

    # ------------------------------------------------------------------ reading

    @property
    def failed(self) -> bool:
        """Back in Design after a failed calibration, awaiting a revision."""
        return self._stage == "design"

    @property
    def calibrating(self) -> bool:
        return self._stage == "calibrate"

    @property
    def passed(self) -> bool:
        return self._stage == "passed"

    def remaining(self) -> int:
        """Evaluated uses still needed to finish the current calibration window."""
        return max(0, self.t.calibration_period - len(self.window)) if self.calibrating else 0

    def trusted(self, uses: int) -> bool:
        t = self.t
        if self._stage != "passed" or uses <= t.trusted_threshold_uses:
            return False
        scored, n = self.scored, len(self.recent)
        ratio_all = (self.good + self.acceptable) / scored if scored else 0.0
        ratio_recent = self.recent_ok / n if n else 1.0
        bar = t.trusted_threshold_good_ratio
        return ratio_all > bar and ratio_recent > bar

    def phase(self, uses: int) -> Phase:
        if self._stage == "design":
            return Phase.DESIGN
        if self._stage == "calibrate":
            return Phase.CALIBRATE
        if self.trusted(uses):
            return Phase.PROMOTE if self.good >= self.t.promotion_global_good else Phase.TRUST
        return Phase.ESTABLISH

    def fallback_for(self, session_key: str | None) -> bool:
        """In-session fallback: a poor calibration score in this session."""
        return self.calibrating and (session_key or "") in self.fallback_sessions


def walk(scores: Iterable[Any], thresholds: RoutingThresholds) -> LifecycleTracker:
    """A tracker fed with ``scores`` (strings or :class:`Score`; unknown ones ignored)."""
    tracker = LifecycleTracker(thresholds)
    step = tracker._step
    phase = tracker.phase(0)  # ``add``'s phase before the first score (none scored)
    for s in scores:
        score = s if s.__class__ is Score else as_score(s)
        if score is not None:  # (``add`` ignores it)
            phase = step(score, None, None, phase)[1]
    return tracker
