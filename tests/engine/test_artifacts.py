"""execution.json in llm-orc's shape (ours and theirs) and the routing decision of a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.core.records import RoutingConfig
from conductor_tui.core.store import ProjectStore
from conductor_tui.engine.artifacts import list_executions, read_execution, record_run
from conductor_tui.engine.executor import Executor
from conductor_tui.providers.ollama import OllamaProvider
from tests.engine.conftest import ensemble, llm, profiles, script


@pytest.fixture
async def finished_run(fake_ollama, project, tmp_path):
    split = script(tmp_path / "split.py", 'print(json.dumps({"success": True, "data": ["a", "b"]}))')
    spec = ensemble(
        [
            {"name": "split", "script": split},
            llm("each", depends_on=["split"], fan_out=True),
            llm("merge", "llama3.2:3b", depends_on=["each"]),
        ],
        name="shape-test",
    )
    provider = OllamaProvider(fake_ollama.url)
    try:
        result = await Executor(provider, project=project, profiles=profiles()).run(spec, "the input")
    finally:
        await provider.aclose()
    return result


async def test_execution_json_has_llm_orcs_shape(finished_run, project):
    result = finished_run
    path = result.artifact
    assert path.name == "execution.json"
    assert path.parent.parent == project / ".llm-orc/artifacts/shape-test"
    assert len(path.parent.name) == len("20260101-120000-123")
    data = json.loads(path.read_text())
    assert data["ensemble"] == "shape-test" and data["status"] == "completed"
    assert data["input"] == {"data": "the input"}
    assert data["results"]["merge"]["status"] == "success" and data["results"]["merge"]["response"]
    assert data["results"]["each"]["fan_out"] is True and len(data["results"]["each"]["response"]) == 2
    assert set(data["results"]) >= {"split", "each", "each[0]", "each[1]", "merge"}
    usage = data["metadata"]["usage"]
    for name in ("each[0]", "each[1]", "merge"):
        u = usage["agents"][name]
        assert set(u) >= {"input_tokens", "output_tokens", "total_tokens", "duration_ms", "model"}
        assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"] > 0
    assert usage["agents"]["merge"]["model"] == "llama3.2:3b"
    llm_agents = [u for n, u in usage["agents"].items() if u["model"]]
    assert (
        usage["totals"]["total_tokens"] == sum(u["total_tokens"] for u in llm_agents) == result.total_tokens
    )
    assert data["metadata"]["fan_out"]["each"] == {
        "total_instances": 2,
        "successful_instances": 2,
        "failed_instances": 0,
    }
    assert data["deliverable"] == result.deliverable
    assert (path.parent / "execution.md").is_file()
    assert (path.parent.parent / "latest").resolve() == path.parent.resolve()
    assert list_executions(project, "shape-test") == [path]


async def test_record_run_appends_one_decision(finished_run, project):
    store = ProjectStore(project)
    before = len(store.read_routing().records)
    decision = record_run(store, finished_run, task_type="extraction")
    after = store.read_routing().records
    assert len(after) == before + 1 and after[-1].id == decision.id == f"rd-{finished_run.run_id}"
    assert decision.routed_to == decision.ensemble == "shape-test"
    assert decision.status == "completed"
    assert decision.total_tokens_local == finished_run.total_tokens
    assert decision.estimated_claude_tokens == round(finished_run.total_tokens / 1.2) == decision.tokens_saved
    assert decision.artifact == str(finished_run.artifact)


async def test_record_run_uses_the_configured_ratio(finished_run, project):
    store = ProjectStore(project)
    cfg = RoutingConfig()
    cfg.routing_thresholds.local_to_claude_token_ratio = 2.0
    store.save_config(cfg, "test ratio")
    decision = record_run(store, finished_run)
    assert decision.estimated_claude_tokens == round(finished_run.total_tokens / 2.0)


def test_reads_llm_orcs_own_artifact(tmp_path: Path):
    theirs = {
        "ensemble": "code-review",
        "status": "completed_with_errors",
        "input": {"data": "review this"},
        "results": {
            "a": {"response": "ok", "status": "success", "model_substituted": False},
            "b": {"response": None, "status": "failed", "error": "boom", "model_substituted": False},
        },
        "metadata": {
            "agents_used": 2,
            "started_at": 1700000000.0,
            "duration": "3.21s",
            "usage": {
                "agents": {
                    "a": {
                        "input_tokens": 10,
                        "output_tokens": 5,
                        "total_tokens": 15,
                        "cost_usd": 0.0,
                        "duration_ms": 900,
                        "model": "qwen3:1.7b",
                        "model_profile": "p",
                    }
                },
                "totals": {
                    "total_tokens": 15,
                    "total_input_tokens": 10,
                    "total_output_tokens": 5,
                    "total_cost_usd": 0.0,
                    "total_duration_ms": 900,
                    "agents_count": 1,
                },
            },
        },
        "deliverable": "ok",
    }
    d = tmp_path / "code-review" / "20250101-000000-000"
    d.mkdir(parents=True)
    (d / "execution.json").write_text(json.dumps(theirs))
    ex = read_execution(d)
    assert ex.ensemble == "code-review" and ex.conductor_status == "failed"
    assert (
        ex.total_tokens == 15 and ex.agents["a"].model == "qwen3:1.7b" and ex.agents["a"].duration_ms == 900
    )
    assert ex.deliverable == "ok" and ex.input == "review this"


def test_corrupt_artifact_names_file_and_line(tmp_path: Path):
    p = tmp_path / "execution.json"
    p.write_text('{"ensemble": "x",\n  "status": }')
    with pytest.raises(ValueError, match=r"execution\.json:2: not valid JSON"):
        read_execution(p)
