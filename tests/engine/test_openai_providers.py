"""The executor and the loader with ``openai-compatible`` and ``llama-server`` profiles, against the fake
OpenAI-compatible server (real ``openai`` client) and the fake Ollama (real ``ollama`` client)."""

from __future__ import annotations

import asyncio
import json

from conductor_tui.cli import main
from conductor_tui.engine.events import AgentStarted, TextDelta
from conductor_tui.engine.executor import EngineSettings, Executor
from conductor_tui.engine.loader import check_runnable, is_runnable
from conductor_tui.providers import endpoints
from conductor_tui.providers.ollama import OllamaProvider
from tests.engine.conftest import ensemble, profiles, write_yaml
from tests.fakes.openai_server import FakeOpenAIModel


def test_provider_families_and_default_endpoints(monkeypatch):
    assert endpoints.provider_family("ollama") == "ollama"
    assert endpoints.provider_family("openai-compatible") == "openai"
    assert endpoints.provider_family("openai-compatible/openrouter") == "openai"
    assert endpoints.provider_family("llama-server") == "openai"
    assert endpoints.provider_family("anthropic-api") is None
    ep = endpoints.endpoint_for("llama-server", None)
    assert ep.url == "http://127.0.0.1:8080/v1" and ep.api_key_env is None
    ep = endpoints.endpoint_for("openai-compatible", None)
    assert ep.url == "https://api.openai.com/v1" and ep.api_key_env == "OPENAI_API_KEY"
    prof = profiles(
        p={"model": "m", "provider": "openai-compatible", "base_url": "gpu:8000/v1/", "api_key_env": "K"}
    )
    ep = endpoints.endpoint_for("openai-compatible", prof.get("p"))
    assert ep.url == "http://gpu:8000/v1" and ep.api_key_env == "K"
    monkeypatch.setenv("OLLAMA_HOST", "box:11434")
    assert endpoints.endpoint_for("ollama", None).url == "http://box:11434"


async def test_a_mixed_ensemble_runs_on_three_servers(fake_openai_factory, fake_ollama, project):
    vllm = fake_openai_factory([FakeOpenAIModel("Qwen/Qwen2.5-1.5B-Instruct", reply="first draft here")])
    llama = fake_openai_factory([FakeOpenAIModel("smollm2", reply="polished final text")], llama_timings=True)
    profs = profiles(
        drafter={
            "model": "Qwen/Qwen2.5-1.5B-Instruct",
            "provider": "openai-compatible",
            "base_url": vllm.url,
        },
        polisher={"model": "smollm2", "provider": "llama-server", "base_url": llama.url},
        checker={"model": "qwen3:1.7b", "provider": "ollama"},
    )
    spec = ensemble(
        [
            {"name": "draft", "model_profile": "drafter", "max_tokens": 50},
            {"name": "check", "model_profile": "checker"},
            {"name": "polish", "model_profile": "polisher", "depends_on": ["draft", "check"]},
        ]
    )
    events = []
    ex = Executor(OllamaProvider(fake_ollama.url), project=project, profiles=profs, settings=EngineSettings())
    result = await ex.run(spec, "write a haiku", on_event=events.append)
    assert result.status == "completed", result.to_json()
    assert result.deliverable == "polished final text"
    draft = result.agents["draft"]
    assert (
        draft.usage.output_tokens == 3
        and draft.usage.input_tokens > 0
        and draft.model == "Qwen/Qwen2.5-1.5B-Instruct"
    )
    assert vllm.chat_requests()[0]["body"]["max_tokens"] == 50
    # the dependent's prompt carries both upstream results, as for Ollama agents
    polish_prompt = llama.chat_requests()[0]["body"]["messages"][-1]["content"]
    assert "first draft here" in polish_prompt and "qwen3:1.7b answers" in polish_prompt
    deltas = [e for e in events if isinstance(e, TextDelta) and e.agent == "polish"]
    assert "".join(d.text for d in deltas) == "polished final text" and len(deltas) == 3
    started = {e.agent: e.model for e in events if isinstance(e, AgentStarted)}
    assert started == {"draft": "Qwen/Qwen2.5-1.5B-Instruct", "check": "qwen3:1.7b", "polish": "smollm2"}
    artifact = json.loads(result.artifact.read_text())
    agents = artifact["metadata"]["usage"]["agents"]
    assert agents["polish"]["model"] == "smollm2" and agents["polish"]["output_tokens"] == 3


