"""Evaluate and Lifecycle cold, this checkout against another one, alternated in ONE run.

    python benchmarks/bench_review_ab.py --other /work/main [--repeat 3] [--modes evaluate,lifecycle]

Each run is a fresh process mounting the screen (bench_floor's screen child: mount →
``screen.state`` set); it prints the wall time the child measured and the CPU time the
whole child used (its own and its forked workers', from ``RUSAGE_CHILDREN``), which
other processes on a shared machine disturb much less than wall time. The two checkouts
run alternately on the same project (this checkout's ``benchmarks/.data/project``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_floor import _SCREEN  # noqa: E402

PROJECT = HERE / ".data" / "project"


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(root: Path, mode: str, cache: Path) -> tuple[float, float, float]:
    """(cold wall seconds measured in the child, the child's CPU seconds, its process wall)."""
    cpu0, t0 = _child_cpu(), time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _SCREEN, str(PROJECT), mode],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root), "XDG_CACHE_HOME": str(cache)},
    )
    wall, cpu = time.perf_counter() - t0, _child_cpu() - cpu0
    return json.loads(out.stdout.strip().splitlines()[-1])["cold_s"], cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the other checkout (e.g. /work/main)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="evaluate,lifecycle")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-review-ab-"))
    sides = {"this": ROOT, "other": args.other.resolve()}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for mode in args.modes.split(","):
        got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in sides}
        for i in range(args.repeat):
            for name, root in sides.items():
                got[name].append(run_once(root, mode, cache / f"{name}{mode}{i}"))
        for name in sides:
            cold = statistics.median(r[0] for r in got[name])
            cpu = statistics.median(r[1] for r in got[name])
            proc = statistics.median(r[2] for r in got[name])
            print(
                f"{mode:<9} {name:<5}: cold {cold:5.2f} s (mount → state), process CPU {cpu:5.2f} s, "
                f"process wall {proc:5.2f} s   [colds: {', '.join(f'{r[0]:.2f}' for r in got[name])}]"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
