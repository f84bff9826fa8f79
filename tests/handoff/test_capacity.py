"""Capacity verdicts (spill / queue) measured against the fake servers' real load."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from conductor_tui.core import capacity as cap
from conductor_tui.core.loop import Conductor
from conductor_tui.core.plan import send_to_claude_for_capacity
from conductor_tui.core.records import PlanRow, RoutingDecision, WorkflowPlan
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import protocol
from conductor_tui.handoff.capacity import capacity_facts
from conductor_tui.handoff.runner import run_request_headless
from tests.fakes.gpu import FakeGpuProbe
from tests.fakes.ollama_server import FakeModel
from tests.fakes.openai_server import FakeOpenAIModel

GB = 1_000_000_000


def _ensemble(
    project: Path, name: str, model: str, provider: str = "ollama", profile: str | None = None
) -> None:
    d = project / ".llm-orc" / "ensembles"
    d.mkdir(parents=True, exist_ok=True)
    who = f"model_profile: {profile}" if profile else f"model: {model}\n    provider: {provider}"
    (d / f"{name}.yaml").write_text(
        f"name: {name}\ndescription: test\nagents:\n  - name: a\n    {who}\n    system_prompt: Go.\n"
    )


# ------------------------------------------------------------------------------ pure rules


def test_spill_and_queue_figures_follow_the_documented_model():
    spill = cap.ensemble_capacity(
        "e", [cap.ModelLoad("qwen3:14b", "127.0.0.1:11434", size=100, free_vram=62, gpu=True)]
    )
    assert spill.verdict == "spill" and spill.cpu_share == pytest.approx(0.38)
    assert spill.slowdown == pytest.approx(0.62 + 0.38 * cap.CPU_PENALTY)
    assert spill.reason == "qwen3:14b would run 38 % on CPU — ~4.4× slower"
    queue = cap.ensemble_capacity(
        "e", [cap.ModelLoad("m", "127.0.0.1:11434", size=100, loaded=True, size_vram=100, in_flight=2)]
    )
    assert queue.verdict == "queue" and queue.slowdown == 3.0 and queue.ahead == 2
    assert queue.reason == "2 requests ahead on 127.0.0.1:11434 (1 slot) — ~3× longer"
    # a free slot, a spill under 5 %, a host without a GPU: nothing to flag
    assert cap.ensemble_capacity("e", [cap.ModelLoad("m", "h", in_flight=1, slots=2)]).verdict == "ok"
    assert (
        cap.ensemble_capacity("e", [cap.ModelLoad("m", "h", size=100, free_vram=97, gpu=True)]).verdict
        == "ok"
    )
    cpu_only = cap.ModelLoad("m", "h", size=100, loaded=True, size_vram=0, gpu=False)
    assert cap.ensemble_capacity("e", [cpu_only]).verdict == "ok"
    assert cap.typical_duration_ms([1000, None, 3000, 2000, -5]) == 2000


# ------------------------------------------------------------------------------ measured


def test_a_loaded_model_partly_in_vram_is_measured_as_a_spill(tmp_path, fake_ollama_factory):
    big = FakeModel("qwen3:14b", parameter_size="14.8B", size=9 * GB, size_vram=5_580_000_000)
    fake = fake_ollama_factory([big, FakeModel("qwen3:1.7b")])
    fake.preload("qwen3:14b")
    _ensemble(tmp_path, "big-one", "qwen3:14b")
    _ensemble(tmp_path, "small-one", "qwen3:1.7b")
    facts = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), ollama_host=fake.url, in_flight={})
    verdict = facts("big-one")
    assert verdict is not None and verdict.verdict == "spill"
    assert verdict.cpu_share == pytest.approx(0.38)
    assert verdict.slowdown == pytest.approx(4.42)
    assert verdict.reason.startswith("qwen3:14b runs 38 % on CPU — ~4.4× slower")
    model = verdict.to_json()["models"][0]
    assert model["loaded"] is True and model["size"] == 9 * GB and model["size_vram"] == 5_580_000_000
    # not loaded: its /api/tags size against the probe's free VRAM (the 4090 has room)
    small = facts("small-one")
    assert small is not None and small.verdict == "ok" and small.models[0].load.free_vram


def test_a_model_too_big_for_the_free_vram_would_spill(tmp_path, fake_ollama_factory):
    from conductor_tui.providers.gpu import GpuSample

    fake = fake_ollama_factory([FakeModel("qwen3:14b", parameter_size="14.8B", size=10 * GB)])
    _ensemble(tmp_path, "big-one", "qwen3:14b")
    probe = FakeGpuProbe(
        [GpuSample("RTX 3060", memory_used=6 * GB, memory_total=12 * GB, utilization=0, temperature=40)]
    )
    verdict = capacity_facts(tmp_path, gpu_probe=probe, ollama_host=fake.url, in_flight={})("big-one")
    assert verdict is not None and verdict.verdict == "spill"
    assert verdict.cpu_share == pytest.approx(0.4)
    assert verdict.reason == "qwen3:14b would run 40 % on CPU — ~4.6× slower"


def test_requests_held_in_flight_on_a_one_slot_model_queue(tmp_path, fake_ollama_factory, monkeypatch):
    release = threading.Event()
    model = FakeModel("llama3.2:3b", parallel=1, reply="one two three four", hold_after=1, release=release)
    fake = fake_ollama_factory([model])
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    _ensemble(tmp_path, "labeller", "llama3.2:3b")
    store = ProjectStore(tmp_path)
    for ms in (4000, 6000, 5000):  # the ensemble's earlier completed runs: typical 5 s
        store.append_routing(
            RoutingDecision(ensemble="labeller", routed_to="labeller", status="completed", duration_ms=ms)
        )
    threads = []
    try:
        for i in range(2):
            req = protocol.request_run(tmp_path, "labeller", f"label issue {i}", session="s1")
            assert protocol.try_claim(tmp_path, req.id, "headless")
            t = threading.Thread(target=run_request_headless, args=(tmp_path, req), kwargs={"host": fake.url})
            t.start()
            threads.append(t)
        # one request streams (held), the other waits for the single slot
        assert fake.wait_until(lambda: len(fake.generation_requests()) == 2, timeout=30)
        assert fake.wait_until(
            lambda: any(r.get("tokens_sent") for r in fake.generation_requests()), timeout=30
        )
        verdict = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), ollama_host=fake.url)("labeller")
        assert verdict is not None and verdict.verdict == "queue"
        assert (verdict.ahead, verdict.slots, verdict.slowdown) == (2, 1, 3.0)
        assert verdict.typical_ms == 5000 and verdict.wait_ms == 10000
        assert verdict.reason.endswith("(1 slot) — ~3× longer (~10 s wait)")
        assert "2 requests ahead on 127.0.0.1:" in verdict.reason
        # a config that says the host has 4 slots: no queue
        (tmp_path / ".llm-orc" / "config.yaml").write_text(
            f"performance:\n  concurrency:\n    hosts:\n      {fake.url}: 4\n"
        )
        roomy = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), ollama_host=fake.url)("labeller")
        assert roomy is not None and roomy.verdict == "ok" and roomy.models[0].load.slots_source == "config"
    finally:
        release.set()
        for t in threads:
            t.join(timeout=60)
    after = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), ollama_host=fake.url)("labeller")
    assert after is not None and after.ahead == 0


def test_llama_server_slots_are_read_from_its_slots_endpoint(tmp_path, fake_openai_factory):
    import openai

    release = threading.Event()
    model = FakeOpenAIModel(
        "smollm2", parallel=1, owned_by="llamacpp", reply="a b c d", hold_after=1, release=release
    )
    fake = fake_openai_factory([model], slots_endpoint=True)
    (tmp_path / ".llm-orc" / "profiles").mkdir(parents=True)
    (tmp_path / ".llm-orc" / "profiles" / "local-llama.yaml").write_text(
        f"name: local-llama\nmodel: smollm2\nprovider: llama-server\nbase_url: {fake.url}\n"
    )
    _ensemble(tmp_path, "tiny", "smollm2", profile="local-llama")
    idle = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), in_flight={})("tiny")
    assert idle is not None and idle.verdict == "ok" and idle.models[0].load.slots_source == "/slots"

    client = openai.OpenAI(base_url=fake.url, api_key="x")

    def chat() -> None:
        stream = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        for _ in stream:
            pass

    t = threading.Thread(target=chat)
    t.start()
    try:
        assert fake.wait_until(lambda: fake.slots()[0]["is_processing"], timeout=30)
        busy = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), in_flight={})("tiny")
        assert busy is not None and busy.verdict == "queue" and (busy.ahead, busy.slots) == (1, 1)
        assert busy.slowdown == 2.0 and busy.models[0].load.in_flight_source == "/slots"
    finally:
        release.set()
        t.join(timeout=60)


# ------------------------------------------------------------------------------ the loop


def _plan() -> WorkflowPlan:
    return WorkflowPlan(
        id="wp-cap",
        meta_task="label",
        session="s1",
        subtasks=[
            PlanRow(id="r1", description="Label issues", task_type="classification", handler="big-one"),
            PlanRow(id="r2", description="Label more", task_type="classification", handler="small-one"),
        ],
    )


def test_route_plan_flags_a_spilling_row_without_rerouting_and_claude_records_capacity(
    tmp_path, fake_ollama_factory
):
    big = FakeModel("qwen3:14b", parameter_size="14.8B", size=9 * GB, size_vram=5_580_000_000)
    fake = fake_ollama_factory([big, FakeModel("qwen3:1.7b")])
    fake.preload("qwen3:14b")
    _ensemble(tmp_path, "big-one", "qwen3:14b")
    _ensemble(tmp_path, "small-one", "qwen3:1.7b")
    store = ProjectStore(tmp_path)
    store.append_plan(_plan())
    facts = capacity_facts(tmp_path, gpu_probe=FakeGpuProbe(), ollama_host=fake.url, in_flight={})
    conductor = Conductor(tmp_path, store=store, capacity_facts=facts)
    assert conductor.admit("big-one", task_type="classification").capacity.verdict == "spill"
    assert conductor.admit("small-one", task_type="classification").capacity is None
    routed = conductor.route_plan(store.latest_plans()["wp-cap"], lambda _t: ())
    r1, r2 = routed.subtasks
    assert r1.handler == "big-one" and r1.original_handler is None  # flagged, not re-routed
    assert r1.capacity["verdict"] == "spill"
    assert r1.capacity["slowdown"] == pytest.approx(4.4)
    assert r2.capacity is None and "capacity" not in r2.to_json_dict()
    store.append_plan(routed)
    assert not any(r.model_extra for r in store.latest_plans()["wp-cap"].subtasks)  # capacity is declared
    assert conductor.route_plan(routed, lambda _t: ()) is routed  # same facts: no new revision

    sent = send_to_claude_for_capacity(routed, "r1", r1.capacity["reason"])
    row = sent.subtasks[0]
    assert row.handler == "claude" and row.original_handler == "big-one"
    assert row.route_reason == "capacity: qwen3:14b runs 38 % on CPU — ~4.4× slower"
    store.append_plan(sent)
    decision, _ = conductor.record_claude_task("classification", 900, plan_id="wp-cap", row_id="r1")
    assert decision.reason == "capacity"
    other, _ = conductor.record_claude_task("classification", 900, plan_id="wp-cap", row_id="r2")
    assert other.reason != "capacity"


def test_check_json_gives_each_ensemble_its_capacity_verdict(tmp_path, fake_ollama, monkeypatch, capsys):
    import json

    from conductor_tui import cli

    fake_ollama.preload("gemma3:1b")  # 600 MB of 815 MB in VRAM
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    _ensemble(tmp_path, "skim", "gemma3:1b")
    _ensemble(tmp_path, "plain", "qwen3:1.7b")
    cli.main(["check", "--project", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    by_name = {e["name"]: e for e in data["ensembles"]}
    skim = by_name["skim"]["capacity"]
    assert skim["verdict"] == "spill" and skim["cpu_share"] == pytest.approx(0.264, abs=0.001)
    assert skim["reason"] == "gemma3:1b runs 26 % on CPU — ~3.4× slower"
    assert skim["models"][0]["size_vram"] == 600_000_000
    assert by_name["plain"]["capacity"]["models"][0]["loaded"] is False  # judged on this machine's free VRAM
