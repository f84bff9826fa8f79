"""Issue 17 in the cockpit: judge agreement on Evaluate and Lifecycle, training-data export
offered for a LoRA candidate (real key presses, files on disk)."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable, Static

from conductor_tui.ui.app import make_app
from conductor_tui.ui.screens.evaluation import EvaluationScreen
from conductor_tui.ui.screens.lifecycle import LifecycleScreen
from tests.core.unique_logs import write_project
from tests.ui.review_support import SIZE, services_for, settle


def _project(tmp_path: Path) -> Path:
    proj, other = tmp_path / "proj", tmp_path / "other"
    proj.mkdir()
    other.mkdir()
    write_project(proj, other)
    return proj


async def test_evaluate_shows_agreement_and_the_untrusted_judge(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    app = make_app(services=services_for(proj, tmp_path), initial_mode="evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        help_text = str(screen.query_one("#ev-queue-help", Static).render())
        assert "extract: 60% (3/5, 23–88%) → back to you" in help_text
        ids = [i.routing_id for i in screen.items]
        assert "rd-ex6" in ids
        table = screen.query_one("#ev-queue", DataTable)
        table.move_cursor(row=ids.index("rd-ex6"))
        await settle(pilot)
        run_text = str(screen.query_one("#ev-run", Static).render())
        assert "Judge agreement for extract: 60%" in run_text and "come back to you" in run_text


async def test_lifecycle_exports_training_data_for_a_lora_candidate(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    app = make_app(services=services_for(proj, tmp_path), initial_mode="lifecycle")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LifecycleScreen)
        table = screen.query_one("#lc-table", DataTable)
        keys = [r.key for r in screen.rows]
        # extraction/extract is not a LoRA candidate: x is refused
        table.move_cursor(row=keys.index("extraction::extract"))
        await settle(pilot)
        assert screen.check_action("export_training", ()) is False
        detail = str(screen.query_one("#lc-detail", Static).render())
        assert "Judge agreement: 60% (3/5" in detail
        # test-generation/gen-tests: 4 poor, 3 wrong-format (and an incomplete) → candidate
        table.move_cursor(row=keys.index("test-generation::gen-tests"))
        await settle(pilot)
        assert screen.current.lora.flag
        assert "x exports its training data" in str(screen.query_one("#lc-detail", Static).render())
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await settle(pilot)
        result = screen.last_export
        assert result.count == 3
        manifest = json.loads((result.folder / "manifest.json").read_text())
        assert manifest["task_type"] == "test-generation"
        assert manifest["by_label"] == {"poor:wrong-format": 2, "good": 1}


async def test_savings_shows_the_range_and_drills_down_to_log_lines(tmp_path: Path) -> None:
    from conductor_tui.ui.screens.savings import SavingsScreen
    from conductor_tui.ui.widgets.explain import ExplainDialog

    proj = _project(tmp_path)
    app = make_app(services=services_for(proj, tmp_path), initial_mode="savings")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        assert "saved (11k–20k)" in str(screen.query_one("#sv-saved", Static).render())
        table = screen.query_one("#sv-by-tt", DataTable)
        keys = [k.value for k in table.rows]
        table.focus()
        table.move_cursor(row=keys.index("extraction"))
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ExplainDialog)
        exp = screen.last_explanation
        assert exp.scope == ("task-type", "extraction") and exp.total == 6750 and exp.range == (4800, 9000)
        assert [at for at, _v, _w in exp.lines] == [f"routing-log.jsonl:{n}" for n in range(1, 7)]
        assert app.screen.query_one("#ex-table", DataTable).row_count == 6
        await pilot.press("escape")
        await pilot.press("D")
        await settle(pilot)
        assert screen.last_explanation.figure == "net" and screen.last_explanation.total == 12950
