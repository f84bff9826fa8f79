"""What a verdict, a flag or a recorded run costs Evaluate on a big project: the load after
the change, going on from the last load (``review_refresh``, or the pass resumed over
appended runs), against a full load of the same files — in one process, alternated, on a
copy of the 1M-line project (the routing log copied once into a temp dir: flags and runs
are appended to it; removed after).

    python benchmarks/gen_routing_log.py          # once: the 1,000,000-line project
    python benchmarks/bench_verdict.py [--rounds 5] [--project DIR]

Each round: a full load (remembered), then one change and the load after it (timed), then
the same files loaded with nothing remembered (timed, and checked to give the same queue).
Prints the medians and the ratio; the target for a warm load is 100 ms. Last, the whole
verdict as the Evaluate screen records it: ``Conductor.record_evaluation`` (the loop: run
looked up in the history, phase, task profiles, designer feedback), then the queue's load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conductor_tui.core import review  # noqa: E402
from conductor_tui.core.store import ProjectStore  # noqa: E402

PROJECT = HERE / ".data" / "project"


def _queue(state: review.ReviewState) -> list[tuple]:
    rows = [(r.key, r.status.phase, r.status.invocations, r.debt) for r in review.lifecycle_rows(state)]
    return [(q.routing_id, q.invocation_number, str(q.phase), q.reason) for q in state.queue_due] + [
        (state.queue_total, state.total_runs, len(state.evaluations), rows)
    ]


def _timed(store: ProjectStore, *, forget: bool, queue: bool = True) -> tuple[float, review.ReviewState]:
    """One load (Evaluate's; ``queue=False``: Lifecycle's counts and rows), timed."""
    if forget:
        review._MEMO.clear()
    t = time.perf_counter()
    state = review.load_review(store, queue=queue)
    if not queue:
        review.lifecycle_rows(state)
    return time.perf_counter() - t, state


def _change(kind: str, store: ProjectStore, items: list[review.QueueItem], k: int) -> None:
    item = items[k % len(items)]
    if kind == "verdict":
        rec = {"id": f"ev-bench-{k}", "routing_id": item.routing_id, "ensemble": item.ensemble,
               "score": "good", "reasoning": "bench", "evaluator": "human"}  # fmt: skip
        with open(store.evaluations_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
    elif kind == "flag":
        rec = {"id": f"flag-bench-{k}", "event": review.FLAG_EVENT, "routing_id": item.routing_id}
        with open(store.routing_log_path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
    else:  # three runs recorded
        with open(store.routing_log_path, "a") as fh:
            for i in range(3):
                rec = {"id": f"rd-bench-{k}-{i}", "routed_to": item.ensemble, "ensemble": item.ensemble,
                       "timestamp": "2026-11-30T12:00:00Z", "status": "completed"}  # fmt: skip
                fh.write(json.dumps(rec) + "\n")


def _round_trip(store: ProjectStore, items: list[review.QueueItem], rounds: int) -> str:
    """What the Evaluate screen does when the person records a verdict: the loop records it
    (``Conductor.record_evaluation``: the run looked up, the phase, profiles, designer
    feedback) in one worker, then the queue is loaded again in another."""
    from conductor_tui.core.loop import Conductor

    conductor = Conductor(store.project, store=store)
    review.load_review(store)
    record, load = [], []
    for k in range(rounds):
        item = items[(k * 7 + 3) % len(items)]
        t = time.perf_counter()
        conductor.record_evaluation(
            item.ensemble, "good", reasoning="bench", routing_id=item.routing_id, evaluator="human"
        )
        t_record = time.perf_counter() - t
        t_load, _state = _timed(store, forget=False)
        record.append(t_record)
        load.append(t_load)
    r, w = statistics.median(record), statistics.median(load)
    return (
        f"  a verdict recorded through the loop, then Evaluate's load: {(r + w) * 1000:.0f} ms"
        f" (record {r * 1000:.0f} ms + load {w * 1000:.0f} ms; runs {[round((a + b) * 1000) for a, b in zip(record, load, strict=True)]} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--project", type=Path, default=PROJECT)
    args = ap.parse_args(argv)
    src = args.project / ".llm-orc"
    if not (src / "evaluations" / "routing-log.jsonl").is_file():
        print("no routing log: run python benchmarks/gen_routing_log.py first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as tmp:
        project = Path(tmp)
        shutil.copytree(src, project / ".llm-orc")
        store = ProjectStore(project)
        print(f"routing log: {Path(store.routing_log_path).stat().st_size / 1e6:.0f} MB (a copy)")
        items = review.load_review(store).queue_due  # the runs the changes name
        for screen, kind in (("Evaluate", "verdict"), ("Evaluate", "flag"), ("Evaluate", "3 runs"),
                             ("Lifecycle", "verdict")):  # fmt: skip
            after, full = [], []
            queue = screen == "Evaluate"  # Lifecycle opened first: only its counts are remembered
            for k in range(args.rounds):
                _timed(store, forget=True, queue=queue)  # the load the change goes on from
                _change(kind, store, items, k)
                t_after, state = _timed(store, forget=False, queue=queue)
                t_full, again = _timed(store, forget=True, queue=queue)
                if _queue(state) != _queue(again):
                    print(f"  {kind}: the load after the change differs from a full load", file=sys.stderr)
                    return 1
                after.append(t_after)
                full.append(t_full)
            a, f = statistics.median(after), statistics.median(full)
            print(
                f"  {screen:9} after a {kind:8}: {a * 1000:7.1f} ms (target 100 ms) vs full load {f:5.2f} s = {a / f:.3f}x"
                f"   runs {[round(x * 1000) for x in after]} ms"
            )
        print(_round_trip(store, items, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
