"""The lines under the plan table about the selected row: its description, what keeps it
from running well (not runnable, cost multiplier, model size, capacity), why it has its
handler, the repetition line, and its facts and note.

The :class:`RowDetail` widget renders them; the functions build each part from the plan,
the row and what the screen has loaded (:class:`DetailInputs`), so they are testable
without a screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from conductor_tui.ui.lazy import lazy_module
from conductor_tui.ui.widgets.plan_table import RowContext, handler_problem, hidden_facts

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.core import records
    from conductor_tui.core.records import PlanRow, WorkflowPlan
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    records = lazy_module("conductor_tui.core.records")


@dataclass
class DetailInputs:
    """What the detail needs besides the plan and the row (loaded by the Plan screen)."""

    context: RowContext
    hidden_columns: list[str] = field(default_factory=list)
    config: Any = None  # the routing config (thresholds)
    task_profiles: Any = None  # cross-session frequency for the repetition line
    capacity: dict[str, Any] = field(default_factory=dict)  # ensemble → Capacity, measured
    role_label: Callable[[str], str] = str


def capacity_flag(row: PlanRow, capacity: dict[str, Any]) -> dict[str, Any] | None:
    """The open ensemble row's capacity flag: measured now, else the one the loop wrote."""
    if row.status not in (records.RowStatus.PENDING, records.RowStatus.APPROVED):
        return None
    handler = plan_ops.effective_handler(row)
    if plan_ops.handler_kind(handler) != "ensemble":
        return None
    live = capacity.get(handler)
    if live is not None:
        flag: dict[str, Any] | None = live.row_flag() if live.flagged else None
        return flag
    recorded = row.capacity
    return recorded if isinstance(recorded, dict) and recorded.get("verdict") in ("spill", "queue") else None


def triage_reason(plan: WorkflowPlan | None, row: PlanRow) -> str:
    """Why the row has its handler when the conductor left no ``route_reason`` (a handler
    proposed by the plan's author): the category, and an uncertain DAG test surfaced."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import Delegability

    handler = plan_ops.handler_label(row)
    source = (plan.source if plan is not None else None) or "the plan"
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


def repetition_line(plan: WorkflowPlan | None, row: PlanRow, config: Any, task_profiles: Any) -> Text | None:
    """The predictive cost-benefit line (see the glossary: repetition threshold) for a
    delegable row: this plan's rows of the task type (or the row's expected repetitions)
    against the repetition threshold, with cross-session frequency from the task profile."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import Delegability, RoutingThresholds

    if plan is None or not row.task_type or row.delegability_category == Delegability.CLAUDE:
        return None
    thresholds = config.routing_thresholds if config is not None else RoutingThresholds()
    same = [r for r in plan.subtasks if r.task_type == row.task_type]
    expected = row.expected_repetitions or len(same)
    table = task_profiles.profiles if task_profiles is not None else {}
    prof = table.get(row.task_type) or table.get(rules.task_type_key(row.task_type))
    prior = (prof.invocation_count or 0) + (prof.interim_claude_count or 0) if prof is not None else 0
    per_use = plan_ops.estimated_claude_tokens(row)
    verdict = rules.repetition_assessment(expected, thresholds, prior_uses=prior, tokens_per_use=per_use)
    style = "green" if verdict.above else "dim"
    line = Text.assemble(("↻ repetition: ", f"bold {style}"), (verdict.message, style))
    line.append(f"  ({expected} expected, threshold {thresholds.repetition_threshold}", style="dim")
    line.append(f"; {prior} in earlier sessions)" if prior else ")", style="dim")
    return line


