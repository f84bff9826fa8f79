"""The plan screen: approve, reject, override, edit and annotate a workflow plan row by row.

Every decision becomes a new revision appended to ``workflow-plans.jsonl`` (fsync'd)
before the screen shows it.  New plans and revisions written by the coding session
are picked up by polling the file's size and reading only the appended lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static

from conductor_tui.core import plan as plan_ops
from conductor_tui.core.records import RowStatus, WorkflowPlan
from conductor_tui.handoff.protocol import append_revision
from conductor_tui.ui.catalog import Catalog
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.screens.dialogs import (
    ConfirmDialog,
    HandlerChoice,
    HandlerPicker,
    PlanChooser,
    PromptDialog,
    TemplateParamsDialog,
    TemplatePicker,
    TextDialog,
)
from conductor_tui.ui.widgets.plan_table import PlanTable, RowContext, handler_problem, hidden_facts

HELP = """
## Plan

A workflow plan splits a meta-task into subtasks, each routed to a local ensemble, to a
new ensemble still to be designed, or to Claude (see the glossary: meta-task).  Plans
arrive from the coding session through `.llm-orc/evaluations/workflow-plans.jsonl`, from
a file (`f`), or typed here (`t`).

Decide row by row.  **Every decision is written at once as a new revision of the plan**
(nothing is lost if the terminal closes) and the session reads it back.

Columns: **DAG** shows the four conditions of the decomposability test
(DAG-decomposable, script-absorbable, fan-out-parallelizable, structured-synthesizable:
✓ pass, ✗ fail, · unknown).  **Phase** is the lifecycle phase of that task type.
**Local / Claude** are estimated tokens.  ⚠ marks a handler that cannot run here; the
line under the table says how to fix it.  `*` marks an overridden handler.  `×4` marks an
ensemble that multiplies cost (propose–judge: every proposer plus the judge; `×n`: an LLM
agent fanned out once per item); the line under the table gives the figure.
⏳ capacity (under the table): the row's ensemble would spill to CPU or wait in a queue on
its host right now (measured: Ollama `/api/ps`, free VRAM, the runs in flight,
llama-server `/slots`), with the expected slowdown; `K` sends the row to Claude with that
reason recorded.
▲ marks an ensemble with a model above 7B, ✗ one above the 14B ceiling (refused
for delegation unless the ensemble sets `conductor: {allow_large_models: true}`).
Under the table: the routing reason and the repetition line of the selected row.

**Claude as planner (`M`).**  Type a meta-task; Claude (needs `ANTHROPIC_API_KEY`)
decomposes it, the cockpit matches the subtasks to your runnable ensembles, marks the
gaps and applies the repetition threshold.  The plan is saved with every row pending, for
you to decide row by row; the tokens Claude spent planning are counted.

**Workflow templates (`T`).**  Start from a declared workflow (shipped: workshop, plan,
feature-build; yours in `.llm-orc/workflows/*.yaml`).  Broken templates are listed with
the file and line of the problem.

