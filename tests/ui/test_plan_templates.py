"""The plan screen and issue 7: workflow templates (T), cost warnings on propose–judge rows,
roles in the handler picker (o).  Real files in a temporary project; FakeOllama for status."""

from __future__ import annotations

import pytest

from conductor_tui.core.records import RowStatus
from conductor_tui.core.store import ProjectStore
from conductor_tui.engine.kit import ALL_NAMES, install_starter_kit
from conductor_tui.ui.screens.dialogs import HandlerPicker, TemplateParamsDialog, TemplatePicker
from conductor_tui.ui.screens.plan import PlanScreen
from conductor_tui.ui.widgets.plan_table import PlanTable
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, settle
from tests.ui.sample import make_project, mixed_plan

SIZE = (120, 36)
MODELS = ["qwen3:1.7b", "qwen3:4b", "llama3.2:3b", "gemma3:1b"]

BROKEN_TEMPLATE = """\
name: broken
description: a template with a mistake
phases:
  - name: one
    type: sequential
    ensemble: write-changelog
"""

ROLES = """\
roles:
  planner: {handler: claude, description: plans and architecture}
  backend: {profile: starter-medium, description: server-side code}
  tests: {ensemble: generate-test-cases}
  reviewer: {handler: claude, description: reviews and audits}
  quick: {profile: starter-tiny, description: small mechanical edits}
"""


def kit_project(root, *, plan=None):
    project = make_project(root, plan=plan)
    install_starter_kit(project, ALL_NAMES)
    workflows = project / ".llm-orc" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / "broken.yaml").write_text(BROKEN_TEMPLATE)
    roles = project / ".llm-orc" / "conductor"
    roles.mkdir(parents=True, exist_ok=True)
    (roles / "roles.yaml").write_text(ROLES)
    return project


@pytest.fixture
def ollama(fake_ollama_factory):
    return fake_ollama_factory([FakeModel(name) for name in MODELS])


def plans_on_disk(project):
    return ProjectStore(project).read_plans().records


def option_ids(options) -> list[str]:
    return [options.get_option_at_index(i).id for i in range(options.option_count)]


async def open_templates(pilot, app) -> TemplatePicker:
    await pilot.press("T")
    await drain(app)
    await pilot.pause()
    assert isinstance(app.screen, TemplatePicker)
    return app.screen


async def instantiate_feature_build(pilot, app) -> None:
    picker = await open_templates(pilot, app)
    options = picker.query_one("#template-options")
    options.highlighted = option_ids(options).index("t:feature-build")
    await pilot.press("enter")
    await pilot.pause()
    dialog = app.screen
    assert isinstance(dialog, TemplateParamsDialog)
    await pilot.press(*"Add rate limiting", "enter")  # Enter moves on to the parameter
    assert dialog.query_one("#tp-param-feature").has_focus
    await pilot.press(*"rate-limit", "enter")  # Enter in the last field submits
    await pilot.pause()
    await drain(app)
    await pilot.pause()


async def test_templates_listed_broken_ones_with_file_and_line(project_dir, cockpit, ollama):
    project = kit_project(project_dir)
    app = cockpit(project, ollama_host=ollama.url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        picker = await open_templates(pilot, app)
        options = picker.query_one("#template-options")
        ids = option_ids(options)
        assert ids == ["t:feature-build", "t:plan", "t:workshop", "x:broken"]  # usable first
        broken = options.get_option_at_index(ids.index("x:broken"))
        assert broken.disabled
        assert "broken.yaml:5" in str(broken.prompt)  # the problem names the file and line
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen) and plans_on_disk(project) == []


