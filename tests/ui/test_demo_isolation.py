"""``conductor-tui demo`` never writes outside its temporary copy (issue 12): promoting an
ensemble to the "global" tier in the demo lands in the copy, not in ~/.config/llm-orc."""

from __future__ import annotations

import os
from pathlib import Path

from conductor_tui.commands.demo import DEMO_ENV_DIRS, build_demo_app, isolated_demo
from conductor_tui.core import locations
from conductor_tui.demo import copy_sample_project
from conductor_tui.ui.widgets.config_dialogs import ActionConfirm
from tests.fakes.gpu import FakeGpuProbe
from tests.ui.review_support import SIZE, settle


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_promoting_in_the_demo_leaves_the_real_global_tier_untouched(tmp_path: Path) -> None:
    real_global = locations.global_llm_orc_dir()  # the (test) user's ~/.config/llm-orc
    (real_global / "ensembles").mkdir(parents=True)
    (real_global / "ensembles" / "mine.yaml").write_text("name: mine\ndescription: the user's own\n")
    before = _tree(real_global.parent)
    env_before = {name: os.environ.get(name) for name in DEMO_ENV_DIRS}

    project = copy_sample_project(tmp_path / "demo")
    from tests.ui.test_review_pilot import _earn_trust

    _earn_trust(project, "extract-code-patterns", 9)  # promotion needs Trust (> 20 uses)
    with isolated_demo(project) as env:
        demo_global = locations.global_llm_orc_dir()
        assert demo_global.is_relative_to(project.parent)
        assert locations.library_dir() is not None and locations.library_dir().is_relative_to(project.parent)
        app = build_demo_app(
            project, poll_interval=0, ollama_host="http://127.0.0.1:9", gpu_probe=FakeGpuProbe.none()
        )
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await app.switch_mode("lifecycle")
            await settle(pilot)
            assert app.screen.current.ensemble == "extract-code-patterns"  # promotion-ready
            await pilot.press("g")
            await settle(pilot)
            assert isinstance(app.screen, ActionConfirm)
            await pilot.click("#cp-ok")
            await settle(pilot)
            app.exit()
        promoted = demo_global / "ensembles" / "extract-code-patterns.yaml"
        assert promoted.is_file(), "the promotion happened — inside the demo copy"
        assert all(Path(p).is_relative_to(project.parent) for p in env.values())

    assert _tree(real_global.parent) == before  # nothing added, changed or removed
    assert not (real_global / "ensembles" / "extract-code-patterns.yaml").exists()
    assert {name: os.environ.get(name) for name in DEMO_ENV_DIRS} == env_before  # restored
