"""llm-orc's composition agents run: ``ensemble`` (a child ensemble), ``loop`` (a bounded loop over a
body ensemble) and ``dispatch`` (an ensemble chosen at run time) — with the depth limit, guards and
the check's messages. Script agents keep the bodies deterministic; LLM agents use the fake Ollama."""

from __future__ import annotations

import json
from pathlib import Path

from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentNotice
from conductor_tui.engine.executor import EngineSettings, Executor
from conductor_tui.providers.ollama import OllamaProvider
from tests.engine.conftest import llm, profiles, write_yaml

COUNTER = (
    "import json, os\n"
    "raw = os.environ.get('INPUT_DATA') or '0'\n"
    "try:\n    n = int(json.loads(raw))\nexcept ValueError:\n    n = 0\n"
    "print(json.dumps({'success': True, 'data': json.dumps({'n': n + 1, 'done': n + 1 >= 3})}))\n"
)


def add(project: Path, name: str, agents: list[dict]) -> None:
    write_yaml(
        project / f".llm-orc/ensembles/{name}.yaml", {"name": name, "description": "d", "agents": agents}
    )


def spec_of(project: Path, name: str):
    return loader.load_catalog(project, with_profiles=False).get(name).spec


async def run(project: Path, name: str, text: str = "go", fake=None, **settings):
    provider = OllamaProvider(fake.url) if fake is not None else None
    events: list = []
    ex = Executor(provider, project=project, profiles=profiles(), settings=EngineSettings(**settings))
    result = await ex.run(spec_of(project, name), text, on_event=events.append)
    if provider is not None:
        await provider.aclose()
    return result, events


async def test_an_ensemble_agent_runs_its_child_and_answers_with_its_result(project, fake_ollama):
    add(project, "child", [llm("inner", "qwen3:1.7b")])
    add(
        project,
        "parent",
        [llm("prep", "qwen3:1.7b"), {"name": "sub", "ensemble": "child", "depends_on": ["prep"]}],
    )
    result, events = await run(project, "parent", "summarise this", fake=fake_ollama)
    assert result.status == "completed", result.to_json()
    sub = result.agents["sub"]
    body = json.loads(sub.response)
    assert body["ensemble"] == "child" and body["status"] == "completed"
    assert body["results"]["inner"]["status"] == "success"
    assert body["deliverable"].startswith("qwen3:1.7b answers:")
    # the child's tokens count in the parent's totals; only the parent writes an artifact
    inner_tokens = body["metadata"]["usage"]["totals"]["total_tokens"]
    assert inner_tokens > 0 and sub.usage.total_tokens == inner_tokens
    assert result.total_tokens == result.agents["prep"].usage.total_tokens + inner_tokens
    assert len(list((project / ".llm-orc/artifacts").rglob("execution.json"))) == 1
    assert any(
        isinstance(e, AgentNotice) and e.agent == "sub" and "child/inner finished" in e.message
        for e in events
    )
    assert len(fake_ollama.generation_requests()) == 2


async def test_a_loop_runs_its_body_until_the_guard_holds_and_carries_forward(project, tmp_path):
    scripts = project / ".llm-orc" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "counter.py").write_text(COUNTER)  # scripts resolve inside the tiers' script folders
    add(project, "count-once", [{"name": "step", "script": "counter.py"}])
    add(
        project,
        "loops",
        [
            {
                "name": "again",
                "loop": {
                    "body": "count-once",
                    "until": "${done} == true",
                    "max_iterations": 5,
                    "carry": "${n}",
                },
            }
        ],
    )
    add(
        project,
        "short",
        [
            {
                "name": "again",
                "loop": {"body": "count-once", "until": "${done}", "max_iterations": 2, "carry": "${n}"},
            }
        ],
    )
    result, _ = await run(project, "loops", "0")
    assert result.status == "completed", result.to_json()
    out = json.loads(result.agents["again"].response)
    assert out == {"output": {"n": 3, "done": True}, "iterations": 3, "terminated": "until"}
    result, _ = await run(project, "short", "0")
    assert json.loads(result.agents["again"].response) == {
        "output": {"n": 2, "done": False},
        "iterations": 2,
        "terminated": "exhausted",
    }


async def test_dispatch_runs_the_ensemble_an_upstream_agent_names(project, tmp_path):
    add(project, "child-a", [{"name": "x", "script": 'echo \'{"success": true, "data": "from a"}\''}])
    add(project, "child-b", [{"name": "x", "script": 'echo \'{"success": true, "data": "from b"}\''}])
    add(
        project,
        "router",
        [
            {"name": "pick", "script": 'echo \'{"success": true, "target": "child-b", "go": false}\''},
            {"name": "route", "dispatch": "${pick.target}", "depends_on": ["pick"]},
            {"name": "guarded", "ensemble": "child-a", "depends_on": ["pick"], "when": "${pick.go}"},
        ],
    )
    result, _ = await run(project, "router")
    assert result.status == "completed", result.to_json()
    assert json.loads(result.agents["route"].response)["deliverable"] == "from b"
    assert result.agents["guarded"].status == "skipped"  # its guard is false: the child never ran


async def test_nesting_beyond_the_depth_limit_fails_with_the_limit(project):
    add(project, "rec", [{"name": "again", "ensemble": "rec"}])
    result, _ = await run(project, "rec", max_ensemble_depth=2)
    assert result.status == "failed"
    err = result.agents["again"].error
    assert "depth limit exceeded: depth 3 > limit 2" in err


def test_check_reports_cycles_depth_and_child_problems(project):
    add(project, "rec", [{"name": "again", "ensemble": "rec"}])
    add(project, "needs-model", [llm("a", "qwen3:4b")])
    add(project, "outer", [{"name": "sub", "ensemble": "needs-model"}])
    add(project, "deep1", [{"name": "n", "ensemble": "deep2"}])
    add(project, "deep2", [{"name": "n", "ensemble": "needs-model"}])
    cat = loader.load_catalog(project, with_profiles=False)
    by_name = {e.name: e.spec for e in cat.all_entries()}

    def problems(name, **kw):
        return loader.check_runnable(by_name[name], ["qwen3:1.7b"], profiles(), ensembles=by_name, **kw)

    [p] = problems("rec")
    assert p.code == "ensemble-cycle" and p.message == "ensemble reference cycle: rec → rec"
    [p] = problems("outer")
    assert p.code == "missing-model" and p.message.startswith('child ensemble "needs-model" (agent "sub"):')
    assert p.fix == "ollama pull qwen3:4b"
    [p] = problems("deep1", max_depth=1)
    assert p.code == "ensemble-depth" and "deep1 → deep2 → needs-model" in p.message
    assert loader.is_runnable(
        loader.check_runnable(by_name["outer"], ["qwen3:4b"], profiles(), ensembles=by_name)
    )


async def test_a_child_agent_failure_is_forwarded_as_a_notice_naming_its_reason(project):
    scripts = project / ".llm-orc" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "boom.py").write_text("import sys\nprint('disk on fire', file=sys.stderr)\nsys.exit(3)\n")
    add(project, "child", [{"name": "bad", "script": "boom.py"}])
    add(project, "parent", [{"name": "sub", "ensemble": "child"}])
    result, events = await run(project, "parent")
    assert result.agents["sub"].status != "success"
    notices = [e.message for e in events if isinstance(e, AgentNotice) and e.agent == "sub"]
    assert any(m.startswith("child/bad failed: ") for m in notices), notices
    # the forwarding callback itself did not raise (the executor would record it as the run's error)
    assert "event consumer raised" not in (result.error or "")
    assert "event consumer raised" not in (result.agents["sub"].error or "")
