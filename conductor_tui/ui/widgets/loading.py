"""The loading indicator over a table whose data is still being read.

Textual's :class:`~textual.widgets.LoadingIndicator` redraws 16 times a second. While a
screen reads a million-line log on every core, each redraw is work taken from the readers
(about a third of a core on Evaluate); four redraws a second still show the read is alive.
"""

from __future__ import annotations

from textual.dom import DOMNode
from textual.widgets import LoadingIndicator

REDRAWS_PER_SECOND = 4


class SlowLoadingIndicator(LoadingIndicator):
    """A :class:`LoadingIndicator` that redraws at most :data:`REDRAWS_PER_SECOND` times a
    second (the interval its mount handler asks for is stretched)."""

    @property
    def auto_refresh(self) -> float | None:
        return self._auto_refresh

    @auto_refresh.setter
    def auto_refresh(self, interval: float | None) -> None:
        if interval is not None:
            interval = max(interval, 1 / REDRAWS_PER_SECOND)
        DOMNode.auto_refresh.fset(self, interval)  # type: ignore[attr-defined]
