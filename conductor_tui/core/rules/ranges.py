"""Valid ranges of the routing thresholds (what the config dialog and the store check)."""

from __future__ import annotations

from typing import Any

from conductor_tui.core.records import (
    RoutingThresholds,
)

# name → (minimum, maximum, integer?) ; None = unbounded on that side
THRESHOLD_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "calibration_period": (1, None, True),
    "sampling_rate_established": (0.0, 1.0, False),
    "trusted_threshold_uses": (0, None, True),
    "trusted_threshold_good_ratio": (0.0, 1.0, False),
    "repetition_threshold": (1, None, True),
    "calibration_fail_poor": (1, None, True),
    "promotion_global_good": (1, None, True),
    "promotion_library_good": (1, None, True),
    "lora_poor_threshold": (1, None, True),
    "lora_dominant_share": (0.0, 1.0, False),
    "complexity_min_subtasks": (1, None, True),
    "complexity_min_delegable": (0, None, True),
    "local_to_claude_token_ratio": (1e-9, None, False),
    "ratio_min_samples": (1, None, True),
    "preparation_min_tokens": (0, None, True),
    "small_model_max_b": (1e-9, None, False),
    "model_ceiling_b": (1e-9, None, False),
    "demotion_window": (1, None, True),
}


def threshold_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``name`` threshold (None when it is): a number of the
    right kind inside its range — a rate or ratio in [0, 1], a period or count ≥ 1 …"""
    rng = THRESHOLD_RANGES.get(name)
    if rng is None:
        return None
    low, high, integer = rng
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number (got {value!r})"
    if integer and (isinstance(value, float) and not value.is_integer()):
        return f"{name} must be a whole number (got {value!r})"
    if value != value:  # NaN
        return f"{name} must be a number (got NaN)"
    if low is not None and high is not None and not low <= value <= high:
        return f"{name} must be between {low:g} and {high:g} (got {value!r})"
    if low is not None and value < low:
        if low == 1e-9:
            return f"{name} must be greater than 0 (got {value!r})"
        return f"{name} must be ≥ {low:g} (got {value!r})"
    if high is not None and value > high:
        return f"{name} must be between {low:g} and {high:g} (got {value!r})"
    return None


def thresholds_problems(thresholds: RoutingThresholds) -> list[str]:
    """Every range problem of a set of thresholds, plus the ones between them."""
    out = [
        p
        for name in THRESHOLD_RANGES
        if hasattr(thresholds, name) or name in (thresholds.extras or {})
        for p in [threshold_problem(name, getattr(thresholds, name, (thresholds.extras or {}).get(name)))]
        if p
    ]
    if not out:
        if thresholds.promotion_library_good < thresholds.promotion_global_good:
            out.append(
                "promotion_library_good must be ≥ promotion_global_good (the library asks for more evidence)"
            )
        if thresholds.model_ceiling_b < thresholds.small_model_max_b:
            out.append("model_ceiling_b must be ≥ small_model_max_b")
        if thresholds.calibration_fail_poor > thresholds.calibration_period:
            out.append("calibration_fail_poor must be ≤ calibration_period (a window could never fail)")
    return out
