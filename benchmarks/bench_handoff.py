"""Handoff latency: how fast the session's verbs answer and see the cockpit's decisions.

    python benchmarks/bench_handoff.py

Prints: CLI start-up for a verb (`plan list`), decision → `plan wait` returning (the session
sees the person's decision), and `request-run` → claimed by a CockpitLink polling every 0.1 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conductor_tui.core.records import PlanRow, WorkflowPlan
from conductor_tui.handoff import CockpitLink, decide_rows, submit_plan

CLI = [sys.executable, "-m", "conductor_tui"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / ".llm-orc").mkdir()
        env = {**os.environ, "HOME": tmp, "XDG_CONFIG_HOME": f"{tmp}/.config"}

        starts = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(
                [*CLI, "plan", "list", "--json"], cwd=project, env=env, check=True, capture_output=True
            )
            starts.append(time.perf_counter() - t0)
        print(f"CLI verb start-up (plan list): median {statistics.median(starts) * 1000:.0f} ms")

        lat = []
        for _ in range(5):
            plan = submit_plan(
                project, WorkflowPlan(subtasks=[PlanRow(id="a", description="x")]), session="b"
            )
            proc = subprocess.Popen(
                [*CLI, "plan", "wait", plan.id, "--json", "--timeout", "30"],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.0)  # let it start and block
            t0 = time.perf_counter()
            decide_rows(project, plan.id, {"a": "approved"})
            out, _ = proc.communicate(timeout=30)
            lat.append(time.perf_counter() - t0)
            assert json.loads(out)["decided"]
        print(f"decision → plan wait returns: median {statistics.median(lat) * 1000:.0f} ms (poll 100 ms)")

        link = CockpitLink(project)
        link.tick()
        claims = []
        for _ in range(5):
            proc = subprocess.Popen(
                [*CLI, "request-run", "e", "--input", "x", "--json"],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            t0 = time.perf_counter()
            while not link.tick().requests:
                time.sleep(0.1)
            claims.append(time.perf_counter() - t0)
            proc.communicate(timeout=30)
        link.close()
        print(
            f"request-run spawn → claimed by the cockpit: median {statistics.median(claims) * 1000:.0f} ms "
            "(includes CLI start-up)"
        )


if __name__ == "__main__":
    main()
