"""Promotion gates and the LoRA-candidate flag, from an ensemble's evaluation scores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.records import (
    FailureMode,
    Phase,
    RoutingThresholds,
    Score,
)
from conductor_tui.core.rules.scores import ScoreCounts, _n, count_scores
from conductor_tui.core.vocab import (
    as_failure_mode,
    as_score,
)


@dataclass(frozen=True)
class PromotionReadiness:
    """The promotion gates: ``promotion_global_good``+ good → global; ``promotion_library_good``+
    good plus a generality assessment → library. ``next_step`` says what is still needed
    ("1 more good for global promotion")."""

    good: int
    global_ready: bool
    library_ready: bool
    next_step: str

    @property
    def level(self) -> str:
        """``"library"``, ``"global"`` or ``"none"``."""
        return "library" if self.library_ready else "global" if self.global_ready else "none"


def promotion_readiness(
    scores: Iterable[Any] | ScoreCounts,
    thresholds: RoutingThresholds,
    *,
    generality_assessed: bool = False,
    phase: Phase | None = None,
) -> PromotionReadiness:
    """Promotion readiness from an ensemble's evaluation scores (or their counts). With
    ``phase`` the lifecycle gate applies too: only a trusted ensemble (Trust / Promote) is
    a promotion candidate — never one still calibrating or back in Design."""
    counts = scores if isinstance(scores, ScoreCounts) else count_scores(scores)
    good = counts.good
    g, lib = thresholds.promotion_global_good, thresholds.promotion_library_good
    gated = phase is not None and phase not in (Phase.TRUST, Phase.PROMOTE)
    global_ready = good >= g and not gated
    library_good = good >= lib
    library_ready = library_good and generality_assessed and not gated
    if gated and good >= g:
        label = "a failed calibration must be revised" if phase is Phase.DESIGN else "reach Trust"
        next_step = f"{label} before promotion ({good} good)"
    elif not global_ready:
        next_step = f"{_n(g - good, 'more good')} for global promotion"
    elif not library_good:
        next_step = f"{_n(lib - good, 'more good')} for library contribution"
    elif not generality_assessed:
        next_step = "generality assessment for library contribution"
    else:
        next_step = "ready for library contribution"
    return PromotionReadiness(good, global_ready, library_ready, next_step)


# --------------------------------------------------------------------------- LoRA


@dataclass(frozen=True)
class LoraCandidate:
    """3+ poor evaluations with one dominant failure mode → LoRA fine-tuning candidate."""

    flag: bool
    poor: int
    dominant_failure_mode: FailureMode | str | None
    dominant_count: int


def lora_candidate(evaluations: Iterable[tuple[Any, Any]], thresholds: RoutingThresholds) -> LoraCandidate:
    """From ``(score, failure_mode)`` pairs. The dominant mode is the most common failure
    mode among the poor evaluations, provided it covers at least ``lora_dominant_share``
    (0.66: 2 of 3, 4 of 6) of them and is not tied — a spread means no single consistent
    mode. Flagged when poor ≥ ``lora_poor_threshold`` and a dominant mode exists."""
    modes: list[Any] = []
    for score, mode in evaluations:
        if score is Score.POOR or (score.__class__ is not Score and as_score(score) is Score.POOR):
            modes.append(as_failure_mode(mode))
    poor = len(modes)
    known = Counter(m for m in modes if m is not None)
    top = known.most_common(2)
    dominant, count = top[0] if top else (None, 0)
    tie = len(top) > 1 and top[1][1] == count
    if dominant is not None and (tie or count < thresholds.lora_dominant_share * poor):
        dominant, count = None, 0
    flag = poor >= thresholds.lora_poor_threshold and dominant is not None
    return LoraCandidate(flag, poor, dominant, count)
