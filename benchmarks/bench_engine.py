"""Engine overhead: wall time of an ensemble run against its critical path.

Runs ensembles of different shapes against the fake Ollama (real HTTP, real
NDJSON, fixed per-token latency) through conductor-tui's executor and prints
wall time, the critical path (the longest chain of agent times, each agent's
time measured by the server from request received to last byte), and the
overhead in percent. Target (DESIGN.md §7): within 5 % at any fan-out width up
to the Ollama slots available.

    python benchmarks/bench_engine.py                 # conductor-tui only
    python benchmarks/bench_engine.py --llm-orc /work/llmorc-venv/bin/python
        # also run the same ensembles with llm-orc (it talks to 127.0.0.1:11434
        # only, so the fake is served there for that comparison) and print the ratio

Shapes: ``fanout-N`` (a splitter emits N items, N instances run in parallel, a
merger joins), ``chain-6`` (six agents in sequence), ``skewed`` (a root, one slow
branch and a fast three-step branch, then a join: level-by-level scheduling pays
for the slow agent *and* the fast chain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from conductor_tui.engine.executor import EngineSettings, Executor  # noqa: E402
from conductor_tui.engine.loader import ProfileSet, parse_ensemble  # noqa: E402
from conductor_tui.providers.ollama import OllamaProvider  # noqa: E402
from tests.fakes.ollama_server import FakeModel, FakeOllama  # noqa: E402

TPS = 100.0  # 10 ms per token, fixed
WORDS = 30  # tokens per ordinary reply → ~0.3 s per agent


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def agent_of(body: dict) -> str:
    system = body["messages"][0]["content"]
    return system.removeprefix("agent:")


def reply_for(body: dict) -> str:
    name = agent_of(body)
    if name.startswith("split"):
        n = int(name.split("-")[1])
        return json.dumps([f"item {i}" for i in range(n)])
    if name == "slow":
        return words(WORDS * 4)
    return words(WORDS)


def agent(name: str, deps: list[str] | None = None, fan_out: bool = False) -> dict[str, Any]:
    a: dict[str, Any] = {
        "name": name,
        "model": "bench:1b",
        "provider": "ollama",
        "system_prompt": f"agent:{name}",
    }
    if deps:
        a["depends_on"] = deps
    if fan_out:
        a["fan_out"] = True
    return a


def shapes(widths: list[int]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for n in widths:
        out[f"fanout-{n}"] = {
            "name": f"fanout-{n}",
            "description": f"fan-out over {n} items",
            "agents": [agent(f"split-{n}"), agent("each", [f"split-{n}"], True), agent("merge", ["each"])],
        }
    out["chain-6"] = {
        "name": "chain-6",
        "description": "six agents in sequence",
        "agents": [agent("c0")] + [agent(f"c{i}", [f"c{i - 1}"]) for i in range(1, 6)],
    }
    out["skewed"] = {
        "name": "skewed",
        "description": "one slow branch, one fast chain",
        "agents": [
            agent("root"),
            agent("slow", ["root"]),
            agent("f1", ["root"]),
            agent("f2", ["f1"]),
            agent("f3", ["f2"]),
            agent("join", ["slow", "f3"]),
        ],
    }
    return out


def critical_path(spec: dict[str, Any], requests: list[dict]) -> float:
    """Longest chain of agent times; an agent's time is the server's request span
    (a fan-out agent's time is its slowest instance, as they run in parallel)."""
    span: dict[str, float] = {}
    for r in requests:
        if r.get("outcome") != "completed":
            continue
        name = agent_of(r["body"])
        span[name] = max(span.get(name, 0.0), r["t_end"] - r["t_received"])
    deps = {a["name"]: a.get("depends_on", []) for a in spec["agents"]}
    memo: dict[str, float] = {}

    def finish(n: str) -> float:
        if n not in memo:
            memo[n] = span.get(n, 0.0) + max((finish(d) for d in deps[n]), default=0.0)
        return memo[n]

    return max(finish(n) for n in deps)


def level_path(spec: dict[str, Any], requests: list[dict]) -> float:
    """What level-by-level scheduling would take: the sum over levels of the slowest agent."""
    span: dict[str, float] = {}
    for r in requests:
        if r.get("outcome") == "completed":
            name = agent_of(r["body"])
            span[name] = max(span.get(name, 0.0), r["t_end"] - r["t_received"])
    deps = {a["name"]: a.get("depends_on", []) for a in spec["agents"]}
    level: dict[str, int] = {}

    def lv(n: str) -> int:
        if n not in level:
            level[n] = 1 + max((lv(d) for d in deps[n]), default=-1)
        return level[n]

    by_level: dict[int, float] = {}
    for n in deps:
        by_level[lv(n)] = max(by_level.get(lv(n), 0.0), span.get(n, 0.0))
    return sum(by_level.values())


class ServerProcess:
    """The fake Ollama in its own process (like the real server: no GIL shared with the
    engine under test). ``requests()`` / ``clear()`` go over a pipe."""

    def __init__(self, slots: int, port: int = 0):
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, slots, port), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()

    def _ask(self, cmd: str) -> Any:
        self._conn.send(cmd)
        return self._conn.recv()

    def clear(self) -> None:
        self._ask("clear")

    def generation_requests(self) -> list[dict]:
        return self._ask("get")

    def stop(self) -> None:
        self._ask("stop")
        self._proc.join(5)


