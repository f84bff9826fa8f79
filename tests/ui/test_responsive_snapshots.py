"""Every screen of the cockpit at 80×24, 120×36 and 200×60 on the demo project (issue 12):
usable when small (the columns that matter stay, the rest move to the detail line, scrolling
follows focus), using the space when large.  Plus the dialogs that must fit at 80×24.

Regenerate with ``pytest tests/ui/test_responsive_snapshots.py --snapshot-update`` and look at
the SVGs before committing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import drain
from tests.ui.issue5_support import demo_app

SIZES = {"80x24": (80, 24), "120x36": (120, 36), "200x60": (200, 60)}
MODES = ["home", "plan", "run", "evaluate", "lifecycle", "models", "savings"]


async def _settle(pilot) -> None:
    app = pilot.app
    await app.poll_once()  # Ollama is down (a closed port): the same text every time
    await drain(app)
    await pilot.pause()
    await drain(app)
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("mode", MODES)
def test_screen_at_size(snap_compare, tmp_path: Path, mode: str, size: str) -> None:
    app, _ = demo_app(tmp_path, mode)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_settle)


def test_evaluate_tab_reaches_score_at_80x24(snap_compare, tmp_path: Path) -> None:
    """Tab from the queue to the reflection and on: the detail scrolls so "2 · Score" shows."""
    app, _ = demo_app(tmp_path, "evaluate")

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
def test_dialog_fits_at_80x24(snap_compare, tmp_path: Path, mode: str, keys: list[str]) -> None:
    app, _ = demo_app(tmp_path, mode)

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press(*keys)
        await _settle(pilot)

    assert snap_compare(app, terminal_size=SIZES["80x24"], run_before=run_before)
