"""The plan screen with Claude as planner (issue 6): M → meta-task → Claude (the real
``anthropic`` client against FakeAnthropic) → rules → a pending plan, persisted and shown.

Also: no API key (a clear message, everything else works) and every fault (429 retried
then exhausted, a cut stream, a timeout) ending in a notification with nothing written
and the typed meta-task kept.
"""

from __future__ import annotations

import threading

import pytest

from conductor_tui.core.records import RowStatus
from conductor_tui.core.store import ProjectStore
from conductor_tui.providers.anthropic import ClaudeProvider
from conductor_tui.ui.screens.dialogs import PromptDialog, TextDialog
from conductor_tui.ui.screens.plan import NO_KEY_TEXT, PlanScreen
from tests.fakes.anthropic_server import Fault, Reply
from tests.ui.conftest import DOWN, drain, posted, settle, wait_until
from tests.ui.sample import make_project

SIZE = (120, 36)
META_TASK = "Add rate limiting to the promotion API"

PLAN = {
    "phases": [{"name": "Understand"}, {"name": "Build"}],
    "subtasks": [
        {
            "id": "s1",
            "description": "Extract the HTTP endpoints from routes/*.py",
            "phase": "Understand",
            "task_type": "extraction",
            "delegability_category": "agent-delegable",
            "dag_test": {"dag": True, "script": True, "fanout": True, "synthesis": True},
            "expected_repetitions": 6,
            "estimated_claude_tokens": 900,
        },
        {
            "id": "s2",
            "description": "Summarize the current throttling code",
            "phase": "Understand",
            "task_type": "summarization",
            "delegability_category": "ensemble-delegable",
            "expected_repetitions": 2,
            "estimated_claude_tokens": 1500,
        },
        {
            "id": "s3",
            "description": "Generate boilerplate tests for the limiter",
            "phase": "Build",
            "task_type": "boilerplate-generation",
            "delegability_category": "agent-delegable",
            "expected_repetitions": 4,
            "estimated_claude_tokens": 400,
        },
        {
            "id": "s4",
            "description": "Choose the limiter design (token bucket vs sliding window)",
            "phase": "Build",
            "task_type": "architectural-design",
            "delegability_category": "claude-only",
            "depends_on": ["s1", "s2"],
            "claude_only_criterion": "interacting-constraints",
            "estimated_claude_tokens": 3000,
        },
        {
            "id": "s5",
            "description": "Write the CHANGELOG entry for the limiter",
            "phase": "Build",
            "task_type": "changelog",
            "delegability_category": "agent-delegable",
            "depends_on": ["s4"],
            "expected_repetitions": 10,
            "estimated_claude_tokens": 300,
        },
    ],
}


@pytest.fixture
def empty_project(project_dir):
    return make_project(project_dir)  # the sample ensembles, no plan yet


@pytest.fixture
def claude_env(monkeypatch, fake_anthropic):
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake_anthropic.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.url)
    return fake_anthropic


def plans_on_disk(project):
    return ProjectStore(project).read_plans().records


def messages(app) -> list[str]:
    return [str(n.message) for n in posted(app)]


async def ask_claude(pilot, app, text: str = META_TASK) -> None:
    await pilot.press("M")
    await pilot.pause()
    assert isinstance(app.screen, PromptDialog)
    app.screen.query_one("#prompt-input").value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_claude_plans_a_meta_task_rows_pending_and_tokens_counted(empty_project, cockpit, claude_env):
    claude_env.script(Reply(tool_input=PLAN, input_tokens=2000, output_tokens=600, chunk_chars=40))
    app = cockpit(empty_project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.plan is None
        await ask_claude(pilot, app)
        await drain(app)
        await pilot.pause()
        assert not screen.planning
        plan = screen.plan
        assert plan is not None and plan.source == "claude" and plan.meta_task == META_TASK
        assert [r.id for r in plan.subtasks] == ["s1", "s2", "s3", "s4", "s5"]
        assert all(r.status == RowStatus.PENDING for r in plan.subtasks)
        handlers = {r.id: r.handler for r in plan.subtasks}
        # the cockpit's rules: matched to a runnable ensemble, gaps to create, Claude-only kept
        assert handlers["s1"] == "extract-endpoints" and handlers["s4"] == "claude"
        assert handlers["s3"] == "create-ensemble"
        # persisted before shown; planning tokens counted on the plan and in the routing log
        on_disk = plans_on_disk(empty_project)
        assert [p.id for p in on_disk] == [plan.id]
        assert on_disk[0].planning_tokens == 2600
        overhead = [
            d for d in ProjectStore(empty_project).read_routing().records if d.event == "claude-overhead"
        ]
        assert overhead[0].claude_tokens == 2600 and overhead[0].plan_id == plan.id
        title = str(screen.query_one("#plan-title").render())
        assert "planning: 2,600 Claude tokens" in title
        assert "2,600 planning tokens" in str(screen.query_one("#plan-activity").render())
        # Claude was asked through a forced tool call, with the project's ensembles as context
        body = claude_env.message_requests()[0].body
        assert body["tools"] and "extract-endpoints" in body["messages"][0]["content"]
        # row-by-row approval works on it and is written as a revision
        await pilot.press("a")
        last = plans_on_disk(empty_project)[-1]
        assert last.revision == 2 and last.subtasks[0].status == RowStatus.APPROVED


async def test_without_an_api_key_the_screen_says_so_and_the_rest_works(empty_project, cockpit):
    app = cockpit(empty_project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)  # no dialog: there is nothing to ask yet
        assert NO_KEY_TEXT in messages(app)
        assert "ANTHROPIC_API_KEY" in str(screen.query_one("#plan-activity").render())
        assert plans_on_disk(empty_project) == []
        # typing a plan still works
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TextDialog)
        app.screen.query_one("#text-body").text = "Extract endpoints → extract-endpoints (agent)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(plans_on_disk(empty_project)) == 1


