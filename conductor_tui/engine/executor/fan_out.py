"""``fan_out``: an agent runs once per item of its first dependency's JSON array, the
instances in parallel, their results gathered in order into one agent result."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conductor_tui.core.spec import AgentSpec
from conductor_tui.engine.events import AgentFailed, AgentFinished, Usage
from conductor_tui.engine.executor.base import Emit, ExecutorBase
from conductor_tui.engine.executor.expressions import json_or_none, parse_array
from conductor_tui.engine.results import FAILED, PARTIAL, SUCCESS, AgentFailure, AgentResult, RunResult


def instance_payload(agent: AgentSpec, name: str, item: Any, i: int, n: int, base: str) -> Any:
    """What instance ``i`` of ``n`` receives: llm-orc's chunk payload for a script, a prompt for an LLM."""
    if agent.kind == "script":
        return {
            "agent_name": name,
            "input": item,
            "chunk_index": i,
            "total_chunks": n,
            "base_input": base,
            "parameters": agent.parameters,
            "context": {},
        }
    item_text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
    return f"Item {i + 1} of {n}.\n\nOriginal task: {base}\n\nItem content:\n{item_text}"


class FanOutAgents(ExecutorBase):
    """Runs a ``fan_out`` agent's instances and gathers them."""

    async def _run_fan_out(
        self,
        agent: AgentSpec,
        base: str,
        result: RunResult,
        res: AgentResult,
        emit: Emit,
    ) -> None:
        upstream = result.agents[agent.depends_on[0]]
        items = parse_array(upstream.response, agent.input_key)
        res.started = self._now()
        if items is None:
            what = (
                f'{{"{agent.input_key}": [...]}}' if agent.input_key else 'a JSON array (or {"data": [...]})'
            )
            self._fail(
                res,
                AgentFailure(f'fan_out: upstream "{upstream.name}" did not produce {what}', "config"),
                emit,
            )
            return
        res.status = "running"
        instances = [
            AgentResult(name=f"{agent.name}[{i}]", kind=agent.kind, index=i) for i in range(len(items))
        ]
        res.instances = instances
        n = len(items)

        async def one(i: int, item: Any) -> None:
            inst = instances[i]
            payload = instance_payload(agent, inst.name, item, i, n, base)
            await self._run_one(agent, payload, inst, emit, base_input=base, instance=(i, n), deps=[upstream])

        tasks = [
            asyncio.create_task(one(i, item), name=f"agent:{agent.name}[{i}]") for i, item in enumerate(items)
        ]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self._gather_fan_out(agent, res, instances, emit)

    def _gather_fan_out(
        self, agent: AgentSpec, res: AgentResult, insts: list[AgentResult], emit: Emit
    ) -> None:
        """The agent's result from its instances': a JSON list of their responses, summed usage;
        ``partial`` when some failed, ``failed`` when all did."""
        res.finished = self._now()
        res.response = json.dumps(
            [
                json_or_none(i.response)
                if json_or_none(i.response) is not None and agent.kind == "script"
                else i.response
                for i in insts
            ],
            ensure_ascii=False,
        )
        failed = [i for i in insts if i.status != SUCCESS]
        models = {i.model for i in insts if i.model}
        res.model = models.pop() if len(models) == 1 else (", ".join(sorted(models)) or None)
        res.usage = Usage(
            input_tokens=sum(i.usage.input_tokens for i in insts if i.usage),
            output_tokens=sum(i.usage.output_tokens for i in insts if i.usage),
            duration_ms=res.duration_ms,
            model=res.model,
        )
        if not failed:
            res.status = SUCCESS
            emit(AgentFinished(self._run_id(), self._now(), agent.name, res.response, res.usage))
            return
        res.status = FAILED if len(failed) == len(insts) else PARTIAL
        res.error = f"{len(failed)} of {len(insts)} instances failed: " + "; ".join(
            f"[{i.index}] {i.error}" for i in failed[:3]
        )
        res.failure = failed[0].failure
        emit(
            AgentFailed(
                self._run_id(),
                self._now(),
                agent.name,
                res.error,
                # a FailureKind value; AgentResult.failure is typed str
                res.failure or "infrastructure",  # type: ignore[arg-type]
            )
        )
