"""The session's CLI verbs end to end: real subprocesses, the files, FakeOllama, FakeAnthropic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core.records import RowStatus
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import (
    claim_requests,
    cockpit_closed,
    cockpit_heartbeat,
    decide_rows,
    get_plan,
    post_result,
)
from tests.fakes.anthropic_server import Reply

PLAN = {
    "meta_task": "Refactor the auth module",
    "subtasks": [
        {
            "id": "s1",
            "description": "Extract endpoints from server.py",
            "task_type": "extraction",
            "delegability_category": "agent-delegable",
            "expected_repetitions": 4,
        },
        {
            "id": "s2",
            "description": "Summarize the auth docs",
            "task_type": "summarization",
            "delegability_category": "agent-delegable",
            "handler": "summarize-docs",
        },
        {
            "id": "s3",
            "description": "Design the new flow",
            "task_type": "architectural-design",
            "delegability_category": "claude-only",
            "depends_on": ["s1", "s2"],
        },
    ],
}

ENSEMBLE = """\
name: echo-summary
description: Summarise the input in one line.
agents:
  - name: summarize
    model: qwen3:1.7b
    provider: ollama
    system_prompt: Summarise the input in one line.
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / ".llm-orc" / "ensembles").mkdir(parents=True)
    (tmp_path / ".llm-orc" / "ensembles" / "echo-summary.yaml").write_text(ENSEMBLE)
    return tmp_path


