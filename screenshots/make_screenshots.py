"""Regenerate the cockpit's screenshots (home, plan, run, help) with fixed sample data.

    python screenshots/make_screenshots.py            # writes screenshots/*.svg

The evaluate / lifecycle / models / savings screens have their own script
(``make_review_screenshots.py``).

Runs each screen under ``App.run_test`` against the fake Ollama (real HTTP) with a
fixed clock and GPU, in a temporary $HOME so nothing of yours shows up.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent
SIZE = (120, 36)
SMALL = (80, 24)  # one screen at the smallest size the cockpit supports
sys.path.insert(0, str(ROOT))


async def shoot(name: str, app, before, size: tuple[int, int] = SIZE) -> None:
    async with app.run_test(size=size) as pilot:
        await before(pilot)
        await pilot.pause()
        app.save_screenshot(f"{name}.svg", path=str(OUT))
    print(f"screenshots/{name}.svg")


async def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="cockpit-shots-"))
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    for var in ("OLLAMA_HOST", "LLM_ORC_LIBRARY_PATH", "ANTHROPIC_API_KEY"):
        os.environ.pop(var, None)

    from conductor_tui.ui.app import make_app
    from tests.fakes.gpu import FakeGpuProbe
    from tests.fakes.ollama_server import FakeOllama
    from tests.ui.conftest import DOWN, settle
    from tests.ui.sample import fixed_clock, make_project, mixed_plan
    from tests.ui.test_snapshots import run_app

    def cockpit(project: Path, **options):
        options.setdefault("gpu_probe", FakeGpuProbe())
        options.setdefault("clock", fixed_clock)
        options.setdefault("poll_interval", 0)
        options.setdefault("rng", lambda: 0.99)
        options.setdefault("ollama_host", "http://127.0.0.1:9")
        return make_app(project, **options)

    empty = home / "new-project"
    empty.mkdir()
    project = make_project(home / "promotion-service", plan=mixed_plan())

    with FakeOllama() as fake:
        fake.preload("qwen3:1.7b")
        app = cockpit(empty, gpu_probe=FakeGpuProbe.none())
        await shoot("home-empty-project", app, lambda pilot: settle(pilot, app, status=DOWN))

        app = cockpit(project, ollama_host=fake.url)

        async def plan_before(pilot):
            await settle(pilot, app)
            await pilot.press("a", "x", "down")

        await shoot("plan", app, plan_before)

        app = cockpit(project, ollama_host=fake.url)

        async def picker_before(pilot):
            await settle(pilot, app)
            await pilot.press("down", "down", "o")
            await pilot.pause()

        await shoot("plan-override-picker", app, picker_before)

        app = cockpit(project)
        await shoot("plan-ollama-down", app, lambda pilot: settle(pilot, app, status=DOWN))

        for outcome, selected, name in (
            ("running", "merge", "run-in-progress"),
            ("completed", "skim-a", "run-finished"),
            ("failed", "merge", "run-failed"),
        ):
            app, before = run_app(cockpit, project, fake, outcome, selected)
            await shoot(name, app, before)

        app = cockpit(project)

        async def help_before(pilot):
            await settle(pilot, app, status=DOWN)
            await pilot.press("f1")

        await shoot("help", app, help_before)

        # 80×24: the plan keeps #, subtask, handler, phase and status; the rest moves to
        # the line under the table
        app = cockpit(project, ollama_host=fake.url)

        async def small_before(pilot):
            await settle(pilot, app)
            await pilot.press("a", "down", "down", "down")

        await shoot("plan-80x24", app, small_before, SMALL)

    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
