"""Modal dialogs of the Lifecycle screen: confirm, edit thresholds, pick a config version."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

# Thresholds a person may edit here, with their type.
EDITABLE: list[tuple[str, type]] = [
    ("calibration_period", int),
    ("sampling_rate_established", float),
    ("trusted_threshold_uses", int),
    ("trusted_threshold_good_ratio", float),
    ("repetition_threshold", int),
    ("promotion_global_good", int),
    ("promotion_library_good", int),
]


class ActionConfirm(ModalScreen[bool]):
    """Yes / no with the details as plain text lines (never markup)."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="dialog.cancel")]

    def __init__(
        self, title: str, lines: list[str], *, confirm: str = "Confirm", allowed: bool = True
    ) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.confirm = confirm
        self.allowed = allowed

    def compose(self) -> ComposeResult:
        with Vertical(id="cp-dialog"):
            yield Static(Text(self.title_text, style="bold"))
            with VerticalScroll(id="cp-text"):
                body = Text()
                for i, line in enumerate(self.lines):
                    style = "red" if line.startswith("✗") else "yellow" if line.startswith("!") else ""
                    body.append(("\n" if i else "") + line, style=style)
                yield Static(body)
            with Horizontal(id="cp-buttons"):
                yield Button("Cancel" if self.allowed else "Close", id="cp-cancel")
                if self.allowed:
                    yield Button(self.confirm, id="cp-ok", variant="primary")

    @on(Button.Pressed, "#cp-ok")
    def _ok(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cp-cancel")
    def _cancel(self) -> None:
        self.dismiss(False)


class ThresholdsDialog(ModalScreen[dict[str, Any] | None]):
    """Edit routing thresholds; returns ``{"reason": …, "changes": {…}}`` or ``None``."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, thresholds: Any, version: int) -> None:
        super().__init__()
        self.thresholds = thresholds
        self.version = version

    def compose(self) -> ComposeResult:
        with Vertical(id="cp-dialog"):
            yield Static(
                Text(
                    f"Routing thresholds (config v{self.version}) — saving creates a new version",
                    style="bold",
                )
            )
            for name, _kind in EDITABLE:
                with Horizontal(classes="cp-row"):
                    yield Label(name)
                    yield Input(str(getattr(self.thresholds, name)), id=f"th-{name}")
            with Horizontal(classes="cp-row"):
                yield Label("reason (logged)")
                yield Input(placeholder="why this change", id="th-reason")
            yield Static(id="th-error")
            with Horizontal(id="cp-buttons"):
                yield Button("Cancel", id="cp-cancel")
                yield Button("Save as new version", id="cp-ok", variant="primary")

    @on(Button.Pressed, "#cp-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#cp-ok")
    def _ok(self) -> None:
        changes: dict[str, Any] = {}
        for name, kind in EDITABLE:
            raw = self.query_one(f"#th-{name}", Input).value.strip()
            try:
                value = kind(raw)
            except ValueError:
                self.query_one("#th-error", Static).update(
                    Text(f"{name}: {raw!r} is not a {kind.__name__}", style="red")
                )
                return
            from conductor_tui.core.rules import threshold_problem

            problem = threshold_problem(name, value)
            if problem:
                self.query_one("#th-error", Static).update(Text(problem, style="red"))
                return
            if value != getattr(self.thresholds, name):
                changes[name] = value
        if not changes:
            self.query_one("#th-error", Static).update(Text("Nothing changed.", style="yellow"))
            return
        reason = self.query_one("#th-reason", Input).value.strip()
        if not reason:
            reason = "thresholds edited in the cockpit: " + ", ".join(f"{k}={v}" for k, v in changes.items())
        self.dismiss({"reason": reason, "changes": changes})


class RollbackDialog(ModalScreen[int | None]):
    """Pick a routing-config version to restore (as a new version)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")]

    def __init__(self, versions: list[tuple[int, str]], current: int) -> None:
        super().__init__()
        self.versions = versions
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="cp-dialog"):
            yield Static(Text(f"Roll back the routing config (current v{self.current})", style="bold"))
            yield Static(
                Text("The chosen version is restored as a new version; no history is lost.", style="dim")
            )
            options = [
                Option(Text(f"v{v}  {desc}"), id=str(v), disabled=v == self.current)
                for v, desc in self.versions
            ]
            yield OptionList(*options, id="rb-list")
            with Horizontal(id="cp-buttons"):
                yield Button("Cancel", id="cp-cancel")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        enabled = [i for i, (v, _d) in enumerate(self.versions) if v != self.current]
        if enabled:
            ol.highlighted = enabled[-1]
        ol.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    @on(Button.Pressed, "#cp-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
