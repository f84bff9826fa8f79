"""The plan screen: approve, reject, override, edit and annotate a workflow plan row by row.

Every decision becomes a new revision appended to ``workflow-plans.jsonl`` (fsync'd)
before the screen shows it.  New plans and revisions written by the coding session
are picked up by polling the file's size and reading only the appended lines.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static

from conductor_tui.core import plan as plan_ops
from conductor_tui.core.records import RowStatus, WorkflowPlan
from conductor_tui.ui.catalog import Catalog
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.screens.dialogs import (
    ConfirmDialog,
    HandlerChoice,
    HandlerPicker,
    PlanChooser,
    PromptDialog,
    TextDialog,
)
from conductor_tui.ui.widgets.plan_table import PlanTable, RowContext, handler_problem

HELP = """
## Plan

A workflow plan splits a meta-task into subtasks, each routed to a local ensemble, to a
new ensemble still to be designed, or to Claude (seed 001, Workflow Planning).  Plans
arrive from the coding session through `.llm-orc/evaluations/workflow-plans.jsonl`, from
a file (`f`), or typed here (`t`).

Decide row by row.  **Every decision is written at once as a new revision of the plan**
(nothing is lost if the terminal closes) and the session reads it back.

Columns: **DAG** shows the four conditions of the decomposability test
(DAG-decomposable, script-absorbable, fan-out-parallelizable, structured-synthesizable:
✓ pass, ✗ fail, · unknown).  **Phase** is the lifecycle phase of that task type.
**Local / Claude** are estimated tokens.  ⚠ marks a handler that cannot run here; the
line under the table says how to fix it.  `*` marks an overridden handler.
"""

EMPTY_TEXT = """No workflow plan yet.

  t  type a plan here (one subtask per line, e.g. "Extract endpoints → extract-endpoints (agent)")
  f  load a plan from a file (JSON or YAML: a plan or a list of subtasks)
  c  choose another plan from workflow-plans.jsonl

