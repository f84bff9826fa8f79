"""The executor's schedule: every agent is one task that waits for *its own* dependencies
(not for a level), so a fast branch never waits for a slow sibling. Skips follow llm-orc
(upstream failed, all dependencies skipped, a false ``when``); cancelling stops every agent,
kills subprocesses and closes HTTP streams. The run's result and its artifact are assembled
at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from conductor_tui.core.spec import AgentSpec, EnsembleSpec
from conductor_tui.engine import loader
from conductor_tui.engine.events import Event, RunFinished, RunStarted
from conductor_tui.engine.executor.base import Emit, EventCallback
from conductor_tui.engine.executor.composition import CompositionAgents
from conductor_tui.engine.executor.expressions import as_text, evaluate_when
from conductor_tui.engine.executor.fan_out import FanOutAgents
from conductor_tui.engine.executor.inputs import compose_input
from conductor_tui.engine.executor.llm import LlmAgents
from conductor_tui.engine.executor.outputs import deliverable_of
from conductor_tui.engine.executor.processes import kill_group
from conductor_tui.engine.executor.scripts import ScriptAgents
from conductor_tui.engine.executor.settings import EngineSettings
from conductor_tui.engine.results import (
    CANCELLED,
    FAILED,
    PARTIAL,
    PENDING,
    SKIPPED,
    SUCCESS,
    AgentFailure,
    AgentResult,
    RunResult,
    RunStatus,
)


class Executor(LlmAgents, ScriptAgents, FanOutAgents, CompositionAgents):
    """Runs one ensemble at a time (create one per run or reuse; not re-entrant).

    ``provider``: an object with ``chat_stream(model, messages, *, options, format,
    keep_alive, think)`` (normally :class:`OllamaProvider`); created from
    ``$OLLAMA_HOST`` when omitted, and closed after the run in that case.
    """

    def __init__(
        self,
        provider: Any = None,
        *,
        project: str | os.PathLike[str] | None = None,
        profiles: loader.ProfileSet | None = None,
        settings: EngineSettings | None = None,
        host: str | None = None,
        write_artifacts: bool = True,
        depth: int = 0,
    ):
        self.write_artifacts = write_artifacts
        self.depth = depth  # 0 for a top-level run; +1 per ensemble / loop / dispatch agent
        self._parent: Executor | None = None
        self.project = Path(project) if project is not None else None
        self._provider = provider
        self._own_provider = provider is None
        self._host = host
        self.profiles = profiles if profiles is not None else loader.load_profiles(self.project)
        self.settings = settings or EngineSettings.from_project(self.project)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cancel_requested = False
        self._running: asyncio.Task[Any] | None = None
        self._procs = set()
        self._endpoint_providers = {}
        self._host_sems = {}

    def cancel(self) -> None:
        """Cancel the current run from any callback/signal handler on the loop."""
        self._cancel_requested = True
        for task in list(self._tasks):
            task.cancel()

    async def run(
        self,
        ensemble: EnsembleSpec,
        input_text: str = "",
        *,
        on_event: EventCallback | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Run ``ensemble`` to the end and return its :class:`RunResult`.

        If the surrounding task is cancelled, every agent is cancelled, the
        ``RunFinished(cancelled)`` event is emitted and ``CancelledError`` re-raised;
        :meth:`cancel` instead makes ``run`` return a cancelled result.
        """
        result, emit = self._start(ensemble, input_text, on_event, run_id)
        blocking = [p for p in ensemble.problems if p.blocking]
        if blocking:
            for r in result.agents.values():
                r.status = SKIPPED
                r.error = "not run"
            result.status = RunStatus.FAILED
            result.error = "; ".join(str(p) for p in blocking)
            self._finish(result, emit)
            return result
        self._share_limits()
        outer_cancelled = False
        try:
            outer_cancelled = await self._schedule(ensemble, input_text, result, emit)
            if self._cancel_requested or outer_cancelled:
                result.status = RunStatus.CANCELLED
        finally:
            await self._release()
        self._settle(result)
        self._finish(result, emit)
        if outer_cancelled:
            raise asyncio.CancelledError
        return result

    def _start(
        self, ensemble: EnsembleSpec, input_text: str, on_event: EventCallback | None, run_id: str | None
    ) -> tuple[RunResult, Emit]:
        """A fresh result with every agent pending, and ``RunStarted`` emitted."""
        result = RunResult(run_id=run_id or uuid.uuid4().hex[:12], ensemble=ensemble, input=input_text)
        self._external_scripts = loader.external_scripts_allowed(ensemble)
        self._t0 = time.perf_counter()
        self._current_run_id = result.run_id
        self._result = result
        self._cancel_requested = False
        emit = self._make_emitter(result, on_event)
        for agent in ensemble.agents:
            result.agents[agent.name] = AgentResult(name=agent.name, kind=agent.kind)
        emit(RunStarted(result.run_id, 0.0, ensemble.name, [a.name for a in ensemble.agents], input_text))
        return result, emit

    def _share_limits(self) -> None:
        """Fresh concurrency limits — or, for a child ensemble, its parent's limits and clients."""
        self._global_sem = (
            asyncio.Semaphore(self.settings.max_concurrency) if self.settings.max_concurrency else None
        )
        self._model_sems = {}
        self._host_sems = {}
        if self._parent is not None:
            self._global_sem = self._parent._global_sem
            self._model_sems = self._parent._model_sems
            self._host_sems = self._parent._host_sems
            self._endpoint_providers = self._parent._endpoint_providers

    async def _schedule(self, ensemble: EnsembleSpec, input_text: str, result: RunResult, emit: Emit) -> bool:
        """One task per agent, all awaited; True when the surrounding task was cancelled."""
        done: dict[str, asyncio.Event] = {a.name: asyncio.Event() for a in ensemble.agents}
        tasks: list[asyncio.Task[Any]] = []
        for agent in ensemble.agents:
            task = asyncio.create_task(
                self._run_node(agent, input_text, result, done, emit), name=f"agent:{agent.name}"
            )
            tasks.append(task)
            self._tasks.add(task)
        if self._cancel_requested:
            self.cancel()
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            outer_cancelled = not self._cancel_requested
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return outer_cancelled
        return False

    async def _release(self) -> None:
        """Kill what is left of the subprocesses, close the clients this executor owns."""
        await self._kill_all()
        self._tasks.clear()
        if self._own_provider and self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.aclose()
            self._provider = None
        if self._parent is None:
            for prov in self._endpoint_providers.values():
                with contextlib.suppress(Exception):
                    await prov.aclose()
            self._endpoint_providers.clear()

    def _settle(self, result: RunResult) -> None:
        """Agents still pending or running were cancelled; the run failed when any agent did."""
        now = self._now()
        for r in result.agents.values():
            if r.status in (PENDING, "running"):
                r.status = CANCELLED
                r.failure = "cancelled"
                r.error = r.error or "cancelled"
                if r.finished is None and r.started is not None:
                    r.finished = now
        if result.status != RunStatus.CANCELLED:
            bad = any(r.status in (FAILED, PARTIAL) for r in result.agents.values())
            result.status = RunStatus.FAILED if bad else RunStatus.COMPLETED

    def _make_emitter(self, result: RunResult, on_event: EventCallback | None) -> Emit:
        def emit(event: Event) -> None:
            result.events += 1
            if on_event is not None:
                try:
                    on_event(event)
                except Exception as exc:  # a consumer's bug must not break the run
                    if not getattr(self, "_callback_failed", False):
                        self._callback_failed = True
                        result.error = f"event consumer raised {type(exc).__name__}: {exc}"

        return emit

    def _finish(self, result: RunResult, emit: Emit) -> None:
        """The deliverable, the artifact (when this executor writes them), ``RunFinished``."""
        result.duration_ms = int(round(self._now() * 1000))
        result.deliverable = deliverable_of(result)
        if self.write_artifacts and self.project is not None:
            from conductor_tui.engine.artifacts import write_execution_artifact

            try:
                result.artifact = write_execution_artifact(self.project, result)
            except (OSError, ValueError) as exc:
                result.error = (result.error + "; " if result.error else "") + f"artifact not written: {exc}"
        emit(
            RunFinished(
                result.run_id,
                self._now(),
                result.status,
                result.deliverable,
                result.total_input_tokens,
                result.total_output_tokens,
                result.duration_ms,
                result.artifact,
                result.error,
            )
        )

    async def _kill_all(self) -> None:
        for proc in list(self._procs):
            kill_group(proc)
        for proc in list(self._procs):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 2)
        self._procs.clear()

    async def _run_node(
        self,
        agent: AgentSpec,
        input_text: str,
        result: RunResult,
        done: dict[str, asyncio.Event],
        emit: Emit,
    ) -> None:
        """Wait for the agent's dependencies, skip it or run it; always mark it done."""
        res = result.agents[agent.name]
        try:
            for dep in agent.depends_on:
                await done[dep].wait()
            ok_deps = self._gate(agent, result, res, emit)
            if ok_deps is None:
                return
            if agent.fan_out:
                await self._run_fan_out(agent, input_text, result, res, emit)
            else:
                agent_input = compose_input(agent, input_text, result)
                await self._run_one(agent, agent_input, res, emit, base_input=input_text, deps=ok_deps)
        except AgentFailure as exc:
            self._fail(res, exc, emit)
        except asyncio.CancelledError:
            if res.status in (PENDING, "running"):
                res.status = CANCELLED
                res.failure = "cancelled"
                res.error = "cancelled"
                res.finished = self._now() if res.started is not None else None
            raise
        except Exception as exc:  # a bug must fail this agent, not the whole run
            if res.status in (PENDING, "running"):
                self._fail(res, AgentFailure(f"internal error: {type(exc).__name__}: {exc}"), emit)
        finally:
            done[agent.name].set()

    def _gate(
        self, agent: AgentSpec, result: RunResult, res: AgentResult, emit: Emit
    ) -> list[AgentResult] | None:
        """The dependencies that succeeded, or ``None`` when the agent is skipped (and says why)."""
        deps = [result.agents[d] for d in agent.depends_on]
        if deps and all(d.status == SKIPPED for d in deps) and agent.on_dependency_failure != "run":
            self._skip(res, "all its dependencies were skipped", emit)
            return None
        ok_deps = [d for d in deps if d.status == SUCCESS]
        if deps and not ok_deps and agent.on_dependency_failure != "run":
            failed = ", ".join(d.name for d in deps if d.status != SKIPPED)
            self._skip(res, f"upstream failed: {failed}", emit)
            return None
        if agent.when is not None:
            try:
                go = evaluate_when(agent.when, result.agents)
            except Exception:  # pragma: no cover - defensive
                go = False
            if not go:
                self._skip(res, f"when {agent.when} is false", emit)
                return None
        return ok_deps

    async def _run_one(
        self,
        agent: AgentSpec,
        payload: Any,
        res: AgentResult,
        emit: Emit,
        *,
        base_input: str,
        instance: tuple[int, int] | None = None,
        deps: list[AgentResult] | None = None,
    ) -> None:
        try:
            if agent.kind == "script":
                await self._run_script(agent, payload, res, emit, base_input=base_input, instance=instance)
            elif agent.kind == "llm":
                await self._run_llm(agent, payload, res, emit, instance=instance)
            elif agent.kind in ("ensemble", "loop", "dispatch"):
                await self._run_composition(agent, as_text(payload), res, emit, instance=instance)
            else:
                raise AgentFailure(
                    f"{agent.kind} agents are not supported by conductor-tui's engine", "config"
                )
        except AgentFailure as exc:
            self._fail(res, exc, emit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected error: the agent fails, the run goes on
            self._fail(res, AgentFailure(f"{type(exc).__name__}: {exc}"), emit)

    def _child_executor(self) -> Executor:
        child = Executor(
            self._provider_for(self._endpoint("ollama", None)),  # type: ignore[arg-type]
            project=self.project,
            profiles=self.profiles,
            settings=self.settings,
            host=self._host,
            write_artifacts=False,  # the child's results nest in the parent's artifact (llm-orc)
            depth=self.depth + 1,
        )
        child._parent = self
        return child


async def stream_run(
    executor: Executor, ensemble: EnsembleSpec, input_text: str = ""
) -> AsyncIterator[Event]:
    """Run in a background task and yield its events; the last one is RunFinished.

    Leaving the loop early (``break``/``aclose``) cancels the run.
    """
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    task = asyncio.create_task(executor.run(ensemble, input_text, on_event=queue.put_nowait))
    task.add_done_callback(lambda _t: queue.put_nowait(None))
    try:
        while True:
            ev = await queue.get()
            if ev is None:
                break
            yield ev
    finally:
        if not task.done():
            executor.cancel()
            with contextlib.suppress(BaseException):
                await task
