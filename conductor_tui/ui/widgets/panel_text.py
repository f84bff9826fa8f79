"""A text panel that a worker may update at any moment, even before the panel has processed its
own mount: Textual keeps a widget's content height cached by width and only clears it on a refresh
of a mounted widget, so an early update would be laid out at the old text's height."""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


class PanelText(Static):
    """A ``Static`` whose every update is laid out at the new text's height."""

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(content, layout=layout)
        self.clear_cached_dimensions()
        if not self.is_mounted:  # lay out again once mounted: the early update's layout is lost
            self.call_after_refresh(self.refresh, layout=True)
