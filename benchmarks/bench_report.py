"""Time ``conductor-tui report --json`` over a 1,000,000-line routing log (DESIGN.md §7).

    python benchmarks/bench_report.py [--lines N] [--repeat R]

Prints, measured in this run:

* cold ``report --json``: a fresh ``python -m conductor_tui report --json`` process over
  the generated project (wall seconds including interpreter start and imports, the
  in-process aggregation seconds, and the process's peak RSS);
* incremental update: an :class:`Aggregator` already fed with the whole log, then 1,000
  lines appended; the time for ``feed_file`` + ``snapshot()`` to reflect them (ms);
* warm ``report --json``: the same with the offset cache primed (no new lines);
* baseline: plain ``json.loads`` per line + the same per-task-type sums, over the same file,
  for the speed ratio.

Budgets: cold < 1.5 s on one core, appended lines reflected < 50 ms, memory < 250 MB.
The data comes from ``gen_routing_log.py`` (generated on first use, gitignored); the
appended lines are removed again afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import gen_routing_log  # noqa: E402

PROJECT = HERE / ".data" / "project"
EVALS = PROJECT / ".llm-orc" / "evaluations"
LOG = EVALS / "routing-log.jsonl"

_CHILD = r"""
import json, resource, sys, time, io, contextlib
t0 = time.perf_counter()
from conductor_tui.cli import main
import conductor_tui.commands.report  # what `report` imports (pydantic, msgspec, yaml, core)
t1 = time.perf_counter()
c1 = time.process_time()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rc = main(["report", "--project", sys.argv[1], "--json"])
t2 = time.perf_counter()
data = json.loads(buf.getvalue())
print(json.dumps({
    "rc": rc, "import_s": t1 - t0, "report_s": t2 - t1,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "decisions": data["routing_decisions"], "skipped": data["skipped_lines"],
    "cpu_s": time.process_time() - c1,
}))
"""


def _ensure_data(lines: int) -> None:
    if LOG.exists():
        with open(LOG, "rb") as fh:
            n = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
        if n == lines:
            return
    print(f"generating {lines:,} lines …", flush=True)
    gen_routing_log.generate(EVALS, lines, 20_000, 20251121)


def cold(repeat: int, *, cache: bool = False) -> dict:
    runs = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not cache:
        env["CONDUCTOR_TUI_NO_CACHE"] = "1"
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(PROJECT)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        wall = time.perf_counter() - t
        info = json.loads(out.stdout.strip().splitlines()[-1])
        info["wall_s"] = wall
        runs.append(info)
    best = min(runs, key=lambda r: r["wall_s"])
    best["all_wall_s"] = [round(r["wall_s"], 3) for r in runs]
    return best


def incremental(n_new: int = 1000) -> dict:
    from conductor_tui.core.aggregate import Aggregator

    agg = Aggregator()
    t = time.perf_counter()
    agg.feed_file(LOG)
    agg.feed_file(EVALS / "evaluations.jsonl")
    agg.snapshot()
    in_process_cold = time.perf_counter() - t
    before = agg.snapshot().routing_decisions
    import random
    from datetime import UTC, datetime

    rng = random.Random(99)
    size = LOG.stat().st_size
    lines = [
        json.dumps(gen_routing_log._line(rng, 10**9 + i, datetime.now(UTC), "bench"), ensure_ascii=False)
        for i in range(n_new)
    ]
    timings = []
    try:
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        t = time.perf_counter()
        agg.feed_file(LOG)
        snap = agg.snapshot()
        timings.append(time.perf_counter() - t)
        after = snap.routing_decisions
        # and a second round of appends, one line at a time through the store's writer
        from conductor_tui.core.store import append_jsonl

        for i in range(n_new):
            append_jsonl(LOG, gen_routing_log._line(rng, 2 * 10**9 + i, datetime.now(UTC), "bench"))
        t = time.perf_counter()
        agg.feed_file(LOG)
        agg.snapshot()
        timings.append(time.perf_counter() - t)
    finally:
        os.truncate(LOG, size)
    return {
        "in_process_cold_s": in_process_cold,
        "append_ms": [round(x * 1000, 1) for x in timings],
        "new_decisions_seen": after - before,
    }


def _aggregate_once() -> float:
    from conductor_tui.core.aggregate import Aggregator

    t = time.perf_counter()
    agg = Aggregator()
    agg.feed_file(LOG)
    agg.feed_file(EVALS / "evaluations.jsonl")
    agg.snapshot()
    return time.perf_counter() - t


def _json_loads_once() -> float:
    """Plain json.loads per line with the same kind of per-task-type sums."""
    t = time.perf_counter()
    per_type: dict[str, list[int]] = {}
    skipped = 0
    with open(LOG, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if not isinstance(obj, dict):
                skipped += 1
                continue
            a = per_type.setdefault(obj.get("task_type") or "", [0, 0, 0])
            a[0] += 1
            a[1] += obj.get("total_tokens_local") or 0
            a[2] += obj.get("tokens_saved") or obj.get("estimated_claude_tokens") or 0
    return time.perf_counter() - t


def baseline(rounds: int = 2) -> dict:
    """Aggregator vs plain json.loads, interleaved in this process (best of ``rounds``)."""
    ours, plain = [], []
    for _ in range(rounds):
        ours.append(_aggregate_once())
        plain.append(_json_loads_once())
    return {"aggregator_s": min(ours), "json_loads_s": min(plain)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="report benchmark")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="cold runs (best is reported)")
    args = ap.parse_args(argv)
    _ensure_data(args.lines)
    size = LOG.stat().st_size
    print(f"routing-log.jsonl: {args.lines:,} lines, {size / 1e6:.0f} MB ({size / args.lines:.0f} B/line)")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    c = cold(args.repeat)
    print(
        f"cold `report --json`: {c['wall_s']:.2f} s wall for the whole process "
        f"(imports {c['import_s']:.2f} s + report {c['report_s']:.2f} s, of which CPU {c['cpu_s']:.2f} s; "
        f"runs {c['all_wall_s']}), peak RSS {c['maxrss_mb']:.0f} MB, "
        f"{c['decisions']:,} decisions, {c['skipped']} skipped lines"
    )
    cold(1, cache=True)  # prime the offset cache
    w = cold(max(1, args.repeat), cache=True)
    print(
        f"warm `report --json` (offset cache, no new lines): {w['wall_s']:.2f} s wall "
        f"(imports {w['import_s']:.2f} s + report {w['report_s']:.3f} s)"
    )
    inc = incremental()
    print(
        f"incremental: +1,000 lines reflected in {inc['append_ms'][0]:.1f} ms "
        f"(block append) / {inc['append_ms'][1]:.1f} ms (1,000 store appends); "
        f"{inc['new_decisions_seen']} new decisions seen; in-process cold {inc['in_process_cold_s']:.2f} s"
    )
    b = baseline()
    print(
        f"in-process, interleaved best of 2: aggregator {b['aggregator_s']:.2f} s vs plain json.loads "
        f"{b['json_loads_s']:.2f} s → {b['json_loads_s'] / b['aggregator_s']:.1f}x faster"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
