"""The cockpit's modes: each screen is imported and built when its mode is first opened
(or built while idle, see ``warm``), already styled for the app's size."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen


class BuiltModeSwitch:
    """App mixin: a switch to a mode whose screen is already built paints at once.  Textual
    holds every frame for 50 ms after a mode switch (``delay_update``) to mask a new screen
    being built; a built screen (built while idle or visited before) has nothing to mask."""

    _to_built_screen = False

    def switch_mode(self, mode: str) -> Any:
        app: Any = self
        self._to_built_screen = mode != app.current_mode and bool(app._screen_stacks.get(mode))
        try:
            return super().switch_mode(mode)  # type: ignore[misc]
        finally:
            self._to_built_screen = False

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._to_built_screen:
            super().delay_update(delay)  # type: ignore[misc]


def breakpoint_classes(app: App, screen: Screen) -> set[str]:
    """The classes Textual's HORIZONTAL/VERTICAL_BREAKPOINTS give a screen at the app's size."""
    classes = set(screen.classes)
    width, height = app.size
    for size, points in ((width, app.HORIZONTAL_BREAKPOINTS), (height, app.VERTICAL_BREAKPOINTS)):
        points = points or []
        classes -= {name for _, name in points}
        for minimum, name in sorted(points, reverse=True):
            if size >= minimum:
                classes.add(name)
                break
    return classes


def _lazy(module: str, name: str) -> Callable[[], Screen]:
    """A mode's screen, imported when the mode is first opened (keeps launch fast)."""

    def build() -> Screen:
        screen = getattr(importlib.import_module(f"conductor_tui.ui.screens.{module}"), name)()
        # Textual re-parses and re-applies the whole stylesheet when a mode's new screen is
        # "behind" the app's CSS (~0.3 s on a first visit).  The cockpit's CSS is all loaded
        # with the app, so a new screen is current: its own widgets are styled as they mount.
        try:
            from textual._context import active_app

            app = active_app.get()
            if not any(app._screen_stacks.values()):
                return screen  # the first screen: Textual's first CSS refresh must run
            screen._css_update_count = app._css_update_count
        except Exception:  # pragma: no cover - Textual internals moved: only slower
            return screen
        # Its breakpoint classes from the start: set on the first resize instead, they would
        # restyle every widget of the screen a second time.
        screen.set_classes(breakpoint_classes(app, screen))
        return screen

    build.__name__ = name
    build.module = module  # type: ignore[attr-defined]
    return build
