"""No garbage collection between a screen's first load and its first paint.

A big first load (a 1M-line routing log) leaves ~100,000 new objects alive (the records,
the queue) and, while it runs, reads the log in pieces with the collector off. Once the
collector is back, it walks those objects as young, then as middle-aged, then the whole
heap with them (0.2–0.3 s in all, measured in the cockpit), right while the screen is
about to show them. :class:`CollectionPause` holds the collector off from the start of
the load until the rows are painted: those walks then run after the first paint, at idle
(reference counting frees everything else meanwhile; a load makes no reference cycles).

Whoever pauses must end the pause on every path (a failed load, a screen unmounted before
its rows were painted): :meth:`CollectionPause.end` is idempotent, and only the pause that
switched the collector off switches it back on.
"""

from __future__ import annotations

import gc
import threading
from typing import Any


class CollectionPause:
    """``start()`` switches the collector off (when it was on); ``end()`` switches it back
    on (only when this pause switched it off). Safe to call from a worker thread and the
    UI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paused = False

    def start(self) -> None:
        with self._lock:
            if not self.paused and gc.isenabled():
                gc.disable()
                self.paused = True

    def end(self) -> None:
        with self._lock:
            if self.paused:
                self.paused = False
                gc.enable()

    def end_after_paint(self, widget: Any) -> None:
        """:meth:`end` once ``widget``'s rows are painted (after the next refresh), or a
        second later when nothing repaints the active screen meanwhile (``widget`` on a
        suspended screen); at once when ``widget`` is closing."""
        if not self.paused:
            return
        if not widget.call_after_refresh(self.end):
            self.end()
            return
        widget.set_timer(1.0, self.end)
