"""What every cockpit screen shares: the header (status + mode strip), the footer, ``HELP``.

Convention (also for the evaluation / lifecycle / models / savings screens): a
``Screen`` subclass with a no-arg constructor, a ``HELP`` markdown string shown by
F1, ``BINDINGS`` with ``id=`` so keys can be remapped.  Subclassing
:class:`CockpitScreen` is optional; it adds the header and footer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from conductor_tui.ui.modes import breakpoint_classes
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


class CockpitFooter(Footer):
    """Textual's footer, recomposed only when the keys it shows changed: Textual recomposes it
    whenever the screen's bindings are refreshed (each focus change, each visit, the palette
    opening above it), mounting and styling every key again even when none changed."""

    _shown: tuple | None = None
    _recompose_pending = False  # a recompose is scheduled: it shows the keys of its time

    def _keys(self) -> tuple:
        return tuple(
            (binding, enabled, tooltip, self.app.get_key_display(binding))
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )

    def bindings_changed(self, screen: Screen) -> None:
        if self._shown is not None and self.is_attached and screen is self.screen:
            if self._keys() == self._shown:
                return
        if self._recompose_pending:  # two changes before the first frame: compose once
            return
        super().bindings_changed(screen)
        self._recompose_pending = bool(screen.app.app_focus and self.is_attached and screen is self.screen)

    def compose(self) -> ComposeResult:
        self._recompose_pending = False
        self._shown = self._keys() if self._bindings_ready else None
        yield from super().compose()


class CockpitScreen(Screen):
    """A screen with the cockpit header and footer; subclasses implement ``compose_body``."""

    MODE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        self._preset_breakpoints()
        yield CockpitHeader(self.MODE)
        yield from self.compose_body()
        yield CockpitFooter(compact=True)

    def _preset_breakpoints(self) -> None:
        """The breakpoint classes (``-narrow`` …) for the app's current size, set before the
        children are composed: the first resize then changes nothing, instead of styling
        every widget of the screen a second time (a third of the launch's styling cost)."""
        if all(self.app.size):
            self.set_classes(breakpoint_classes(self.app, self))

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    _styled_as: tuple | None = None  # what styled this screen when it was last suspended

    def _style_stamp(self) -> tuple:
        """What the styles of a suspended screen's widgets depend on besides their own classes
        (a class change restyles its widget at once, suspended or not)."""
        app = self.app
        return (app._css_update_count, app.theme, app.app_focus, app.ansi_color, app.size)

    # Textual calls the handler of each class in the MRO: these run before Screen's own.
    def _on_mount(self, event: events.Mount) -> None:
        # The first screen is styled by Textual's first CSS refresh, which ran just before it
        # mounted and so left it marked stale: the first switch back to it would refresh every
        # style of the app again (~60 ms).  Unless the CSS changed since, it is current.
        launch = getattr(self, "_launch_css_count", None)
        if launch is not None and self._css_update_count == -1 and launch == self.app._css_update_count:
            self._css_update_count = launch
            # its widgets were styled as they mounted: its first resume need not restyle them
            self._styled_as = self._style_stamp()

    def _on_screen_suspend(self) -> None:
        self._styled_as = self._style_stamp()

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual restyles every widget of a resumed screen, which also empties the tables'
        # rendered lines: a switch back then re-renders every cell.  When nothing the styles
        # depend on changed while it was away, its widgets keep their styles and rendered lines.
        if self._styled_as is not None and self._styled_as == self._style_stamp():
            event.refresh_styles = False

    @property
    def cockpit(self) -> ConductorApp:
        """The app, typed: its services, catalog, signals and status."""
        return cast("ConductorApp", self.app)

    @property
    def services(self) -> Services:
        return self.cockpit.services
