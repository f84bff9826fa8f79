"""A real model end to end: SmolLM2-135M through llama-cpp-python's OpenAI-compatible server.

Structure, not wording: the run completes, every agent produced text within its max_tokens, the
server's token counts were recorded, the artifact and the routing line were written — once through
the CLI's ``run`` and once through the cockpit's Run screen (Pilot).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.cli import main
from tests.engine.conftest import write_yaml

pytestmark = pytest.mark.realmodel
MAX_TOKENS = 24


def make_project(root: Path, url: str, model: str) -> Path:
    """Two profiles on the same server — one ``openai-compatible``, one ``llama-server`` — and a
    two-agent chain that uses both."""
    llm_orc = root / ".llm-orc"
    write_yaml(
        llm_orc / "profiles/smol-openai.yaml",
        {
            "name": "smol-openai",
            "model": model,
            "provider": "openai-compatible",
            "base_url": url,
            "temperature": 0.0,
            "timeout_seconds": 120,
        },
    )
    write_yaml(
        llm_orc / "profiles/smol-llama.yaml",
        {
            "name": "smol-llama",
            "model": model,
            "provider": "llama-server",
            "base_url": url,
            "temperature": 0.0,
            "timeout_seconds": 120,
        },
    )
    write_yaml(
        llm_orc / "ensembles/smol-chain.yaml",
        {
            "name": "smol-chain",
            "description": "list then summarise, on a real small model",
            "agents": [
                {
                    "name": "lister",
                    "model_profile": "smol-openai",
                    "max_tokens": MAX_TOKENS,
                    "system_prompt": "List three fruits, one per line.",
                },
                {
                    "name": "summariser",
                    "model_profile": "smol-llama",
                    "depends_on": ["lister"],
                    "max_tokens": MAX_TOKENS,
                    "system_prompt": "Say in one short sentence what the list is about.",
                },
            ],
        },
    )
    return root


def test_cli_runs_a_two_agent_ensemble_on_the_real_model(real_server, tmp_path, capsys):
    project = make_project(tmp_path / "proj", real_server.url, real_server.model)
    code = main(["run", "smol-chain", "--project", str(project), "--input", "fruit", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["status"] == "completed"
    assert (out["deliverable"] or "").strip()
    for name in ("lister", "summariser"):
        agent = out["agents"][name]
        assert agent["status"] == "success"
        assert 0 < agent["output_tokens"] <= MAX_TOKENS
        assert agent["input_tokens"] > 0  # estimated: llama-cpp-python ignores include_usage
        assert agent["model"] == real_server.model
    runs = (project / ".llm-orc/artifacts/smol-chain").glob("*/execution.json")
    [artifact] = [p for p in runs if not p.parent.is_symlink()]  # "latest" links to it
    usage = json.loads(artifact.read_text())["metadata"]["usage"]
    assert usage["agents"]["summariser"]["output_tokens"] == out["agents"]["summariser"]["output_tokens"]
    lines = (project / ".llm-orc/evaluations/routing-log.jsonl").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["ensemble"] == "smol-chain" and record["status"] == "completed"


async def test_the_cockpit_run_screen_streams_the_real_model(real_server, tmp_path, monkeypatch):
    from conductor_tui.ui.run_state import DONE
    from tests.ui.conftest import drain, settle
    from tests.ui.test_run_screen import routing_log

    project = make_project(Path.home() / "smol-project", real_server.url, real_server.model)
    from conductor_tui.ui.app import make_app
    from tests.fakes.gpu import FakeGpuProbe
    from tests.ui.sample import fixed_clock

    app = make_app(
        project,
        gpu_probe=FakeGpuProbe(),
        clock=fixed_clock,
        poll_interval=0,
        rng=lambda: 0.99,
        ollama_host="http://127.0.0.1:9",
        initial_mode="run",
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("enter")  # the only ensemble: smol-chain
        await pilot.pause()
        app.screen.query_one("#text-body").text = "fruit"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await drain(app, timeout=240)
        await pilot.pause()
        view = app.screen.view
        assert view.ensemble == "smol-chain" and view.status == "completed"
        assert {a.state for a in view.agents.values()} == {DONE}
        for agent in view.agents.values():
            assert agent.text.strip() and 0 < agent.output_tokens <= MAX_TOKENS
        assert view.deliverable and view.deliverable.strip()
        [entry] = routing_log(project)
        assert entry.routed_to == "smol-chain" and entry.status == "completed"
        assert entry.total_tokens_local == view.input_tokens + view.output_tokens > 0
