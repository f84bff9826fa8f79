"""The loading indicator over a table still being read redraws four times a second, not
sixteen (each redraw is work taken from the log readers); and the terminal-safety line
filter passes a clean line through untouched, after one search over its text."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.widgets import DataTable

from conductor_tui.ui.terminal_safety import ControlCharFilter
from conductor_tui.ui.widgets.loading import REDRAWS_PER_SECOND, SlowLoadingIndicator
from tests.ui.review_support import demo_app


async def test_a_loading_table_shows_the_slow_indicator(tmp_path):
    app, _project = demo_app(tmp_path, "savings")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        table = app.screen.query(DataTable).first()
        table.loading = True
        await pilot.pause()
        indicator = table._cover_widget  # what Textual draws over a loading widget
        assert isinstance(indicator, SlowLoadingIndicator)
        assert indicator.auto_refresh == 1 / REDRAWS_PER_SECOND  # its mount asked for 1/16
        table.loading = False
        await pilot.pause()
        assert table._cover_widget is None
        assert indicator.auto_refresh is None or not indicator.is_attached


def test_the_line_filter_returns_a_clean_line_as_it_is_and_cleans_a_dirty_one() -> None:
    flt = ControlCharFilter()
    clean = [Segment("plain text ", Style()), Segment("résumé → ok", Style(bold=True)), Segment("", None, [])]
    assert flt.apply(clean, Color(0, 0, 0)) is clean
    dirty = [Segment("ok ", Style()), Segment("evil\x1b]0;T\x07", Style()), Segment("\u202e!", None)]
    out = flt.apply(dirty, Color(0, 0, 0))
    assert [s.text for s in out] == ["ok ", "evil]0;T", "!"]


async def test_the_run_panel_says_the_logs_are_being_read_until_they_are(tmp_path):
    from tests.ui.conftest import drain

    app, _project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=(120, 36)) as pilot:
        await drain(app)
        await pilot.pause()
        screen = app.screen
        loaded = screen.state
        assert loaded is not None
        panel = screen.query_one("#ev-run")
        screen.state = None  # as before the first load's result arrives
        screen._set_detail(None)
        assert "Reading routing-log.jsonl" in str(panel.render())
        screen.state = loaded
        screen._set_detail(None)
        assert "Nothing needs an evaluation right now" in str(panel.render())
