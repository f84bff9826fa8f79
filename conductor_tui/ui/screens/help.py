"""F1: the current screen's help (its ``HELP`` markdown and its keys)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static


def keys_markdown(bindings: list[tuple[str, str]]) -> str:
    if not bindings:
        return ""
    lines = ["", "### Keys", "", "| key | action |", "| --- | --- |"]
    for key, description in bindings:
        lines.append(f"| `{key}` | {description.replace('|', '/')} |")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Markdown help for one screen; Esc / F1 / q closes it."""

    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90; max-width: 95%; height: 85%; border: thick $primary; background: $surface; }
    HelpScreen #help-title { dock: top; height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
    HelpScreen VerticalScroll { padding: 0 1; }
    """

    def __init__(self, title: str, markdown: str) -> None:
        super().__init__()
        self.title_text = title
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Help — {self.title_text}   (Esc closes)", id="help-title", markup=False)
            with VerticalScroll():
                yield Markdown(self.markdown)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
