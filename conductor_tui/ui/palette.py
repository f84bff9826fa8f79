"""The command palette's commands: every screen, the current screen's keys (greyed ones
with the reason they cannot act), help, the starter kit and Textual's own.

:class:`CockpitCommands` gathers them once when the palette opens (no I/O: the app's
bindings and what the screen already knows) and matches each keystroke against that
list, instead of rebuilding it per keystroke as Textual's default provider does.
"""

from __future__ import annotations

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
