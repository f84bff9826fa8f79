"""A vertical scroll that knows whether the person wants to follow new output.

Following stops when the person scrolls up (wheel, keys, scrollbar) and resumes when
they scroll back to the bottom (or ask for it).  Content growth never changes the
flag, so a stream appending text cannot be mistaken for the person scrolling.
"""

from __future__ import annotations

from textual import events
from textual.containers import VerticalScroll
from textual.scrollbar import ScrollDown, ScrollTo, ScrollUp


class FollowScroll(VerticalScroll):
    following: bool = True

    def at_bottom(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 2

    def follow(self) -> None:
        """Scroll to the end if following (call after content changes)."""
        if self.following and self.scroll_y < self.max_scroll_y:
            self.scroll_end(animate=False, immediate=True)

    def _moved(self, up: bool) -> None:
        if up:
            self.following = False
        else:
            self.call_after_refresh(self._resume_if_bottom)

    def _resume_if_bottom(self) -> None:
        if self.at_bottom():
            self.following = True

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self._moved(up=True)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self._moved(up=False)

    def _on_scroll_up(self, event: ScrollUp) -> None:
        super()._on_scroll_up(event)
        self._moved(up=True)

    def _on_scroll_down(self, event: ScrollDown) -> None:
        super()._on_scroll_down(event)
        self._moved(up=False)

    def _on_scroll_to(self, message: ScrollTo) -> None:
        super()._on_scroll_to(message)
        self._moved(up=message.y is not None and message.y < self.max_scroll_y - 2)

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._moved(up=True)

    def action_page_up(self) -> None:
        super().action_page_up()
        self._moved(up=True)

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self._moved(up=True)

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self._moved(up=False)

    def action_page_down(self) -> None:
        super().action_page_down()
        self._moved(up=False)

    def action_scroll_end(self) -> None:
        super().action_scroll_end()
        self.following = True