FAULTS = {
    "429-exhausted": (
        [Fault(429, retry_after_ms=5), Fault(429, retry_after_ms=5), Fault(429, retry_after_ms=5)],
        "rate-limiting",
    ),
    "cut-stream": ([Reply(tool_input=PLAN, chunk_chars=10, cut_after=4)], "connection to Claude was cut"),
    "error-mid-stream": ([Reply(tool_input=PLAN, chunk_chars=10, error_after=3)], "stream failed mid-way"),
    "timeout": ([Reply(tool_input=PLAN, first_token_delay=5.0)], "did not answer within"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_claude_faults_end_in_a_clear_message_with_nothing_lost(
    fault, plan_project, cockpit, fake_anthropic
):
    entries, expected = FAULTS[fault]
    fake_anthropic.script(*entries)
    app = cockpit(plan_project)
    # a short client timeout only where the timeout is the fault: elsewhere a busy machine
    # must not turn "the stream was cut" into "did not answer within"
    app.services.claude = ClaudeProvider(  # type: ignore[attr-defined]
        api_key=fake_anthropic.api_key,
        base_url=fake_anthropic.url,
        timeout=0.5 if fault == "timeout" else 30.0,
        max_retries=2,
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        before = plans_on_disk(plan_project)
        shown = screen.plan
        await ask_claude(pilot, app)
        await drain(app)
        await pilot.pause()
        assert not screen.planning
        failure = [m for m in messages(app) if expected in m]
        assert failure and "press M to try again" in failure[0]
        assert expected in str(screen.query_one("#plan-activity").render())
        # nothing written, the shown plan kept, and the meta-task is offered again
        assert plans_on_disk(plan_project) == before and screen.plan == shown
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, PromptDialog)
        assert app.screen.query_one("#prompt-input").value == META_TASK


async def test_progress_is_shown_while_claude_streams(empty_project, cockpit, claude_env):
    release = threading.Event()  # held after 4 deltas until the test has seen the progress
    claude_env.script(Reply(tool_input=PLAN, chunk_chars=20, hold_after=4, release=release))
    app = cockpit(empty_project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        await ask_claude(pilot, app)
        activity = screen.query_one("#plan-activity")
        await wait_until(lambda: "characters of plan received" in str(activity.render()))
        assert screen.planning and screen.check_action("claude_plan", ()) is None  # shown disabled
        release.set()
        await drain(app)
        await pilot.pause()
        assert screen.plan is not None and "✓ Claude planned 5 subtasks" in str(activity.render())


# --------------------------------------------------------------------------- snapshots


def test_snapshot_claude_plan_shown(snap_compare, empty_project, cockpit, claude_env, fake_ollama):
    claude_env.script(Reply(tool_input=PLAN, input_tokens=2000, output_tokens=600, chunk_chars=400))
    app = cockpit(empty_project, ollama_host=fake_ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await ask_claude(pilot, app)
        await drain(app)
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("down")  # the extraction row: matched to a runnable ensemble
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_snapshot_no_api_key(snap_compare, plan_project, cockpit):
    app = cockpit(plan_project)

    async def before(pilot):
        await settle(pilot, app, status=DOWN)
        await pilot.press("M")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


async def test_palette_lists_the_new_plan_actions(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app, status=DOWN)
        titles = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert "key M" in titles["Claude plan"] and "key T" in titles["Template"]
        # the F1 help names both keys too
        await pilot.press("f1")
        await pilot.pause()
        help_text = str(app.screen.query_one("Markdown")._markdown)
        assert "Claude as planner (`M`)" in help_text and "Workflow templates (`T`)" in help_text
