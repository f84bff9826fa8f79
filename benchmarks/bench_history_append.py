"""``build_history`` after lines were appended to a 1,000,000-line project, and the loop's
``record_evaluation`` on it: this checkout against an older one, each in a fresh process,
on one copy of the project (made in a temporary folder, removed after).

    python benchmarks/gen_routing_log.py          # once: the 1,000,000-line project
    python benchmarks/bench_history_append.py [--project DIR] [--against DIR | --old-ref REF]

``--against DIR``: the older checkout; otherwise ``git archive REF``
is unpacked into a temporary folder (default ``79a5af0``: the history read again whenever
a log changed). Each process prints, in seconds:

* cold: ``build_history`` with nothing remembered;
* +1 evaluation: after one evaluation line was appended (the remembered history goes on
  over it) — and "read again", the same files with the memo cleared (what the older code
  does whenever a log changed);
* +3 routing lines: the same after three routing decisions were appended;
* record_evaluation: ``Conductor(project).record_evaluation(...)`` of a run in the middle
  of the log that no evaluation named yet (the UI's and the CLI's call), the history
  remembered from before (the loop reads it before and after appending), twice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import json, sys, time
from pathlib import Path
import conductor_tui
from conductor_tui.core import history
from conductor_tui.core.history import build_history
from conductor_tui.core.loop import Conductor
from conductor_tui.core.store import ProjectStore

project, at = Path(sys.argv[1]), float(sys.argv[2])
store = ProjectStore(project)
out = {"code": str(Path(conductor_tui.__file__).parent.parent)}

def timed(name, fn):
    t = time.perf_counter()
    value = fn()
    out[name] = time.perf_counter() - t
    return value

def read_again(name):
    history._MEMO.clear()
    return timed(name, lambda: build_history(store))

def runs_near(frac, n):
    # local completed runs with ids, from the line after byte frac * size on
    found = []
    with open(store.routing_log_path, "rb") as fh:
        fh.seek(int(frac * Path(store.routing_log_path).stat().st_size))
        fh.readline()
        for raw in fh:
            rec = json.loads(raw)
            ens, rid = rec.get("ensemble"), rec.get("id")
            local = ens and not str(rec.get("routed_to", "")).startswith("claude")
            if local and rid and rec.get("status", "completed") == "completed" and not rec.get("event"):
                found.append((rid, ens))
                if len(found) == n:
                    return found
    return found

named = {json.loads(x).get("routing_id") for x in open(store.evaluations_path, "rb") if x.strip()}
(r1, e1), (r2, e2), (r3, e3) = [r for r in runs_near(at, 50) if r[0] not in named][:3]
timed("cold", lambda: build_history(store))
with open(store.evaluations_path, "a") as fh:
    fh.write(json.dumps({"id": f"ev-bench-{r1}", "routing_id": r1, "ensemble": e1, "score": "good",
                         "reasoning": "x", "evaluator": "human", "timestamp": "2026-01-01T00:00:00Z"}) + "\n")
after = timed("eval_append", lambda: build_history(store))
full = read_again("eval_full")
out["eval_same"] = after.evaluation_of.get(r1) is not None and all(
    (a.completed, a.phase(), len(a.evaluations)) == (b.completed, b.phase(), len(b.evaluations))
    for a, b in zip(after.ensembles.values(), full.ensembles.values(), strict=True))
with open(store.routing_log_path, "a") as fh:
    for i in range(3):
        fh.write(json.dumps({"id": f"rd-bench-{at}-{i}", "timestamp": "2026-01-01T00:00:00Z", "routed_to": e1,
                             "ensemble": e1, "task_type": "bench", "status": "completed"}) + "\n")
after = timed("routing_append", lambda: build_history(store))
full = read_again("routing_full")
out["routing_same"] = [(a.completed, a.phase()) for a in after.ensembles.values()] == [
    (b.completed, b.phase()) for b in full.ensembles.values()]
loop = Conductor(project, store=store)
timed("record_1", lambda: loop.record_evaluation(e2, "good", routing_id=r2, evaluator="human", reasoning="x"))
timed("record_2", lambda: loop.record_evaluation(e3, "good", routing_id=r3, evaluator="human", reasoning="x"))
print(json.dumps(out))
"""

ROWS = [
    ("cold", "cold build_history"),
    ("eval_append", "+1 evaluation"),
    ("eval_full", "+1 evaluation, read again"),
    ("routing_append", "+3 routing lines"),
    ("routing_full", "+3 routing lines, read again"),
    ("record_1", "record_evaluation (1st)"),
    ("record_2", "record_evaluation (2nd)"),
]


def _run(code: Path, project: Path, at: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(project), str(at)],
        cwd=code,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{code}: {out.stderr[-2000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(got["code"]).resolve() != code.resolve():
        raise SystemExit(f"ran {got['code']}, not {code}: install this checkout's package in editable mode")
    return got


def _copy(project: Path, into: Path) -> Path:
    src = project / ".llm-orc"
    dst = into / "project" / ".llm-orc"
    (dst / "evaluations").mkdir(parents=True)
    for name in ("routing-log.jsonl", "evaluations.jsonl", "routing-config.yaml"):
        if (src / "evaluations" / name).is_file():
            shutil.copy2(src / "evaluations" / name, dst / "evaluations" / name)
    if (src / "conductor").is_dir():
        shutil.copytree(src / "conductor", dst / "conductor")
    return dst.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, default=HERE / ".data" / "project")
    ap.add_argument("--against", type=Path, help="the older checkout")
    ap.add_argument(
        "--old-ref",
        default="79a5af0",
        help="git ref unpacked when --against is not given (before the history went on)",
    )
    args = ap.parse_args(argv)
    if not (args.project / ".llm-orc" / "evaluations" / "routing-log.jsonl").is_file():
        print("no routing log: run python benchmarks/gen_routing_log.py first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        old = args.against
        if old is None:
            old = Path(tmp) / "old"
            old.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.old_ref], cwd=ROOT, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        project = _copy(args.project, Path(tmp))
        got = {"old": _run(old.resolve(), project, 0.5), "new": _run(ROOT, project, 0.52)}
    lines = sum(1 for _ in open(args.project / ".llm-orc" / "evaluations" / "routing-log.jsonl", "rb"))
    print(f"build_history on a copy of {args.project} ({lines:,} routing lines); seconds, fresh processes")
    print(f"   {'':<30} {'old':>7} {'new':>7}  new/old")
    for key, label in ROWS:
        a, b = got["old"][key], got["new"][key]
        print(f"   {label:<30} {a:7.3f} {b:7.3f}  {b / a:6.3f}x")
    same = got["new"]["eval_same"] and got["new"]["routing_same"]
    print(f"   new: the continued history agrees with the one read again: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
