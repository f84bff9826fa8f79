"""Chaos probes: what a crash, a concurrent writer or an attacker does to the files and the
terminal — reproduced, and counted.

    python benchmarks/chaos.py            # the default run (about a minute)
    python benchmarks/chaos.py --rounds 3 # quicker, fewer kills

Each probe prints its figures; every "0" row is a promise the README makes:

* writers × appends → intact lines (all), skipped lines 0;
* kill -9 during big appends → merged lines 0 (a torn line is skipped and counted);
* kill -9 during config writes → torn configs 0, leftover temp files 0 after the next
  write, config versions without their log line 0 after the next write;
* a request line without ``id`` polled by a cockpit many times → runs 1;
* two processes × 50 plan decisions → decisions kept 100, duplicate revisions 0;
* an injection corpus through the CLI → escapes reaching the terminal 0;
* bomb files (nested JSON, nested YAML, YAML alias bomb) → refused, in < N s, < M MB.

Works on a scratch folder under the system temp dir; nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor_tui.core.records import PlanRow, RoutingDecision, WorkflowPlan  # noqa: E402
from conductor_tui.core.store import ProjectStore, append_jsonl, read_jsonl  # noqa: E402
from conductor_tui.handoff import protocol  # noqa: E402

OLD = time.time() - 3600


def row(label: str, value: object, note: str = "") -> None:
    print(f"  {label:<58} {value!s:>12}  {note}")


# --------------------------------------------------------------------------- appends


def _writer(path: str, n: int, tag: int, size: int) -> None:
    pad = "w" * size
    for i in range(n):
        append_jsonl(path, {"task_type": f"w{tag}", "task_summary": pad, "invocation_number": i})


def probe_writers(tmp: Path, writers: int, appends: int) -> None:
    path = tmp / "writers.jsonl"
    ctx = mp.get_context("fork")
    procs = [
        ctx.Process(target=_writer, args=(str(path), appends, t, 2000 + 3000 * t)) for t in range(writers)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    res = read_jsonl(path, RoutingDecision)
    print(f"writers × appends ({writers} processes × {appends} lines of 2–{2 + 3 * (writers - 1)} KB)")
    row("intact lines", f"{len(res.records)}/{writers * appends}", f"({elapsed:.1f} s)")
    row("skipped lines", len(res.skipped))


def _append_forever(path: str, size: int) -> None:  # pragma: no cover - killed
    pad = "z" * size
    while True:
        append_jsonl(path, {"task_type": "big", "task_summary": pad})


def probe_kill_appends(tmp: Path, rounds: int) -> None:
    print(f"kill -9 during appends ({rounds} kills each at 30 KB and 1 MB lines)")
    merged = torn = markers_ok = kills = 0
    for size in (30_000, 1_000_000):
        path = tmp / f"kill-{size}.jsonl"
        for _ in range(rounds):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    _append_forever(str(path), size)
                finally:
                    os._exit(0)
            time.sleep(random.uniform(0.005, 0.05))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            kills += 1
            append_jsonl(path, {"task_type": "marker"})
        os.utime(path, (OLD, OLD))
        res = read_jsonl(path, RoutingDecision)
        torn += len(res.skipped)
        markers_ok += sum(1 for r in res.records if r.task_type == "marker")
        with open(path, "rb") as fh:
            for line in fh:
                if b'"marker"' in line and not line.startswith(b'{"task_type": "marker"'):
                    merged += 1
    row("kills", kills)
    row("merged lines (an append glued onto a torn line)", merged)
    row("torn lines (skipped and counted)", torn)
    row("markers intact after each kill", f"{markers_ok}/{kills}")


# --------------------------------------------------------------------------- config writes


def _config_forever(project: str) -> None:  # pragma: no cover - killed
    store = ProjectStore(project)
    n = 0
    while True:
        n += 1
        store.update_thresholds(f"chaos {n}", repetition_threshold=3 + n % 5)


def probe_kill_config(tmp: Path, rounds: int) -> None:
    project = tmp / "cfg"
    store = ProjectStore(project)
    store.save_config(store.load_config(), "start")
    torn_configs = 0
    missing_before = 0
    for _ in range(rounds):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                _config_forever(str(project))
            finally:
                os._exit(0)
        time.sleep(random.uniform(0.02, 0.15))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        try:
            store.load_config()
        except Exception:
            torn_configs += 1
        missing_before += len(store.config_versions_without_log())
        store.update_thresholds("after a kill", repetition_threshold=3)  # the next write
    leftovers = [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")]
    print(f"kill -9 during config writes ({rounds} kills)")
    row("torn configs", torn_configs)
    row("leftover temp files after the next write", len(leftovers))
    row("versions found without their log line (repaired)", missing_before)
    row("versions without their log line after the next write", len(store.config_versions_without_log()))
    row("config versions written", len(store.config_versions()))


# --------------------------------------------------------------------------- requests + plans


def probe_requests(tmp: Path) -> None:
    project = tmp / "req"
    path = protocol.requests_path(project)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"ensemble": "echo", "input": "no id here"}) + "\n")
    runs = 0
    for _ in range(25):  # 25 cockpit polls
        runs += len(protocol.claim_requests(project))
    print("request line without id, 25 cockpit polls")
    row("runs", runs)


def _decide(project: str, plan_id: str, rows: list[str]) -> None:
    for r in rows:
        protocol.decide_rows(project, plan_id, {r: "approved"})


def probe_decisions(tmp: Path) -> None:
    project = tmp / "plans"
    plan = WorkflowPlan(
        meta_task="m", subtasks=[PlanRow(id=f"r{i}", description=f"row {i}") for i in range(100)]
    )
    written = protocol.submit_plan(project, plan, session="s")
    ids = [r.id for r in written.subtasks]
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_decide, args=(str(project), written.id, ids[i::2])) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    history = ProjectStore(project).plan_history(written.id)
    revisions = [p.revision for p in history]
    kept = sum(1 for r in history[-1].subtasks if r.status.value == "approved")
    print("2 processes × 50 decisions on one plan")
    row("decisions kept", f"{kept}/100")
    row("duplicate revision numbers", len(revisions) - len(set(revisions)))
    row("plan decided (plan wait returns)", protocol.is_plan_decided(history[-1]))


# --------------------------------------------------------------------------- injection


CORPUS = [
    "\x1b]0;PWNED-TITLE\x07",
    "\x1b]2;PWNED\x1b\\",
    "\x1b[2J\x1b[H",
    "\x9b2J",
    "\x9d0;PWNED\x9c",
    "\x1bP+q544e\x1b\\",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
    "\x07\x08\x0b\x0c\r\x00\x7f",
    "abc\u202eevil\u2066",
    "\x1bc",
]
_RAW = re.compile(rb"\x1b|\xc2[\x80-\x9f]|[\x00-\x08\x0b-\x1f\x7f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _cli(project: Path, *argv: str) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "conductor_tui", *argv, "--project", str(project)],
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
        cwd=str(ROOT),
        timeout=120,
    )
    return proc.stdout + proc.stderr


def probe_injection(tmp: Path) -> None:
    project = tmp / "inject"
    store = ProjectStore(project)
    hostile = "".join(CORPUS)
    plan = WorkflowPlan(
        meta_task="meta " + hostile,
        subtasks=[
            PlanRow(id=f"r{i}", description=f"row {i} {s}", handler="h" + s) for i, s in enumerate(CORPUS)
        ],
    )
    written = protocol.submit_plan(project, plan, session="s")
    req = protocol.request_run(project, "echo" + CORPUS[0], "in")
    protocol.post_result(project, req.id, "completed", by="cockpit", output=hostile)
    for s in CORPUS:
        store.append_routing(
            RoutingDecision(task_type="tt" + s, routed_to="e" + s, ensemble="e" + s, total_tokens_local=5)
        )
    outputs = {
        "plan show": _cli(project, "plan", "show", written.id),
        "plan list": _cli(project, "plan", "list"),
        "request-result": _cli(project, "request-result", req.id),
        "report": _cli(project, "report"),
    }
    print(f"injection corpus ({len(CORPUS)} sequences in plan rows, model output, task types, names)")
    total = 0
    for name, data in outputs.items():
        n = len(_RAW.findall(data))
        total += n
        row(f"escapes reaching the terminal: {name}", n, f"({len(data):,} bytes)")
    row("escapes reaching the terminal: total", total)


# --------------------------------------------------------------------------- bombs

_BOMB_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
kind, path = sys.argv[2], sys.argv[3]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
outcome = "accepted"
try:
    if kind == "json":
        from conductor_tui.core.records import RoutingDecision
        from conductor_tui.core.store import read_jsonl
        res = read_jsonl(path, RoutingDecision)
        outcome = f"refused: line {res.skipped[0]} skipped ({res.errors[0][1][:40]})" if res.skipped else "accepted"
    elif kind == "report":
        from conductor_tui import cli
        import io, contextlib
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = cli.main(["report", "--project", path, "--json"])
        outcome = f"report exit {code}, skipped lines {json.loads(buf.getvalue())['skipped_lines']}"
    else:
        from conductor_tui.engine.loader import load_catalog
        cat = load_catalog(path, with_profiles=False)
        bad = cat.invalid[0].problems[0] if cat.invalid else None
        ok = sorted(cat.entries)
        outcome = f"refused ({bad.message[:38]}, line {bad.line}); still loaded: {ok}" if bad else "accepted"
except BaseException as exc:
    outcome = f"CRASH {type(exc).__name__}"
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# (ru_maxrss survives fork+exec on Linux, so only the growth inside this process is meaningful)
print(json.dumps({"outcome": outcome, "seconds": elapsed, "mb": (peak - before) / 1024, "peak_mb": peak / 1024}))
"""

