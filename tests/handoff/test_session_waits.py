"""Session waits end: timeouts are validated, a dead cockpit is detected, and what the
session records is validated at the door (exit 2 with the allowed values)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import protocol


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc" / "evaluations").mkdir(parents=True)
    return p


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf", "soon"])
@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "wait", "plan-x", "--timeout"],
        ["request-result", "req-x", "--timeout"],
        ["request-run", "echo", "--input", "x", "--timeout"],
        ["request-run", "echo", "--input", "x", "--claim-timeout"],
    ],
)
def test_a_bad_timeout_is_a_usage_error(project: Path, argv: list[str], value: str, capsys) -> None:
    *head, flag = argv
    with pytest.raises(SystemExit) as exc:
        cli.main([*head, f"{flag}={value}", "--project", str(project)])
    assert exc.value.code == 2
    assert "seconds" in capsys.readouterr().err


def test_the_api_refuses_a_nan_timeout(project: Path) -> None:
    plan = protocol.submit_plan(project, protocol.WorkflowPlan(meta_task="m", subtasks=[]), session="s")
    with pytest.raises(protocol.HandoffError) as exc:
        protocol.wait_for_decisions(project, plan.id, timeout=float("nan"))
    assert exc.value.code == 2
    with pytest.raises(protocol.HandoffError):
        protocol.wait_for_result(project, "req-x", timeout=-1)


def test_a_request_claimed_by_a_cockpit_that_died_ends_the_wait(project: Path) -> None:
    """A real cockpit process heartbeats, claims, then is killed: the wait ends (code 5)."""
    request = protocol.request_run(project, "echo", "in")
    code = (
        "import sys, time\n"
        "from conductor_tui.handoff import protocol\n"
        f"p = {str(project)!r}\n"
        "protocol.cockpit_heartbeat(p)\n"
        "protocol.claim_requests(p)\n"
        "print('claimed', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "claimed"
        assert protocol.cockpit_alive(project) is not None
        child.kill()
        child.wait(30)
        start = time.monotonic()
        with pytest.raises(protocol.CockpitGone) as exc:
            protocol.wait_for_result(project, request.id, timeout=120)
        assert exc.value.code == 5 and "--headless" in exc.value.message
        assert time.monotonic() - start < 60  # detected from the dead pid, not the timeout
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_stale_heartbeat_from_another_host_also_ends_the_wait(project: Path) -> None:
    request = protocol.request_run(project, "echo", "in")
    protocol.post_result(project, request.id, "claimed", by="cockpit")
    path = protocol.cockpit_path(project)
    path.write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere", "heartbeat": time.time() - 3600}))
    with pytest.raises(protocol.CockpitGone):
        protocol.wait_for_result(project, request.id, timeout=60)


def _record(project: Path, *extra: str) -> list[str]:
    return ["record", "evaluation", "--ensemble", "e", "--score", "good", "--project", str(project), *extra]


def test_unknown_phase_and_evaluator_are_refused_with_the_allowed_values(project: Path, capsys) -> None:
    assert cli.main(_record(project, "--phase", "bogus")) == 2
    err = capsys.readouterr().err
    assert "calibrate, establish, trust, triggered" in err
    assert cli.main(_record(project, "--evaluator", "robot", "--json")) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and "claude, human" in out["error"]
    assert ProjectStore(project).read_evaluations().records == []
    assert cli.main(_record(project, "--phase", "Trust", "--evaluator", "Human")) == 0


def test_the_free_text_failure_mode_escape_hatch_is_kept(project: Path, capsys) -> None:
    args = ["record", "evaluation", "--ensemble", "e", "--score", "poor", "--project", str(project)]
    assert cli.main([*args, "--failure-mode", "missed the second table"]) == 0
    [evaluation] = ProjectStore(project).read_evaluations().records
    assert evaluation.failure_mode == "missed the second table"


@pytest.mark.parametrize("tokens", ["-5", "1000000000001", "1e30", "many"])
def test_token_counts_are_bounded_at_the_door(project: Path, tokens: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["record", "claude-task", "--task-type", "t", "--tokens", tokens, "--project", str(project)])
    assert exc.value.code == 2
    assert ProjectStore(project).read_routing().records == []


def test_the_api_refuses_absurd_token_counts(project: Path) -> None:
    from conductor_tui.handoff import record_claude_task

    with pytest.raises(ValueError):
        record_claude_task(project, "t", 10**27)
    assert ProjectStore(project).read_routing().records == []
