"""Screen keys and the command palette: key → painted, for every screen (issue 12).

    python benchmarks/bench_screens.py [--size 120x36] [--lines 100000] [--rounds 3]

Two projects: the demo (a copy of the bundled sample) and the demo with a routing log of
``--lines`` lines (``gen_routing_log.py``'s generator, ~35 MB for 100,000 lines).  For each,
one headless cockpit (Textual's Pilot, one status poll, Ollama on a closed port) and, per key:

* **painted**: the key is pressed → the first frame of the target screen is written to the
  display (``App._display`` with that screen outside a batch update, layout and render done;
  a frame rendered inside a batch, e.g. during Textual's 50 ms ``delay_update`` after a mode
  switch, is dropped by Textual and does not count).  A screen may paint
  a loading state first; its data arrives from a thread worker.
* **data**: the key → every worker started for that screen has finished (the data shown).
* **cpu**: the UI thread's CPU time from the key to that first frame (``time.thread_time``):
  what the paint costs, independent of what else loads the machine (wall time is what a
  person waits; on a shared, loaded machine it is several times the CPU time).

The first visit of each screen and later visits (``--rounds``) are reported separately; the
cockpit builds every screen while idle once the first one is painted, and the first visits
are pressed after that (the time it took after launch is printed); the palette (``ctrl+p``) is opened on the Plan screen, painted = the
palette's first frame, listed = its command list filled.  Figures in ms; budget 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = [
    ("p", "plan"),
    ("r", "run"),
    ("e", "evaluate"),
    ("l", "lifecycle"),
    ("m", "models"),
    ("s", "savings"),
    ("w", "home"),
]


def make_projects(base: Path, lines: int) -> list[tuple[str, Path]]:
    from conductor_tui.demo import copy_sample_project

    demo = copy_sample_project(base / "demo")
    big = copy_sample_project(base / "big")
    if lines:
        import subprocess

        evaluations = big / ".llm-orc" / "evaluations"
        generated = base / "generated"
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "gen_routing_log.py"), "--lines", str(lines),
             "--evaluations", str(max(1, lines // 50)), "--out", str(generated)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        for name in ("routing-log.jsonl", "evaluations.jsonl"):
            with (evaluations / name).open("ab") as out, (generated / name).open("rb") as src:
                out.write(src.read())
    return [("demo", demo), (f"demo + {lines:,}-line log", big)]


async def measure(
    project: Path, size: tuple[int, int], rounds: int, *, warm: bool = True
) -> dict[str, dict[str, list[float]]]:
    from textual.worker import WorkerState

    from conductor_tui.ui.app import make_app
    from tests.fakes.gpu import FakeGpuProbe

    app = make_app(
        project,
        ollama_host="http://127.0.0.1:9",
        poll_interval=3600,  # live (warm-up on) but no repeated polls during the measurement
        handoff=False,
        gpu_probe=FakeGpuProbe(),
        settings_path=project.parent / "settings.json",
        initial_mode="home",
    )
    frames: list[tuple[float, float, object]] = []
    display = app._display

    def timed_display(screen, renderable):
        if renderable is not None and not app._batch_count:  # in a batch Textual drops the frame
            frames.append((time.perf_counter(), time.thread_time(), screen))
        return display(screen, renderable)

    app._display = timed_display  # type: ignore[method-assign]
    if not warm:  # the app without its warm-up (screen imports + CSS parsed while idle)
        app._warm_screens = lambda: None  # type: ignore[method-assign]
    results: dict[str, dict[str, list[float]]] = {}

    async def idle() -> None:
        for _ in range(200):
            busy = [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
            if not busy:
                break
            await asyncio.gather(*(w.wait() for w in busy), return_exceptions=True)
        await asyncio.sleep(0.05)

    async def press(pilot, key: str, done) -> tuple[float, float, float]:
        frames.clear()
        before = set(app.workers)
        t0, c0 = time.perf_counter(), time.thread_time()
        task = asyncio.create_task(pilot.press(key))
        painted = None
        while painted is None:
            await asyncio.sleep(0.001)  # (a sleep(0) spin would starve Textual's refresh)
            screen = done()
            if screen is not None:
                painted = next(((t, c) for t, c, s in frames if s is screen), None)
            if time.perf_counter() - t0 > 10:
                raise RuntimeError(f"{key}: nothing painted in 10 s")
        await task
        new = [w for w in app.workers if w not in before]
        await asyncio.gather(*(w.wait() for w in new), return_exceptions=True)
        data = time.perf_counter()
        return (painted[0] - t0) * 1000, (data - t0) * 1000, (painted[1] - c0) * 1000

    launched = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        await asyncio.sleep(0.6)  # the app's background start (catalog, screen warm-up) begins
        await idle()
        for _ in range(1000):  # the warm-up's idle CSS steps, then the screens built while idle
            if app.prebuilt or not warm:
                break
            await asyncio.sleep(0.01)
        results["_prebuilt"] = {"ms": [(time.perf_counter() - launched) * 1000]}
        await idle()
        for round_ in range(rounds + 1):
            visit = "first" if round_ == 0 else "again"
            for key, mode in KEYS:

                def target(mode=mode):
                    return app.screen if app.current_mode == mode else None

                painted, data, cpu = await press(pilot, key, target)
                entry = results.setdefault(f"{key} {mode}", {})
                entry.setdefault(f"{visit} painted", []).append(painted)
                entry.setdefault(f"{visit} data", []).append(data)
                entry.setdefault(f"{visit} cpu", []).append(cpu)
                await idle()
            # the command palette, from the Plan screen
            await app.switch_mode("plan")
            await idle()
            from textual.command import CommandPalette

            def palette():
                return app.screen if isinstance(app.screen, CommandPalette) else None

            painted, _, cpu = await press(pilot, "ctrl+p", palette)
            t0 = time.perf_counter() - painted / 1000
            listed = None
            for _ in range(2000):
                screen = app.screen
                if isinstance(screen, CommandPalette):
                    try:
                        count = screen.query_one("CommandList").option_count
                    except Exception:
                        count = 0
                    if count:
                        listed = (time.perf_counter() - t0) * 1000
                        break
                await asyncio.sleep(0.001)
            entry = results.setdefault("ctrl+p palette", {})
            entry.setdefault(f"{visit} painted", []).append(painted)
            entry.setdefault(f"{visit} cpu", []).append(cpu)
            entry.setdefault(f"{visit} data", []).append(listed if listed is not None else float("nan"))
            await pilot.press("escape")
            await app.switch_mode("home")  # the next round starts elsewhere than Plan
            await idle()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="120x36")
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="later visits per key")
    ap.add_argument("--compare-warm", action="store_true", help="also run the demo without the warm-up")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    base = Path(tempfile.mkdtemp(prefix="bench-screens-"))
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")  # never the user's own folders
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    os.environ.pop("ANTHROPIC_API_KEY", None)
    runs = [(label, project, True) for label, project in make_projects(base, args.lines)]
    if args.compare_warm:
        runs.insert(1, (runs[0][0] + ", without the warm-up", runs[0][1], False))
    for label, project, warm in runs:
        results = asyncio.run(measure(project, (width, height), args.rounds, warm=warm))
        prebuilt = results.pop("_prebuilt")["ms"][0]
        print(
            f"\n{label}  ({width}×{height}, ms; first visit | later visits: median / max; "
            f"load {os.getloadavg()[0]:.1f})"
        )
        if warm:
            print(f"  every screen built while idle {prebuilt:.0f} ms after launch")
        print(
            f"  {'key':<16} {'painted 1st':>11} {'cpu 1st':>8} {'data 1st':>9}   "
            f"{'painted again':>15} {'cpu again':>10} {'data again':>13}"
        )
        for key, entry in results.items():
            again_p = entry.get("again painted", [])
            again_c = entry.get("again cpu", [])
            again_d = entry.get("again data", [])
            line = (
                f"  {key:<16} {entry['first painted'][0]:>11.0f} {entry['first cpu'][0]:>8.0f} "
                f"{entry['first data'][0]:>9.0f}   "
            )
            if again_p:
                line += f"{statistics.median(again_p):>7.0f} / {max(again_p):<5.0f}"
                line += f"{statistics.median(again_c):>6.0f} / {max(again_c):<4.0f}"
                line += f"{statistics.median(again_d):>7.0f} / {max(again_d):<5.0f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
