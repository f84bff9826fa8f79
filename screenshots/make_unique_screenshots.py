"""Screenshots of the answers no peer gives (judge agreement, training-data export, traceable
savings, capacity-aware routing) on
generated logs whose answers are known (tests/core/unique_logs.py).

    python screenshots/make_unique_screenshots.py      # writes screenshots/unique-*.svg

Fixed clock, fake GPU, no Ollama (a closed port), a temporary $HOME.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent
SIZE = (140, 40)
sys.path.insert(0, str(ROOT))


async def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="unique-shots-"))
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    for var in ("OLLAMA_HOST", "LLM_ORC_LIBRARY_PATH", "ANTHROPIC_API_KEY"):
        os.environ.pop(var, None)

    from textual.widgets import DataTable

    from conductor_tui.ui.app import make_app
    from tests.core.unique_logs import write_project
    from tests.ui.review_support import services_for, settle

    def app_for(mode: str):
        base = Path(tempfile.mkdtemp(dir=home))
        project, other = base / "shop-api", base / "other"
        project.mkdir()
        other.mkdir()
        write_project(project, other)
        return make_app(services=services_for(project, home), initial_mode=mode)

    async def shoot(name: str, app, before) -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await before(pilot)
            await settle(pilot)
            app.save_screenshot(f"{name}.svg", path=str(OUT))
        print(f"screenshots/{name}.svg")

    async def judged(pilot):
        screen = pilot.app.screen
        ids = [i.routing_id for i in screen.items]
        screen.query_one("#ev-queue", DataTable).move_cursor(row=ids.index("rd-ex6"))

    async def lora(pilot):
        screen = pilot.app.screen
        keys = [r.key for r in screen.rows]
        screen.query_one("#lc-table", DataTable).move_cursor(row=keys.index("test-generation::gen-tests"))
        await settle(pilot)
        await pilot.press("x")

    async def drill(pilot):
        screen = pilot.app.screen
        table = screen.query_one("#sv-by-tt", DataTable)
        keys = [k.value for k in table.rows]
        table.focus()
        table.move_cursor(row=keys.index("extraction"))
        await pilot.press("D")

    async def capacity(pilot):
        await pilot.press("down")  # #2 summarize-files: gemma3:1b partly in system RAM

    from tests.fakes.gpu import FakeGpuProbe
    from tests.fakes.ollama_server import FakeOllama
    from tests.ui.sample import fixed_clock, make_project, mixed_plan

    with FakeOllama() as fake:  # the real client against the protocol-faithful fake, really loaded
        fake.preload("gemma3:1b")
        project = make_project(Path(tempfile.mkdtemp(dir=home)) / "promotion-service", plan=mixed_plan())
        app = make_app(
            project,
            ollama_host=fake.url,
            gpu_probe=FakeGpuProbe(),
            clock=fixed_clock,
            poll_interval=0,
            rng=lambda: 0.99,
        )
        await shoot("unique-plan-capacity", app, capacity)

    await shoot("unique-evaluate-agreement", app_for("evaluate"), judged)
    await shoot("unique-lifecycle-export", app_for("lifecycle"), lora)
    await shoot("unique-savings-drilldown", app_for("savings"), drill)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
