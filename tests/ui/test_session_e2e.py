"""Issue 6 end to end: a simulated Claude Code session (real subprocesses calling the CLI
verbs) and the cockpit running under Pilot on the same project.

1. the session submits a plan (``plan submit … --json``); it arrives in the app on its own
   (the plan screen watches workflow-plans.jsonl);
2. the session waits (``plan wait ID``); the person approves / rejects rows by key presses;
   the session's wait returns the decisions;
3. the session asks for a run (``request-run … --wait``); the app's handoff claims it, it
   streams live in the run screen (FakeOllama, the real ``ollama`` client), and the result
   reaches the session.

Synchronisation is by conditions with deadlines (files, app state, process exit), never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

from conductor_tui.core.records import RowStatus
from conductor_tui.handoff import protocol
from conductor_tui.ui.screens.plan import PlanScreen
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import settle, wait_until

ENSEMBLE = """\
name: echo-summary
description: Summarise the input in one line.
agents:
  - name: summarize
    model: qwen3:1.7b
    provider: ollama
    system_prompt: Summarise the input in one line.
"""

REPLY = " ".join(f"word{i}" for i in range(60)) + " — the release adds rate limiting."

PLAN = {
    "meta_task": "Ship the rate limiter",
    "subtasks": [
        {
            "id": "s1",
            "description": "Summarise the release notes",
            "task_type": "summarization",
            "delegability_category": "agent-delegable",
            "handler": "echo-summary",
        },
        {
            "id": "s2",
            "description": "Choose the limiter design",
            "task_type": "architectural-design",
            "delegability_category": "claude-only",
            "claude_only_criterion": "interacting-constraints",
        },
        {
            "id": "s3",
            "description": "Generate boilerplate tests",
            "task_type": "boilerplate-generation",
            "delegability_category": "agent-delegable",
        },
    ],
}


def cli(project, *args: str) -> list[str]:
    return [sys.executable, "-m", "conductor_tui", *args]


def popen(project, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli(project, *args),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


async def finish(proc: subprocess.Popen, timeout: float = 60) -> dict:
    """Wait for the subprocess without blocking the app's event loop; its last JSON line."""
    out, err = await asyncio.to_thread(proc.communicate, timeout=timeout)
    assert proc.returncode == 0, (proc.returncode, out, err)
    return json.loads(out.strip().splitlines()[-1])


async def test_session_plan_decisions_and_run_through_the_open_cockpit(
    tmp_path, cockpit, fake_ollama_factory
):
    project = tmp_path / "svc"
    (project / ".llm-orc" / "ensembles").mkdir(parents=True)
    (project / ".llm-orc" / "ensembles" / "echo-summary.yaml").write_text(ENSEMBLE)
    (project / "plan.json").write_text(json.dumps(PLAN))
    release = threading.Event()  # the run holds after 3 tokens until the test has seen it live
    fake = fake_ollama_factory(
        [FakeModel("qwen3:1.7b", reply=REPLY, tokens_per_second=60, hold_after=3, release=release)]
    )
    # the plan screen watches the log every 0.1 s; the handoff (heartbeat + claims) ticks below
    app = cockpit(project, ollama_host=fake.url, poll_interval=0.1, handoff=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.start_handoff(interval=0.2)
        await wait_until(lambda: protocol.cockpit_alive(project) is not None, timeout=10)
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.plan is None

        # 1. the session submits a plan; the app shows it without being told
        proc = popen(project, "plan", "submit", "plan.json", "--session", "s1", "--json")
        submitted = await finish(proc)
        plan_id = submitted["plan_id"]
        assert submitted["cockpit_open"] is True and submitted["decided"] is False
        await wait_until(lambda: screen.plan is not None and screen.plan.id == plan_id, timeout=15)
        await pilot.pause()
        assert [r.status for r in screen.plan.subtasks] == [RowStatus.PENDING] * 3

        # 2. the session waits; the person decides by key presses
        waiter = popen(project, "plan", "wait", plan_id, "--timeout", "60", "--session", "s1", "--json")
        await pilot.press("a", "a", "x")  # approve #1, approve #2 (cursor advanced), reject #3
        decided = await finish(waiter)
        assert decided["decided"] is True and decided["plan_id"] == plan_id
        rows = {r["id"]: r for r in decided["rows"]}
        assert (rows["s1"]["status"], rows["s2"]["status"], rows["s3"]["status"]) == (
            "approved",
            "approved",
            "rejected",
        )
        assert rows["s1"]["handler"] == "echo-summary"

        # 3. the session asks for a run of the approved row; it streams in the app
        runner = popen(
            project,
            "request-run",
            "echo-summary",
            "--input",
            "Summarise the release notes",
            "--wait",
            "--timeout",
            "60",
            "--session",
            "s1",
            "--plan-id",
            plan_id,
            "--row-id",
            "s1",
            "--json",
        )

        def streaming() -> bool:
            view = getattr(app.screen, "view", None)
            if app.current_mode != "run" or view is None or view.ensemble != "echo-summary":
                return False
            agent = view.agents.get("summarize")
            return agent is not None and agent.streamed_tokens > 0

        await wait_until(streaming, timeout=20)
        view = app.screen.view
        assert view.status == "running"  # seen mid-stream, live in the cockpit
        release.set()
        result = await finish(runner)
        assert result["status"] == "completed" and result["by"] == "cockpit"
        assert result["output"] == REPLY and result["routing_id"]
        assert view.status == "completed" and "".join(view.agents["summarize"].chunks) == REPLY
        # the plan row the run belonged to is done, on disk and (after its watch) on screen
        row = next(r for r in protocol.get_plan(project, plan_id).subtasks if r.id == "s1")
        assert row.status == RowStatus.DONE and row.routing_id == result["routing_id"]
        app.close_handoff()
        assert protocol.cockpit_alive(project) is None
