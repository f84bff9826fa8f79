"""The saving as a range: the ratio band of a task type and the per-type accumulators the
report's single pass keeps so that the range needs no second pass over the logs.

The rule (see the glossary: token savings): per task type the band is the spread of the
project's own Claude-task records. With ``m`` the mean local tokens per local run and
``c_i`` each Claude-handled task's tokens, the ratios ``m / c_i`` run from ``m / max(c)``
to ``m / min(c)``; with too few records on either side the default ratio applies with a
stated band of ± ``ratio_band_default``. A local run saves between ``tokens / high`` and
``tokens / low``; a logged saving outside that band widens it to include the logged
value; a run that did not complete, logged a zero saving or logged no local tokens stays
at its value.

:class:`RangeAcc` holds what one task type contributes, in integers (so it adds up across
the pieces of a parallel scan and survives the offset cache); :func:`range_of` turns it
into ``(low, high)`` once the band is known. :mod:`~conductor_tui.core.savings_trace`
computes the same range line by line (the reference the tests compare with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.aggregate_rows import _PAIR_MASK, _PAIR_SHIFT
from conductor_tui.core.records import RoutingThresholds


@dataclass(frozen=True)
class RatioBand:
    ratio: float
    low: float
    high: float
    source: str  # refined | default
    claude_samples: int
    local_samples: int

    def describe(self) -> str:
        if self.source == "refined":
            return (
                f"ratio {self.ratio:.3g} (band {self.low:.3g}–{self.high:.3g} from {self.claude_samples} "
                f"Claude-task records)"
            )
        return (
            f"default ratio {self.ratio:.3g} (stated band {self.low:.3g}–{self.high:.3g}: "
            f"only {self.claude_samples} Claude-task record(s))"
        )


def default_band(thresholds: RoutingThresholds, claude_samples: int = 0, local_samples: int = 0) -> RatioBand:
    r = thresholds.local_to_claude_token_ratio
    w = max(0.0, float(thresholds.ratio_band_default))
    return RatioBand(r, r * (1 - w), r * (1 + w), "default", claude_samples, local_samples)


def ratio_band(
    local_sum: int,
    local_n: int,
    claude_sum: int,
    claude_n: int,
    claude_min: int,
    claude_max: int,
    thresholds: RoutingThresholds,
) -> RatioBand:
    """The band of one task type from its sums and the extreme positive Claude-task sizes."""
    point = rules.refine_ratio(local_sum, local_n, claude_sum, claude_n, thresholds)
    if point.source == "refined" and claude_max > 0:
        mean_local = local_sum / local_n
        low = mean_local / claude_max
        high = mean_local / claude_min if claude_min > 0 else low
        return RatioBand(point.ratio, low, high, "refined", claude_n, local_n)
    w = max(0.0, float(thresholds.ratio_band_default))
    return RatioBand(point.ratio, point.ratio * (1 - w), point.ratio * (1 + w), "default", claude_n, local_n)


@dataclass
class RangeAcc:
    """One task type's part in the range (local decisions only; prepared Claude is fixed).

    ``fixed`` — logged savings that stay at their value; ``fixed_unest`` — local tokens of
    runs that did not complete and logged no saving (their ratio estimate stays fixed);
    ``unest`` — local tokens of completed runs with no logged saving (banded);
    ``pairs`` — pair key (``saving * 2**40 + tokens``, see :func:`pair_of`) → runs, for
    completed runs that logged both (each is banded against its own tokens)."""

    fixed: int = 0
    fixed_unest: int = 0
    unest: int = 0
    pairs: dict[int, int] | None = None

    def add(self, other: RangeAcc) -> None:
        self.fixed += other.fixed
        self.fixed_unest += other.fixed_unest
        self.unest += other.unest
        if other.pairs:
            self.add_pairs(other.pairs)

    def add_pairs(self, pairs: dict[int, int]) -> None:
        mine = self.pairs
        if mine is None:
            mine = self.pairs = {}
        for k, n in pairs.items():
            mine[k] = mine.get(k, 0) + n

    def to_state(self) -> list[Any]:
        return [self.fixed, self.fixed_unest, self.unest, self.pairs or {}]

    @classmethod
    def from_state(cls, data: list[Any]) -> RangeAcc:
        """The accumulator over ``data`` (from :meth:`to_state`; its pair table is used as
        it is, not copied: integers throughout, as the aggregator and its cache keep it)."""
        return cls(int(data[0]), int(data[1]), int(data[2]), data[3] or None)


def range_of(acc: RangeAcc, band: RatioBand) -> tuple[float, float]:
    """``(low, high)`` of a task type's local saving (unrounded)."""
    r = band.ratio
    inv_r = 1.0 / r if r > 0 else 0.0
    lo = hi = float(acc.fixed) + acc.fixed_unest * inv_r
    if acc.unest:
        inv_hi = 1.0 / band.high if band.high > 0 else inv_r
        inv_lo = 1.0 / band.low if band.low > 0 else inv_r
        lo += acc.unest * min(inv_r, inv_hi)
        hi += acc.unest * max(inv_r, inv_lo)
    if acc.pairs:
        p_lo, p_hi = _pairs_range(acc.pairs, band.low, band.high)
        lo += p_lo
        hi += p_hi
    return lo, hi


def pair_of(key: int) -> tuple[int, int]:
    """``(saving, tokens)`` of a pair key ``saving * 2**40 + tokens`` (``0 <= tokens <=
    MAX_TOKENS < 2**40``; the saving may be negative)."""
    return key >> _PAIR_SHIFT, key & _PAIR_MASK


def _pairs_range(pairs: dict[int, int], low: float, high: float) -> tuple[float, float]:
    """Σ runs × min/max(saving, tokens / band edge) over logged (saving, tokens) pairs."""
    lo = hi = 0.0
    shift, mask = _PAIR_SHIFT, _PAIR_MASK
    if high > 0 and low > 0:
        for k, n in pairs.items():
            s = k >> shift
            t = k & mask
            a = t / high
            b = t / low
            lo += n * (s if s < a else a)
            hi += n * (s if s > b else b)
        return lo, hi
    for k, n in pairs.items():
        s, t = k >> shift, k & mask
        lo += n * min(s, t / high) if high > 0 else n * s
        hi += n * max(s, t / low) if low > 0 else n * s
    return lo, hi
