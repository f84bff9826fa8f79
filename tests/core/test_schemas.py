"""Each fast (msgspec) struct reads only names its file's pydantic model declares, and the
fields conductor-tui writes are declared (so a typo in a reader or a writer shows)."""

from __future__ import annotations

import json

import msgspec
import pytest

from conductor_tui.core import schemas
from conductor_tui.core.records import Evaluation, RoutingDecision
from conductor_tui.core.store import ProjectStore


def _declared(model: type) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


@pytest.mark.parametrize(
    ("struct", "model"),
    [
        (schemas.HistoryLine, RoutingDecision),
        (schemas.ReviewLine, RoutingDecision),
        (schemas.AggregateRoute, RoutingDecision),
        (schemas.TraceRoute, RoutingDecision),
        (schemas.AggregateEval, Evaluation),
        (schemas.TraceEval, Evaluation),
        (schemas.IdOnly, RoutingDecision),
        (schemas.IdOnly, Evaluation),
    ],
)
def test_every_struct_field_is_declared_by_the_model(struct: type, model: type) -> None:
    fields = set(struct.__struct_fields__)
    assert fields, struct
    assert fields - _declared(model) == set()


def test_a_misspelt_struct_field_would_be_caught() -> None:
    class Typo(msgspec.Struct):
        invocaton_number: int | None = None

    assert set(Typo.__struct_fields__) - _declared(RoutingDecision) == {"invocaton_number"}


def test_declared_bookkeeping_fields_are_written_only_when_set(tmp_path) -> None:
    store = ProjectStore(tmp_path)
    store.append_routing(RoutingDecision(task_type="t", routed_to="e", duration_ms=1200))
    store.append_routing(
        RoutingDecision.model_validate({"event": "lifecycle", "from": "calibrate", "to": "design"})
    )
    store.append_evaluation(Evaluation(routing_id="r1", score="good", per_model={"m": "correct"}))
    first, second = (json.loads(x) for x in store.routing_log_path.read_text().splitlines())
    assert first["duration_ms"] == 1200
    assert not {"phase", "propose_judge", "routing_id", "from", "to", "error"} & set(first)
    assert (second["from"], second["to"]) == ("calibrate", "design")
    (ev,) = (json.loads(x) for x in store.evaluations_path.read_text().splitlines())
    assert ev["per_model"] == {"m": "correct"} and "judge_agreement" not in ev
    read = RoutingDecision.model_validate(first)
    assert read.duration_ms == 1200 and read.extras == {}


def test_the_loop_and_row_runner_fields_are_declared(tmp_path) -> None:
    store = ProjectStore(tmp_path)
    written = {
        "invocation_number": 3,
        "sampled_for_evaluation": True,
        "phase": "calibrate",
        "context": {"strategy": "distilled"},
        "role": "quick",
        "propose_judge": {"claude_judge_tokens": 120},
    }
    store.append_routing(RoutingDecision(task_type="t", routed_to="e", **written))
    store.append_routing(RoutingDecision(task_type="t", routed_to="e"))
    first, second = store.read_routing().records
    assert {k: getattr(first, k) for k in written} == written and first.extras == {}
    assert not set(written) & set(json.loads(store.routing_log_path.read_text().splitlines()[1]))
    assert second.invocation_number is None
