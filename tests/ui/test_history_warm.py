"""Evaluate reads the loop's history of a big project ahead once the person starts a
verdict (``ui/history_warm.py``): the history is remembered before the verdict is
recorded, and recording it does not read the log a second time."""

from __future__ import annotations

from pathlib import Path

from conductor_tui.core import history, history_build
from conductor_tui.ui import history_warm
from conductor_tui.ui.app import make_app
from conductor_tui.ui.screens.evaluation import EvaluationScreen
from tests.ui.conftest import wait_until
from tests.ui.review_support import SIZE, calibrating_project, services_for, settle, type_text


def _remembered(project: Path) -> bool:
    log = str(project / ".llm-orc" / "evaluations" / "routing-log.jsonl")
    return log in history._MEMO


async def test_a_reflection_reads_the_history_ahead_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(history_warm, "WARM_BYTES", 1)  # this small log counts as big
    reads: list[int] = []
    real = history._read_history
    monkeypatch.setattr(history_build, "_read_history", lambda store: (reads.append(1), real(store))[1])
    project = calibrating_project(tmp_path, evaluated=4)
    history._MEMO.clear()  # (writing the project read it)
    reads.clear()
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, EvaluationScreen)
        assert not _remembered(project)  # nothing read before a verdict starts
        await pilot.click("#ev-reflect")
        await type_text(pilot, "All 7 endpoints")
        await wait_until(lambda: _remembered(project))  # read while the person writes
        await pilot.click("#ev-score-good")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await wait_until(lambda: app.screen.items == [])
    assert len(reads) == 1  # the record went on from the history read ahead
    history._MEMO.clear()


async def test_a_small_log_is_not_read_ahead(tmp_path: Path) -> None:
    project = calibrating_project(tmp_path, evaluated=4)
    history._MEMO.clear()
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#ev-reflect")
        await type_text(pilot, "All 7 endpoints")
        await settle(pilot)
        assert not _remembered(project)
    history._MEMO.clear()
