"""The building blocks of the conductor's records: the tolerant field types (near-miss enum
spellings, placeholders, timestamps with or without a zone, bounded token counts) and
:class:`Record`, the base every file record extends. The enums are in
:mod:`~conductor_tui.core.enums`; the records themselves are in
:mod:`~conductor_tui.core.records`, which re-exports all of this.

This module never imports Textual.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from conductor_tui.core.enums import (
    _DATE_LIKE,
    _NULLS,
    MAX_TOKENS,
    Delegability,
    EvalPhase,
    FailureMode,
    Phase,
    RowStatus,
    Score,
    _is_placeholder,
    enum_normaliser,
)


def normalise_enum(enum_cls: type[StrEnum]) -> BeforeValidator:
    """A pydantic before-validator of :func:`enum_normaliser`."""
    return BeforeValidator(enum_normaliser(enum_cls))


def parse_timestamp(value: Any) -> datetime | str | None:
    """Parse ISO-8601 with or without zone, ``Z`` suffix, or a bare date.

    Naive values are taken as UTC. Anything unparsable (e.g. the spec's literal
    ``"ISO-8601"`` placeholder) is kept as the original string.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NULLS:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _null_string(value: Any) -> Any:
    if isinstance(value, str) and (value.strip().lower() in _NULLS or _is_placeholder(value)):
        return None
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in {"true", "yes", "y", "1", "pass", "passed", "✓"}:
            return True
        if low in {"false", "no", "n", "0", "fail", "failed", "✗"}:
            return False
        if low in _NULLS:
            return None
    return value


TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
SignedTokenCount = Annotated[int, Field(ge=-MAX_TOKENS, le=MAX_TOKENS)]


def _checked_timestamp(value: Any) -> datetime | str | None:
    """:func:`parse_timestamp` for a record field: a value that looks like a date or a
    number but is not a real one (``2025-02-30``, ``1e30``) makes the record invalid;
    other text (the spec's ``"ISO-8601"`` placeholder) is kept."""
    parsed = parse_timestamp(value)
    if isinstance(parsed, str) and (isinstance(value, int | float) or _DATE_LIKE.match(parsed.strip())):
        raise ValueError(f"impossible date {value!r}")
    return parsed


Timestamp = Annotated[datetime | str | None, BeforeValidator(_checked_timestamp)]
PhaseField = Annotated[Phase | str | None, normalise_enum(Phase)]
EvalPhaseField = Annotated[EvalPhase | str | None, normalise_enum(EvalPhase)]
ScoreField = Annotated[Score | str | None, normalise_enum(Score)]
FailureModeField = Annotated[FailureMode | str | None, normalise_enum(FailureMode)]
DelegabilityField = Annotated[Delegability | str | None, normalise_enum(Delegability)]
RowStatusField = Annotated[RowStatus | str, normalise_enum(RowStatus)]
NullableStr = Annotated[str | None, BeforeValidator(_null_string)]
Flag = Annotated[bool | None, BeforeValidator(_to_bool)]


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def line_identity(prefix: str, raw: bytes | str) -> str:
    """A stable id for a log line written without one (the conductor skill's logs, hand-
    written files): ``prefix`` + 16 hex digits of the SHA-256 of the stripped line. The
    same line is the same record on every read, by every reader; nothing is invented."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return prefix + hashlib.sha256(data.strip()).hexdigest()[:16]


def as_datetime(value: datetime | str | None) -> datetime | None:
    """The value as an aware datetime, or ``None`` when it is missing or unparsable."""
    return value if isinstance(value, datetime) else None


# --------------------------------------------------------------------------- base


class Record(BaseModel):
    """Base of every file record: keeps unknown fields, accepts field names or aliases."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        validate_assignment=True,
        use_enum_values=False,
        # Build validators on first use, not at import: keeps `import conductor_tui.core`
        # cheap for the CLI and the cockpit's first paint.
        defer_build=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that keeps unknown fields; ``None`` optional fields are kept
        as ``null`` so hand-written files round-trip recognisably."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})
