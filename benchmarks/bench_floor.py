"""Every speed figure of issue 16 as a ratio against its floor, measured in ONE run.

    python benchmarks/gen_routing_log.py     # once: the 1,000,000-line log (~390 MB, gitignored)
    python benchmarks/bench_floor.py [--repeat 3] [--launches 5] [--skip report,screens,launch]

Prints absolute times and ratios (lower is better), each measured here, interleaved, so
that the load other processes put on the machine affects both sides alike:

1. ``report --json`` on the 1M-line log, cold (no cache; a fresh process: interpreter,
   imports, parallel aggregation, JSON out) and warm (offset cache primed), against plain
   ``json.loads`` per line over the same file (one process; target cold ≤ 0.25×, warm ≤
   0.1×). Also quoted: a typed msgspec decoder per line (the one-core decoding floor) and
   peak memory (the report process and its largest worker).
2. Evaluate, Lifecycle and Savings over the same project: time from mounting the screen
   to its populated table in a fresh process (cold), then — after the idle build a live
   cockpit runs once its first screen is up (screens built and painted, heap frozen) —
   switching to Home and back plus a reload (warm: in-process state), and the same once
   3 routing lines were appended, and once a verdict was appended to the evaluations (both
   truncated again after) — targets 1 s / 100 ms. Savings is also
   measured after a restart with its offset cache (``report``'s cache) present.
3. Launch to the first painted screen: the cockpit vs a bare Textual app (Header +
   DataTable + Footer), both fresh processes timed from before the interpreter starts
   (target ≤ 1.5×).

The load average is printed before and after: on a shared 2-core machine the cold figures
use both cores, so they suffer more than the one-core baselines when others are busy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

PROJECT = HERE / ".data" / "project"
EVALS = PROJECT / ".llm-orc" / "evaluations"
LOG = EVALS / "routing-log.jsonl"


def _run_child(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, dict]:
    """Run ``code`` in a fresh interpreter; (wall seconds from before the spawn, its JSON)."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    wall = time.perf_counter() - t
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- 1. report

_REPORT = r"""
import io, json, resource, sys, contextlib
from conductor_tui.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rc = main(["report", "--project", sys.argv[1], "--json"])
data = json.loads(buf.getvalue())
print(json.dumps({"rc": rc, "decisions": data["routing_decisions"], "skipped": data["skipped_lines"],
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
    "children_cpu_s": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])}))
"""

_JSON_LOADS = r"""
import json, time
t = time.perf_counter()
per_type = {}
with open(__import__("sys").argv[1], encoding="utf-8-sig") as fh:
    for line in fh:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            a = per_type.setdefault(obj.get("task_type") or "", [0, 0])
            a[0] += 1
            a[1] += obj.get("total_tokens_local") or 0
print(json.dumps({"inner_s": time.perf_counter() - t}))
"""

_MSGSPEC_LINES = r"""
import time, msgspec, sys
t = time.perf_counter()
class R(msgspec.Struct):
    task_type: str | None = None
    total_tokens_local: int | None = None
dec = msgspec.json.Decoder(R)
n = 0
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        try:
            n += dec.decode(line).total_tokens_local or 0
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
print(__import__("json").dumps({"inner_s": time.perf_counter() - t}))
"""


def bench_report(repeat: int) -> dict:
    cache_home = Path(tempfile.mkdtemp(prefix="bench-floor-cache-"))
    cold, warm, loads, typed = [], [], [], []
    info: dict = {}
    cpu: list[tuple[float, float]] = []
    for _ in range(repeat):  # interleaved: cold report, json.loads, typed decoder, warm report
        w, info = _run_child(_REPORT, str(PROJECT), env={"CONDUCTOR_TUI_NO_CACHE": "1"})
        cold.append(w)
        cpu.append((info["cpu_s"], info["children_cpu_s"]))
        loads.append(_run_child(_JSON_LOADS, str(LOG))[0])
        typed.append(_run_child(_MSGSPEC_LINES, str(LOG))[0])
        env = {"XDG_CACHE_HOME": str(cache_home)}
        _run_child(_REPORT, str(PROJECT), env=env)  # prime the offset cache
        warm.append(_run_child(_REPORT, str(PROJECT), env=env)[0])
    floor = statistics.median(loads)
    out = {
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "json_loads_s": floor,
        "msgspec_lines_s": statistics.median(typed),
        "rss_mb": info["rss_mb"],
        "child_rss_mb": info["child_rss_mb"],
        "decisions": info["decisions"],
        "skipped": info["skipped"],
        "cold_cpu_s": statistics.median(a for a, _b in cpu),
        "cold_workers_cpu_s": statistics.median(b for _a, b in cpu),
    }
    print(
        "1. report --json over the 1M-line routing log (fresh processes, median of "
        f"{repeat}, wall incl. interpreter start)"
    )
    print(f"   plain json.loads per line (floor): {floor:6.2f} s   runs {[round(x, 2) for x in loads]}")
    print(
        f"   typed msgspec per line, one core : {out['msgspec_lines_s']:6.2f} s "
        f"= {out['msgspec_lines_s'] / floor:.2f}x"
    )
    print(
        f"   cold report --json               : {out['cold_s']:6.2f} s = {out['cold_s'] / floor:.2f}x "
        f"(target ≤ 0.25x)   runs {[round(x, 2) for x in cold]}"
    )
    both = out["cold_cpu_s"] + out["cold_workers_cpu_s"]
    print(
        f"     its CPU: report process {out['cold_cpu_s']:.2f} s + workers {out['cold_workers_cpu_s']:.2f} s "
        f"= {both:.2f} s = {both / floor:.2f}x (on 2 cores the wall cannot go below half of it)"
    )
    print(
        f"   warm report --json (offset cache): {out['warm_s']:6.2f} s = {out['warm_s'] / floor:.3f}x "
        "(target ≤ 0.1x)"
    )
    print(
        f"   peak RSS: report process {out['rss_mb']:.0f} MB, largest worker {out['child_rss_mb']:.0f} MB "
        f"(target ≤ 250 MB); {out['decisions']:,} decisions, {out['skipped']} skipped lines"
    )
    return out


