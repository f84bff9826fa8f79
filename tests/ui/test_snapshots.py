"""SVG snapshots of every screen and state (fixed size, data, clock; no polling).

Regenerate with ``pytest tests/ui --snapshot-update`` and look at the SVGs in
``tests/ui/__snapshots__/`` before committing them.
"""

from __future__ import annotations

import pytest

from conductor_tui.core.records import RoutingDecision
from conductor_tui.core.rules import EvaluationDecision
from conductor_tui.engine import loader
from conductor_tui.engine.events import (
    AgentFailed,
    AgentFinished,
    AgentSkipped,
    AgentStarted,
    RunFinished,
    RunStarted,
    TextDelta,
    Usage,
)
from conductor_tui.ui.run_state import RunView
from tests.fakes.gpu import FakeGpuProbe
from tests.ui.conftest import DOWN, settle
from tests.ui.sample import make_project

SIZE = (120, 36)

SKIM_A = """## Modules touched

- `promotion/handler.py` — the state machine (`PENDING → ACTIVE → EXPIRED`)
- `promotion/rules.py` — eligibility checks, 4 predicates
- `api/routes.py` — two endpoints call the handler

```python
def promote(item, rules):
    if all(rule(item) for rule in rules):
        return item.activate()
```
"""
SKIM_B = "The tests cover the happy path only; expiry and concurrent promotion are untested."
MERGE = "## Summary\n\nThe promotion flow spans three modules. The handler owns the state machine;"


def deltas(agent: str, text: str, start: float, rate: float = 150.0) -> list[TextDelta]:
    words = text.split(" ")
    return [
        TextDelta("run-1", start + i / rate, agent, word + (" " if i < len(words) - 1 else ""))
        for i, word in enumerate(words)
    ]


def run_events(outcome: str) -> list:
    """A recorded run of summarize-files: in progress, completed or failed."""
    events: list = [
        RunStarted("run-1", 0.0, "summarize-files", ["skim-a", "skim-b", "merge"], "Summarize each module"),
        AgentStarted("run-1", 0.01, "skim-a", "llm", "qwen3:1.7b"),
        AgentStarted("run-1", 0.01, "skim-b", "llm", "gemma3:1b"),
        *deltas("skim-a", SKIM_A, 0.4),
    ]
    if outcome == "failed":
        events += [
            AgentFailed(
                "run-1",
                0.5,
                "skim-b",
                "model gemma3:1b not found",
                "model",
                "ollama pull gemma3:1b",
            ),
            AgentFinished("run-1", 1.2, "skim-a", SKIM_A, Usage(88, 61, 1150, "qwen3:1.7b", 52.9)),
            AgentStarted("run-1", 1.21, "merge", "llm", "qwen3:1.7b"),
            AgentFailed(
                "run-1",
                1.9,
                "merge",
                "connection to Ollama lost mid-stream",
                "infrastructure",
                "check that `ollama serve` is still running",
            ),
            RunFinished("run-1", 1.95, "failed", None, 88, 61, 1950, error="2 agents failed"),
        ]
        return events
    events += [
        *deltas("skim-b", SKIM_B, 0.3),
        AgentFinished("run-1", 0.45, "skim-b", SKIM_B, Usage(80, 17, 420, "gemma3:1b", 148.2)),
        AgentFinished("run-1", 1.2, "skim-a", SKIM_A, Usage(88, 61, 1150, "qwen3:1.7b", 52.9)),
        AgentStarted("run-1", 1.21, "merge", "llm", "qwen3:1.7b"),
        *deltas("merge", MERGE, 1.3),
    ]
    if outcome == "completed":
        events += [
            AgentFinished("run-1", 2.4, "merge", MERGE, Usage(170, 16, 1150, "qwen3:1.7b", 149.6)),
            RunFinished("run-1", 2.41, "completed", MERGE, 338, 94, 2410),
        ]
    return events


def run_app(cockpit, plan_project, fake_ollama, outcome: str, selected: str):
    app = cockpit(plan_project, ollama_host=fake_ollama.url, initial_mode="run")

    async def before(pilot):
        await settle(pilot, app)
        screen = app.screen
        spec = loader.load_catalog(plan_project).get("summarize-files").spec
        screen.context = {"ensemble": "summarize-files", "task_summary": "Summarize each module"}
        screen.show_view(RunView.from_spec(spec, "Summarize each module"), selected=selected)
        for event in run_events(outcome):
            screen.on_engine_event(event)
        await screen._flush()
        if screen._stream is not None:  # the stream stops at a fixed point
            await screen._stream.stop()
            screen._stream = None
        if outcome == "completed":
            screen.decision = RoutingDecision(
                id="rd-run-1",
                routed_to="summarize-files",
                status="completed",
                total_tokens_local=432,
                estimated_claude_tokens=360,
                tokens_saved=360,
            )
            screen.evaluation = EvaluationDecision(True, "calibration: every invocation is evaluated")
        screen._render_all()
        await pilot.pause()

    return app, before


def test_empty_project_no_ollama(snap_compare, project_dir, cockpit):
    app = cockpit(project_dir, gpu_probe=FakeGpuProbe.none())

    async def before(pilot):
        await settle(pilot, app, status=DOWN)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_plan_mixed_categories(snap_compare, plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await pilot.press("a", "x")  # #1 approved, #2 rejected, cursor on #3

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_plan_override_picker_open(snap_compare, plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await pilot.press("down", "down", "o")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_plan_non_runnable_handler(snap_compare, plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await pilot.press("down", "down", "down", "n", *"needs the 70b model?", "enter")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_plan_ollama_down(snap_compare, plan_project, cockpit):
    app = cockpit(plan_project)

    async def before(pilot):
        await settle(pilot, app, status=DOWN)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_plan_empty_state(snap_compare, project_dir, cockpit):
    make_project(project_dir)
    app = cockpit(project_dir)

    async def before(pilot):
        await settle(pilot, app, status=DOWN)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_run_in_progress(snap_compare, plan_project, cockpit, fake_ollama):
    app, before = run_app(cockpit, plan_project, fake_ollama, "running", "merge")
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_run_finished(snap_compare, plan_project, cockpit, fake_ollama):
    app, before = run_app(cockpit, plan_project, fake_ollama, "completed", "skim-a")
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_run_failed(snap_compare, plan_project, cockpit, fake_ollama):
    app, before = run_app(cockpit, plan_project, fake_ollama, "failed", "merge")
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


@pytest.mark.parametrize("key", ["f1"])
def test_help(snap_compare, plan_project, cockpit, key):
    app = cockpit(plan_project)

    async def before(pilot):
        await settle(pilot, app, status=DOWN)
        await pilot.press(key)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_skipped_agent_is_shown():  # a state the snapshots do not cover
    view = RunView()
    view.apply(RunStarted("r", 0.0, "e", ["a", "b"], ""))
    view.apply(AgentSkipped("r", 0.1, "b", "upstream failed"))
    assert view.agents["b"].state == "skipped" and view.agents["b"].error == "upstream failed"
