"""The cockpit's modes: each screen is imported and built when its mode is first opened
(or built while idle, see ``warm``), already styled for the app's size."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
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


class ScreenStyles:
    """App mixin: the sheets of the screens a launch does not show (``SCREEN_CSS``) join the
    app's stylesheet after the first screen (``load_screen_styles``): every rule is checked
    against every widget styled, so the first screen is styled with fewer."""

    SCREEN_CSS: tuple[Path, ...] = ()
    screen_styles_loaded = False  # SCREEN_CSS added to the stylesheet

    def load_screen_styles(self) -> None:
        """Add the sheets of the screens a launch does not show (``SCREEN_CSS``) to the app's
        stylesheet, once.  Their rules match none of the first screen's widgets (a test
        checks), so nothing painted is restyled; widgets styled from now on see them."""
        if self.screen_styles_loaded:
            return
        self.screen_styles_loaded = True
        app: Any = self
        stylesheet = app.stylesheet
        for path in self.SCREEN_CSS:
            try:
                css = path.read_text(encoding="utf-8")
            except OSError as exc:  # pragma: no cover - a broken install
                app.notify(f"Cannot read {path.name}: {exc}", severity="error")
                continue
            stylesheet.add_source(css, read_from=(str(path), ""), is_default_css=False)

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        self.load_screen_styles()  # a dialog's rules are in the screens' sheets
        return super().push_screen(*args, **kwargs)  # type: ignore[misc]


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


def _lazy(module: str, name: str, *, launch: bool = False) -> Callable[[], Screen]:
    """A mode's screen, imported when the mode is first opened (keeps launch fast).  A
    ``launch`` screen's styles load with the app; any other screen's sheets are added to
    the app's stylesheet before it is built (``ConductorApp.load_screen_styles``)."""

    def build() -> Screen:
        try:
            from textual._context import active_app

            app: Any = active_app.get()
        except Exception:  # pragma: no cover - Textual internals moved
            app = None
        first = app is not None and not any(app._screen_stacks.values())
        if app is not None and not (first and launch):
            getattr(app, "load_screen_styles", lambda: None)()
        screen = getattr(importlib.import_module(f"conductor_tui.ui.screens.{module}"), name)()
        # Textual re-parses and re-applies the whole stylesheet when a mode's new screen is
        # "behind" the app's CSS (~0.3 s on a first visit).  The cockpit's CSS is loaded
        # by now, so a new screen is current: its own widgets are styled as they mount.
        try:
            if first:
                # Textual's first CSS refresh must run; it runs before this screen is mounted,
                # so it does not mark the screen current (see ``CockpitScreen._on_mount``)
                screen._launch_css_count = app._css_update_count
                return screen
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
