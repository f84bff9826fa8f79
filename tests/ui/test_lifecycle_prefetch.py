"""The Lifecycle screen starts its routing-log count workers as it is built (before it is
mounted): its first load takes their result — nothing read twice, no worker left — and
shows the rows a load without them gives; a screen whose log a load already read starts
none."""

from __future__ import annotations

from pathlib import Path

from conductor_tui.core import logscan, review, review_counts
from conductor_tui.core.store import ProjectStore
from conductor_tui.ui.screens.lifecycle import LifecycleScreen
from tests.ui.conftest import wait_until
from tests.ui.review_support import SIZE, demo_app, settle


def _keys(rows) -> list:
    return [(r.key, r.status.phase, r.status.invocations, r.last_used, r.debt) for r in rows]


async def test_the_first_load_takes_the_workers_started_ahead(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")  # split even the demo's small log
    app, project = demo_app(tmp_path, "lifecycle")
    review._MEMO.clear()
    reference = _keys(review.lifecycle_rows(review.load_review(ProjectStore(project), queue=False)))
    review._MEMO.clear()
    started: list[bool] = []
    real_prefetch = review_counts.prefetch_counts
    monkeypatch.setattr(
        "conductor_tui.ui.screens.lifecycle.prefetch_counts",
        lambda store: started.append(real_prefetch(store)) or started[-1],
    )
    forked: list[int] = []
    real_fork_map = logscan.fork_map
    monkeypatch.setattr(logscan, "fork_map", lambda fn, items: forked.append(1) or real_fork_map(fn, items))
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, LifecycleScreen)
            await wait_until(lambda: screen.state is not None)
            await settle(pilot)
            assert started == [True]  # workers were started ahead …
            assert forked == []  # … and the load read nothing again
            assert not review_counts._PREFETCHED
            assert _keys(screen.rows) == reference and reference
    finally:
        review._MEMO.clear()
        for left in list(review_counts._PREFETCHED):
            review_counts.drop_prefetch(Path(left))  # (stopped, not left running)


async def test_no_workers_ahead_when_a_load_is_remembered(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    app, project = demo_app(tmp_path, "lifecycle")
    review._MEMO.clear()
    review.load_review(ProjectStore(project))  # as Evaluate would have: the counts come from it
    started: list[object] = []
    monkeypatch.setattr("conductor_tui.ui.screens.lifecycle.prefetch_counts", started.append)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            await wait_until(lambda: screen.state is not None)
            await settle(pilot)
            assert started == [] and screen.rows
    finally:
        review._MEMO.clear()
