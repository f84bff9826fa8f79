"""Evaluate's full load runs with the garbage collector off (it makes no reference cycles:
its pieces are freed before any collection walks them) and leaves it as it found it; the
counts-only load (Lifecycle) is left to its own pieces."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from conductor_tui.core import review
from conductor_tui.core.store import ProjectStore


def _project(tmp_path: Path) -> ProjectStore:
    evals = tmp_path / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True)
    lines = [json.dumps({"id": f"r-{i}", "routed_to": "ens", "ensemble": "ens"}) for i in range(300)]
    (evals / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    (evals / "evaluations.jsonl").write_text(json.dumps({"routing_id": "r-3", "score": "good"}) + "\n")
    return ProjectStore(tmp_path)


@pytest.mark.parametrize(("queue", "collecting"), [(True, False), (False, True)])
def test_the_full_load_runs_without_collections(tmp_path: Path, monkeypatch, queue, collecting) -> None:
    store = _project(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    seen: list[bool] = []
    real = review._load_review
    monkeypatch.setattr(
        review, "_load_review", lambda *a, **k: (seen.append(gc.isenabled()), real(*a, **k))[1]
    )
    review._MEMO.clear()
    assert gc.isenabled()
    state = review.load_review(store, queue=queue)
    assert seen == [collecting]
    assert gc.isenabled()  # back on after the load
    assert state.total_runs == 300 and not state.problems
    review._MEMO.clear()
    gc.disable()  # a caller that had it off keeps it off
    try:
        review.load_review(store, queue=queue)
        assert not gc.isenabled()
    finally:
        gc.enable()
