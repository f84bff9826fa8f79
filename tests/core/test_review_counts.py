"""The Lifecycle screen's counts-only load (``load_review(store, queue=False)``): the log
split at line boundaries across the cores, the pieces' counts added up — the same uses,
last uses, debt, skipped lines and lifecycle rows as the full pass; remembered, resumed
over appended lines, started over when the file is replaced; and the full pass's short
step for quiet runs giving the same queue entries as the full step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.core import review, review_pass, review_read
from conductor_tui.core.store import ProjectStore
from tests.core.test_review_perf import _write_log


def _counts(state: review.ReviewState) -> tuple:
    return (
        state.pairs,
        state.debt,
        state.total_runs,
        state.uses,
        state.last_used,
        state.skipped_routing,
        state.skipped_evaluations,
        state.run_ensembles,
    )


def _lifecycle(state: review.ReviewState) -> list[tuple]:
    return [
        (r.key, r.status.phase, r.status.counts, r.status.invocations, r.last_used, r.debt, r.lora)
        for r in review.lifecycle_rows(state)
    ]


def _full(tmp_path: Path, monkeypatch) -> review.ReviewState:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    review._MEMO.clear()
    state = review.load_review(ProjectStore(tmp_path))
    review._MEMO.clear()
    return state


@pytest.mark.parametrize(
    ("seed", "workers", "block"), [(1, 2, 1 << 20), (2, 3, 700), (3, 2, 4096), (4, 1, 900)]
)
def test_the_counts_split_across_cores_match_the_full_pass(
    tmp_path: Path, monkeypatch, seed: int, workers: int, block: int
) -> None:
    monkeypatch.setattr(review_read, "_BLOCK", block)
    _write_log(tmp_path, seed, runs=1500)  # corrupt and blank lines, flags, failed runs, Claude
    full = _full(tmp_path, monkeypatch)
    assert full.skipped_routing > 0 and full.debt
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    counts = review.load_review(ProjectStore(tmp_path), queue=False)
    assert not counts.problems
    assert _counts(counts) == _counts(full)
    assert _lifecycle(counts) == _lifecycle(full)
    assert counts.queue_due == [] and counts.queue_total == 0  # no queue was built


def test_a_full_load_serves_the_counts_and_replaces_them(tmp_path: Path, monkeypatch) -> None:
    _write_log(tmp_path, 5, runs=300)
    store = ProjectStore(tmp_path)
    review._MEMO.clear()
    counts = review.load_review(store, queue=False)
    assert review.load_review(store, queue=False) is counts  # unchanged: remembered
    full = review.load_review(store)  # the queue needs the full pass
    assert full is not counts and full.queue_due
    assert review.load_review(store, queue=False) is full


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_appended_lines_are_read_alone_and_corrupt_ones_counted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    _write_log(tmp_path, 6, runs=600)
    store = ProjectStore(tmp_path)
    review._MEMO.clear()
    before = review.load_review(store, queue=False)
    log = Path(store.routing_log_path)
    new = {"id": "rt-new", "timestamp": "2027-01-01T00:00:00Z", "routed_to": "extract-a"}
    new |= {"ensemble": "extract-a", "task_type": "extraction", "status": "completed"}
    _append(log, json.dumps(new) + "\n{not json\n")

    def no_full_read(*_args, **_kwargs):
        raise AssertionError("the whole log was read again")

    monkeypatch.setattr(review, "read_counts_split", no_full_read)
    after = review.load_review(store, queue=False)
    monkeypatch.undo()
    assert after.skipped_routing == before.skipped_routing + 1
    assert after.uses["extract-a"] == before.uses.get("extract-a", 0) + 1
    assert after.last_used["extract-a"] == "2027-01-01T00:00:00Z"
    assert _counts(after) == _counts(_full(tmp_path, monkeypatch))


def test_a_replaced_or_truncated_log_is_read_from_the_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    _write_log(tmp_path, 7, runs=600)
    store = ProjectStore(tmp_path)
    review._MEMO.clear()
    review.load_review(store, queue=False)
    log = Path(store.routing_log_path)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[: len(lines) // 3]) + "\n")  # truncated in place
    after = review.load_review(store, queue=False)
    assert _counts(after) == _counts(_full(tmp_path, monkeypatch))
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    replacement = log.with_suffix(".new")
    replacement.write_text("\n".join(reversed(lines)) + "\n")
    replacement.replace(log)  # a new file at the same path
    again = review.load_review(store, queue=False)
    assert _counts(again) == _counts(_full(tmp_path, monkeypatch))


@pytest.mark.parametrize("seed", [8, 3])
def test_the_short_step_for_quiet_runs_queues_what_the_full_step_does(
    tmp_path: Path, monkeypatch, seed: int
) -> None:
    """Every queue entry (location, run, number, phase, reason, judge, flag) and count is the
    same with the short step turned off."""
    _write_log(tmp_path, seed, runs=4000)  # calibrating, established and trusted ensembles
    quiet = review_pass._ReviewPass._quiet_step
    taken: list[bool] = []

    def spy(self, *args):
        taken.append(quiet(self, *args))
        return taken[-1]

    monkeypatch.setattr(review_pass._ReviewPass, "_quiet_step", spy)
    fast = _full(tmp_path, monkeypatch)
    monkeypatch.setattr(review_pass._ReviewPass, "_quiet_step", lambda *_a: False)
    slow = _full(tmp_path, monkeypatch)

    def entries(state: review.ReviewState) -> list[tuple]:
        return [
            (i.routing_id, i.ensemble, i.invocation_number, i.phase, i.reason, i.flagged)
            + ((i.judge.routing_id, i.judge.score) if i.judge is not None else ())
            for i in [*state.queue_due, *state.queue_all]
        ]

    assert any(taken) and not all(taken)  # both steps were taken
    assert entries(fast) == entries(slow)
    assert fast.queue_total == slow.queue_total and _counts(fast) == _counts(slow)


def test_counts_read_while_the_evaluations_are_read_link_the_same_runs(tmp_path: Path, monkeypatch) -> None:
    """The workers start before the evaluations are parsed (they get the ids from a quick
    read): evaluations naming a run but no ensemble — one with its id padded — and corrupt
    evaluation lines give the same ensembles, scores and skipped counts as the full pass."""
    _write_log(tmp_path, 9, runs=900)
    evals = tmp_path / ".llm-orc" / "evaluations" / "evaluations.jsonl"
    _append(evals, '{"routing_id": "  rt-5 ", "score": "good", "reasoning": "r"}\n{broken\n[1]\n')
    full = _full(tmp_path, monkeypatch)
    assert full.skipped_evaluations >= 2 and "rt-5" in full.run_ensembles
    for workers in ("1", "2"):
        monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
        review._MEMO.clear()
        counts = review.load_review(ProjectStore(tmp_path), queue=False)
        assert _counts(counts) == _counts(full)
        assert _lifecycle(counts) == _lifecycle(full)


def test_lifecycle_rows_walk_the_verdicts_again_only_when_they_change(tmp_path: Path, monkeypatch) -> None:
    from conductor_tui.core import review_lifecycle, rules
    from conductor_tui.core.review_state import effective_evaluations, ensemble_of

    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    _write_log(tmp_path, 8, runs=600)
    store = ProjectStore(tmp_path)
    review._MEMO.clear()
    review_lifecycle._WALKS.clear()
    first = review.load_review(store, queue=False)
    review.lifecycle_rows(first)
    walked = dict(review_lifecycle._WALKS)
    assert walked
    new = {"id": "rt-new", "timestamp": "2027-01-01T00:00:00Z", "routed_to": "extract-a"}
    new |= {"ensemble": "extract-a", "task_type": "extraction", "status": "completed"}
    _append(Path(store.routing_log_path), json.dumps(new) + "\n")  # a new run, no new verdict
    second = review.load_review(store, queue=False)
    assert second is not first
    rows = review.lifecycle_rows(second)
    assert review_lifecycle._WALKS.keys() == walked.keys()  # nothing walked again
    assert all(review_lifecycle._WALKS[k] is v for k, v in walked.items())
    # each row is what the rule computes from the ensemble's verdicts
    t = second.config.routing_thresholds
    for row in rows:
        if row.ensemble is None:
            continue
        mine = [
            ev for ev in effective_evaluations(second.evaluations) if ensemble_of(ev, second) == row.ensemble
        ]
        scores = [ev.score for ev in mine]
        assert row.status == rules.lifecycle_status(scores, t, invocations=row.status.invocations)
        assert row.lora == rules.lora_candidate([(ev.score, ev.failure_mode) for ev in mine], t)
    assert any(row.status.counts.evaluated for row in rows)