async def test_template_instantiated_persisted_with_cost_warning(project_dir, cockpit, ollama):
    project = kit_project(project_dir)
    app = cockpit(project, ollama_host=ollama.url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await instantiate_feature_build(pilot, app)
        screen = app.screen
        written = plans_on_disk(project)
        assert len(written) == 1 and screen.plan.id == written[0].id
        plan = written[0]
        assert plan.source == "template:feature-build" and plan.meta_task == "Add rate limiting"
        ids = [r.id for r in plan.subtasks]
        assert ids[:5] == ["patterns", "plan", "implement", "verify.tests", "verify.lint"]
        assert all(r.status == RowStatus.PENDING for r in plan.subtasks)
        rows = {r.id: r for r in plan.subtasks}
        assert rows["plan"].output == "docs/ai/rate-limit/plan.md"  # the parameter
        assert rows["audit"].handler == "claude" and rows["audit"].role == "reviewer"
        # the propose–judge phase is marked in its row and explained in the detail line
        table = screen.query_one(PlanTable)
        assert str(table.get_cell("plan", "handler")).startswith("×4 ")
        assert str(table.get_cell("patterns", "handler")).startswith("×n ")  # a fan-out agent
        assert not str(table.get_cell("implement", "handler")).startswith("×")
        table.move_cursor(row=ids.index("plan"))
        await pilot.pause()
        detail = str(screen.query_one("#row-detail").render())
        assert "plan-review: 3 proposers + judge ≈ 4× the tokens of one agent" in detail
        assert "context: full · output: docs/ai/rate-limit/plan.md" in detail
        # decisions on a template plan are revisions like any other
        await pilot.press("a")
        assert plans_on_disk(project)[-1].revision == 2


async def test_roles_in_the_handler_picker_and_assignment_persisted(project_dir, cockpit, ollama):
    project = kit_project(project_dir, plan=mixed_plan())
    app = cockpit(project, ollama_host=ollama.url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, HandlerPicker)
        options = picker.query_one("#handler-options")
        ids = option_ids(options)
        roles = [i for i in ids if i.startswith("r:")]
        assert roles == ["r:planner", "r:backend", "r:tests", "r:reviewer", "r:quick"]
        quick = options.get_option_at_index(ids.index("r:quick"))
        assert quick.disabled and 'profile "starter-tiny" not found' in str(quick.prompt)
        assert "backend → starter-medium" in str(options.get_option_at_index(ids.index("r:backend")).prompt)
        options.highlighted = ids.index("r:backend")
        await pilot.press("enter")
        await pilot.pause()
        last = plans_on_disk(project)[-1]
        row = next(r for r in last.subtasks if r.id == "r-01")
        assert last.revision == 2 and "(role backend)" in last.change
        assert (row.role, row.handler, row.original_handler) == (
            "backend",
            "role:backend",
            "extract-endpoints",
        )
        detail = str(screen.query_one("#row-detail").render())
        assert "role: backend → starter-medium" in detail
        assert "not runnable" not in detail  # a role row is not an unknown ensemble
        assert str(screen.query_one(PlanTable).get_cell("r-01", "handler")).startswith("role:backend")
        # an ensemble role routes to its ensemble
        await pilot.press("o")
        await pilot.pause()
        options = app.screen.query_one("#handler-options")
        options.highlighted = option_ids(options).index("r:tests")
        await pilot.press("enter")
        await pilot.pause()
        row = next(r for r in plans_on_disk(project)[-1].subtasks if r.id == "r-01")
        assert (row.role, row.handler) == ("tests", "generate-test-cases")


# --------------------------------------------------------------------------- snapshots


def test_snapshot_template_picker(snap_compare, project_dir, cockpit, ollama):
    app = cockpit(kit_project(project_dir), ollama_host=ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await open_templates(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_snapshot_cost_warned_row(snap_compare, project_dir, cockpit, ollama):
    app = cockpit(kit_project(project_dir), ollama_host=ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await instantiate_feature_build(pilot, app)
        app.clear_notifications()
        await pilot.press("down")  # the propose–judge row
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_snapshot_role_aware_handler_picker(snap_compare, project_dir, cockpit, ollama):
    app = cockpit(kit_project(project_dir, plan=mixed_plan()), ollama_host=ollama.url)

    async def before(pilot):
        await settle(pilot, app)
        await pilot.press("down", "down", "o")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