def warning_lines(number: int, row: PlanRow, inputs: DetailInputs) -> list[Text]:
    """What keeps the row from running (well): hidden columns' facts first, then not
    runnable, cost multiplier, model size and capacity."""
    lines: list[Text] = []
    context = inputs.context
    hidden = hidden_facts(number, row, context, inputs.hidden_columns)
    if hidden is not None:
        lines.append(hidden)
    problem = handler_problem(row, context.catalog)
    if problem is not None:
        line = Text("⚠ not runnable: ", style="bold yellow")
        line.append(problem.problems[0] if problem.problems else problem.name)
        if problem.first_fix:
            line.append("  fix: ", style="bold")
            line.append(problem.first_fix, style="bold cyan")
        lines.append(line)
    cost = context.costs.get(row.id)
    if cost is not None:
        line = Text("⚠ cost: ", style="bold yellow")
        line.append(f"{cost.ensemble}: {cost.message()}")
        lines.append(line)
    size = context.sizes.get(plan_ops.effective_handler(row))
    if size is not None and size.level != "ok":
        style = "bold red" if size.refused else "bold yellow"
        thresholds = inputs.config.routing_thresholds if inputs.config else None
        lines.append(Text.assemble(("⚠ model size: ", style), size.message(thresholds)))
    flag = capacity_flag(row, inputs.capacity)
    if flag is not None:
        lines.append(
            Text.assemble(
                ("⏳ capacity: ", "bold yellow"),
                str(flag.get("reason") or ""),
                ("  (K sends it to Claude)", "dim"),
            )
        )
    return lines


def row_facts(row: PlanRow, role_label: Callable[[str], str]) -> list[str]:
    """The row's facts on one dim line: role, criterion, preparation, dependencies,
    context strategy, output, proposed handler, run."""
    facts = []
    if row.role:
        facts.append(f"role: {role_label(row.role)}")
    if row.claude_only_criterion:
        facts.append(f"criterion: {row.claude_only_criterion}")
    if row.preparation_ensemble:
        facts.append(f"prepared by: {row.preparation_ensemble}")
    if row.depends_on:
        facts.append("depends on: " + ", ".join(row.depends_on))
    strategy = row.context_strategy
    if strategy and row.workflow:  # rows from a workflow template
        via = f" via {row.distill_with}" if strategy == "distilled" else ""
        files = row.context_files or []
        facts.append(f"context: {strategy}{via}" + (f" ({', '.join(map(str, files))})" if files else ""))
    if row.output:
        facts.append(f"output: {row.output}")
    if row.original_handler and row.original_handler != plan_ops.effective_handler(row):
        facts.append(f"proposed: {row.original_handler}")
    if row.routing_id:
        facts.append(f"run: {row.routing_id}")
    return facts


def decision_lines(plan: WorkflowPlan, row: PlanRow, facts: list[str]) -> list[Text]:
    """How the row got its handler, its facts, its note, and whether its decision is final."""
    lines: list[Text] = []
    if row.decided_by == "standing-auth":
        lines.append(
            Text.assemble(
                ("✓ approved by a standing authorisation", "bold green"),
                ("  (u undoes; revoke it on the Lifecycle screen)", "dim"),
            )
        )
    elif row.route_reason:
        lines.append(Text.assemble(("↪ routing: ", "bold cyan"), row.route_reason))
    else:
        lines.append(Text.assemble(("↪ routing: ", "bold cyan"), triage_reason(plan, row)))
    if facts:
        lines.append(Text(" · ".join(facts), style="dim"))
    if row.note:
        lines.append(Text.assemble(("✎ note: ", "yellow"), row.note))
    if plan_ops.is_final(row):
        lines.append(Text(f"{row.status}: its decision is final (a / x / u do not apply)", style="dim"))
    return lines


def detail_text(plan: WorkflowPlan, row: PlanRow, inputs: DetailInputs) -> Text:
    """Everything the detail shows about ``row``, one line per topic."""
    number = plan_ops.row_number(plan, row.id)
    text = Text(f"#{number} ", style="bold")
    text.append(row.description)
    lines = warning_lines(number, row, inputs)
    repetition = repetition_line(plan, row, inputs.config, inputs.task_profiles)
    if repetition is not None:
        lines.append(repetition)
    lines += decision_lines(plan, row, row_facts(row, inputs.role_label))
    for line in lines:
        text.append("\n")
        text.append_text(line)
    return text


class RowDetail(Static):
    """The selected row's detail under the plan table (empty when no row is selected)."""

    def show(self, plan: WorkflowPlan | None, row: PlanRow | None, inputs: DetailInputs) -> None:
        if row is None or plan is None:
            self.update("")
            return
        self.update(detail_text(plan, row, inputs))
