"""What every cockpit screen shares: the header (status + mode strip), the footer, ``HELP``.

Convention (also for the evaluation / lifecycle / models / savings screens): a
``Screen`` subclass with a no-arg constructor, a ``HELP`` markdown string shown by
F1, ``BINDINGS`` with ``id=`` so keys can be remapped.  Subclassing
:class:`CockpitScreen` is optional; it adds the header and footer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from conductor_tui.ui.widgets.status import CockpitHeader

if TYPE_CHECKING:
    from conductor_tui.ui.app import ConductorApp
    from conductor_tui.ui.services import Services


def logs_signature(store) -> tuple:
    """What the evaluations folder holds now (name, size, mtime of each file): a screen that
    shows derived figures re-reads the logs on a visit only when this changed."""
    try:
        entries = sorted(os.scandir(store.root), key=lambda e: e.name)
        return tuple((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file())
    except OSError:
        return ()


class CockpitScreen(Screen):
    """A screen with the cockpit header and footer; subclasses implement ``compose_body``."""

    MODE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        self._preset_breakpoints()
        yield CockpitHeader(self.MODE)
        yield from self.compose_body()
        yield Footer(compact=True)

    def _preset_breakpoints(self) -> None:
        """The breakpoint classes (``-narrow`` …) for the app's current size, set before the
        children are composed: the first resize then changes nothing, instead of styling
        every widget of the screen a second time (a third of the launch's styling cost)."""
        width, height = self.app.size
        if not width or not height:
            return
        horizontal = (self.HORIZONTAL_BREAKPOINTS or self.app.HORIZONTAL_BREAKPOINTS) or []
        vertical = (self.VERTICAL_BREAKPOINTS or self.app.VERTICAL_BREAKPOINTS) or []
        classes = {name: False for _, name in (*horizontal, *vertical)}
        for name in self._get_breakpoint_classes(width, horizontal) | self._get_breakpoint_classes(
            height, vertical
        ):
            classes[name] = True
        self.update_classes(classes, animate=False)

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    @property
    def cockpit(self) -> ConductorApp:
        """The app, typed: its services, catalog, signals and status."""
        return cast("ConductorApp", self.app)

    @property
    def services(self) -> Services:
        return self.cockpit.services
