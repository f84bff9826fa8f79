"""The routing-log and evaluation records as the report folds them: the decoders, the
layout of a group's counters, the tolerant (pydantic) path for lines the fast decoder
rejects, and the per-bucket totals (see :mod:`~conductor_tui.core.aggregate`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import msgspec

from conductor_tui.core.enums import RunStatus
from conductor_tui.core.interning import InterningDecoder
from conductor_tui.core.schemas import AggregateEval as _Eval
from conductor_tui.core.schemas import AggregateRoute as _Route
from conductor_tui.core.schemas import ProposeJudgeBlock as _PJ

if TYPE_CHECKING:
    from conductor_tui.core.records import Evaluation, RoutingDecision

_BOM = b"\xef\xbb\xbf"
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _real_day(day: str) -> bool:
    """``2025-02-30`` matches the pattern but is no day (once per distinct day: cached)."""
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


CLAUDE_OVERHEAD_EVENT = "claude-overhead"  # see handoff.record_claude_overhead

_ROUTE_DEC = msgspec.json.Decoder(_Route)
# the routing fields of the report's group key: a few values each, interned while decoding
_ROUTE_INTERNED = ("event", "task_type", "delegability_category", "routed_to", "reason", "ensemble", "status")


def route_decoder() -> InterningDecoder:
    """A decoder of routing lines for one reader (it learns the log's values as it goes)."""
    return InterningDecoder(_Route, _ROUTE_INTERNED)


_EVAL_DEC = msgspec.json.Decoder(_Eval)

# group counters (index → meaning)
_N = 0  # records
_LOCAL_TOK = 1  # sum total_tokens_local
_LOCAL_TOK_N = 2  # records with total_tokens_local
_SAVED = 3  # logged tokens_saved / estimated_claude_tokens
_UNESTIMATED = 4  # local tokens with no logged estimate (÷ ratio at snapshot)
_CLAUDE_TOK = 5  # sum claude_tokens
_CLAUDE_TOK_N = 6
_PREP_LOCAL = 7
_PREP_SAVED = 8
_PREP_N = 9
_STANDING = 10
_PJ_CLAUDE = 11  # Claude-judge tokens of propose–judge runs (overhead)
_PLAIN_CLAUDE_TOK = 12  # claude_tokens of Claude decisions without preparation (for the ratio)
_PLAIN_CLAUDE_N = 13
_FAILED = 14  # local runs that did not complete (failed, cancelled): no success, nothing saved
# for the saving's range (core.savings_band)
_FIXED_SAVED = 15  # logged savings that are not banded (run failed, zero saving, no local tokens)
_FIXED_UNEST = 16  # local tokens of failed runs without a logged saving
_CMIN = 17  # smallest positive claude_tokens of a plain Claude decision (0 = none yet)
_CMAX = 18  # largest
_NCOUNTERS = 19
_SUMMED = range(_CMIN)
# groups[_PAIRS]: (event, task type, routed_to) → [{pair key: runs}, pending pair keys], for the
# completed runs that logged both a saving and local tokens (each is banded against its own
# tokens: core.savings_band); pair key = saving * 2**40 + tokens (0 <= tokens <= MAX_TOKENS <
# 2**40). A group's counter list ends with (index _PAIR_TABLE) the pending list of its (event,
# type, target) — a block's keys are appended there and counted into the table at the block's
# end — and (index _GROUP_DONE) whether its status counts as completed.
_PAIRS = None
_PAIR_TABLE = _NCOUNTERS
_GROUP_DONE = _NCOUNTERS + 1
_PAIR_SHIFT = 40
_PAIR_MASK = (1 << _PAIR_SHIFT) - 1
_DONE = frozenset({None, RunStatus.COMPLETED, "done", "success"})


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return str(v.value) if hasattr(v, "value") else str(v)


def _pj_from_model(d: RoutingDecision) -> _PJ | None:
    pj = d.propose_judge
    if not isinstance(pj, dict):
        return None
    tokens = pj.get("claude_judge_tokens")
    try:
        return _PJ(claude_judge_tokens=int(tokens)) if tokens is not None else None
    except (TypeError, ValueError):
        return None


def _route_from_model(d: RoutingDecision) -> _Route:
    ts = d.timestamp
    return _Route(
        timestamp=ts.isoformat() if isinstance(ts, date) else _str(ts),
        event=d.event,
        task_type=d.task_type,
        delegability_category=_str(d.delegability_category),
        routed_to=d.routed_to,
        reason=d.reason,
        ensemble=d.ensemble,
        standing_auth=bool(d.standing_auth),
        total_tokens_local=d.total_tokens_local,
        estimated_claude_tokens=d.estimated_claude_tokens,
        tokens_saved=d.tokens_saved,
        claude_tokens=d.claude_tokens,
        preparation_tokens_local=d.preparation_tokens_local,
        judgment_tokens_claude=d.judgment_tokens_claude,
        estimated_full_claude_tokens=d.estimated_full_claude_tokens,
        preparation_savings=d.preparation_savings,
        propose_judge=_pj_from_model(d),
        status=_str(d.status),
    )


def _eval_from_model(e: Evaluation) -> _Eval:
    return _Eval(
        ensemble=e.ensemble,
        task_type=e.task_type,
        score=_str(e.score),
        failure_mode=_str(e.failure_mode),
        judge_tokens=e.judge_tokens,
    )


def _tolerant(line: bytes, kind: str) -> Any | None:
    """Slow path for one line: json + pydantic. ``None`` when it is not a record."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    # pydantic loads here, for the first line that needs it: a fast scan of a clean log
    # (a forked worker of the report) never pays for it
    from pydantic import ValidationError

    from conductor_tui.core.records import Evaluation, RoutingDecision

    try:
        if kind == "routing":
            route = _route_from_model(RoutingDecision.model_validate(obj))
            if obj.get("timestamp") is None:
                route.timestamp = None  # no date written: "unknown" day, as on the fast path
            return route
        return _eval_from_model(Evaluation.model_validate(obj))
    except (ValidationError, ValueError, TypeError):
        return None


@dataclass
class _FileState:
    kind: str
    offset: int = 0
    next_line: int = 1
    ino: int | None = None
    lines: int = 0
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)


def _merge_counters(b: list[Any], a: list[Any]) -> list[Any]:
    """Two groups' counters added (minimum and maximum Claude sizes kept, pairs merged)."""
    out = [b[i] + a[i] for i in _SUMMED]
    out.append(min(x for x in (b[_CMIN], a[_CMIN]) if x) if (b[_CMIN] or a[_CMIN]) else 0)
    out.append(max(b[_CMAX], a[_CMAX]))
    return out


def _score_bucket() -> dict[str, int]:
    return {"good": 0, "acceptable": 0, "poor": 0, "unscored": 0}


def _new_bucket() -> dict[str, Any]:
    return {
        "decisions": 0,
        "local_decisions": 0,
        "failed_decisions": 0,
        "claude_decisions": 0,
        "prepared_claude_decisions": 0,
        "interim_claude": 0,
        "standing_auth": 0,
        "total_tokens_local": 0,
        "claude_tokens": 0,
        "preparation_tokens_local": 0,
        "saved_logged": 0,
        "unestimated": {},  # task type → local tokens awaiting the ratio
    }