ALIAS_BOMB = (
    "name: bomb\ndescription: x\nagents:\n  - name: a\n    model: m\noptions:\n"
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"  {c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)
GOOD = "name: good\ndescription: fine\nagents:\n  - name: a\n    model: qwen3:1.7b\n    provider: ollama\n"


def _bomb(kind: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _BOMB_CHILD, str(ROOT), kind, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {
            "outcome": f"CRASH rc={proc.returncode} {proc.stderr[-120:]!r}",
            "seconds": 0,
            "mb": 0,
            "peak_mb": 0,
        }


def probe_bombs(tmp: Path, max_s: float, max_mb: float) -> None:
    jsonl = tmp / "nested.jsonl"
    jsonl.write_bytes(b'{"task_type": "a"}\n' + b"[" * 100_000 + b"\n" + b'{"task_type": "b"}\n')
    report_project = tmp / "bomb-report"
    store = ProjectStore(report_project)
    store.append_routing(RoutingDecision(task_type="a", routed_to="e", total_tokens_local=1))
    with open(store.routing_log_path, "ab") as fh:
        fh.write(b"[" * 100_000 + b"\n")
    deep = tmp / "deep"
    (deep / ".llm-orc" / "ensembles").mkdir(parents=True)
    (deep / ".llm-orc" / "ensembles" / "good.yaml").write_text(GOOD)
    (deep / ".llm-orc" / "ensembles" / "deep.yaml").write_text(
        "name: deep\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"
    )
    alias = tmp / "alias"
    (alias / ".llm-orc" / "ensembles").mkdir(parents=True)
    (alias / ".llm-orc" / "ensembles" / "good.yaml").write_text(GOOD)
    (alias / ".llm-orc" / "ensembles" / "bomb.yaml").write_text(ALIAS_BOMB)
    print(f"bomb files (each in a fresh process; limits: < {max_s:g} s, < {max_mb:g} MB extra)")
    for label, kind, path in (
        ("nested JSON line ([ × 100k), read_jsonl", "json", jsonl),
        ("nested JSON line in the routing log, report", "report", report_project),
        ("nested YAML ensemble ([ × 100k)", "yaml", deep),
        ("YAML alias bomb (9 levels × 9 aliases)", "yaml", alias),
    ):
        r = _bomb(kind, path)
        ok = "CRASH" not in r["outcome"] and r["seconds"] < max_s and r["mb"] < max_mb
        row(
            label,
            "ok" if ok else "FAIL",
            f"{r['seconds']:.3f} s, +{r['mb']:.1f} MB — {r['outcome']}",
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="kills per probe (default 20)")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--appends", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=2.0, help="bomb refusal time limit")
    ap.add_argument("--max-mb", type=float, default=64.0, help="bomb refusal memory limit")
    args = ap.parse_args()
    random.seed(11)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conductor-chaos-") as d:
        tmp = Path(d)
        probe_writers(tmp, args.writers, args.appends)
        probe_kill_appends(tmp, args.rounds)
        probe_kill_config(tmp, args.rounds)
        probe_requests(tmp)
        probe_decisions(tmp)
        probe_injection(tmp)
        probe_bombs(tmp, args.max_seconds, args.max_mb)
    print(
        f"done in {time.perf_counter() - started:.0f} s (peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
