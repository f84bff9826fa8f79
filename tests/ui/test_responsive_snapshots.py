"""Every screen of the cockpit at 80×24, 120×36 and 200×60 on the demo project (issue 12):
usable when small (the columns that matter stay, the rest move to the detail line, scrolling
follows focus), using the space when large.  Plus the dialogs that must fit at 80×24.

Regenerate with ``pytest tests/ui/test_responsive_snapshots.py --snapshot-update`` and look at
the SVGs before committing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import drain, wait_until
from tests.ui.review_support import demo_app

SIZES = {"80x24": (80, 24), "120x36": (120, 36), "200x60": (200, 60)}
MODES = ["home", "plan", "run", "evaluate", "lifecycle", "models", "savings"]


async def _settle(pilot) -> None:
    app = pilot.app
    await drain(app)  # the screen's own loads and polls first (Models keeps a GPU history)…
    await pilot.pause()
    await app.poll_once()  # …then one status poll: Ollama is down (a closed port), same text
    await drain(app)
    await pilot.pause()
    await drain(app)
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("mode", MODES)
def test_screen_at_size(snap_compare, mode: str, size: str) -> None:
    app, _ = demo_app(Path.home(), mode)  # under the test's HOME: shown as ~/promotion-handler-demo
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_settle)


@pytest.mark.parametrize("mode", ["lifecycle", "models", "savings"])
def test_screen_at_100x30(snap_compare, mode: str) -> None:
    """Between the narrow and the full layout: the columns that matter stay whole (Lifecycle
    keeps "next" and "debt" on screen, uses and last used move to the Selected panel; Models keeps
    "runs?" and the fix, the loaded models' size and CPU share and the ensembles' tier collapse;
    Savings keeps each row's name, saving and debt)."""
    app, _ = demo_app(Path.home(), mode)
    assert snap_compare(app, terminal_size=(100, 30), run_before=_settle)


def test_evaluate_tab_reaches_score_at_80x24(snap_compare) -> None:
    """Tab from the queue to the reflection and on: the detail scrolls so "2 · Score" shows."""
    app, _ = demo_app(Path.home(), "evaluate")

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("tab", "tab", "tab")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=SIZES["80x24"], run_before=run_before)


@pytest.mark.parametrize(
    "mode,keys",
    [
        ("lifecycle", ["t"]),  # thresholds dialog: its buttons on screen
        ("plan", ["t"]),  # type a new plan
        ("plan", ["o"]),  # handler picker
    ],
    ids=["lifecycle-thresholds", "plan-type", "plan-handler"],
)
def test_dialog_fits_at_80x24(snap_compare, mode: str, keys: list[str]) -> None:
    app, _ = demo_app(Path.home(), mode)

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press(*keys)
        await _settle(pilot)
        # the dialog focuses its first field after it mounts: on a busy machine that can land
        # after the first settle, so wait for it (a condition, never a sleep)
        await wait_until(
            lambda: pilot.app.focused is not None and pilot.app.focused.screen is pilot.app.screen
        )
        await _settle(pilot)

    assert snap_compare(app, terminal_size=SIZES["80x24"], run_before=run_before)


async def _rendered(app) -> list[list[tuple[str, str]]]:
    return [[(seg.text, str(seg.style)) for seg in strip] for strip in app.screen._compositor.render_strips()]


@pytest.mark.parametrize("mode", [m for m in MODES if m != "home"])
async def test_a_screen_visited_later_looks_as_when_opened_first(tmp_path: Path, mode: str) -> None:
    """Screens opened by a key (not the first one) skip Textual's full CSS refresh (see
    ui/app.py ``_lazy``): they must render exactly as when the cockpit opens on them."""
    first, _ = demo_app(tmp_path / "a", mode)
    async with first.run_test(size=SIZES["80x24"]) as pilot:
        await _settle(pilot)
        expected = await _rendered(first)
    later, _ = demo_app(tmp_path / "b", "home")
    async with later.run_test(size=SIZES["80x24"]) as pilot:
        await _settle(pilot)
        await later.switch_mode(mode)
        await _settle(pilot)
        got = await _rendered(later)
        # the text first (a readable diff), then the styles
        assert ["".join(t for t, _ in row) for row in got] == ["".join(t for t, _ in row) for row in expected]
        assert got == expected
