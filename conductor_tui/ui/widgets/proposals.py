"""Propose–judge runs side by side: one column per proposer (model, state, tokens, its
text streaming), and the judge's verdict under them — which proposal it picked (that
column is highlighted) or that it synthesised one, why, and what the whole thing cost.

Everything from a model is shown as rich ``Text`` (while streaming) or rich
``Markdown`` (once finished), never as markup.
"""

from __future__ import annotations

from typing import Any

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from conductor_tui.ui.run_state import DONE, RUNNING, STATE_MARK, WAITING, AgentView, RunView

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class ProposalColumn(Vertical):
    """One proposer: a two-line head and its text."""

    DEFAULT_CLASSES = "proposal"

    def __init__(self, agent: str, index: int) -> None:
        super().__init__(id=f"proposal-{index}")
        self.agent = agent
        self.index = index
        self._shown: tuple[int, str] | None = None
        self.text = ""  # what the column shows (the proposal as the model wrote it)

    def compose(self) -> ComposeResult:
        yield Static(classes="proposal-head")
        with VerticalScroll(classes="proposal-scroll"):
            yield Static(classes="proposal-body")

    def show(self, agent: AgentView | None, now: float, picked: bool, basis: bool = False) -> None:
        """``picked``: the judge chose this proposal; ``basis``: a synthesis built on it."""
        self.set_class(picked, "picked")
        letter = LETTERS[self.index % len(LETTERS)]
        state = agent.state if agent is not None else WAITING
        mark, style = STATE_MARK.get(state, ("?", ""))
        head = Text(f"{letter} ", style="bold")
        head.append(self.agent, style="bold")
        if picked:
            head.append("  ★ picked", style="bold green")
        elif basis:
            head.append("  ◆ synthesis built on it", style="green")
        head.append("\n")
        head.append(f"{mark} {state}", style=style)
        if agent is not None:
            if agent.model:
                head.append(f" · {agent.model}", style="cyan")
            head.append(f" · {agent.tokens:,} tok")
        self.query_one(".proposal-head", Static).update(head)
        text = agent.text if agent is not None else ""
        self.text = text
        key = (len(text), state)
        if key == self._shown:
            return
        self._shown = key
        body = self.query_one(".proposal-body", Static)
        if not text:
            body.update(Text("waiting for the model…" if state in (WAITING, RUNNING) else "", style="dim"))
        elif agent is not None and agent.error and state not in (WAITING, RUNNING):
            body.update(Text(agent.error, style="red"))
        else:
            # re-parsed only when the text grew (the screen flushes at 20 Hz, not per token)
            body.update(RichMarkdown(text))
            if state in (WAITING, RUNNING):
                self.query_one(".proposal-scroll", VerticalScroll).scroll_end(animate=False)


def _verdict_lines(text: Text, shape: Any, verdict: Any, judge: Any, judge_name: str) -> None:
    """The judge's verdict: what it picked (or synthesised), by whom, why, its problems."""
    text.append("Verdict: ", style="bold")
    if verdict.verdict == "pick" and verdict.picked:
        idx = shape.proposers.index(verdict.picked) if verdict.picked in shape.proposers else None
        letter = f"{LETTERS[idx]} " if idx is not None else ""
        text.append(f"picked {letter}{verdict.picked}", style="bold green")
    elif verdict.verdict == "synthesis":
        text.append("synthesised a new answer", style="bold green")
        if verdict.picked:
            text.append(f" (built mostly on {verdict.picked})")
    else:
        text.append("no clear verdict", style="bold yellow")
    by = judge_name if judge is None or not judge.model else f"{judge_name} ({judge.model})"
    text.append(f"  — by {by}", style="dim")
    if verdict.reasoning:
        text.append("\nWhy: ", style="bold")
        text.append(" ".join(verdict.reasoning.split()))
    if verdict.problems:
        text.append("\n" + "; ".join(verdict.problems), style="dim yellow")
    if verdict.result:
        text.append("\nd shows the judged result.", style="dim")


