"""Ollama provider + fake server figures (prints, asserts nothing).

    python benchmarks/bench_ollama.py

1. 8 concurrent streams x 150 tok/s x 300 tokens (DESIGN §7 streaming budget): achieved tok/s per
   stream and wall time vs the ideal 2.0 s — shows the provider + fake keep pace.
2. Raw throughput: one and eight unpaced streams (tokens_per_second very high) — chunks/s the
   OllamaProvider can consume through the official client (the per-chunk overhead ceiling).
3. status() latency (version + tags + ps).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conductor_tui.providers.ollama import ChatChunk, ChatUsage, OllamaProvider
from tests.fakes.ollama_server import FakeModel, FakeOllama

MESSAGES = [{"role": "user", "content": "Describe the plan."}]


async def _stream(provider: OllamaProvider, model: str) -> tuple[int, ChatUsage, float, list[float]]:
    start = time.perf_counter()
    gaps: list[float] = []
    last = start
    chunks = 0
    usage = None
    async for item in provider.chat_stream(model, MESSAGES):
        now = time.perf_counter()
        if isinstance(item, ChatChunk):
            chunks += 1
            gaps.append(now - last)
            last = now
        else:
            usage = item
    assert usage is not None
    return chunks, usage, time.perf_counter() - start, gaps


async def paced() -> None:
    reply = " ".join(f"t{i}" for i in range(300))
    model = FakeModel("agent:1b", reply=reply, tokens_per_second=150.0, parallel=8)
    with FakeOllama([model]) as fake:
        provider = OllamaProvider(fake.url)
        start = time.perf_counter()
        results = await asyncio.gather(*(_stream(provider, "agent:1b") for _ in range(8)))
        wall = time.perf_counter() - start
        await provider.aclose()
    rates = [u.tokens_per_second for _, u, _, _ in results]
    gaps = sorted(g for *_, gs in results for g in gs[1:])
    p99 = gaps[int(len(gaps) * 0.99)] * 1000
    print("8 streams x 150 tok/s x 300 tokens (ideal wall 2.00 s)")
    print(
        f"  wall {wall:.2f} s; reported tok/s per stream min {min(rates):.1f} / median {statistics.median(rates):.1f}"
    )
    print(
        f"  inter-chunk gap at the client: median {statistics.median(gaps) * 1000:.2f} ms, p99 {p99:.2f} ms"
    )


async def unpaced() -> None:
    reply = " ".join(f"t{i}" for i in range(5000))
    model = FakeModel("fast:1b", reply=reply, tokens_per_second=1e9, parallel=8)
    with FakeOllama([model]) as fake:
        provider = OllamaProvider(fake.url)
        for n in (1, 8):
            start = time.perf_counter()
            results = await asyncio.gather(*(_stream(provider, "fast:1b") for _ in range(n)))
            wall = time.perf_counter() - start
            total = sum(c for c, *_ in results)
            print(f"unpaced, {n} stream(s): {total} chunks in {wall:.2f} s = {total / wall:,.0f} chunks/s")
        start = time.perf_counter()
        for _ in range(20):
            await provider.status()
        print(f"status() (version+tags+ps): {(time.perf_counter() - start) / 20 * 1000:.1f} ms")
        await provider.aclose()


def main() -> None:
    asyncio.run(paced())
    asyncio.run(unpaced())


if __name__ == "__main__":
    main()
