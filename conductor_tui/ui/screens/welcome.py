"""Home: what is set up, what is missing and how to fix it; offers the starter kit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from conductor_tui.ui.catalog import Catalog
from conductor_tui.ui.screens.base import CockpitScreen

HELP = """
## Home

What the cockpit found: the project (the nearest folder with `.llm-orc/`), Ollama, the
GPU and the ensembles it can route to, each with what is missing and the command that
fixes it.  `k` installs the starter kit: five universal ensembles (extraction,
classification, summarization, template fill, cross-file analysis) into this project's
`.llm-orc/ensembles/`.
"""


def display_path(path: Path) -> str:
    """``~/projects/x`` for paths under the home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


OK, BAD, WAIT = ("✓ ", "bold green"), ("✗ ", "bold red"), ("… ", "dim")


class WelcomeScreen(CockpitScreen):
    MODE = "home"
    HELP = HELP
    BINDINGS = [
        Binding("k", "starter_kit", "Install starter kit", id="home.starter_kit"),
        Binding("enter", "app.switch_mode('plan')", "Plans", id="home.plans"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="welcome"):
            yield Static(id="welcome-title")
            yield Static(id="welcome-project", classes="check")
            yield Static(id="welcome-ollama", classes="check")
            yield Static(id="welcome-gpu", classes="check")
            yield Static(id="welcome-ensembles", classes="check")
            yield Static(id="welcome-next", classes="next")

    def on_mount(self) -> None:
        title = Text("conductor-tui", style="bold")
        title.append(" — local ensembles for the mechanical work, Claude for judgment.", style="dim")
        self.query_one("#welcome-title", Static).update(title)
        self.watch(self.app, "ollama_status", self._show_ollama)
        self.watch(self.app, "gpu_samples", self._show_gpu)
        self.watch(self.app, "catalog", self._show_catalog)
        self._show_project()
        self.cockpit.signals.project_changed.subscribe(self, self._project_changed)

    def _project_changed(self, _: None) -> None:
        self._show_project()

    def _show_project(self) -> None:
        services = self.services
        text = Text()
        if services.has_llm_orc:
            text.append(*OK)
            text.append("Project ", style="bold")
            text.append(display_path(services.project))
            text.append(" (.llm-orc/ found)", style="dim")
        else:
            text.append(*BAD)
            text.append("No .llm-orc/ here ", style="bold")
            text.append(f"({display_path(services.project)}). ")
            text.append(
                "conductor-tui works on the nearest folder holding .llm-orc/ (like llm-orc). "
                "Press k to install the starter kit here (creates .llm-orc/), or start conductor-tui "
                "in a project that has one."
            )
        self.query_one("#welcome-project", Static).update(text)
        self._show_next()

    def _show_ollama(self, status: Any) -> None:
        text = Text()
        if status is None:
            text.append(*WAIT)
            text.append("Checking Ollama…", style="dim")
        elif getattr(status, "reachable", False):
            models = [str(getattr(m, "name", m)) for m in (getattr(status, "models", None) or [])]
            loaded = [str(getattr(m, "name", m)) for m in (getattr(status, "loaded", None) or [])]
            text.append(*OK)
            text.append("Ollama ", style="bold")
            text.append(f"{getattr(status, 'version', '') or ''} at {status.host} · ")
            text.append(f"{len(models)} models" + (f": {', '.join(models[:6])}" if models else ""))
            if len(models) > 6:
                text.append(f" +{len(models) - 6}")
            if loaded:
                text.append(f" · loaded: {', '.join(loaded)}", style="dim")
            if not models:
                text.append("\n   no models yet — pull one: ", style="yellow")
                text.append("ollama pull qwen3:1.7b", style="bold cyan")
        else:
            host = str(getattr(status, "host", "") or "127.0.0.1:11434").removeprefix("http://")
            text.append(*BAD)
            text.append(f"Ollama is not running at {host}", style="bold")
            text.append(" — start it with ")
            text.append("ollama serve", style="bold cyan")
            text.append(
                " (or set OLLAMA_HOST). Local ensembles cannot run until then; plans can still be decided."
            )
            error = getattr(status, "error", None)
            if error and "not running" not in error:
                text.append(f"\n   {error}", style="dim")
        self.query_one("#welcome-ollama", Static).update(text)
        self._show_next()

    def _show_gpu(self, samples: Any) -> None:
        from conductor_tui.ui.widgets.status import gpu_text

        text = Text()
        if samples:
            text.append(*OK)
            text.append("GPU ", style="bold")
            text.append_text(gpu_text(samples))
        elif samples is None:
            text.append(*WAIT)
            text.append("Checking the GPU…", style="dim")
        else:
            text.append("· ", style="dim")
            text.append("No GPU detected", style="bold")
            text.append(
                " (NVML / nvidia-smi not available): models run on the CPU, slower but fine.", style="dim"
            )
        self.query_one("#welcome-gpu", Static).update(text)

    def _show_catalog(self, catalog: Catalog) -> None:
        text = Text()
        if not catalog.loaded:
            text.append(*WAIT)
            text.append("Looking for ensembles…", style="dim")
        elif not catalog.ensembles:
            text.append(*BAD)
            text.append("No ensembles found ", style="bold")
            text.append("in .llm-orc/ensembles, the library or ~/.config/llm-orc/ensembles. ")
            text.append("Press k to install the starter kit.", style="bold")
        else:
            runnable = catalog.runnable_names()
            text.append(*(OK if runnable else BAD))
            text.append(f"{len(catalog.ensembles)} ensembles", style="bold")
            text.append(f", {len(runnable)} runnable here")
            for name in catalog.all_names()[:12]:
                info = catalog.ensembles[name]
                text.append("\n   ")
                if info.runnable:
                    text.append("✓ ", style="green")
                    text.append(name)
                    text.append(f"  {info.tier}", style="dim")
                elif info.problems and all("not reachable" in p for p in info.problems):
                    text.append("… ", style="dim")
                    text.append(name)
                    text.append("  waits for Ollama", style="dim")
                else:
                    text.append("⚠ ", style="yellow")
                    text.append(name)
                    text.append(f"  {info.problems[0] if info.problems else 'not runnable'}", style="dim")
                    if info.first_fix:
                        text.append("  fix: ", style="bold")
                        text.append(info.first_fix, style="cyan")
        self.query_one("#welcome-ensembles", Static).update(text)
        self._show_next()

    def _show_next(self) -> None:
        text = Text("Next: ", style="bold")
        if not self.services.has_llm_orc:
            text.append("k install the starter kit · ")
        text.append(
            "p open the plan screen (type or load a plan) · r run an ensemble · F1 help · ctrl+p commands"
        )
        self.query_one("#welcome-next", Static).update(text)

    def action_starter_kit(self) -> None:
        self.app.action_install_starter_kit()  # type: ignore[attr-defined]
