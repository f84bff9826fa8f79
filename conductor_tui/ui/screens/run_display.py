"""How the Run screen shows a run: the view folded from engine events, the agent tree,
the title, header, context and result lines, the proposals panel, and the selected
agent's output streaming as Markdown.

The engine calls :meth:`RunDisplay.on_engine_event` for every event on the app's own
loop; that only folds the event into a :class:`RunView`.  A 20 Hz timer then
refreshes what changed: tree labels of the agents that changed, the stats line, and
the selected agent's new text through ``Markdown.get_stream()``.  Eight agents
streaming at 150 tokens/s therefore cost ~20 small updates a second, not 1,200.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.widgets import Markdown, Static, Tree
from textual.widgets.markdown import MarkdownStream
from textual.widgets.tree import TreeNode

from conductor_tui.core.records import RunStatus
from conductor_tui.ui.run_state import RUNNING, WAITING, AgentView, RunView
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.follow import FollowScroll
from conductor_tui.ui.widgets.proposals import ProposalsPanel
from conductor_tui.ui.widgets.run_text import (
    EMPTY_RUN,
    agent_header_text,
    context_text,
    node_label,
    result_text,
    title_text,
)

FLUSH_SECONDS = 0.05
DELIVERABLE = "__deliverable__"


class RunDisplay(CockpitScreen):
    """The run's state and its display (the keys and starting runs: ``run.RunScreen``)."""

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
        self.on_flush: Callable[[float], None] | None = None  # benchmarks: called after each flush
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

    @property
    def busy(self) -> bool:
        return self.runner is not None or (self.view is not None and not self.view.finished)

    def _cancelled(self) -> bool:
        return self.view is not None and self.view.status == RunStatus.CANCELLED

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
        assert self.view is not None
        node = parent.add(
            self._label(agent), data=agent.name, expand=True, allow_expand=bool(agent.instances)
        )
        self._tree_nodes[agent.name] = node
        for child in agent.instances:
            self._add_node(node, self.view.agents[child])
        return node

    def _label(self, agent: AgentView) -> Text:
        assert self.view is not None
        return node_label(self.view, agent)

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
            empty.update(Text(EMPTY_RUN))
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
        interleave, so no text is written twice. None once the app is closing."""
        if not self.app.is_running:
            return  # the app is closing: a Markdown mounting blocks now would hold up its close
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
            await self.query_one("#run-output", Markdown).update(self._selected_text())
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

    def _render_context(self) -> None:
        line = self.query_one("#run-context", Static)
        result, step = self.context_result, self.context_step
        line.display = result is not None or step is not None
        if line.display:
            line.update(context_text(result, step))

    def _render_title(self) -> None:
        assert self.view is not None
        text = title_text(self.view, self.context.get("task_summary"), self._now_t())
        self.query_one("#run-title", Static).update(text, layout=False)  # fixed height: no relayout

    def _render_agent_header(self) -> None:
        view = self.view
        header = self.query_one("#agent-header", Static)
        agent = view.agents.get(self.selected) if view is not None and self.selected else None
        if view is not None and self.selected == DELIVERABLE:
            header.update(Text("Deliverable", style="bold"), layout=False)
        elif agent is None:
            header.update("", layout=False)
        else:  # fixed height (2 lines): no relayout per flush
            header.update(agent_header_text(agent, self._now_t()), layout=False)

    def _render_result(self) -> None:
        panel = self.query_one("#run-result", Static)
        view = self.view
        panel.display = view is not None and view.finished
        if view is not None and view.finished:
            hint = self.selected != DELIVERABLE
            panel.update(result_text(view, self.decision, self.evaluation, deliverable_hint=hint))
