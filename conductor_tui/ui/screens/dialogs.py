"""Small modal screens: handler picker, confirmation, plan chooser, load a file, type a plan,
text input.  Each dismisses with its result (``None`` = cancelled)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from conductor_tui.core import plan as plan_ops
from conductor_tui.ui.catalog import Catalog

REQUEST_NEW = plan_ops.CREATE_ENSEMBLE


class _Dialog(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass
class HandlerChoice:
    handler: str


class HandlerPicker(_Dialog):
    """Pick a handler: runnable ensembles, Claude, or request a new ensemble."""

    def __init__(
        self, row_label: str, current: str, catalog: Catalog, *, ensembles_only: bool = False
    ) -> None:
        super().__init__()
        self.ensembles_only = ensembles_only
        self.row_label = row_label
        self.current = current
        self.catalog = catalog

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for name in self.catalog.runnable_names():
            info = self.catalog.ensembles[name]
            prompt = Text(name, style="bold")
            if info.tier:
                prompt.append(f"  {info.tier}", style="dim")
            if info.description:
                prompt.append(f"  {info.description[:60]}", style="italic dim")
            options.append(Option(prompt, id=f"e:{name}"))
        not_runnable = [n for n in self.catalog.all_names() if not self.catalog.ensembles[n].runnable]
        if not self.ensembles_only:
            options.append(
                Option(
                    Text.assemble(("Claude", "bold magenta"), ("  handle it in the session", "dim")),
                    id="claude",
                )
            )
            options.append(
                Option(
                    Text.assemble(
                        ("Request new ensemble", "bold yellow"), ("  design phase (create ensemble)", "dim")
                    ),
                    id="create",
                )
            )
        with Vertical(classes="dialog"):
            title = "Ensemble for " if self.ensembles_only else "Handler for "
            yield Label(Text.assemble(title, (self.row_label, "bold")), classes="dialog-title")
            if self.current:
                yield Static(Text(f"now: {self.current}", style="dim"))
            yield OptionList(*options, id="handler-options")
            if not_runnable:
                yield Static(
                    Text(f"Not runnable here (not offered): {', '.join(not_runnable)}", style="dim yellow"),
                    classes="dialog-note",
                )
            yield Static(Text("Enter chooses · Esc cancels", style="dim"), classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for index in range(options.option_count):
            option = options.get_option_at_index(index)
            if option.id in (f"e:{self.current}", self.current):
                options.highlighted = index
                break
        else:
            options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("e:"):
            self.dismiss(HandlerChoice(option_id[2:]))
        elif option_id == "claude":
            self.dismiss(HandlerChoice(plan_ops.CLAUDE))
        else:
            self.dismiss(HandlerChoice(REQUEST_NEW))


class ConfirmDialog(_Dialog):
    """Yes / no.  ``y`` / Enter confirms, ``n`` / Esc cancels."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n,escape", "cancel", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-small"):
            yield Label(Text(self.question, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(Text(self.detail))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="primary", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PlanChooser(_Dialog):
    """Choose among the plans in workflow-plans.jsonl (newest first)."""

    def __init__(self, plans: list, current: str | None) -> None:
        super().__init__()
        self.plans = plans
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for plan in self.plans:
            summary = plan_ops.summarize(plan)
            when = plan.timestamp.strftime("%Y-%m-%d %H:%M") if hasattr(plan.timestamp, "strftime") else ""
            prompt = Text(plan.meta_task or plan.id, style="bold")
            prompt.append(
                f"\n  {len(plan.subtasks)} rows · rev {plan.revision} · {plan.status} · "
                f"{summary.decisions_line()} · {plan.source or '?'} · {when}",
                style="dim",
            )
            options.append(Option(prompt, id=plan.id))
        with Vertical(classes="dialog"):
            yield Label("Plans in workflow-plans.jsonl", classes="dialog-title")
            yield OptionList(*options, id="plan-options")
            yield Static(Text("Enter opens · Esc cancels", style="dim"), classes="dialog-hint")

    def on_mount(self) -> None:
        ids = [p.id for p in self.plans]
        if self.current in ids:
            self.query_one(OptionList).highlighted = ids.index(self.current)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PromptDialog(_Dialog):
    """One line of text (a file path, …).  Enter submits, Esc cancels."""

    def __init__(self, title: str, placeholder: str = "", value: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-small"):
            yield Label(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static(Text(self.hint or "Enter submits · Esc cancels", style="dim"), id="prompt-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def show_error(self, message: str) -> None:
        self.query_one("#prompt-hint", Static).update(Text(message, style="bold red"))


class TextDialog(_Dialog):
    """Several lines of text (a new plan, a run's input).  ctrl+s submits, Esc cancels."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", id="text.submit", priority=True),
        Binding("escape", "cancel", "Cancel", id="text.cancel"),
    ]

    def __init__(self, title: str, text: str = "", hint: str = "", title_input: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.hint = hint
        self.title_input = title_input

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-tall"):
            yield Label(Text(self.title_text, style="bold"), classes="dialog-title")
            if self.title_input is not None:
                yield Input(
                    value=self.title_input, placeholder="Meta-task (what the plan is for)", id="text-title"
                )
            yield TextArea(self.text, id="text-body", soft_wrap=True)
            yield Static(Text(self.hint or "ctrl+s submits · Esc cancels", style="dim"), id="text-hint")

    def on_mount(self) -> None:
        self.query_one("#text-body", TextArea).focus()

    def action_submit(self) -> None:
        body = self.query_one("#text-body", TextArea).text
        if not body.strip():
            self.show_error("Nothing to submit yet.")
            return
        title = self.query_one("#text-title", Input).value if self.title_input is not None else None
        self.dismiss((title, body) if self.title_input is not None else body)

    def show_error(self, message: str) -> None:
        self.query_one("#text-hint", Static).update(Text(message, style="bold red"))
