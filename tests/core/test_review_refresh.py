"""A review load that goes on from the last one (``review_refresh``) when verdicts, runs,
flags or task profiles were appended or rewritten must give exactly what a full load of
the same files gives — queue, "all runs", phases, reasons, counts, the ensembles'
lifecycle state — step after step (each load going on from the one before), and must
leave to the full load what it cannot know (a verdict on a failed run, an evaluation
that names no run, a rewritten log, a changed config)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import review, review_read, review_refresh, review_split, review_walk
from conductor_tui.core.store import ProjectStore
from tests.core.test_review_split import ENSEMBLES, _items, _limits, _write


def _snapshot(store: ProjectStore) -> tuple:
    state = review.load_review(store)
    memo = review._MEMO[(str(store.routing_log_path), "full")]
    tracks = {
        ens: (t.counter, t.adds, list(t.tracker.window), t.tracker.scored, t.tracker.calibrating)
        for ens, t in memo.review.tracks.items()
        if t.counter or t.adds
    }
    rows = [
        (r.key, r.status.phase, r.status.invocations, r.last_used, r.debt, r.status.next_step)
        for r in review.lifecycle_rows(state)
    ]
    agreement = state.agreement.to_dict() if state.agreement else None
    return (
        _items(state.queue_due), _items(state.queue_all), state.queue_total, state.total_runs,
        sorted(state.pairs.items()), state.debt, state.uses, state.last_used, state.skipped_routing,
        state.skipped_evaluations, state.run_ensembles, sorted(state.flagged_ids), tracks, rows,
        agreement, memo.review.offset, state.problems, len(state.evaluations),
    )  # fmt: skip


def _full(store: ProjectStore, snapshot=None) -> tuple:
    """A full load of the same files (the remembered loads put back after)."""
    saved = dict(review._MEMO)
    review._MEMO.clear()
    try:
        return (snapshot or _snapshot)(store)
    finally:
        review._MEMO.clear()
        review._MEMO.update(saved)


def _spy(monkeypatch, owner: object, name: str, took=lambda out, *args: out is not None) -> list[bool]:
    """``owner.name`` wrapped: for each call, whether ``took(its result, its arguments)``."""
    seen: list[bool] = []
    real = getattr(owner, name)

    def spy(*args):
        out = real(*args)
        seen.append(took(out, *args))
        return out

    monkeypatch.setattr(owner, name, spy)
    return seen


def _log_ids(store: ProjectStore) -> list[str]:
    out = []
    for line in Path(store.routing_log_path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            out.append(rec["id"])
    return out


def _append(path: Path, records: list[dict]) -> None:
    with path.open("a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records))


def _step(store: ProjectStore, rng: random.Random, k: int) -> None:
    """One random change: verdicts on queued runs (human or judge, some overriding an
    earlier verdict), new runs, a flag, the profiles rewritten."""
    state = review.load_review(store)
    evals, log = Path(store.evaluations_path), Path(store.routing_log_path)
    roll = rng.random()
    if roll < 0.5 and state.queue_due:
        picks = rng.sample(state.queue_due, min(len(state.queue_due), rng.randint(1, 3)))
        records = []
        for item in picks:
            score = rng.choice(["good", "good", "acceptable", "poor"])
            judge = rng.random() < 0.3
            rec = {"id": f"ev-{k}-{item.routing_id}", "routing_id": item.routing_id,
                   "ensemble": item.ensemble if rng.random() < 0.9 else None, "score": score,
                   "failure_mode": "incomplete" if score == "poor" else None, "reasoning": "r",
                   "evaluator": "claude" if judge else "human"}  # fmt: skip
            if judge:
                rec["judge_score"] = score
            records.append(rec)
        _append(evals, records)
    elif roll < 0.6:
        done = [i for i in _log_ids(store) if i.startswith("r-")]
        _append(evals, [{"id": f"ev-{k}-old", "routing_id": rng.choice(done), "score": "poor",
                         "failure_mode": "incomplete", "evaluator": "human"}])  # fmt: skip
    elif roll < 0.8:
        runs = []
        for i in range(rng.randint(1, 40)):
            ens = rng.choice(ENSEMBLES[:4])
            rec = {"id": f"n-{k}-{i}", "routed_to": ens, "ensemble": ens,
                   "timestamp": f"2026-03-{1 + k % 27:02d}T00:00:{i % 60:02d}Z",
                   "status": rng.choice(["completed"] * 9 + ["failed"])}  # fmt: skip
            if rng.random() < 0.2:
                rec["sampled_for_evaluation"] = rng.random() < 0.5
            runs.append(rec)
        _append(log, runs)
    elif roll < 0.9:
        target = rng.choice(_log_ids(store))
        _append(log, [{"event": review.FLAG_EVENT, "routing_id": target, "id": f"flag-{k}"}])
    else:
        Path(store.profiles_path).write_text(
            f"profiles:\n  extraction:\n    ensemble: {rng.choice(ENSEMBLES)}\n    phase: calibrate\n"
        )


@pytest.mark.parametrize(
    ("seed", "block", "limits", "workers"),
    [(31, 1 << 20, None, "2"), (32, 700, (9, 6), "2"), (33, 3000, (60, 30), "3"), (34, 5000, (30, 20), "1")],
)
def test_each_load_goes_on_from_the_last_and_matches_a_full_load(
    tmp_path: Path, monkeypatch, seed: int, block: int, limits: tuple | None, workers: str
) -> None:
    monkeypatch.setattr(review_read, "_BLOCK", block)
    if limits:
        _limits(monkeypatch, *limits)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    if workers == "1":  # one core: the log is one piece (as a log too small to split is)
        monkeypatch.setattr(review_split, "ONE_PIECE_BYTES", 1)
    # walks remember where they stood often: a verdict goes on from just before its run
    monkeypatch.setattr(review_walk, "CHECK_EVERY", 1 + seed % 4)
    resumed = _spy(monkeypatch, review_walk._Walk, "go_on", lambda w, *a: w is not None and a[-1] is not None)
    _write(tmp_path, seed, runs=3000)
    store = ProjectStore(tmp_path)
    review._MEMO.clear()
    went_on = _spy(monkeypatch, review_refresh, "refresh")
    rng = random.Random(seed)
    assert _snapshot(store) == _full(store)
    for k in range(24):
        _step(store, rng, k)
        went = len(went_on)
        assert _snapshot(store) == _full(store), f"step {k}"
        assert len(went_on) >= went
    # most steps went on from the last load (the rest: a verdict on a failed run, a
    # routing append the pass resumed over)
    assert sum(went_on) >= 8
    assert sum(resumed) >= 3  # walks went on from where they stood before a new verdict
    review._MEMO.clear()


def test_what_it_cannot_know_is_left_to_the_full_load(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    _write(tmp_path, 41, runs=2000)
    store = ProjectStore(tmp_path)
    evals, log = Path(store.evaluations_path), Path(store.routing_log_path)
    review._MEMO.clear()
    outcomes = _spy(monkeypatch, review_refresh, "refresh")

    def load_and_check() -> bool:
        outcomes.clear()
        assert _snapshot(store) == _full(store)
        return bool(outcomes and outcomes[-1])

    load_and_check()
    state = review.load_review(store)
    item = state.queue_due[0]
    _append(evals, [{"routing_id": item.routing_id, "ensemble": item.ensemble, "score": "good"}])
    assert load_and_check()  # a verdict on a queued run: goes on
    failed = next(
        json.loads(line)["id"]
        for line in log.read_text().splitlines()
        if '"failed"' in line and '"id"' in line
        and json.loads(line)["id"] not in {e.get("routing_id") for e in map(json.loads, evals.read_text().splitlines())}
    )  # fmt: skip
    _append(evals, [{"routing_id": failed, "score": "poor", "failure_mode": "incomplete"}])
    assert not load_and_check()  # a verdict on a failed run nobody named: the full load
    _append(evals, [{"ensemble": ENSEMBLES[0], "score": "good"}])
    assert not load_and_check()  # names no run: linked by time in the full load
    text = log.read_text()
    log.write_text(text.replace('"task_type": "summary"', '"task_type": "summarY"', 1))
    assert not load_and_check()  # the log was rewritten
    config = Path(store.config_path)
    config.write_text(config.read_text().replace("calibration_period: 3", "calibration_period: 4"))
    assert not load_and_check()  # the config changed
    review._MEMO.clear()


def _counts(store: ProjectStore) -> tuple:
    state = review.load_review(store, queue=False)
    rows = [
        (r.key, r.status.phase, r.status.invocations, r.last_used, r.debt, r.status.next_step,
         tuple(r.status.counts.__dict__.values()))
        for r in review.lifecycle_rows(state)
    ]  # fmt: skip
    agreement = state.agreement.to_dict() if state.agreement else None
    return (
        rows, sorted(state.pairs.items()), state.debt, state.uses, state.last_used, state.total_runs,
        state.skipped_routing, state.skipped_evaluations, state.run_ensembles, agreement, state.problems,
        len(state.evaluations), state.profiles,
    )  # fmt: skip


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_lifecycle_counts_go_on_after_verdicts_and_profiles(
    tmp_path: Path, monkeypatch, workers: str
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    _write(tmp_path, 51, runs=2500)
    store = ProjectStore(tmp_path)
    evals = Path(store.evaluations_path)
    ids = [i for i in _log_ids(store) if i.startswith("r-")]
    rng = random.Random(51)
    review._MEMO.clear()
    outcomes = _spy(monkeypatch, review_refresh, "refresh_counts")

    def full() -> tuple:
        return _full(store, _counts)

    assert _counts(store) == full()
    for k in range(12):
        if k % 4 == 3:
            Path(store.profiles_path).write_text(
                f"profiles:\n  summary:\n    ensemble: {rng.choice(ENSEMBLES)}\n    phase: establish\n"
            )
        else:
            records = []
            for _ in range(rng.randint(1, 4)):
                rid = rng.choice(ids)
                score = rng.choice(["good", "acceptable", "poor"])
                rec = {"routing_id": rid, "score": score, "evaluator": rng.choice(["human", "claude"]),
                       "failure_mode": "incomplete" if score == "poor" else None}  # fmt: skip
                if rng.random() < 0.8:  # else: its ensemble is the run's (only when already noted)
                    rec["ensemble"] = ENSEMBLES[int(rid[2:]) % len(ENSEMBLES)]
                if rec["evaluator"] == "claude":
                    rec["judge_score"] = score
                records.append(rec)
            _append(evals, records)
        assert _counts(store) == full(), f"step {k}"
    assert sum(outcomes) >= 6  # went on from the last counts
    review._MEMO.clear()


@pytest.mark.parametrize("seed", range(5))
def test_the_verdicts_grouped_per_ensemble_grow_like_a_fresh_grouping(seed: int, tmp_path: Path) -> None:
    """``review_lifecycle._by_ensemble`` takes the last grouping on when evaluations were
    only appended (new runs' verdicts at the end, later verdicts in place); the result is
    the grouping of all of them, and the lists of ensembles no new verdict names are kept
    (their walks stay remembered)."""
    from conductor_tui.core import review_lifecycle
    from conductor_tui.core.records import Evaluation

    rng = random.Random(seed)
    names = ENSEMBLES[:5]

    def one(i: int) -> Evaluation:
        fields: dict = {"id": f"ev-{i}", "ensemble": rng.choice(names), "score": rng.choice(["good", "poor"])}
        roll = rng.random()
        if roll < 0.8:
            fields["routing_id"] = f"r-{rng.randrange(60)}"
        elif roll < 0.9:
            fields["invocation_number"] = rng.randrange(1, 20)
        return Evaluation(**fields)

    evaluations = [one(i) for i in range(40)]
    runs_of = {}
    for ev in evaluations:  # one ensemble per run, as a log has it
        if ev.routing_id:
            ev.ensemble = runs_of.setdefault(ev.routing_id, ev.ensemble)
    review_lifecycle._GROUPED.clear()
    state = review.ReviewState(project=tmp_path, evaluations=evaluations)
    grouped = review_lifecycle._by_ensemble(state)
    grew = 0
    for step in range(30):
        added = [one(100 + step * 10 + k) for k in range(rng.randint(1, 3))]
        for ev in added:
            if ev.routing_id:
                ev.ensemble = runs_of.setdefault(ev.routing_id, ev.ensemble)
        evaluations = [*evaluations, *added]
        state = review.ReviewState(project=tmp_path, evaluations=evaluations)
        before = dict(grouped)
        grouped = review_lifecycle._by_ensemble(state)
        held = review_lifecycle._GROUPED[0]
        review_lifecycle._GROUPED.clear()
        fresh = review_lifecycle._by_ensemble(review.ReviewState(project=tmp_path, evaluations=evaluations))
        assert grouped == fresh, step
        assert list(grouped) == list(fresh)  # the ensembles in the same order
        touched = {ev.ensemble for ev in added}
        grew += all(grouped[e] is before[e] for e in before if e not in touched)
        review_lifecycle._GROUPED[:] = [held]
    assert grew == 30
    review_lifecycle._GROUPED.clear()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_runs_then_a_verdict_extend_the_walks_of_the_runs_ensembles(
    tmp_path: Path, monkeypatch, workers: str
) -> None:
    """New runs (the pass resumed over them), then a verdict: the ensembles with new runs
    go on from their earlier walks instead of being walked again; the same as a full load."""
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    monkeypatch.setattr(review_split, "ONE_PIECE_BYTES", 1)
    _limits(monkeypatch, 40, 20)
    _write(tmp_path, 61, runs=3000)
    store = ProjectStore(tmp_path)
    evals, log = Path(store.evaluations_path), Path(store.routing_log_path)
    extended: list[str] = []  # ensembles whose walks went on from their end
    _spy(
        monkeypatch,
        review_walk._Walk,
        "go_on",
        lambda w, self, *a: w is not None and a[-1] is None and extended.append(self.ens),
    )
    review._MEMO.clear()
    state = review.load_review(store)
    for k in range(3):
        runs = [{"id": f"x-{k}-{i}", "routed_to": ens, "ensemble": ens, "timestamp": "2026-03-02T00:00:00Z",
                 "status": "completed"} for i, ens in enumerate(ENSEMBLES[:3] * 4)]  # fmt: skip
        _append(log, runs)
        state = review.load_review(store)  # the pass resumed over the new runs
        item = next(q for q in state.queue_due if q.ensemble not in ENSEMBLES[:3])
        _append(evals, [{"routing_id": item.routing_id, "ensemble": item.ensemble, "score": "good"}])
        extended.clear()
        assert _snapshot(store) == _full(store), k
        assert set(extended) == set(ENSEMBLES[:3])
    review._MEMO.clear()


def test_a_verdict_naming_only_its_run_after_the_judges(tmp_path: Path, monkeypatch) -> None:
    """A run first named by a judge's verdict added since the pieces were read, then by the
    person's verdict that names no ensemble: its ensemble (which the pieces did not note)
    is the log's, as in a full load."""
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    _write(tmp_path, 71, runs=2000)
    store = ProjectStore(tmp_path)
    evals = Path(store.evaluations_path)
    review._MEMO.clear()
    named = {json.loads(line).get("routing_id") for line in evals.read_text().splitlines() if line.strip()}
    item = next(q for q in review.load_review(store).queue_due if q.routing_id not in named)
    judge = {"routing_id": item.routing_id, "ensemble": item.ensemble, "score": "good", "evaluator": "claude"}
    _append(evals, [{**judge, "judge_score": "good"}])
    assert _snapshot(store) == _full(store)
    _append(evals, [{"routing_id": item.routing_id, "score": "poor", "failure_mode": "incomplete"}])
    state = review.load_review(store)
    assert state.run_ensembles.get(item.routing_id) == item.ensemble
    assert _snapshot(store) == _full(store)
    review._MEMO.clear()
