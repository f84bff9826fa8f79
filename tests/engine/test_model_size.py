"""Invariant 3 (≤7B preferred, 14B ceiling): sizes from Ollama's /api/tags details, flagged by
``check``, refused by the conductor loop unless the ensemble overrides it; threshold ranges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core import rules
from conductor_tui.core.loop import Conductor
from conductor_tui.core.plan import plan_from_data
from conductor_tui.core.records import RoutingThresholds
from conductor_tui.core.store import ProjectStore
from conductor_tui.engine import model_size
from conductor_tui.engine.model_size import size_facts
from tests.fakes.ollama_server import FakeModel


def _ensemble(project: Path, name: str, model: str, *, override: bool = False, task_type: str = "extraction"):
    text = (
        f"name: {name}\ndescription: d\nconductor:\n  task_type: {task_type}\n"
        + ("  allow_large_models: true\n" if override else "")
        + f"agents:\n  - name: a\n    model: {model}\n    provider: ollama\n"
    )
    (project / ".llm-orc/ensembles").mkdir(parents=True, exist_ok=True)
    (project / ".llm-orc/ensembles" / f"{name}.yaml").write_text(text)


@pytest.mark.parametrize(
    ("parameter_size", "model", "level"),
    [
        ("7.6B", "qwen2.5:7b", "ok"),  # a 7B-class model
        ("8.0B", "llama3.1:8b", "large"),
        ("14.8B", "qwen3:14b", "large"),  # 14B is the ceiling, not above it
        ("27.4B", "gemma3:27b", "over-ceiling"),
        ("", "qwen3:32b", "over-ceiling"),  # no details: the size tag
        ("999.89M", "gemma3:1b", "ok"),
        ("", "mystery-model", "unknown"),
    ],
)
def test_size_levels(parameter_size: str, model: str, level: str) -> None:
    assert rules.model_size("a", model, parameter_size, RoutingThresholds()).level == level


def test_details_from_ollama_win_over_the_name(fake_ollama_factory, tmp_path, monkeypatch) -> None:
    # A custom tag that hides its size: only Ollama's parameter_size tells it is 32B.
    big = FakeModel("team-coder:latest", parameter_size="32.8B")
    fake = fake_ollama_factory([big, FakeModel("qwen3:1.7b")])
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    model_size._CACHE.clear()
    _ensemble(tmp_path, "coder", "team-coder")
    facts = size_facts(tmp_path)("coder")
    assert facts is not None and facts.refused
    (m,) = facts.models
    assert m.source == "ollama" and m.billions == pytest.approx(32.8)


def test_loop_refuses_over_ceiling_unless_overridden(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # nothing there: sizes from the names
    model_size._CACHE.clear()
    _ensemble(tmp_path, "huge-extract", "gemma3:27b")
    _ensemble(tmp_path, "big-extract", "qwen3:14b", task_type="summarization")
    conductor = Conductor(tmp_path, size_facts=size_facts(tmp_path))
    adm = conductor.admit("huge-extract", task_type="extraction")
    assert not adm.allowed and adm.reason == "model-ceiling" and "14B ceiling" in adm.message
    assert conductor.admit("big-extract", task_type="summarization").allowed  # warned, not refused

    plan = plan_from_data(
        {"subtasks": [{"id": "s1", "description": "x", "task_type": "extraction", "handler": "huge-extract"}]}
    )
    routed = conductor.route_plan(plan, lambda t: [])
    row = routed.subtasks[0]
    assert row.handler == "claude" and row.original_handler == "huge-extract"
    assert "refused for delegation" in row.route_reason

    _ensemble(tmp_path, "huge-extract", "gemma3:27b", override=True)
    conductor = Conductor(tmp_path, size_facts=size_facts(tmp_path))
    assert conductor.admit("huge-extract", task_type="extraction").allowed


def test_check_flags_large_and_over_ceiling(fake_ollama_factory, tmp_path, monkeypatch, capsys) -> None:
    fake = fake_ollama_factory(
        [
            FakeModel("qwen3:14b", parameter_size="14.8B"),
            FakeModel("gemma3:27b", parameter_size="27.4B"),
            FakeModel("qwen3:1.7b"),
        ]
    )
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    _ensemble(tmp_path, "big", "qwen3:14b")
    _ensemble(tmp_path, "huge", "gemma3:27b")
    _ensemble(tmp_path, "small", "qwen3:1.7b")
    assert cli.main(["check", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {e["name"]: e for e in data["ensembles"]}
    assert by["small"]["size_level"] == "ok" and by["small"]["runnable"]
    assert by["big"]["size_level"] == "large" and by["big"]["runnable"]
    assert any(w["code"] == "model-large" for w in by["big"]["warnings"])
    assert by["huge"]["delegation_refused"] and not by["huge"]["runnable"]
    assert any(p["code"] == "model-ceiling" for p in by["huge"]["problems"])
    assert by["huge"]["model_sizes"][0]["source"] == "ollama"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sampling_rate_established": 5.0}, "between 0 and 1"),
        ({"calibration_period": -3}, "≥ 1"),
        ({"trusted_threshold_good_ratio": -0.1}, "between 0 and 1"),
        ({"repetition_threshold": 0}, "≥ 1"),
        ({"calibration_period": 2.5}, "whole number"),
        ({"promotion_library_good": 2}, "≥ promotion_global_good"),
        ({"model_ceiling_b": 3.0}, "≥ small_model_max_b"),
    ],
)
def test_threshold_edits_are_range_checked(tmp_path, changes, message) -> None:
    store = ProjectStore(tmp_path)
    with pytest.raises(ValueError, match=message):
        store.update_thresholds("bad edit", **changes)
    assert not store.config_path.exists()  # nothing written: the config keeps its version


def test_valid_threshold_edit_is_a_new_version(tmp_path) -> None:
    store = ProjectStore(tmp_path)
    cfg = store.update_thresholds("tune", sampling_rate_established=0.2, repetition_threshold=4)
    assert cfg.routing_thresholds.sampling_rate_established == 0.2 and cfg.version == 2
