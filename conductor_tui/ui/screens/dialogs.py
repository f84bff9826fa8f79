"""Small modal screens: handler picker, confirmation, plan chooser, load a file, type a plan,
text input.  Each dismisses with its result (``None`` = cancelled)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    role: str | None = None  # set when the person chose a role (core.roles.assign_role)


OPTION_WIDTH = 72  # what fits on one line of an option in an 80-column dialog


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)].rstrip() + "…"


def problem_text(problem, project=None) -> str:
    """``file:line: message (fix: …)`` with the file relative to the project when inside it."""
    path = getattr(problem, "path", None)
    message = getattr(problem, "message", None)
    if message is None:
        return str(problem)
    where = ""
    if path is not None:
        shown = str(path)
        if project is not None:
            try:
                shown = str(Path(path).resolve().relative_to(Path(project).resolve()))
            except ValueError:
                pass
        line = getattr(problem, "line", None)
        where = f"{shown}:{line}: " if line else f"{shown}: "
    fix = getattr(problem, "fix", None)
    return f"{where}{message}" + (f" (fix: {fix})" if fix else "")


def short_problem(choice) -> str:
    """``role "backend": profile "x" not found (fix: …)`` → ``profile "x" not found``."""
    text = str(choice.problem or "cannot run here")
    text = text.split(" (fix:")[0]
    prefix = f'role "{choice.role}": '
    if prefix in text:
        text = text.split(prefix, 1)[1]
    return text


class HandlerPicker(_Dialog):
    """Pick a handler: runnable ensembles, Claude, request a new ensemble, then the roles
    (``core.roles.role_choices``); roles that cannot run here are listed greyed with their problem."""

    def __init__(
        self,
        row_label: str,
        current: str,
        catalog: Catalog,
        *,
        ensembles_only: bool = False,
        roles: list | None = None,
        current_role: str | None = None,
    ) -> None:
        super().__init__()
        self.ensembles_only = ensembles_only
        self.row_label = row_label
        self.current = current
        self.catalog = catalog
        self.roles = list(roles or [])
        self.current_role = current_role

    def _role_options(self) -> list[Option]:
        options: list[Option] = []
        for choice in self.roles:
            if choice.builtin and not choice.available:
                continue  # a default role whose profile is missing here: not worth offering
            prompt = Text("role ", style="dim")
            if choice.available:
                prompt.append(choice.label, style="bold cyan")
                if choice.description:
                    prompt.append(f"  {choice.description[:50]}", style="italic dim")
            else:
                prompt.append(choice.label, style="dim strike")
                prompt.append(f"  ✗ {short_problem(choice)}", style="dim yellow")
            options.append(Option(prompt, id=f"r:{choice.role}", disabled=not choice.available))
        return options

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for name in self.catalog.runnable_names():
            info = self.catalog.ensembles[name]
            prompt = Text(name, style="bold")
            if info.tier:
                prompt.append(f"  {info.tier}", style="dim")
            if info.description:
                room = max(10, OPTION_WIDTH - len(prompt.plain) - 2)
                prompt.append(f"  {_clip(info.description, room)}", style="italic dim")
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
            options.extend(self._role_options())
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
        wanted = (f"r:{self.current_role}",) if self.current_role else (f"e:{self.current}", self.current)
        for index in range(options.option_count):
            option = options.get_option_at_index(index)
            if option.id in wanted and not option.disabled:
                options.highlighted = index
                break
        else:
            first = next(
                (i for i in range(options.option_count) if not options.get_option_at_index(i).disabled), 0
            )
            options.highlighted = first

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("r:"):
            role = option_id[2:]
            handler = next((c.handler for c in self.roles if c.role == role), role)
            self.dismiss(HandlerChoice(handler, role=role))
        elif option_id.startswith("e:"):
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
            # the cursor at the end of a prefilled value, never the whole value selected
            yield Input(
                value=self.value, placeholder=self.placeholder, id="prompt-input", select_on_focus=False
            )
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
                    value=self.title_input,
                    placeholder="Meta-task (what the plan is for) — Enter or Tab goes to the subtasks",
                    id="text-title",
                    select_on_focus=False,
                )
            yield TextArea(self.text, id="text-body", soft_wrap=True)
            yield Static(Text(self.hint or "ctrl+s submits · Esc cancels", style="dim"), id="text-hint")

    def on_mount(self) -> None:
        # the first field first: the meta-task when the dialog asks for one, else the text
        if self.title_input is not None:
            self.query_one("#text-title", Input).focus()
        else:
            body = self.query_one("#text-body", TextArea)
            body.focus()
            body.move_cursor(body.document.end)

    @on(Input.Submitted, "#text-title")
    def _title_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#text-body", TextArea).focus()  # Enter in the one-line field goes on

    def action_submit(self) -> None:
        body = self.query_one("#text-body", TextArea).text
        if not body.strip():
            self.show_error("Nothing to submit yet.")
            return
        title = self.query_one("#text-title", Input).value if self.title_input is not None else None
        self.dismiss((title, body) if self.title_input is not None else body)

    def show_error(self, message: str) -> None:
        self.query_one("#text-hint", Static).update(Text(message, style="bold red"))


class TemplatePicker(_Dialog):
    """Choose a workflow template (``core.templates.list_templates``); broken ones are listed,
    greyed, with their file:line problem."""

    def __init__(self, entries: list, project=None) -> None:
        super().__init__()
        self.entries = entries
        self.project = project

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        broken: list = []
        for entry in self.entries:
            if entry.valid:
                template = entry.template
                prompt = Text(entry.name, style="bold")
                prompt.append(f"  {entry.tier}", style="dim")
                prompt.append(f"  {len(template.phases)} phases", style="dim")
                if template.description:
                    prompt.append(f"\n  {_clip(template.description, OPTION_WIDTH - 2)}", style="italic dim")
                options.append(Option(prompt, id=f"t:{entry.name}"))
            else:
                broken.append(entry)
        for entry in broken:
            prompt = Text(entry.name, style="dim strike")
            prompt.append(f"  {entry.tier} · cannot be used", style="dim")
            for problem in entry.problems[:2]:
                prompt.append("\n  ✗ ", style="yellow")
                prompt.append(problem_text(problem, self.project), style="dim yellow")
            options.append(Option(prompt, id=f"x:{entry.name}", disabled=True))
        with Vertical(classes="dialog"):
            yield Label("Workflow templates", classes="dialog-title")
            if options:
                yield OptionList(*options, id="template-options")
            else:
                yield Static(Text("No workflow templates found.", style="dim"))
            yield Static(
                Text(
                    "Enter chooses · Esc cancels · your own go in .llm-orc/workflows/*.yaml",
                    style="dim",
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        if self.query(OptionList):
            options = self.query_one(OptionList)
            options.highlighted = 0 if options.option_count else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("t:"):
            self.dismiss(option_id[2:])


class TemplateParamsDialog(_Dialog):
    """The meta-task and the template's parameters.  Enter in the last field (or ctrl+s) submits
    ``(meta_task, {param: value})``; Esc cancels."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", id="template.submit", priority=True),
        Binding("escape", "cancel", "Cancel", id="template.cancel"),
    ]

    def __init__(self, template, meta_task: str = "") -> None:
        super().__init__()
        self.template = template
        self.meta_task = meta_task

    def compose(self) -> ComposeResult:
        template = self.template
        with Vertical(classes="dialog"):
            yield Label(Text.assemble("Plan from template ", (template.name, "bold")), classes="dialog-title")
            phases = " → ".join(f"{p.name} ({p.type})" for p in template.phases)
            yield Static(Text(phases, style="dim"), classes="dialog-note")
            yield Input(value=self.meta_task, placeholder="Meta-task (what the plan is for)", id="tp-task")
            for name, spec in template.parameters.items():
                desc = str(spec.get("description") or name)
                default = spec.get("default")
                placeholder = f"{name}: {desc}" + (
                    f" (default {default})" if default not in (None, "") else ""
                )
                yield Input(placeholder=placeholder, id=f"tp-param-{name}", classes="template-param")
            yield Static(
                Text("Enter moves on / submits · ctrl+s submits · Esc cancels", style="dim"), id="tp-hint"
            )

    def on_mount(self) -> None:
        self.query_one("#tp-task", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input) if event.input in inputs else len(inputs) - 1
        if index < len(inputs) - 1:
            inputs[index + 1].focus()
        else:
            self.action_submit()

    def action_submit(self) -> None:
        task = self.query_one("#tp-task", Input).value.strip()
        if not task:
            self.query_one("#tp-hint", Static).update(Text("The meta-task is required.", style="bold red"))
            self.query_one("#tp-task", Input).focus()
            return
        params = {}
        for name in self.template.parameters:
            value = self.query_one(f"#tp-param-{name}", Input).value.strip()
            if value:
                params[name] = value
        self.dismiss((task, params))
