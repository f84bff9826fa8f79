"""The async ensemble executor. No Textual.

* Every agent is one task that waits for *its own* dependencies (not for a
  level), so a fast branch never waits for a slow sibling.
* LLM agents stream through the provider their profile names: ``ollama``
  (:class:`~conductor_tui.providers.ollama.OllamaProvider`, one per host) or an
  OpenAI-compatible server (``openai-compatible``, ``llama-server``:
  :class:`~conductor_tui.providers.openai_compat.OpenAICompatProvider`, one per
  ``base_url``); every delta becomes a :class:`TextDelta`.
* Script agents run as subprocesses with llm-orc's JSON stdin/stdout contract.
* ``fan_out`` runs an agent once per item of its first dependency's JSON array
  (or ``{"data": [...]}``), in parallel; results are gathered in order.
* Concurrency is limited overall, per model and per host; cancelling stops every agent,
  kills subprocesses (their whole process group) and closes HTTP streams.

Failure semantics (as llm-orc): a dependent runs with the dependencies that
succeeded; when none of them did, it is skipped ("upstream failed"). A ``when``
that is false skips the agent, and an agent whose dependencies were all skipped is
skipped too. The run is ``failed`` when any agent failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core.spec import (
    DEFAULT_MAX_ENSEMBLE_DEPTH,
    DEFAULT_TIMEOUT_SECONDS,
    AgentSpec,
    EnsembleSpec,
)
from conductor_tui.engine import loader
from conductor_tui.engine.events import (
    AgentFailed,
    AgentFinished,
    AgentNotice,
    AgentSkipped,
    AgentStarted,
    Event,
    RunFinished,
    RunStarted,
    TextDelta,
    Usage,
)
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
from conductor_tui.providers import endpoints

EventCallback = Callable[[Event], Any]

# --------------------------------------------------------------------------- helpers


def _json_or_none(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None


def parse_array(response: Any, input_key: str | None = None) -> list[Any] | None:
    """The array an upstream response carries: a JSON array, ``{"data": [...]}``,
    or (with ``input_key``) ``{input_key: [...]}``."""
    if isinstance(response, list):
        return response
    parsed = _json_or_none(response)
    if input_key:
        return (
            parsed.get(input_key)
            if isinstance(parsed, dict) and isinstance(parsed.get(input_key), list)
            else None
        )
    if isinstance(parsed, list):
        return parsed
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), list):
        return parsed["data"]
    return None


def resolve_reference(token: str, results: dict[str, AgentResult]) -> Any:
    """``${dep.field.sub}`` → the value in ``dep``'s JSON response (``None`` when absent)."""
    token = token.strip()
    if not (token.startswith("${") and token.endswith("}")):
        return token
    inner = token[2:-1]
    dep, _, path = inner.partition(".")
    result = results.get(dep)
    if result is None or result.status != SUCCESS:
        return None
    value: Any = _json_or_none(result.response)
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _literal(token: str) -> Any:
    if token == "true":
        return True
    if token == "false":
        return False
    if token in ("null", "none", "None"):
        return None
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def evaluate_when(expr: str, results: dict[str, AgentResult]) -> bool:
    """llm-orc's guard grammar: ``${ref}`` (truthy) or ``${ref} == literal``."""
    expr = expr.strip()
    if "==" in expr:
        left, right = expr.split("==", 1)
        return bool(resolve_reference(left, results) == _literal(right.strip()))
    return bool(resolve_reference(expr, results))


def _as_text(response: Any) -> str:
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False)


def _role(agent: AgentSpec) -> str:
    if agent.model_profile:
        return agent.model_profile.replace("-", " ").title()
    return agent.name.replace("-", " ").title()


# --------------------------------------------------------------------------- executor


