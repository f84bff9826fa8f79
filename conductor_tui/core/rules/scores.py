"""Evaluation scores counted: good / acceptable / poor (docs/GLOSSARY.md: evaluation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.records import (
    Score,
)
from conductor_tui.core.vocab import (
    as_score,
)


@dataclass(frozen=True)
class ScoreCounts:
    """Evaluations by score. ``evaluated`` counts only scored evaluations."""

    good: int = 0
    acceptable: int = 0
    poor: int = 0

    @property
    def evaluated(self) -> int:
        return self.good + self.acceptable + self.poor

    @property
    def acceptable_or_good(self) -> int:
        return self.good + self.acceptable

    def ratio_acceptable_or_good(self) -> float:
        """Share of acceptable-or-good among evaluated (0.0 when nothing is evaluated)."""
        return self.acceptable_or_good / self.evaluated if self.evaluated else 0.0

    def summary(self) -> str:
        """``"6/8 good"`` — the routing log's ``evaluation_summary`` form."""
        return f"{self.good}/{self.evaluated} good"


def count_scores(scores: Iterable[Any]) -> ScoreCounts:
    """Count good / acceptable / poor; unscored or unknown values are ignored."""
    c = Counter(s if s.__class__ is Score else as_score(s) for s in scores)
    return ScoreCounts(c[Score.GOOD], c[Score.ACCEPTABLE], c[Score.POOR])


def _n(n: int, what: str) -> str:
    return f"{n} {what}"
