"""Evaluate and Lifecycle cold, this checkout against another one, alternated in ONE run.

    python benchmarks/bench_review_ab.py --other /work/main [--repeat 3] [--modes evaluate,lifecycle]
    python benchmarks/bench_review_ab.py --other /tmp/old --plain [--repeat 5]

Each run is a fresh process mounting the screen (as bench_floor's screen child: mount →
``screen.state`` set); it prints the wall time from mount to state and the CPU time spent
meanwhile by the child and its forked workers (``RUSAGE_SELF`` + ``RUSAGE_CHILDREN``),
which other processes on a shared machine disturb much less than wall time. The two checkouts
run alternately on the same project (this checkout's ``benchmarks/.data/project``).

``--plain``: no UI — ``load_review`` alone in a fresh process (``queue=True`` for
evaluate, ``False`` for lifecycle), its wall time and the CPU time of the process itself
and of its forked workers apart (on 2 cores the wall time cannot drop below half their sum).
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

PROJECT = HERE / ".data" / "project"


_SCREEN = r"""
import asyncio, json, resource, sys, time
from pathlib import Path
from conductor_tui.ui.app import make_app
from tests.fakes.gpu import FakeGpuProbe

def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

async def main(project, mode):
    app = make_app(Path(project), poll_interval=0, gpu_probe=FakeGpuProbe.none(),
                   ollama_host="http://127.0.0.1:9", initial_mode=mode)
    async with app.run_test(size=(140, 40)):
        t0, c0 = time.perf_counter(), cpu()
        scr = app.screen
        while getattr(scr, "state", None) is None:
            await asyncio.sleep(0.002)
        out = {"cold_s": time.perf_counter() - t0, "cold_cpu_s": cpu() - c0}
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


_PLAIN = r"""
import json, resource, sys, time
from pathlib import Path
from conductor_tui.core.review import load_review
from conductor_tui.core.store import ProjectStore

def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime

t0, p0, c0 = time.perf_counter(), cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
load_review(ProjectStore(Path(sys.argv[1])), queue=sys.argv[2] == "evaluate")
out = {"cold_s": time.perf_counter() - t0, "parent_s": cpu(resource.RUSAGE_SELF) - p0,
       "workers_s": cpu(resource.RUSAGE_CHILDREN) - c0}
print(json.dumps(out))
"""


def run_plain(root: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PLAIN, str(PROJECT), mode],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def plain(sides: dict[str, Path], modes: list[str], repeat: int) -> None:
    for mode in modes:
        got: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
        for _ in range(repeat):
            for name, root in sides.items():
                got[name].append(run_plain(root, mode))
        for name in sides:
            runs = got[name]

            def med(key: str, runs: list[dict[str, float]] = runs) -> float:
                return statistics.median(r[key] for r in runs)

            walls = ", ".join(f"{r['cold_s']:.2f}" for r in runs)
            sums = ", ".join(f"{r['parent_s'] + r['workers_s']:.2f}" for r in runs)
            print(
                f"{mode:<9} {name:<5}: cold {med('cold_s'):5.2f} s wall, CPU {med('parent_s'):5.2f} s process "
                f"+ {med('workers_s'):5.2f} s workers (medians; walls: {walls}; CPU sums: {sums})"
            )


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(root: Path, mode: str, cache: Path) -> tuple[float, float, float]:
    """(cold wall seconds measured in the child, the CPU seconds the child and its workers
    used meanwhile, the child's whole CPU time)."""
    cpu0 = _child_cpu()
    out = subprocess.run(
        [sys.executable, "-c", _SCREEN, str(PROJECT), mode],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root), "XDG_CACHE_HOME": str(cache)},
    )
    cpu = _child_cpu() - cpu0
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["cold_s"], got["cold_cpu_s"], cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the other checkout (e.g. /work/main)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="evaluate,lifecycle")
    ap.add_argument("--plain", action="store_true", help="load_review in a plain process, no UI")
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-review-ab-"))
    sides = {"this": ROOT, "other": args.other.resolve()}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if args.plain:
        plain(sides, args.modes.split(","), args.repeat)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return 0
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
                f"{mode:<9} {name:<5}: cold {cold:5.2f} s wall, {cpu:5.2f} s CPU (mount → state, "
                f"process + workers); whole process {proc:5.2f} s CPU   "
                f"[walls: {', '.join(f'{r[0]:.2f}' for r in got[name])}; "
                f"CPUs: {', '.join(f'{r[1]:.2f}' for r in got[name])}]"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
