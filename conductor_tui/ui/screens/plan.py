"""The plan screen: approve, reject, override, edit and annotate a workflow plan row by row.

Every decision becomes a new revision appended to ``workflow-plans.jsonl`` (fsync'd)
before the screen shows it.  New plans and revisions written by the coding session
are picked up by polling the file's size and reading only the appended lines.

The screen is composed of parts with one job each: ``plan_base`` (state, rendering,
revisions), ``plan_decisions`` (the decision keys and the edit bar), ``plan_sources``
(files, typed plans, Claude as planner, templates), ``plan_text`` (help and empty
state) and the ``row_detail`` widget.  This module loads the log and the routing facts
in workers and runs a row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static

from conductor_tui.ui.catalog import Catalog
from conductor_tui.ui.lazy import lazy_module
from conductor_tui.ui.messages import PlansRead, ProfilesRead, RoutingRead
from conductor_tui.ui.screens.plan_base import plan_sort_key
from conductor_tui.ui.screens.plan_decisions import PlanDecisions
from conductor_tui.ui.screens.plan_sources import PlanSources
from conductor_tui.ui.screens.plan_text import EMPTY_TEXT, HELP, NO_KEY_TEXT, READING_TEXT
from conductor_tui.ui.widgets.plan_table import PlanTable
from conductor_tui.ui.widgets.row_detail import RowDetail

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core import store as store_mod
    from conductor_tui.core.records import WorkflowPlan
    from conductor_tui.ui.screens import dialogs
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    store_mod = lazy_module("conductor_tui.core.store")
    dialogs = lazy_module("conductor_tui.ui.screens.dialogs")  # on the first key that opens one

__all__ = ["EMPTY_TEXT", "HELP", "NO_KEY_TEXT", "PlanScreen"]


class PlanScreen(PlanDecisions, PlanSources):
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
            "K",
            "capacity_to_claude",
            "To Claude (capacity)",
            id="plan.capacity",
            show=False,
            tooltip="Send a row whose ensemble would spill or queue to Claude, with that reason",
        ),
        Binding(
            "A",
            "bulk('approved')",
            "Approve all",
            id="plan.approve_all",
            show=False,
            tooltip="Approve every pending row",
        ),
        Binding(
            "X",
            "bulk('rejected')",
            "Reject all",
            id="plan.reject_all",
            show=False,
            tooltip="Reject every pending row",
        ),
        Binding("f", "load_file", "Load", id="plan.load", tooltip="Load a plan from a JSON/YAML file"),
        Binding("t", "type_plan", "New plan", id="plan.type", tooltip="Type a new plan"),
        Binding("c", "choose_plan", "Plans", id="plan.choose", tooltip="Choose among the plans in the log"),
        Binding(
            "M",
            "claude_plan",
            "Claude plan",
            id="plan.claude",
            show=False,
            tooltip="Type a meta-task and let Claude plan it",
        ),
        Binding(
            "T",
            "template",
            "Template",
            id="plan.template",
            show=False,
            tooltip="Start a plan from a workflow template",
        ),
        Binding(
            "escape", "cancel_edit", "Revert", id="plan.cancel_edit", tooltip="Leave the edit bar unsaved"
        ),
    ]

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with Vertical(id="plan-body"):
            yield Static(id="plan-title")
            yield Static(id="plan-activity")
            yield Static(Text(READING_TEXT, style="dim"), id="plan-empty", classes="empty-state")
            yield PlanTable(id="plan-table")
            yield RowDetail(id="row-detail")
            yield Static(id="plan-summary")
        with Horizontal(id="edit-bar"):
            yield Label("", id="edit-label")
            yield Input(id="edit-input", select_on_focus=False)  # cursor at the end, nothing selected

    def on_mount(self) -> None:
        self.query_one("#edit-bar").display = False
        self.query_one(PlanTable)._on_layout = self._render_detail
        self.watch(self.app, "catalog", self._catalog_changed, init=False)
        signals = self.cockpit.signals
        signals.project_changed.subscribe(self, self._project_changed)
        signals.plan_revised.subscribe(self, self.plan_revised)
        self._render_all()
        if self.services.poll_interval > 0:
            # a live cockpit reads the files once the first screen is painted: the reading
            # worker's imports would otherwise compete with that frame for the interpreter
            self.cockpit.after_first_paint(self._first_load)
        else:  # tests and snapshots: the loads start at once, where settling waits for them
            self._first_load()
        interval = self.services.poll_interval
        if interval > 0:
            self.set_interval(min(interval, 1.0), self._check_file, name="plans-watch")

    def _first_load(self) -> None:
        self.load_plans()
        self.load_routing()

    @work(exclusive=True, group="plans-load", thread=True, exit_on_error=False)
    def load_plans(self) -> None:
        """Read the plan log from where we stopped (everything the first time); then the
        task profiles (phases) and the token ratio, which only refine the display."""
        store = self.store
        try:
            result = store.read_plans(self._offset, first_line=self._next_line)
        except Exception as exc:  # unreadable (a directory, no permission): say so, show no plan
            self.notify(f"Cannot read the workflow plans: {exc}", severity="error", timeout=10)
            result = store_mod.ReadResult(end_offset=self._offset, next_line=self._next_line)
        self.post_message(PlansRead(result))
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
        self.post_message(ProfilesRead(phases, ratio))

    @on(ProfilesRead)
    def _profiles_read(self, message: ProfilesRead) -> None:
        self._profiles_loaded = True
        self._row_context.phases = message.phases
        self._ratio = message.ratio
        self._render_all()

    @on(PlansRead)
    def _plans_read(self, message: PlansRead) -> None:
        result = message.result
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
                # name only keys that work where the person is: c is a Plan-screen key
                keys = "c to open it" if self.app.screen is self else "p, then c to open it"
                self.notify(
                    f"New plan from {plan.source or 'the session'}: {plan.meta_task or plan.id} "
                    f"({len(plan.subtasks)} rows) — {keys}",
                    timeout=10,
                    markup=False,
                )
        if self.plan is None and self.plans:
            self.plan = max(self.plans.values(), key=plan_sort_key)
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

    def _project_changed(self, _: None) -> None:
        self.load_plans()
        self.load_routing()

    def _catalog_changed(self, catalog: Catalog) -> None:
        self._row_context.catalog = catalog
        self._render_all()
        self.load_routing()

    @work(exclusive=True, group="plan-routing", thread=True, exit_on_error=False)
    def load_routing(self) -> None:
        """The ensembles' specs (cost multipliers) and the roles with whether each can run."""
        from conductor_tui.core.roles import load_roles, role_choices
        from conductor_tui.engine import loader

        project = self.services.project
        try:
            engine_catalog = loader.load_catalog(project)
        except Exception:
            engine_catalog = None
        try:
            roles = load_roles(project)
            profiles = getattr(engine_catalog, "profiles", None)
            ensembles = {e.name for e in engine_catalog.all_entries()} if engine_catalog else None
            choices = role_choices(roles, profiles, ensembles)
        except Exception:
            roles, choices = None, []
        sizes: dict[str, Any] = {}
        try:  # the model-size ceiling: each ensemble's model sizes (Ollama's parameter_size, else the name)
            from conductor_tui.engine.model_size import size_facts

            config = self.store.load_config()
            facts = size_facts(project, catalog=engine_catalog, thresholds=config.routing_thresholds)
            for entry in engine_catalog.all_entries() if engine_catalog else []:
                fact = facts(entry.name)
                if fact is not None:
                    sizes[entry.name] = fact
        except Exception:
            config = None
        try:
            task_profiles = self.store.load_task_profiles()
        except Exception:
            task_profiles = None
        capacity: dict[str, Any] = {}
        try:  # will it run well right now? (spill to CPU, queue on the host)
            from conductor_tui.handoff.capacity import capacity_facts, capacity_table

            names = [e.name for e in engine_catalog.all_entries()] if engine_catalog else []
            measure = capacity_facts(
                project,
                catalog=engine_catalog,
                store=self.store,
                gpu_samples=self._gpu_samples(),
                probe_gpu=False,
                ollama_host=self.services.ollama_host,
            )
            capacity = capacity_table(measure, names)
        except Exception:
            capacity = {}
        from textual.worker import get_current_worker

        if not get_current_worker().is_cancelled and self.app.is_running:
            self.post_message(
                RoutingRead(engine_catalog, roles, choices, sizes, config, task_profiles, capacity)
            )

    @on(RoutingRead)
    def _routing_read(self, message: RoutingRead) -> None:
        self._capacity = message.capacity
        self._engine_catalog = message.engine_catalog
        self._roles = message.roles
        self._role_choices = message.choices
        self._row_context.sizes = message.sizes
        self._config = message.config
        self._task_profiles = message.task_profiles
        self._render_all()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    # ------------------------------------------------------------------ run

    def action_run_row(self) -> None:
        """Ask for the run's input (the subtask and its note as the default), then run it."""
        row = self.selected_row
        if row is None or self.plan is None or not self._runnable_row(row):
            return
        plan, row_id = self.plan, row.id
        number = plan_ops.row_number(plan, row_id)
        default = row.description + (f"\n\nNote: {row.note}" if row.note else "")
        dialog = dialogs.TextDialog(
            f"Input for #{number} → {plan_ops.handler_label(row)}",
            text=default,
            hint="The subtask is the default input: edit it or add context. ctrl+s runs · Esc cancels",
        )

        async def typed(text: str | None) -> None:
            if text:
                await self.start_row_run(plan, row_id, text)

        self.app.push_screen(dialog, typed)

    async def start_row_run(self, plan: WorkflowPlan, row_id: str, input_text: str | None = None) -> None:
        """Switch to the Run screen and run the row (``input_text`` None: its description)."""
        await self.app.switch_mode("run")
        run_screen = self.app.screen
        start = getattr(run_screen, "run_plan_row", None)
        if start is not None:
            if input_text is None:
                start(plan, row_id)
            else:
                start(plan, row_id, input_text=input_text)
