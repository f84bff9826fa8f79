"""The Evaluate and Lifecycle screens over a 1,000,000-line routing log.

    python benchmarks/gen_routing_log.py          # once: benchmarks/.data/project (~390 MB)
    python benchmarks/bench_review.py [--project DIR] [--core-only]

Prints the core figures (``core.review.load_review`` — one msgspec pass over the log,
only the queued runs materialised as pydantic records —, ``evaluation_queue``,
``lifecycle_rows``, peak RSS), then for each screen: the time from mounting it to a
populated table (thread worker) and the longest gap between 50 ms UI timer ticks
meanwhile (how long the UI was unresponsive).

Before this pass existed (pydantic per line, every decision kept) the same log took
~32-54 s to load, 8.5-12.6 s to build the queue and 4.4 s for the lifecycle rows, with a
2.5 GB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT / "benchmarks" / ".data" / "project"


def core(project: Path) -> None:
    from conductor_tui.core import review
    from conductor_tui.core.store import ProjectStore

    store = ProjectStore(project)
    t0 = time.perf_counter()
    state = review.load_review(store)
    t1 = time.perf_counter()
    queue = review.evaluation_queue(state)
    t2 = time.perf_counter()
    rows = review.lifecycle_rows(state)
    t3 = time.perf_counter()
    print(
        f"load_review: {t1 - t0:.2f} s ({state.total_runs:,} local runs, {len(state.evaluations):,} evaluations, "
        f"{state.skipped_routing} skipped lines, {len(state.decisions):,} records materialised)"
    )
    print(
        f"evaluation_queue: {(t2 - t1) * 1000:.1f} ms ({len(queue):,} shown of {state.queue_total:,} needing evaluation)"
    )
    print(f"lifecycle_rows: {(t3 - t2) * 1000:.0f} ms ({len(rows)} rows)")
    print(f"peak RSS after core: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


async def screen(project: Path, mode: str) -> None:
    from conductor_tui.ui.app import make_app
    from tests.fakes.gpu import FakeGpuProbe

    app = make_app(
        project,
        poll_interval=0,
        gpu_probe=FakeGpuProbe.none(),
        ollama_host="http://127.0.0.1:9",
        initial_mode=mode,
    )
    ticks: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        t0 = time.perf_counter()
        timer = app.set_interval(0.05, lambda: ticks.append(time.perf_counter()))
        scr = app.screen
        while scr.state is None:
            await pilot.pause(0.01)
        await pilot.pause()
        ready = time.perf_counter() - t0
        timer.stop()
        gaps = [b - a for a, b in zip([t0, *ticks], ticks, strict=False)]
        worst = max(gaps, default=ready)
        size = len(getattr(scr, "items", None) or getattr(scr, "rows", []))
    print(
        f"{mode} screen: populated after {ready:.2f} s ({size:,} rows); "
        f"longest UI stall {worst * 1000:.0f} ms over {len(ticks)} ticks"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, default=DEFAULT)
    ap.add_argument("--core-only", action="store_true")
    args = ap.parse_args()
    log = args.project / ".llm-orc" / "evaluations" / "routing-log.jsonl"
    if not log.is_file():
        print(
            f"no routing log under {args.project}: run benchmarks/gen_routing_log.py first", file=sys.stderr
        )
        return 2
    print(f"routing log: {log.stat().st_size / 1e6:.0f} MB")
    core(args.project)
    if not args.core_only:
        asyncio.run(screen(args.project, "evaluate"))
        asyncio.run(screen(args.project, "lifecycle"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