@dataclass
class EngineSettings:
    max_concurrency: int | None = None  # None / 0 = unlimited
    per_model_concurrency: int | None = None
    per_host_concurrency: int | None = None  # every host (an Ollama or an OpenAI-compatible server)
    host_concurrency: dict[str, int] = field(default_factory=dict)  # base URL → limit (wins)
    default_timeout: float = DEFAULT_TIMEOUT_SECONDS
    keep_alive: float | str | None = None
    max_ensemble_depth: int = DEFAULT_MAX_ENSEMBLE_DEPTH

    @classmethod
    def from_project(cls, project: Path | None) -> EngineSettings:
        """``performance.concurrency.max_concurrent_agents`` and
        ``performance.execution.default_timeout`` from config.yaml (global, then local)."""
        s = cls()
        from conductor_tui.core import locations

        paths = [locations.global_llm_orc_dir() / "config.yaml"]
        if project is not None:
            paths.append(locations.project_llm_orc_dir(project) / "config.yaml")
        for p in paths:
            if not p.is_file():
                continue
            try:
                data = loader.read_yaml(p).data
            except loader.EnsembleLoadError:
                continue
            perf = data.get("performance") if isinstance(data, dict) else None
            if not isinstance(perf, dict):
                continue
            conc = perf.get("concurrency") or {}
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_agents"), int):
                s.max_concurrency = conc["max_concurrent_agents"] or None
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_per_model"), int):
                s.per_model_concurrency = conc["max_concurrent_per_model"] or None
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_per_host"), int):
                s.per_host_concurrency = conc["max_concurrent_per_host"] or None
            hosts = conc.get("hosts") if isinstance(conc, dict) else None
            if isinstance(hosts, dict):
                for url, n in hosts.items():
                    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                        s.host_concurrency[endpoints.normalise_url(str(url))] = n
            exe = perf.get("execution") or {}
            if isinstance(exe, dict) and isinstance(exe.get("default_timeout"), int | float):
                s.default_timeout = float(exe["default_timeout"])
            if isinstance(exe, dict) and isinstance(exe.get("max_ensemble_depth"), int):
                s.max_ensemble_depth = exe["max_ensemble_depth"]
        return s


