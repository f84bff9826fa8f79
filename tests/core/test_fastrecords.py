"""Records built by core.fastrecords equal pydantic's, value for value (types, fields set,
extras), on evaluation lines with odd spellings, placeholders, wrong types, extras, broken
JSON, id-less lines and a BOM; lines it cannot vouch for go through pydantic."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import jsonl
from conductor_tui.core.fastrecords import builder_for
from conductor_tui.core.records import Evaluation, RoutingDecision, WorkflowPlan
from conductor_tui.core.store import read_jsonl

ODD = {
    "score": ["good", "Good ", "ok", "bad", "great", "", "null", "good | null", 3, None, True],
    "phase": ["calibration", "establish", "Trusted", "weird", None, 5],
    "failure_mode": ["hallucinated", "wrong_format", "off topic", "other", None],
    "judge_score": ["acceptable", "POOR", None],
    "timestamp": ["2025-03-01T10:00:00Z", "2025-03-01 10:00:00", "2025-03-01", "2025-02-30", "ISO-8601",
                  "", 1735725600, 1e30, None, "2025-03-01T10:00:00.123456789+02:00"],
    "routing_id": ["rd-1", " rd-2 ", "links to routing-log entry", "", None, 7],
    "invocation_number": [1, 0, -1, "3", 2.0, True, 10**13, None],
    "judge_tokens": [10, None, "12", 1.5],
    "ensemble": ["extract-x", None, 42],
    "user_feedback": ["fine", "n/a", "null | text", None, 1],
    "per_model": [{"m": "correct"}, [1, 2], None, "x"],
    "review": ["pending", None],  # an extra field, kept
    "id": ["ev-1", None, "", 5],
}  # fmt: skip


def _lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rec = {k: rng.choice(v) for k, v in ODD.items() if rng.random() < 0.3}
        out.append(json.dumps(rec))
    out += ['{"score": "good"', "not json", "[1, 2]", '{"score": NaN}', '{"score": "\\ud800"}', "",
            '{"a": ' * 70 + "1" + "}" * 70]  # fmt: skip
    rng.shuffle(out)
    return out


def _same(a: Evaluation, b: Evaluation) -> bool:
    da, db = dict(a.__dict__), dict(b.__dict__)
    if "timestamp" not in a.model_fields_set:  # both got "now", a moment apart
        da.pop("timestamp")
        db.pop("timestamp")
    return (
        da == db
        and all(type(da[k]) is type(db[k]) for k in da)
        and a.model_fields_set == b.model_fields_set
        and a.__pydantic_extra__ == b.__pydantic_extra__
        and a.to_json_dict().keys() == b.to_json_dict().keys()
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_records_equal_pydantic_records(tmp_path: Path, monkeypatch, seed: int) -> None:
    path = tmp_path / "evaluations.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(_lines(seed, 1500)).encode() + b"\n")
    fast = read_jsonl(path, Evaluation)
    monkeypatch.setattr(jsonl, "_fast_record", lambda *a: None)
    slow = read_jsonl(path, Evaluation)
    assert (fast.skipped, fast.errors, fast.end_offset) == (slow.skipped, slow.errors, slow.end_offset)
    assert len(fast.skipped) >= 5 and len(fast.records) == len(slow.records) > 500
    for a, b in zip(fast.records, slow.records, strict=True):
        assert _same(a, b), (a, b)


def test_what_the_fast_path_leaves_to_pydantic() -> None:
    build = builder_for(Evaluation).build
    assert build({"score": "good", "invocation_number": "3"}) is None  # pydantic coerces "3"
    assert build({"timestamp": "2025-02-30"}) is None  # impossible date: pydantic's error
    rec = build({"score": "Good ", "note": "kept"})
    assert rec is not None and rec.score == "good" and rec.extras == {"note": "kept"}
    # models with their own validators or nested records always go through pydantic
    assert builder_for(RoutingDecision).fields is None
    assert builder_for(WorkflowPlan).fields is None


ISO_CASES = ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00.5Z", "2025-03-01T10:00Z", "20250301T100000Z",
             "2025-W09-6T10:00:00Z", "2025-03-01T10:00:00+00:00", "2025-03-01T10:00:00-05:30",
             "2025-03-01T10:00:00+0530", "2025-03-01T10:00:00.123456789+02:00", "2025-03-01 10:00:00",
             "2025-03-01", "2025-03-01Z", "2025-02-30T10:00:00Z", "2025-03-01T24:00:00Z", " 2025-03-01T10:00:00Z",
             "2025-03-01T10:00:00Z ", "2025-03-01T10:00:00z", "2025-03-01T10:00:00ZZ", "2025-03-01TZ10:00:00",
             "2025-03-01T10:00:00\u2003Z", "ISO-8601", "", "null", "N/A"]  # fmt: skip


@pytest.mark.parametrize("text", ISO_CASES)
def test_a_timestamp_parsed_at_c_level_is_what_the_validator_gives(text: str) -> None:
    """``fastrecords._iso_time``: the validator's own value, or ``None`` (it decides)."""
    from conductor_tui.core.fastrecords import _iso_time
    from conductor_tui.core.record_types import _checked_timestamp

    fast = _iso_time(text)
    if fast is None:
        return
    ref = _checked_timestamp(text)
    assert type(ref) is type(fast) and ref == fast and ref.utcoffset() == fast.utcoffset()
    assert ref.tzinfo == fast.tzinfo
    rec = builder_for(Evaluation).build({"timestamp": text, "score": "good"})
    assert rec is not None and _same(rec, Evaluation.model_validate({"timestamp": text, "score": "good"}))


def test_the_usual_spellings_take_the_c_level_parse() -> None:
    from conductor_tui.core.fastrecords import _iso_time

    for text in ("2025-03-01T10:00:00Z", "2025-03-01T10:00:00.123+00:00", "2025-03-01T10:00:00-05:30"):
        assert _iso_time(text) is not None, text
    for text in ("2025-03-01 10:00:00", " 2025-03-01T10:00:00Z", "2025-03-01T10:00:00z"):
        assert _iso_time(text) is None, text  # naive, spaced or lower-case: the validator's
