"""Context strategies in the run screen: a plan row that depends on earlier rows gets their
deliverables under its strategy (fresh / scoped / distilled); the run view shows the
strategy and the tokens saved against "full"; the routing log records it. Role rows run
on their role's profile. Against the fake Ollama (real HTTP, real client)."""

from __future__ import annotations

import json
import threading

import pytest

from conductor_tui.core.context import ContextStrategy, DependencyOutput, build_context
from conductor_tui.core.records import Delegability, PlanRow, RowStatus, WorkflowPlan
from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFinished, AgentStarted, RunFinished, RunStarted, TextDelta, Usage
from conductor_tui.engine.kit import install_starter_kit
from conductor_tui.ui.run_state import RunView
from conductor_tui.ui.screens.run import RunScreen
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, settle
from tests.ui.sample import FIXED_NOW, make_project
from tests.ui.test_plan_screen import revisions, row
from tests.ui.test_run_screen import routing_log

ENDPOINTS = "| method | path | handler |\n|---|---|---|\n" + "".join(
    f"| GET | /api/promotions/{i} | promotions.show_{i} |\n" for i in range(60)
)
SUMMARY = "## Names\n- GET /api/promotions/{id} → promotions.show"
TESTS = "def test_show(): ..."
SERVER_PY = "from flask import Flask\napp = Flask(__name__)\n"


def reply(body: dict) -> str:
    system = " ".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system")
    user = " ".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user")
    if "distil" in system.lower():
        return SUMMARY
    if user.startswith("Extract the HTTP endpoints"):
        return ENDPOINTS
    return TESTS


def role_plan(plan_id: str, *rows: tuple[str, str, str, str, Delegability]) -> WorkflowPlan:
    """An approved plan of role rows: (id, description, task type, role, category)."""
    return WorkflowPlan(
        id=plan_id,
        revision=1,
        timestamp=FIXED_NOW,
        meta_task="Quick edits",
        source="session",
        subtasks=[
            PlanRow(
                id=row_id,
                description=description,
                task_type=task_type,
                delegability_category=category,
                handler=f"role:{role}",
                role=role,
                status=RowStatus.APPROVED,
            )
            for row_id, description, task_type, role, category in rows
        ],
    )


def context_plan(strategy: str, **fields) -> WorkflowPlan:
    rows = [
        PlanRow(
            id="r-01",
            description="Extract the HTTP endpoints from server.py",
            task_type="extraction",
            delegability_category=Delegability.AGENT,
            handler="extract-endpoints",
            status=RowStatus.APPROVED,
        ),
        PlanRow(
            id="r-02",
            description="Write a test for each endpoint",
            task_type="test-generation",
            delegability_category=Delegability.AGENT,
            handler="extract-endpoints",
            depends_on=["r-01"],
            status=RowStatus.APPROVED,
            context_strategy=strategy,
            **fields,
        ),
    ]
    return WorkflowPlan(
        id="plan-ctx",
        revision=1,
        timestamp=FIXED_NOW,
        meta_task="Test the API",
        source="session",
        subtasks=rows,
    )


def user_message(request: dict) -> str:
    return "\n".join(m["content"] for m in request["body"]["messages"] if m["role"] == "user")


