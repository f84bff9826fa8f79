"""What every part of the Plan screen shares: the plans loaded, the selected row, the
rendering of title, table, summary and detail, and committing a new revision (persisted
first, then shown).  The decision keys (``plan_decisions``), the plan sources
(``plan_sources``) and the screen itself (``plan``) build on :class:`PlanBase`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.widgets import Static

from conductor_tui.ui.lazy import lazy_module
from conductor_tui.ui.messages import PlanRouted
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.screens.plan_text import EMPTY_TEXT
from conductor_tui.ui.widgets.plan_table import PlanTable, RowContext, handler_problem
from conductor_tui.ui.widgets.row_detail import DetailInputs, RowDetail, capacity_flag

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core import records
    from conductor_tui.core.records import PlanRow, WorkflowPlan
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    records = lazy_module("conductor_tui.core.records")

if TYPE_CHECKING:
    from conductor_tui.core.store import ProjectStore


class PlanBase(CockpitScreen):
    """The Plan screen's state and rendering (see :class:`~conductor_tui.ui.screens.plan.PlanScreen`)."""

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
        self._empty_shown = False  # the empty state replaced "Reading …"
        self._engine_catalog: Any = None  # engine EnsembleCatalog (specs) for cost warnings
        self._config: Any = None  # routing config (thresholds) for the repetition line
        self._task_profiles: Any = None  # cross-session frequency for the repetition line
        self._roles: Any = None  # core.roles.RolesConfig
        self._role_choices: list = []
        self.planning = False  # a Claude planning call is under way
        self._last_meta_task = ""  # kept when planning fails: nothing typed is lost
        self.last_build: Any = None  # the last PlanBuild Claude produced here
        self._capacity: dict[str, Any] = {}  # ensemble → core.capacity.Capacity, measured

    # ------------------------------------------------------------------ loading

    @property
    def store(self) -> ProjectStore:
        return self.services.store

    def _cost_warnings(self, plan: WorkflowPlan) -> dict[str, Any]:
        """Rows routed to a propose–judge or fan-out ensemble → its CostMultiplier."""
        if self._engine_catalog is None:
            return {}
        from conductor_tui.core.templates import plan_cost_warnings

        try:
            warnings = plan_cost_warnings(plan, self._engine_catalog)
        except Exception:
            return {}
        from conductor_tui.core.propose_judge import detect_propose_judge

        def declared(name: str) -> bool:
            entry = self._engine_catalog.get(name)
            spec = getattr(entry, "spec", None)
            shape = detect_propose_judge(spec) if spec is not None else None
            return bool(shape is not None and shape.explicit)

        # Marked: declared propose–judge ensembles and fan-outs (a plain map → merge ensemble
        # has the same shape but is not flagged as an ensemble of perspectives).
        return {k: v for k, v in warnings.items() if v.fan_out or (v.proposers and declared(v.ensemble))}

    # ------------------------------------------------------------------ rendering

    def _render_all(self) -> None:
        self._row_context.catalog = self.cockpit.catalog
        table = self.query_one(PlanTable)
        plan = self.plan
        empty = self.query_one("#plan-empty", Static)
        empty.display = plan is None
        if plan is None and self.loaded and not self._empty_shown:
            self._empty_shown = True  # the plans are read and there are none: what to do next
            empty.update(Text(EMPTY_TEXT))
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
        planning = plan.planning_tokens
        if planning:
            head.append(f" · planning: {planning:,} Claude tokens", style="magenta")
        if plan.change:
            head.append(f" · last: {plan.change}", style="dim italic")
        title.update(head)
        self._row_context.costs = self._cost_warnings(plan)
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
        inputs = DetailInputs(
            self._row_context,
            hidden_columns=self.query_one(PlanTable).hidden_columns,
            config=self._config,
            task_profiles=self._task_profiles,
            capacity=self._capacity,
            role_label=self._role_label,
        )
        self.query_one("#row-detail", RowDetail).show(self.plan, self.selected_row, inputs)

    def _gpu_samples(self) -> Any:
        """The cockpit's last GPU poll ([] = no GPU; None = not polled yet: free VRAM unknown)."""
        samples = getattr(self.app, "gpu_samples", None)
        return None if samples is None else list(samples)

    def _capacity_flag(self, row: PlanRow) -> dict[str, Any] | None:
        """The open ensemble row's capacity flag: measured now, else the one the loop wrote."""
        return capacity_flag(row, self._capacity)

    def _role_label(self, role: str) -> str:
        for choice in self._role_choices:
            if choice.role == role:
                return choice.label + ("" if choice.available else f" (✗ {choice.problem})")
        return role

    @property
    def selected_row(self) -> PlanRow | None:
        if self.plan is None:
            return None
        row_id = self.query_one(PlanTable).selected_row_id
        for row in self.plan.subtasks:
            if row.id == row_id:
                return row
        return None

    # ------------------------------------------------------------------ revisions

    def commit(self, new: WorkflowPlan) -> bool:
        """Persist ``new`` (fsync'd append) and only then show it."""
        from conductor_tui.handoff.protocol import append_revision  # the first decision, not launch

        try:
            new = append_revision(self.store, self.plan, new)
        except Exception as exc:
            self.notify(
                f"Not saved — could not write workflow-plans.jsonl: {exc}", severity="error", timeout=10
            )
            return False
        self.plan = new
        self.plans[new.id] = new
        self._render_all()
        self._note_decisions(new)
        return True

    @work(thread=True, group="plan-designer", exit_on_error=False)
    def _note_decisions(self, plan: WorkflowPlan) -> None:
        """Approved ``create-ensemble`` rows hand their task type to the designer (the loop
        writes the ensemble request)."""
        from conductor_tui.core.loop import Conductor

        written = Conductor(
            self.services.project, store=self.store, now=self.services.clock
        ).note_plan_decisions(plan)
        fresh = [a for a in written if a.data.get("plan_id") == plan.id and a.state == "requested"]
        if fresh:
            names = ", ".join(sorted({a.subject for a in fresh}))
            self.notify(  # thread-safe: notify posts a message
                f"Ensemble request for the designer: {names} (Lifecycle → Designer)",
                markup=False,
            )

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

    def _row(self, row_id: str) -> PlanRow:
        assert self.plan is not None
        return next(r for r in self.plan.subtasks if r.id == row_id)

    def _runnable_row(self, row: PlanRow) -> bool:
        if row.status not in (records.RowStatus.APPROVED, records.RowStatus.DONE, records.RowStatus.FAILED):
            return False
        handler = plan_ops.effective_handler(row)
        if plan_ops.handler_kind(handler) != "ensemble":
            return False
        if handler.startswith("role:"):
            # A role row runs on its role's profile/model/ensemble (the run screen resolves it);
            # runnable when the role resolves here and is not Claude.
            role = handler.split(":", 1)[1]
            choice = next((c for c in self._role_choices if c.role == role), None)
            return bool(choice and choice.available and plan_ops.handler_kind(choice.handler) != "claude")
        return (
            handler_problem(row, self._row_context.catalog) is None
            and self._row_context.catalog.get(handler) is not None
        )

    def _set_activity(self, text: Text | str | None, *, error: bool = False) -> None:
        widget = self.query_one("#plan-activity", Static)
        widget.update(text if isinstance(text, Text) else Text(text or ""))
        widget.set_class(bool(text), "-shown")
        widget.set_class(error, "-error")

    @work(thread=True, group="plan-route", exit_on_error=False)
    def route_plan(self, plan_id: str) -> None:
        """Route a plan made here through the conductor loop (rows without a handler get
        one with the live lifecycle state; standing authorisations approve their rows)."""
        from conductor_tui.core.loop import PLANS_LOCK, Conductor
        from conductor_tui.engine.model_size import size_facts
        from conductor_tui.engine.row_run import candidates_for

        services = self.services
        from conductor_tui.handoff.capacity import capacity_facts

        conductor = Conductor(
            services.project,
            store=self.store,
            now=services.clock,
            size_facts=size_facts(services.project),
            capacity_facts=capacity_facts(
                services.project,
                store=self.store,
                gpu_samples=self._gpu_samples(),
                probe_gpu=False,
                ollama_host=services.ollama_host,
            ),
        )
        with self.store.lock(PLANS_LOCK):
            plan = self.store.latest_plan(plan_id)
            if plan is None:
                return
            routed = conductor.route_plan(plan, candidates_for(services.project))
            if routed is plan:
                return
            self.store.append_plan(routed)
        self.post_message(PlanRouted(routed))

    @on(PlanRouted)
    def _plan_routed(self, message: PlanRouted) -> None:
        self.cockpit.signals.plan_revised.publish(message.plan)

    def plan_revised(self, plan: WorkflowPlan) -> None:
        """Another screen appended a revision (e.g. a row's run finished)."""
        current = self.plans.get(plan.id)
        if current is None or plan.revision >= current.revision:
            self.plans[plan.id] = plan
            if self.plan is None or self.plan.id == plan.id:
                self.plan = plan
            if self.is_mounted:
                self._render_all()


def plan_sort_key(plan: WorkflowPlan) -> tuple[float, int]:
    """Newest first when sorted in reverse: the plan's time, then its revision."""
    stamp = plan.timestamp
    return (stamp.timestamp() if isinstance(stamp, datetime) else 0.0, plan.revision)
