"""The command palette and its commands: every screen, the current screen's keys (greyed
ones with the reason they cannot act), help, the starter kit and Textual's own.

:class:`CockpitCommands` gathers them once when the palette opens (no I/O: the app's
bindings and what the screen already knows) and matches each keystroke against that
list, instead of rebuilding it per keystroke as Textual's default provider does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual import events
from textual.app import SystemCommand
from textual.command import CommandPalette as _TextualPalette
from textual.command import DiscoveryHit, Hit, Hits
from textual.system_commands import SystemCommandsProvider
from textual.types import IgnoreReturnCallbackType


class CockpitCommands(SystemCommandsProvider):
    """The app's system commands, gathered once per palette."""

    _commands: list[tuple[str, str, IgnoreReturnCallbackType, bool]] | None = None

    def _gathered(self) -> list[tuple[str, str, IgnoreReturnCallbackType, bool]]:
        if self._commands is None:
            self._commands = [tuple(c) for c in self.app.get_system_commands(self.screen)]  # type: ignore[misc]
        return self._commands

    async def startup(self) -> None:
        self._gathered()

    async def discover(self) -> Hits:
        for name, help_text, callback, discover in sorted(self._gathered(), key=lambda c: c[0]):
            if discover:
                yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, _ in self._gathered():
            if (match := matcher.match(name)) > 0:
                yield Hit(match, matcher.highlight(name), callback, help=help_text)


class CommandPalette(_TextualPalette):
    """Textual's command palette, opened already styled for the app's size: its breakpoint
    classes set before it mounts (set on its first resize, they would restyle every widget
    of it a second time) and no restyle when it first resumes (its widgets were styled as
    they mounted, a moment before)."""

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:  # before Screen's own
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False


def open_palette(app: Any) -> None:
    """Open the palette (``ctrl+p``), already styled for the app's size."""
    from conductor_tui.ui.modes import breakpoint_classes

    if app.use_command_palette and not CommandPalette.is_open(app):
        palette = CommandPalette(id="--command-palette")
        app.push_screen(palette.set_classes(breakpoint_classes(app, palette)))


def cockpit_commands(app: Any, screen: Any) -> Iterator[SystemCommand]:
    """The cockpit's commands (Textual's own follow them): the screens, then ``screen``'s keys
    (its own and the app's, not its widgets'), help, the starter kit, a status refresh."""
    from conductor_tui.ui.widgets.status import MODE_KEYS

    for mode, key, label in MODE_KEYS:
        yield SystemCommand(
            f"Go to {label}", f"Switch to the {label} screen (key {key})", partial(app.switch_mode, mode)
        )
    seen: set[str] = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if (
            active.node not in (screen, app)  # widgets' own keys (cursor moves…) stay out
            or not binding.description
            or binding.action in seen
            or binding.action.startswith("switch_mode")
            or binding.action in {"help", "quit", "change_theme", "command_palette"}
        ):
            continue
        seen.add(binding.action)
        key = app.get_key_display(binding)
        if not active.enabled:
            # greyed in the footer: listed here too, saying why it cannot act now
            reason = app.disabled_reason(screen, binding.action)
            yield SystemCommand(
                f"{binding.description} (not now)",
                f"{reason} (key {key})",
                partial(app.notify, reason, severity="warning", markup=False),
            )
            continue
        yield SystemCommand(
            binding.description,
            (binding.tooltip or binding.description) + f" (key {key})",
            partial(app.run_action, binding.action, active.node),
        )
    yield SystemCommand("Help", "Help for this screen (F1)", app.action_help)
    yield SystemCommand(
        "Install the starter kit",
        "Copy the five universal ensembles into this project's .llm-orc/",
        app.action_install_starter_kit,
    )
    yield SystemCommand("Refresh status", "Poll Ollama and the GPU now", app._poll)
