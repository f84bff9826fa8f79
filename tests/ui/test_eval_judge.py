"""Claude as judge in the Evaluate screen (issue 6, item 2), with the real ``anthropic``
client against FakeAnthropic: the reflection streams into the judge panel before the
score exists, the verdict is recorded as pending the person's review with its token
cost, faults keep the partial reflection and record no verdict, and without an API key
the key is disabled with a clear message."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Markdown, Static

from conductor_tui.ui.screens.evaluation import EvaluationScreen
from tests.fakes.anthropic_server import Fault, Reply
from tests.ui.conftest import posted
from tests.ui.review_support import SIZE, demo_app, settle

REFLECTION = (
    "Completeness: the message names the change and the reason. "
    "Correctness: the diff renames the loader and the message says so. "
    "Format: imperative subject under 72 characters, blank line, short body. "
    "Hallucinations: none found."
)
VERDICT = {"reflection": REFLECTION, "score": "acceptable", "failure_mode": None}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _evals(project: Path) -> list[dict]:
    return _lines(project / ".llm-orc/evaluations/evaluations.jsonl")


def _claude_env(monkeypatch, fake) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)


async def _select_unjudged(pilot) -> EvaluationScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, EvaluationScreen)
    table = screen.query_one("#ev-queue", DataTable)
    index = next(i for i, it in enumerate(screen.items) if it.judge is None)
    table.focus()
    table.move_cursor(row=index)
    await settle(pilot)
    assert screen.current is not None and screen.current.judge is None
    return screen


async def _until(pilot, predicate, timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` holds (an observed state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.01)


async def test_reflection_streams_before_the_score_then_the_verdict_is_recorded(
    tmp_path: Path, monkeypatch, fake_anthropic
) -> None:
    _claude_env(monkeypatch, fake_anthropic)
    # a 429 first (the client retries it), then a slow, chunked judge reply
    # held after "Completeness" until released: the streaming state is looked at while
    # the judge is really still streaming, however loaded the machine is
    release = threading.Event()
    hold = (json.dumps(VERDICT).index("Completeness") + len("Completeness")) // 12 + 3
    fake_anthropic.script(
        Fault(429, retry_after_ms=20),
        Reply(tool_input=VERDICT, chunk_chars=12, hold_after=hold, release=release),
    )
    app, project = demo_app(tmp_path, "evaluate")
    before = len(_evals(project))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _select_unjudged(pilot)
        item = screen.current
        assert screen.check_action("judge", ()) is True
        await pilot.press("j")
        panel = screen.query_one("#ev-judge", Markdown)
        # while streaming: part of the reflection is on screen, no score yet, nothing recorded
        await _until(pilot, lambda: "Completeness" in panel.source)
        assert screen.judging is item
        assert screen.judge_verdict is None
        assert "reflecting" in str(panel.border_title)
        assert len(panel.source) < len(REFLECTION)  # still streaming
        assert len(_evals(project)) == before
        assert screen.check_action("judge", ()) is None  # one judge at a time
        assert screen.check_action("record", ()) is None  # no human verdict racing the judge's
        release.set()
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)
        assert screen.judging is None
        assert screen.judge_verdict is not None and screen.judge_verdict.score.value == "acceptable"
        # the queue reloaded: the run now carries the judge's pending verdict
        assert screen.current is not None and screen.current.routing_id == item.routing_id
        assert screen.current.judge is not None
        assert "Format" in panel.source and "acceptable" in str(panel.border_title)
        assert screen.check_action("agree_judge", ()) is True
    records = _evals(project)
    assert len(records) == before + 1
    record = records[-1]
    assert record["routing_id"] == item.routing_id
    assert record["ensemble"] == item.ensemble
    assert record["evaluator"] == "claude"
    assert record["review"] == "pending"
    assert record["score"] == record["judge_score"] == "acceptable"
    assert record["judge_reasoning"] == REFLECTION
    assert record["judge_tokens"] > 0
    assert record["invocation_number"] == item.invocation_number
    assert len(fake_anthropic.message_requests()) == 2  # the 429 was retried
    body = fake_anthropic.message_requests()[-1].body
    assert body["tool_choice"]["type"] == "tool"


@pytest.mark.parametrize("fault", ["error", "cut"])
async def test_a_mid_stream_fault_keeps_the_partial_reflection_and_records_no_verdict(
    tmp_path: Path, monkeypatch, fake_anthropic, fault: str
) -> None:
    _claude_env(monkeypatch, fake_anthropic)
    kw = {"error_after": 6} if fault == "error" else {"cut_after": 6}
    fake_anthropic.script(Reply(tool_input=VERDICT, chunk_chars=12, **kw))
    app, project = demo_app(tmp_path, "evaluate")
    before = _evals(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _select_unjudged(pilot)
        await pilot.press("j")
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)
        panel = screen.query_one("#ev-judge", Markdown)
        assert screen.judging is None and screen.judge_verdict is None
        assert screen.judge_error
        assert panel.display and "Completeness" in panel.source  # the partial reflection stays
        assert "failed" in str(panel.border_title)
        errors = [n for n in posted(app) if n.severity == "error"]
        assert errors and "could not judge" in errors[-1].message
        assert "Nothing was recorded" in errors[-1].message
        assert screen.check_action("judge", ()) is True  # can try again
    assert _evals(project) == before  # no verdict recorded
    # what the failed call cost is still counted (as Claude overhead, not as a verdict)
    routing = _lines(project / ".llm-orc/evaluations/routing-log.jsonl")
    overhead = [r for r in routing if r.get("event") == "claude-overhead"]
    assert overhead and overhead[-1]["task_type"] == "judging" and overhead[-1]["claude_tokens"] > 0


async def test_without_an_api_key_the_judge_is_disabled_and_says_why(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "evaluate")
    before = _evals(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _select_unjudged(pilot)
        assert screen.check_action("judge", ()) is False  # hidden: it cannot act here
        help_text = str(screen.query_one("#ev-queue-help", Static).render())
        assert "ANTHROPIC_API_KEY" in help_text
        await pilot.press("j")
        await settle(pilot)
        assert screen.judging is None
        # the human flow is untouched: the score is still gated by a reflection
        assert screen.query_one("#ev-score").disabled
        screen.action_judge()  # e.g. from a stale palette entry: a clear message, nothing else
        await settle(pilot)
        assert any("ANTHROPIC_API_KEY" in n.message for n in posted(app))
    assert _evals(project) == before


def test_snapshot_judge_panel_after_a_finished_stream(
    snap_compare, tmp_path: Path, monkeypatch, fake_anthropic
) -> None:
    _claude_env(monkeypatch, fake_anthropic)
    fake_anthropic.script(
        Reply(
            tool_input={
                "reflection": REFLECTION,
                "score": "poor",
                "failure_mode": "incomplete",
            },
            chunk_chars=40,
            input_tokens=850,
            output_tokens=120,
        )
    )
    app, _ = demo_app(tmp_path, "evaluate")

    async def run_before(pilot) -> None:
        await _select_unjudged(pilot)
        await pilot.press("j")
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_a_judge_timeout_is_a_clear_message_and_records_no_verdict(
    tmp_path: Path, fake_anthropic
) -> None:
    from conductor_tui.providers.anthropic import ClaudeProvider

    fake_anthropic.script(Reply(tool_input=VERDICT, first_token_delay=3.0))
    app, project = demo_app(tmp_path, "evaluate")
    # an injected provider (Services.claude) with a short read timeout and no retries
    app.services.claude = ClaudeProvider(
        api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=0.3, max_retries=0
    )
    before = _evals(project)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _select_unjudged(pilot)
        await pilot.press("j")
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)
        assert screen.judging is None and screen.judge_verdict is None
        errors = [n for n in posted(app) if n.severity == "error"]
        assert errors and "could not judge" in errors[-1].message
        assert "time" in errors[-1].message.lower()
        assert "failed" in str(screen.query_one("#ev-judge", Markdown).border_title)
    assert _evals(project) == before


async def test_escape_stops_a_judge_and_nothing_is_recorded(
    tmp_path: Path, monkeypatch, fake_anthropic
) -> None:
    _claude_env(monkeypatch, fake_anthropic)
    # The stream stops after "Completeness" until the test releases it: the judge cannot
    # finish before escape is pressed, however loaded the machine is.
    payload = json.dumps(VERDICT)
    hold = (payload.index("Completeness") + len("Completeness")) // 8 + 3
    release = threading.Event()
    fake_anthropic.script(Reply(tool_input=VERDICT, chunk_chars=8, hold_after=hold, release=release))
    app, project = demo_app(tmp_path, "evaluate")
    before = _evals(project)
    routing_log = project / ".llm-orc/evaluations/routing-log.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        screen = await _select_unjudged(pilot)
        assert screen.check_action("cancel_judge", ()) is False  # escape is free when not judging
        await pilot.press("j")
        panel = screen.query_one("#ev-judge", Markdown)
        await _until(pilot, lambda: "Completeness" in panel.source)
        assert screen.check_action("cancel_judge", ()) is True
        await pilot.press("escape")
        # (not settle(): the abandoned call is still held open in its worker thread)
        await _until(pilot, lambda: screen.judging is None)
        await pilot.pause()
        assert screen.judging is None and screen.judge_error == "stopped"
        assert "stopped" in str(panel.border_title) and "Completeness" in panel.source
        assert screen.check_action("judge", ()) is True
        # the abandoned call finishes in its thread: its cost is logged, its verdict is not
        release.set()
        await _until(pilot, lambda: any(r.get("event") == "claude-overhead" for r in _lines(routing_log)))
        await settle(pilot)
        assert screen.judge_verdict is None
    assert _evals(project) == before
