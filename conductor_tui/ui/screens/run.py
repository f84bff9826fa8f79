"""The run screen: an ensemble running live — agents as a dependency tree, the selected
agent's output streaming as Markdown, tokens, tokens/s and elapsed time.

This module holds the keys and starting a run (a plan row, a role, a request from the
coding session, or one typed here) through the conductor loop's row runner; how a run
is shown lives in ``run_display`` and ``widgets/run_text``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Markdown, Static, Tree

from conductor_tui.core import plan as plan_ops
from conductor_tui.core.records import RunStatus, WorkflowPlan
from conductor_tui.ui.run_state import CANCELLED, DONE, RunView
from conductor_tui.ui.screens.dialogs import HandlerPicker, TextDialog
from conductor_tui.ui.screens.run_display import DELIVERABLE, FLUSH_SECONDS, RunDisplay
from conductor_tui.ui.widgets.follow import FollowScroll

HELP = """
## Run

An ensemble running live.  Left: its agents in dependency order (fan-out instances
under their agent) with their state — ○ waiting, ◐ running, ● done, ✗ failed,
⊘ skipped, ■ cancelled.  Right: the selected agent's output, streaming as Markdown;
the view follows new text only while you are at the bottom (scroll up to read,
`f` to follow again).

`Esc` cancels the run; it is recorded as cancelled in the routing log.  When the run
ends you see the deliverable, each agent's tokens, the routing-log entry written, and
whether this run must be evaluated (calibration: always; established: sampled) — `e`
goes to the Evaluate screen.

**Propose–judge ensembles** (a `conductor: {pattern: propose-judge}` block) show the
proposals side by side, one column per proposer, with the judge's verdict under them:
the picked column is highlighted, a synthesis says so, and the reason is given; the
cost counts every proposer and the judge.  `v` switches between the proposals and the
agent tree.  A Claude judge (`judge: claude`) runs after the ensemble when
ANTHROPIC_API_KEY is set.

**Plan rows with dependencies** receive the earlier rows' deliverables under the row's
context strategy (full, scoped, distilled, fresh); a distilled context runs the
summarising ensemble first.  The line under the title shows the strategy and the tokens
it saved against "full"; the routing-log entry records it (`context`).

