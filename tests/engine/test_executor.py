"""The executor with the real ``ollama`` client against the fake Ollama over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

import pytest

from conductor_tui.core.store import ProjectStore
from conductor_tui.engine.artifacts import read_execution, record_run
from conductor_tui.engine.events import (
    AgentFailed,
    AgentFinished,
    AgentNotice,
    AgentSkipped,
    AgentStarted,
    RunFinished,
    RunStarted,
    TextDelta,
)
from conductor_tui.engine.executor import EngineSettings, Executor, evaluate_when, parse_array
from conductor_tui.providers.ollama import OllamaProvider
from tests.engine.conftest import ensemble, llm, profiles, script
from tests.fakes.ollama_server import FakeModel, prompt_token_count, tokenize

REPLY = "The quick brown fox jumps over the lazy dog."


def echo_item(body: dict) -> str:
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    match = re.search(r"Item content:\n(.*)$", user, re.S)
    return f"seen {match.group(1).strip()}" if match else "no item"


@pytest.fixture
def fake(fake_ollama_factory):
    return fake_ollama_factory(
        [
            FakeModel("fast:1b", reply=REPLY, tokens_per_second=400, parallel=4),
            FakeModel("slow:1b", reply=" ".join(["word"] * 40), tokens_per_second=100, parallel=1),
            # long enough that a busy machine cannot finish it before the client leaves
            FakeModel("long:1b", reply=" ".join(["word"] * 3000), tokens_per_second=100, parallel=1),
            FakeModel("echo:1b", reply=echo_item, tokens_per_second=400, parallel=3),
            FakeModel(
                "json:1b", reply='{"summary": "S", "items": ["a", "b"]}', tokens_per_second=400, parallel=2
            ),
        ],
        speed=4,
    )


@pytest.fixture
async def provider(fake):
    p = OllamaProvider(fake.url, timeout=20)
    yield p
    await p.aclose()


async def run(provider, spec, text="go", project=None, **kw):
    events: list = []
    ex = Executor(provider, project=project, profiles=kw.pop("profiles", profiles()), **kw)
    result = await ex.run(spec, text, on_event=events.append)
    return result, events


def of(events, cls, agent=None):
    return [e for e in events if isinstance(e, cls) and (agent is None or e.agent == agent)]


# ---------------------------------------------------------------------------- streaming, usage


async def test_streaming_order_and_ollama_token_counts(provider, fake):
    spec = ensemble([llm("writer", "fast:1b", system_prompt="Be brief.")])
    result, events = await run(provider, spec, "Describe a fox.")
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    kinds = [type(e).__name__ for e in events]
    first_delta = kinds.index("TextDelta")
    assert kinds[1] == "AgentStarted" and kinds[-2] == "AgentFinished"
    assert all(k == "TextDelta" for k in kinds[first_delta:-2])
    deltas = of(events, TextDelta, "writer")
    assert [d.text for d in deltas] == tokenize(REPLY)  # every token, in order
    assert [d.t for d in deltas] == sorted(d.t for d in deltas)
    assert "".join(d.text for d in deltas) == REPLY == result.agents["writer"].response
    [request] = fake.generation_requests()
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    usage = of(events, AgentFinished, "writer")[0].usage
    assert usage.output_tokens == len(tokenize(REPLY)) == request["tokens_sent"]
    assert usage.input_tokens == prompt_token_count(request["body"])
    assert usage.model == "fast:1b" and usage.tokens_per_second > 0 and usage.duration_ms >= 0
    assert result.status == "completed" and result.deliverable == REPLY
    finished = events[-1]
    assert (
        finished.total_input_tokens == usage.input_tokens
        and finished.total_output_tokens == usage.output_tokens
    )


async def test_options_format_and_profile_are_sent_as_llm_orc_does(provider, fake):
    ps = profiles(
        p={
            "model": "fast:1b",
            "provider": "ollama",
            "system_prompt": "From profile.",
            "options": {"num_ctx": 2048, "think": False, "top_k": 5},
            "temperature": 0.9,
        }
    )
    spec = ensemble(
        [
            {
                "name": "a",
                "model_profile": "p",
                "temperature": 0.1,
                "max_tokens": 3,
                "options": {"top_k": 7},
                "ollama_format": "json",
            }
        ]
    )
    result, _ = await run(provider, spec, profiles=ps)
    body = fake.generation_requests()[0]["body"]
    assert body["options"] == {"num_ctx": 2048, "top_k": 7, "temperature": 0.1, "num_predict": 3}
    assert body["think"] is False and body["format"] == "json"
    assert body["messages"][0]["content"] == "From profile."
    assert result.agents["a"].usage.output_tokens == 3  # num_predict honoured by the server


# ---------------------------------------------------------------------------- scheduling


async def test_agent_starts_when_its_own_dependencies_finish_not_its_level(provider):
    spec = ensemble(
        [llm("slow", "slow:1b"), llm("fast", "fast:1b"), llm("after-fast", "fast:1b", depends_on=["fast"])]
    )
    result, events = await run(provider, spec)
    started = of(events, AgentStarted, "after-fast")[0].t
    slow_done = of(events, AgentFinished, "slow")[0].t
    fast_done = of(events, AgentFinished, "fast")[0].t
    assert fast_done <= started < slow_done
    assert result.status == "completed"
    # the dependent saw its dependency's result (llm-orc's composition)
    assert result.agents["after-fast"].response == REPLY


async def test_fan_out_runs_items_in_parallel_and_gathers_in_order(provider, tmp_path):
    split = script(
        tmp_path / "split.py", 'print(json.dumps({"success": True, "data": ["alpha", "beta", {"k": 3}]}))'
    )
    spec = ensemble(
        [
            {"name": "split", "script": split},
            llm("each", "echo:1b", depends_on=["split"], fan_out=True),
            llm("merge", "fast:1b", depends_on=["each"]),
        ]
    )
    result, events = await run(provider, spec, "base task")
    each = result.agents["each"]
    assert json.loads(each.response) == ["seen alpha", "seen beta", 'seen {"k": 3}']
    starts = of(events, AgentStarted)
    inst = [e for e in starts if e.base == "each"]
    assert [(e.agent, e.instance, e.instances) for e in inst] == [
        ("each[0]", 0, 3),
        ("each[1]", 1, 3),
        ("each[2]", 2, 3),
    ]
    first_instance_done = min(e.t for e in of(events, AgentFinished) if e.agent.startswith("each["))
    assert all(e.t < first_instance_done for e in inst)  # all three were running at once
    assert each.usage.output_tokens == sum(i.usage.output_tokens for i in each.instances)
    assert result.total_output_tokens == sum(r.usage.output_tokens for r in result.usage_results())
    assert result.status == "completed"


async def test_fan_out_over_a_non_array_fails_clearly_and_skips_dependents(provider):
    spec = ensemble(
        [
            llm("up", "fast:1b"),
            llm("each", "fast:1b", depends_on=["up"], fan_out=True),
            llm("merge", "fast:1b", depends_on=["each"]),
        ]
    )
    result, events = await run(provider, spec)
    assert 'upstream "up" did not produce a JSON array' in result.agents["each"].error
    assert (
        result.agents["merge"].status == "skipped" and "upstream failed: each" in result.agents["merge"].error
    )
    assert result.status == "failed"
    assert of(events, AgentSkipped, "merge")


def test_parse_array_shapes():
    assert parse_array("[1, 2]") == [1, 2]
    assert parse_array('{"data": ["x"]}') == ["x"]
    assert parse_array('{"items": ["x"]}', "items") == ["x"]
    assert parse_array('{"data": "x"}') is None and parse_array("prose") is None


async def test_when_and_input_key(provider, tmp_path):
    gate = script(tmp_path / "gate.py", 'print(json.dumps({"ok": False, "kind": "bug"}))')
    spec = ensemble(
        [
            {"name": "gate", "script": gate},
            llm("if-ok", "fast:1b", depends_on=["gate"], when="${gate.ok}"),
            llm("if-bug", "fast:1b", depends_on=["gate"], when="${gate.kind} == 'bug'"),
            llm("summarise", "json:1b"),
            llm("use-summary", "fast:1b", depends_on=["summarise"], input_key="summary"),
            llm("after-skip", "fast:1b", depends_on=["if-ok"]),
        ]
    )
    result, _ = await run(provider, spec)
    assert result.agents["if-ok"].status == "skipped" and "when" in result.agents["if-ok"].error
    assert result.agents["if-bug"].status == "success"
    assert result.agents["after-skip"].status == "skipped"
    assert result.status == "completed"


async def test_input_key_selects_the_upstream_field(provider, fake):
    spec = ensemble(
        [llm("summarise", "json:1b"), llm("use", "fast:1b", depends_on=["summarise"], input_key="summary")]
    )
    await run(provider, spec, "ORIGINAL")
    body = [r for r in fake.generation_requests() if r["model"] == "fast:1b"][0]["body"]
    user = body["messages"][1]["content"]
    assert "Agent summarise" in user and "\nS\n" in user and '"items"' not in user and "ORIGINAL" in user


def test_when_grammar():
    from conductor_tui.engine.executor import AgentResult

    r = {"g": AgentResult("g", "script", status="success", response='{"a": {"b": 2}, "t": true}')}
    assert evaluate_when("${g.a.b} == 2", r) and evaluate_when("${g.t}", r)
    assert not evaluate_when("${g.missing}", r) and not evaluate_when("${x.y}", r)


async def finished_requests(fake, n: int) -> list[dict]:
    """The fake's records of the ``n`` generation requests once each is finished: the
    server stamps a request's outcome, ``t_end`` and metrics just after writing its last
    chunk, so right after the client has read it they may not be there yet."""

    def done() -> bool:
        reqs = fake.generation_requests()
        return len(reqs) == n and all(r.get("outcome") for r in reqs)

    assert await asyncio.to_thread(fake.wait_until, done, 30.0), fake.generation_requests()
    return fake.generation_requests()


def final_chunk_written(record: dict) -> float:
    """When the fake began writing a request's last chunk (server clock): its
    ``total_duration`` ends there. The next request of a one-at-a-time limit can only reach
    the server after the client read that chunk. (The record's ``t_end`` is stamped after
    the write, so under load the next request may already be in before it.)"""
    assert record["outcome"] == "completed"
    return record["t_received"] + record["metrics"]["total_duration"] / 1e9


async def test_per_model_concurrency_limit(provider, fake, tmp_path):
    split = script(tmp_path / "split.py", 'print(json.dumps({"success": True, "data": [1, 2, 3]}))')
    spec = ensemble(
        [{"name": "split", "script": split}, llm("each", "echo:1b", depends_on=["split"], fan_out=True)]
    )
    await run(provider, spec, settings=EngineSettings(per_model_concurrency=1))
    reqs = sorted(await finished_requests(fake, 3), key=lambda r: r["t_received"])
    for a, b in zip(reqs, reqs[1:], strict=False):
        # one at a time although the model has 3 slots
        assert b["t_received"] >= final_chunk_written(a)


# ---------------------------------------------------------------------------- scripts


async def test_script_agent_contract_stdin_env_and_dependencies(provider, tmp_path, project):
    probe = script(
        tmp_path / "probe.py",
        "req = json.load(sys.stdin)\n"
        "print(json.dumps({'success': True, 'data': {'req': req, 'INPUT_DATA': os.environ['INPUT_DATA'],"
        " 'AGENT_PARAMETERS': os.environ['AGENT_PARAMETERS'], 'cwd': os.getcwd()}}))",
    )
    spec = ensemble(
        [
            {"name": "first", "script": probe, "parameters": {"n": 1}},
            llm("model", "fast:1b"),
            {"name": "second", "script": probe, "depends_on": ["first", "model"], "parameters": {"n": 2}},
        ]
    )
    result, _ = await run(provider, spec, "the input", project=project)
    first = json.loads(result.agents["first"].response)["data"]
    assert first["req"] == {"input": "the input", "parameters": {"n": 1}, "context": {}}
    assert first["INPUT_DATA"] == "the input" and json.loads(first["AGENT_PARAMETERS"]) == {"n": 1}
    assert first["cwd"] == str(project)
    second = json.loads(result.agents["second"].response)["data"]
    req = second["req"]
    assert req["agent_name"] == "second" and req["input_data"] == "the input"
    assert req["dependencies"]["model"] == {"response": REPLY, "status": "success"}
    assert json.loads(req["dependencies"]["first"]["response"])["success"] is True
    assert json.loads(second["INPUT_DATA"])["agent_name"] == "second"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "sys.stderr.write('boom: no module named foo\\n'); sys.exit(3)",
            "script exited with code 3: boom: no module named foo",
        ),
        ("print('this is not json')", "script printed invalid JSON"),
        (
            "print(json.dumps({'success': False, 'error': 'diff too large'}))",
            "script reported failure: diff too large",
        ),
        ("pass", "script printed nothing"),
    ],
)
async def test_script_failures_are_infrastructure_failures(provider, tmp_path, project, body, expected):
    bad = script(tmp_path / "bad.py", body)
    spec = ensemble(
        [
            {"name": "bad", "script": bad},
            llm("independent", "fast:1b"),
            llm("dependent", "fast:1b", depends_on=["bad"]),
        ]
    )
    result, events = await run(provider, spec, project=project)
    [failed] = of(events, AgentFailed, "bad")
    assert failed.reason.startswith(expected) and failed.failure == "infrastructure"
    assert result.agents["independent"].status == "success"
    assert result.agents["dependent"].status == "skipped"
    assert result.status == "failed"
    data = read_execution(result.artifact)  # the run is recorded
    assert data.status == "completed_with_errors" and data.results["bad"]["status"] == "failed"
    decision = record_run(ProjectStore(project), result)
    assert decision.status == "failed" and decision.tokens_saved == 0
    assert "Script agent failed" in decision.reason


async def test_script_timeout_kills_the_process_group(provider, tmp_path):
    pidfile = tmp_path / "pids"
    hang = script(
        tmp_path / "hang.py",
        f"import subprocess\nchild = subprocess.Popen(['sleep', '30'])\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\ntime.sleep(30)\n",
    )
    spec = ensemble([{"name": "hang", "script": hang, "timeout_seconds": 0.5}])
    t0 = time.monotonic()
    result, _ = await run(provider, spec)
    assert time.monotonic() - t0 < 5
    assert result.agents["hang"].error == "script timed out after 0.5 s"
    for pid in map(int, pidfile.read_text().split()):
        assert _gone(pid)


def _gone(pid: int, timeout: float = 3.0) -> bool:
    """True once ``pid`` is dead (SIGKILL takes effect asynchronously; no event to await)."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); check its state
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_missing_script_file(provider, project):
    spec = ensemble([{"name": "s", "script": "scripts/nope.py"}])
    result, _ = await run(provider, spec, project=project)
    assert result.agents["s"].error == "script not found: scripts/nope.py"