class Executor:
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
        self._procs: set[asyncio.subprocess.Process] = set()
        self._endpoint_providers: dict[str, Any] = {}  # endpoint key → provider (owned, closed after a run)
        self._host_sems: dict[str, asyncio.Semaphore] = {}

    # ------------------------------------------------------------------ public
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
        result = RunResult(run_id=run_id or uuid.uuid4().hex[:12], ensemble=ensemble, input=input_text)
        self._external_scripts = loader.external_scripts_allowed(ensemble)
        t0 = time.perf_counter()
        self._t0 = t0
        self._current_run_id = result.run_id
        self._result = result
        self._cancel_requested = False
        emit = self._make_emitter(result, on_event)
        for agent in ensemble.agents:
            result.agents[agent.name] = AgentResult(name=agent.name, kind=agent.kind)
        emit(RunStarted(result.run_id, 0.0, ensemble.name, [a.name for a in ensemble.agents], input_text))

        blocking = [p for p in ensemble.problems if p.blocking]
        if blocking:
            for r in result.agents.values():
                r.status = SKIPPED
                r.error = "not run"
            result.status = RunStatus.FAILED
            result.error = "; ".join(str(p) for p in blocking)
            self._finish(result, emit)
            return result

        self._global_sem = (
            asyncio.Semaphore(self.settings.max_concurrency) if self.settings.max_concurrency else None
        )
        self._model_sems: dict[str, asyncio.Semaphore] = {}
        self._host_sems = {}
        if self._parent is not None:  # a child ensemble shares its parent's limits and clients
            self._global_sem = self._parent._global_sem
            self._model_sems = self._parent._model_sems
            self._host_sems = self._parent._host_sems
            self._endpoint_providers = self._parent._endpoint_providers
        done: dict[str, asyncio.Event] = {a.name: asyncio.Event() for a in ensemble.agents}
        outer_cancelled = False
        tasks: list[asyncio.Task[Any]] = []
        try:
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
            if self._cancel_requested or outer_cancelled:
                result.status = RunStatus.CANCELLED
        finally:
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
        self._finish(result, emit)
        if outer_cancelled:
            raise asyncio.CancelledError
        return result

    # ------------------------------------------------------------------ internals
    def _make_emitter(self, result: RunResult, on_event: EventCallback | None) -> Callable[[Event], None]:
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

    def _now(self) -> float:
        return time.perf_counter() - self._t0

    def _finish(self, result: RunResult, emit: Callable[[Event], None]) -> None:
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
            _kill_group(proc)
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
        emit: Callable[[Event], None],
    ) -> None:
        res = result.agents[agent.name]
        try:
            for dep in agent.depends_on:
                await done[dep].wait()
            deps = [result.agents[d] for d in agent.depends_on]
            if deps and all(d.status == SKIPPED for d in deps) and agent.on_dependency_failure != "run":
                self._skip(res, "all its dependencies were skipped", emit)
                return
            ok_deps = [d for d in deps if d.status == SUCCESS]
            if deps and not ok_deps and agent.on_dependency_failure != "run":
                failed = ", ".join(d.name for d in deps if d.status != SKIPPED)
                self._skip(res, f"upstream failed: {failed}", emit)
                return
            if agent.when is not None:
                try:
                    go = evaluate_when(agent.when, result.agents)
                except Exception:  # pragma: no cover - defensive
                    go = False
                if not go:
                    self._skip(res, f"when {agent.when} is false", emit)
                    return
            if agent.fan_out:
                await self._run_fan_out(agent, input_text, result, res, emit)
            else:
                agent_input = self._compose_input(agent, input_text, result)
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

    def _skip(self, res: AgentResult, reason: str, emit: Callable[[Event], None]) -> None:
        res.status = SKIPPED
        res.error = reason
        emit(AgentSkipped(self._run_id(), self._now(), res.name, reason))

    def _run_id(self) -> str:
        return self._current_run_id

    # input composition (llm-orc's shapes) ---------------------------------
    def _dep_response(self, agent: AgentSpec, dep: AgentResult, first: bool) -> str | None:
        text = _as_text(dep.response)
        if first and agent.input_key:
            parsed = _json_or_none(text)
            if not isinstance(parsed, dict):
                raise AgentFailure(
                    f'input_key "{agent.input_key}": upstream "{dep.name}" did not return a JSON object',
                    "config",
                )
            if agent.input_key not in parsed:
                raise AgentFailure(
                    f'input_key "{agent.input_key}" not found in upstream "{dep.name}" output '
                    f"(keys: {', '.join(map(str, parsed)) or 'none'})",
                    "config",
                )
            value = parsed[agent.input_key]
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text

    def _compose_input(self, agent: AgentSpec, base: str, result: RunResult) -> Any:
        """Text for an LLM agent, a JSON-able dict for a script agent."""
        dep_texts: dict[str, str] = {}
        for i, dep_name in enumerate(agent.depends_on):
            dep = result.agents[dep_name]
            if dep.status != SUCCESS:
                continue
            dep_texts[dep_name] = self._dep_response(agent, dep, i == 0) or ""
        if agent.kind == "script":
            if not agent.depends_on:
                return {"input": base, "parameters": agent.parameters, "context": {}}
            return {
                "agent_name": agent.name,
                "input_data": base,
                "context": {},
                "parameters": agent.parameters,
                "dependencies": {
                    **{name: {"response": text, "status": SUCCESS} for name, text in dep_texts.items()},
                    **(
                        {
                            d: {
                                "response": result.agents[d].response,
                                "status": result.agents[d].status,
                                "error": result.agents[d].error,
                            }
                            for d in agent.depends_on
                            if d not in dep_texts
                        }
                        if agent.on_dependency_failure == "run"
                        else {}
                    ),
                },
            }
        if not agent.depends_on:
            return base
        blocks = [
            f"Agent {name} ({self._role_of(name, result)}):\n{text}" for name, text in dep_texts.items()
        ]
        if agent.on_dependency_failure == "run":
            blocks += [
                f"Agent {d} {result.agents[d].status}: {result.agents[d].error or 'no result'}"
                for d in agent.depends_on
                if d not in dep_texts
            ]
        if agent.input_scope == "dependencies":
            return "\n\n".join(blocks)
        return (
            "Respond to the input below. The results of the agents this step depends on "
            "are included for reference.\n\n"
            f"Original Input:\n{base}\n\n"
            "Previous Agent Results (for your reference):\n" + "\n\n".join(blocks) + "\n\n"
            "Build on these results rather than repeating them."
        )

    def _role_of(self, name: str, result: RunResult) -> str:
        agent = result.ensemble.agent(name)
        return _role(agent) if agent else name

    # fan-out --------------------------------------------------------------
    async def _run_fan_out(
        self,
        agent: AgentSpec,
        base: str,
        result: RunResult,
        res: AgentResult,
        emit: Callable[[Event], None],
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
        res.instances = [
            AgentResult(name=f"{agent.name}[{i}]", kind=agent.kind, index=i) for i in range(len(items))
        ]
        n = len(items)

        async def one(i: int, item: Any) -> None:
            inst = res.instances[i]  # type: ignore[index]
            if agent.kind == "script":
                payload: Any = {
                    "agent_name": inst.name,
                    "input": item,
                    "chunk_index": i,
                    "total_chunks": n,
                    "base_input": base,
                    "parameters": agent.parameters,
                    "context": {},
                }
            else:
                item_text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
                payload = f"Item {i + 1} of {n}.\n\nOriginal task: {base}\n\nItem content:\n{item_text}"
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
        res.finished = self._now()
        insts = res.instances
        res.response = json.dumps(
            [
                _json_or_none(i.response)
                if _json_or_none(i.response) is not None and agent.kind == "script"
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
        else:
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

    # one agent / instance ---------------------------------------------------
    async def _run_one(
        self,
        agent: AgentSpec,
        payload: Any,
        res: AgentResult,
        emit: Callable[[Event], None],
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
                await self._run_composition(agent, _as_text(payload), res, emit, instance=instance)
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

    # ensemble / loop / dispatch ---------------------------------------------------
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

    async def _run_child(
        self, name: str, text: str, agent: AgentSpec, emit: Callable[[Event], None]
    ) -> RunResult:
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
        emit: Callable[[Event], None],
        *,
        instance: tuple[int, int] | None,
    ) -> None:
        """llm-orc's composition agents: ``ensemble`` runs a child ensemble and answers with its result
        dict (JSON); ``dispatch`` does the same for the ensemble a ``${agent.field}`` names at run time;
        ``loop`` re-runs its ``body`` ensemble until ``until`` holds over the body's output (or
        ``max_iterations``), feeding ``carry`` forward, and answers ``{output, iterations, terminated}``."""
        self._started(agent, res, emit, None, instance)
        usage_in = usage_out = 0
        if agent.kind == "loop":
            loop = agent.loop or {}
            body, until = str(loop.get("body")), str(loop.get("until"))
            limit, carry = int(loop.get("max_iterations") or 1), loop.get("carry")
            output: dict[str, Any] = {}
            terminated, iterations, inp = "exhausted", 0, text
            for iterations in range(1, limit + 1):  # noqa: B007 - the count is the answer
                child = await self._run_child(body, inp, agent, emit)
                usage_in += child.total_input_tokens
                usage_out += child.total_output_tokens
                if child.status != RunStatus.COMPLETED:
                    raise self._child_failed(body, child)
                output = _terminal_output(child.deliverable)
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
        else:
            if agent.kind == "dispatch":
                ref = agent.dispatch or ""
                target = resolve_reference(ref, self._result.agents) if "${" in ref else ref
                if not isinstance(target, str) or not target.strip():
                    raise AgentFailure(
                        f"dispatch {ref} resolved to {target!r}, not an ensemble name", "config"
                    )
                target = target.strip()
            else:
                target = agent.ensemble or ""
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

    def _fail(self, res: AgentResult, exc: AgentFailure, emit: Callable[[Event], None]) -> None:
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
        emit: Callable[[Event], None],
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
    async def _slot(self, model: str | None, host: str | None = None):
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

    # providers ---------------------------------------------------------------
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

    # LLM --------------------------------------------------------------------
    async def _run_llm(
        self,
        agent: AgentSpec,
        text: str,
        res: AgentResult,
        emit: Callable[[Event], None],
        *,
        instance: tuple[int, int] | None,
    ) -> None:
        resolved = loader.resolve_agent_model(agent, self.profiles)
        if resolved.problems:
            p = resolved.problems[0]
            raise AgentFailure(p.message, "config", p.fix)
        profile = resolved.profile
        endpoint = self._endpoint(resolved.provider, profile)
        if endpoint is None:
            raise AgentFailure(
                f'provider "{resolved.provider}" is not supported (conductor-tui runs ollama, '
                "openai-compatible and llama-server models)",
                "config",
                "point its profile at one of those providers",
            )
        candidates: list[tuple[str, Any, endpoints.Endpoint]] = [(resolved.model or "", profile, endpoint)]
        for fb in loader.fallback_chain(agent, self.profiles):
            fb_ep = self._endpoint(fb.provider, fb)
            if fb.model and fb_ep is not None:
                candidates.append((fb.model, fb, fb_ep))

        def call_for(prof: Any) -> tuple[str, dict[str, Any], Any, float]:
            """System prompt, options, think and timeout for one candidate profile
            (the agent's own settings win over the profile's, as in llm-orc)."""
            system = agent.system_prompt
            if system is None and prof is not None:
                system = prof.system_prompt
            if system is None:
                system = f"You are a {agent.name}. Provide helpful analysis."
            options: dict[str, Any] = {**((prof.options if prof else None) or {}), **(agent.options or {})}
            think = options.pop("think", None)
            temperature = (
                agent.temperature if agent.temperature is not None else (prof.temperature if prof else None)
            )
            if temperature is not None:
                options["temperature"] = temperature
            max_tokens = (
                agent.max_tokens if agent.max_tokens is not None else (prof.max_tokens if prof else None)
            )
            if max_tokens is not None:
                options["num_predict"] = max_tokens
            return system, options, think, self._timeout_for(agent, prof.timeout_seconds if prof else None)

        self._started(agent, res, emit, candidates[0][0], instance)
        last_error: Any = None
        for attempt, (model, prof, ep) in enumerate(candidates):
            if attempt:
                res.model = model
                res.model_substituted = True
                emit(
                    AgentNotice(
                        self._run_id(), self._now(), res.name, f"falling back to {model}: {last_error}"
                    )
                )
            system, options, think, timeout = call_for(prof)
            messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
            try:
                if ep.api_key_env and not ep.api_key():
                    exc = AgentFailure(
                        f"{ep.api_key_env} is not set (the API key for {ep.label})",
                        "config",
                        f"export {ep.api_key_env}=<key>",
                    )
                    exc.ollama_kind = "auth"  # type: ignore[attr-defined]
                    raise exc
                provider = self._provider_for(ep)
                await self._stream_llm(
                    agent, model, messages, options, think, timeout, res, emit, provider, ep
                )
                return
            except AgentFailure as exc:
                last_error = exc
                retryable = getattr(exc, "ollama_kind", None) in (
                    "model-missing",
                    "auth",
                    "unreachable",
                    "http",
                    "busy",
                    "stream",
                    "timeout",
                )
                if not retryable or attempt == len(candidates) - 1:
                    raise

    async def _stream_llm(
        self,
        agent: AgentSpec,
        model: str,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        think: Any,
        timeout: float,
        res: AgentResult,
        emit: Callable[[Event], None],
        provider: Any = None,
        ep: endpoints.Endpoint | None = None,
    ) -> None:
        parts: list[str] = []
        if provider is None:
            provider = self._provider_for(self._endpoint("ollama", None))  # type: ignore[arg-type]
        usage_obj: Any = None
        run_id = self._run_id()
        name = res.name
        perf = time.perf_counter
        t0 = self._t0
        try:
            async with self._slot(model, ep.url if ep is not None else None), asyncio.timeout(timeout):
                stream = provider.chat_stream(
                    model,
                    messages,
                    options=options or None,
                    format=agent.ollama_format,
                    keep_alive=self.settings.keep_alive,
                    think=think,
                )
                try:
                    async for item in stream:
                        if hasattr(item, "prompt_tokens"):
                            usage_obj = item
                            continue
                        if item.thinking:
                            emit(TextDelta(run_id, perf() - t0, name, item.thinking, True))
                        if item.text:
                            parts.append(item.text)
                            emit(TextDelta(run_id, perf() - t0, name, item.text))
                finally:
                    with contextlib.suppress(Exception):
                        await stream.aclose()
        except TimeoutError:
            exc = AgentFailure(
                f"timed out after {timeout:g} s (model {model})",
                "infrastructure",
                "raise timeout_seconds in the agent or its profile",
            )
            exc.ollama_kind = "timeout"  # type: ignore[attr-defined]
            self._partial(res, parts)
            raise exc from None
        except asyncio.CancelledError:
            self._partial(res, parts)
            raise
        except Exception as e:
            kind = getattr(e, "kind", None)
            reason = str(e) or type(e).__name__
            exc = AgentFailure(reason, "infrastructure", getattr(e, "fix", None))
            exc.ollama_kind = kind  # type: ignore[attr-defined]
            self._partial(res, parts)
            raise exc from e
        response = "".join(parts)
        res.finished = self._now()
        res.response = response
        u = usage_obj
        res.usage = Usage(
            input_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(u, "output_tokens", 0) or 0),
            duration_ms=(
                int(u.total_duration_ns // 1_000_000)
                if u and getattr(u, "total_duration_ns", 0)
                else res.duration_ms
            ),
            model=(getattr(u, "model", None) or model),
            tokens_per_second=(round(u.tokens_per_second, 2) if u and u.tokens_per_second else None),
            load_duration_ms=(int(u.load_duration_ns // 1_000_000) if u else None),
        )
        res.model = model
        if not response.strip():
            raise AgentFailure(f"model {model} returned no text", "model")
        res.status = SUCCESS
        emit(AgentFinished(run_id, res.finished, name, response, res.usage, res.model_substituted))

    @staticmethod
    def _partial(res: AgentResult, parts: list[str]) -> None:
        if parts:
            res.response = "".join(parts)

    # scripts -------------------------------------------------------------------
    async def _run_script(
        self,
        agent: AgentSpec,
        payload: dict[str, Any],
        res: AgentResult,
        emit: Callable[[Event], None],
        *,
        base_input: str,
        instance: tuple[int, int] | None,
    ) -> None:
        script = agent.script or ""
        self._started(agent, res, emit, None, instance)
        if loader.looks_like_path(script):
            path, why = loader.locate_script(
                script, self.project, allow_external=getattr(self, "_external_scripts", False)
            )
            if path is None and why == "outside":
                raise AgentFailure(
                    f"script {script} is outside the scripts folders; not running it",
                    "infrastructure",
                    f"move it into .llm-orc/scripts/, or set {loader.EXTERNAL_SCRIPTS_KEY}: true "
                    "at the top of the ensemble",
                )
            if path is None:
                raise AgentFailure(
                    f"script not found: {script}",
                    "infrastructure",
                    "put it in .llm-orc/scripts/ or fix the path",
                )
            argv = [*_interpreter(path), str(path)]
        else:
            argv = ["/bin/bash", "-c", script]
        stdin = json.dumps(payload, ensure_ascii=False).encode()
        env = script_environment(os.environ)
        if instance is not None:
            item = payload.get("input")
            env["INPUT_DATA"] = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        elif "dependencies" in payload:
            env["INPUT_DATA"] = stdin.decode()
        else:
            env["INPUT_DATA"] = base_input
        env["INPUT_TEXT"] = base_input
        env["AGENT_PARAMETERS"] = json.dumps(agent.parameters, ensure_ascii=False)
        env["AGENT_NAME"] = res.name
        if self.project is not None:
            env["LLM_ORC_PROJECT_DIR"] = str(self.project)
        timeout = self._timeout_for(agent)
        async with self._slot(None):
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=str(self.project) if self.project else None,
                    start_new_session=True,
                )
            except OSError as exc:
                raise AgentFailure(
                    f"cannot start {argv[0]}: {exc.strerror or exc}", "infrastructure"
                ) from exc
            self._procs.add(proc)
            try:
                async with asyncio.timeout(timeout):
                    out, err = await _communicate_bounded(proc, stdin, SCRIPT_OUTPUT_LIMIT)
            except _OutputTooLarge:
                _kill_group(proc)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.communicate(), 2)  # reap, drain and close the pipes
                raise AgentFailure(
                    f"script printed more than {SCRIPT_OUTPUT_LIMIT // 1_000_000} MB; stopped it",
                    "infrastructure",
                    "make the script print less (its output becomes a prompt)",
                ) from None
            except TimeoutError:
                _kill_group(proc)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.communicate(), 2)  # reap, drain and close the pipes
                raise AgentFailure(
                    f"script timed out after {timeout:g} s",
                    "infrastructure",
                    "raise timeout_seconds for this agent",
                ) from None
            except asyncio.CancelledError:
                _kill_group(proc)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(proc.communicate(), 2)  # reap, drain and close the pipes
                raise
            finally:
                if proc.returncode is not None:
                    self._procs.discard(proc)
        res.finished = self._now()
        res.usage = Usage(duration_ms=res.duration_ms)
        stdout = out.decode("utf-8", "replace").strip()
        stderr_tail = _tail(err.decode("utf-8", "replace"))
        if proc.returncode != 0:
            res.response = stdout or None
            raise AgentFailure(
                f"script exited with code {proc.returncode}" + (f": {stderr_tail}" if stderr_tail else ""),
                "infrastructure",
            )
        if not stdout:
            raise AgentFailure(
                'script printed nothing (expected JSON {"success", "data", "error"})'
                + (f"; stderr: {stderr_tail}" if stderr_tail else ""),
                "infrastructure",
            )
        try:
            parsed = json.loads(stdout)
        except (ValueError, RecursionError) as exc:
            res.response = stdout
            where = (
                f"{exc.msg} at line {exc.lineno} col {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else "nested too deeply"
            )
            raise AgentFailure(
                f"script printed invalid JSON ({where}): {stdout[:120]!r}", "infrastructure"
            ) from None
        if isinstance(parsed, dict) and (not parsed.get("success", True) or parsed.get("error")):
            res.response = stdout
            raise AgentFailure(
                f"script reported failure: {parsed.get('error') or 'success: false'}", "infrastructure"
            )
        res.response = stdout
        res.status = SUCCESS
        emit(AgentFinished(self._run_id(), res.finished, res.name, stdout, res.usage))


def _terminal_output(deliverable: str | None) -> dict[str, Any]:
    """A loop body's output as llm-orc reads it: its deliverable's JSON object, else ``{"value": …}``."""
    if deliverable is None:
        return {}
    parsed = _json_or_none(deliverable)
    if parsed is None:
        return {"value": deliverable}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def resolve_in(token: str, output: dict[str, Any]) -> Any:
    """``${field.sub}`` → the value in a loop body's ``output`` (``None`` when absent)."""
    token = token.strip()
    if not (token.startswith("${") and token.endswith("}")):
        return token
    value: Any = output
    for part in token[2:-1].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def evaluate_on(expr: str, output: dict[str, Any]) -> bool:
    """A loop's ``until``: ``${field}`` (truthy) or ``${field} == literal`` over the body's output."""
    expr = expr.strip()
    if "==" in expr:
        left, right = expr.split("==", 1)
        return bool(resolve_in(left, output) == _literal(right.strip()))
    return bool(resolve_in(expr, output))

SCRIPT_OUTPUT_LIMIT = 1_000_000  # bytes of stdout a script agent may print

# What a script agent's environment keeps from ours (an allow-list: API keys and other
# secrets never reach a script). Names ending in _KEY/_TOKEN/_SECRET/_PASSWORD are dropped
# even when a prefix below would keep them.
_ENV_KEEP = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "TMPDIR",
        "TMP",
        "TEMP",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "OLLAMA_HOST",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "LLM_ORC_LIBRARY_PATH",
        "SYSTEMROOT",
    }
)
_ENV_KEEP_PREFIXES = ("LC_", "PYTHON")
_ENV_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)


