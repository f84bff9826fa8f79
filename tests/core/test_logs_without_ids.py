"""Logs written without ``id`` (the conductor skill's own logs): every reader derives the same
stable identity from the line, evaluations link to their runs by ensemble + invocation number
or by time, and an evaluated run is never queued again."""

from __future__ import annotations

import json
from pathlib import Path

from conductor_tui.core import review
from conductor_tui.core.history import build_history
from conductor_tui.core.loop import Conductor
from conductor_tui.core.records import Phase
from conductor_tui.core.store import ProjectStore


def _spec_log(project: Path, runs: int, evaluated: int, *, with_invocation: bool = True) -> None:
    """Routing decisions and evaluations as the spec's examples write them: no ids."""
    d = project / ".llm-orc" / "evaluations"
    d.mkdir(parents=True)
    lines, evals = [], []
    for i in range(1, runs + 1):
        ts = f"2026-11-{10 + i:02d}T10:00:00Z"
        lines.append(
            {
                "timestamp": ts,
                "task_type": "extraction",
                "delegability_category": "agent-delegable",
                "dag_test_result": None,
                "task_summary": f"Extract endpoints from file{i}.py",
                "routed_to": "extract-endpoints",
                "reason": "task-profile",
                "evaluation_summary": None,
                "standing_auth": False,
                "total_tokens_local": 1200,
                "estimated_claude_tokens": 1000,
                "tokens_saved": 1000,
            }
        )
        if i <= evaluated:
            ev = {
                "timestamp": f"2026-11-{10 + i:02d}T10:05:00Z",
                "routing_id": "links to routing-log entry",  # the spec's placeholder
                "ensemble": "extract-endpoints",
                "phase": "calibrate",
                "score": "good",
                "reasoning": "all endpoints",
                "failure_mode": None,
                "input_summary": f"file{i}.py",
                "output_length": 450,
                "user_feedback": None,
            }
            if with_invocation:
                ev["invocation_number"] = i
            evals.append(ev)
    (d / "routing-log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (d / "evaluations.jsonl").write_text("".join(json.dumps(x) + "\n" for x in evals))


def test_every_reader_derives_the_same_stable_id(tmp_path: Path) -> None:
    _spec_log(tmp_path, runs=4, evaluated=0)
    store = ProjectStore(tmp_path)
    ids = [d.id for d in store.read_routing().records]
    assert all(i and i.startswith("rd-") for i in ids) and len(set(ids)) == 4
    assert ids == [d.id for d in store.read_routing().records]  # the same on every read
    assert sorted(build_history(store).runs) == sorted(ids)
    state = review.load_review(store)
    assert [q.routing_id for q in review.evaluation_queue(state)] == ids
    assert "None" not in {q.routing_id for q in review.evaluation_queue(state)}


def test_evaluated_runs_are_not_queued_again_linked_by_invocation(tmp_path: Path) -> None:
    _spec_log(tmp_path, runs=4, evaluated=3)
    store = ProjectStore(tmp_path)
    state = review.load_review(store)
    queued = review.evaluation_queue(state)
    assert [q.run.task_summary for q in queued] == ["Extract endpoints from file4.py"]
    assert queued[0].invocation_number == 4
    hist = build_history(store)
    assert hist.ensembles["extract-endpoints"].completed == 4
    assert (
        hist.phase("extract-endpoints") is Phase.CALIBRATE
        and hist.ensembles["extract-endpoints"].tracker.remaining() == 2
    )


def test_evaluations_without_invocation_link_by_time(tmp_path: Path) -> None:
    _spec_log(tmp_path, runs=4, evaluated=2, with_invocation=False)
    store = ProjectStore(tmp_path)
    queued = review.evaluation_queue(review.load_review(store))
    assert [q.run.task_summary for q in queued] == [
        "Extract endpoints from file3.py",
        "Extract endpoints from file4.py",
    ]


def test_a_new_evaluation_of_an_id_less_run_gets_its_real_number(tmp_path: Path) -> None:
    _spec_log(tmp_path, runs=4, evaluated=3)
    store = ProjectStore(tmp_path)
    run_id = review.evaluation_queue(review.load_review(store))[0].routing_id
    outcome = Conductor(tmp_path).record_evaluation("extract-endpoints", "good", routing_id=run_id)
    assert outcome.evaluation.invocation_number == 4 and outcome.evaluation.routing_id == run_id
    assert review.evaluation_queue(review.load_review(store)) == []


def _record_many(project: str, n: int) -> None:
    from conductor_tui.core.loop import Conductor

    conductor = Conductor(project)
    for _ in range(n):
        conductor.record_evaluation("extract-endpoints", "good", reasoning="fine")


def test_concurrent_evaluations_never_share_an_invocation_number(tmp_path: Path) -> None:
    """Two processes recording at once: numbering is one critical section under the store lock."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), 12)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    numbers = [e.invocation_number for e in ProjectStore(tmp_path).read_evaluations().records]
    assert sorted(numbers) == list(range(1, 25))
