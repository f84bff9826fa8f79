"""The cockpit app: a thin shell of modes, status polling, palette, help and themes.

Build it with :func:`make_app` (tests, screenshots, the demo) or start it with
:func:`run_app` (the CLI).  Everything outside the process comes from the injected
:class:`~conductor_tui.ui.services.Services`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import get_current_worker

from conductor_tui.ui import terminal_safety
from conductor_tui.ui.catalog import Catalog, load_catalog
from conductor_tui.ui.messages import (
    AppSignals,
    CatalogLoaded,
    HandoffImported,
    StarterKitInstalled,
    StylesGathered,
)
from conductor_tui.ui.modes import BuiltModeSwitch, ScreenStyles, _lazy
from conductor_tui.ui.services import Services
from conductor_tui.ui.settings import load_settings, save_settings
from conductor_tui.ui.widgets.status import MODE_KEYS

STYLES = Path(__file__).parent / "styles"

APP_HELP = """
conductor-tui is the cockpit for local-first LLM work: the coding session (or you)
proposes a workflow plan, you approve it row by row, approved local rows run as
Ollama ensembles here, and every decision lands in `.llm-orc/evaluations/`.

**Everywhere:** `w` home · `p` plan · `r` run · `e` evaluate · `l` lifecycle ·
`m` models · `s` savings · `ctrl+p` every command · `ctrl+t` theme · `F1` this help ·
`q` quit.
"""


class ConductorApp(ScreenStyles, BuiltModeSwitch, App[int]):
    """The cockpit.  ``services`` supplies the project, Ollama, the GPU probe and the clock."""

    TITLE = "conductor-tui"
    # The styles of the screens a launch opens (Plan, Home) and of the header load with the
    # app; the other screens' sheets join the app's stylesheet once that first screen is
    # painted, or before any other screen is built (``load_screen_styles``): each rule is
    # checked against every widget styled, so fewer rules make the first screen sooner.  A
    # screen's own CSS_PATH would instead re-parse and re-apply the whole stylesheet on its
    # first visit (~0.2–0.4 s).
    CSS_PATH = [STYLES / "app.tcss", STYLES / "plan.tcss", STYLES / "responsive.tcss"]
    SCREEN_CSS = (STYLES / "run.tcss", STYLES / "panels.tcss", STYLES / "responsive_screens.tcss")
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {lambda: _cockpit_commands()}  # the provider's module loads with the palette
    # Responsive layouts (styles/*.tcss): Screen.-narrow below 100 columns, -wide from 160;
    # Screen.-short below 30 rows.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (160, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    MODES = {
        "home": _lazy("welcome", "WelcomeScreen", launch=True),
        "plan": _lazy("plan", "PlanScreen", launch=True),
        "run": _lazy("run", "RunScreen"),
        "evaluate": _lazy("evaluation", "EvaluationScreen"),
        "lifecycle": _lazy("lifecycle", "LifecycleScreen"),
        "models": _lazy("models", "ModelsScreen"),
        "savings": _lazy("savings", "SavingsScreen"),
    }
    BINDINGS = [
        *(
            Binding(key, f"switch_mode('{mode}')", label, id=f"mode.{mode}", show=False)
            for mode, key, label in MODE_KEYS
        ),
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "change_theme", "Theme", id="app.theme", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    last_run_decision: Any = None  # the routing-log entry of the last finished run
    evaluation_target: Any = None  # the run the person chose to evaluate (RoutingDecision)
    ollama_status: var[Any] = var(None, init=False)
    gpu_samples: var[Any] = var(None, init=False)
    host_statuses: var[Any] = var(None, init=False)  # hosts besides the default Ollama (HostStatus)
    catalog: var[Catalog] = var(Catalog(), init=False, always_update=True)

    def __init__(self, services: Services, *, initial_mode: str | None = None) -> None:
        self.services = services
        # per app, not per class: the project decides the first screen
        self.DEFAULT_MODE = initial_mode or ("plan" if services.has_llm_orc else "home")  # type: ignore[misc]
        super().__init__()
        terminal_safety.install(self)  # no control character from any widget reaches the terminal
        self._settings = load_settings(services.settings_path)
        theme = os.environ.get("CONDUCTOR_TUI_THEME") or self._settings.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._polling = False
        self.warmed = False  # screen modules imported and their CSS parsed (see _warm_screens)
        self.prebuilt = False  # every mode's screen built while idle (see _prebuild_screens)
        self._link: Any = None  # handoff.cockpit.CockpitLink once started
        self.handoff_requests: list[Any] = []
        self.signals = AppSignals(self)  # app-wide events screens subscribe to
        self.painted = False  # the first screen is on the terminal (Textual's Ready)
        self._after_paint: list[Any] = []

    def get_loading_widget(self) -> Widget:
        """A loading indicator that leaves the cores to the readers (see ``widgets.loading``)."""
        from conductor_tui.ui.widgets.loading import SlowLoadingIndicator

        return SlowLoadingIndicator()

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        # Status, GPU and ensembles load after the first screen is painted (and after the
        # screen's own file reads have had a head start): launching never waits for them.
        self.call_after_refresh(self.set_timer, 0.15, self._start_background)

    def on_ready(self) -> None:
        self.painted = True
        callbacks, self._after_paint = self._after_paint, []
        for callback in callbacks:
            callback()

    def after_first_paint(self, callback: Any) -> None:
        """Call ``callback`` once the first screen is painted (at once if it is): work the
        first frame does not show (a file read in a worker thread) must not compete with it."""
        if self.painted:
            callback()
        else:
            self._after_paint.append(callback)

    def _start_background(self) -> None:
        if self.is_running:
            self.load_screen_styles()
            _ = self.stylesheet.rules  # parsed now, while idle
        if self.services.poll_interval > 0:  # a live cockpit (tests and snapshots skip the warm-up)
            self.set_timer(0.3, self._warm_screens)
        self.refresh_catalog()
        if self.services.poll_interval > 0:
            self._poll()
            if self.services.handoff and self.services.has_llm_orc:
                self._import_handoff()

    @work(exclusive=True, group="handoff-import", thread=True, exit_on_error=False)
    def _import_handoff(self) -> None:
        """Import the session link off the UI loop (~0.1 s), then start it there."""
        importlib.import_module("conductor_tui.handoff.cockpit")
        self.post_message(HandoffImported())

    @on(HandoffImported)
    def _handoff_imported(self) -> None:
        if self.is_running:
            self.start_handoff()

    @work(exclusive=True, group="warm-screens", thread=True, exit_on_error=False)
    def _warm_screens(self) -> None:
        """Once the first screen is up: import every screen's module in a thread, then parse
        their widgets' CSS on the UI loop in small idle steps (ui/warm.py), so a screen key's
        first visit costs what a later one does."""
        from conductor_tui.ui import warm

        modules = [
            f"conductor_tui.ui.screens.{b.module}" for b in self.MODES.values() if hasattr(b, "module")
        ]
        warm.import_screens(
            [*modules, "textual.command", "conductor_tui.ui.screens.dialogs", "conductor_tui.ui.palette"]
        )
        if self.is_running:
            self.post_message(StylesGathered(warm.css_sources()))

    @on(StylesGathered)
    def _warm_styles(self, message: StylesGathered) -> None:
        from conductor_tui.ui import warm

        warm.enlarge_cache(self.stylesheet)
        pending = list(message.sources)

        def step() -> None:
            if not pending or not self.is_running:
                self.warmed = True
                warm.prebuild_screens(self)  # then every screen, built while idle
                return
            warm.parse_step(self.stylesheet, pending.pop())
            self.set_timer(0.002, step)  # one source per step: keys stay responsive

        step()

    # ------------------------------------------------------------------ handoff

    def start_handoff(self, interval: float = 1.0) -> None:
        """Heartbeat for the coding session and take its run requests (every ``interval`` s)."""
        from conductor_tui.handoff.cockpit import CockpitLink

        if self._link is None:
            self._link = CockpitLink(self.services.project)
            if interval > 0:
                self.set_interval(interval, self._handoff_tick, name="handoff")

    def _handoff_tick(self) -> None:
        self.run_worker(self.handoff_once(), group="handoff", exclusive=True, exit_on_error=False)

    async def handoff_once(self) -> None:
        """One heartbeat + claim; claimed requests are queued and run one at a time."""
        link = self._link
        if link is None:
            return
        try:
            update = await asyncio.to_thread(link.tick)
        except Exception as exc:  # a broken conductor file must not take the cockpit down
            self.notify(f"Handoff with the session failed: {exc}", severity="warning")
            return
        self.handoff_requests.extend(update.requests)
        await self.run_next_request()

    async def run_next_request(self) -> None:
        if not self.handoff_requests or self._link is None:
            return
        if self.current_mode != "run":
            await self.switch_mode("run")
        screen = self.screen
        while self.handoff_requests and not getattr(screen, "busy", True):
            # busy: the run screen takes the next one when the current run ends
            request = self.handoff_requests.pop(0)
            self.notify(f"Running {request.ensemble} for the coding session")
            screen.run_request(request, self._link)  # type: ignore[attr-defined]

    def close_handoff(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            try:
                link.close()
            except Exception:
                pass

    def run_in_progress(self) -> Any:
        """The Run screen when it has a run in progress (else ``None``)."""
        for screen in self._screen_stacks.get("run", []):
            if getattr(screen, "busy", False):
                return screen
        return None

    async def action_quit(self) -> None:
        """Quit; with a run in progress, ask first, then cancel it and record it as cancelled
        (the Run screen's own Esc path) before leaving."""
        run_screen = self.run_in_progress()
        if run_screen is None:
            await self._quit_now()
            return
        from conductor_tui.ui.screens.dialogs import ConfirmDialog

        if isinstance(self.screen, ConfirmDialog):
            return  # already asking

        ensemble = getattr(getattr(run_screen, "view", None), "ensemble", "") or "an ensemble"

        async def answered(confirmed: bool | None) -> None:
            if confirmed:
                await self.cancel_run_and_quit(run_screen)

        self.push_screen(
            ConfirmDialog(
                f"{ensemble} is still running. Cancel it and quit?",
                "The run is cancelled and recorded as cancelled in the routing log; its plan row "
                "goes back to approved, so it can run again.",
            ),
            answered,
        )

    async def cancel_run_and_quit(self, run_screen: Any, timeout: float = 15.0) -> None:
        run_screen.action_cancel_run()
        workers = [w for w in self.workers if w.node is run_screen and w.group == "run" and not w.is_finished]
        if workers:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(w.wait() for w in workers), return_exceptions=True), timeout
                )
            except TimeoutError:
                self.notify("The run did not stop in time; quitting anyway.", severity="warning")
        await self._quit_now()

    async def _quit_now(self) -> None:
        self.close_handoff()
        await super().action_quit()

    def _remember_theme(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        if self._settings.get("theme") == name:
            return
        self._settings["theme"] = name
        try:
            save_settings({"theme": name}, self.services.settings_path)
        except OSError as exc:
            self.notify(f"Could not save the theme: {exc}", severity="warning")

    # ------------------------------------------------------------------ status polling

    async def poll_once(self) -> None:
        """Refresh Ollama status and GPU figures once (never raises)."""
        status, samples, others = await asyncio.gather(
            self._ollama_status(), self._gpu_samples(), self._other_hosts()
        )
        self.ollama_status = status
        self.gpu_samples = samples
        changed = _host_digest(others) != _host_digest(self.host_statuses)
        self.host_statuses = others
        models = {str(getattr(m, "name", m)) for m in (getattr(status, "models", None) or [])}
        up = bool(getattr(status, "reachable", False))
        catalog = self.catalog
        if not catalog.checked or models != catalog.models or up != catalog.ollama_up or changed:
            self.refresh_catalog()

    async def _other_hosts(self) -> list[Any]:
        from conductor_tui.ui.catalog import probe_other_hosts

        return await probe_other_hosts(self.services.project, self.services.ollama_host)

    async def _ollama_status(self) -> Any:
        try:
            # the first access imports the ollama client and httpx (~0.3 s): not on the UI loop
            provider = await asyncio.to_thread(lambda: self.services.ollama)
            result = provider.status()
            if inspect.isawaitable(result):
                return await result
            return result
        except Exception as exc:  # the provider should never raise; stay up if it does
            from types import SimpleNamespace

            return SimpleNamespace(reachable=False, host=self.services.ollama_host, error=str(exc), fix=None)

    async def _gpu_samples(self) -> list[Any]:
        def sample() -> list[Any]:
            try:
                return list(self.services.gpu.sample() or [])
            except Exception:
                return []

        return await asyncio.to_thread(sample)

    @work(exclusive=True, group="status-poll", exit_on_error=False)
    async def _poll(self) -> None:
        try:
            await self.poll_once()
        finally:
            # Reschedule only after this poll ended: polls never overlap.
            if self.services.poll_interval > 0 and self.is_running:
                self.set_timer(self.services.poll_interval, self._poll)

    @work(exclusive=True, group="catalog", thread=True, exit_on_error=False)
    def refresh_catalog(self) -> None:
        """Load the ensembles (all tiers) and check them against Ollama's models."""
        worker = get_current_worker()
        status = self.ollama_status
        catalog = load_catalog(self.services.project, status, self.host_statuses)
        self.post_message(CatalogLoaded(catalog, worker))

    @on(CatalogLoaded)
    def _catalog_loaded(self, message: CatalogLoaded) -> None:
        # A newer check (e.g. once Ollama's status is known) cancels this one; a thread
        # cannot be stopped, so its stale result must not land after the newer one.
        if not message.worker.is_cancelled:
            self.catalog = message.catalog

    # ------------------------------------------------------------------ actions

    def disabled_reason(self, screen: Screen, action: str) -> str:
        """Why a greyed key cannot act: the screen's ``disabled_reason(action)`` when it has one."""
        explain = getattr(screen, "disabled_reason", None)
        name = action.split("(")[0]
        reason = explain(name) if explain is not None else None
        return reason or _disabled_reason_default(action)

    def action_help(self) -> None:
        screen = self.screen
        from conductor_tui.ui.screens.help import HelpScreen, keys_markdown  # Markdown: only when asked

        if isinstance(screen, HelpScreen):
            return
        help_text = getattr(screen, "HELP", "") or ""
        keys = []
        seen = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.key in seen or not active.enabled:
                continue
            seen.add(binding.key)
            keys.append((self.get_key_display(binding), binding.description))
        title = type(screen).__name__.removesuffix("Screen") or "conductor-tui"
        self.push_screen(
            HelpScreen(title, f"{help_text.strip()}\n\n{APP_HELP.strip()}\n{keys_markdown(keys)}")
        )

    def action_install_starter_kit(self) -> None:
        self._install_starter_kit()

    @work(exclusive=True, group="starter-kit", thread=True, exit_on_error=False)
    def _install_starter_kit(self) -> None:
        from conductor_tui.engine.kit import install_starter_kit

        try:
            result = install_starter_kit(self.services.project)
        except Exception as exc:
            self.notify(f"Starter kit not installed: {exc}", severity="error", timeout=10)  # thread-safe
            return
        message = (
            f"Starter kit: {len(result.written)} files written, {len(result.unchanged)} unchanged"
            + (f", {len(result.kept)} of yours kept" if result.kept else "")
            + f" in {self.services.project / '.llm-orc'}."
        )
        if result.models:
            message += " Models it uses: " + ", ".join(f"ollama pull {m}" for m in result.models)
        self.post_message(StarterKitInstalled(message))

    @on(StarterKitInstalled)
    def _starter_kit_installed(self, message: StarterKitInstalled) -> None:
        self.notify(message.text, title="Starter kit installed", timeout=12)
        self.refresh_catalog()
        self.signals.project_changed.publish(None)

    # ------------------------------------------------------------------ palette

    def action_command_palette(self) -> None:
        from conductor_tui.ui.palette import open_palette

        open_palette(self)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action: the screens, the current screen's keys, then Textual's own."""
        from conductor_tui.ui.palette import cockpit_commands

        yield from cockpit_commands(self, screen)
        yield from super().get_system_commands(screen)


def _cockpit_commands() -> type:
    from conductor_tui.ui.palette import CockpitCommands

    return CockpitCommands


def _disabled_reason_default(action: str) -> str:
    return f"Not available on this screen right now ({action.split('(')[0]})."


def make_app(
    project: str | Path | None = None,
    *,
    services: Services | None = None,
    initial_mode: str | None = None,
    **service_options: Any,
) -> ConductorApp:
    """Build the app (the factory tests and the demo use): ``make_app(tmp, poll_interval=0)``."""
    if services is None:
        from conductor_tui.core.locations import find_project

        services = Services(project=find_project(project), **service_options)
    return ConductorApp(services, initial_mode=initial_mode)


def run_app(project_dir: str | None = None) -> int:
    if project_dir is not None and not Path(project_dir).expanduser().is_dir():
        print(f"conductor-tui: {project_dir}: no such directory", file=sys.stderr)
        return 2
    app = make_app(project_dir)
    try:
        result = app.run()
    finally:
        app.close_handoff()
    return result if isinstance(result, int) else 0


def _host_digest(statuses: Any) -> Any:
    """What about the other hosts changes runnability: who answers and with which models."""
    if not statuses:
        return ()
    return tuple((h.endpoint.key, h.reachable, tuple(h.models)) for h in statuses)
