"""The interning decoder (:mod:`conductor_tui.core.interning`): the same records as the plain
msgspec decoder of the struct, block after block, while it learns the values, meets new ones
mid-file, gives up on a field with too many values and settles on the plain decoder when the
values keep changing; and repeated values come back as one string object."""

from __future__ import annotations

import json
import random
from typing import Any

import msgspec
import pytest

from conductor_tui.core import interning
from conductor_tui.core.aggregate_rows import _ROUTE_INTERNED, route_decoder
from conductor_tui.core.interning import InterningDecoder
from conductor_tui.core.schemas import AggregateRoute


def _block(rng: random.Random, n: int, types: list[str], ensembles: list[str]) -> bytes:
    lines = []
    for _ in range(n):
        rec: dict[str, Any] = {
            "timestamp": f"2025-01-{rng.randint(10, 28)}T00:00:00Z",
            "task_type": rng.choice(types),
            "ensemble": rng.choice(ensembles),
            "routed_to": rng.choice([None, "claude", *ensembles]),
            "status": rng.choice([None, "completed", "failed"]),
            "total_tokens_local": rng.choice([None, rng.randint(0, 5000)]),
            "propose_judge": rng.choice([None, {"claude_judge_tokens": 12}]),
            "notes": "ignored",
        }
        lines.append(json.dumps({k: v for k, v in rec.items() if v is not None or rng.random() < 0.3}))
    return ("\n".join(lines) + "\n").encode()


def _fields(recs: list[Any]) -> list[tuple]:
    return [tuple(getattr(r, f) for f in AggregateRoute.__struct_fields__) for r in recs]


def test_same_records_as_the_plain_decoder_while_values_change() -> None:
    rng = random.Random(7)
    plain = msgspec.json.Decoder(AggregateRoute)
    dec = route_decoder()
    types = ["extraction", "summarization"]
    ensembles = ["extract-x"]
    for i in range(60):
        if i % 7 == 3:  # new values appear mid-file
            types.append(f"type-{i}")
            ensembles.append(f"ens-{i}")
        block = _block(rng, 40, types, ensembles)
        assert _fields(dec.decode_lines(block)) == _fields(plain.decode_lines(block))
    assert 1 <= dec.rebuilds < interning.MAX_REBUILDS
    # the learned values come back as one object per value
    block = _block(rng, 50, types, ensembles)
    recs = dec.decode_lines(block)
    assert len({id(r.task_type) for r in recs}) == len({r.task_type for r in recs})
    assert all(type(r).__name__ == "InternedAggregateRoute" for r in recs)


def test_lines_the_plain_decoder_rejects_are_rejected_alike() -> None:
    dec = route_decoder()
    good = b'{"task_type": "extraction", "total_tokens_local": 5}\n'
    dec.decode_lines(good * 3)  # learned: the literal decoder is in use
    for bad in (b'{"task_type": "extraction", "total_tokens_local": "5"}\n', b'{"task_type": 3}\n', b"{\n"):
        with pytest.raises(msgspec.DecodeError):
            dec.decode_lines(good + bad)
    assert dec.decode(b'{"task_type": "new"}').task_type == "new"


def test_a_field_with_too_many_values_is_decoded_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interning, "MAX_VALUES", 5)
    plain = msgspec.json.Decoder(AggregateRoute)
    dec = InterningDecoder(AggregateRoute, _ROUTE_INTERNED)
    rng = random.Random(3)
    for i in range(20):  # ensembles never repeat: too many for the field
        block = _block(rng, 8, ["extraction", "summarization"], [f"e{i}-{k}" for k in range(4)])
        assert _fields(dec.decode_lines(block)) == _fields(plain.decode_lines(block))
    assert "ensemble" not in dec._known and "routed_to" not in dec._known
    assert set(dec._known["task_type"]) == {"extraction", "summarization"}
    recs = dec.decode_lines(_block(rng, 30, ["extraction", "summarization"], ["e0-0"]))
    assert len({id(r.task_type) for r in recs}) == 2


def test_a_log_whose_values_never_settle_gets_the_plain_decoder() -> None:
    plain = msgspec.json.Decoder(AggregateRoute)
    dec = InterningDecoder(AggregateRoute, _ROUTE_INTERNED)
    rng = random.Random(5)
    for i in range(interning.MAX_REBUILDS + 10):  # a new task type in every block
        block = _block(rng, 8, [f"t{i}"], ["extract-x"])
        assert _fields(dec.decode_lines(block)) == _fields(plain.decode_lines(block))
    assert dec.rebuilds == interning.MAX_REBUILDS and dec._fast is None
    block = _block(rng, 8, ["x"], ["y"])
    assert _fields(dec.decode_lines(block)) == _fields(plain.decode_lines(block))


def test_only_optional_string_fields_can_be_interned() -> None:
    with pytest.raises(TypeError, match="total_tokens_local"):
        InterningDecoder(AggregateRoute, ("total_tokens_local",))
