"""Claude's results: token usage, the judge's verdict, and the one error every Claude call
raises (no Textual)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core.records import FailureMode, Score


@dataclass
class Usage:
    """Tokens Claude billed for one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.calls + other.calls,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "total_tokens": self.total,
            "calls": self.calls,
        }

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        if usage is None:
            return cls()
        return cls(
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cache_creation_input_tokens=int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
            cache_read_input_tokens=int(getattr(usage, "cache_read_input_tokens", 0) or 0),
            calls=1,
        )


class ClaudeError(Exception):
    """A Claude call that did not produce its result.

    ``kind``: unavailable | auth | rate-limit | overloaded | server | bad-request |
    stream | cut | timeout | connection | bad-output.  ``partial`` is whatever text (the
    judge's reflection, or the raw tool JSON) arrived before the failure; ``usage`` the
    tokens known so far.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        partial: str = "",
        usage: Usage | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.partial = partial
        self.usage = usage or Usage()
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass
class JudgeVerdict:
    """The judge's evaluation: reflection first, then the score (see the glossary: evaluation)."""

    reflection: str
    score: Score
    failure_mode: FailureMode | None
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reflection": self.reflection,
            "score": self.score.value,
            "failure_mode": self.failure_mode.value if self.failure_mode else None,
            "usage": self.usage.to_dict(),
            "model": self.model,
        }


def merge_delta_usage(usage: Usage, delta_usage: Any) -> Usage:
    """``message_delta`` usage is cumulative: overwrite what it states."""
    if delta_usage is None:
        return usage
    out = Usage(
        **{
            k: getattr(usage, k)
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "calls",
            )
        }
    )
    for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        value = getattr(delta_usage, name, None)
        if value is not None:
            setattr(out, name, int(value))
    return out


def short_message(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"
