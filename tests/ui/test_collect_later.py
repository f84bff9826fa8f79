"""The collector is held off from Evaluate's first load until its rows are painted, and is
always switched back on: after the rows, when the screen goes away first, and never by a
pause that did not switch it off."""

from __future__ import annotations

import gc
from pathlib import Path

from conductor_tui.ui.collect_later import CollectionPause
from conductor_tui.ui.screens.evaluation import EvaluationScreen
from tests.ui.conftest import wait_until
from tests.ui.review_support import SIZE, demo_app, settle


def test_a_pause_switches_back_on_only_what_it_switched_off() -> None:
    assert gc.isenabled()
    pause = CollectionPause()
    pause.start()
    try:
        assert not gc.isenabled() and pause.paused
        pause.start()  # a second start changes nothing
        assert pause.paused
    finally:
        pause.end()
    assert gc.isenabled() and not pause.paused
    pause.end()  # idempotent
    assert gc.isenabled()

    gc.disable()  # someone else's pause (a log read's) is left to its owner
    try:
        other = CollectionPause()
        other.start()
        assert not other.paused
        other.end()
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_the_first_load_paints_its_rows_then_collects_again(tmp_path: Path) -> None:
    app, _project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        await wait_until(lambda: screen.state is not None)
        await settle(pilot)
        assert screen.items  # the rows are there
        assert not screen._collect_pause.paused
        assert gc.isenabled()
        screen.reload()  # a later load pauses nothing
        await settle(pilot)
        assert gc.isenabled() and not screen._collect_pause.paused
    assert gc.isenabled()


async def test_a_screen_closed_during_its_first_load_collects_again(tmp_path: Path) -> None:
    app, _project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE):
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        screen._collect_pause.start()  # as the first load does, the app closing meanwhile
    await app.workers.wait_for_complete()
    assert not screen._collect_pause.paused
    assert gc.isenabled()


async def test_a_pause_ends_even_when_nothing_repaints(tmp_path: Path) -> None:
    """``end_after_paint`` on a widget whose screen does not repaint (a suspended screen's):
    the timer ends the pause."""
    app, _project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await settle(pilot)
        pause = CollectionPause()
        pause.start()
        try:
            calls: list[object] = []
            real = screen.call_after_refresh
            screen.call_after_refresh = lambda cb: (calls.append(cb), True)[1]  # never runs it
            pause.end_after_paint(screen)
            screen.call_after_refresh = real
            assert calls and pause.paused
            await wait_until(lambda: not pause.paused, timeout=10)
            assert gc.isenabled()
        finally:
            pause.end()
