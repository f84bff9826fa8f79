"""ClaudeProvider (planner + judge) with the real ``anthropic`` client against FakeAnthropic."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conductor_tui.core.records import FailureMode, Score
from conductor_tui.providers.anthropic import (
    JUDGE_TOOL,
    NO_KEY_MESSAGE,
    PLAN_TOOL,
    ClaudeError,
    ClaudeProvider,
    parse_partial_json,
)
from tests.fakes.anthropic_server import Fault, Reply

PLAN = {
    "phases": [{"name": "Research", "goal": "know the code"}, {"name": "Build"}],
    "subtasks": [
        {
            "id": "s1",
            "description": "Extract the API endpoints from server.py",
            "phase": "Research",
            "task_type": "extraction",
            "delegability_category": "agent-delegable",
            "dag_test": {"dag": None, "script": None, "fanout": None, "synthesis": None},
            "depends_on": [],
            "expected_repetitions": 6,
            "estimated_claude_tokens": 900,
        },
        {
            "id": "s2",
            "description": "Gather how auth is used across the modules",
            "phase": "Research",
            "task_type": "cross-file-analysis",
            "delegability_category": "ensemble-delegable",
            "dag_test": {"dag": True, "script": True, "fanout": True, "synthesis": True},
            "depends_on": ["s1"],
            "expected_repetitions": 1,
            "prepares": "s3",
            "estimated_claude_tokens": 4000,
        },
        {
            "id": "s3",
            "description": "Decide the new auth architecture",
            "phase": "Build",
            "task_type": "architectural-design",
            "delegability_category": "Claude-only",
            "depends_on": ["s2"],
            "expected_repetitions": 1,
            "claude_only_criterion": "interacting-constraints",
            "estimated_claude_tokens": 3000,
        },
    ],
}

VERDICT = {
    "reflection": "The extraction lists all 12 endpoints with correct methods; the JSON is well formed "
    'and nothing is invented — "GET /users" and "POST /login" match server.py.',
    "score": "good",
    "failure_mode": None,
}


@pytest.fixture
def claude(fake_anthropic):
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=10)
    yield provider
    provider.close()


# --------------------------------------------------------------------------- availability


def test_without_a_key_claude_is_unavailable_with_a_clear_message():
    provider = ClaudeProvider()
    assert not provider.available
    assert provider.unavailable_reason == NO_KEY_MESSAGE
    assert "ANTHROPIC_API_KEY" in NO_KEY_MESSAGE
    with pytest.raises(ClaudeError) as err:
        provider.judge("t", "i", "o")
    assert err.value.kind == "unavailable"
    assert "sk-" not in repr(ClaudeProvider(api_key="sk-secret"))


def test_key_and_base_url_come_from_the_environment(monkeypatch, fake_anthropic):
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake_anthropic.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.url)
    provider = ClaudeProvider()
    assert provider.available
    assert provider.count_tokens("hello there") >= 1
    request = fake_anthropic.requests[-1]
    assert request.path == "/v1/messages/count_tokens"
    assert request.headers["authorization"] == f"Bearer {fake_anthropic.api_key}"


def test_importing_the_provider_does_not_import_anthropic():
    code = (
        "import sys, conductor_tui.providers.anthropic as p; "
        "assert 'anthropic' not in sys.modules, 'anthropic imported eagerly'; "
        "p.ClaudeProvider(api_key='k'); assert 'anthropic' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- planner


def test_plan_is_a_forced_tool_call_parsed_into_planner_output(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=PLAN, input_tokens=1234, output_tokens=567))
    output, usage = claude.plan(
        "Refactor the auth module and write tests", {"ensembles": ["extract-endpoints"]}
    )

    body = fake_anthropic.message_requests()[-1].body
    assert body["tool_choice"] == {"type": "tool", "name": PLAN_TOOL["name"]}
    assert body["tools"][0]["name"] == "submit_plan"
    assert body["stream"] is True
    assert "temperature" not in body
    assert "extract-endpoints" in body["messages"][0]["content"]

    assert output.meta_task == "Refactor the auth module and write tests"
    assert [p.name for p in output.phases] == ["Research", "Build"]
    s1, s2, s3 = output.subtasks
    assert (s1.task_type, s1.delegability_category, s1.expected_repetitions) == (
        "extraction",
        "agent-delegable",
        6,
    )
    assert s2.dag_test is not None and s2.dag_test.synthesis is True and s2.prepares == "s3"
    assert s3.delegability_category == "claude-only"  # "Claude-only" normalised
    assert s3.claude_only_criterion == "interacting-constraints"
    assert s3.depends_on == ["s2"]
    assert (usage.input_tokens, usage.output_tokens, usage.total, usage.calls) == (1234, 567, 1801, 1)


def test_plan_progress_is_reported_while_streaming(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=PLAN, chunk_chars=40))
    seen: list[int] = []
    claude.plan("meta", on_progress=seen.append)
    assert len(seen) > 5 and seen == sorted(seen)


def test_stream_tool_is_public_and_streams_one_forced_tool_call(claude, fake_anthropic):
    tool = {
        "name": "record_thing",
        "description": "record a thing",
        "input_schema": {"type": "object", "properties": {"thing": {"type": "string"}}},
    }
    fake_anthropic.script(Reply(tool_input={"thing": "a long thing " * 8}, chunk_chars=10))
    seen: list[str] = []
    raw, usage, data = claude.stream_tool(tool, "sys", "prompt", 300, on_progress=seen.append)
    assert data == {"thing": "a long thing " * 8} and raw.startswith('{"thing"')
    assert len(seen) > 3 and seen[-1] == raw and usage.total > 0
    body = fake_anthropic.message_requests()[-1].body
    assert body["tool_choice"] == {"type": "tool", "name": "record_thing"} and body["max_tokens"] == 300
    assert ClaudeProvider._stream_tool is ClaudeProvider.stream_tool  # former name still works


def test_plan_without_subtasks_or_wrong_shape_is_a_clear_error(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input={"phases": [], "subtasks": []}))
    with pytest.raises(ClaudeError, match="no subtasks") as err:
        claude.plan("meta")
    assert err.value.kind == "bad-output"
    fake_anthropic.script(Reply(tool_input={"phases": [], "subtasks": [{"description": "no id"}]}))
    with pytest.raises(ClaudeError, match="plan schema"):
        claude.plan("meta")


def test_empty_meta_task_is_refused_without_a_call(claude, fake_anthropic):
    with pytest.raises(ClaudeError, match="empty"):
        claude.plan("   ")
    assert fake_anthropic.requests == []


# --------------------------------------------------------------------------- judge


def test_judge_schema_orders_reflection_before_score():
    assert list(JUDGE_TOOL["input_schema"]["properties"]) == ["reflection", "score", "failure_mode"]


def test_judge_streams_reflection_deltas_then_returns_the_verdict(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=VERDICT, chunk_chars=9, input_tokens=800, output_tokens=90))
    deltas: list[str] = []
    verdict = claude.judge(
        "Extract endpoints", "server.py", '[{"method": "GET"}]', deltas.append, ensemble="extract-endpoints"
    )
    assert len(deltas) > 5  # streamed in pieces, not at the end
    assert "".join(deltas) == VERDICT["reflection"]  # escapes decoded, nothing lost or doubled
    assert verdict.reflection == VERDICT["reflection"]
    assert verdict.score is Score.GOOD and verdict.failure_mode is None
    assert (verdict.usage.input_tokens, verdict.usage.output_tokens) == (800, 90)
    body = fake_anthropic.message_requests()[-1].body
    assert body["tool_choice"] == {"type": "tool", "name": "record_evaluation"}
    assert "extract-endpoints" in body["messages"][0]["content"]


def test_reflection_reaches_the_callback_before_the_score_exists(claude, fake_anthropic):
    """Cut the stream after the reflection but before the score: the reflection was
    already forwarded, so it was streamed before the score was known."""
    reflection = "Half of the endpoints are missing and two are invented."
    payload = {"reflection": reflection, "score": "poor", "failure_mode": "hallucination"}
    import json

    text = json.dumps(payload)
    cut_at = text.index('"score"') // 5  # deltas of 5 chars: stop before the score key
    fake_anthropic.script(Reply(tool_input=payload, chunk_chars=5, cut_after=cut_at))
    deltas: list[str] = []
    with pytest.raises(ClaudeError) as err:
        claude.judge("t", "i", "o", deltas.append)
    assert err.value.kind == "cut"
    got = "".join(deltas)
    assert got and reflection.startswith(got) and len(got) > len(reflection) // 2
    assert err.value.partial == got  # nothing lost: the partial reflection travels with the error


def test_poor_verdict_carries_its_failure_mode_and_others_do_not(claude, fake_anthropic):
    fake_anthropic.script(
        Reply(
            tool_input={
                "reflection": "Invented two endpoints.",
                "score": "Poor",
                "failure_mode": "Hallucination",
            }
        ),
        Reply(tool_input={"reflection": "Fine.", "score": "acceptable", "failure_mode": "incomplete"}),
    )
    poor = claude.judge("t", "i", "o")
    assert poor.score is Score.POOR and poor.failure_mode is FailureMode.HALLUCINATION
    ok = claude.judge("t", "i", "o")
    assert ok.score is Score.ACCEPTABLE and ok.failure_mode is None


def test_judge_without_valid_score_keeps_the_reflection(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input={"reflection": "Looks fine to me.", "score": "excellent"}))
    with pytest.raises(ClaudeError, match="no valid score") as err:
        claude.judge("t", "i", "o")
    assert err.value.kind == "bad-output" and err.value.partial == "Looks fine to me."


def test_judge_truncates_huge_outputs(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=VERDICT))
    claude.judge("t", "i", "x" * 100_000, max_output_chars=1000)
    content = fake_anthropic.message_requests()[-1].body["messages"][0]["content"]
    assert "[… truncated]" in content and len(content) < 2000 and "100000 characters" in content


def test_parse_partial_json_keeps_trailing_strings():
    assert parse_partial_json('{"reflection": "abc') == {"reflection": "abc"}
    assert parse_partial_json("") is None
    assert parse_partial_json('{"a": tru') in ({}, {"a": True}, None)


# --------------------------------------------------------------------------- faults


def test_429_with_retry_after_ms_is_retried_then_succeeds(claude, fake_anthropic):
    fake_anthropic.script(Fault(429, retry_after_ms=20), Reply(tool_input=VERDICT))
    verdict = claude.judge("t", "i", "o")
    assert verdict.score is Score.GOOD
    first, second = fake_anthropic.message_requests()
    assert second.headers.get("x-stainless-retry-count") == "1"
    assert second.timestamp - first.timestamp >= 0.015  # honoured retry-after-ms


def test_529_overloaded_is_retried_then_succeeds(claude, fake_anthropic):
    fake_anthropic.script(
        Fault(529, retry_after_ms=10), Fault(529, retry_after_ms=10), Reply(tool_input=PLAN)
    )
    output, _usage = claude.plan("meta")
    assert len(output.subtasks) == 3
    assert len(fake_anthropic.message_requests()) == 3


def test_persistent_429_ends_in_a_rate_limit_message(fake_anthropic):
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, max_retries=1)
    fake_anthropic.script(Fault(429, retry_after_ms=5), Fault(429, retry_after_ms=5))
    with pytest.raises(ClaudeError) as err:
        provider.judge("t", "i", "o")
    assert err.value.kind == "rate-limit" and "429" in str(err.value) and "after 1 retries" in str(err.value)


def test_persistent_500_ends_in_a_server_message(fake_anthropic):
    provider = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, max_retries=0)
    fake_anthropic.script(Fault(500))
    with pytest.raises(ClaudeError) as err:
        provider.plan("meta")
    assert err.value.kind == "server" and "500" in str(err.value)


def test_wrong_key_is_an_auth_error(fake_anthropic):
    provider = ClaudeProvider(api_key="sk-wrong", base_url=fake_anthropic.url)
    with pytest.raises(ClaudeError) as err:
        provider.judge("t", "i", "o")
    assert err.value.kind == "auth" and "ANTHROPIC_API_KEY" in str(err.value)
    assert len(fake_anthropic.message_requests()) == 1  # 401 is not retried


def test_error_event_mid_stream_keeps_the_partial_reflection(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=VERDICT, chunk_chars=6, error_after=8))
    deltas: list[str] = []
    with pytest.raises(ClaudeError) as err:
        claude.judge("t", "i", "o", deltas.append)
    assert err.value.kind == "overloaded"
    assert "mid-way" in str(err.value) and "Overloaded" in str(err.value)
    assert err.value.partial == "".join(deltas) != ""
    assert err.value.usage.input_tokens > 0  # usage known so far is kept


def test_cut_connection_mid_stream_is_a_clear_error(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=PLAN, chunk_chars=10, cut_after=4))
    with pytest.raises(ClaudeError) as err:
        claude.plan("meta")
    assert err.value.kind == "cut" and "cut" in str(err.value)
    assert err.value.partial.startswith('{"phases"')


def test_slow_first_token_times_out_with_a_message(fake_anthropic):
    provider = ClaudeProvider(
        api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=0.3, max_retries=0
    )
    fake_anthropic.script(Reply(tool_input=VERDICT, first_token_delay=10.0))
    provider.client()  # the client (and the lazy `anthropic` import) outside the timing
    t0 = time.monotonic()
    with pytest.raises(ClaudeError) as err:
        provider.judge("t", "i", "o")
    assert time.monotonic() - t0 < 5.0  # the 0.3 s timeout cut the 10 s wait short
    assert err.value.kind == "timeout" and "0.3 s" in str(err.value)


def test_stalled_server_before_headers_times_out(fake_anthropic):
    provider = ClaudeProvider(
        api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=0.3, max_retries=0
    )
    fake_anthropic.script(Fault(500, delay=3.0))
    with pytest.raises(ClaudeError) as err:
        provider.plan("meta")
    assert err.value.kind == "timeout"


def test_slow_first_token_within_the_timeout_is_fine(claude, fake_anthropic):
    fake_anthropic.script(Reply(tool_input=VERDICT, first_token_delay=0.2))
    assert claude.judge("t", "i", "o").score is Score.GOOD


def test_unreachable_server_is_a_connection_error(closed_port):
    provider = ClaudeProvider(api_key="k", base_url=f"http://127.0.0.1:{closed_port}", max_retries=0)
    with pytest.raises(ClaudeError) as err:
        provider.plan("meta")
    assert err.value.kind == "connection" and str(closed_port) in str(err.value)
