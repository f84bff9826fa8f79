"""core.review's one-pass loader (msgspec, only the queued runs materialised) against a
plain reference that reads every line with pydantic and recomputes each run's phase
from scratch with ``rules.lifecycle_status`` — on random logs with corrupt lines, blank
lines, flags logged after their run, judge verdicts, failed runs and Claude decisions,
and with blocks small enough that records straddle block boundaries."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import review, review_pass, review_read, rules
from conductor_tui.core.records import EvalPhase, Phase, RoutingDecision
from conductor_tui.core.store import ProjectStore

ENSEMBLES = ["extract-a", "summarise-b", "classify-c"]


def _write_log(project: Path, seed: int, runs: int) -> None:
    rng = random.Random(seed)
    evals_dir = project / ".llm-orc" / "evaluations"
    evals_dir.mkdir(parents=True)
    lines: list[str] = []
    evaluations: list[dict] = []
    run_ids: list[str] = []
    quality = {e: rng.choice([0.97, 0.9, 0.6]) for e in ENSEMBLES}
    for i in range(runs):
        roll = rng.random()
        ts = f"2026-0{1 + i * 8 // runs}-{10 + i % 18:02d}T10:{i % 60:02d}:00Z"
        if roll < 0.12:
            lines.append(
                json.dumps(
                    {
                        "id": f"c-{i}",
                        "timestamp": ts,
                        "task_type": rng.choice(["extraction", "judgment"]),
                        "delegability_category": rng.choice(["agent-delegable", "claude-only", None]),
                        "routed_to": "claude",
                        "claude_tokens": 400,
                    }
                )
            )
            continue
        if roll < 0.14:
            lines.append(rng.choice(['{"task_type": "extr', "not json", "[1, 2]", "", "   "]))
            continue
        if roll < 0.16 and run_ids:
            flagged = rng.choice(run_ids)
            lines.append(json.dumps({"event": review.FLAG_EVENT, "routing_id": flagged, "timestamp": ts}))
            continue
        ens = rng.choice(ENSEMBLES)
        rid = f"rt-{i}"
        run_ids.append(rid)
        rec = {
            "id": rid,
            "timestamp": ts,
            "task_type": {"extract-a": "extraction", "summarise-b": "summarization"}.get(
                ens, "classification"
            ),
            "routed_to": ens,
            "ensemble": ens,
            "task_summary": f"run {i} of {ens}",
            "total_tokens_local": 900,
            "status": "failed" if rng.random() < 0.05 else "completed",
        }
        if rng.random() < 0.1:
            rec["sampled_for_evaluation"] = rng.random() < 0.5
        lines.append(json.dumps(rec))
        if rng.random() < 0.45:
            score = rng.choices(["good", "acceptable", "poor"], [quality[ens], 0.05, 1 - quality[ens]])[0]
            ev = {
                "routing_id": rid,
                "ensemble": ens if rng.random() < 0.9 else None,
                "score": score,
                "failure_mode": "incomplete" if score == "poor" else None,
                "reasoning": "r",
                "evaluator": "claude" if rng.random() < 0.1 else "human",
            }
            if ev["evaluator"] == "claude":
                ev["judge_score"] = score
            evaluations.append(ev)
    (evals_dir / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    (evals_dir / "evaluations.jsonl").write_text("\n".join(json.dumps(e) for e in evaluations) + "\n")


def _reference(store: ProjectStore) -> tuple[list[tuple], list[tuple], dict]:
    """Every line through pydantic; each run's phase recomputed from all earlier scores."""
    records = store.read_routing(0).records
    evaluations = store.read_evaluations(0).records
    thresholds = store.load_config().routing_thresholds
    effective = {e.routing_id: e for e in review.effective_evaluations(evaluations) if e.routing_id}
    flagged = {str(r.routing_id) for r in records if r.event == review.FLAG_EVENT}
    runs = [r for r in records if r.is_decision and r.is_local]
    prior: dict[str, list] = {}
    counter: dict[str, int] = {}
    due, every = [], []
    for run in runs:
        rid, ens = str(run.id), review.run_ensemble(run)
        ev = effective.get(rid)
        if (run.status or "completed") != "completed":
            # a failed or cancelled run is no invocation: no number, no calibration slot
            if ev is not None and ev.score is not None:
                prior.setdefault(ens, []).append(ev.score)
            continue
        counter[ens] = counter.get(ens, 0) + 1
        n = counter[ens]
        phase_now = rules.lifecycle_status(prior.get(ens, []), thresholds, invocations=n - 1).phase
        if ev is not None and ev.score is not None:
            prior.setdefault(ens, []).append(ev.score)
        judged = ev is not None and review.is_judge(ev)
        reviewed = ev is not None and not judged
        if phase_now in (Phase.CALIBRATE, Phase.DESIGN):
            phase, due_now = EvalPhase.CALIBRATE, True
        elif phase_now is Phase.ESTABLISH:
            sampled = run.sampled_for_evaluation
            phase = EvalPhase.ESTABLISH
            due_now = (
                sampled
                if isinstance(sampled, bool)
                else review.stable_fraction(rid) < thresholds.sampling_rate_established
            )
        else:
            phase, due_now = EvalPhase.TRUST, False
        if rid in flagged:
            phase, due_now = EvalPhase.TRIGGERED, True
        row = (rid, ens, n, phase, judged)
        every.append(row)
        if (due_now or judged) and not reviewed:
            due.append(row)
    run_ens = {str(r.id): review.run_ensemble(r) for r in runs}
    counts = {
        "uses": {
            e: sum(
                1 for r in runs if review.run_ensemble(r) == e and (r.status or "completed") == "completed"
            )
            for e in ENSEMBLES
        },
        "debt": sum(1 for r in records if rules.is_interim_claude(r)),
        "scores": {
            e: [
                ev.score
                for ev in review.effective_evaluations(evaluations)
                if (ev.ensemble or run_ens.get(str(ev.routing_id))) == e
            ]
            for e in ENSEMBLES
        },
    }
    return due, every[-review.ALL_RUNS_LIMIT :], counts