def _run(project: Path, *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "conductor_tui", *args],
        cwd=project,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _popen(project: Path, *args: str, env: dict | None = None):
    return subprocess.Popen(
        [sys.executable, "-m", "conductor_tui", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def _main(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- plans


def test_session_submits_a_plan_and_waits_for_the_decisions(project):
    submitted = _run(project, "plan", "submit", "-", "--session", "s-e2e", "--json", stdin=json.dumps(PLAN))
    assert submitted.returncode == 0, submitted.stderr
    info = json.loads(submitted.stdout)
    plan_id = info["plan_id"]
    assert info["session"] == "s-e2e" and info["decided"] is False and info["cockpit_open"] is False
    handlers = [r["handler"] for r in info["rows"]]
    assert handlers == ["create-ensemble", "summarize-docs", "claude"]  # gaps and Claude-only by the rules

    early = _run(project, "plan", "wait", plan_id, "--timeout", "0.2", "--json")
    assert early.returncode == 3 and json.loads(early.stdout)["decided"] is False

    waiter = _popen(project, "plan", "wait", plan_id, "--session", "s-e2e", "--timeout", "30", "--json")
    # The cockpit (here: this test process) decides row by row.
    decide_rows(project, plan_id, {"s1": "approved"})
    decide_rows(project, plan_id, {"s2": {"status": "approved", "handler": "echo-summary"}})
    decide_rows(project, plan_id, {"s3": {"status": "rejected", "note": "later"}})
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    decided = json.loads(out)
    assert decided["decided"] is True and decided["revision"] == 4
    rows = {r["id"]: r for r in decided["rows"]}
    assert rows["s1"]["status"] == "approved"
    assert rows["s2"]["handler"] == "echo-summary" and rows["s2"]["original_handler"] == "summarize-docs"
    assert rows["s3"]["status"] == "rejected" and rows["s3"]["note"] == "later"


def test_plan_wait_for_another_session_or_unknown_plan_exits_2(project, capsys):
    code, info = _main(
        capsys,
        "plan",
        "submit",
        str(_write(project, PLAN)),
        "--project",
        str(project),
        "--session",
        "s-a",
        "--json",
    )
    assert code == 0
    code, out = _main(
        capsys, "plan", "wait", info["plan_id"], "--project", str(project), "--session", "s-b", "--json"
    )
    assert code == 2 and "belongs to session" in out["error"]
    code, out = _main(capsys, "plan", "wait", "plan-missing", "--project", str(project), "--json")
    assert code == 2


def test_plan_list_and_show_are_per_session(project, capsys):
    _main(
        capsys,
        "plan",
        "submit",
        str(_write(project, PLAN)),
        "--project",
        str(project),
        "--session",
        "s-a",
        "--json",
    )
    _main(
        capsys,
        "plan",
        "submit",
        str(_write(project, PLAN)),
        "--project",
        str(project),
        "--session",
        "s-b",
        "--json",
    )
    code, listed = _main(capsys, "plan", "list", "--project", str(project), "--session", "s-a", "--json")
    assert code == 0 and len(listed["plans"]) == 1 and listed["plans"][0]["session"] == "s-a"
    code, shown = _main(
        capsys, "plan", "show", listed["plans"][0]["plan_id"], "--project", str(project), "--json"
    )
    assert code == 0 and len(shown["rows"]) == 3


def test_bad_plan_file_names_the_file_and_line(project, capsys):
    bad = project / "plan.json"
    bad.write_text('{"subtasks": [\n  {"description": "a"},\n  oops\n]}')
    code, out = _main(capsys, "plan", "submit", str(bad), "--project", str(project), "--json")
    assert code == 2 and f"{bad}:3" in out["error"]
    assert not ProjectStore(project).plans_path.exists()  # nothing half-written


def test_plain_text_plan_on_stdin(project):
    text = "1. Extract endpoints → create ensemble (agent-delegable)\n2. Design the flow → Claude (claude-only)\n"
    result = _run(project, "plan", "submit", "--json", stdin=text)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [r["handler"] for r in rows] == ["create-ensemble", "claude"]


def _write(project: Path, data: dict) -> Path:
    path = project / f"plan-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(data))
    return path


# --------------------------------------------------------------------------- runs


def test_request_run_goes_to_the_open_cockpit(project):
    cockpit_heartbeat(project)
    try:
        proc = _popen(
            project,
            "request-run",
            "echo-summary",
            "--input",
            "the README",
            "--wait",
            "--timeout",
            "30",
            "--session",
            "s1",
            "--task-type",
            "summarization",
            "--json",
        )
        claimed = _until(lambda: claim_requests(project))  # the cockpit's poll
        req = claimed[0]
        assert (req.ensemble, req.input, req.session, req.task_type) == (
            "echo-summary",
            "the README",
            "s1",
            "summarization",
        )
        post_result(project, req.id, "running", by="cockpit")
        post_result(
            project,
            req.id,
            "completed",
            by="cockpit",
            output="A one-line summary.",
            total_tokens=77,
            routing_id="rd-x",
        )
        out, err = proc.communicate(timeout=30)
    finally:
        cockpit_closed(project)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["by"] == "cockpit"
    assert result["output"] == "A one-line summary." and result["total_tokens"] == 77


def test_request_run_without_wait_returns_the_request_id(project, capsys):
    cockpit_heartbeat(project)
    try:
        proc = _popen(project, "request-run", "echo-summary", "--input", "x", "--json")
        req = _until(lambda: claim_requests(project))[0]
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert json.loads(out) == {
            "ok": True,
            "exit_code": 0,
            "request_id": req.id,
            "status": "claimed",
            "by": "cockpit",
            "ensemble": "echo-summary",
        }
        post_result(project, req.id, "failed", by="cockpit", error="model missing")
        code, result = _main(capsys, "request-result", req.id, "--project", str(project), "--json")
        assert code == 4 and result["error"] == "model missing"
    finally:
        cockpit_closed(project)


def test_request_run_headless_on_ollama_when_no_cockpit(project, fake_ollama):
    env = {"OLLAMA_HOST": fake_ollama.url}
    result = _run(
        project,
        "request-run",
        "echo-summary",
        "--input",
        "Summarise the quarterly report",
        "--task-type",
        "summarization",
        "--session",
        "s1",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["by"] == "headless"
    assert "qwen3:1.7b answers" in data["output"] and data["total_tokens"] > 0
    assert "no cockpit open" in result.stderr
    decisions = ProjectStore(project).read_routing().records
    assert [d.routed_to for d in decisions] == ["echo-summary"]
    assert decisions[0].session == "s1" and decisions[0].id == data["routing_id"]
    assert Path(data["artifact"]).is_file()


def test_request_run_falls_back_to_headless_when_the_cockpit_does_not_claim(project, fake_ollama):
    cockpit_heartbeat(project)  # a cockpit that never polls
    try:
        result = _run(
            project,
            "request-run",
            "echo-summary",
            "--input",
            "x",
            "--claim-timeout",
            "0.3",
            "--json",
            env={"OLLAMA_HOST": fake_ollama.url},
        )
    finally:
        cockpit_closed(project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["by"] == "headless"


def test_request_run_of_unknown_ensemble_fails_with_exit_4(project):
    result = _run(project, "request-run", "no-such-ensemble", "--input", "x", "--json")
    assert result.returncode == 4
    data = json.loads(result.stdout)
    assert data["status"] == "failed" and "not found" in data["error"]


def test_request_run_headless_with_ollama_down_fails_cleanly(project, closed_port):
    result = _run(
        project,
        "request-run",
        "echo-summary",
        "--input",
        "x",
        "--json",
        env={"OLLAMA_HOST": f"http://127.0.0.1:{closed_port}"},
    )
    assert result.returncode == 4
    assert json.loads(result.stdout)["status"] == "failed"


# --------------------------------------------------------------------------- records


def test_record_claude_task_counts_debt_for_delegable_types(project, capsys):
    code, out = _main(
        capsys,
        "record",
        "claude-task",
        "--task-type",
        "extraction",
        "--tokens",
        "1500",
        "--delegable",
        "--summary",
        "pull endpoints",
        "--project",
        str(project),
        "--json",
    )
    assert code == 0 and out["interim_claude_count"] == 1 and out["reason"] == "no-ensemble"
    code, out = _main(
        capsys,
        "record",
        "claude-task",
        "--task-type",
        "extraction",
        "--tokens",
        "300",
        "--delegable",
        "--project",
        str(project),
        "--json",
    )
    assert out["interim_claude_count"] == 2
    code, out = _main(
        capsys,
        "record",
        "claude-task",
        "--task-type",
        "architectural-design",
        "--tokens",
        "900",
        "--project",
        str(project),
        "--json",
    )
    assert code == 0 and out["interim_claude_count"] is None and out["delegability_category"] == "claude-only"
    store = ProjectStore(project)
    decisions = store.read_routing().records
    assert [d.claude_tokens for d in decisions] == [1500, 300, 900]
    assert all(d.routed_to == "claude" for d in decisions)
    assert store.load_task_profiles().profiles["extraction"].interim_claude_count == 2
    assert "architectural-design" not in store.load_task_profiles().profiles


def test_record_evaluation_numbers_invocations_and_rejects_bad_scores(project, capsys):
    args = ("record", "evaluation", "--ensemble", "echo-summary", "--project", str(project), "--json")
    code, first = _main(capsys, *args, "--score", "good", "--reasoning", "complete and correct")
    assert code == 0 and first["invocation_number"] == 1 and first["phase"] == "calibrate"
    code, second = _main(capsys, *args, "--score", "poor", "--failure-mode", "incomplete")
    assert second["invocation_number"] == 2
    code, bad = _main(capsys, *args, "--score", "brilliant")
    assert code == 2 and "good, acceptable or poor" in bad["error"]
    evaluations = ProjectStore(project).read_evaluations().records
    assert [getattr(e.score, "value", e.score) for e in evaluations] == ["good", "poor"]
    assert evaluations[1].failure_mode.value == "incomplete"


# --------------------------------------------------------------------------- Claude planner


def test_plan_from_task_without_a_key_exits_2(project, capsys):
    code, out = _main(capsys, "plan", "from-task", "Build a handler", "--project", str(project), "--json")
    assert code == 2 and "ANTHROPIC_API_KEY" in out["error"]


def test_plan_from_task_with_claude(project, fake_anthropic):
    fake_anthropic.script(
        Reply(
            tool_input={
                "phases": [{"name": "Build"}],
                "subtasks": [
                    {
                        "id": "s1",
                        "description": "Summarise the spec",
                        "task_type": "summarization",
                        "delegability_category": "agent-delegable",
                        "depends_on": [],
                        "expected_repetitions": 3,
                        "estimated_claude_tokens": 1000,
                    },
                    {
                        "id": "s2",
                        "description": "Choose the API shape",
                        "task_type": "api-design",
                        "delegability_category": "claude-only",
                        "depends_on": ["s1"],
                        "expected_repetitions": 1,
                        "claude_only_criterion": "aesthetic-judgment",
                    },
                ],
            },
            input_tokens=2000,
            output_tokens=500,
        )
    )
    env = {"ANTHROPIC_API_KEY": fake_anthropic.api_key, "ANTHROPIC_BASE_URL": fake_anthropic.url}
    result = _run(project, "plan", "from-task", "Write the handler", "--session", "s-c", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["planning_tokens"] == 2500 and data["session"] == "s-c"
    assert [r["handler"] for r in data["rows"]] == ["echo-summary", "claude"]  # matched by the rules
    plan = get_plan(project, data["plan_id"])
    assert plan.source == "claude" and all(r.status == RowStatus.PENDING for r in plan.subtasks)
    overhead = [d for d in ProjectStore(project).read_routing().records if d.event == "claude-overhead"]
    assert overhead[0].claude_tokens == 2500 and overhead[0].plan_id == plan.id
    assert "tools" in fake_anthropic.message_requests()[0].body


# --------------------------------------------------------------------------- the cockpit's side


def test_cockpit_link_runs_a_session_request_on_ollama(project, fake_ollama):
    """A CockpitLink (what the app does on a timer) picks up the session's request, runs it
    with the engine against FakeOllama, and the session's `request-run --wait` gets it."""
    import asyncio
    import threading

    from conductor_tui.core.plan import plan_from_data
    from conductor_tui.engine import loader
    from conductor_tui.engine.artifacts import record_run
    from conductor_tui.engine.executor import Executor
    from conductor_tui.handoff import CockpitLink, submit_plan

    plan = submit_plan(project, plan_from_data(PLAN), session="s1")
    decide_rows(project, plan.id, {"s2": {"status": "approved", "handler": "echo-summary"}})
    link = CockpitLink(project)
    link.tick()  # heartbeat: the cockpit is open
    proc = _popen(
        project,
        "request-run",
        "echo-summary",
        "--input",
        "Summarise the release notes",
        "--wait",
        "--timeout",
        "30",
        "--plan-id",
        plan.id,
        "--row-id",
        "s2",
        "--json",
    )
    errors: list[BaseException] = []

    def cockpit():
        try:
            update = _until(lambda: link.tick().requests or None)
            req = update[0] if isinstance(update, list) else update
            link.started(req)
            spec = loader.load_catalog(project).get(req.ensemble).spec
            streamed: list[str] = []
            executor = Executor(project=project, host=fake_ollama.url)
            result = asyncio.run(
                executor.run(spec, req.input, on_event=lambda e: streamed.append(type(e).__name__))
            )
            assert "TextDelta" in streamed  # it streamed in the cockpit
            decision = record_run(ProjectStore(project), result, plan_id=req.plan_id, row_id=req.row_id)
            link.finished(req, result, decision)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=cockpit)
    thread.start()
    out, err = proc.communicate(timeout=60)
    thread.join(timeout=30)
    link.close()
    assert not errors, errors
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["by"] == "cockpit" and data["status"] == "completed"
    assert "qwen3:1.7b answers" in data["output"]
    decision = ProjectStore(project).read_routing().records[-1]
    assert decision.id == data["routing_id"] and decision.plan_id == plan.id and decision.row_id == "s2"
    row = {r.id: r for r in get_plan(project, plan.id).subtasks}["s2"]
    assert row.status == RowStatus.DONE and row.routing_id == decision.id  # the table shows it done


def test_cockpit_link_reports_new_and_changed_plans_once(project):
    from conductor_tui.core.plan import plan_from_data
    from conductor_tui.handoff import CockpitLink, submit_plan

    link = CockpitLink(project, claim=False)
    assert link.tick().plans == []
    plan = submit_plan(project, plan_from_data(PLAN), session="s1")
    first = link.tick().plans
    assert [p.id for p in first] == [plan.id]
    assert link.tick().plans == []
    decide_rows(project, plan.id, {"s1": "approved"})
    again = link.tick().plans
    assert again[0].revision == 2
    link.close()


def test_run_request_headless_in_process(project, fake_ollama):
    from conductor_tui.handoff import request_run, run_request_headless, try_claim, wait_for_result

    req = request_run(
        project,
        "echo-summary",
        "Summarise this",
        task_type="summarization",
        plan_id="p",
        row_id="r",
        session="s9",
    )
    assert try_claim(project, req.id, "headless")
    event = run_request_headless(project, req, host=fake_ollama.url)
    assert event.status == "completed" and event.by == "headless" and event.total_tokens > 0
    assert wait_for_result(project, req.id, timeout=1).routing_id == event.routing_id
    decision = ProjectStore(project).read_routing().records[-1]
    assert (decision.plan_id, decision.row_id, decision.task_type) == ("p", "r", "summarization")
    assert decision.session == "s9" and decision.id == event.routing_id
    missing = request_run(project, "nope", "x")
    assert run_request_headless(project, missing).status == "failed"


def test_request_run_respects_the_persons_decision_on_the_row(project, capsys, fake_ollama, monkeypatch):
    from conductor_tui.core.plan import plan_from_data
    from conductor_tui.handoff import submit_plan

    plan = submit_plan(project, plan_from_data(PLAN), session="s1")
    base = (
        "request-run",
        "echo-summary",
        "--input",
        "x",
        "--project",
        str(project),
        "--plan-id",
        plan.id,
        "--json",
    )
    code, out = _main(capsys, *base, "--row-id", "s1")
    assert code == 4 and "not decided yet" in out["error"]
    decide_rows(project, plan.id, {"s1": "rejected", "s2": "approved"})
    code, out = _main(capsys, *base, "--row-id", "s1")
    assert code == 4 and "rejected by the person" in out["error"]
    code, out = _main(capsys, *base, "--row-id", "nope")
    assert code == 2
    assert not (project / ".llm-orc/conductor/requests.jsonl").exists()  # nothing was requested
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    code, out = _main(capsys, *base, "--row-id", "s2")
    assert code == 0 and out["status"] == "completed"
    row = {r.id: r for r in get_plan(project, plan.id).subtasks}["s2"]
    assert row.status == RowStatus.DONE and row.routing_id == out["routing_id"]
    statuses = [
        {r.id: r.status for r in p.subtasks}["s2"] for p in ProjectStore(project).plan_history(plan.id)
    ]
    assert statuses[-2:] == [RowStatus.RUNNING, RowStatus.DONE]


def test_record_claude_task_for_a_row_sent_for_capacity_logs_reason_capacity(project, capsys):
    from conductor_tui.core.plan import send_to_claude_for_capacity
    from conductor_tui.core.records import PlanRow, WorkflowPlan

    store = ProjectStore(project)
    plan = WorkflowPlan(
        id="wp-cap",
        session="s-cap",
        subtasks=[
            PlanRow(id="r1", description="Summarise", task_type="summarization", handler="echo-summary")
        ],
    )
    store.append_plan(plan)
    store.append_plan(
        send_to_claude_for_capacity(plan, "r1", "2 requests ahead on 127.0.0.1:11434 (1 slot) — ~3× longer")
    )
    code, out = _main(
        capsys,
        "record",
        "claude-task",
        "--task-type",
        "summarization",
        "--tokens",
        "700",
        "--plan-id",
        "wp-cap",
        "--row-id",
        "r1",
        "--project",
        str(project),
        "--json",
    )
    assert code == 0 and out["reason"] == "capacity"
    logged = [d for d in store.read_routing().records if d.row_id == "r1"]
    assert [d.reason for d in logged] == ["capacity"] and logged[0].plan_id == "wp-cap"