async def test_openai_failures_fail_the_agent_with_the_fix(fake_openai, closed_port, project):
    profs = profiles(
        down={"model": "m", "provider": "llama-server", "base_url": f"http://127.0.0.1:{closed_port}/v1"},
        missing={"model": "nope", "provider": "openai-compatible", "base_url": fake_openai.url},
        keyed={
            "model": "smollm2",
            "provider": "openai-compatible",
            "base_url": fake_openai.url,
            "api_key_env": "NOT_SET_KEY",
        },
    )
    spec = ensemble(
        [
            {"name": "a", "model_profile": "down"},
            {"name": "b", "model_profile": "missing"},
            {"name": "c", "model_profile": "keyed"},
        ]
    )
    result = await Executor(project=project, profiles=profs, settings=EngineSettings()).run(spec, "x")
    assert result.status == "failed"
    a, b, c = (result.agents[n] for n in "abc")
    assert "not reachable" in a.error and "llama-server" in a.fix
    assert "nope" in b.error and "/models" in b.fix
    assert c.error.startswith("NOT_SET_KEY is not set") and c.fix == "export NOT_SET_KEY=<key>"
    assert not [
        r for r in fake_openai.chat_requests() if r["model"] == "smollm2"
    ]  # never sent without its key


async def test_falls_back_from_a_down_server_to_an_ollama_profile(closed_port, fake_ollama, project):
    profs = profiles(
        gpu={
            "model": "big",
            "provider": "openai-compatible",
            "base_url": f"http://127.0.0.1:{closed_port}/v1",
            "fallback_model_profile": "local",
        },
        local={"model": "qwen3:1.7b", "provider": "ollama"},
    )
    spec = ensemble([{"name": "a", "model_profile": "gpu"}])
    result = await Executor(OllamaProvider(fake_ollama.url), project=project, profiles=profs).run(spec, "hi")
    assert result.status == "completed"
    assert result.agents["a"].model == "qwen3:1.7b" and result.agents["a"].model_substituted


async def test_per_host_concurrency_limit(fake_openai_factory, project):
    server = fake_openai_factory(
        [FakeOpenAIModel("m", reply="one two three four", tokens_per_second=100, parallel=8)]
    )
    profs = profiles(p={"model": "m", "provider": "openai-compatible", "base_url": server.url})
    spec = ensemble([{"name": f"a{i}", "model_profile": "p"} for i in range(4)])
    settings = EngineSettings(host_concurrency={server.url: 1})
    result = await Executor(project=project, profiles=profs, settings=settings).run(spec, "x")
    assert result.status == "completed"
    reqs = sorted(server.chat_requests(), key=lambda r: r["t_received"])
    # one at a time: each request arrives after the previous one ended
    assert all(
        later["t_received"] >= earlier["t_end"] for earlier, later in zip(reqs, reqs[1:], strict=False)
    )
    server2 = fake_openai_factory(
        [FakeOpenAIModel("m", reply="one two three four", tokens_per_second=100, parallel=8)]
    )
    profs2 = profiles(p={"model": "m", "provider": "openai-compatible", "base_url": server2.url})
    await Executor(project=project, profiles=profs2, settings=EngineSettings()).run(spec, "x")
    reqs = sorted(server2.chat_requests(), key=lambda r: r["t_received"])
    assert any(later["t_received"] < earlier["t_end"] for earlier, later in zip(reqs, reqs[1:], strict=False))


def test_settings_read_host_limits_from_config(project):
    write_yaml(
        project / ".llm-orc/config.yaml",
        {"performance": {"concurrency": {"max_concurrent_per_host": 3, "hosts": {"gpu-box:8000/v1": 8}}}},
    )
    s = EngineSettings.from_project(project)
    assert s.per_host_concurrency == 3 and s.host_concurrency == {"http://gpu-box:8000/v1": 8}


async def test_cancel_closes_the_openai_stream(fake_openai_factory, project):
    server = fake_openai_factory([FakeOpenAIModel("slow", reply="w " * 8000, tokens_per_second=40)])
    profs = profiles(p={"model": "slow", "provider": "llama-server", "base_url": server.url})
    spec = ensemble([{"name": "a", "model_profile": "p"}])
    ex = Executor(project=project, profiles=profs)
    first = asyncio.Event()

    def on_event(e):
        if isinstance(e, TextDelta):
            first.set()

    task = asyncio.create_task(ex.run(spec, "x", on_event=on_event))
    await first.wait()
    ex.cancel()
    result = await task
    assert result.status == "cancelled" and result.agents["a"].status == "cancelled"
    assert server.wait_for_outcome(-1, timeout=10)["outcome"] == "client-disconnected"


