"""A Rich console whose output never carries a terminal control from the data.

Rich's ``Text`` keeps ESC and C1 characters; a task type or ensemble name read from a log
could retitle or wipe the terminal. :class:`SafeConsole` passes the text of every content
segment through :func:`conductor_tui.core.text.safe_text` (Rich's own ``control``
segments are left alone), so tables and summaries print the data, never its escapes.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from conductor_tui.core.text import has_unsafe, safe_text


class SafeConsole(Console):
    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text, style, control = segment
            if control is None and has_unsafe(text):
                yield Segment(safe_text(text), style, control)
            else:
                yield segment
