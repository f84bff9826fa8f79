"""The conductor's enums and their tolerant spellings (``"Agent_Delegable "`` →
``agent-delegable``), and the bound on token counts: what the records, the vocabulary and the
fast log scans share. No pydantic, so a log scan that only needs these loads in a few
milliseconds; :mod:`~conductor_tui.core.record_types` re-exports all of it.

This module never imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

MAX_TOKENS = 10**12  # no real token count (or length) comes near a trillion

# --------------------------------------------------------------------------- enums


class Phase(StrEnum):
    """Lifecycle phase of a task type / ensemble."""

    DESIGN = "design"
    CALIBRATE = "calibrate"
    ESTABLISH = "establish"
    TRUST = "trust"
    PROMOTE = "promote"


class EvalPhase(StrEnum):
    """Phase recorded on an evaluation (``triggered`` = the user asked for it)."""

    CALIBRATE = "calibrate"
    ESTABLISH = "establish"
    TRUST = "trust"
    TRIGGERED = "triggered"


class Score(StrEnum):
    GOOD = "good"
    ACCEPTABLE = "acceptable"
    POOR = "poor"


class FailureMode(StrEnum):
    HALLUCINATION = "hallucination"
    INCOMPLETE = "incomplete"
    WRONG_FORMAT = "wrong-format"
    OFF_TOPIC = "off-topic"


class Delegability(StrEnum):
    AGENT = "agent-delegable"
    ENSEMBLE = "ensemble-delegable"
    CLAUDE = "claude-only"


class RowStatus(StrEnum):
    """Decision state of one plan row."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunStatus(StrEnum):
    """State of one ensemble run (``RunResult.status``, the routing log's ``status``).

    A ``StrEnum``: members compare equal to, and serialise as, their strings.
    """

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Spellings seen in real files → canonical value.
_ALIASES: dict[str, str] = {
    "calibration": "calibrate",
    "calibrating": "calibrate",
    "calibrated": "calibrate",
    "establishing": "establish",
    "established": "establish",
    "trusted": "trust",
    "promotion": "promote",
    "promoted": "promote",
    "designing": "design",
    "agent": "agent-delegable",
    "ensemble": "ensemble-delegable",
    "claude": "claude-only",
    "claude-direct": "claude-only",
    "wrongformat": "wrong-format",
    "offtopic": "off-topic",
    "hallucinated": "hallucination",
    "hallucinations": "hallucination",
    "ok": "acceptable",
    "bad": "poor",
    "approve": "approved",
    "reject": "rejected",
    "completed": "done",
}

_DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
_NULLS = {"", "null", "none", "n/a", "na", "~"}


def norm_token(value: str) -> str:
    """Lower-case, trim and join words with hyphens: ``"Agent_Delegable "`` → ``agent-delegable``."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def _is_placeholder(text: str) -> bool:
    # The spec's templates: "null | hallucination | incomplete", "6/8 good | null".
    return "|" in text and any(part.strip().lower() in _NULLS for part in text.split("|"))


def enum_normaliser(enum_cls: type[StrEnum]) -> Callable[[Any], Any]:
    """A function that maps near-misses onto ``enum_cls``.

    Returns the enum member when one matches, ``None`` for null-ish text, else the
    original string (kept, never rejected).
    """
    members = {m.value for m in enum_cls}

    def _validate(value: Any) -> Any:
        if value is None or isinstance(value, enum_cls):
            return value
        if not isinstance(value, str):
            return value
        key = norm_token(value)
        if key in _NULLS or _is_placeholder(value):
            return None
        key = _ALIASES.get(key, key)
        if key in members:
            return enum_cls(key)
        squashed = key.replace("-", "")
        for m in members:
            if m.replace("-", "") == squashed:
                return enum_cls(m)
        return value

    return _validate
