"""Make a screen key's first visit as fast as later ones (every key paints within 100 ms,
first visit included).

A first visit used to pay for importing the screen's module (100–170 ms) and for parsing the
DEFAULT_CSS of every widget class it mounts for the first time (TextArea, Markdown,
DataTable, … ~0.2 s).  Once the first screen is painted, the app imports the screen modules
in a thread (:func:`import_screens`) and then, on the UI loop in small steps while idle,
parses those widgets' CSS into the app stylesheet's cache (:func:`css_sources` /
:func:`parse_step`), so mounting them later finds their rules already parsed.  Then it
builds every mode's screen (:func:`prebuild_screens`), lays each out at the app's size and
renders its lines once its data has loaded (:func:`prepaint_screens`), and freezes the heap
(:func:`freeze_heap`): a screen key then only switches and paints cached lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

# Widget modules whose classes the cockpit mounts (their CSS is parsed ahead of time).
WIDGET_MODULES = ("textual.", "conductor_tui.ui.")


def import_screens(modules: Iterable[str]) -> None:
    """Import the screens' modules (blocking: run it in a thread)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # the visit itself reports a broken screen; warming is best effort
            pass


def _widget_classes() -> Iterator[type]:
    from textual.dom import DOMNode

    seen: set[type] = set()
    stack = list(DOMNode.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(WIDGET_MODULES) and not cls.__module__.startswith("textual.app"):
            yield cls


def css_sources() -> list[tuple[Any, str, int, str]]:
    """(read_from, css, tie_breaker, scope) of every loaded widget class's DEFAULT_CSS, as
    Textual registers them when the class is first mounted."""
    from textual.dom import DOMNode

    out: dict[tuple, tuple[Any, str, int, str]] = {}
    for cls in _widget_classes():
        try:
            node = SimpleNamespace(_node_bases=DOMNode._css_bases(cls))
            for read_from, css, tie_breaker, scope in DOMNode._get_default_css(node):  # type: ignore[arg-type]
                out.setdefault((read_from, css, tie_breaker, scope), (read_from, css, tie_breaker, scope))
        except Exception:
            continue
    return list(out.values())


def parse_step(stylesheet: Any, source: tuple[Any, str, int, str]) -> None:
    """Parse one DEFAULT_CSS source into ``stylesheet``'s rule cache (Textual's own cache,
    keyed exactly as its ``parse()`` looks it up)."""
    read_from, css, tie_breaker, scope = source
    try:
        stylesheet._parse_rules(css, read_from, True, tie_breaker, scope)
    except Exception:  # a bad DEFAULT_CSS reports itself when the widget mounts
        pass


def enlarge_cache(stylesheet: Any, size: int = 1024) -> None:
    """Textual keeps 64 parsed sources; the warmed ones must not evict the app's own."""
    try:
        from textual.cache import LRUCache

        cache = stylesheet._parse_cache
        if getattr(cache, "maxsize", size) < size:
            bigger: Any = LRUCache(size)
            for key in list(cache.keys()):
                bigger[key] = cache[key]
            stylesheet._parse_cache = bigger
    except Exception:
        pass


def prebuild_screens(app: Any) -> None:
    """Build every mode's screen while idle, one per step, as a visit that leaves at
    once (built, laid out, its data loading, then suspended): a screen key's first
    visit then only switches and paints, as a later one does.  Sets ``app.prebuilt``."""
    from textual import events

    pending = [mode for mode in app.MODES if mode not in app._screen_stacks]

    def step() -> None:
        while pending and pending[0] in app._screen_stacks:
            pending.pop(0)  # visited meanwhile
        if not pending or not app.is_running:
            prepaint_screens(app, lambda: settle_styles(app))
            return
        mode = pending.pop(0)
        try:
            app._init_mode(mode)  # what switch_mode does for a new mode, without switching
            app._screen_stacks[mode][0].post_message(events.ScreenSuspend())
        except Exception:  # pragma: no cover - the visit itself reports a broken screen
            pass
        app.set_timer(0.05, step)  # one screen per step: keys stay responsive

    step()


def _busy(app: Any, screen: Any) -> bool:
    return any(w.node is screen and not w.is_finished for w in app.workers)


def prepaint_screens(app: Any, then: Any, wait_steps: int = 200) -> None:
    """While idle, lay out every suspended mode screen at the app's size once its data has
    loaded (its tables fitted and filled), then render its visible lines into the widgets'
    caches: a screen key's first visit then paints from cached lines, as a later one does
    (the resumed screen keeps its styles, see ``CockpitScreen``).  Calls ``then()`` after."""
    screens = [stack[0] for stack in app._screen_stacks.values() if stack]
    state = {"waited": 0, "laid": 0}

    def step() -> None:
        if not app.is_running:
            return
        while screens and (screens[0] is app.screen or not screens[0].is_attached):
            screens.pop(0)  # on screen (painted by the display) or gone
        if not screens:
            then()
            return
        screen = screens[0]
        if _busy(app, screen) and state["waited"] < wait_steps:
            state["waited"] += 1
            app.set_timer(0.05, step)  # its data is still loading
            return
        try:
            if state["laid"] < 3 and (not state["laid"] or _layout_pending(screen)):
                state["laid"] += 1
                screen._refresh_layout(app.size)  # widgets get their Resize (tables fit)
                app.set_timer(0.02, step)  # their handlers run, then look again
                return
            for _ in screen._compositor._get_renders():  # each widget's visible lines, cached
                pass
        except Exception:  # pragma: no cover - only slower: the visit lays out and renders
            pass
        screens.pop(0)
        state["waited"] = state["laid"] = 0
        app.set_timer(0.02, step)

    step()


def _layout_pending(screen: Any) -> bool:
    return bool(screen._layout_widgets or screen._dirty_widgets) or any(
        getattr(w, "_layout_required", False) for w in screen.walk_children()
    )


def freeze_heap() -> None:
    """Once the cockpit is built: collect, then move every object alive now (screens, widgets,
    parsed styles, loaded logs) out of the garbage collector's reach.  A full collection
    otherwise walks them all (0.1–0.3 s on the UI thread, whichever key it lands on); later
    ones walk only what was made since."""
    import gc

    gc.collect()
    gc.freeze()


def freeze_loaded() -> None:
    """A screen's first state installed after the idle build froze the heap (a big log that
    took longer to read than the build) is frozen too, or the next full collection walks it
    on the UI thread (0.1–0.2 s for a 1M-line log).  The loaded states hold no reference
    cycles: freezing them keeps nothing alive that counting would free.  Before the idle
    build (and in tests, which never run it) this does nothing: the build freezes them."""
    import gc

    if gc.get_freeze_count():
        gc.freeze()


def _stale_screens(app: Any) -> list[Any]:
    return [
        screen
        for stack in app._screen_stacks.values()
        for screen in stack
        if screen._css_update_count != app._css_update_count
    ]


def settle_styles(app: Any) -> None:
    """While idle, refresh the styles of a screen whose styles predate the app's (the first
    screen), which a key would otherwise do on its way back (a full re-parse, ~0.3 s), then
    parse every source into the emptied cache again, one per step, so the next widget
    mounted (the command palette) finds them parsed.  Sets ``app.prebuilt``."""
    try:
        importlib.import_module("conductor_tui.ui.palette")  # the palette's class, parsed too
        stale = [s for s in _stale_screens(app) if s is app.screen]
        if stale:
            app.refresh_css(animate=False)
        stylesheet = app.stylesheet
        enlarge_cache(stylesheet)
        sources = [
            (read_from, css, tie_breaker, scope)
            for read_from, (css, _defaults, tie_breaker, scope) in stylesheet.source.items()
        ]
        defaults = {
            read_from for read_from, (_c, is_defaults, _t, _s) in stylesheet.source.items() if is_defaults
        }
        pending = css_sources()  # as a subclass mounts them too (another tie-breaker)
    except Exception:  # pragma: no cover - warming is best effort
        app.prebuilt = True
        return

    def step() -> None:
        if not app.is_running:
            return
        if not sources and not pending:
            freeze_heap()
            app.prebuilt = True
            return
        if sources:
            read_from, css, tie_breaker, scope = sources.pop()
            try:
                stylesheet._parse_rules(css, read_from, read_from in defaults, tie_breaker, scope)
            except Exception:
                pass
        else:
            parse_step(stylesheet, pending.pop())
        app.set_timer(0.002, step)

    step()