# ---------------------------------------------------------------------------- Ollama faults


FAULTS = [
    ("not-found", "not installed", "ollama pull fast:1b"),
    ("server-error", "HTTP 500", None),
    ("error-midstream", "mid-stream", None),
    ("cut-midstream", "cut mid-response", None),
    ("busy", "busy", None),
]


@pytest.mark.parametrize(("kind", "text", "fix"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_every_fault_fails_one_agent_clearly(provider, fake, project, kind, text, fix):
    fake.fault(kind, "fast:1b", after_tokens=3)
    spec = ensemble(
        [
            llm("faulty", "fast:1b"),
            llm("other", "echo:1b"),
            llm("dependent", "echo:1b", depends_on=["faulty"]),
        ]
    )
    result, events = await run(provider, spec, project=project)
    [failed] = of(events, AgentFailed, "faulty")
    assert text in failed.reason and failed.failure == "infrastructure"
    if fix:
        assert failed.fix == fix
    assert result.agents["other"].status == "success"
    assert result.agents["dependent"].status == "skipped"
    assert result.status == "failed" and events[-1].status == "failed"
    assert read_execution(result.artifact).results["faulty"]["error"] == failed.reason
    if kind in ("error-midstream", "cut-midstream"):
        assert result.agents["faulty"].response  # the partial text is kept


async def test_slow_first_token_beyond_timeout(provider, fake):
    fake.fault("slow-first-token", "fast:1b", delay=3)
    spec = ensemble([llm("a", "fast:1b", timeout_seconds=0.3), llm("b", "echo:1b")])
    result, _ = await run(provider, spec)
    assert result.agents["a"].error == "timed out after 0.3 s (model fast:1b)"
    assert result.agents["b"].status == "success"


async def test_ollama_unreachable(closed_port):
    provider = OllamaProvider(f"http://127.0.0.1:{closed_port}", connect_timeout=1)
    try:
        result, events = await run(provider, ensemble([llm("a")]))
    finally:
        await provider.aclose()
    [failed] = of(events, AgentFailed)
    assert "not running" in failed.reason and failed.fix == "ollama serve"
    assert result.status == "failed"


async def test_missing_model_falls_back_to_the_profile_chain(provider, fake):
    ps = profiles(
        big={
            "model": "qwen3:32b",
            "provider": "ollama",
            "fallback_model_profile": "small",
            "options": {"think": True, "num_ctx": 32768},
        },
        small={"model": "fast:1b", "provider": "ollama", "options": {"num_ctx": 4096}},
    )
    result, events = await run(provider, ensemble([{"name": "a", "model_profile": "big"}]), profiles=ps)
    body = fake.generation_requests()[-1]["body"]
    assert body["model"] == "fast:1b" and body["options"] == {"num_ctx": 4096} and "think" not in body
    a = result.agents["a"]
    assert a.status == "success" and a.model == "fast:1b" and a.model_substituted
    assert "falling back to fast:1b" in of(events, AgentNotice, "a")[0].message
    assert "ollama pull qwen3:32b" in of(events, AgentNotice, "a")[0].message


async def test_missing_profile_is_a_config_failure(provider):
    result, events = await run(provider, ensemble([{"name": "a", "model_profile": "ghost"}]))
    [failed] = of(events, AgentFailed)
    assert failed.reason == 'profile "ghost" not found (agent "a")' and failed.failure == "config"


# ---------------------------------------------------------------------------- cancellation


async def test_cancel_mid_stream_closes_the_request_and_records_cancelled(provider, fake, project):
    spec = ensemble([llm("long", "slow:1b"), llm("after", "fast:1b", depends_on=["long"])])
    events: list = []
    ex = Executor(provider, project=project, profiles=profiles())

    def on_event(e):
        events.append(e)
        if isinstance(e, TextDelta) and len(of(events, TextDelta)) == 2:
            ex.cancel()

    result = await ex.run(spec, "x", on_event=on_event)
    assert result.status == "cancelled"
    assert result.agents["long"].status == "cancelled" and result.agents["after"].status in (
        "cancelled",
        "skipped",
    )
    assert events[-1].status == "cancelled"
    outcome = fake.wait_for_outcome(0, timeout=5)
    assert outcome["outcome"] == "client-disconnected"
    assert outcome["tokens_sent"] < 40
    assert read_execution(result.artifact).conductor_status == "cancelled"
    decision = record_run(ProjectStore(project), result)
    assert decision.status == "cancelled"


async def test_cancelling_the_task_kills_scripts_and_reraises(provider, tmp_path):
    pidfile = tmp_path / "pid"
    hang = script(
        tmp_path / "hang.py", f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(30)\n"
    )
    spec = ensemble([{"name": "hang", "script": hang}, llm("stream", "slow:1b")])
    events: list = []
    started = asyncio.Event()

    def on_event(e):
        events.append(e)
        if isinstance(e, TextDelta):
            started.set()

    ex = Executor(provider, profiles=profiles())
    task = asyncio.create_task(ex.run(spec, "x", on_event=on_event))
    await asyncio.wait_for(started.wait(), 10)
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # the script's own write: nothing to await
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(events[-1], RunFinished) and events[-1].status == "cancelled"
    assert _gone(int(pidfile.read_text()))


async def test_a_missing_child_ensemble_fails_only_its_agent(provider, fake):
    spec = ensemble([llm("a", "fast:1b"), {"name": "sub", "ensemble": "other"}])
    result, events = await run(provider, spec)
    assert result.status == "failed"
    assert (
        result.agents["sub"].status == "failed" and 'ensemble "other" not found' in result.agents["sub"].error
    )
    assert result.agents["a"].status == "success" and len(fake.generation_requests()) == 1
    assert of(events, RunFinished)[0].status == "failed"


async def test_on_dependency_failure_run_lets_a_reporter_see_the_failure(provider, tmp_path):
    probe = script(
        tmp_path / "probe.py",
        "req = json.load(sys.stdin)\nprint(json.dumps({'success': True, 'data': req['dependencies']}))",
    )
    spec = ensemble(
        [
            llm("broken", "ghost:1b"),
            {"name": "report", "script": probe, "depends_on": ["broken"], "on_dependency_failure": "run"},
        ]
    )
    result, _ = await run(provider, spec)
    deps = json.loads(result.agents["report"].response)["data"]
    assert deps["broken"]["status"] == "failed" and "not installed" in deps["broken"]["error"]
    assert result.agents["report"].status == "success" and result.status == "failed"


async def test_input_key_error_fails_only_that_agent(provider):
    spec = ensemble(
        [
            llm("prose", "fast:1b"),
            llm("use", "fast:1b", depends_on=["prose"], input_key="summary"),
            llm("other", "fast:1b"),
        ]
    )
    result, events = await run(provider, spec)
    [failed] = of(events, AgentFailed, "use")
    assert failed.reason == 'input_key "summary": upstream "prose" did not return a JSON object'
    assert failed.failure == "config"
    assert result.agents["other"].status == "success" and result.status == "failed"


async def test_overall_concurrency_limit(provider, fake):
    spec = ensemble([llm("a", "fast:1b"), llm("b", "echo:1b"), llm("c", "json:1b")])
    await run(provider, spec, settings=EngineSettings(max_concurrency=1))
    reqs = sorted(await finished_requests(fake, 3), key=lambda r: r["t_received"])
    for a, b in zip(reqs, reqs[1:], strict=False):
        assert b["t_received"] >= final_chunk_written(a)


async def test_stream_run_yields_events_until_run_finished(provider):
    from conductor_tui.engine.executor import stream_run

    ex = Executor(provider, profiles=profiles())
    kinds = [type(e).__name__ async for e in stream_run(ex, ensemble([llm("a", "fast:1b")]), "x")]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished" and "TextDelta" in kinds


async def test_leaving_stream_run_early_cancels_the_run(provider, fake):
    from conductor_tui.engine.executor import stream_run

    ex = Executor(provider, profiles=profiles())
    gen = stream_run(ex, ensemble([llm("a", "long:1b")]), "x")
    async for e in gen:
        if isinstance(e, TextDelta):
            break
    await gen.aclose()
    assert fake.wait_for_outcome(0, timeout=5)["outcome"] == "client-disconnected"


async def test_a_raising_event_consumer_does_not_break_the_run(provider):
    def bad(_event):
        raise RuntimeError("ui bug")

    result = await Executor(provider, profiles=profiles()).run(
        ensemble([llm("a", "fast:1b")]), "x", on_event=bad
    )
    assert result.status == "completed" and "ui bug" in result.error
