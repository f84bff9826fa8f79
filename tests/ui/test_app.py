"""The shell: modes and keys, palette, F1 help, header status, themes, empty state."""

from __future__ import annotations

import json
import subprocess
import sys

from conductor_tui.ui.app import ConductorApp
from conductor_tui.ui.screens.help import HelpScreen
from conductor_tui.ui.screens.plan import PlanScreen
from conductor_tui.ui.screens.welcome import WelcomeScreen
from conductor_tui.ui.widgets.status import MODE_KEYS, gpu_text, ollama_text
from tests.fakes.gpu import FakeGpuProbe
from tests.ui.conftest import settle


async def test_every_screen_has_a_key(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.current_mode == "plan"  # a project with .llm-orc/ opens on the plan
        for mode, key, _label in MODE_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode, key
            assert getattr(app.screen, "HELP", "")


async def test_palette_lists_screens_and_the_screens_actions(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app, poll=False)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for _mode, _key, label in MODE_KEYS:
            assert f"Go to {label}" in titles
        for action in (
            "Approve",
            "Reject",
            "Handler",
            "Edit",
            "Note",
            "Load",
            "New plan",
            "Theme",
            "Help",
        ):
            assert action in titles, action
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


async def test_f1_shows_the_current_screens_help(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "DAG" in app.screen.markdown and "| `a` | Approve |" in app.screen.markdown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)


async def test_header_shows_ollama_and_gpu(plan_project, cockpit, fake_ollama):
    fake_ollama.preload("qwen3:1.7b")
    app = cockpit(plan_project, ollama_host=fake_ollama.url)
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(pilot, app)
        ollama = str(app.screen.query_one("#sb-ollama").render())
        assert "● Ollama" in ollama and "3 models" in ollama and "qwen3:1.7b 100% GPU" in ollama
        gpu = str(app.screen.query_one("#sb-gpu").render())
        assert "RTX 4090 · VRAM 5.5/24.0 GB · 37% · 54°C" in gpu


async def test_ollama_down_and_no_llm_orc_explain_what_to_do(project_dir, cockpit, closed_port):
    app = cockpit(project_dir, ollama_host=f"http://127.0.0.1:{closed_port}", gpu_probe=FakeGpuProbe.none())
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, WelcomeScreen)
        ollama = str(screen.query_one("#welcome-ollama").render())
        assert f"Ollama is not running at 127.0.0.1:{closed_port}" in ollama and "ollama serve" in ollama
        assert "No .llm-orc/ here" in str(screen.query_one("#welcome-project").render())
        assert "starter kit" in str(screen.query_one("#welcome-ensembles").render())
        assert "No GPU detected" in str(screen.query_one("#welcome-gpu").render())
        assert "Ollama down" in str(screen.query_one("#sb-ollama").render())


async def test_starter_kit_installs_into_the_project(project_dir, cockpit):
    app = cockpit(project_dir)
    async with app.run_test(size=(140, 36)) as pilot:
        await settle(pilot, app, poll=False)
        await pilot.press("k")
        await settle(pilot, app, poll=False)
        ensembles = list((project_dir / ".llm-orc" / "ensembles").rglob("*.yaml"))
        assert ensembles, "the starter kit wrote no ensembles"
        assert app.catalog.ensembles


async def test_theme_is_remembered(plan_project, cockpit):
    app = cockpit(plan_project)
    async with app.run_test(size=(120, 36)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    settings = plan_project.parent / ".config" / "conductor-tui" / "settings.json"
    assert json.loads(settings.read_text())["theme"] == "nord"
    again: ConductorApp = cockpit(plan_project)
    assert again.theme == "nord"


async def test_polling_reschedules_without_overlap(plan_project, cockpit, fake_ollama):
    probe = FakeGpuProbe()
    app = cockpit(plan_project, ollama_host=fake_ollama.url, poll_interval=0.05, gpu_probe=probe)
    async with app.run_test(size=(120, 36)) as pilot:
        while probe.calls < 3:
            await pilot.pause(0.05)
        assert app.ollama_status.reachable
        running = [w for w in app.workers if w.group == "status-poll" and not w.is_finished]
        assert len(running) <= 1


def test_status_texts():
    assert "checking" in ollama_text(None).plain
    assert gpu_text([]).plain == "no GPU detected"


def test_core_modules_do_not_import_textual():
    code = "import sys, conductor_tui.core.plan; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_app_refuses_a_missing_directory(tmp_path, capsys):
    from conductor_tui.ui.app import run_app

    assert run_app(str(tmp_path / "nope")) == 2
    assert "no such directory" in capsys.readouterr().err


async def test_theme_from_the_environment(plan_project, cockpit, monkeypatch):
    monkeypatch.setenv("CONDUCTOR_TUI_THEME", "gruvbox")
    assert cockpit(plan_project).theme == "gruvbox"
