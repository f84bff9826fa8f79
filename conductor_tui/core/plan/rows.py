"""A plan row's handler (ensemble, Claude, create-ensemble) and its decision state."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from conductor_tui.core.records import (
    Delegability,
    PlanRow,
    RowStatus,
)

Clock = Callable[[], datetime]

CLAUDE = "claude"
CREATE_ENSEMBLE = "create-ensemble"
_DECIDED = {RowStatus.APPROVED, RowStatus.REJECTED, RowStatus.RUNNING, RowStatus.DONE, RowStatus.FAILED}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PlanError(ValueError):
    """A plan operation or a plan file that cannot be used; the message says why (and where)."""


# --------------------------------------------------------------------------- handlers


def handler_kind(handler: str | None) -> str:
    """``"claude"``, ``"create"`` or ``"ensemble"`` for a handler string."""
    text = (handler or "").strip().lower()
    if not text:
        return "create"
    if text.startswith("claude"):
        return "claude"
    squashed = re.sub(r"[\s_]+", "-", text).strip('"')
    if squashed in {"create-ensemble", "create", "request-new-ensemble", "new-ensemble", "design"}:
        return "create"
    return "ensemble"


def normalise_handler(handler: str) -> str:
    """``"Claude"`` → ``claude``, ``"create ensemble"`` → ``create-ensemble``, names kept."""
    kind = handler_kind(handler)
    return {"claude": CLAUDE, "create": CREATE_ENSEMBLE}.get(kind, handler.strip().strip('"'))


def effective_handler(row: PlanRow) -> str:
    """The row's handler, defaulting by category: Claude-only → claude, else create-ensemble."""
    if row.handler and row.handler.strip():
        kind = handler_kind(row.handler)
        return {"claude": CLAUDE, "create": CREATE_ENSEMBLE}.get(kind, row.handler.strip())
    if row.delegability_category == Delegability.CLAUDE:
        return CLAUDE
    return CREATE_ENSEMBLE


def handler_label(row: PlanRow) -> str:
    """The handler as the spec writes it: ensemble name, ``create ensemble`` or ``Claude``."""
    handler = effective_handler(row)
    if handler == CLAUDE:
        if row.preparation_ensemble:
            return f"Claude ← {row.preparation_ensemble}"
        return "Claude"
    if handler == CREATE_ENSEMBLE:
        return "create ensemble"
    return handler


def is_local(row: PlanRow) -> bool:
    """Work done by a local ensemble (existing or to be created)."""
    return handler_kind(effective_handler(row)) != "claude"


def is_decided(row: PlanRow) -> bool:
    return row.status in _DECIDED


# A row that ran (or is running) keeps its decision: approving, rejecting or undoing it
# would rewrite history the session and the logs already hold.
FINAL_STATUSES = frozenset({RowStatus.RUNNING, RowStatus.DONE, RowStatus.FAILED})


def is_final(row: PlanRow) -> bool:
    """True when the row ran or is running: its decision can no longer change."""
    return row.status in FINAL_STATUSES