def _rows(items: list[review.QueueItem]) -> list[tuple]:
    return [
        (it.routing_id, it.ensemble, it.invocation_number, it.phase, it.judge is not None) for it in items
    ]


@pytest.mark.parametrize(("seed", "block"), [(1, 1 << 20), (2, 700), (3, 4096), (4, 1 << 20)])
def test_one_pass_loader_matches_the_pydantic_reference(tmp_path: Path, monkeypatch, seed, block) -> None:
    monkeypatch.setattr(review_read, "_BLOCK", block)
    _write_log(tmp_path, seed, runs=900)
    store = ProjectStore(tmp_path)
    due, every, counts = _reference(store)
    state = review.load_review(store)
    assert not state.problems
    assert _rows(review.evaluation_queue(state)) == due
    assert _rows(review.evaluation_queue(state, include_all=True)) == every
    assert state.queue_total == len(due)
    assert {e: state.uses.get(e, 0) for e in ENSEMBLES} == counts["uses"]
    assert review.interim_debt(state) == counts["debt"]
    assert state.skipped_routing == len(store.read_routing(0).skipped)
    # every queued run is a full record (the detail view reads its summary and artifact)
    for item in review.evaluation_queue(state):
        assert isinstance(item.run, RoutingDecision) and item.run.task_summary
    # the lifecycle agrees with the same scores, whatever the phase
    for row in review.lifecycle_rows(state):
        if row.ensemble in ENSEMBLES:
            scores = counts["scores"][row.ensemble]
            assert review.scores_for(state, row.ensemble) == scores
            expect = rules.lifecycle_status(
                scores, state.config.routing_thresholds, invocations=counts["uses"][row.ensemble]
            )
            assert row.status.phase is expect.phase
            assert row.last_used is not None


def test_a_log_without_a_final_newline_and_with_a_bom(tmp_path: Path) -> None:
    evals = tmp_path / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True)
    runs = [
        {
            "id": f"rt-{i}",
            "routed_to": "ens",
            "ensemble": "ens",
            "task_summary": f"s{i}",
            "status": "completed",
        }
        for i in range(3)
    ]
    (evals / "routing-log.jsonl").write_bytes(
        b"\xef\xbb\xbf" + "\n".join(json.dumps(r) for r in runs).encode()
    )
    state = review.load_review(ProjectStore(tmp_path))
    assert [it.routing_id for it in review.evaluation_queue(state)] == ["rt-0", "rt-1", "rt-2"]
    assert state.total_runs == 3 and state.skipped_routing == 0


def test_a_long_queue_keeps_the_newest_runs_and_every_flagged_or_judged_one(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(review_pass, "QUEUE_LIMIT", 20)
    _write_log(tmp_path, 1, runs=900)
    store = ProjectStore(tmp_path)
    due, _every, _counts = _reference(store)
    state = review.load_review(store)
    special = [row for row in due if row[3] is EvalPhase.TRIGGERED or row[4]]
    others = [row for row in due if row not in special]
    expected = [row for row in due if row in special or row in others[-20:]]
    assert len(others) > 20 and special
    assert _rows(review.evaluation_queue(state)) == expected
    assert state.queue_total == len(due)


@pytest.mark.parametrize("workers", [2, 3])
def test_the_pass_sharded_by_ensemble_matches_the_reference(
    tmp_path: Path, monkeypatch, workers: int
) -> None:
    """Every core steps its share of the ensembles over the whole log: same queue, counts
    and lifecycle as one pass (and as the pydantic reference)."""
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    test_one_pass_loader_matches_the_pydantic_reference(tmp_path, monkeypatch, 5, 4096)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    review._MEMO.clear()
    single = review.load_review(ProjectStore(tmp_path))
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    review._MEMO.clear()
    sharded = review.load_review(ProjectStore(tmp_path))
    assert _rows(sharded.queue_all) == _rows(single.queue_all)
    assert _rows(sharded.queue_due) == _rows(single.queue_due)
    assert (sharded.pairs, sharded.debt, sharded.total_runs) == (single.pairs, single.debt, single.total_runs)