def _serve(conn: Any, slots: int, port: int) -> None:
    fake = FakeOllama(
        [FakeModel("bench:1b", reply=reply_for, tokens_per_second=TPS, parallel=slots)], port=port
    )
    fake.start()
    fake.preload("bench:1b")
    conn.send(fake.url)
    while True:
        cmd = conn.recv()
        if cmd == "clear":
            with fake._cond:
                fake.requests.clear()
            conn.send(True)
        elif cmd == "get":
            conn.send(fake.generation_requests())
        elif cmd == "stop":
            fake.stop()
            conn.send(True)
            return


async def run_ours(fake: ServerProcess, spec_dict: dict[str, Any]) -> tuple[float, list[dict]]:
    spec = parse_ensemble(spec_dict)
    provider = OllamaProvider(fake.url)
    try:
        ex = Executor(provider, profiles=ProfileSet(), settings=EngineSettings(), write_artifacts=False)
        # warm the connection pool and the model (not part of the measured run)
        await ex.run(parse_ensemble({"name": "warm", "description": "w", "agents": [agent("warm")]}), "")
        fake.clear()
        t0 = time.perf_counter()
        result = await ex.run(spec, "benchmark input")
        wall = time.perf_counter() - t0
        assert result.status == "completed", {n: r.error for n, r in result.agents.items()}
    finally:
        await provider.aclose()
    return wall, list(fake.generation_requests())


LLM_ORC_RUNNER = r"""
import asyncio, json, sys, time
from pathlib import Path
project = Path(sys.argv[1]); name = sys.argv[2]
from llm_orc.core.config.config_manager import ConfigurationManager
from llm_orc.core.config.ensemble_config import EnsembleLoader
from llm_orc.core.execution.executor_factory import ExecutorFactory
import inspect
cfg = EnsembleLoader().find_ensemble(str(project / ".llm-orc" / "ensembles"), name)
async def main():
    kwargs = {}
    sig = inspect.signature(ExecutorFactory.create_root_executor)
    if "project_dir" in sig.parameters:
        kwargs["project_dir"] = project
    ex = ExecutorFactory.create_root_executor(**kwargs)
    t0 = time.perf_counter()
    result = await ex.execute(cfg, "benchmark input")
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "status": result.get("status") if isinstance(result, dict) else str(result)}))
asyncio.run(main())
"""


def run_llm_orc(
    python: str, fake: ServerProcess, spec_dict: dict[str, Any], workdir: Path
) -> tuple[float, list[dict]]:
    project = workdir / spec_dict["name"]
    (project / ".llm-orc" / "ensembles").mkdir(parents=True, exist_ok=True)
    (project / ".llm-orc" / "ensembles" / f"{spec_dict['name']}.yaml").write_text(yaml.safe_dump(spec_dict))
    runner = workdir / "llmorc_runner.py"
    runner.write_text(LLM_ORC_RUNNER)
    fake.clear()
    env = {
        "HOME": str(workdir),
        "XDG_CONFIG_HOME": str(workdir / "xdg"),
        "PATH": "/usr/bin:/bin",
        "NO_PROXY": "*",
    }
    proc = subprocess.run(
        [python, str(runner), str(project), spec_dict["name"]],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(data["wall"]), list(fake.generation_requests())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="4,8,16,32", help="fan-out widths (default 4,8,16,32)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per shape (median reported)")
    ap.add_argument("--llm-orc", metavar="PYTHON", default=None, help="python of a venv with llm-orchestra")
    args = ap.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",") if w]
    slots = max(widths)
    all_shapes = shapes(widths)
    port = 11434 if args.llm_orc else 0

    rows = []
    fake = ServerProcess(slots, port)
    try:
        for name, spec in all_shapes.items():
            walls, cps, lvls = [], [], []
            for _ in range(args.repeat):
                wall, reqs = asyncio.run(run_ours(fake, spec))
                walls.append(wall)
                cps.append(critical_path(spec, reqs))
                lvls.append(level_path(spec, reqs))
            i = walls.index(statistics.median(walls))
            row = {"shape": name, "wall": walls[i], "cp": cps[i], "levels": lvls[i]}
            if args.llm_orc:
                with tempfile.TemporaryDirectory() as d:
                    lo = []
                    for _ in range(args.repeat):
                        w, reqs = run_llm_orc(args.llm_orc, fake, spec, Path(d))
                        lo.append((w, critical_path(spec, reqs)))
                    lo.sort()
                    row["llm_orc"], row["llm_orc_cp"] = lo[len(lo) // 2]
            rows.append(row)
    finally:
        fake.stop()

    print(
        f"fake Ollama: {TPS:.0f} tokens/s per request (10 ms/token), {slots} parallel slots; median of {args.repeat}"
    )
    head = f"{'shape':<10} {'wall s':>8} {'crit. path s':>13} {'overhead':>9} {'level-by-level s':>17}"
    if args.llm_orc:
        head += f" {'llm-orc s':>10} {'its overhead':>13} {'llm-orc/ours':>13}"
    print(head)
    for r in rows:
        over = (r["wall"] / r["cp"] - 1) * 100
        line = f"{r['shape']:<10} {r['wall']:>8.3f} {r['cp']:>13.3f} {over:>8.1f}% {r['levels']:>17.3f}"
        if "llm_orc" in r:
            lo_over = (r["llm_orc"] / r["llm_orc_cp"] - 1) * 100
            line += f" {r['llm_orc']:>10.3f} {lo_over:>12.1f}% {r['llm_orc'] / r['wall']:>12.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
