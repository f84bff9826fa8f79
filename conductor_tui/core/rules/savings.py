"""Token savings: the local → Claude token ratio (default or refined from the logs), the
Claude-token estimate, ensemble-prepared Claude and interim Claude."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from conductor_tui.core.records import (
    Delegability,
    RoutingDecision,
    RoutingThresholds,
)
from conductor_tui.core.vocab import (
    as_delegability,
)


@dataclass(frozen=True)
class TokenRatio:
    """Local tokens per Claude token for a task type. ``source`` is ``"default"`` (the
    config's ``local_to_claude_token_ratio``) or ``"refined"`` (from the logs)."""

    ratio: float
    source: str
    local_samples: int = 0
    claude_samples: int = 0


def default_ratio(thresholds: RoutingThresholds) -> TokenRatio:
    return TokenRatio(thresholds.local_to_claude_token_ratio, "default")


def refine_ratio(
    local_tokens_sum: int,
    local_samples: int,
    claude_tokens_sum: int,
    claude_samples: int,
    thresholds: RoutingThresholds,
) -> TokenRatio:
    """Refine the local/Claude token ratio for one task type (Token Savings Quantification).

    When the logs hold at least ``ratio_min_samples`` local decisions with
    ``total_tokens_local`` AND as many Claude-handled decisions with ``claude_tokens`` for
    the same task type, the ratio is the mean local tokens per local decision divided by
    the mean Claude tokens per Claude decision. Otherwise (or if a mean is 0) the
    default ratio applies."""
    n = thresholds.ratio_min_samples
    if local_samples >= n and claude_samples >= n and local_tokens_sum > 0 and claude_tokens_sum > 0:
        ratio = (local_tokens_sum / local_samples) / (claude_tokens_sum / claude_samples)
        return TokenRatio(ratio, "refined", local_samples, claude_samples)
    return TokenRatio(thresholds.local_to_claude_token_ratio, "default", local_samples, claude_samples)


def ratios_by_task_type(
    decisions: Iterable[RoutingDecision], thresholds: RoutingThresholds
) -> dict[str, TokenRatio]:
    """:func:`refine_ratio` for every task type in ``decisions``."""
    acc: dict[str, list[int]] = {}
    for d in decisions:
        if not d.is_decision or not d.task_type:
            continue
        a = acc.setdefault(d.task_type, [0, 0, 0, 0])
        if d.is_local and d.total_tokens_local is not None:
            a[0] += d.total_tokens_local
            a[1] += 1
        elif not d.is_local and d.claude_tokens is not None and not d.is_prepared_claude:
            a[2] += d.claude_tokens
            a[3] += 1
    return {k: refine_ratio(a[0], a[1], a[2], a[3], thresholds) for k, a in acc.items()}


def ratio_value(ratio: TokenRatio | float | RoutingThresholds) -> float:
    """The local → Claude token ratio as a number, from a :class:`TokenRatio`, the routing
    thresholds (their ``local_to_claude_token_ratio``) or a number."""
    if isinstance(ratio, RoutingThresholds):
        return ratio.local_to_claude_token_ratio
    if isinstance(ratio, TokenRatio):
        return ratio.ratio
    return float(ratio)


def estimate_claude_tokens(local_tokens: int, ratio: TokenRatio | float | RoutingThresholds) -> int:
    """``estimated_claude_tokens = total_tokens_local / ratio`` (rounded)."""
    r = ratio_value(ratio)
    return round(local_tokens / r) if r > 0 else 0


def estimate_local_tokens(claude_tokens: int, ratio: TokenRatio | float | RoutingThresholds) -> int:
    """The other way round: local tokens for work Claude would do in ``claude_tokens`` (× ratio)."""
    return round(claude_tokens * ratio_value(ratio))


class TokenSavingsFields(TypedDict):
    """:meth:`TokenSavings.fields`: keyword arguments of a routing-log record."""

    total_tokens_local: int
    estimated_claude_tokens: int
    tokens_saved: int


class PreparationSavingsFields(TypedDict):
    """:meth:`PreparationSavings.fields`: keyword arguments of a routing-log record."""

    preparation_tokens_local: int
    judgment_tokens_claude: int
    estimated_full_claude_tokens: int
    preparation_savings: int


@dataclass(frozen=True)
class TokenSavings:
    """The token-savings fields of a local routing decision."""

    total_tokens_local: int
    estimated_claude_tokens: int
    tokens_saved: int

    def line(self) -> str:
        return (
            f"Local: {self.total_tokens_local:,} tokens | "
            f"Estimated Claude equivalent: ~{self.estimated_claude_tokens:,} tokens"
        )

    def fields(self) -> TokenSavingsFields:
        return {
            "total_tokens_local": self.total_tokens_local,
            "estimated_claude_tokens": self.estimated_claude_tokens,
            "tokens_saved": self.tokens_saved,
        }


def token_savings(local_tokens: int, ratio: TokenRatio | float | RoutingThresholds) -> TokenSavings:
    """Savings of a local invocation: the estimated Claude tokens NOT consumed."""
    est = estimate_claude_tokens(local_tokens, ratio)
    return TokenSavings(local_tokens, est, est)


@dataclass(frozen=True)
class PreparationSavings:
    """Ensemble-prepared Claude accounting."""

    preparation_tokens_local: int
    judgment_tokens_claude: int
    estimated_full_claude_tokens: int
    preparation_savings: int
    reduction_pct: float

    def fields(self) -> PreparationSavingsFields:
        return {
            "preparation_tokens_local": self.preparation_tokens_local,
            "judgment_tokens_claude": self.judgment_tokens_claude,
            "estimated_full_claude_tokens": self.estimated_full_claude_tokens,
            "preparation_savings": self.preparation_savings,
        }


def preparation_savings(
    preparation_tokens_local: int, judgment_tokens_claude: int, estimated_full_claude_tokens: int
) -> PreparationSavings:
    """``preparation_savings`` = estimated full Claude tokens − judgment tokens (the delta);
    ``reduction_pct`` = that delta as a share of the full estimate."""
    delta = estimated_full_claude_tokens - judgment_tokens_claude
    pct = 100.0 * delta / estimated_full_claude_tokens if estimated_full_claude_tokens > 0 else 0.0
    return PreparationSavings(
        preparation_tokens_local, judgment_tokens_claude, estimated_full_claude_tokens, delta, pct
    )


def should_prepare(
    estimated_preparation_tokens: int,
    *,
    ensemble_exists: bool,
    expected_uses: int,
    thresholds: RoutingThresholds,
    separable: bool = True,
) -> bool:
    """Use ensemble-prepared Claude only when there is a separable preparation
    phase of at least ``preparation_min_tokens``, and either a matching ensemble exists or
    the preparation pattern reaches the repetition threshold."""
    if not separable or estimated_preparation_tokens < thresholds.preparation_min_tokens:
        return False
    return ensemble_exists or expected_uses >= thresholds.repetition_threshold


def is_interim_claude(decision: RoutingDecision) -> bool:
    """Delegable work that Claude did (technical debt): a routing decision to Claude whose
    category is agent- or ensemble-delegable (not ensemble-prepared Claude)."""
    if not decision.is_decision or decision.is_local or decision.is_prepared_claude:
        return False
    return as_delegability(decision.delegability_category) in (Delegability.AGENT, Delegability.ENSEMBLE)