Start a run from the Plan screen (`g` on an approved row routed to an ensemble) or
here with `n` (pick an ensemble, type its input).
"""


class RunScreen(RunDisplay):
    MODE = "run"
    HELP = HELP
    BINDINGS = [
        Binding("escape", "cancel_run", "Cancel run", id="run.cancel", tooltip="Stop every agent"),
        Binding("n", "new_run", "New run", id="run.new", tooltip="Run an ensemble with your input"),
        Binding("d", "show_deliverable", "Deliverable", id="run.deliverable"),
        Binding("e", "evaluate", "Evaluate run", id="run.evaluate", tooltip="Evaluate the finished run"),
        Binding(
            "f", "follow", "Follow", id="run.follow", tooltip="Scroll to the newest output and keep following"
        ),
        Binding(
            "v",
            "toggle_proposals",
            "Proposals/agents",
            id="run.proposals",
            tooltip="Switch between the proposals side by side and the agent tree",
        ),
    ]

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        yield Static(id="run-title")
        yield Static(id="run-context")
        yield Static(id="run-empty", classes="empty-state")
        with Horizontal(id="run-main"):
            yield Tree("agents", id="run-tree")
            with Vertical(id="run-output-pane"):
                yield Static(id="agent-header")
                with FollowScroll(id="run-output-scroll"):
                    yield Markdown(id="run-output")
        yield Static(id="run-result")

    def on_mount(self) -> None:
        tree = self.query_one("#run-tree", Tree)
        tree.show_root = False
        tree.guide_depth = 3
        self.set_interval(FLUSH_SECONDS, self._flush, name="run-flush")
        self._render_all()

    # ------------------------------------------------------------------ starting runs

    def run_plan_row(self, plan: WorkflowPlan, row_id: str, *, input_text: str | None = None) -> None:
        """Run an approved row: its ensemble, or its role's (``role:<name>``); a row with
        dependencies receives their deliverables under its context strategy.  ``input_text``:
        what the person typed (default: the row's description and note)."""
        row = next((r for r in plan.subtasks if r.id == row_id), None)
        if row is None:
            return
        name = plan_ops.effective_handler(row)
        text = input_text or (row.description + (f"\n\nNote: {row.note}" if row.note else ""))
        spec = None
        from conductor_tui.core.roles import role_of_handler

        role = role_of_handler(name)
        if role is not None:
            spec = self._role_spec(role)
            if spec is None:
                return
            name = spec.name
        self.start_run(
            name,
            text,
            spec=spec,
            plan=plan if row.depends_on else None,
            plan_id=plan.id,
            row_id=row_id,
            task_type=row.task_type,
            task_summary=row.description,
            session=plan.session,
            **({"role": role} if role else {}),
        )

    def _role_spec(self, role: str) -> Any:
        """The ensemble a role row runs: the role's own ensemble, or a one-agent ensemble
        on its profile/model (``roles.role_ensemble``); ``None`` (with a notice) otherwise."""
        from conductor_tui.core import roles as roles_ops
        from conductor_tui.engine import loader

        project = self.services.project
        try:
            config = roles_ops.load_roles(project)
            catalog = loader.load_catalog(project)
            resolved = roles_ops.resolve_role(role, config, loader.load_profiles(project), catalog)
        except Exception as exc:  # a broken roles file names itself
            self.notify(f"Roles: {exc}", severity="error", timeout=10)
            return None
        if resolved is None:
            known = ", ".join(config.names()) or "none"
            self.notify(f'Unknown role "{role}" (roles: {known})', severity="error")
            return None
        if resolved.role.kind == "claude":
            self.notify(f'The "{role}" role is handled by Claude, not run here.', severity="warning")
            return None
        if resolved.problems:
            problem = resolved.problems[0]
            fix = getattr(problem, "fix", None)
            self.notify(str(problem) + (f" — {fix}" if fix else ""), severity="error", timeout=10)
            return None
        if resolved.role.kind == "ensemble":
            entry = catalog.get(resolved.ensemble or "")
            if entry is None or entry.spec is None:
                self.notify(f'Role "{role}": no runnable ensemble "{resolved.ensemble}"', severity="error")
                return None
            return entry.spec
        return roles_ops.role_ensemble(resolved)

    def run_request(self, request: Any, link: Any) -> None:
        """Run a request from the coding session (handoff), reporting back through ``link``."""
        summary = (
            (request.input or "").strip().splitlines()[0][:120] if (request.input or "").strip() else None
        )
        started = self.start_run(
            request.ensemble,
            request.input,
            task_type=request.task_type,
            task_summary=summary,
            plan_id=request.plan_id,
            row_id=request.row_id,
            session=request.session,
            request=request,
            link=link,
        )
        if not started:
            self.run_worker(
                asyncio.to_thread(
                    link.failed,
                    request,
                    getattr(self, "start_error", None) or "the cockpit is busy with another run",
                ),
                exit_on_error=False,
            )

    def start_run(
        self, ensemble: str, input_text: str, *, spec: Any = None, plan: Any = None, **context: Any
    ) -> bool:
        """Run ``ensemble`` (or ``spec``) on ``input_text`` through the conductor loop's row
        runner. A plan row (``plan_id`` + ``row_id`` in ``context``) with dependencies gets
        its input from the earlier rows under its context strategy."""
        self.start_error: str | None = None  # why the last start failed (for the session)
        if self.runner is not None:
            self.notify("A run is in progress — Esc cancels it first.", severity="warning")
            return False
        from conductor_tui.engine.row_run import RowJob

        if spec is None:
            spec = self._catalog_spec(ensemble)  # unknown or broken: the runner says precisely why
        self.context = {"ensemble": spec.name if spec is not None else ensemble, **context}
        self.context_result = None
        self.context_step = None
        self.claude_judgement = None
        self.judge_note = None
        self.decision = None
        self.evaluation = None
        request = context.get("request")
        job = RowJob(
            ensemble=spec.name if spec is not None else ensemble,
            input_text=input_text,
            spec=spec,
            task_type=context.get("task_type"),
            task_summary=context.get("task_summary"),
            session=context.get("session") or getattr(request, "session", None),
            plan_id=context.get("plan_id"),
            row_id=context.get("row_id"),
            role=context.get("role"),
            request_id=getattr(request, "id", None),
            use_plan_context=plan is not None or bool(context.get("row_id")),
        )
        from conductor_tui.engine.executor import Executor
        from conductor_tui.engine.row_run import RowRunner

        services = self.services
        self.runner = RowRunner(  # set now: the screen is busy from this moment
            services.project,
            executor_factory=lambda: Executor(
                provider=services.ollama, project=services.project, host=services.ollama_host
            ),
            claude=getattr(services, "claude", None),
        )
        if spec is not None:
            self.show_view(RunView.from_spec(spec, input_text))
        else:
            self.view = None
            self._render_all()
        self._run(job)
        return True

    def _catalog_spec(self, name: str) -> Any:
        from conductor_tui.engine import loader

        try:
            entry = loader.load_catalog(self.services.project).get(name)
        except Exception:
            return None
        spec = getattr(entry, "spec", None)
        if spec is None or any(getattr(p, "blocking", False) for p in spec.problems):
            return None
        return spec

    @work(exclusive=True, group="run", exit_on_error=False)
    async def _run(self, job: Any) -> None:
        link, request = self.context.get("link"), self.context.get("request")
        assert self.runner is not None
        if link is not None:
            await asyncio.to_thread(link.started, request)
        try:
            outcome = await self.runner.run(job, on_event=self.on_engine_event)
        except Exception as exc:  # a bug, not a run failure: say it, never leave the session waiting
            self.notify(f"Run failed: {exc}", severity="error", timeout=10, markup=False)
            if link is not None:
                await asyncio.to_thread(link.failed, request, str(exc))
            self.runner = None
            self._render_all()
            return
        finally:
            self.runner = None
        self._finished(outcome)
        if link is not None:
            try:
                await asyncio.to_thread(link.report, request, outcome)
            except Exception as exc:
                self.notify(f"Could not report the result to the session: {exc}", severity="warning")
        await self.cockpit.run_next_request()

    def _finished(self, outcome: Any) -> None:
        """Show what the row runner did: refusal, failure before the run, or the record."""
        self.outcome = outcome
        self.decision = outcome.decision
        self.evaluation = outcome.evaluation
        self.context_result = outcome.context
        self.claude_judgement = outcome.claude_judgement
        if outcome.claude_judgement is not None:
            self.pj_outcome = None
        if outcome.status == "refused":  # the row runner's admission said no (not a run status)
            self.context_step = outcome.error
            self.notify(outcome.error or "refused", severity="warning", timeout=10, markup=False)
        elif outcome.result is None and outcome.error:
            self.context_step = outcome.error
            self.notify(outcome.error, severity="error", timeout=10, markup=False)
            if self.view is not None and not self.view.finished:
                self.view.status = RunStatus.FAILED
                self.view.error = outcome.error
        for note in outcome.notes:
            self.notify(note, severity="warning", markup=False)
        if self.decision is not None:
            self.cockpit.last_run_decision = self.decision
        self._render_all()

    # ------------------------------------------------------------------ interaction

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        in_progress = self.view is not None and not self.view.finished
        if action == "cancel_run":
            return in_progress and self.runner is not None
        if action == "new_run":
            return not in_progress
        if action == "evaluate":
            return self.decision is not None and self.evaluation is not None and self.evaluation.evaluate
        if action == "show_deliverable":
            if self.view is None:
                return False  # nothing ran: no dead key in the footer
            return bool(self.view.deliverable) or None
        if action == "follow":
            return self.view is not None
        if action == "toggle_proposals":
            return self.shape is not None
        return True

    def action_cancel_run(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.notify("Cancelling the run…")

    def action_toggle_proposals(self) -> None:
        if self.shape is not None:
            self.show_proposals = not self.show_proposals
            self._render_all()

    def action_follow(self) -> None:
        self._scroll.following = True
        self._follow_if()

    async def action_evaluate(self) -> None:
        self.cockpit.evaluation_target = self.decision
        await self.app.switch_mode("evaluate")

    def action_show_deliverable(self) -> None:
        if self.view is not None and self.view.deliverable:
            self.selected = DELIVERABLE
            if self.shape is not None:
                self.show_proposals = False  # the deliverable shows in the output pane
                self._render_all()
            self._reset_output()

    def action_new_run(self) -> None:
        catalog = self.cockpit.catalog
        if not catalog.runnable_names():
            self.notify(
                "No runnable ensemble here — see the Home screen (w) for what is missing.", severity="warning"
            )
            return
        picker = HandlerPicker("a new run", "", catalog, ensembles_only=True)

        def picked(choice) -> None:
            if choice is None or plan_ops.handler_kind(choice.handler) != "ensemble":
                return
            name = choice.handler

            def typed(text: str | None) -> None:
                if text:
                    self.start_run(name, text, task_summary=text.strip().splitlines()[0][:120])

            self.app.push_screen(TextDialog(f"Input for {name}", hint="ctrl+s runs · Esc cancels"), typed)

        self.app.push_screen(picker, picked)

    def on_screen_resume(self) -> None:
        self._render_all()


__all__ = ["CANCELLED", "DELIVERABLE", "DONE", "FLUSH_SECONDS", "RunScreen", "RunView"]
