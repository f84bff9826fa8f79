"""The idle build leaves nothing for a first visit or the palette's first open to redo."""

from __future__ import annotations

import gc

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable

from conductor_tui.ui import warm
from conductor_tui.ui.screens.base import CockpitFooter
from tests.ui.conftest import drain
from tests.ui.review_support import demo_app


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    gc.unfreeze()  # the idle build freezes the heap: give the next tests theirs back


async def _prebuild(app, pilot) -> None:
    warm.prebuild_screens(app)
    for _ in range(5000):  # bounded: each step is a short timer
        if app.prebuilt:
            return
        await pilot.pause(0.01)
    raise AssertionError("the idle build never finished")


async def test_idle_build_leaves_every_screen_styled_and_every_source_parsed(plan_project, cockpit):
    app = cockpit(plan_project, initial_mode="home")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await _prebuild(app, pilot)
        assert set(app._screen_stacks) == set(app.MODES)
        stale = warm._stale_screens(app)
        assert stale == [], "a key back to this screen would re-parse every stylesheet"
        sheet = app.stylesheet
        for read_from, (css, defaults, tie_breaker, scope) in sheet.source.items():
            assert (css, read_from, defaults, tie_breaker, scope) in sheet._parse_cache, read_from

        # the palette's first open: no source parsed again
        original = sheet._parse_rules
        misses: list[object] = []

        def rules(css, read_from, is_default_rules=False, tie_breaker=0, scope=""):
            if (css, read_from, is_default_rules, tie_breaker, scope) not in sheet._parse_cache:
                misses.append(read_from)
            return original(css, read_from, is_default_rules, tie_breaker, scope)

        sheet._parse_rules = rules
        await app.switch_mode("plan")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        assert misses == []


async def _prepainted(app, pilot) -> None:
    """Every suspended screen laid out and rendered, once every load has finished."""
    done: list[bool] = []
    warm.prepaint_screens(app, lambda: done.append(True))
    for _ in range(5000):  # bounded: each step is a short timer
        if done:
            return
        await pilot.pause(0.01)
    raise AssertionError("the idle layout never finished")


async def test_first_visit_after_the_idle_build_paints_from_rendered_lines(tmp_path):
    app, _ = demo_app(tmp_path, "home")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await _prebuild(app, pilot)
        assert gc.get_freeze_count() > 0, "the built cockpit is out of the collector's reach"
        await drain(app)
        await _prepainted(app, pilot)  # again, after every load (the catalog may land late)
        screen = app._screen_stacks["lifecycle"][0]
        table = screen.query_one("#lc-table", DataTable)
        assert table.row_count > 0 and table.size.width == 120
        cells: list[object] = []
        render_cell = table._render_cell
        table._render_cell = lambda *a, **k: cells.append(a) or render_cell(*a, **k)
        restyled: list[object] = []
        update_styles = app.update_styles
        app.update_styles = lambda node, animate=True: restyled.append(node) or update_styles(node, animate)
        await app.switch_mode("lifecycle")
        await pilot.pause()
        assert app.screen is screen
        assert screen not in restyled, "a resumed screen whose styles cannot have changed is not restyled"
        assert cells == [], "the table's lines were rendered while idle"


async def test_a_screen_resumed_after_a_theme_change_is_restyled(tmp_path):
    app, _ = demo_app(tmp_path, "plan")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await app.switch_mode("lifecycle")
        await drain(app)
        await app.switch_mode("plan")
        await pilot.pause()
        before = app.screen.query_one(DataTable).styles.background
        await app.switch_mode("lifecycle")
        app.theme = "textual-light" if app.current_theme.dark else "textual-dark"
        await pilot.pause()
        await app.switch_mode("plan")
        await pilot.pause()
        assert app.screen.query_one(DataTable).styles.background != before