def _judge_state_line(text: Text, shape: Any, view: RunView, judge: Any) -> None:
    """The local judge while it waits for the proposals, reads them, or failed."""
    mark, style = STATE_MARK.get(judge.state, ("?", ""))
    text.append("Judge: ", style="bold")
    text.append(f"{mark} {judge.name} {judge.state}", style=style)
    if judge.model:
        text.append(f" ({judge.model})", style="dim cyan")
    if judge.state == WAITING:
        waiting = [p for p in shape.proposers if view.agents.get(p) and view.agents[p].state != DONE]
        if waiting:
            plural = "proposal" if len(waiting) == 1 else "proposals"
            text.append(f" for {len(waiting)} more {plural}", style="dim")
    elif judge.state == RUNNING:
        text.append(f" — reading {len(shape.proposers)} proposals · {judge.tokens:,} tok", style="dim")
    elif judge.error:
        text.append(f" — {judge.error}", style="red")


def _cost_line(text: Text, shape: Any, view: RunView, cost: Any, claude_tokens: int | None) -> None:
    """Every proposer plus the judge: the tokens so far, or the run's cost once finished."""
    local_agents = len(shape.proposers) + (0 if shape.claude_judge else 1)
    if cost is not None:
        local = (
            cost.proposer_tokens + (0 if shape.claude_judge else cost.judge.total_tokens) + cost.other_tokens
        )
        text.append(f"{local_agents} agents · {local:,} local tokens", style="bold")
        text.append(f"  ({len(cost.proposers)} proposers {cost.proposer_tokens:,}", style="dim")
        if shape.claude_judge:
            text.append(")", style="dim")
            if cost.judge.ran:
                text.append(f" + Claude judge {cost.judge.total_tokens:,} tokens", style="bold")
        else:
            text.append(f" + judge {cost.judge.total_tokens:,})", style="dim")
    else:
        names = [*shape.proposers, *([] if shape.claude_judge else [shape.judge])]
        so_far = sum(view.agents[n].tokens for n in names if n in view.agents)
        text.append(f"{local_agents} agents · {so_far:,} tokens so far", style="dim")
    if claude_tokens is not None and cost is None:
        text.append(f" + Claude judge {claude_tokens:,} tokens", style="bold")


def verdict_text(
    shape: Any,
    view: RunView,
    result: Any = None,
    note: str | None = None,
    *,
    claude_tokens: int | None = None,
) -> Text:
    """The lines under the columns: the judge's state or verdict, why, and the cost.

    ``result``: a ``core.propose_judge.ProposeJudgeOutcome`` once the run finished.
    """
    text = Text()
    judge_name = "Claude" if shape.claude_judge else shape.judge
    judge = None if shape.claude_judge else view.agents.get(shape.judge)
    verdict = getattr(result, "verdict", None)
    if verdict is not None:
        _verdict_lines(text, shape, verdict, judge, judge_name)
    elif note:
        text.append("Judge: ", style="bold")
        text.append(note, style="yellow")
    elif judge is not None:
        _judge_state_line(text, shape, view, judge)
    else:
        text.append("Judge: ", style="bold")
        text.append("Claude, after the proposals", style="dim")
    text.append("\n")
    _cost_line(text, shape, view, getattr(result, "cost", None), claude_tokens)
    return text


class ProposalsPanel(Vertical):
    """The proposers' columns and the verdict line; :meth:`show` re-renders from a view."""

    def __init__(self, shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = shape

    def compose(self) -> ComposeResult:
        with Horizontal(id="proposal-columns"):
            for i, name in enumerate(self.shape.proposers):
                yield ProposalColumn(name, i)
        yield Static(id="verdict")

    def reset(self) -> None:
        """Forget what the columns show (a new run of the same ensemble)."""
        for column in self.query(ProposalColumn):
            column._shown = None

    def show(self, view: RunView, now: float, result: Any = None, note: str | None = None) -> None:
        if not self.is_mounted:
            return
        verdict = getattr(result, "verdict", None)
        kind = verdict.verdict if verdict is not None else None
        chosen = verdict.picked if verdict is not None else None
        for column in self.query(ProposalColumn):
            mine = chosen == column.agent
            column.show(view.agents.get(column.agent), now, mine and kind == "pick", mine and kind != "pick")
        self.query_one("#verdict", Static).update(verdict_text(self.shape, view, result, note))
