"""Real-model figures: SmolLM2-135M on llama-cpp-python's OpenAI-compatible server.

Prints, for a 3-agent chain and a 4-way fan-out (through conductor-tui's executor and the official
``openai`` client): generation tokens/s, time to first token, and the engine's overhead over the
server's own work — the run's wall time minus the time at least one request was in flight (each
request's interval is what the client measured from sending it to its last byte).

    python benchmarks/bench_realmodel.py                 # starts the server itself (needs .[realmodel])
    python benchmarks/bench_realmodel.py --base-url http://127.0.0.1:8080/v1 --model smollm2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor_tui.core.spec import Profile  # noqa: E402
from conductor_tui.engine.events import AgentFinished, AgentStarted, TextDelta  # noqa: E402
from conductor_tui.engine.executor import EngineSettings, Executor  # noqa: E402
from conductor_tui.engine.loader import ProfileSet, parse_ensemble  # noqa: E402

MAX_TOKENS = 48


def ensembles(model_profile: str) -> dict:
    items = json.dumps(["apples", "rivers", "mountains", "clocks"])
    return {
        "chain": parse_ensemble(
            {
                "name": "chain",
                "description": "three steps",
                "agents": [
                    {"name": "a", "model_profile": model_profile, "max_tokens": MAX_TOKENS},
                    {
                        "name": "b",
                        "model_profile": model_profile,
                        "max_tokens": MAX_TOKENS,
                        "depends_on": ["a"],
                    },
                    {
                        "name": "c",
                        "model_profile": model_profile,
                        "max_tokens": MAX_TOKENS,
                        "depends_on": ["b"],
                    },
                ],
            }
        ),
        "fan-out": parse_ensemble(
            {
                "name": "fan-out",
                "description": "one call per item",
                "agents": [
                    {"name": "items", "script": f"echo '{items}'"},
                    {
                        "name": "each",
                        "model_profile": model_profile,
                        "max_tokens": MAX_TOKENS,
                        "depends_on": ["items"],
                        "fan_out": True,
                    },
                ],
            }
        ),
    }


def union_ms(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total * 1000


async def run_once(spec, profiles: ProfileSet, project: Path) -> dict:
    events: list = []
    ex = Executor(project=project, profiles=profiles, settings=EngineSettings(), write_artifacts=False)
    t0 = time.perf_counter()
    result = await ex.run(spec, "Write one short sentence about the topic.", on_event=events.append)
    wall_ms = (time.perf_counter() - t0) * 1000
    if result.status != "completed":
        raise SystemExit(f"run {result.status}: {result.error or [r.error for r in result.failed_agents]}")
    started: dict[str, float] = {}
    first: dict[str, float] = {}
    busy: list[tuple[float, float]] = []
    rates, ttfts, tokens = [], [], 0
    for e in events:
        if isinstance(e, AgentStarted) and e.model:
            started[e.agent] = e.t
        elif isinstance(e, TextDelta) and not e.thinking and e.agent not in first:
            first[e.agent] = e.t
        elif isinstance(e, AgentFinished) and e.agent in started and e.usage is not None:
            u = e.usage
            busy.append((e.t - u.duration_ms / 1000, e.t))
            if u.tokens_per_second:
                rates.append(u.tokens_per_second)
            tokens += u.output_tokens
            if e.agent in first:
                ttfts.append((first[e.agent] - started[e.agent]) * 1000)
    server_ms = union_ms(busy)
    return {
        "wall_ms": wall_ms,
        "server_ms": server_ms,
        "overhead_ms": wall_ms - server_ms,
        "tok_s": statistics.mean(rates) if rates else 0.0,
        "ttft_ms": statistics.mean(ttfts) if ttfts else 0.0,
        "tokens": tokens,
        "calls": len(busy),
    }


async def bench(base_url: str, model: str, repeats: int) -> None:
    profiles = ProfileSet()
    profiles.profiles["smol"] = Profile.from_mapping(
        "smol", {"model": model, "provider": "llama-server", "base_url": base_url, "temperature": 0.0}, None
    )
    specs = ensembles("smol")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        await run_once(specs["chain"], profiles, project)  # warm-up: loads, caches the prompt prefix
        print(f"server {base_url} model {model}, max_tokens {MAX_TOKENS}, {repeats} runs each (median)")
        print(
            f"{'ensemble':<9} {'calls':>5} {'tokens':>6} {'wall ms':>8} {'server ms':>9} "
            f"{'overhead ms':>11} {'overhead':>8} {'tok/s':>6} {'TTFT ms':>8}"
        )
        for name, spec in specs.items():
            runs = [await run_once(spec, profiles, project) for _ in range(repeats)]

            def med(key: str, runs=runs) -> float:
                return statistics.median(r[key] for r in runs)

            wall, server, over = med("wall_ms"), med("server_ms"), med("overhead_ms")
            print(
                f"{name:<9} {runs[0]['calls']:>5} {med('tokens'):>6.0f} {wall:>8.0f} {server:>9.0f} "
                f"{over:>11.1f} {over / wall * 100:>7.1f}% {med('tok_s'):>6.1f} {med('ttft_ms'):>8.0f}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", help="a running OpenAI-compatible server (default: start llama_cpp.server)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.base_url:
        asyncio.run(bench(args.base_url, args.model, args.repeats))
        return 0
    from tests.realmodel.conftest import MODEL_ALIAS, missing_packages, serve

    reason = missing_packages()
    if reason:
        print(f"cannot start the real model: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as server:
        asyncio.run(bench(server.url, MODEL_ALIAS, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
