"""The Savings screen over a 1,000,000-line routing log: does the UI stay responsive?

    python benchmarks/gen_routing_log.py          # once: benchmarks/.data/project (~350 MB)
    python benchmarks/bench_savings_screen.py [--project DIR]

Prints: time from mounting the screen to the first dashboard (cold, thread worker),
the longest gap between 50 ms UI timer ticks while the log was being read (how long
the UI was unresponsive), the time for an appended line to show, and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT / "benchmarks" / ".data" / "project"


async def run(project: Path) -> None:
    from conductor_tui.ui.app import make_app
    from conductor_tui.ui.screens.savings import SavingsScreen
    from tests.fakes.gpu import FakeGpuProbe

    log = project / ".llm-orc" / "evaluations" / "routing-log.jsonl"
    lines = sum(1 for _ in log.open("rb"))
    app = make_app(
        project,
        poll_interval=0,
        gpu_probe=FakeGpuProbe.none(),
        ollama_host="http://127.0.0.1:9",
        initial_mode="savings",
    )
    ticks: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        t0 = time.perf_counter()
        timer = app.set_interval(0.05, lambda: ticks.append(time.perf_counter()))
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        while screen.snapshot is None:
            await pilot.pause(0.01)
        cold = time.perf_counter() - t0
        timer.stop()
        gaps = [b - a for a, b in zip([t0, *ticks], ticks, strict=False)]
        worst = max(gaps, default=cold)
        before = screen.snapshot.routing_decisions
        with log.open("a") as fh:
            fh.write(
                json.dumps(
                    {
                        "task_type": "extraction",
                        "routed_to": "extract-code-patterns",
                        "total_tokens_local": 900,
                    }
                )
                + "\n"
            )
        t1 = time.perf_counter()
        screen.refresh_data()
        while screen.snapshot.routing_decisions == before:
            await pilot.pause(0.001)
        appended = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"routing log: {lines:,} lines, {log.stat().st_size / 1e6:.0f} MB")
    print(f"savings screen cold load (thread worker): {cold:.2f} s")
    print(f"longest UI stall while loading (50 ms timer gaps): {worst * 1000:.0f} ms over {len(ticks)} ticks")
    print(f"appended line shown after: {appended * 1000:.0f} ms (plus up to 500 ms until the next tail read)")
    print(f"peak RSS: {rss:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, default=DEFAULT)
    args = ap.parse_args()
    if not (args.project / ".llm-orc" / "evaluations" / "routing-log.jsonl").is_file():
        print(
            f"no routing log under {args.project}: run benchmarks/gen_routing_log.py first", file=sys.stderr
        )
        return 2
    asyncio.run(run(args.project))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
