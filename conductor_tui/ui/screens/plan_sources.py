"""Where a plan comes from, besides the coding session: a file (``f``), typed here
(``t``), another plan in the log (``c``), Claude as planner (``M``) and a workflow
template (``T``).  Each new plan is persisted with every row pending, then routed
through the conductor loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work

from conductor_tui.ui.lazy import lazy_module
from conductor_tui.ui.messages import PlanningDone, PlanningFailed, PlanningProgress, TemplatesListed
from conductor_tui.ui.screens.plan_base import PlanBase, plan_sort_key
from conductor_tui.ui.screens.plan_text import NO_KEY_TEXT
from conductor_tui.ui.widgets.plan_table import PlanTable

if TYPE_CHECKING:
    from conductor_tui.core import plan as plan_ops
    from conductor_tui.ui.screens import dialogs
else:  # imported when the data arrives, not when the screen first paints
    plan_ops = lazy_module("conductor_tui.core.plan")
    dialogs = lazy_module("conductor_tui.ui.screens.dialogs")  # on the first key that opens one


class PlanSources(PlanBase):
    """Keys that bring a new plan (bound on :class:`~conductor_tui.ui.screens.plan.PlanScreen`)."""

    def action_load_file(self) -> None:
        dialog = dialogs.PromptDialog(
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
        dialog = dialogs.TextDialog("Type a new plan", hint=hint, title_input="")

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
        plans = sorted(self.plans.values(), key=plan_sort_key, reverse=True)

        def chosen(plan_id: str | None) -> None:
            if plan_id and plan_id in self.plans:
                self.plan = self.plans[plan_id]
                self._render_all()

        self.app.push_screen(dialogs.PlanChooser(plans, self.plan.id if self.plan else None), chosen)

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

    def action_claude_plan(self) -> None:
        if self.planning:
            return
        provider = self._claude()
        if not getattr(provider, "available", False):
            self._set_activity(Text.assemble(("⚠ ", "bold yellow"), NO_KEY_TEXT), error=True)
            self.notify(NO_KEY_TEXT, title="Claude is not configured", severity="warning", timeout=10)
            return
        dialog = dialogs.PromptDialog(
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
                self.post_message(PlanningProgress(meta_task, chars))

        try:
            build = plan_meta_task(
                self.services.project, meta_task, provider=provider, source="claude", on_progress=progress
            )
        except Exception as exc:  # ClaudeError carries a clear message; anything else: say what
            from conductor_tui.providers.anthropic import ClaudeError

            message = str(exc) if isinstance(exc, ClaudeError) else f"{type(exc).__name__}: {exc}"
            self.post_message(PlanningFailed(message))
            return
        self.post_message(PlanningDone(build))

    @on(PlanningProgress)
    def _planning_progress(self, event: PlanningProgress) -> None:
        if self.planning:
            text = Text.assemble(("◌ Claude is planning: ", "bold magenta"), event.meta_task[:80])
            text.append(f"  {event.chars:,} characters of plan received", style="dim")
            self._set_activity(text)

    @on(PlanningFailed)
    def _planning_failed(self, event: PlanningFailed) -> None:
        message = event.message
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

    @on(PlanningDone)
    def _planning_done(self, event: PlanningDone) -> None:
        build = event.build
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
            self.notify(f"Templates not readable: {exc}", severity="error")  # thread-safe
            return
        self.post_message(TemplatesListed(entries))

    @on(TemplatesListed)
    def _pick_template(self, event: TemplatesListed) -> None:
        entries = event.entries
        by_name = {e.name: e for e in entries}

        def chosen(name: str | None) -> None:
            entry = by_name.get(name or "")
            if entry is not None and entry.template is not None:
                self._template_params(entry.template)

        self.app.push_screen(dialogs.TemplatePicker(entries, self.services.project), chosen)

    def _template_params(self, template: Any) -> None:
        def submitted(value: Any) -> None:
            if value:
                task, params = value
                self.plan_from_template(template, task, params)

        self.app.push_screen(dialogs.TemplateParamsDialog(template, self._last_meta_task), submitted)

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