async def test_footer_recomposes_only_when_its_keys_change(tmp_path):
    app, _ = demo_app(tmp_path, "plan")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        footer = app.screen.query_one(CockpitFooter)
        for _ in range(500):  # its first keys (composed once the screen's bindings are known)
            if footer._shown is not None and footer._shown == footer._keys():
                break
            await pilot.pause(0.01)
        await pilot.pause()
        keys = [k.key for k in footer.query("FooterKey")]
        assert keys
        composed: list[bool] = []  # every recompose
        wasted: list[bool] = []  # a recompose that showed the keys it already showed
        compose = footer.compose

        def recompose():
            composed.append(True)
            if footer._keys() == footer._shown:
                wasted.append(True)
            return compose()

        footer.compose = recompose  # type: ignore[method-assign]
        for _ in range(2):
            await app.switch_mode("lifecycle")
            await drain(app)
            await app.switch_mode("plan")
            await pilot.pause()
        # (a key that became usable meanwhile, e.g. once the ensembles were checked, is a change)
        assert wasted == [], "the same keys: the footer kept its widgets"
        assert footer._shown == footer._keys(), "the footer shows the screen's keys"

        app.bind("f9", "bell", description="Extra")  # the keys change: the footer shows it
        app.screen.refresh_bindings()
        for _ in range(500):
            if "f9" in [k.key for k in footer.query("FooterKey")]:
                break
            await pilot.pause(0.01)
        assert "f9" in [k.key for k in footer.query("FooterKey")]


async def test_a_switch_to_a_built_screen_is_not_held_back(tmp_path):
    app, _ = demo_app(tmp_path, "plan")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        held = app._batch_count
        app.switch_mode("lifecycle")  # not built yet: Textual holds the frames while it mounts
        assert app._batch_count == held + 1
        await drain(app)
        held = app._batch_count
        app.switch_mode("plan")  # built: its frame goes out at once
        assert app._batch_count == held
        await pilot.pause()
        assert app.screen is app._screen_stacks["plan"][0]


@pytest.mark.parametrize("mode", ["plan", "evaluate"])
async def test_first_screen_is_current_once_mounted_so_a_switch_back_restyles_nothing(
    mode, tmp_path, monkeypatch
):
    app, _ = demo_app(tmp_path, mode)
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        assert app.screen._css_update_count == app._css_update_count
        assert warm._stale_screens(app) == []
        refreshed: list[bool] = []
        original = app.refresh_css
        monkeypatch.setattr(app, "refresh_css", lambda *a, **k: (refreshed.append(True), original(*a, **k)))
        await app.switch_mode("home")
        await pilot.pause()
        await app.switch_mode(mode)
        await pilot.pause()
        assert refreshed == [], "the first switch back re-parsed and re-applied every style"


@pytest.mark.parametrize("mode", ["evaluate", "lifecycle", "savings"])
async def test_a_state_loaded_after_the_heap_was_frozen_is_frozen_too(mode, tmp_path):
    app, _ = demo_app(tmp_path, "home")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        gc.collect()
        gc.freeze()  # as the idle build leaves the cockpit
        frozen = gc.get_freeze_count()
        await app.switch_mode(mode)
        await drain(app)
        await pilot.pause()
        screen = app.screen
        # what this load made (the review state itself may be an earlier load's, kept)
        loaded = getattr(screen, {"savings": "snapshot", "lifecycle": "rows", "evaluate": "items"}[mode])
        assert loaded
        # frozen with the heap: out of the collector's reach (the freeze count alone can fall
        # meanwhile, as frozen objects of the screen left behind are freed)
        assert not any(obj is loaded for obj in gc.get_objects()), "still in the collector's reach"
        assert frozen > 0


async def test_without_the_idle_build_a_loaded_state_is_left_to_the_collector(tmp_path):
    app, _ = demo_app(tmp_path, "lifecycle")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        assert app.screen.state is not None
        assert gc.get_freeze_count() == 0  # the idle build freezes it, with everything else
