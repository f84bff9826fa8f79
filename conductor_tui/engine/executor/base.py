"""What every part of the executor shares: the run's clock and id, an agent's started /
failed / skipped transitions (each one an event), the concurrency slots, and the provider
client per endpoint. :class:`~conductor_tui.engine.executor.scheduler.Executor` combines it
with one part per agent kind."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from conductor_tui.core.spec import AgentSpec, EnsembleSpec
from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFailed, AgentSkipped, AgentStarted, Event
from conductor_tui.engine.executor.settings import EngineSettings
from conductor_tui.engine.results import FAILED, SKIPPED, AgentFailure, AgentResult, RunResult
from conductor_tui.providers import endpoints

Emit = Callable[[Event], None]
EventCallback = Callable[[Event], Any]


class ChildExecutor(Protocol):
    """What a composition agent needs of the executor that runs its child ensemble."""

    async def run(
        self,
        ensemble: EnsembleSpec,
        input_text: str = "",
        *,
        on_event: EventCallback | None = None,
        run_id: str | None = None,
    ) -> RunResult: ...


class ExecutorBase:
    """The state of one executor and the steps every agent kind uses."""

    project: Path | None
    profiles: loader.ProfileSet
    settings: EngineSettings
    depth: int
    _host: str | None
    _provider: Any
    _own_provider: bool
    _endpoint_providers: dict[str, Any]  # endpoint key → provider (owned, closed after a run)
    _procs: set[asyncio.subprocess.Process]
    _global_sem: asyncio.Semaphore | None
    _model_sems: dict[str, asyncio.Semaphore]
    _host_sems: dict[str, asyncio.Semaphore]
    _t0: float
    _current_run_id: str
    _result: RunResult
    _external_scripts: bool

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
        """Run one agent (or one fan-out instance) by its kind; the executor provides it."""
        raise NotImplementedError

    def _child_executor(self) -> ChildExecutor:
        """An executor for a child ensemble that shares this one's limits and clients."""
        raise NotImplementedError

    def _now(self) -> float:
        return time.perf_counter() - self._t0

    def _run_id(self) -> str:
        return self._current_run_id

    def _fail(self, res: AgentResult, exc: AgentFailure, emit: Emit) -> None:
        res.status = FAILED
        res.error = exc.reason
        res.failure = exc.failure
        res.fix = exc.fix
        if res.started is None:
            res.started = self._now()
        res.finished = self._now()
        emit(AgentFailed(self._run_id(), res.finished, res.name, exc.reason, exc.failure, exc.fix, res.usage))  # type: ignore[arg-type]

    def _started(
        self,
        agent: AgentSpec,
        res: AgentResult,
        emit: Emit,
        model: str | None,
        instance: tuple[int, int] | None,
    ) -> None:
        res.status = "running"
        res.started = self._now()
        res.model = model
        emit(
            AgentStarted(
                self._run_id(),
                res.started,
                res.name,
                agent.kind,
                model,
                instance[0] if instance else None,
                instance[1] if instance else None,
                agent.name if instance else None,
            )
        )

    def _timeout_for(self, agent: AgentSpec, profile_timeout: float | None = None) -> float:
        return float(agent.timeout_seconds or profile_timeout or self.settings.default_timeout)

    @contextlib.asynccontextmanager
    async def _slot(self, model: str | None, host: str | None = None) -> AsyncIterator[None]:
        per = self.settings.per_model_concurrency
        msem = None
        if model and per:
            msem = self._model_sems.get(model)
            if msem is None:
                msem = self._model_sems[model] = asyncio.Semaphore(per)
        hsem = None
        if host:
            limit = self.settings.host_concurrency.get(host) or self.settings.per_host_concurrency
            if limit:
                hsem = self._host_sems.get(host)
                if hsem is None:
                    hsem = self._host_sems[host] = asyncio.Semaphore(limit)
        if hsem is not None:
            await hsem.acquire()
        try:
            if msem is not None:
                await msem.acquire()
            try:
                if self._global_sem is not None:
                    await self._global_sem.acquire()
                try:
                    yield
                finally:
                    if self._global_sem is not None:
                        self._global_sem.release()
            finally:
                if msem is not None:
                    msem.release()
        finally:
            if hsem is not None:
                hsem.release()

    def _endpoint(self, provider: str | None, profile: Any) -> endpoints.Endpoint | None:
        return endpoints.endpoint_for(provider, profile, ollama_host=self._host)

    def _provider_for(self, ep: endpoints.Endpoint) -> Any:
        """The client for one endpoint: the executor's own Ollama provider for the default Ollama host
        (the one passed in, or one created from ``host`` / ``$OLLAMA_HOST``), else one per endpoint."""
        if ep.family == endpoints.OLLAMA:
            default = self._endpoint("ollama", None)
            if default is not None and ep.url == default.url:
                if self._provider is None:
                    from conductor_tui.providers.ollama import OllamaProvider

                    self._provider = OllamaProvider(self._host)
                    self._own_provider = True
                return self._provider
        prov = self._endpoint_providers.get(ep.key)
        if prov is None:
            if ep.family == endpoints.OLLAMA:
                from conductor_tui.providers.ollama import OllamaProvider

                prov = OllamaProvider(ep.url)
            else:
                from conductor_tui.providers.openai_compat import OpenAICompatProvider

                prov = OpenAICompatProvider(
                    ep.url, api_key=ep.api_key(), api_key_env=ep.api_key_env, provider=ep.provider
                )
            self._endpoint_providers[ep.key] = prov
        return prov

    def _skip(self, res: AgentResult, reason: str, emit: Emit) -> None:
        res.status = SKIPPED
        res.error = reason
        emit(AgentSkipped(self._run_id(), self._now(), res.name, reason))