Or let the coding session submit one: it lands in .llm-orc/evaluations/workflow-plans.jsonl
and shows up here on its own."""


class PlanScreen(CockpitScreen):
    MODE = "plan"
    HELP = HELP
    BINDINGS = [
        Binding("a", "approve", "Approve", id="plan.approve", tooltip="Approve the selected row"),
        Binding("x", "reject", "Reject", id="plan.reject", tooltip="Reject the selected row"),
        Binding("u", "undecide", "Undo", id="plan.undecide", tooltip="Set the selected row back to pending"),
        Binding("o", "override", "Handler", id="plan.override", tooltip="Route the row elsewhere"),
        Binding("i", "edit", "Edit", id="plan.edit", tooltip="Edit the subtask text"),
        Binding("n", "note", "Note", id="plan.note", tooltip="Attach a note to the row"),
        Binding("g", "run_row", "Run", id="plan.run", tooltip="Run the approved row's ensemble"),
        Binding(
            "A", "bulk('approved')", "Approve all", id="plan.approve_all", tooltip="Approve every pending row"
        ),
        Binding(
            "X", "bulk('rejected')", "Reject all", id="plan.reject_all", tooltip="Reject every pending row"
        ),
        Binding("f", "load_file", "Load", id="plan.load", tooltip="Load a plan from a JSON/YAML file"),
        Binding("t", "type_plan", "New plan", id="plan.type", tooltip="Type a new plan"),
        Binding("c", "choose_plan", "Plans", id="plan.choose", tooltip="Choose among the plans in the log"),
        Binding(
            "escape", "cancel_edit", "Revert", id="plan.cancel_edit", tooltip="Leave the edit bar unsaved"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: WorkflowPlan | None = None
        self.plans: dict[str, WorkflowPlan] = {}
        self._offset = 0
        self._next_line = 1
        self._editing: str | None = None  # "edit" | "note"
        self._edit_row: str | None = None
        self._row_context = RowContext()
        self._profiles_loaded = False
        self._ratio: float | None = None
        self.loaded = False

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with Vertical(id="plan-body"):
            yield Static(id="plan-title")
            yield Static(Text(EMPTY_TEXT), id="plan-empty", classes="empty-state")
            yield PlanTable(id="plan-table")
            yield Static(id="row-detail")
            yield Static(id="plan-summary")
        with Horizontal(id="edit-bar"):
            yield Label("", id="edit-label")
            yield Input(id="edit-input")

    def on_mount(self) -> None:
        self.query_one("#edit-bar").display = False
        self.watch(self.app, "catalog", self._catalog_changed, init=False)
        self._render_all()
        self.load_plans()
        interval = self.services.poll_interval
        if interval > 0:
            self.set_interval(min(interval, 1.0), self._check_file, name="plans-watch")

    # ------------------------------------------------------------------ loading

    @property
    def store(self):
        return self.services.store

    @work(exclusive=True, group="plans-load", thread=True, exit_on_error=False)
    def load_plans(self) -> None:
        """Read the plan log from where we stopped (everything the first time); then the
        task profiles (phases) and the token ratio, which only refine the display."""
        store = self.store
        result = store.read_plans(self._offset, first_line=self._next_line)
        self.app.call_from_thread(self._plans_read, result)
        if self._profiles_loaded:
            return
        phases: dict[str, str] = {}
        try:
            profiles = store.load_task_profiles()
            for name, profile in profiles.profiles.items():
                if profile.phase:
                    phases[name] = str(getattr(profile.phase, "value", profile.phase))
        except Exception:
            pass
        ratio = None
        try:
            ratio = plan_ops.local_to_claude_ratio(store.load_config().routing_thresholds)
        except Exception:
            pass
        self.app.call_from_thread(self._profiles_read, phases, ratio)

    def _profiles_read(self, phases: dict[str, str], ratio: float | None) -> None:
        self._profiles_loaded = True
        self._row_context.phases = phases
        self._ratio = ratio
        self._render_all()

    def _plans_read(self, result) -> None:
        self._offset = result.end_offset
        self._next_line = result.next_line
        if result.skipped_count:
            self.notify(
                f"workflow-plans.jsonl: skipped {result.skipped_count} unreadable line(s) "
                f"(first: line {result.skipped[0]})",
                severity="warning",
            )
        arrived: list[WorkflowPlan] = []
        for plan in result.records:
            current = self.plans.get(plan.id)
            if current is None and self.loaded and plan.id not in {p.id for p in arrived}:
                arrived.append(plan)
            if current is None or plan.revision >= current.revision:
                self.plans[plan.id] = plan
        for plan in arrived:
            if self.plan is not None and plan.id != self.plan.id:
                self.notify(
                    f"New plan from {plan.source or 'the session'}: {plan.meta_task or plan.id} "
                    f"({len(plan.subtasks)} rows) — c to open it",
                    timeout=10,
                )
        if self.plan is None and self.plans:
            self.plan = max(self.plans.values(), key=_plan_sort_key)
        elif self.plan is not None and self.plan.id in self.plans:
            newest = self.plans[self.plan.id]
            if newest.revision > self.plan.revision:
                self.plan = newest
                self.notify(
                    f"Plan updated by the session (revision {newest.revision}: {newest.change or ''})"
                )
        self.loaded = True
        self._render_all()

    def _check_file(self) -> None:
        try:
            size = self.store.plans_path.stat().st_size
        except OSError:
            return
        if size != self._offset:
            if size < self._offset:  # truncated or replaced: read it again
                self._offset, self._next_line = 0, 1
            self.load_plans()

    def on_project_changed(self) -> None:
        self.load_plans()

    def _catalog_changed(self, catalog: Catalog) -> None:
        self._row_context.catalog = catalog
        self._render_all()

    # ------------------------------------------------------------------ rendering

    def _render_all(self) -> None:
        self._row_context.catalog = self.app.catalog  # type: ignore[attr-defined]
        table = self.query_one(PlanTable)
        plan = self.plan
        self.query_one("#plan-empty").display = plan is None
        table.display = plan is not None
        self.query_one("#plan-summary").display = plan is not None
        self.query_one("#row-detail").display = plan is not None
        title = self.query_one("#plan-title", Static)
        if plan is None:
            title.update(Text("Plan", style="bold"))
            self.refresh_bindings()
            return
        head = Text("Plan: ", style="bold")
        head.append(plan.meta_task or plan.id, style="bold")
        head.append(f"   rev {plan.revision} · {plan.status} · from {plan.source or '?'}", style="dim")
        if len(self.plans) > 1:
            head.append(f" · {len(self.plans)} plans (c)", style="dim")
        if plan.change:
            head.append(f" · last: {plan.change}", style="dim italic")
        title.update(head)
        table.show(plan, self._row_context)
        self._render_summary()
        self._render_detail()
        self.refresh_bindings()

    def _render_summary(self) -> None:
        plan = self.plan
        if plan is None:
            return
        summary = plan_ops.summarize(plan, self._ratio)
        text = Text("Summary: ", style="bold")
        text.append(summary.line())
        text.append("\n")
        text.append(summary.create_line())
        text.append("\n")
        text.append(summary.savings_line(), style="green")
        text.append(" · ")
        text.append(summary.decisions_line(), style="bold" if summary.pending == 0 else "")
        worth, reason = plan_ops.worth_planning(plan)
        if not worth:
            text.append(f" · complexity floor: {reason}", style="yellow")
        self.query_one("#plan-summary", Static).update(text)

    def _render_detail(self) -> None:
        detail = self.query_one("#row-detail", Static)
        row = self.selected_row
        if row is None or self.plan is None:
            detail.update("")
            return
        number = plan_ops.row_number(self.plan, row.id)
        text = Text(f"#{number} ", style="bold")
        text.append(row.description)
        extras: list[Text] = []
        problem = handler_problem(row, self._row_context.catalog)
        if problem is not None:
            line = Text("⚠ not runnable: ", style="bold yellow")
            line.append(problem.problems[0] if problem.problems else problem.name)
            if problem.first_fix:
                line.append("  fix: ", style="bold")
                line.append(problem.first_fix, style="bold cyan")
            extras.append(line)
        facts = []
        if row.claude_only_criterion:
            facts.append(f"criterion: {row.claude_only_criterion}")
        if row.preparation_ensemble:
            facts.append(f"prepared by: {row.preparation_ensemble}")
        if row.depends_on:
            facts.append("depends on: " + ", ".join(row.depends_on))
        if row.original_handler and row.original_handler != plan_ops.effective_handler(row):
            facts.append(f"proposed: {row.original_handler}")
        if row.routing_id:
            facts.append(f"run: {row.routing_id}")
        if facts:
            extras.append(Text(" · ".join(facts), style="dim"))
        if row.note:
            extras.append(Text.assemble(("✎ note: ", "yellow"), row.note))
        for line in extras:
            text.append("\n")
            text.append_text(line)
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    @property
    def selected_row(self):
        if self.plan is None:
            return None
        row_id = self.query_one(PlanTable).selected_row_id
        for row in self.plan.subtasks:
            if row.id == row_id:
                return row
        return None

    # ------------------------------------------------------------------ decisions

    def commit(self, new: WorkflowPlan) -> bool:
        """Persist ``new`` (fsync'd append) and only then show it."""
        try:
            self.store.append_plan(new)
        except Exception as exc:
            self.notify(
                f"Not saved — could not write workflow-plans.jsonl: {exc}", severity="error", timeout=10
            )
            return False
        self.plan = new
        self.plans[new.id] = new
        self._render_all()
        return True

    def _apply(self, operation, *args) -> None:
        if self.plan is None:
            return
        try:
            new = operation(self.plan, *args, self.services.clock)
        except plan_ops.PlanError as exc:
            if str(exc) != "unchanged":
                self.notify(str(exc), severity="warning")
            return
        self.commit(new)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_edit":
            return self._editing is not None
        if self._editing:
            return False
        row = self.selected_row
        if action in ("approve", "reject", "undecide", "override", "edit", "note", "run_row"):
            if row is None:
                return False
            if action == "approve":
                return row.status != RowStatus.APPROVED or None
            if action == "reject":
                return row.status != RowStatus.REJECTED or None
            if action == "undecide":
                return row.status in (RowStatus.APPROVED, RowStatus.REJECTED) or False
            if action == "run_row":
                return self._runnable_row(row)
            return True
        if action == "bulk":
            if self.plan is None:
                return False
            return any(r.status == RowStatus.PENDING for r in self.plan.subtasks) or None
        if action == "choose_plan":
            return bool(self.plans) or None
        return True

    def _runnable_row(self, row) -> bool:
        if row.status not in (RowStatus.APPROVED, RowStatus.DONE, RowStatus.FAILED):
            return False
        handler = plan_ops.effective_handler(row)
        if plan_ops.handler_kind(handler) != "ensemble":
            return False
        return (
            handler_problem(row, self._row_context.catalog) is None
            and self._row_context.catalog.get(handler) is not None
        )

    def action_approve(self) -> None:
        row = self.selected_row
        if row is not None:
            self._apply(plan_ops.approve, row.id)
            self._advance()

    def action_reject(self) -> None:
        row = self.selected_row
        if row is not None:
            self._apply(plan_ops.reject, row.id)
            self._advance()

    def action_undecide(self) -> None:
        row = self.selected_row
        if row is not None:
            self._apply(
                lambda plan, rid, clock: plan_ops.decide(plan, [rid], RowStatus.PENDING, clock), row.id
            )

    def _advance(self) -> None:
        """After a decision, move to the next pending row (keeps a fast a/x rhythm)."""
        if self.plan is None:
            return
        table = self.query_one(PlanTable)
        start = table.cursor_row
        rows = self.plan.subtasks
        for index in list(range(start + 1, len(rows))) + list(range(0, start)):
            if rows[index].status == RowStatus.PENDING:
                table.move_cursor(row=index)
                return

    def action_bulk(self, status: str) -> None:
        if self.plan is None:
            return
        pending = [r for r in self.plan.subtasks if r.status == RowStatus.PENDING]
        verb = "Approve" if status == "approved" else "Reject"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._apply(lambda plan, clock: plan_ops.bulk_decide(plan, RowStatus(status), clock))

        self.app.push_screen(
            ConfirmDialog(
                f"{verb} all {len(pending)} pending rows?",
                "Rows already decided keep their decision. Each decision is written to workflow-plans.jsonl.",
            ),
            done,
        )

    def action_override(self) -> None:
        row = self.selected_row
        if row is None or self.plan is None:
            return
        row_id = row.id
        number = plan_ops.row_number(self.plan, row_id)

        def done(choice: HandlerChoice | None) -> None:
            if choice is not None and choice.handler != plan_ops.effective_handler(self._row(row_id)):
                self._apply(plan_ops.override_handler, row_id, choice.handler)

        self.app.push_screen(
            HandlerPicker(
                f"#{number} {row.description[:60]}", plan_ops.handler_label(row), self._row_context.catalog
            ),
            done,
        )

    def _row(self, row_id: str):
        assert self.plan is not None
        return next(r for r in self.plan.subtasks if r.id == row_id)

    # ------------------------------------------------------------------ inline edit bar

    def action_edit(self) -> None:
        self._start_edit("edit")

    def action_note(self) -> None:
        self._start_edit("note")

    def _start_edit(self, kind: str) -> None:
        row = self.selected_row
        if row is None or self.plan is None:
            return
        self._editing = kind
        self._edit_row = row.id
        number = plan_ops.row_number(self.plan, row.id)
        label = f" Edit #{number} (Enter saves) " if kind == "edit" else f" Note #{number} (Enter saves) "
        self.query_one("#edit-label", Label).update(label)
        field = self.query_one("#edit-input", Input)
        field.value = row.description if kind == "edit" else (row.note or "")
        field.placeholder = "subtask text" if kind == "edit" else "a note for the session (empty clears it)"
        self.query_one("#edit-bar").display = True
        field.focus()
        field.cursor_position = len(field.value)
        self.refresh_bindings()

    def _end_edit(self) -> None:
        self._editing = None
        self._edit_row = None
        self.query_one("#edit-bar").display = False
        self.query_one(PlanTable).focus()
        self.refresh_bindings()

    @on(Input.Submitted, "#edit-input")
    def _edit_submitted(self, event: Input.Submitted) -> None:
        kind, row_id = self._editing, self._edit_row
        self._end_edit()
        if row_id is None:
            return
        if kind == "edit":
            self._apply(plan_ops.edit_description, row_id, event.value)
        elif kind == "note":
            if (self._row(row_id).note or "") != event.value.strip():
                self._apply(plan_ops.attach_note, row_id, event.value)

    def action_cancel_edit(self) -> None:
        self._end_edit()  # Esc reverts: nothing was written

    # ------------------------------------------------------------------ other plans

    def action_load_file(self) -> None:
        dialog = PromptDialog(
            "Load a plan from a file",
            placeholder="path/to/plan.yaml (JSON or YAML: a plan or a list of subtasks)",
            hint="Enter loads · Esc cancels · relative paths are from the project",
        )

        def submitted(value: str | None) -> None:
            if value:
                self._load_file(value)

        self.app.push_screen(dialog, submitted)

    def _load_file(self, value: str) -> None:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.services.project / path
        try:
            plan = plan_ops.load_plan_file(path, clock=self.services.clock)
        except plan_ops.PlanError as exc:
            self.notify(str(exc), title="Plan not loaded", severity="error", timeout=12)
            return
        if self.commit(plan):
            self.notify(f"Loaded {len(plan.subtasks)} subtasks from {path.name}")

    def action_type_plan(self) -> None:
        hint = (
            'One subtask per line, optionally "description → handler (category)"; '
            "handler = ensemble name, Claude or create ensemble. ctrl+s saves · Esc cancels"
        )
        dialog = TextDialog("Type a new plan", hint=hint, title_input="")

        def submitted(value) -> None:
            if not value:
                return
            title, body = value
            try:
                plan = plan_ops.plan_from_text(body, meta_task=title or None, clock=self.services.clock)
            except plan_ops.PlanError as exc:
                self.notify(str(exc), severity="error")
                return
            if self.commit(plan):
                self.notify(f"New plan with {len(plan.subtasks)} subtasks saved")

        self.app.push_screen(dialog, submitted)

    def action_choose_plan(self) -> None:
        plans = sorted(self.plans.values(), key=_plan_sort_key, reverse=True)

        def chosen(plan_id: str | None) -> None:
            if plan_id and plan_id in self.plans:
                self.plan = self.plans[plan_id]
                self._render_all()

        self.app.push_screen(PlanChooser(plans, self.plan.id if self.plan else None), chosen)

    # ------------------------------------------------------------------ run

    async def action_run_row(self) -> None:
        row = self.selected_row
        if row is None or self.plan is None or not self._runnable_row(row):
            return
        plan, row_id = self.plan, row.id
        await self.app.switch_mode("run")
        run_screen = self.app.screen
        start = getattr(run_screen, "run_plan_row", None)
        if start is not None:
            start(plan, row_id)

    def plan_revised(self, plan: WorkflowPlan) -> None:
        """Another screen appended a revision (e.g. a row's run finished)."""
        current = self.plans.get(plan.id)
        if current is None or plan.revision >= current.revision:
            self.plans[plan.id] = plan
            if self.plan is None or self.plan.id == plan.id:
                self.plan = plan
            if self.is_mounted:
                self._render_all()


def _plan_sort_key(plan: WorkflowPlan):
    stamp = plan.timestamp
    return (stamp.timestamp() if hasattr(stamp, "timestamp") else 0.0, plan.revision)
