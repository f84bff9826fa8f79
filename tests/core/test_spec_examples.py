"""The spec's hand-written examples (copied verbatim into tests/core/data/) load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.records import Delegability, Phase
from conductor_tui.core.store import ProjectStore

DATA = Path(__file__).parent / "data"


def _store(tmp_path: Path) -> ProjectStore:
    store = ProjectStore(tmp_path)
    store.root.mkdir(parents=True)
    return store


def _as_line(name: str) -> str:
    # The spec pretty-prints its records; a JSONL log holds each one on one line.
    return json.dumps(json.loads((DATA / name).read_text(encoding="utf-8"))) + "\n"


def test_routing_decision_example_loads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.routing_log_path.write_text(_as_line("spec-routing-decision.json"))
    res = store.read_routing()
    assert res.skipped == []
    d = res.records[0]
    assert d.task_type == "extraction"
    assert d.task_summary == "Extract API endpoints from server.py"
    assert d.dag_test_result is None  # "null | {...}" placeholder
    assert d.evaluation_summary is None  # "6/8 good | null"
    assert d.standing_auth is False
    assert d.timestamp == "ISO-8601"  # kept as text, not rejected
    # the aggregator reads it too
    agg = Aggregator()
    agg.feed_file(store.routing_log_path)
    assert agg.snapshot().routing_decisions == 1


def test_evaluation_example_loads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.evaluations_path.write_text(_as_line("spec-evaluation.json"))
    res = store.read_evaluations()
    assert res.skipped == []
    e = res.records[0]
    assert e.ensemble == "ensemble-name" and e.invocation_number == 4 and e.output_length == 450
    assert e.failure_mode is None and e.user_feedback is None
    assert e.score == "good | acceptable | poor"  # a placeholder: kept as text


def test_pretty_printed_record_in_a_log_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    text = (DATA / "spec-routing-decision.json").read_text(encoding="utf-8")
    store.routing_log_path.write_text(text + _as_line("spec-routing-decision.json"))
    res = store.read_routing()
    assert len(res.records) == 1
    assert res.skipped == list(range(1, text.count("\n") + 1))


def test_routing_config_example_loads_and_versions(tmp_path: Path) -> None:
    store = _store(tmp_path)
    shutil.copy(DATA / "spec-routing-config.yaml", store.config_path)
    cfg = store.load_config()
    assert cfg.version == 1 and cfg.starter_kit_offered is False
    assert cfg.authorization_for("extraction", "extract-endpoints") is not None
    t = cfg.routing_thresholds
    assert (t.calibration_period, t.sampling_rate_established, t.trusted_threshold_uses) == (5, 0.15, 20)
    assert (t.trusted_threshold_good_ratio, t.repetition_threshold) == (0.8, 3)
    new = store.update_thresholds("spec example change", repetition_threshold=4)
    assert new.version == 2
    assert store.version_path(1).read_bytes() == (DATA / "spec-routing-config.yaml").read_bytes()


def test_task_profile_examples_load(tmp_path: Path) -> None:
    store = _store(tmp_path)
    shutil.copy(DATA / "spec-task-profiles-lifecycle.yaml", store.profiles_path)
    profiles = store.load_task_profiles().profiles
    assert profiles["extraction"].phase is Phase.CALIBRATE
    assert profiles["extraction"].invocation_count == 3 and profiles["extraction"].good_count == 2
    assert profiles["cross-file-analysis"].phase is Phase.DESIGN
    assert profiles["cross-file-analysis"].ensemble is None
    assert profiles["cross-file-analysis"].interim_claude_count == 2
    shutil.copy(DATA / "spec-task-profiles-updates.yaml", store.profiles_path)
    p = store.load_task_profiles().profiles["extraction"]
    assert (p.ensemble, p.invocation_count, p.good_count, p.acceptable_count) == (
        "extract-endpoints",
        5,
        4,
        1,
    )
    # a round trip keeps it loadable
    store.save_task_profiles(store.load_task_profiles())
    assert store.load_task_profiles().profiles["extraction"].good_count == 4


def test_near_miss_values_normalise() -> None:
    from conductor_tui.core.records import RoutingDecision

    d = RoutingDecision.model_validate({"delegability_category": "Agent Delegable", "standing_auth": "yes"})
    assert d.delegability_category is Delegability.AGENT and d.standing_auth is True
