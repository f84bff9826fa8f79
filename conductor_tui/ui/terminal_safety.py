"""The cockpit's last line of defence against terminal injection.

Widgets show untrusted text (model output, file contents, names, plan rows) as
``rich.text.Text`` / ``markup=False``, and the screens pass it through
:func:`conductor_tui.core.text.safe_text` where they know it is untrusted. Whatever still
slips through is caught here: :class:`ControlCharFilter` is a Textual *line filter* — it
runs on every rendered line of every widget (border titles, toasts and the command
palette included) before Textual turns the segments into terminal output, and deletes any
C0/C1 control character, DEL and bidi override from the text of content segments.
Textual's own escape sequences are generated after the filters (from styles, and from
``control`` segments, which are left alone), so they are unaffected. Control characters
measure 0 cells, so deleting them keeps every line's width.
"""

from __future__ import annotations

import re

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class ControlCharFilter(LineFilter):
    """Delete terminal control characters from the text of every content segment."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        search, sub = _UNSAFE.search, _UNSAFE.sub
        if not search("".join([segment[0] for segment in segments])):
            return segments  # the common line: one search over its whole text
        out: list[Segment] = []
        changed = False
        for segment in segments:
            text, style, control = segment
            if control is None and search(text):
                changed = True
                out.append(Segment(sub("", text), style, control))
            else:
                out.append(segment)
        return out if changed else segments


def install(app: object) -> None:
    """Add the filter to a Textual app (once)."""
    filters = getattr(app, "_filters", None)
    if isinstance(filters, list) and not any(isinstance(f, ControlCharFilter) for f in filters):
        filters.append(ControlCharFilter())
