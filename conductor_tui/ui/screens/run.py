"""The run screen: an ensemble running live — agents as a dependency tree, the selected
agent's output streaming as Markdown, tokens, tokens/s and elapsed time.

The engine calls :meth:`RunScreen.on_engine_event` for every event on the app's own
loop; that only folds the event into a :class:`RunView`.  A 20 Hz timer then
refreshes what changed: tree labels of the agents that changed, the stats line, and
the selected agent's new text through ``Markdown.get_stream()``.  Eight agents
streaming at 150 tokens/s therefore cost ~20 small updates a second, not 1,200.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Markdown, Static, Tree
from textual.widgets.markdown import MarkdownStream
from textual.widgets.tree import TreeNode

from conductor_tui.core import plan as plan_ops
from conductor_tui.core.records import WorkflowPlan
from conductor_tui.ui.run_state import (
    CANCELLED,
    DONE,
    FAILED,
    RUNNING,
    STATE_MARK,
    WAITING,
    AgentView,
    RunView,
)
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.screens.dialogs import HandlerPicker, TextDialog
from conductor_tui.ui.widgets.follow import FollowScroll
from conductor_tui.ui.widgets.proposals import ProposalsPanel

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

FLUSH_SECONDS = 0.05
DELIVERABLE = "__deliverable__"


class RunScreen(CockpitScreen):
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

    def __init__(self) -> None:
        super().__init__()
        self.view: RunView | None = None
        self.runner: Any = None  # engine.row_run.RowRunner while a row runs
        self.outcome: Any = None  # its RowOutcome once finished
        self.follow_agent = True  # the view follows the streaming agent until the person navigates
        self._flush_lock: asyncio.Lock | None = None
        self.selected: str | None = None
        self.decision: Any = None  # the routing-log entry written for the finished run
        self.evaluation: Any = None  # rules.EvaluationDecision
        self.context: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._stream: MarkdownStream | None = None
        self._pending_text: list[str] = []
        self._shown_chars = 0
        self._tree_nodes: dict[str, TreeNode] = {}
        self._settling_selection = False
        self._started_clock: float | None = None
        self.flushes = 0
        self.on_flush = None  # benchmarks: called after each flush with the time
        # propose–judge (core.propose_judge): the shape of the running ensemble, the
        # outcome once finished, a note about the judge (e.g. Claude unavailable)
        self.shape: Any = None
        self.pj_outcome: Any = None
        self.judge_note: str | None = None
        self.claude_judgement: Any = None
        self.show_proposals = True
        # context strategies (core.context): the ContextResult of a plan row, and a step line
        self.context_result: Any = None
        self.context_step: str | None = None

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

    @property
    def busy(self) -> bool:
        return self.runner is not None or (self.view is not None and not self.view.finished)

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
        await self.app.run_next_request()  # type: ignore[attr-defined]

    def _finished(self, outcome: Any) -> None:
        """Show what the row runner did: refusal, failure before the run, or the record."""
        self.outcome = outcome
        self.decision = outcome.decision
        self.evaluation = outcome.evaluation
        self.context_result = outcome.context
        self.claude_judgement = outcome.claude_judgement
        if outcome.claude_judgement is not None:
            self.pj_outcome = None
        if outcome.status == "refused":
            self.context_step = outcome.error
            self.notify(outcome.error or "refused", severity="warning", timeout=10, markup=False)
        elif outcome.result is None and outcome.error:
            self.context_step = outcome.error
            self.notify(outcome.error, severity="error", timeout=10, markup=False)
            if self.view is not None and not self.view.finished:
                self.view.status = "failed"
                self.view.error = outcome.error
        for note in outcome.notes:
            self.notify(note, severity="warning", markup=False)
        if self.decision is not None:
            self.app.last_run_decision = self.decision  # type: ignore[attr-defined]
        self._render_all()

    def _cancelled(self) -> bool:
        return self.view is not None and self.view.status == "cancelled"

    # ------------------------------------------------------------------ events → view

    def on_engine_event(self, event: Any) -> None:
        """Called by the row runner (same loop) for every event: a stage shows a new
        ensemble run, a note updates the context / judge line; engine events are folded
        into the view and rendered later."""
        kind = getattr(event, "kind", None)
        if kind == "StageStarted":
            if event.label is not None or self.view is None or self.view.spec is not event.spec:
                self.show_view(RunView.from_spec(event.spec, event.input_text))
            if event.label is not None:
                self.context_step = event.label
                self._render_all()
            return
        if kind == "StageNote":
            if event.topic == "judge":
                self.judge_note = event.text or None
            else:
                self.context_step = event.text or None
            self._render_all()
            return
        if self.view is None:
            self.view = RunView()
        if self._started_clock is None:
            self._started_clock = time.monotonic()
        changed = self.view.apply(event)
        self._dirty |= changed
        if self.selected is None and changed:
            self.selected = next(iter(sorted(changed)), None)
        elif self.follow_agent and changed and getattr(event, "kind", "") in ("TextDelta", "AgentStarted"):
            self._follow_streaming(getattr(event, "agent", None))

    def _follow_streaming(self, agent: str | None) -> None:
        """Until the person picks an agent, the view follows the one that is streaming: it
        stays on the selected agent while that one runs, and moves on when it has finished."""
        view = self.view
        if view is None or agent is None or agent == self.selected or agent not in view.agents:
            return
        current = view.agents.get(self.selected or "")
        if current is not None and current.state == RUNNING and current.tokens:
            return  # the selected agent is still writing: stay with it
        self.selected = agent
        if agent in self._tree_nodes:
            self._settling_selection = True
            self._select_node(agent)
        self._reset_output()

    def show_view(self, view: RunView, selected: str | None = None, *, spec: Any = None) -> None:
        """Show a run (a new one, or a recorded one for snapshots).

        ``spec`` (default: the one ``RunView.from_spec`` kept) decides whether the
        proposals view is shown: ensembles marked propose–judge (``conductor:`` block).
        """
        self.view = view
        self.decision = None
        self.evaluation = None
        self.pj_outcome = None
        self._started_clock = time.monotonic()
        self.follow_agent = selected is None
        self.selected = selected or (view.order[0] if view.order else None)
        self._set_shape(spec if spec is not None else view.spec)
        self._rebuild_tree()
        self._reset_output()
        self._render_all()

    def _set_shape(self, spec: Any) -> None:
        """Detect a propose–judge ensemble and (re)mount the proposals panel for it.

        Only ensembles that declare the pattern get the panel: the by-shape detection
        also matches map→merge ensembles (two summarisers and a merger), which are not
        proposals to judge.
        """
        from conductor_tui.core.propose_judge import detect_propose_judge

        shape = None
        if spec is not None:
            try:
                found = detect_propose_judge(spec)
            except Exception:
                found = None
            if found is not None and found.explicit and len(found.proposers) >= 2:
                shape = found
        self.shape = shape
        keep = None
        for panel in self.query(ProposalsPanel):
            same = shape is not None and (panel.shape.proposers, panel.shape.judge) == (
                shape.proposers,
                shape.judge,
            )
            if same and keep is None:
                keep, panel.shape = panel, shape
                panel.reset()
            else:
                panel.remove()
        if shape is not None:
            self.show_proposals = True
            if keep is None:
                self.mount(ProposalsPanel(shape, classes="run-proposals"), before="#run-result")
                self.call_after_refresh(self._render_all)

    # ------------------------------------------------------------------ rendering

    def _now_t(self) -> float:
        view = self.view
        if view is None:
            return 0.0
        if view.finished or self._started_clock is None or self.runner is None:
            return view.t
        return max(view.t, time.monotonic() - self._started_clock)

    def _rebuild_tree(self) -> None:
        tree = self.query_one("#run-tree", Tree)
        tree.clear()
        self._tree_nodes.clear()
        view = self.view
        if view is None:
            return
        tree.root.label = Text(view.ensemble)
        tree.root.expand()
        for name in view.order:
            self._add_node(tree.root, view.agents[name])
        # The tree highlights its first line on its own; ignore that until our choice lands.
        self._settling_selection = True
        self.call_after_refresh(self._select_node, self.selected)

    def _add_node(self, parent: TreeNode, agent: AgentView) -> TreeNode:
        node = parent.add(
            self._label(agent), data=agent.name, expand=True, allow_expand=bool(agent.instances)
        )
        self._tree_nodes[agent.name] = node
        for child in agent.instances:
            self._add_node(node, self.view.agents[child])  # type: ignore[union-attr]
        return node

    def _label(self, agent: AgentView) -> Text:
        mark, style = STATE_MARK.get(agent.state, ("?", ""))
        text = Text(f"{mark} ", style=style)
        label = f"[{agent.instance}]" if agent.instance is not None else agent.name
        text.append(label, style="bold" if agent.state == RUNNING else "")
        if agent.tokens:
            text.append(f"  {agent.tokens} tok", style="dim")
        if agent.instances:
            done = sum(1 for i in agent.instances if self.view.agents[i].state not in (WAITING, RUNNING))  # type: ignore[union-attr]
            total = max(len(agent.instances), agent.expected_instances or 0)
            text.append(f"  {done}/{total}", style="dim")
        if agent.depends_on and agent.base is None:
            text.append(f"  ← {', '.join(agent.depends_on)}", style="dim italic")
        return text

    def _render_all(self) -> None:
        view = self.view
        empty = self.query_one("#run-empty", Static)
        main = self.query_one("#run-main")
        empty.display = view is None
        proposals = self.shape is not None and self.show_proposals
        main.display = view is not None and not proposals
        for panel in self.query(ProposalsPanel):
            panel.display = view is not None and proposals
        self._render_context()
        if view is None:
            empty.update(
                Text(
                    "Nothing running.\n\n"
                    "  n  run an ensemble with your input\n"
                    "  p  go to the plan: g on an approved row runs its ensemble\n",
                )
            )
            self.query_one("#run-title", Static).update(Text("Run", style="bold"))
            self.query_one("#run-result", Static).display = False
            self.refresh_bindings()
            return
        for name in list(self._tree_nodes):
            self._tree_nodes[name].set_label(self._label(view.agents[name]))
        self._render_title()
        self._render_agent_header()
        self._render_proposals()
        self._render_result()
        self.refresh_bindings()

    def _render_proposals(self) -> None:
        view, shape = self.view, self.shape
        if view is None or shape is None:
            return
        if view.finished and self.pj_outcome is None:
            from conductor_tui.core.propose_judge import outcome
            from conductor_tui.ui.run_state import run_agents

            self.pj_outcome = outcome(shape, run_agents(view), self.claude_judgement)
        result = self.pj_outcome if view.finished else None
        for panel in self.query(ProposalsPanel):
            panel.show(view, self._now_t(), result, self.judge_note)

    def _render_context(self) -> None:
        line = self.query_one("#run-context", Static)
        result, step = self.context_result, self.context_step
        if result is None and step is None:
            line.display = False
            return
        line.display = True
        text = Text("Context: ", style="bold")
        if result is not None:
            text.append(result.label(), style="green" if result.saved_tokens else "")
        if step:
            text.append(("  · " if result is not None else "") + step, style="dim")
        if result is not None and result.problems:
            text.append("  ⚠ " + "; ".join(result.problems[:2]), style="yellow")
        line.update(text)

    def _render_title(self) -> None:
        view = self.view
        assert view is not None
        now = self._now_t()
        status_style = {
            "running": "bold yellow",
            "completed": "bold green",
            "failed": "bold red",
            "cancelled": "bold magenta",
        }.get(view.status, "")
        text = Text("Run: ", style="bold")
        text.append(view.ensemble, style="bold")
        if self.context.get("task_summary"):
            text.append(f" ← {self.context['task_summary'][:50]}", style="dim")
        text.append("  ")
        text.append(f" {view.status} ", style=f"{status_style} reverse")
        elapsed = (view.duration_ms / 1000) if view.duration_ms is not None and view.finished else now
        tokens = (view.input_tokens + view.output_tokens) if view.finished else view.streamed_tokens
        rate = view.streamed_tokens / now if now > 0.05 and not view.finished else None
        text.append(f"  {elapsed:.1f}s · {tokens:,} tokens", style="")
        if rate:
            text.append(f" · {rate:.0f} tok/s")
        counts: dict[str, int] = {}
        for agent in view.agents.values():
            counts[agent.state] = counts.get(agent.state, 0) + 1
        text.append("   " + " ".join(f"{STATE_MARK[s][0]}{n}" for s, n in counts.items()), style="dim")
        self.query_one("#run-title", Static).update(text, layout=False)  # fixed height: no relayout

    def _render_agent_header(self) -> None:
        view = self.view
        header = self.query_one("#agent-header", Static)
        if view is None or self.selected is None:
            header.update("", layout=False)
            return
        if self.selected == DELIVERABLE:
            header.update(Text("Deliverable", style="bold"), layout=False)
            return
        agent = view.agents.get(self.selected)
        if agent is None:
            header.update("", layout=False)
            return
        now = self._now_t()
        mark, style = STATE_MARK.get(agent.state, ("?", ""))
        text = Text(f"{mark} {agent.name}", style=f"bold {style}")
        text.append(f"  {agent.state}", style=style)
        if agent.model:
            text.append(f" · {agent.model}", style="cyan")
        elif agent.kind == "script":
            text.append(" · script", style="cyan")
        text.append(f" · {agent.tokens:,} tok")
        if agent.input_tokens is not None:
            text.append(f" ({agent.input_tokens:,} in)", style="dim")
        rate = agent.rate(now)
        if rate is not None:
            text.append(f" · {rate:.1f} tok/s")
        elapsed = agent.elapsed(now)
        if elapsed is not None:
            text.append(f" · {elapsed:.1f}s")
        if agent.error:
            text.append(f"\n{agent.error}", style="red" if agent.state == FAILED else "dim")
            if agent.fix:
                text.append("  fix: ", style="bold")
                text.append(agent.fix, style="bold cyan")
        header.update(text, layout=False)  # fixed height (2 lines): no relayout per flush

    def _render_result(self) -> None:
        panel = self.query_one("#run-result", Static)
        view = self.view
        if view is None or not view.finished:
            panel.display = False
            return
        panel.display = True
        text = Text()
        if view.status == "completed":
            text.append("✓ Completed", style="bold green")
        elif view.status == "cancelled":
            text.append("■ Cancelled", style="bold magenta")
        else:
            text.append("✗ Failed", style="bold red")
        if view.error:
            text.append(f"  {view.error}", style="red")
        total = view.input_tokens + view.output_tokens
        text.append(
            f"   {total:,} local tokens ({view.input_tokens:,} in / {view.output_tokens:,} out)"
            f" · {(view.duration_ms or 0) / 1000:.1f}s"
        )
        usage = []
        for name in view.order:
            agent = view.agents[name]
            mark, _ = STATE_MARK.get(agent.state, ("?", ""))
            part = f"{mark} {name} {agent.tokens:,} tok"
            rate = agent.rate(view.t)
            if rate:
                part += f" {rate:.0f}/s"
            usage.append(part)
        text.append("\nPer agent (output): " + " · ".join(usage), style="dim")
        failed = [a for a in view.agents.values() if a.state == FAILED and not a.instances][:3]
        for agent in failed:
            text.append(f"\n✗ {agent.name}: ", style="bold red")
            text.append(agent.error or "failed")
            if agent.fix:
                text.append("  fix: ", style="bold")
                text.append(agent.fix, style="bold cyan")
        decision = self.decision
        if decision is not None:
            text.append("\nRouting log: ", style="bold")
            text.append(f"{decision.id} → {decision.routed_to} · {decision.status}")
            if decision.tokens_saved is not None:
                text.append(f" · ~{decision.tokens_saved:,} Claude tokens saved", style="green")
        if self.evaluation is not None:
            if self.evaluation.evaluate:
                text.append("\nEvaluate this run: ", style="bold yellow")
                text.append(f"yes — {self.evaluation.reason}. ")
                text.append("Press e to evaluate it.", style="bold")
            else:
                text.append("\nEvaluation: ", style="bold")
                text.append(f"not needed — {self.evaluation.reason}.", style="dim")
        if view.deliverable and self.selected != DELIVERABLE:
            text.append("\nd shows the deliverable.", style="dim")
        panel.update(text)

    # ------------------------------------------------------------------ output streaming

    def _reset_output(self) -> None:
        """Show the selected agent's full text and start a fresh stream for new text."""
        markdown = self.query_one("#run-output", Markdown)
        old = self._stream
        self._stream = None
        if old is not None:
            self.run_worker(old.stop(), group="md-stop")
        text = self._selected_text()
        self._shown_chars = len(text)
        markdown.update(text or "")
        self._scroll.following = True
        self.call_after_refresh(self._follow_if)
        self._render_agent_header()

    def _selected_text(self) -> str:
        view = self.view
        if view is None or self.selected is None:
            return ""
        if self.selected == DELIVERABLE:
            verdict = getattr(self.pj_outcome, "verdict", None)
            if verdict is not None and verdict.result:
                return verdict.result  # the judged result, not the judge's raw JSON
            return view.deliverable or ""
        agent = view.agents.get(self.selected)
        if agent is None:
            return ""
        if agent.instances:
            parts = []
            for child in agent.instances:
                inst = view.agents[child]
                parts.append(f"**[{inst.instance}]**\n\n{inst.text}")
            return "\n\n---\n\n".join(parts)
        return agent.text

    @property
    def _scroll(self) -> FollowScroll:
        return self.query_one("#run-output-scroll", FollowScroll)

    async def _flush(self) -> None:
        """Every 50 ms: refresh changed agents and append new text of the selected one.
        One flush at a time: the timer's and an explicit one (end of run, tests) never
        interleave, so no text is written twice."""
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            await self._flush_once()

    async def _flush_once(self) -> None:
        view = self.view
        if view is None or (not self._dirty and view.finished and self._stream is None):
            return
        dirty, self._dirty = self._dirty, set()
        if any(n in view.agents and view.agents[n].base is None and n not in self._tree_nodes for n in dirty):
            self._rebuild_tree()  # new top-level agents (no spec known up front): keep the run's order
        for name in dirty:
            node = self._tree_nodes.get(name)
            agent = view.agents.get(name)
            if agent is None:
                continue
            if node is None:
                parent = (
                    self._tree_nodes.get(agent.base) if agent.base else self.query_one("#run-tree", Tree).root
                )
                if parent is None:
                    continue
                self._add_node(parent, agent)
            else:
                node.set_label(self._label(agent))
        if self.selected and self.selected in view.agents and self.selected not in self._tree_nodes:
            pass
        self._render_title()
        self._render_agent_header()
        if self.shape is not None and dirty:
            self._render_proposals()
        agent = view.agents.get(self.selected or "")
        if agent is not None and not agent.instances:
            text = agent.text
            if len(text) > self._shown_chars:
                new = text[self._shown_chars :]
                self._shown_chars = len(text)
                if self._stream is None:
                    self._stream = Markdown.get_stream(self.query_one("#run-output", Markdown))
                await self._stream.write(new)
            if agent.state not in (RUNNING, WAITING) and self._stream is not None:
                await self._finish_stream()
        elif agent is not None and agent.instances and self.selected in dirty:
            self.query_one("#run-output", Markdown).update(self._selected_text())
        if view.finished and self._stream is not None:
            await self._finish_stream()
        if view.finished and dirty:
            self._render_result()
            self.refresh_bindings()
        # Appends land asynchronously; following on every tick keeps up with them.
        self._scroll.follow()
        self.flushes += 1
        if self.on_flush is not None:
            self.on_flush(time.perf_counter())

    async def _finish_stream(self) -> None:
        """stop() the stream, then one full update() (fixes unclosed fences, Textual #6518)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.stop()
        text = self._selected_text()
        self._shown_chars = len(text)
        await self.query_one("#run-output", Markdown).update(text)
        self.call_after_refresh(self._follow_if)

    def _follow_if(self) -> None:
        self._scroll.follow()

    # ------------------------------------------------------------------ interaction

    def _select_node(self, name: str | None) -> None:
        node = self._tree_nodes.get(name or "")
        if node is not None:
            self.query_one("#run-tree", Tree).move_cursor(node)

    @on(Tree.NodeHighlighted, "#run-tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        name = event.node.data
        if self._settling_selection:
            if name != self.selected:
                return
            self._settling_selection = False
        if name and name != self.selected:
            self.selected = name
            self.follow_agent = False  # the person navigated: the view stays where they put it
            self._reset_output()

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
        self.app.evaluation_target = self.decision  # type: ignore[attr-defined]
        await self.app.switch_mode("evaluate")

    def action_show_deliverable(self) -> None:
        if self.view is not None and self.view.deliverable:
            self.selected = DELIVERABLE
            if self.shape is not None:
                self.show_proposals = False  # the deliverable shows in the output pane
                self._render_all()
            self._reset_output()

    def action_new_run(self) -> None:
        catalog = self.app.catalog  # type: ignore[attr-defined]
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


__all__ = ["CANCELLED", "DONE", "RunScreen"]
