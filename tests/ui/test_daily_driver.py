"""The cockpit as a daily driver (issue 12): final rows keep their decision, dialogs start in
their first field, edit bars do not select, keys that cannot act are hidden or greyed with the
reason (footer and palette agree), routing changes ask first, `g` asks for the input, and
quitting during a run asks, cancels and records it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from conductor_tui.core import plan as plan_ops
from conductor_tui.core.records import RowStatus
from conductor_tui.core.store import ProjectStore
from conductor_tui.ui.screens.dialogs import ConfirmDialog, HandlerPicker, TextDialog
from conductor_tui.ui.screens.plan import PlanScreen
from conductor_tui.ui.screens.run import RunScreen
from conductor_tui.ui.widgets.config_dialogs import ActionConfirm
from conductor_tui.ui.widgets.plan_table import PlanTable
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, posted, settle, wait_until
from tests.ui.review_support import SIZE, demo_app
from tests.ui.review_support import settle as settle5
from tests.ui.sample import fixed_clock, mixed_plan
from tests.ui.test_plan_screen import revisions, row


def _palette(app) -> dict[str, str]:
    return {c.title: c.help for c in app.get_system_commands(app.screen)}


def _footer_actions(screen) -> dict[str, bool]:
    return {
        a.binding.action: a.enabled
        for a in screen.active_bindings.values()
        if a.node is screen and a.binding.show
    }


# ----------------------------------------------------------------------------- final rows


@pytest.mark.parametrize("status", [RowStatus.DONE, RowStatus.FAILED, RowStatus.RUNNING])
def test_rows_that_ran_keep_their_decision(status: RowStatus) -> None:
    plan = plan_ops.set_row_status(mixed_plan(), "r-01", status, fixed_clock)
    for target in (RowStatus.APPROVED, RowStatus.REJECTED, RowStatus.PENDING):
        with pytest.raises(plan_ops.PlanError, match=rf"#1 is {status.value}: its decision is final"):
            plan_ops.decide(plan, ["r-01"], target, fixed_clock)
    with pytest.raises(plan_ops.PlanError):
        plan_ops.bulk_decide(plan, RowStatus.REJECTED, fixed_clock, row_ids=["r-01", "r-02"])
    # the other rows are still decided as before
    assert plan_ops.approve(plan, "r-02", fixed_clock).subtasks[1].status == RowStatus.APPROVED


async def test_plan_screen_greys_approve_reject_undo_on_a_done_row(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "plan")
    plans = ProjectStore(project).plans_path
    size = plans.stat().st_size
    async with app.run_test(size=SIZE) as pilot:
        await settle5(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.selected_row.status == RowStatus.DONE
        for action in ("approve", "reject", "undecide"):
            assert screen.check_action(action, ()) is None  # shown greyed
        footer = _footer_actions(screen)
        assert footer["approve"] is False and footer["reject"] is False
        palette = _palette(app)
        assert "its decision is final" in palette["Approve (not now)"]  # the palette says why
        assert "Approve" not in palette
        await pilot.press("a", "x", "u")
        await settle5(pilot)
        assert "its decision is final" in str(screen.query_one("#row-detail").render())
    assert plans.stat().st_size == size  # nothing written


async def test_approving_a_row_that_cannot_run_warns(plan_project, cockpit) -> None:
    app = cockpit(plan_project)  # Ollama down: no ensemble can run here
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.screen.query_one(PlanTable).move_cursor(row=3)  # #4 classify-issues, pending
        await pilot.pause()
        await pilot.press("a")
        await settle(pilot, app, poll=False)
        assert row(revisions(plan_project)[-1], "r-04").status == RowStatus.APPROVED  # still decided
        warnings = [n for n in posted(app) if n.severity == "warning"]
        assert any("#4 approved, but classify-issues cannot run here" in n.message for n in warnings)


# ----------------------------------------------------------------------------- dialogs


async def test_type_a_plan_starts_in_the_meta_task_and_tab_moves_on(plan_project, cockpit) -> None:
    app = cockpit(plan_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TextDialog)
        assert app.focused is app.screen.query_one("#text-title", Input)
        await pilot.press(*"Ship", "tab")
        assert app.focused is app.screen.query_one("#text-body", TextArea)
        await pilot.press(*"one", "shift+tab")
        assert app.focused is app.screen.query_one("#text-title", Input)
        await pilot.press("enter")  # Enter in the one-line field goes to the subtasks, not submit
        assert isinstance(app.screen, TextDialog)
        assert app.focused is app.screen.query_one("#text-body", TextArea)
        assert app.screen.query_one("#text-title", Input).value == "Ship"
        assert app.screen.query_one("#text-body", TextArea).text == "one"


async def test_edit_bar_puts_the_cursor_at_the_end_without_selecting(plan_project, cockpit) -> None:
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        field = app.screen.query_one("#edit-input", Input)
        assert app.focused is field
        assert field.cursor_position == len(field.value) > 0
        assert field.selection.is_empty
        await pilot.press(*" now")  # typing appends: the description is not replaced
        await pilot.press("enter")
        await settle(pilot, app, poll=False)
    assert row(revisions(plan_project)[-1], "r-01").description.endswith("routes/*.py now")


async def test_handler_picker_leaves_out_default_roles_that_cannot_run(plan_project, cockpit) -> None:
    app = cockpit(plan_project)  # no roles.yaml, no starter profiles: the default roles cannot run
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        missing = [c.role for c in screen._role_choices if c.builtin and not c.available]
        assert missing  # e.g. "quick": profile starter-small not found
        await pilot.press("o")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, HandlerPicker)
        options = picker.query_one("#handler-options")
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        offered = [i[2:] for i in ids if i.startswith("r:")]
        assert offered == [c.role for c in screen._role_choices if c.available]  # e.g. planner → Claude
        assert not set(missing) & set(offered)


# ----------------------------------------------------------------------------- keys


async def test_judge_key_hidden_without_claude_in_footer_and_palette(tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle5(pilot)
        screen = app.screen
        assert screen.current is not None
        assert "judge" not in _footer_actions(screen)
        assert not [t for t in _palette(app) if t.startswith("Judge")]


async def test_standing_authorisation_asks_before_changing_routing(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    store = ProjectStore(project)
    version = store.load_config().version
    async with app.run_test(size=SIZE) as pilot:
        await settle5(pilot)
        assert app.screen.current.authorized  # extraction → extract-code-patterns
        await pilot.press("a")
        await settle5(pilot)
        assert isinstance(app.screen, ActionConfirm) and "Revoke" in app.screen.title_text
        await pilot.press("escape")
        await settle5(pilot)
        assert store.load_config().version == version  # declined: nothing written
        await pilot.press("a")
        await settle5(pilot)
        await pilot.click("#cp-ok")
        await settle5(pilot)
    config = store.load_config()
    assert config.version == version + 1
    assert config.authorization_for("extraction", "extract-code-patterns") is None


# ----------------------------------------------------------------------------- runs


async def test_g_asks_for_the_input_and_runs_what_was_typed(plan_project, cockpit, fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="done", tokens_per_second=5000)])
    app = cockpit(plan_project, ollama_host=fake.url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "up", "g")  # approve #1 (extract-endpoints), then run it
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        body = dialog.query_one("#text-body", TextArea)
        assert body.text == row(revisions(plan_project)[-1], "r-01").description  # the default
        body.text = "Only routes/users.py, please"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)
        await drain(app)
        assert app.screen.view.status == "completed"
    prompts = [str(r["body"]) for r in fake.generation_requests()]
    assert prompts and all("Only routes/users.py, please" in p for p in prompts)


async def test_quit_during_a_run_asks_then_cancels_and_records(plan_project, cockpit, fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="word " * 50000, tokens_per_second=100)])
    app = cockpit(plan_project, ollama_host=fake.url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "up", "g")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_until(
            lambda: screen.view is not None and screen.view.agents["extractor"].streamed_tokens > 5
        )
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)  # asks first
        assert app.is_running
        await pilot.press("n")  # no: the run goes on
        await pilot.pause()
        assert screen.busy and app.is_running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(lambda: not app.is_running)
    log = ProjectStore(plan_project).read_routing().records
    assert [d.status for d in log] == ["cancelled"]
    assert row(revisions(plan_project)[-1], "r-01").status == RowStatus.APPROVED  # can run again
