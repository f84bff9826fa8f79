"""Launch: the first screen is styled with the launch sheets only; the other screens' sheets
join before anything they style is built; file reads wait for the first paint."""

from __future__ import annotations

import gc

import pytest
from textual import events
from textual.css.stylesheet import Stylesheet

from tests.ui.conftest import drain


def _deferred_rules(app) -> list:
    sheet = Stylesheet(variables=app.get_css_variables())
    for path in app.SCREEN_CSS:
        sheet.add_source(path.read_text(encoding="utf-8"), read_from=(str(path), ""))
    return sheet.rules


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)])
@pytest.mark.parametrize("with_plan", [True, False])
async def test_deferred_sheets_match_nothing_on_the_first_screen(size, with_plan, request, cockpit):
    project = request.getfixturevalue("plan_project" if with_plan else "project_dir")
    app = cockpit(project)
    async with app.run_test(size=size) as pilot:
        await drain(app)
        await pilot.pause()
        assert app.current_mode == ("plan" if with_plan else "home")
        rules = _deferred_rules(app)
        assert rules, "the screens' sheets hold rules"
        nodes = list(app.screen.walk_children(with_self=True))
        assert len(nodes) > 10
        for node in nodes:
            matched = [r.selectors for r in rules if any(Stylesheet._check_rule(r, node.css_path_nodes))]
            assert matched == [], f"{node!r} would be styled differently once the sheets load"


async def test_launch_screen_is_styled_without_the_screens_sheets(plan_project, cockpit):
    seen: list[tuple[bool, int]] = []
    app = cockpit(plan_project)

    def hook(message) -> None:
        if isinstance(message, events.Ready) and not seen:
            sources = {read_from[0] for read_from in app.stylesheet.source}
            seen.append((app.screen_styles_loaded, sum(str(p) in sources for p in app.SCREEN_CSS)))

    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await drain(app)
        await pilot.pause()
        assert seen == [(False, 0)], "the first frame is styled by the launch sheets alone"
        for _ in range(200):  # added once the first screen is up (a short timer)
            if app.screen_styles_loaded:
                break
            await pilot.pause(0.01)
        sources = {read_from[0] for read_from in app.stylesheet.source}
        assert all(str(path) in sources for path in app.SCREEN_CSS)


@pytest.mark.parametrize("mode", ["run", "evaluate", "savings"])
async def test_a_first_screen_outside_the_launch_set_has_its_sheets(mode, plan_project, cockpit):
    app = cockpit(plan_project, initial_mode=mode)
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        assert app.screen_styles_loaded
        widget = {"run": "#run-tree", "evaluate": "#ev-queue-box", "savings": "#sv-side"}[mode]
        width = app.screen.query_one(widget).styles.width
        assert width is not None and width.value in (38, 46, 50)  # run.tcss / panels.tcss


async def test_a_dialog_pushed_from_the_launch_screen_loads_the_sheets_first(plan_project, cockpit):
    from conductor_tui.ui.screens.dialogs import ConfirmDialog

    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.screen_styles_loaded = False  # as at launch, before the idle step
        sources = dict(app.stylesheet.source)
        for path in app.SCREEN_CSS:
            sources.pop((str(path), ""), None)
        app.stylesheet.source = sources
        app.push_screen(ConfirmDialog("Quit?", "Nothing runs."))
        await pilot.pause()
        assert app.screen_styles_loaded
        assert all((str(path), "") in app.stylesheet.source for path in app.SCREEN_CSS)


async def test_live_cockpit_reads_the_plans_after_the_first_paint(plan_project, cockpit):
    at_ready: list[list[str]] = []
    app = cockpit(plan_project, poll_interval=30.0)

    def hook(message) -> None:
        if isinstance(message, events.Ready) and not at_ready:
            at_ready.append([w.group for w in app.workers])

    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        table = app.screen.query_one("#plan-table")
        for _ in range(1000):
            if table.row_count:
                break
            await pilot.pause(0.01)
        assert at_ready and "plans-load" not in at_ready[0]
        assert table.row_count == 7
    gc.unfreeze()  # in case the idle build got as far as freezing the heap


async def test_first_screen_is_not_restyled_on_its_first_resume(plan_project, cockpit, monkeypatch):
    from conductor_tui.ui.screens.base import CockpitScreen

    restyled: list[bool] = []
    original = CockpitScreen._on_screen_resume

    def resume(self, event) -> None:
        original(self, event)
        restyled.append(event.refresh_styles)

    monkeypatch.setattr(CockpitScreen, "_on_screen_resume", resume)
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        assert restyled[:1] == [False], "its widgets were styled as they mounted"
        await app.switch_mode("home")
        await pilot.pause()
        app._invalidate_css()  # a real change while it is away (the app's CSS) still restyles it
        await app.switch_mode("plan")
        await pilot.pause()
        assert restyled[-1] is True


async def test_footer_never_composes_the_same_keys_twice_in_a_row(plan_project, cockpit, monkeypatch):
    from conductor_tui.ui.screens.base import CockpitFooter

    composed: list[tuple] = []
    original = CockpitFooter.compose

    def compose(self):
        if self._bindings_ready:
            composed.append(self._keys())
        return original(self)

    monkeypatch.setattr(CockpitFooter, "compose", compose)
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        assert composed, "the footer shows the screen's keys"
        assert app.screen.query_one(CockpitFooter).query("FooterKey")
        before = len(composed)
        await pilot.press("e")  # the edit bar: its keys replace the table's
        await pilot.pause()
        await pilot.pause()
        assert len(composed) > before, "a change of keys still recomposes"
    repeats = [i for i in range(1, len(composed)) if composed[i] == composed[i - 1]]
    assert repeats == [], "composed again with the keys it already showed"
