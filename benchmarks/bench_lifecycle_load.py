"""The Lifecycle screen's load without the UI — ``load_review(store, queue=False)`` then
``lifecycle_rows`` — in fresh processes: wall, this process's CPU and its forked workers'
CPU (on a 2-core machine the wall is at least half their sum, so both count).

    python benchmarks/gen_routing_log.py          # once: the 1,000,000-line project
    python benchmarks/bench_lifecycle_load.py [--rounds 5] [--against DIR] [--project DIR]

``--against DIR``: another checkout (``git archive <commit> | tar -x -C DIR``) measured in
the same rounds, alternating with this one, so that the load other processes put on the
machine affects both alike; its rows must be the same (checked). Prints the medians and
the ratios new / old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from conductor_tui.core.review import lifecycle_rows, load_review
from conductor_tui.core.store import ProjectStore
store = ProjectStore(Path(sys.argv[1]))
t, c = time.perf_counter(), time.process_time()
state = load_review(store, queue=False)
rows = lifecycle_rows(state)
wall, cpu = time.perf_counter() - t, time.process_time() - c
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "parent_cpu": cpu, "children_cpu": kids.ru_utime + kids.ru_stime,
    "rows": [[r.key, r.status.phase.value, r.status.invocations, str(r.last_used), r.debt,
              list(r.status.counts.__dict__.values())] for r in rows],
    "skipped": state.skipped_routing, "runs": state.total_runs}))
"""


def _run(root: Path, project: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(project)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another checkout, measured alternately")
    ap.add_argument("--project", type=Path, default=HERE / ".data" / "project")
    args = ap.parse_args(argv)
    if not (args.project / ".llm-orc" / "evaluations" / "routing-log.jsonl").is_file():
        print("no routing log: run python benchmarks/gen_routing_log.py first", file=sys.stderr)
        return 2
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, root in trees.items():
            runs[name].append(_run(root, args.project))
    print(f"Lifecycle load, {args.project} (fresh processes, median of {args.rounds}, alternating)")
    figures = {}
    for name, got in runs.items():
        med = {k: statistics.median(r[k] for r in got) for k in ("wall", "parent_cpu", "children_cpu")}
        figures[name] = med
        print(
            f"   {name:<8}: wall {med['wall']:5.2f} s   CPU this process {med['parent_cpu']:5.2f} s"
            f" + workers {med['children_cpu']:5.2f} s = {med['parent_cpu'] + med['children_cpu']:5.2f} s"
            f"   walls {[round(r['wall'], 2) for r in got]}"
        )
    if args.against:
        new, old = figures["this"], figures["against"]
        total = (new["parent_cpu"] + new["children_cpu"]) / (old["parent_cpu"] + old["children_cpu"])
        print(
            f"   this / against: wall {new['wall'] / old['wall']:.2f}x, CPU {total:.2f}x "
            f"(this process {new['parent_cpu'] / old['parent_cpu']:.2f}x, "
            f"workers {new['children_cpu'] / old['children_cpu']:.2f}x)"
        )
        same = all(
            (a["rows"], a["skipped"], a["runs"]) == (b["rows"], b["skipped"], b["runs"])
            for a, b in zip(runs["this"], runs["against"], strict=True)
        )
        print(f"   same rows, skipped lines and runs: {same}")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
