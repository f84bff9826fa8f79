"""The Lifecycle counts' workers started ahead (``review_counts.prefetch_counts``, called as
the screen is built): the next load takes their result — the same state as a load without
them — and reads nothing again; a log or evaluations changed since, or a read that does not
want them, stops them and reads as usual."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.core import logscan, review, review_counts
from conductor_tui.core.store import ProjectStore

from .test_review_count_pieces import _write

FIELDS = ("pairs", "debt", "total_runs", "uses", "last_used", "skipped_routing", "run_ensembles")


def _rows(state) -> list:
    return [(r.key, r.status, r.last_used, r.debt, r.lora) for r in review.lifecycle_rows(state)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    _write(tmp_path, 11, 3000, ensembles=0.5)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    review._MEMO.clear()
    yield tmp_path
    review._MEMO.clear()
    for left in list(review_counts._PREFETCHED):
        review_counts.drop_prefetch(Path(left))  # (stopped, not left running)


def _plain(project: Path):
    review._MEMO.clear()
    state = review.load_review(ProjectStore(project), queue=False)
    review._MEMO.clear()
    return state


def test_a_load_takes_the_workers_started_ahead(project: Path, monkeypatch) -> None:
    reference = _plain(project)
    store = ProjectStore(project)
    assert not review.remembered(store)
    assert review_counts.prefetch_counts(store)
    forked: list[int] = []
    real = logscan.fork_map
    monkeypatch.setattr(logscan, "fork_map", lambda fn, items: forked.append(1) or real(fn, items))
    state = review.load_review(store, queue=False)
    assert forked == []  # nothing read again: the workers' counts were taken
    assert not review_counts._PREFETCHED
    for name in FIELDS:
        assert getattr(state, name) == getattr(reference, name), name
    assert _rows(state) == _rows(reference)
    assert review.remembered(store)


def test_lines_appended_since_are_counted(project: Path) -> None:
    store = ProjectStore(project)
    assert review_counts.prefetch_counts(store)
    log = Path(store.routing_log_path)
    with log.open("a", encoding="utf-8") as fh:
        fh.write("\n" + json.dumps({"routed_to": "extract-a", "status": "completed", "id": "late"}) + "\n")
    state = review.load_review(store, queue=False)
    assert not review_counts._PREFETCHED
    reference = _plain(project)
    for name in FIELDS:
        assert getattr(state, name) == getattr(reference, name), name


def test_evaluations_changed_since_stop_the_workers(project: Path) -> None:
    store = ProjectStore(project)
    assert review_counts.prefetch_counts(store)
    evaluations = Path(store.evaluations_path)
    with evaluations.open("a", encoding="utf-8") as fh:  # a run whose ensemble the counts must find
        fh.write(json.dumps({"routing_id": "rt-7", "score": "good"}) + "\n")
    state = review.load_review(store, queue=False)
    assert not review_counts._PREFETCHED
    reference = _plain(project)
    for name in FIELDS:
        assert getattr(state, name) == getattr(reference, name), name


def test_dropped_workers_are_stopped(project: Path) -> None:
    store = ProjectStore(project)
    assert review_counts.prefetch_counts(store)
    job = review_counts._PREFETCHED[str(Path(store.routing_log_path))].job
    review_counts.drop_prefetch(Path(store.routing_log_path))
    assert not review_counts._PREFETCHED and job.children == []
    review_counts.drop_prefetch(Path(store.routing_log_path))  # nothing left: no error


def test_nothing_started_for_a_log_one_process_reads(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, 12, 200)
    monkeypatch.delenv("CONDUCTOR_TUI_WORKERS", raising=False)
    assert not review_counts.prefetch_counts(ProjectStore(tmp_path))
    assert not review_counts._PREFETCHED
