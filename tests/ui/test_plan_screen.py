"""Pilot tests of the plan screen: real key presses, assertions on workflow-plans.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from conductor_tui.core.records import RowStatus, WorkflowPlan
from conductor_tui.ui.screens.dialogs import ConfirmDialog, HandlerPicker, PromptDialog, TextDialog
from conductor_tui.ui.screens.plan import PlanScreen
from conductor_tui.ui.widgets.plan_table import PlanTable
from tests.ui.conftest import DOWN, drain, posted, settle
from tests.ui.sample import big_plan, make_project, mixed_plan


def revisions(project: Path) -> list[WorkflowPlan]:
    path = project / ".llm-orc" / "evaluations" / "workflow-plans.jsonl"
    return [WorkflowPlan.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line]


def row(plan: WorkflowPlan, row_id: str):
    return next(r for r in plan.subtasks if r.id == row_id)


async def test_approve_reject_override_are_written_as_revisions(plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        await pilot.press("a")  # approve #1, cursor moves to the next pending row
        written = revisions(plan_project)
        assert [p.revision for p in written] == [1, 2]
        assert row(written[-1], "r-01").status == RowStatus.APPROVED
        assert written[-1].change == "approved #1"
        assert row(written[-1], "r-01").decided_at is not None
        assert screen.plan.revision == 2  # the screen shows what was persisted

        await pilot.press("x")  # reject #2 (the cursor advanced)
        assert row(revisions(plan_project)[-1], "r-02").status == RowStatus.REJECTED

        await pilot.press("u")  # wait — #3 is pending; undo is hidden for it
        assert len(revisions(plan_project)) == 3

        await pilot.press("o")  # override #3's handler
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, HandlerPicker)
        # runnable ensembles first, then Claude and "request new ensemble", then the roles
        options = picker.query_one("#handler-options")
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[:4] == ["e:extract-endpoints", "e:summarize-files", "claude", "create"]
        # then the roles that can run (the default roles whose starter profiles are missing are left out)
        assert ids[4:] == ["r:planner", "r:reviewer"]
        options.highlighted = ids.index("claude")
        await pilot.press("enter")
        await pilot.pause()
        last = revisions(plan_project)[-1]
        assert last.revision == 4
        assert row(last, "r-03").handler == "claude"
        assert row(last, "r-03").original_handler == "create-ensemble"
        assert "override #3" in last.change
        table = screen.query_one(PlanTable)
        assert "Claude" in str(table.get_cell("r-03", "handler"))


async def test_picker_escape_and_same_handler_write_nothing(plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("o", "escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("enter")  # the current handler is highlighted: choosing it changes nothing
        await pilot.pause()
        assert len(revisions(plan_project)) == 1


async def test_edit_commits_on_enter_and_escape_reverts(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        await pilot.press("i")
        field = app.screen.query_one("#edit-input")
        assert field.has_focus and field.value.startswith("Extract the HTTP endpoints")
        await pilot.press("end", *"!!!", "escape")
        assert len(revisions(plan_project)) == 1  # Esc reverted
        assert app.screen.plan.subtasks[0].description.endswith("routes/*.py")
        assert app.screen.query_one(PlanTable).has_focus

        await pilot.press("i", "end", *" v2", "enter")
        last = revisions(plan_project)[-1]
        assert row(last, "r-01").description.endswith("routes/*.py v2")
        assert last.change == "edit #1"

        await pilot.press("n", *"check auth too", "enter")
        last = revisions(plan_project)[-1]
        assert row(last, "r-01").note == "check auth too"
        assert "✎" in str(app.screen.query_one(PlanTable).get_cell("r-01", "subtask"))


async def test_bulk_approve_asks_first(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        await pilot.press("x")  # reject #1 first: bulk must keep it
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert len(revisions(plan_project)) == 2
        await pilot.press("A")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        last = revisions(plan_project)[-1]
        assert last.revision == 3
        assert row(last, "r-01").status == RowStatus.REJECTED
        assert all(r.status == RowStatus.APPROVED for r in last.subtasks if r.id != "r-01")
        assert last.status == "decided"
        assert "approved 6 rows (bulk)" == last.change


async def test_non_runnable_handler_is_flagged_with_the_fix(plan_project, cockpit, fake_ollama):
    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(PlanTable)
        assert str(table.get_cell("r-04", "handler")).startswith("⚠")
        assert not str(table.get_cell("r-01", "handler")).startswith("⚠")
        table.move_cursor(row=3)
        await pilot.pause()
        detail = str(app.screen.query_one("#row-detail").render())
        assert "llama3.1:70b" in detail and "ollama pull llama3.1:70b" in detail


async def test_load_plan_from_file_and_type_a_plan(project_dir, cockpit):
    make_project(project_dir)
    (project_dir / "plan.yaml").write_text(
        "meta_task: Tidy the docs\nsubtasks:\n  - description: Summarize README\n"
        "    handler: summarize-files\n    delegability_category: agent\n"
        "  - task: Decide the new structure\n    handler: Claude\n"
    )
    app = cockpit(project_dir)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        assert screen.plan is None and screen.query_one("#plan-empty").display
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, PromptDialog)
        await pilot.press(*"plan.yaml", "enter")
        await pilot.pause()
        assert screen.plan is not None and screen.plan.meta_task == "Tidy the docs"
        written = revisions(project_dir)
        assert len(written) == 1 and written[0].source == "file"
        assert [r.handler for r in written[0].subtasks] == ["summarize-files", "claude"]

        await pilot.press("t")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        dialog.query_one("#text-title").value = "Ship it"
        dialog.query_one("#text-body").text = "Extract TODOs → extract-endpoints (agent)\nWrite release notes"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.plan.meta_task == "Ship it"
        assert len(revisions(project_dir)) == 2
        assert [r.description for r in screen.plan.subtasks] == ["Extract TODOs", "Write release notes"]

        await pilot.press("c")
        await pilot.pause()
        await pilot.press("down", "enter")  # the older plan
        await pilot.pause()
        assert screen.plan.meta_task == "Tidy the docs"


async def test_bad_plan_file_names_file_and_line(project_dir, cockpit):
    make_project(project_dir)
    (project_dir / "bad.json").write_text('{"subtasks": [\n  {"description": "a"},\n  {"description": }\n]}')
    app = cockpit(project_dir)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"bad.json", "enter")
        await pilot.pause()
        messages = [n.message for n in posted(app)]
        assert any("bad.json:3" in m for m in messages), messages
        assert not (project_dir / ".llm-orc/evaluations/workflow-plans.jsonl").exists()


async def test_new_revisions_from_the_session_are_picked_up(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        newer = mixed_plan()
        newer.revision = 5
        newer.subtasks[0].description = "Extract endpoints (revised by the session)"
        other = mixed_plan()
        other.id = "plan-other"
        path = plan_project / ".llm-orc/evaluations/workflow-plans.jsonl"
        with path.open("a") as handle:
            handle.write(json.dumps(newer.to_json_dict()) + "\n")
            handle.write("{not json\n")
            handle.write(json.dumps(other.to_json_dict()) + "\n")
        screen._check_file()
        await drain(app)
        await pilot.pause()
        assert screen.plan.revision == 5
        assert str(screen.query_one(PlanTable).get_cell("r-01", "subtask")).startswith(
            "Extract endpoints (revised"
        )
        assert set(screen.plans) == {"plan-promotion", "plan-other"}


async def test_hundreds_of_rows_update_only_changed_cells(project_dir, cockpit):
    make_project(project_dir, plan=big_plan(500))
    app = cockpit(project_dir)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        table = app.screen.query_one(PlanTable)
        assert table.row_count == 500
        await pilot.press("a")
        assert table.cells_updated == 1  # only the status cell of row 1
        assert "approved" in str(table.get_cell("r-0000", "status"))


async def test_footer_hints_follow_the_row(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app, status=DOWN)
        screen = app.screen
        assert screen.check_action("approve", ()) is True
        assert screen.check_action("undecide", ()) is False
        assert screen.check_action("run_row", ()) is False  # pending: nothing to run
        await pilot.press("a", "up")
        assert screen.check_action("approve", ()) is None
        assert screen.check_action("undecide", ()) is True
        # approved, but Ollama is down: its ensemble cannot run
        assert screen.check_action("run_row", ()) is False


async def test_table_is_compact_at_120_columns_and_wide_at_140(plan_project, cockpit, fake_ollama):
    from textual.widgets.data_table import ColumnKey

    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(PlanTable)
        assert table.compact
        assert str(table.get_cell("r-03", "category")) == "ens."
        assert table.columns[ColumnKey("handler")].width >= 20  # "⚠ classify-issues *" fits
        assert table.columns[ColumnKey("subtask")].width >= 22
        await pilot.resize_terminal(140, 36)
        await settle(pilot, app)
        assert not table.compact
        assert str(table.get_cell("r-03", "category")) == "ensemble"
        assert table.columns[ColumnKey("subtask")].width >= 30


async def test_capacity_flag_and_send_to_claude_with_the_reason(plan_project, cockpit, fake_ollama):
    """summarize-files uses gemma3:1b, which the fake Ollama holds partly in system RAM
    (size_vram 600 MB of 815 MB): the row's detail line says so and K sends it to Claude."""
    fake_ollama.preload("gemma3:1b")
    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        await pilot.press("K")  # #1 extract-endpoints fits: nothing is written
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen) and len(revisions(plan_project)) == 1
        await pilot.press("down")
        await pilot.pause()
        detail = str(screen.query_one("#row-detail").render())
        assert "⏳ capacity: gemma3:1b runs 26 % on CPU — ~3.4× slower" in detail
        await pilot.press("K")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        last = revisions(plan_project)[-1]
        sent = row(last, "r-02")
        assert sent.handler == "claude" and sent.original_handler == "summarize-files"
        assert sent.route_reason == "capacity: gemma3:1b runs 26 % on CPU — ~3.4× slower"
        assert last.change == "capacity #2: summarize-files → claude"
        assert row(last, "r-01").handler == "extract-endpoints"