@pytest.mark.parametrize(
    ("strategy", "fields"),
    [("fresh", {}), ("scoped", {"context_files": ["server.py"]}), ("distilled", {})],
)
async def test_a_dependent_row_gets_its_context(project_dir, cockpit, fake_ollama_factory, strategy, fields):
    plan = context_plan(strategy, **fields)
    make_project(project_dir, plan=plan)
    (project_dir / "server.py").write_text(SERVER_PY)
    if strategy == "distilled":
        install_starter_kit(project_dir, ["distill-context"])  # its profile (starter-small)
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply=reply, tokens_per_second=5000, parallel=2)])
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        screen.run_plan_row(plan, "r-01")
        await drain(app)
        assert screen.view.status == "completed" and screen.context_result is None  # no dependencies
        screen.run_plan_row(revisions(project_dir)[-1], "r-02")
        await drain(app)
        await pilot.pause()
        assert screen.view.status == "completed"
        requests = fake.generation_requests()
        row_input = user_message(requests[-1])
        assert row_input.startswith("Write a test for each endpoint")
        result = screen.context_result
        assert result.strategy == ContextStrategy(strategy)
        if strategy == "fresh":
            assert "/api/promotions/" not in row_input and "server.py" not in row_input
            assert len(requests) == 2
        elif strategy == "scoped":
            assert "## File server.py" in row_input and "Flask(__name__)" in row_input
            assert "/api/promotions/17" not in row_input
        else:
            # step 1: the summariser read r-01's deliverable; step 2: the row got the summary only
            assert len(requests) == 3
            assert "/api/promotions/59" in user_message(requests[1])
            assert SUMMARY in row_input and "/api/promotions/17" not in row_input
            assert result.summary_tokens_spent and result.summary_tokens_spent > 0
        # full would have carried the 60-line table: this strategy saved most of it
        assert result.full_tokens > 400 and result.saved_tokens > 300
        line = str(screen.query_one("#run-context").render())
        assert f"{strategy} · ~{result.tokens:,} tok (saves ~{result.saved_tokens:,} vs full" in line
        if strategy == "distilled":
            assert "summary by distill-context" in line
        entries = [d for d in routing_log(project_dir) if d.row_id == "r-02"]
        assert len(entries) == 1
        recorded = entries[0].context
        assert recorded["strategy"] == strategy
        assert recorded["saved_tokens"] == result.saved_tokens > 0
        assert recorded["full_tokens"] == result.full_tokens
        assert row(revisions(project_dir)[-1], "r-02").status == RowStatus.DONE


async def test_a_role_row_runs_on_its_roles_profile(project_dir, cockpit, fake_ollama_factory):
    plan = role_plan(
        "plan-role", ("r-01", "Rename the handler module", "quick-edit", "quick", Delegability.AGENT)
    )
    make_project(project_dir, plan=plan)
    install_starter_kit(project_dir)  # starter-small, the default "quick" role's profile
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="renamed", tokens_per_second=5000)])
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.run_plan_row(plan, "r-01")
        await drain(app)
        assert screen.view.ensemble == "role-quick" and screen.view.status == "completed"
        request = fake.generation_requests()[-1]
        assert request["body"]["model"] == "qwen3:1.7b"
        assert user_message(request) == "Rename the handler module"
        entry = next(d for d in routing_log(project_dir) if d.row_id == "r-01")
        assert entry.routed_to == "role-quick" and entry.role == "quick"
        # an unknown role is refused with a notice, nothing runs
        notes: list[str] = []
        screen.notify = lambda message, **_: notes.append(str(message))
        plan.subtasks[0].handler = "role:nobody"
        screen.run_plan_row(plan, "r-01")
        await drain(app)
        assert len(fake.generation_requests()) == 1
        assert notes and notes[0].startswith('Unknown role "nobody"') and "quick" in notes[0]


def test_snapshot_context_label(snap_compare, project_dir, cockpit, fake_ollama):
    plan = context_plan("distilled")
    make_project(project_dir, plan=plan)
    app = cockpit(project_dir, ollama_host=fake_ollama.url, initial_mode="run")

    async def before(pilot):
        await settle(pilot, app)
        screen = app.screen
        spec = loader.load_catalog(project_dir).get("extract-endpoints").spec
        deps = [DependencyOutput("r-01", ENDPOINTS, "Extract the HTTP endpoints from server.py")]
        result = build_context(
            "Write a test for each endpoint", deps, "distilled", summary=SUMMARY, summary_tokens_spent=412
        )
        screen.context = {"ensemble": "extract-endpoints", "task_summary": "Write a test for each endpoint"}
        screen.context_result = result
        screen.context_step = "step 2/2 · summary by distill-context (412 local tok)"
        screen.show_view(RunView.from_spec(spec, result.text), selected="extractor")
        events = [
            RunStarted("run-c", 0.0, "extract-endpoints", ["extractor"], result.text),
            AgentStarted("run-c", 0.01, "extractor", "llm", "qwen3:1.7b"),
            *[
                TextDelta("run-c", 0.1 + i / 100, "extractor", w + " ")
                for i, w in enumerate(TESTS.split(" "))
            ],
            AgentFinished("run-c", 0.8, "extractor", TESTS, Usage(61, 9, 700, "qwen3:1.7b", 80.0)),
            RunFinished("run-c", 0.81, "completed", TESTS, 61, 9, 810),
        ]
        for event in events:
            screen.on_engine_event(event)
        await screen._flush()
        if screen._stream is not None:
            await screen._stream.stop()
            screen._stream = None
        screen._render_all()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=before)


