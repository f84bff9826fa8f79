"""The fast (msgspec) views of the JSONL files, in one place.

Each struct decodes a subset of one file's lines without pydantic, for the readers that scan
whole logs (aggregate, review, history, savings trace, training export). The pydantic models in
:mod:`conductor_tui.core.records` are the schema: every field a struct decodes is a declared
field of its model (``tests/core/test_schemas.py`` checks it), so a struct cannot read a name
the writer does not write.

=====================  ==========================  ===========================
struct                 file                        model
=====================  ==========================  ===========================
``HistoryLine``        ``routing-log.jsonl``       ``RoutingDecision``
``ReviewLine``         ``routing-log.jsonl``       ``RoutingDecision``
``AggregateRoute``     ``routing-log.jsonl``       ``RoutingDecision``
``TraceRoute``         ``routing-log.jsonl``       ``RoutingDecision``
``AggregateEval``      ``evaluations.jsonl``       ``Evaluation``
``TraceEval``          ``evaluations.jsonl``       ``Evaluation``
``IdOnly``             either                      either
=====================  ==========================  ===========================
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from conductor_tui.core.enums import MAX_TOKENS


class HistoryLine(msgspec.Struct, gc=False):
    """The routing-log fields the loop needs (decoded without pydantic)."""

    id: Any = None
    timestamp: Any = None
    event: Any = None
    task_type: Any = None
    routed_to: Any = None
    ensemble: Any = None
    status: Any = None
    session: Any = None
    plan_id: Any = None
    row_id: Any = None
    delegability_category: Any = None
    preparation_tokens_local: Any = None
    claude_tokens: Any = None
    to: Any = None
    ensemble_digest: Any = None
    sampled_for_evaluation: Any = None


class ReviewLine(msgspec.Struct, gc=False):
    """The few routing-log fields the review screens need (decoded without pydantic)."""

    id: str | None = None
    timestamp: Any = None
    event: str | None = None
    routing_id: Any = None
    task_type: str | None = None
    routed_to: str | None = None
    ensemble: str | None = None
    status: str | None = None
    delegability_category: Any = None
    preparation_tokens_local: Any = None
    invocation_number: Any = None
    sampled_for_evaluation: Any = None


class TraceRoute(msgspec.Struct, gc=False):
    timestamp: Any = None
    event: Any = None
    task_type: Any = None
    delegability_category: Any = None
    routed_to: Any = None
    reason: Any = None
    ensemble: Any = None
    status: Any = None
    total_tokens_local: Any = None
    estimated_claude_tokens: Any = None
    tokens_saved: Any = None
    claude_tokens: Any = None
    preparation_tokens_local: Any = None
    judgment_tokens_claude: Any = None
    estimated_full_claude_tokens: Any = None
    preparation_savings: Any = None
    propose_judge: Any = None


class TraceEval(msgspec.Struct, gc=False):
    judge_tokens: Any = None
    ensemble: Any = None
    task_type: Any = None


class IdOnly(msgspec.Struct, gc=False):
    id: Any = None


# The same bounds as the records (core.records.TokenCount): a value outside them fails the
# fast path, the tolerant path rejects it too, and the line is skipped and counted.
_Tok = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
_SignedTok = Annotated[int, msgspec.Meta(ge=-MAX_TOKENS, le=MAX_TOKENS)]


class ProposeJudgeBlock(msgspec.Struct, gc=False):
    """The ``propose_judge`` block of a propose–judge run's routing decision."""

    claude_judge_tokens: _Tok | None = None


class AggregateRoute(msgspec.Struct, gc=False):
    timestamp: str | None = None
    event: str | None = None
    task_type: str | None = None
    delegability_category: str | None = None
    routed_to: str | None = None
    reason: str | None = None
    ensemble: str | None = None
    standing_auth: bool | None = None
    total_tokens_local: _Tok | None = None
    estimated_claude_tokens: _Tok | None = None
    tokens_saved: _SignedTok | None = None
    claude_tokens: _Tok | None = None
    preparation_tokens_local: _Tok | None = None
    judgment_tokens_claude: _Tok | None = None
    estimated_full_claude_tokens: _Tok | None = None
    preparation_savings: _SignedTok | None = None
    propose_judge: ProposeJudgeBlock | None = None
    status: str | None = None  # a local run that did not complete is a failed decision


class AggregateEval(msgspec.Struct, gc=False):
    routing_id: str | None = None
    invocation_number: int | None = None
    ensemble: str | None = None
    task_type: str | None = None
    score: str | None = None
    failure_mode: str | None = None
    judge_tokens: _Tok | None = None
