"""What the Run screen writes about a run, as Rich text: the title line, the selected
agent's header, an agent's tree label, the context line and the result panel.

Pure functions of the run view (``ui.run_state``) and what the run recorded, so the
screen only decides *when* to show them.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from conductor_tui.core.records import RunStatus
from conductor_tui.ui.run_state import FAILED, RUNNING, STATE_MARK, WAITING, AgentState, AgentView, RunView

STATUS_STYLE = {
    RunStatus.RUNNING: "bold yellow",
    RunStatus.COMPLETED: "bold green",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "bold magenta",
}

EMPTY_RUN = (
    "Nothing running.\n\n"
    "  n  run an ensemble with your input\n"
    "  p  go to the plan: g on an approved row runs its ensemble\n"
)


def context_text(result: Any, step: str | None) -> Text:
    """The context strategy line of a plan row (``core.context.ContextResult``) and the
    step under way (e.g. distilling)."""
    text = Text("Context: ", style="bold")
    if result is not None:
        text.append(result.label(), style="green" if result.saved_tokens else "")
    if step:
        text.append(("  · " if result is not None else "") + step, style="dim")
    if result is not None and result.problems:
        text.append("  ⚠ " + "; ".join(result.problems[:2]), style="yellow")
    return text


def title_text(view: RunView, task_summary: str | None, now: float) -> Text:
    """``Run: <ensemble> ← <task>  <status>  elapsed · tokens · rate   agent counts``."""
    status = view.status or "waiting"
    status_style = STATUS_STYLE.get(view.status, "") if view.status is not None else ""
    text = Text("Run: ", style="bold")
    text.append(view.ensemble, style="bold")
    if task_summary:
        text.append(f" ← {task_summary[:50]}", style="dim")
    text.append("  ")
    text.append(f" {status} ", style=f"{status_style} reverse")
    elapsed = (view.duration_ms / 1000) if view.duration_ms is not None and view.finished else now
    tokens = (view.input_tokens + view.output_tokens) if view.finished else view.streamed_tokens
    rate = view.streamed_tokens / now if now > 0.05 and not view.finished else None
    text.append(f"  {elapsed:.1f}s · {tokens:,} tokens", style="")
    if rate:
        text.append(f" · {rate:.0f} tok/s")
    counts: dict[AgentState, int] = {}
    for agent in view.agents.values():
        counts[agent.state] = counts.get(agent.state, 0) + 1
    text.append("   " + " ".join(f"{STATE_MARK[s][0]}{n}" for s, n in counts.items()), style="dim")
    return text


def agent_header_text(agent: AgentView, now: float) -> Text:
    """The selected agent: state, model, tokens, rate, elapsed; its error and fix."""
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
    return text


def node_label(view: RunView, agent: AgentView) -> Text:
    """An agent's line in the tree: state mark, name (or fan-out instance), tokens,
    instances done, dependencies."""
    mark, style = STATE_MARK.get(agent.state, ("?", ""))
    text = Text(f"{mark} ", style=style)
    label = f"[{agent.instance}]" if agent.instance is not None else agent.name
    text.append(label, style="bold" if agent.state == RUNNING else "")
    if agent.tokens:
        text.append(f"  {agent.tokens} tok", style="dim")
    if agent.instances:
        done = sum(1 for i in agent.instances if view.agents[i].state not in (WAITING, RUNNING))
        total = max(len(agent.instances), agent.expected_instances or 0)
        text.append(f"  {done}/{total}", style="dim")
    if agent.depends_on and agent.base is None:
        text.append(f"  ← {', '.join(agent.depends_on)}", style="dim italic")
    return text


def _outcome_lines(view: RunView, text: Text) -> None:
    """Status, error, tokens and duration, each agent's usage, the failed agents' fixes."""
    if view.status == RunStatus.COMPLETED:
        text.append("✓ Completed", style="bold green")
    elif view.status == RunStatus.CANCELLED:
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


def result_text(view: RunView, decision: Any, evaluation: Any, *, deliverable_hint: bool) -> Text:
    """The finished run: outcome, the routing-log entry written, whether to evaluate it."""
    text = Text()
    _outcome_lines(view, text)
    if decision is not None:
        text.append("\nRouting log: ", style="bold")
        text.append(f"{decision.id} → {decision.routed_to} · {decision.status}")
        if decision.tokens_saved is not None:
            text.append(f" · ~{decision.tokens_saved:,} Claude tokens saved", style="green")
    if evaluation is not None:
        if evaluation.evaluate:
            text.append("\nEvaluate this run: ", style="bold yellow")
            text.append(f"yes — {evaluation.reason}. ")
            text.append("Press e to evaluate it.", style="bold")
        else:
            text.append("\nEvaluation: ", style="bold")
            text.append(f"not needed — {evaluation.reason}.", style="dim")
    if view.deliverable and deliverable_hint:
        text.append("\nd shows the deliverable.", style="dim")
    return text
