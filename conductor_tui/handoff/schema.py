"""The handoff's file schema: paths under ``.llm-orc/conductor/``, the request and result
records, the errors every handoff call raises, and the validation of waits (no Textual).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pydantic import Field

from conductor_tui.core.records import Record, Timestamp, new_id, now_utc

CONDUCTOR_DIR = "conductor"
REQUESTS_LOG = "requests.jsonl"
RESULTS_LOG = "results.jsonl"
COCKPIT_FILE = "cockpit.json"
PLANS_LOCK = "plans"  # ProjectStore.lock name for every plan read-modify-append
HEARTBEAT_STALE_AFTER = 6.0  # seconds without a heartbeat → the cockpit is gone

FINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "refused"})


class HandoffError(Exception):
    """A handoff operation that cannot proceed; ``code`` is the CLI exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CockpitGone(HandoffError):
    """The cockpit that claimed a request stopped (no heartbeat) before finishing it."""

    def __init__(self, message: str, state: Any = None) -> None:
        super().__init__(message, code=5)
        self.state = state


def check_timeout(value: float | None, name: str = "timeout") -> float | None:
    """``value`` when it is ``None`` or a finite number ≥ 0; else :class:`HandoffError`
    (code 2) — ``nan`` would wait forever, a negative or infinite one is a mistake."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise HandoffError(f"{name} must be a finite number of seconds ≥ 0, not {value!r}", code=2)
    return float(value)


class HandoffTimeout(HandoffError):
    """Waiting ran out of time; ``state`` is what was known at that moment."""

    def __init__(self, message: str, state: Any = None) -> None:
        super().__init__(message, code=3)
        self.state = state


# --------------------------------------------------------------------------- records


class RunRequest(Record):
    """One line of ``conductor/requests.jsonl``."""

    id: str = Field(default_factory=lambda: new_id("req-"))
    timestamp: Timestamp = Field(default_factory=now_utc)
    ensemble: str = ""
    input: str = ""
    session: str | None = None
    task_type: str | None = None
    plan_id: str | None = None
    row_id: str | None = None
    requested_by: str = "session"


class RunEvent(Record):
    """One line of ``conductor/results.jsonl``."""

    request_id: str
    timestamp: Timestamp = Field(default_factory=now_utc)
    status: str  # claimed | running | completed | failed | cancelled
    by: str | None = None  # cockpit | headless
    output: str | None = None
    error: str | None = None
    total_tokens: int | None = None
    routing_id: str | None = None
    artifact: str | None = None
    duration_ms: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


# --------------------------------------------------------------------------- paths


def conductor_dir(project: str | os.PathLike[str]) -> Path:
    return Path(project) / ".llm-orc" / CONDUCTOR_DIR


def requests_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / REQUESTS_LOG


def results_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / RESULTS_LOG


def cockpit_path(project: str | os.PathLike[str]) -> Path:
    return conductor_dir(project) / COCKPIT_FILE


def new_session_id() -> str:
    return new_id("s-")


def session_from_env() -> str | None:
    """The session id a coding session set for itself (``CONDUCTOR_SESSION``)."""
    return os.environ.get("CONDUCTOR_SESSION") or None