def test_context_json_is_plain_data():
    result = build_context("t", [DependencyOutput("a", "x" * 400)], "fresh")
    assert json.loads(json.dumps(result.to_json()))["saved_tokens"] == result.saved_tokens > 0


async def test_a_row_after_a_propose_judge_row_gets_the_judged_result(
    project_dir, cockpit, fake_ollama_factory
):
    from tests.ui.test_run_propose_judge import PLAN_B, VERDICT, plan_review_models

    plan = context_plan("fresh", inputs=["r-01"])
    plan.subtasks[0].handler = "plan-review"
    make_project(project_dir, plan=plan)
    install_starter_kit(project_dir, ["plan-review"])
    fake = fake_ollama_factory(plan_review_models())
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.run_plan_row(plan, "r-01")
        await drain(app)
        screen.run_plan_row(revisions(project_dir)[-1], "r-02")
        await drain(app)
        row_input = user_message(fake.generation_requests()[-1])
        assert "## Output of r-01" in row_input and PLAN_B.strip() in row_input
        assert VERDICT["reasoning"] not in row_input  # the result, not the judge's JSON
        assert screen.context_result.strategy == ContextStrategy.FRESH


async def test_escape_during_the_distil_step_leaves_the_row_approved(
    project_dir, cockpit, fake_ollama_factory
):
    from tests.ui.conftest import wait_until

    plan = context_plan("distilled")
    make_project(project_dir, plan=plan)
    install_starter_kit(project_dir, ["distill-context"])

    def slow_summary(body: dict) -> str:
        return reply(body) if "distil" not in json.dumps(body).lower() else "word " * 3000

    fake = fake_ollama_factory(
        [FakeModel("qwen3:1.7b", reply=slow_summary, tokens_per_second=5000, parallel=2)]
    )
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.run_plan_row(plan, "r-01")
        await drain(app)
        fake.remove_model("qwen3:1.7b")
        # the summariser streams a few tokens, then holds until released: the distil step
        # cannot finish before escape, however loaded the machine is
        release = threading.Event()
        fake.add_model(
            FakeModel("qwen3:1.7b", reply=slow_summary, tokens_per_second=200, hold_after=5, release=release)
        )
        screen.run_plan_row(revisions(project_dir)[-1], "r-02")
        await wait_until(
            lambda: screen.view.ensemble == "distill-context" and screen.view.streamed_tokens > 3
        )
        assert "step 1/2" in str(screen.query_one("#run-context").render())
        await pilot.press("escape")
        await drain(app)
        release.set()
        assert screen.view.status == "cancelled"
        assert len(fake.generation_requests()) == 2  # r-01 and the summariser; the row never ran
        assert row(revisions(project_dir)[-1], "r-02").status == RowStatus.APPROVED
        assert not [d for d in routing_log(project_dir) if d.row_id == "r-02"]


async def test_g_on_the_plan_screen_runs_a_role_row(project_dir, cockpit, fake_ollama_factory):
    plan = role_plan(
        "plan-role-g",
        ("r-01", "Rename the handler module", "quick-edit", "quick", Delegability.AGENT),
        ("r-02", "Name the new API", "naming", "planner", Delegability.CLAUDE),
    )
    make_project(project_dir, plan=plan)
    install_starter_kit(project_dir)
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="renamed", tokens_per_second=5000)])
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="plan")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert screen.check_action("run_row", ()) is True  # row 1: the "quick" role runs locally
        await pilot.press("down")
        await settle(pilot, app, poll=False)
        # the default "planner" role is Claude: nothing to run locally
        assert not screen.check_action("run_row", ())
        await pilot.press("up")
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("ctrl+s")  # run with the default input (the subtask)
        await settle(pilot, app, poll=False)
        await drain(app)
        run_screen = app.screen
        assert run_screen.view.ensemble == "role-quick" and run_screen.view.status == "completed"
        assert fake.generation_requests()[-1]["body"]["model"] == "qwen3:1.7b"