# --------------------------------------------------------------------------- 2. screens

_SCREEN = r"""
import asyncio, json, sys, time
from pathlib import Path
from conductor_tui.ui import warm
from conductor_tui.ui.app import make_app
from tests.fakes.gpu import FakeGpuProbe

LINE = ('{"id":"rd-f%07d","timestamp":"2026-01-01T00:00:00Z","task_summary":"Map imports",'
        '"task_type":"template-fill","delegability_category":"agent-delegable",'
        '"routed_to":"generate-test-cases","reason":"task-profile","standing_auth":false,'
        '"total_tokens_local":628,"estimated_claude_tokens":523,"tokens_saved":523,'
        '"ensemble":"generate-test-cases"}\n')

def populated(scr, mode):
    if mode == "savings":
        return scr.snapshot is not None
    return getattr(scr, "state", None) is not None

async def visit(app, pilot, mode, log=None, lines=0, text=None):
    # Home, then back (a key), then a reload (in-process state: new lines only); until its result
    await app.switch_mode("home")
    await pilot.pause(0.05)
    for i in range(lines):
        log.write(LINE % i)
    if text is not None:
        log.write(text)
    if log is not None:
        log.flush()
    scr = app._screen_stacks[mode][0]
    marker = "refreshes" if mode == "savings" else ("items" if mode == "evaluate" else "rows")
    before = getattr(scr, marker)
    t0, c0 = time.perf_counter(), time.process_time()
    await app.switch_mode(mode)
    if mode == "savings":
        scr.refresh_data()
    else:
        scr.reload()
    while getattr(scr, marker) is before or (mode == "savings" and scr.refreshes == before):
        await asyncio.sleep(0.001)
    return time.perf_counter() - t0, time.process_time() - c0  # wall; CPU of every thread

async def main(project, mode):
    # poll_interval=0: no Ollama polling; the idle build a live cockpit runs once its first
    # screen is up (every screen built and painted, the heap frozen) is run explicitly below
    app = make_app(Path(project), poll_interval=0, gpu_probe=FakeGpuProbe.none(),
                   ollama_host="http://127.0.0.1:9", initial_mode=mode)
    out = {}
    log_path = Path(project) / ".llm-orc" / "evaluations" / "routing-log.jsonl"
    evals_path = log_path.with_name("evaluations.jsonl")
    before, evals_before = log_path.stat(), evals_path.stat()
    size = before.st_size
    with open(log_path, "rb") as fh:  # a run of the log's end, for the verdict below
        fh.seek(max(0, size - 4096))
        last = json.loads(fh.read().splitlines()[-1])
    verdict = json.dumps({"id": "ev-bench-floor", "routing_id": last["id"], "ensemble": last.get("ensemble"),
                          "score": "good", "reasoning": "bench", "evaluator": "human"}) + "\n"
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            t0 = time.perf_counter()
            scr = app.screen
            while not populated(scr, mode):
                await asyncio.sleep(0.002)
            out["cold_s"] = time.perf_counter() - t0
            warm.prebuild_screens(app)
            while not app.prebuilt:
                await pilot.pause(0.01)
            visits = sorted([await visit(app, pilot, mode) for _ in range(3)])
            out["warm_s"], out["warm_cpu_s"] = visits[1]  # the median of 3
            with open(log_path, "a") as log:  # a run finished meanwhile: 3 new routing lines
                out["new_lines_s"], out["new_lines_cpu_s"] = await visit(app, pilot, mode, log, 3)
            with open(evals_path, "a") as evals:  # a verdict recorded meanwhile
                out["verdict_s"], out["verdict_cpu_s"] = await visit(app, pilot, mode, evals, 0, verdict)
    finally:
        import os
        # the same size and time as before: offset caches written from them stay valid
        for path, stat in ((log_path, before), (evals_path, evals_before)):
            with open(path, "r+") as fh:
                fh.truncate(stat.st_size)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def bench_screens(repeat: int) -> dict:
    cache_home = Path(tempfile.mkdtemp(prefix="bench-floor-screens-"))
    results: dict[str, dict] = {}
    print(
        "2. screens over the same project (mount → populated; cold = fresh process; warm = "
        "after the idle build, Home and back + reload, median of 3; then with 3 new lines; then a verdict)"
    )
    for mode in ("evaluate", "lifecycle", "savings"):
        runs = [
            _run_child(_SCREEN, str(PROJECT), mode, env={"XDG_CACHE_HOME": str(cache_home / f"{mode}{i}")})[1]
            for i in range(repeat)
        ]
        cold = statistics.median(r["cold_s"] for r in runs)
        warm = statistics.median(r["warm_s"] for r in runs)
        grown = statistics.median(r["new_lines_s"] for r in runs)
        judged = statistics.median(r["verdict_s"] for r in runs)
        keys = ("warm_cpu_s", "new_lines_cpu_s", "verdict_cpu_s")
        cpu = {k: statistics.median(r[k] for r in runs) for k in keys}
        results[mode] = {"cold_s": cold, "warm_s": warm, "new_lines_s": grown, "verdict_s": judged, **cpu}
        print(
            f"   {mode:<9}: cold {cold:5.2f} s = {cold / 1.0:.2f}x of 1 s; "
            f"warm {warm * 1000:5.1f} ms (CPU {cpu['warm_cpu_s'] * 1000:5.1f}) = {warm / 0.1:.2f}x of 100 ms; "
            f"after 3 new lines {grown * 1000:5.1f} ms (CPU {cpu['new_lines_cpu_s'] * 1000:5.1f}) = {grown / 0.1:.2f}x; "
            f"after a verdict {judged * 1000:5.1f} ms (CPU {cpu['verdict_cpu_s'] * 1000:5.1f}) = {judged / 0.1:.2f}x"
        )
    # Savings after a restart, with the offset cache a previous session left
    env = {"XDG_CACHE_HOME": str(cache_home / "restart")}
    _run_child(_SCREEN, str(PROJECT), "savings", env=env)
    runs = [_run_child(_SCREEN, str(PROJECT), "savings", env=env)[1] for _ in range(repeat)]
    restart = statistics.median(r["cold_s"] for r in runs)
    results["savings_restart_s"] = restart
    print(
        f"   savings after a restart (offset cache on disk): {restart * 1000:.0f} ms "
        f"= {restart / 0.1:.2f}x of 100 ms"
    )
    return results


# --------------------------------------------------------------------------- 3. launch

from bench_ui import BARE_APP, COCKPIT_APP, _launch, compile_bytecode  # noqa: E402


def bench_launch(launches: int) -> dict:
    from tests.ui.sample import make_project, mixed_plan

    home = Path(tempfile.mkdtemp(prefix="bench-floor-ui-"))
    project = make_project(home / "project", plan=mixed_plan())
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    os.environ.pop("OLLAMA_HOST", None)
    bare, cockpit = [], []
    _launch(BARE_APP, env=env)  # warm the OS file cache for both
    _launch(COCKPIT_APP, str(project), env=env)
    for _ in range(launches):  # the same apps and timing as bench_ui's launch ratio
        bare.append(_launch(BARE_APP, env=env)[0])
        cockpit.append(_launch(COCKPIT_APP, str(project), env=env)[0])
    b, c = statistics.median(bare), statistics.median(cockpit)
    print(
        f"3. launch to first painted screen (fresh processes, median of {launches}, from before the "
        "interpreter starts)"
    )
    print(
        f"   bare Textual app (Header+DataTable+Footer): {b * 1000:6.0f} ms   "
        f"runs {[round(x * 1000) for x in bare]}"
    )
    print(
        f"   cockpit (plan screen, 7-row plan)         : {c * 1000:6.0f} ms = {c / b:.2f}x "
        f"(target ≤ 1.5x)   runs {[round(x * 1000) for x in cockpit]}"
    )
    return {"bare_s": b, "cockpit_s": c}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--skip", default="", help="comma-separated: report,screens,launch")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if not LOG.is_file() and not {"report", "screens"} <= skip:
        print("no 1M-line log: run `python benchmarks/gen_routing_log.py` first", file=sys.stderr)
        return 2
    compile_bytecode()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if LOG.is_file():
        print(f"routing log: {LOG.stat().st_size / 1e6:.0f} MB")
    if "report" not in skip:
        bench_report(args.repeat)
    if "screens" not in skip:
        bench_screens(args.repeat)
    if "launch" not in skip:
        bench_launch(args.launches)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
