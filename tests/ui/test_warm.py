"""The idle build leaves nothing for a first visit or the palette's first open to redo."""

from __future__ import annotations

from textual.command import CommandPalette

from conductor_tui.ui import warm
from tests.ui.conftest import drain


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
