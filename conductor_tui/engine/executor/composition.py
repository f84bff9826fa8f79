"""Composition agents: ``ensemble`` runs a child ensemble, ``dispatch`` the ensemble a
``${agent.field}`` names at run time, ``loop`` re-runs its ``body`` until ``until`` holds. The
child shares its parent's limits and clients, and nests in the parent's artifact."""

from __future__ import annotations

import json
from typing import Any

from conductor_tui.core.spec import AgentSpec, EnsembleSpec
from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFailed, AgentFinished, AgentNotice, Event, Usage
from conductor_tui.engine.executor.base import Emit, ExecutorBase
from conductor_tui.engine.executor.expressions import evaluate_on, resolve_in, resolve_reference
from conductor_tui.engine.executor.outputs import terminal_output
from conductor_tui.engine.results import SUCCESS, AgentFailure, AgentResult, RunResult, RunStatus


class CompositionAgents(ExecutorBase):
    """Runs ``ensemble`` / ``dispatch`` / ``loop`` agents through a child executor."""

    def _find_ensemble(self, name: str) -> EnsembleSpec:
        catalog = getattr(self, "_catalog_cache", None)
        if catalog is None:
            catalog = self._catalog_cache = loader.load_catalog(self.project, with_profiles=False)
        entry = catalog.get(name)
        if entry is None or entry.spec is None:
            bad = catalog.find_invalid(name)
            if bad:
                raise AgentFailure(
                    f'ensemble "{name}" is invalid: {bad[0].problems[0] if bad[0].problems else bad[0].path}',
                    "config",
                )
            raise AgentFailure(f'ensemble "{name}" not found in any tier', "config", "conductor-tui check")
        return entry.spec

    async def _run_child(self, name: str, text: str, agent: AgentSpec, emit: Emit) -> RunResult:
        if self.depth + 1 > self.settings.max_ensemble_depth:
            raise AgentFailure(
                f"ensemble nesting depth limit exceeded: depth {self.depth + 1} > limit "
                f"{self.settings.max_ensemble_depth}",
                "config",
                "raise performance.execution.max_ensemble_depth in config.yaml",
            )
        spec = self._find_ensemble(name)
        child = self._child_executor()
        run_id, t = self._run_id(), self._now
        emit(AgentNotice(run_id, t(), agent.name, f"running ensemble {name}"))

        def forward(event: Event) -> None:
            if isinstance(event, AgentFinished):
                emit(AgentNotice(run_id, t(), agent.name, f"{name}/{event.agent} finished"))
            elif isinstance(event, AgentFailed):
                emit(AgentNotice(run_id, t(), agent.name, f"{name}/{event.agent} failed: {event.reason}"))

        return await child.run(spec, text, on_event=forward, run_id=f"{run_id}/{agent.name}")

    @staticmethod
    def _child_json(child: RunResult) -> dict[str, Any]:
        return {
            "ensemble": child.ensemble.name,
            "status": child.status,
            "results": {
                n: {"response": r.response, "status": r.status, "error": r.error}
                for n, r in child.agents.items()
            },
            "deliverable": child.deliverable,
            "metadata": {
                "usage": {
                    "totals": {
                        "input_tokens": child.total_input_tokens,
                        "output_tokens": child.total_output_tokens,
                        "total_tokens": child.total_tokens,
                    }
                }
            },
        }

    @staticmethod
    def _child_failed(name: str, child: RunResult) -> AgentFailure:
        failed = child.failed_agents
        detail = "; ".join(f"{r.name}: {r.error}" for r in failed[:3]) or child.error or child.status
        return AgentFailure(
            f'ensemble "{name}" {child.status}: {detail}', failed[0].failure if failed else "infrastructure"
        )

    async def _run_composition(
        self,
        agent: AgentSpec,
        text: str,
        res: AgentResult,
        emit: Emit,
        *,
        instance: tuple[int, int] | None,
    ) -> None:
        """``ensemble`` and ``dispatch`` answer with the child's result dict (JSON); ``loop`` feeds
        ``carry`` forward until ``until`` holds over the body's output (or ``max_iterations``) and
        answers ``{output, iterations, terminated}``."""
        self._started(agent, res, emit, None, instance)
        if agent.kind == "loop":
            response, usage_in, usage_out = await self._run_loop(agent, text, emit)
        else:
            target = self._composition_target(agent)
            child = await self._run_child(target, text, agent, emit)
            usage_in, usage_out = child.total_input_tokens, child.total_output_tokens
            if child.status != RunStatus.COMPLETED:
                raise self._child_failed(target, child)
            response = json.dumps(self._child_json(child), ensure_ascii=False)
        res.finished = self._now()
        res.response = response
        res.usage = Usage(input_tokens=usage_in, output_tokens=usage_out, duration_ms=res.duration_ms)
        res.status = SUCCESS
        emit(AgentFinished(self._run_id(), res.finished, res.name, response, res.usage))

    def _composition_target(self, agent: AgentSpec) -> str:
        """The ensemble an ``ensemble`` agent names, or the one a ``dispatch`` resolves to now."""
        if agent.kind != "dispatch":
            return agent.ensemble or ""
        ref = agent.dispatch or ""
        target = resolve_reference(ref, self._result.agents) if "${" in ref else ref
        if not isinstance(target, str) or not target.strip():
            raise AgentFailure(f"dispatch {ref} resolved to {target!r}, not an ensemble name", "config")
        return target.strip()

    async def _run_loop(self, agent: AgentSpec, text: str, emit: Emit) -> tuple[str, int, int]:
        """(the loop's JSON answer, input tokens, output tokens) over every iteration."""
        loop = agent.loop or {}
        body, until = str(loop.get("body")), str(loop.get("until"))
        limit, carry = int(loop.get("max_iterations") or 1), loop.get("carry")
        output: dict[str, Any] = {}
        usage_in = usage_out = 0
        terminated, iterations, inp = "exhausted", 0, text
        for iterations in range(1, limit + 1):  # noqa: B007 - the count is the answer
            child = await self._run_child(body, inp, agent, emit)
            usage_in += child.total_input_tokens
            usage_out += child.total_output_tokens
            if child.status != RunStatus.COMPLETED:
                raise self._child_failed(body, child)
            output = terminal_output(child.deliverable)
            if evaluate_on(until, output):
                terminated = "until"
                break
            if carry:
                value = resolve_in(carry, output)
                if value is not None:
                    inp = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        response = json.dumps(
            {"output": output, "iterations": iterations, "terminated": terminated}, ensure_ascii=False
        )
        return response, usage_in, usage_out