**Roles.**  The handler picker (`o`) also offers the roles of
`.llm-orc/conductor/roles.yaml` (backend → starter-medium, …); a role that cannot run here
is shown greyed with the reason.
"""

NO_KEY_TEXT = (
    "Claude planning needs ANTHROPIC_API_KEY — plans from files and from your Claude Code session still work"
)

EMPTY_TEXT = """No workflow plan yet.

  t  type a plan here (one subtask per line, e.g. "Extract endpoints → extract-endpoints (agent)")
  f  load a plan from a file (JSON or YAML: a plan or a list of subtasks)
  c  choose another plan from workflow-plans.jsonl
  M  ask Claude to plan a meta-task (needs ANTHROPIC_API_KEY)
  T  start from a workflow template (workshop, plan, feature-build, yours)

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
        self._engine_catalog: Any = None  # engine EnsembleCatalog (specs) for cost warnings
        self._config: Any = None  # routing config (thresholds) for the repetition line
        self._task_profiles: Any = None  # cross-session frequency for the repetition line
        self._roles: Any = None  # core.roles.RolesConfig
        self._role_choices: list = []
        self.planning = False  # a Claude planning call is under way
        self._last_meta_task = ""  # kept when planning fails: nothing typed is lost
        self.last_build: Any = None  # the last PlanBuild Claude produced here
        self._capacity: dict[str, Any] = {}  # ensemble → core.capacity.Capacity, measured

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with Vertical(id="plan-body"):
            yield Static(id="plan-title")
            yield Static(id="plan-activity")
            yield Static(Text(EMPTY_TEXT), id="plan-empty", classes="empty-state")
            yield PlanTable(id="plan-table")
            yield Static(id="row-detail")
            yield Static(id="plan-summary")
        with Horizontal(id="edit-bar"):
            yield Label("", id="edit-label")
            yield Input(id="edit-input", select_on_focus=False)  # cursor at the end, nothing selected

    def on_mount(self) -> None:
        self.query_one("#edit-bar").display = False
        self.query_one(PlanTable)._on_layout = self._render_detail
        self.watch(self.app, "catalog", self._catalog_changed, init=False)
        self._render_all()
        self.load_plans()
        self.load_routing()
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
                # name only keys that work where the person is: c is a Plan-screen key
                keys = "c to open it" if self.app.screen is self else "p, then c to open it"
                self.notify(
                    f"New plan from {plan.source or 'the session'}: {plan.meta_task or plan.id} "
                    f"({len(plan.subtasks)} rows) — {keys}",
                    timeout=10,
                    markup=False,
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
            facts = capacity_facts(
                project,
                catalog=engine_catalog,
                store=self.store,
                gpu_samples=self._gpu_samples(),
                probe_gpu=False,
                ollama_host=self.services.ollama_host,
            )
            capacity = capacity_table(facts, names)
        except Exception:
            capacity = {}
        from textual.worker import get_current_worker

        if not get_current_worker().is_cancelled and self.app.is_running:
            self.app.call_from_thread(
                self._routing_read, engine_catalog, roles, choices, sizes, config, task_profiles, capacity
            )

    def _routing_read(
        self,
        engine_catalog: Any,
        roles: Any,
        choices: list,
        sizes: dict[str, Any] | None = None,
        config: Any = None,
        task_profiles: Any = None,
        capacity: dict[str, Any] | None = None,
    ) -> None:
        self._capacity = capacity or {}
        self._engine_catalog = engine_catalog
        self._roles = roles
        self._role_choices = choices
        self._row_context.sizes = sizes or {}
        self._config = config
        self._task_profiles = task_profiles
        self._render_all()

    def _triage_reason(self, row: Any) -> str:
        """Why the row has its handler when the conductor left no ``route_reason`` (a handler
        proposed by the plan's author): the category, and an uncertain DAG test surfaced."""
        from conductor_tui.core import rules
        from conductor_tui.core.records import Delegability

        handler = plan_ops.handler_label(row)
        source = (self.plan.source if self.plan is not None else None) or "the plan"
        if row.delegability_category == Delegability.CLAUDE:
            why = f"Claude-only ({row.claude_only_criterion})" if row.claude_only_criterion else "Claude-only"
            failed = rules.dag_failed_conditions(row.dag_test_result) if row.dag_test_result else []
            if failed:
                why += " — DAG test failed: " + ", ".join(failed)
            return f"{why} → {handler}"
        if row.delegability_category == Delegability.ENSEMBLE:
            uncertain = rules.dag_uncertain_conditions(row.dag_test_result)
            if uncertain:
                return (
                    f"uncertain: DAG condition(s) undecided ({', '.join(uncertain)}) — your call "
                    f"(approve to delegate, override to Claude) → {handler}"
                )
        return f"{handler} as proposed by {source}"

    def _repetition_line(self, row: Any) -> Text | None:
        """The predictive cost-benefit line (see the glossary: repetition threshold) for a delegable row: this plan's rows of
        the task type (or the row's expected repetitions) against the repetition threshold,
        with cross-session frequency from the task profile."""
        from conductor_tui.core import rules
        from conductor_tui.core.records import Delegability, RoutingThresholds

        if self.plan is None or not row.task_type or row.delegability_category == Delegability.CLAUDE:
            return None
        cfg = getattr(self, "_config", None)
        thresholds = cfg.routing_thresholds if cfg is not None else RoutingThresholds()
        same = [r for r in self.plan.subtasks if r.task_type == row.task_type]
        expected = row.expected_repetitions or len(same)
        profiles = getattr(self, "_task_profiles", None)
        table = profiles.profiles if profiles is not None else {}
        prof = table.get(row.task_type) or table.get(rules.task_type_key(row.task_type))
        prior = (prof.invocation_count or 0) + (prof.interim_claude_count or 0) if prof is not None else 0
        per_use = plan_ops.estimated_claude_tokens(row)
        verdict = rules.repetition_assessment(expected, thresholds, prior_uses=prior, tokens_per_use=per_use)
        style = "green" if verdict.above else "dim"
        line = Text.assemble(("↻ repetition: ", f"bold {style}"), (verdict.message, style))
        line.append(f"  ({expected} expected, threshold {thresholds.repetition_threshold}", style="dim")
        line.append(f"; {prior} in earlier sessions)" if prior else ")", style="dim")
        return line

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
        planning = (plan.model_extra or {}).get("planning_tokens")
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
        detail = self.query_one("#row-detail", Static)
        row = self.selected_row
        if row is None or self.plan is None:
            detail.update("")
            return
        number = plan_ops.row_number(self.plan, row.id)
        text = Text(f"#{number} ", style="bold")
        text.append(row.description)
        extras: list[Text] = []
        hidden = hidden_facts(number, row, self._row_context, self.query_one(PlanTable).hidden_columns)
        if hidden is not None:
            extras.append(hidden)
        problem = handler_problem(row, self._row_context.catalog)
        if problem is not None:
            line = Text("⚠ not runnable: ", style="bold yellow")
            line.append(problem.problems[0] if problem.problems else problem.name)
            if problem.first_fix:
                line.append("  fix: ", style="bold")
                line.append(problem.first_fix, style="bold cyan")
            extras.append(line)
        cost = self._row_context.costs.get(row.id)
        if cost is not None:
            line = Text("⚠ cost: ", style="bold yellow")
            line.append(f"{cost.ensemble}: {cost.message()}")
            extras.append(line)
        size = self._row_context.sizes.get(plan_ops.effective_handler(row))
        if size is not None and size.level != "ok":
            cfg = getattr(self, "_config", None)
            style = "bold red" if size.refused else "bold yellow"
            extras.append(
                Text.assemble(("⚠ model size: ", style), size.message(cfg.routing_thresholds if cfg else None))
            )
        flag = self._capacity_flag(row)
        if flag is not None:
            extras.append(
                Text.assemble(
                    ("⏳ capacity: ", "bold yellow"),
                    str(flag.get("reason") or ""),
                    ("  (K sends it to Claude)", "dim"),
                )
            )
        repetition = self._repetition_line(row)
        if repetition is not None:
            extras.append(repetition)
        facts = []
        if row.role:
            facts.append(f"role: {self._role_label(row.role)}")
        if row.claude_only_criterion:
            facts.append(f"criterion: {row.claude_only_criterion}")
        if row.preparation_ensemble:
            facts.append(f"prepared by: {row.preparation_ensemble}")
        if row.depends_on:
            facts.append("depends on: " + ", ".join(row.depends_on))
        extra = row.model_extra or {}
        strategy = extra.get("context_strategy")
        if strategy and extra.get("workflow"):  # rows from a workflow template
            via = f" via {extra.get('distill_with')}" if strategy == "distilled" else ""
            files = extra.get("context_files") or []
            facts.append(f"context: {strategy}{via}" + (f" ({', '.join(map(str, files))})" if files else ""))
        if extra.get("output"):
            facts.append(f"output: {extra['output']}")
        if row.original_handler and row.original_handler != plan_ops.effective_handler(row):
            facts.append(f"proposed: {row.original_handler}")
        if row.routing_id:
            facts.append(f"run: {row.routing_id}")
        if row.decided_by == "standing-auth":
            extras.append(
                Text.assemble(
                    ("✓ approved by a standing authorisation", "bold green"),
                    ("  (u undoes; revoke it on the Lifecycle screen)", "dim"),
                )
            )
        elif row.route_reason:
            extras.append(Text.assemble(("↪ routing: ", "bold cyan"), row.route_reason))
        else:
            extras.append(Text.assemble(("↪ routing: ", "bold cyan"), self._triage_reason(row)))
        if facts:
            extras.append(Text(" · ".join(facts), style="dim"))
        if row.note:
            extras.append(Text.assemble(("✎ note: ", "yellow"), row.note))
        if plan_ops.is_final(row):
            extras.append(Text(f"{row.status.value}: its decision is final (a / x / u do not apply)", style="dim"))
        for line in extras:
            text.append("\n")
            text.append_text(line)
        detail.update(text)

    def _gpu_samples(self) -> Any:
        """The cockpit's last GPU poll ([] = no GPU; None = not polled yet: free VRAM unknown)."""
        samples = getattr(self.app, "gpu_samples", None)
        return None if samples is None else list(samples)

    def _capacity_flag(self, row: Any) -> dict[str, Any] | None:
        """The open ensemble row's capacity flag: measured now, else the one the loop wrote."""
        if row.status not in (RowStatus.PENDING, RowStatus.APPROVED):
            return None
        handler = plan_ops.effective_handler(row)
        if plan_ops.handler_kind(handler) != "ensemble":
            return None
        live = self._capacity.get(handler)
        if live is not None:
            return live.row_flag() if live.flagged else None
        flag = (row.model_extra or {}).get("capacity")
        return flag if isinstance(flag, dict) and flag.get("verdict") in ("spill", "queue") else None

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
            ConfirmDialog(
                f"Send #{number} to Claude?",
                f"{plan_ops.effective_handler(row)}: {reason}. The row keeps its proposed ensemble "
                "and records the capacity reason.",
            ),
            done,
        )

    def _role_label(self, role: str) -> str:
        for choice in self._role_choices:
            if choice.role == role:
                return choice.label + ("" if choice.available else f" (✗ {choice.problem})")
        return role

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

        written = Conductor(self.services.project, store=self.store, now=self.services.clock).note_plan_decisions(plan)
        fresh = [a for a in written if a.data.get("plan_id") == plan.id and a.state == "requested"]
        if fresh:
            names = ", ".join(sorted({a.subject for a in fresh}))
            self.app.call_from_thread(
                self.notify,
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

    def disabled_reason(self, action: str) -> str | None:
        """Why a greyed key cannot act now (the palette shows it)."""
        row = self.selected_row
        if row is not None and self.plan is not None:
            number = plan_ops.row_number(self.plan, row.id)
            if action in ("approve", "reject", "undecide") and plan_ops.is_final(row):
                return f"#{number} is {row.status.value}: its decision is final."
            if action == "approve" and row.status == RowStatus.APPROVED:
                return f"#{number} is already approved."
            if action == "reject" and row.status == RowStatus.REJECTED:
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
        if action == "claude_plan":
            return not self.planning or None
        return True

    def _runnable_row(self, row) -> bool:
        if row.status not in (RowStatus.APPROVED, RowStatus.DONE, RowStatus.FAILED):
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

    def action_approve(self) -> None:
        row = self.selected_row
        if row is not None:
            before = self.plan
            self._apply(plan_ops.approve, row.id)
            if self.plan is not before:
                self._warn_not_runnable(row)
            self._advance()

    def _warn_not_runnable(self, row) -> None:
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
        self.notify(message, title="Approved — not runnable yet", severity="warning", timeout=10, markup=False)

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
            if choice is None:
                return
            current = self._row(row_id)
            if choice.role:
                if choice.role != current.role or choice.handler != plan_ops.effective_handler(current):
                    self._assign_role(row_id, choice.role)
            elif choice.handler != plan_ops.effective_handler(current):
                self._apply(plan_ops.override_handler, row_id, choice.handler)

        self.app.push_screen(
            HandlerPicker(
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
            self.route_plan(plan.id)

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
                self.route_plan(plan.id)

        self.app.push_screen(dialog, submitted)

    def action_choose_plan(self) -> None:
        plans = sorted(self.plans.values(), key=_plan_sort_key, reverse=True)

        def chosen(plan_id: str | None) -> None:
            if plan_id and plan_id in self.plans:
                self.plan = self.plans[plan_id]
                self._render_all()

        self.app.push_screen(PlanChooser(plans, self.plan.id if self.plan else None), chosen)

    # ------------------------------------------------------------------ Claude as planner

    def _claude(self) -> Any:
        """The ClaudeProvider (``services.claude`` when injected, else from the environment)."""
        provider = getattr(self.services, "claude", None)
        if provider is None:
            provider = getattr(self, "_claude_provider", None)
        if provider is None:
            from conductor_tui.providers.anthropic import ClaudeProvider

            provider = self._claude_provider = ClaudeProvider()
        return provider

    def _set_activity(self, text: Text | str | None, *, error: bool = False) -> None:
        widget = self.query_one("#plan-activity", Static)
        widget.update(text if isinstance(text, Text) else Text(text or ""))
        widget.set_class(bool(text), "-shown")
        widget.set_class(error, "-error")

    def action_claude_plan(self) -> None:
        if self.planning:
            return
        provider = self._claude()
        if not getattr(provider, "available", False):
            self._set_activity(Text.assemble(("⚠ ", "bold yellow"), NO_KEY_TEXT), error=True)
            self.notify(NO_KEY_TEXT, title="Claude is not configured", severity="warning", timeout=10)
            return
        dialog = PromptDialog(
            "Plan a meta-task with Claude",
            placeholder="e.g. Add rate limiting to the promotion API",
            value=self._last_meta_task,
            hint="Enter asks Claude · Esc cancels · the plan arrives with every row pending",
        )

        def submitted(value: str | None) -> None:
            if value:
                self._last_meta_task = value
                self.start_claude_plan(value)

        self.app.push_screen(dialog, submitted)

    def start_claude_plan(self, meta_task: str) -> None:
        self.planning = True
        self._set_activity(Text.assemble(("◌ Claude is planning: ", "bold magenta"), meta_task[:80]))
        self.refresh_bindings()
        self._claude_plan(meta_task)

    @work(exclusive=True, group="claude-plan", thread=True, exit_on_error=False)
    def _claude_plan(self, meta_task: str) -> None:
        """Blocking: context → Claude (streamed) → rules → pending plan appended to the log."""
        from conductor_tui.handoff.planning import plan_meta_task

        provider = self._claude()
        last = [0.0]

        def progress(chars: int) -> None:
            import time

            now = time.monotonic()
            if now - last[0] >= 0.1:
                last[0] = now
                self.app.call_from_thread(self._planning_progress, meta_task, chars)

        try:
            build = plan_meta_task(
                self.services.project, meta_task, provider=provider, source="claude", on_progress=progress
            )
        except Exception as exc:  # ClaudeError carries a clear message; anything else: say what
            from conductor_tui.providers.anthropic import ClaudeError

            message = str(exc) if isinstance(exc, ClaudeError) else f"{type(exc).__name__}: {exc}"
            self.app.call_from_thread(self._planning_failed, message)
            return
        self.app.call_from_thread(self._planning_done, build)

    def _planning_progress(self, meta_task: str, chars: int) -> None:
        if self.planning:
            text = Text.assemble(("◌ Claude is planning: ", "bold magenta"), meta_task[:80])
            text.append(f"  {chars:,} characters of plan received", style="dim")
            self._set_activity(text)

    def _planning_failed(self, message: str) -> None:
        self.planning = False
        self._set_activity(
            Text.assemble(("✗ Claude planning failed: ", "bold red"), message, ("  (M tries again)", "dim")),
            error=True,
        )
        self.notify(
            message + " Your meta-task is kept: press M to try again.",
            title="Claude planning failed",
            severity="error",
            timeout=12,
        )
        self.refresh_bindings()

    def _planning_done(self, build: Any) -> None:
        self.planning = False
        self.last_build = build
        plan = build.plan
        self.plans[plan.id] = plan
        self.plan = plan
        self._last_meta_task = ""
        tokens = getattr(build.usage, "total", None) or build.planning_tokens
        line = Text.assemble(("✓ Claude planned ", "bold green"), f"{len(plan.subtasks)} subtasks")
        line.append(f" · {tokens:,} planning tokens", style="magenta")
        if build.gaps:
            line.append(f" · {len(build.gaps)} ensemble(s) to create", style="yellow")
        line.append(" — decide row by row (a / x / o)", style="dim")
        self._set_activity(line)
        self._render_all()
        table = self.query_one(PlanTable)
        table.move_cursor(row=0)
        table.focus()
        self.notify(
            f"Claude's plan saved with {len(plan.subtasks)} rows pending ({tokens:,} planning tokens)"
        )
        self.route_plan(plan.id)
        self.refresh_bindings()

    # ------------------------------------------------------------------ workflow templates

    def action_template(self) -> None:
        self._list_templates()

    @work(exclusive=True, group="plan-templates", thread=True, exit_on_error=False)
    def _list_templates(self) -> None:
        from conductor_tui.core.templates import list_templates

        try:
            entries = list_templates(self.services.project)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"Templates not readable: {exc}", severity="error")
            return
        self.app.call_from_thread(self._pick_template, entries)

    def _pick_template(self, entries: list) -> None:
        by_name = {e.name: e for e in entries}

        def chosen(name: str | None) -> None:
            entry = by_name.get(name or "")
            if entry is not None and entry.template is not None:
                self._template_params(entry.template)

        self.app.push_screen(TemplatePicker(entries, self.services.project), chosen)

    def _template_params(self, template: Any) -> None:
        def submitted(value: Any) -> None:
            if value:
                task, params = value
                self.plan_from_template(template, task, params)

        self.app.push_screen(TemplateParamsDialog(template, self._last_meta_task), submitted)

    def plan_from_template(self, template: Any, meta_task: str, params: dict[str, str]) -> bool:
        """Instantiate ``template`` (rows pending), persist it, show it; warn about what it lacks."""
        from conductor_tui.core.templates import check_template, instantiate

        try:
            plan = instantiate(template, meta_task, params, roles=self._roles)
        except Exception as exc:
            self.notify(f"Template {template.name} not instantiated: {exc}", severity="error", timeout=12)
            return False
        if not self.commit(plan):
            return False
        self.route_plan(plan.id)
        problems = []
        try:
            problems = [
                p
                for p in check_template(template, ensembles=self._engine_catalog, roles=self._roles)
                if getattr(p, "code", "") != "cost"  # cost is marked on the rows
            ]
        except Exception:
            pass
        message = f"Plan from template {template.name}: {len(plan.subtasks)} rows pending"
        if problems:
            self.notify(
                message + "\n" + "\n".join(str(p) for p in problems[:3]),
                severity="warning",
                timeout=12,
            )
        else:
            self.notify(message)
        table = self.query_one(PlanTable)
        table.move_cursor(row=0)
        table.focus()
        return True

    # ------------------------------------------------------------------ run

    def action_run_row(self) -> None:
        """Ask for the run's input (the subtask and its note as the default), then run it."""
        row = self.selected_row
        if row is None or self.plan is None or not self._runnable_row(row):
            return
        plan, row_id = self.plan, row.id
        number = plan_ops.row_number(plan, row_id)
        default = row.description + (f"\n\nNote: {row.note}" if row.note else "")
        dialog = TextDialog(
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
            plan = self.store.latest_plans().get(plan_id)
            if plan is None:
                return
            routed = conductor.route_plan(plan, candidates_for(services.project))
            if routed is plan:
                return
            self.store.append_plan(routed)
        self.app.call_from_thread(self.plan_revised, routed)

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
