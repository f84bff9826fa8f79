"""Scores, phases, delegability and failure modes as found in files ("Good", "calibration" …)
normalised to their enum members. The lowest rung of the rules: ``core.lifecycle`` and
``core.rules`` both use it.
"""

from __future__ import annotations

from typing import Any

from conductor_tui.core.enums import Delegability, FailureMode, Phase, Score, enum_normaliser

_score_v = enum_normaliser(Score)
_phase_v = enum_normaliser(Phase)
_deleg_v = enum_normaliser(Delegability)
_fm_v = enum_normaliser(FailureMode)


def as_score(value: Any) -> Score | None:
    """``"Good"`` → ``Score.GOOD``; anything unrecognised → ``None``."""
    v = _score_v(value)
    return v if isinstance(v, Score) else None


def as_phase(value: Any) -> Phase | None:
    """``"calibration"`` → ``Phase.CALIBRATE``; unrecognised → ``None``."""
    v = _phase_v(value)
    return v if isinstance(v, Phase) else None


def as_delegability(value: Any) -> Delegability | None:
    """``"agent delegable"`` → ``Delegability.AGENT``; unrecognised → ``None``."""
    v = _deleg_v(value)
    return v if isinstance(v, Delegability) else None


def as_failure_mode(value: Any) -> FailureMode | str | None:
    """A failure mode member, the original text when it is non-standard, or ``None``."""
    v = _fm_v(value)
    return v if v is None or isinstance(v, FailureMode) else str(v)
