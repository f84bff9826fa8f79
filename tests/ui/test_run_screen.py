"""Pilot tests of the run screen against the fake Ollama (real HTTP, real client)."""

from __future__ import annotations

import json
import threading

from conductor_tui.core.records import RoutingDecision, RowStatus
from conductor_tui.engine.events import AgentFinished, AgentStarted, RunFinished, RunStarted, TextDelta, Usage
from conductor_tui.ui.run_state import CANCELLED, DONE, RUNNING, WAITING, RunView
from conductor_tui.ui.screens.run import RunScreen
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, settle, wait_until
from tests.ui.test_plan_screen import revisions, row

REPLY = "## Endpoints\n\n" + "".join(f"- GET /api/item/{i}\n" for i in range(40)) + "\nDone."


def routing_log(project) -> list[RoutingDecision]:
    path = project / ".llm-orc" / "evaluations" / "routing-log.jsonl"
    return [
        RoutingDecision.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line
    ]


async def test_run_an_approved_row_streams_and_records_usage(plan_project, cockpit, fake_ollama_factory):
    fake = fake_ollama_factory(
        [
            FakeModel("qwen3:1.7b", reply=REPLY, tokens_per_second=2000, parallel=2),
            FakeModel("gemma3:1b", reply="gemma summary " * 20, tokens_per_second=2000),
        ]
    )
    app = cockpit(plan_project, ollama_host=fake.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("down", "a", "up", "up")  # approve #2 (summarize-files), back to it
        app.screen.query_one("#plan-table").move_cursor(row=1)
        await pilot.press("g")  # asks for the input: the subtask is the default
        await pilot.pause()
        assert app.screen.query_one("#text-body").text.startswith(
            row(revisions(plan_project)[-1], "r-02").description
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await drain(app)
        await wait_until(lambda: screen.view.status == "completed")  # a state, not a fixed pause
        view = screen.view
        assert view.status == "completed"
        assert {a.state for a in view.agents.values()} == {DONE}
        assert view.agents["merge"].depends_on == ["skim-a", "skim-b"]
        assert view.agents["skim-a"].output_tokens and view.agents["skim-a"].input_tokens
        # what the selected agent streamed is what Ollama sent
        assert "GET /api/item/39" in view.agents["skim-a"].text
        log = routing_log(plan_project)
        assert len(log) == 1
        entry = log[0]
        assert entry.routed_to == "summarize-files" and entry.status == "completed"
        assert entry.total_tokens_local == view.input_tokens + view.output_tokens > 0
        assert entry.plan_id == "plan-promotion" and entry.row_id == "r-02"
        last = revisions(plan_project)[-1]
        assert row(last, "r-02").status == RowStatus.DONE
        assert row(last, "r-02").routing_id == entry.id
        # calibration (no task profile yet): this run must be evaluated, and `e` goes there
        assert screen.evaluation is not None and screen.evaluation.evaluate
        result = str(screen.query_one("#run-result").render())
        assert "Evaluate this run" in result and entry.id in result
        await pilot.press("e")
        await pilot.pause()
        assert app.current_mode == "evaluate"
        assert app.evaluation_target.id == entry.id


async def test_escape_cancels_and_records_cancelled(plan_project, cockpit, fake_ollama_factory):
    release = threading.Event()  # never set: the stream holds after 10 tokens until escape
    fake = fake_ollama_factory(
        [FakeModel("qwen3:1.7b", reply="word " * 2000, tokens_per_second=100, hold_after=10, release=release)]
    )
    app = cockpit(plan_project, ollama_host=fake.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "up", "g")  # approve #1 (extract-endpoints) and run it
        await pilot.pause()
        await pilot.press("ctrl+s")  # the default input
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_until(
            lambda: screen.view is not None and screen.view.agents["extractor"].streamed_tokens > 5
        )
        assert screen.check_action("cancel_run", ()) is True
        await pilot.press("escape")
        await drain(app)
        await pilot.pause()
        assert screen.view.status == "cancelled"
        assert screen.view.agents["extractor"].state == CANCELLED
        log = routing_log(plan_project)
        assert [d.status for d in log] == ["cancelled"]
        assert log[0].tokens_saved == 0
        # the row can be run again
        assert row(revisions(plan_project)[-1], "r-01").status == RowStatus.APPROVED
        assert screen.check_action("cancel_run", ()) is False


async def test_new_run_with_typed_input(project_dir, cockpit, fake_ollama_factory):
    from tests.ui.sample import make_project

    make_project(project_dir)
    fake = fake_ollama_factory(
        [FakeModel("qwen3:1.7b", reply="| a | b |\n|---|---|\n| 1 | 2 |", tokens_per_second=3000)]
    )
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("enter")  # first runnable ensemble: extract-endpoints
        await pilot.pause()
        app.screen.query_one("#text-body").text = "GET /x in app.py"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await drain(app)
        await pilot.pause()
        screen = app.screen
        assert screen.view.ensemble == "extract-endpoints" and screen.view.status == "completed"
        assert screen.view.deliverable == "| a | b |\n|---|---|\n| 1 | 2 |"
        assert routing_log(project_dir)[0].task_summary == "GET /x in app.py"


def test_run_view_folds_events_and_fan_out():
    view = RunView()
    view.apply(RunStarted("r1", 0.0, "scan", ["split", "worker", "merge"], "input"))
    assert [view.agents[n].state for n in view.order] == [WAITING] * 3
    view.apply(
        AgentStarted("r1", 0.1, "worker[0]", "llm", "qwen3:1.7b", instance=0, instances=2, base="worker")
    )
    view.apply(
        AgentStarted("r1", 0.1, "worker[1]", "llm", "qwen3:1.7b", instance=1, instances=2, base="worker")
    )
    assert view.agents["worker"].instances == ["worker[0]", "worker[1]"]
    assert view.agents["worker"].state == RUNNING
    for i in range(10):
        view.apply(TextDelta("r1", 0.2 + i / 100, "worker[0]", "tok "))
    assert view.agents["worker[0]"].streamed_tokens == 10
    view.apply(AgentFinished("r1", 1.0, "worker[0]", "tok " * 10, Usage(5, 10, 900, "qwen3:1.7b", 11.1)))
    assert view.agents["worker"].state == RUNNING  # one instance still running
    view.apply(AgentFinished("r1", 1.2, "worker[1]", "x", Usage(5, 3, 900, "qwen3:1.7b", 3.3)))
    assert view.agents["worker"].state == DONE
    assert view.agents["worker"].output_tokens == 13
    view.apply(RunFinished("r1", 1.5, "cancelled", None, 10, 13, 1500))
    assert view.agents["merge"].state == CANCELLED and view.finished


async def test_output_follows_the_bottom_only_while_the_person_is_there(plan_project, cockpit):
    from conductor_tui.engine import loader
    from tests.ui.conftest import DOWN

    app = cockpit(plan_project, initial_mode="run")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        spec = loader.load_catalog(plan_project).get("extract-endpoints").spec
        screen.show_view(RunView.from_spec(spec, "x"), selected="extractor")
        screen.on_engine_event(RunStarted("r", 0.0, "extract-endpoints", ["extractor"], "x"))
        screen.on_engine_event(AgentStarted("r", 0.0, "extractor", "llm", "qwen3:1.7b"))
        scroll = screen.query_one("#run-output-scroll")

        async def stream(lines: int, start: int) -> None:
            for i in range(start, start + lines):
                screen.on_engine_event(TextDelta("r", i / 100, "extractor", f"line {i}\n\n"))
            await screen._flush()
            await screen._stream.stop()  # let the stream land before looking
            screen._stream = None
            await pilot.pause()
            await screen._flush()  # the next tick follows what landed
            await pilot.pause()

        await stream(60, 0)
        assert scroll.max_scroll_y > 0 and scroll.scroll_y >= scroll.max_scroll_y - 2  # followed
        scroll.focus()
        await pilot.press("home")  # the person scrolls up
        await pilot.pause()
        assert not scroll.following
        await stream(30, 60)
        assert (
            scroll.scroll_y < 1
        )  # the person scrolled up: the view stays put (a scroll animation may end late)
        await pilot.press("f")  # follow again
        await pilot.pause()
        await stream(10, 90)
        assert scroll.scroll_y >= scroll.max_scroll_y - 2


async def test_session_run_requests_stream_in_the_cockpit(plan_project, cockpit, fake_ollama_factory):
    from conductor_tui.handoff import protocol

    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="found 3 endpoints", tokens_per_second=3000)])
    app = cockpit(plan_project, ollama_host=fake.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.start_handoff(interval=0)  # ticks driven by the test
        request = protocol.request_run(
            plan_project,
            "extract-endpoints",
            "GET /x",
            session="s-1",
            plan_id="plan-promotion",
            row_id="r-01",
        )
        missing = protocol.request_run(plan_project, "no-such-ensemble", "x", session="s-1")
        await app.handoff_once()
        assert protocol.cockpit_alive(plan_project)
        await drain(app)
        await pilot.pause()
        assert app.current_mode == "run"
        owner, event = protocol.request_state(plan_project, request.id)
        assert owner == "cockpit"
        assert event.status == "completed" and event.output == "found 3 endpoints" and event.routing_id
        assert routing_log(plan_project)[0].session == "s-1"
        assert row(revisions(plan_project)[-1], "r-01").status == RowStatus.DONE
        # the second request names an ensemble the cockpit cannot run: reported as failed
        await drain(app)
        owner, event = protocol.request_state(plan_project, missing.id)
        assert event.status == "failed" and "no-such-ensemble" in event.error
        app.close_handoff()
        assert not protocol.cockpit_alive(plan_project)


async def test_the_view_follows_the_streaming_agent_until_the_person_navigates(tmp_path, cockpit):
    """A chain (split → summarise → polish): the output pane moves to each agent as it starts
    writing, once the previous one has finished; after the person picks an agent it stays."""
    from types import SimpleNamespace

    from conductor_tui.core.spec import EnsembleSpec
    from conductor_tui.engine.loader import parse_ensemble

    spec = parse_ensemble(
        {
            "name": "chain",
            "description": "three steps",
            "agents": [
                {"name": "split", "script": "echo hi"},
                {"name": "summarise", "model": "qwen3:1.7b", "provider": "ollama", "depends_on": ["split"]},
                {"name": "polish", "model": "qwen3:1.7b", "provider": "ollama", "depends_on": ["summarise"]},
            ],
        }
    )
    assert isinstance(spec, EnsembleSpec)
    app = cockpit(tmp_path, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.show_view(RunView.from_spec(spec, "x"))
        feed = screen.on_engine_event
        feed(RunStarted("r", 0.0, "chain", ["split", "summarise", "polish"], "x"))
        feed(AgentStarted("r", 0.0, "split", "script", None))
        feed(AgentFinished("r", 0.1, "split", '["a"]', Usage(0, 0, 100, None, 0)))
        feed(AgentStarted("r", 0.1, "summarise", "llm", "qwen3:1.7b"))
        feed(TextDelta("r", 0.2, "summarise", "first words"))
        await pilot.pause()
        assert screen.selected == "summarise"  # not stuck on the script that ran first
        feed(AgentFinished("r", 0.3, "summarise", "first words", Usage(5, 2, 200, "qwen3:1.7b", 10)))
        feed(AgentStarted("r", 0.3, "polish", "llm", "qwen3:1.7b"))
        feed(TextDelta("r", 0.4, "polish", "polished"))
        await pilot.pause()
        assert screen.selected == "polish"
        # the person goes back to the summary: the view stays there while polish streams on
        screen._settling_selection = False
        screen._node_highlighted(SimpleNamespace(node=SimpleNamespace(data="summarise")))
        feed(TextDelta("r", 0.5, "polish", " more"))
        await pilot.pause()
        assert screen.selected == "summarise" and screen.follow_agent is False
