"""The Plan screen's decision keys: approve, reject, undo, approve/reject all, route
elsewhere (handler or role), send to Claude for capacity, and the inline edit bar for a
row's text and note.  Every decision is a new revision, persisted before it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.widgets import Input, Label

from conductor_tui.ui.lazy import lazy_module
from conductor_tui.ui.screens.plan_base import PlanBase
from conductor_tui.ui.widgets.plan_table import PlanTable, handler_problem

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core import records
    from conductor_tui.core.records import PlanRow
    from conductor_tui.ui.screens import dialogs
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    dialogs = lazy_module("conductor_tui.ui.screens.dialogs")  # on the first key that opens one
    records = lazy_module("conductor_tui.core.records")


class PlanDecisions(PlanBase):
    """Keys that decide rows (bound on :class:`~conductor_tui.ui.screens.plan.PlanScreen`)."""

    def disabled_reason(self, action: str) -> str | None:
        """Why a greyed key cannot act now (the palette shows it)."""
        row = self.selected_row
        if row is not None and self.plan is not None:
            number = plan_ops.row_number(self.plan, row.id)
            if action in ("approve", "reject", "undecide") and plan_ops.is_final(row):
                return f"#{number} is {row.status}: its decision is final."
            if action == "approve" and row.status == records.RowStatus.APPROVED:
                return f"#{number} is already approved."
            if action == "reject" and row.status == records.RowStatus.REJECTED:
                return f"#{number} is already rejected."
        if action == "bulk":
            return "No pending rows: every row is decided."
        if action == "choose_plan":
            return "No plans in workflow-plans.jsonl yet."
        if action == "claude_plan":
            return "Claude is planning already."
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_edit":
            return self._editing is not None
        if self._editing:
            return False
        row = self.selected_row
        if action == "capacity_to_claude":
            return row is not None and self._capacity_flag(row) is not None or None
        if action in ("approve", "reject", "undecide", "override", "edit", "note", "run_row"):
            if row is None:
                return False
            if action in ("approve", "reject", "undecide") and plan_ops.is_final(row):
                return None  # shown greyed: a row that ran keeps its decision (the detail says so)
            if action == "approve":
                return row.status != records.RowStatus.APPROVED or None
            if action == "reject":
                return row.status != records.RowStatus.REJECTED or None
            if action == "undecide":
                return row.status in (records.RowStatus.APPROVED, records.RowStatus.REJECTED) or False
            if action == "run_row":
                return self._runnable_row(row)
            return True
        if action == "bulk":
            if self.plan is None:
                return False
            return any(r.status == records.RowStatus.PENDING for r in self.plan.subtasks) or None
        if action == "choose_plan":
            return bool(self.plans) or None
        if action == "claude_plan":
            return not self.planning or None
        return True

    def action_approve(self) -> None:
        row = self.selected_row
        if row is not None:
            before = self.plan
            self._apply(plan_ops.approve, row.id)
            if self.plan is not before:
                self._warn_not_runnable(row)
            self._advance()

    def _warn_not_runnable(self, row: PlanRow) -> None:
        """Approving a row whose ensemble cannot run here: say why and how to fix it."""
        problem = handler_problem(row, self._row_context.catalog)
        if problem is None:
            return
        number = plan_ops.row_number(self.plan, row.id) if self.plan else "?"
        message = f"#{number} approved, but {problem.name} cannot run here: " + (
            problem.problems[0] if problem.problems else "not runnable"
        )
        if problem.first_fix:
            message += f" — fix: {problem.first_fix}"
        self.notify(
            message, title="Approved — not runnable yet", severity="warning", timeout=10, markup=False
        )

    def action_reject(self) -> None:
        row = self.selected_row
        if row is not None:
            self._apply(plan_ops.reject, row.id)
            self._advance()

    def action_undecide(self) -> None:
        row = self.selected_row
        if row is not None:
            self._apply(
                lambda plan, rid, clock: plan_ops.decide(plan, [rid], records.RowStatus.PENDING, clock),
                row.id,
            )

    def _advance(self) -> None:
        """After a decision, move to the next pending row (keeps a fast a/x rhythm)."""
        if self.plan is None:
            return
        table = self.query_one(PlanTable)
        start = table.cursor_row
        rows = self.plan.subtasks
        for index in list(range(start + 1, len(rows))) + list(range(0, start)):
            if rows[index].status == records.RowStatus.PENDING:
                table.move_cursor(row=index)
                return

    def action_bulk(self, status: str) -> None:
        if self.plan is None:
            return
        pending = [r for r in self.plan.subtasks if r.status == records.RowStatus.PENDING]
        verb = "Approve" if status == "approved" else "Reject"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._apply(lambda plan, clock: plan_ops.bulk_decide(plan, records.RowStatus(status), clock))

        self.app.push_screen(
            dialogs.ConfirmDialog(
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

        def done(choice: dialogs.HandlerChoice | None) -> None:
            if choice is None:
                return
            current = self._row(row_id)
            if choice.role:
                if choice.role != current.role or choice.handler != plan_ops.effective_handler(current):
                    self._assign_role(row_id, choice.role)
            elif choice.handler != plan_ops.effective_handler(current):
                self._apply(plan_ops.override_handler, row_id, choice.handler)

        self.app.push_screen(
            dialogs.HandlerPicker(
                f"#{number} {row.description[:60]}",
                plan_ops.handler_label(row),
                self._row_context.catalog,
                roles=self._role_choices,
                current_role=row.role,
            ),
            done,
        )

    def _assign_role(self, row_id: str, role: str) -> None:
        """Route the row by role: a new revision (core.roles.assign_role), persisted first."""
        from conductor_tui.core.roles import assign_role

        if self.plan is None or self._roles is None:
            return
        try:
            new = assign_role(self.plan, row_id, role, self._roles, self.services.clock)
        except (KeyError, plan_ops.PlanError) as exc:
            self.notify(str(exc).strip("'\""), severity="warning")
            return
        self.commit(new)

    def action_capacity_to_claude(self) -> None:
        row = self.selected_row
        if row is None or self.plan is None:
            return
        flag = self._capacity_flag(row)
        if flag is None:
            self.notify("No capacity problem measured for this row: its ensemble fits now.")
            return
        row_id = row.id
        number = plan_ops.row_number(self.plan, row_id)
        reason = str(flag.get("reason") or flag.get("verdict"))

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._apply(plan_ops.send_to_claude_for_capacity, row_id, reason)

        self.app.push_screen(
            dialogs.ConfirmDialog(
                f"Send #{number} to Claude?",
                f"{plan_ops.effective_handler(row)}: {reason}. The row keeps its proposed ensemble "
                "and records the capacity reason.",
            ),
            done,
        )

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