def script_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of ``base`` for a script agent (see ``_ENV_KEEP``)."""
    out: dict[str, str] = {}
    for key, value in base.items():
        if _ENV_SECRET.search(key):
            continue
        if key in _ENV_KEEP or key.startswith(_ENV_KEEP_PREFIXES):
            out[key] = value
    return out


class _OutputTooLarge(Exception):
    pass


async def _communicate_bounded(
    proc: asyncio.subprocess.Process, stdin: bytes, limit: int
) -> tuple[bytes, bytes]:
    """``proc.communicate(stdin)`` that raises :class:`_OutputTooLarge` as soon as stdout
    passes ``limit`` bytes (and keeps only the last 64 KiB of stderr)."""

    async def feed() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            proc.stdin.close()

    async def read_out() -> bytes:
        assert proc.stdout is not None
        buf = bytearray()
        while chunk := await proc.stdout.read(1 << 16):
            buf += chunk
            if len(buf) > limit:
                raise _OutputTooLarge
        return bytes(buf)

    async def read_err() -> bytes:
        assert proc.stderr is not None
        buf = bytearray()
        while chunk := await proc.stderr.read(1 << 16):
            buf += chunk
            if len(buf) > 1 << 17:
                del buf[: len(buf) - (1 << 16)]
        return bytes(buf)

    feeding, reading_out, reading_err = (
        asyncio.ensure_future(feed()),
        asyncio.ensure_future(read_out()),
        asyncio.ensure_future(read_err()),
    )
    tasks: list[asyncio.Future[Any]] = [feeding, reading_out, reading_err]
    try:
        _, out, err = await asyncio.gather(feeding, reading_out, reading_err)
    except BaseException:
        for t in tasks:
            t.cancel()
        raise
    await proc.wait()
    return out, err


def _tail(text: str, limit: int = 300) -> str:
    text = text.strip()
    if not text:
        return ""
    lines = text.splitlines()
    tail = " | ".join(lines[-3:])
    return tail[-limit:]


def _interpreter(path: Path) -> list[str]:
    ext = path.suffix.lower()
    if ext in (".py", ".python"):
        return [sys.executable]
    if ext in (".sh", ".bash"):
        return ["bash"]
    if ext in (".js", ".javascript"):
        return ["node"]
    if ext in (".rb", ".ruby"):
        return ["ruby"]
    if os.access(path, os.X_OK):
        return []
    return ["bash"]


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()


def deliverable_of(result: RunResult) -> str | None:
    """llm-orc's single deliverable: the last terminal agent that succeeded with
    text, else the last successful agent in declaration order. A script agent's
    ``{"success": true, "data": "<text>"}`` yields the text itself."""
    spec = result.ensemble
    terminals = [a.name for a in spec.terminal_agents()]
    order = [*reversed(terminals), *(a.name for a in reversed(spec.agents))]
    for name in order:
        r = result.agents.get(name)
        if r is not None and r.status == SUCCESS and r.response:
            text = _as_text(r.response)
            if r.kind == "script":
                parsed = _json_or_none(text)
                if isinstance(parsed, dict) and isinstance(parsed.get("data"), str):
                    return parsed["data"]
            return text
    return None


# --------------------------------------------------------------------------- streaming API


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
