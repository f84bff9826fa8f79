"""Judge verdicts, Claude overhead and Claude-handled tasks land in the conductor's logs."""

from __future__ import annotations

import pytest

from conductor_tui.core.records import RowStatus, Score
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import (
    judge_run,
    record_claude_overhead,
    record_claude_task,
    record_evaluation,
    record_judge_verdict,
)
from conductor_tui.providers.anthropic import ClaudeError, ClaudeProvider
from tests.fakes.anthropic_server import Reply


def test_judge_verdict_becomes_an_evaluation_awaiting_review(tmp_path, fake_anthropic):
    record_evaluation(tmp_path, "extract-endpoints", "good", evaluator="human")
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url)
    fake_anthropic.script(
        Reply(
            tool_input={
                "reflection": "Missed 3 of 12 endpoints.",
                "score": "poor",
                "failure_mode": "incomplete",
            },
            input_tokens=600,
            output_tokens=40,
        )
    )
    verdict = provider.judge("Extract endpoints", "server.py", "GET /a", ensemble="extract-endpoints")
    written = record_judge_verdict(
        tmp_path,
        verdict,
        ensemble="extract-endpoints",
        routing_id="rd-1",
        input_summary="server.py",
        output_length=6,
    )
    stored = ProjectStore(tmp_path).read_evaluations().records[-1]
    assert stored.id == written.id
    assert stored.evaluator == "claude" and stored.review == "pending"
    assert stored.score == Score.POOR and stored.judge_score == Score.POOR
    assert stored.reasoning == stored.judge_reasoning == "Missed 3 of 12 endpoints."
    assert stored.failure_mode.value == "incomplete"
    assert stored.judge_tokens == 640  # judge cost, subtracted from savings
    assert stored.invocation_number == 2 and stored.phase.value == "calibrate"


def test_failed_judge_call_records_nothing(tmp_path, fake_anthropic):
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url)
    fake_anthropic.script(
        Reply(tool_input={"reflection": "long " * 40, "score": "good"}, chunk_chars=8, error_after=5)
    )
    with pytest.raises(ClaudeError) as err:
        provider.judge("t", "i", "o")
    assert err.value.partial.startswith("long")
    assert ProjectStore(tmp_path).read_evaluations().records == []


def test_claude_overhead_is_logged_as_an_event_not_a_decision(tmp_path):
    class _Usage:
        total = 1234

        def to_dict(self):
            return {"total_tokens": 1234}

    event = record_claude_overhead(tmp_path, "planning", _Usage(), session="s", plan_id="plan-1")
    stored = ProjectStore(tmp_path).read_routing().records[0]
    assert stored.id == event.id and stored.event == "claude-overhead" and not stored.is_decision
    assert stored.claude_tokens == 1234 and stored.purpose == "planning" and stored.plan_id == "plan-1"


def test_claude_task_categories(tmp_path):
    d1, p1 = record_claude_task(tmp_path, "cross-file-analysis", 2000)  # taxonomy says ensemble-delegable
    assert d1.delegability_category.value == "ensemble-delegable" and p1.interim_claude_count == 1
    d2, p2 = record_claude_task(tmp_path, "naming", 50, category="claude-only")
    assert d2.reason == "competence-boundary" and p2 is None
    with pytest.raises(ValueError):
        record_claude_task(tmp_path, "x", -1)


def test_judge_run_streams_and_records(tmp_path, fake_anthropic):
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url)
    fake_anthropic.script(
        Reply(
            tool_input={
                "reflection": "All fields present and correct.",
                "score": "good",
                "failure_mode": None,
            },
            chunk_chars=6,
        )
    )
    deltas: list[str] = []
    evaluation = judge_run(
        tmp_path,
        provider,
        ensemble="e",
        task="t",
        input_summary="in",
        output="out!",
        on_reflection_delta=deltas.append,
        routing_id="rd-9",
    )
    assert "".join(deltas) == "All fields present and correct."
    stored = ProjectStore(tmp_path).read_evaluations().records[0]
    assert stored.id == evaluation.id and stored.routing_id == "rd-9" and stored.output_length == 4
    assert stored.invocation_number == 1 and stored.score == Score.GOOD and stored.review == "pending"


def test_plan_meta_task_persists_a_pending_plan_and_counts_planning_tokens(tmp_path, fake_anthropic):
    from conductor_tui.core.planner import AvailableEnsemble
    from conductor_tui.handoff import get_plan, plan_meta_task

    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url)
    fake_anthropic.script(
        Reply(
            tool_input={
                "phases": [],
                "subtasks": [
                    {
                        "id": "a",
                        "description": "Extract TODOs",
                        "task_type": "extraction",
                        "delegability_category": "agent-delegable",
                        "depends_on": [],
                        "expected_repetitions": 3,
                    },
                ],
            },
            input_tokens=900,
            output_tokens=100,
            chunk_chars=20,
        )
    )
    progress: list[int] = []
    build = plan_meta_task(
        tmp_path,
        "Clean up TODOs",
        provider=provider,
        session="s-x",
        on_progress=progress.append,
        ensembles=[AvailableEnsemble("extract-todos", "Extract TODO comments")],
    )
    assert progress and build.planning_tokens == 1000 and build.usage.total == 1000
    stored = get_plan(tmp_path, build.plan.id)
    assert stored.session == "s-x" and stored.subtasks[0].handler == "extract-todos"
    assert stored.subtasks[0].status == RowStatus.PENDING
    context = fake_anthropic.message_requests()[0].body["messages"][0]["content"]
    assert "extract-todos" in context
    overhead = ProjectStore(tmp_path).read_routing().records
    assert [(d.event, d.claude_tokens, d.plan_id) for d in overhead] == [("claude-overhead", 1000, stored.id)]


def test_plan_meta_task_without_a_key_writes_nothing(tmp_path):
    from conductor_tui.handoff import plan_meta_task

    with pytest.raises(ClaudeError) as err:
        plan_meta_task(tmp_path, "anything", ensembles=[])
    assert err.value.kind == "unavailable"
    assert not (tmp_path / ".llm-orc").exists()


def _bump_interim(project: str, n: int, start) -> None:
    start.wait(10)
    for _ in range(n):
        record_claude_task(project, "classification", 10, delegable=True)


def test_concurrent_claude_tasks_lose_no_interim_count(tmp_path):
    """Processes recording Claude tasks at once: every one reaches task-profiles.yaml
    (the read-modify-write happens under the profiles' lock)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_bump_interim, args=(str(tmp_path), 15, start)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ProjectStore(tmp_path)
    assert len(store.read_routing().records) == 60
    assert store.load_task_profiles().profiles["classification"].interim_claude_count == 60
