"""Extra screenshots of the issue-5 screens in their interesting states (demo data).

    python screenshots/make_review_screenshots.py      # writes screenshots/*.svg

``make_screenshots.py`` shoots every screen once; this adds the states worth seeing:
a judge verdict to agree with or override, a poor calibration score and its fallback,
the promotion confirmation, the GPU with history, the design-rejected task type and the
Savings dashboard with its wrap-up.  Fixed clock, fake GPU, fake Ollama (real HTTP),
a temporary $HOME.
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
sys.path.insert(0, str(ROOT))


async def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="review-shots-"))
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    for var in ("OLLAMA_HOST", "LLM_ORC_LIBRARY_PATH", "ANTHROPIC_API_KEY"):
        os.environ.pop(var, None)

    from textual.widgets import DataTable

    from conductor_tui.demo import copy_sample_project
    from conductor_tui.ui.app import make_app
    from tests.fakes.gpu import RTX_4090, FakeGpuProbe
    from tests.fakes.ollama_server import FakeModel, FakeOllama
    from tests.ui.review_support import services_for, settle, type_text

    def app_for(mode: str, **kw):
        project = copy_sample_project(Path(tempfile.mkdtemp(dir=home)))
        return make_app(services=services_for(project, home, **kw), initial_mode=mode)

    def pick(screen, table: str, predicate) -> None:
        items = getattr(screen, "items", None) or getattr(screen, "rows", [])
        screen.query_one(table, DataTable).move_cursor(
            row=next(i for i, it in enumerate(items) if predicate(it))
        )

    async def shoot(name: str, app, before) -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await before(pilot)
            await settle(pilot)
            app.save_screenshot(f"{name}.svg", path=str(OUT))
        print(f"screenshots/{name}.svg")

    async def judge(pilot):
        pick(pilot.app.screen, "#ev-queue", lambda it: it.judge is not None)

    async def poor(pilot):
        pick(pilot.app.screen, "#ev-queue", lambda it: it.ensemble == "fix-lint-violations")
        await settle(pilot)
        await pilot.click("#ev-reflect")
        await type_text(pilot, "Removed the unused import but left the E501 line as it was")
        await pilot.click("#ev-score-poor")
        await pilot.click("#ev-fail-incomplete")
        await pilot.press("ctrl+s")

    async def promote(pilot):
        await pilot.press("g")

    async def rejected(pilot):
        pick(pilot.app.screen, "#lc-table", lambda r: r.design_rejected)

    async def nothing(pilot):
        return None

    await shoot("evaluate-judge", app_for("evaluate"), judge)
    await shoot("evaluate-poor-fallback", app_for("evaluate"), poor)
    await shoot("lifecycle-promote", app_for("lifecycle"), promote)
    await shoot("lifecycle-design-rejected", app_for("lifecycle"), rejected)
    await shoot("savings", app_for("savings"), nothing)
    models = [
        FakeModel("qwen2.5-coder:7b", parameter_size="7.6B", size=4_700_000_000, size_vram=3_900_000_000),
        FakeModel("llama3.2:3b", parameter_size="3.2B", size=2_000_000_000),
        FakeModel("qwen3:0.6b", parameter_size="751M", size=520_000_000),
    ]
    frames = [[RTX_4090.__class__(RTX_4090.name, RTX_4090.memory_used, RTX_4090.memory_total, u, 50 + u / 10, )]
              for u in (12, 18, 35, 64, 88, 92, 71, 40, 37)]  # fmt: skip
    with FakeOllama(models) as fake:
        fake.preload("qwen2.5-coder:7b", keep_alive=-1)
        app = app_for("models", gpu=FakeGpuProbe(frames=frames), host=fake.url)

        async def history(pilot):
            for _ in range(len(frames) - 1):
                await pilot.press("ctrl+r")
                await settle(pilot)

        await shoot("models-gpu", app, history)
        await shoot("models-down", app_for("models", gpu=FakeGpuProbe.none()), nothing)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
