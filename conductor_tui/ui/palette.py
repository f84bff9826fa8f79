"""The command palette's commands: every screen, the current screen's keys (greyed ones
with the reason they cannot act), help, the starter kit and Textual's own.

:class:`CockpitCommands` gathers them once when the palette opens (no I/O: the app's
bindings and what the screen already knows) and matches each keystroke against that
list, instead of rebuilding it per keystroke as Textual's default provider does.
"""

from __future__ import annotations

from textual import events
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