def test_check_runnable_judges_each_host(fake_openai):
    profs = profiles(
        vllm={
            "model": "Qwen/Qwen2.5-1.5B",
            "provider": "openai-compatible",
            "base_url": "http://gpu:8000/v1",
        },
        llama={"model": "whatever", "provider": "llama-server"},
        claude={"model": "claude-sonnet-4", "provider": "anthropic-api"},
        keyed={
            "model": "x",
            "provider": "openai-compatible/openrouter",
            "base_url": "https://openrouter.ai/api/v1",
            "api_key_env": "OPENROUTER_API_KEY",
        },
    )
    vllm_key = "openai http://gpu:8000/v1"
    llama_key = "openai http://127.0.0.1:8080/v1"
    spec = ensemble([{"name": "a", "model_profile": "vllm"}])
    # not probed: nothing to judge; Ollama being down does not matter to this ensemble
    assert check_runnable(spec, None, profs) == []
    [p] = check_runnable(spec, None, profs, endpoint_models={vllm_key: None})
    assert p.code == "host-down" and "gpu:8000/v1" in p.message and p.blocking
    [p] = check_runnable(spec, None, profs, endpoint_models={vllm_key: ["Qwen/Qwen2.5-1.5B-Instruct"]})
    assert p.code == "model-not-served" and p.fix == 'use "Qwen/Qwen2.5-1.5B-Instruct" in the profile'
    assert check_runnable(spec, None, profs, endpoint_models={vllm_key: ["Qwen/Qwen2.5-1.5B"]}) == []
    spec = ensemble([{"name": "a", "model_profile": "llama"}])
    [p] = check_runnable(spec, None, profs, endpoint_models={llama_key: ["smollm2"]})
    assert p.severity == "warning" and "serves smollm2" in p.message  # llama-server answers with its model
    spec = ensemble([{"name": "a", "model_profile": "claude"}])
    [p] = check_runnable(spec, None, profs)
    assert p.code == "unsupported-provider" and "anthropic-api" in p.message
    spec = ensemble([{"name": "a", "model_profile": "keyed"}])
    [p] = check_runnable(spec, None, profs, env={})
    assert p.code == "missing-api-key" and p.fix == "export OPENROUTER_API_KEY=<key>"
    assert is_runnable(check_runnable(spec, None, profs, env={"OPENROUTER_API_KEY": "k"}))


def test_cli_run_on_an_openai_compatible_profile_records_the_run(fake_openai, project, capsys):
    write_yaml(
        project / ".llm-orc/profiles/vllm.yaml",
        {"name": "vllm", "model": "smollm2", "provider": "openai-compatible", "base_url": fake_openai.url},
    )
    write_yaml(
        project / ".llm-orc/ensembles/one.yaml",
        {"name": "one", "description": "d", "agents": [{"name": "a", "model_profile": "vllm"}]},
    )
    code = main(["run", "one", "--project", str(project), "--input", "hello there", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "completed"
    assert out["deliverable"] == "smollm2 answers: hello there"
    log = (project / ".llm-orc/evaluations/routing-log.jsonl").read_text().splitlines()
    assert len(log) == 1 and json.loads(log[0])["ensemble"] == "one"
    assert list((project / ".llm-orc/artifacts/one").glob("*/execution.json"))


def test_check_discovers_every_configured_host(
    project, fake_ollama, fake_openai, closed_port, monkeypatch, capsys
):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    down = f"http://127.0.0.1:{closed_port}/v1"
    for name, body in {
        "vllm": {"model": "smollm2", "provider": "openai-compatible", "base_url": fake_openai.url},
        "wrong": {"model": "gpt-9", "provider": "openai-compatible", "base_url": fake_openai.url},
        "llama": {"model": "m", "provider": "llama-server", "base_url": down},
    }.items():
        write_yaml(project / f".llm-orc/profiles/{name}.yaml", {"name": name, **body})
    for name, prof in {"ok": "vllm", "bad-model": "wrong", "server-down": "llama"}.items():
        write_yaml(
            project / f".llm-orc/ensembles/{name}.yaml",
            {"name": name, "description": "d", "agents": [{"name": "a", "model_profile": prof}]},
        )
    assert main(["check", "--project", str(project), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    hosts = {h["url"]: h for h in data["hosts"]}
    assert hosts[fake_ollama.url]["default"] and hosts[fake_ollama.url]["reachable"]
    vllm = hosts[fake_openai.url]
    assert vllm["reachable"] and vllm["models"] == ["Qwen/Qwen2.5-1.5B-Instruct", "smollm2"]
    assert vllm["profiles"] == ["vllm", "wrong"]
    assert not hosts[down]["reachable"] and "llama-server" in hosts[down]["fix"]
    by = {e["name"]: e for e in data["ensembles"]}
    assert by["ok"]["runnable"]
    assert not by["bad-model"]["runnable"] and by["bad-model"]["problems"][0]["code"] == "model-not-served"
    assert not by["server-down"]["runnable"] and by["server-down"]["problems"][0]["code"] == "host-down"
    assert main(["check", "--project", str(project)]) == 0
    text = capsys.readouterr().out
    assert f"✓ openai-compatible at {fake_openai.url} (profiles: vllm, wrong) — 2 model(s)" in text
    assert f"✗ llama-server at {down} (profiles: llama)" in text
