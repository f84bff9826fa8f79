"""LLM agents: resolve the agent's model (profile, fallback chain), then stream its reply from
the endpoint's provider, one :class:`TextDelta` per delta; a failure that another model may not
have (missing model, host down, timeout …) falls back to the next profile in the chain."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.spec import AgentSpec
from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFinished, AgentNotice, TextDelta, Usage
from conductor_tui.engine.executor.base import Emit, ExecutorBase
from conductor_tui.engine.results import SUCCESS, AgentFailure, AgentResult
from conductor_tui.providers import endpoints

# failures another candidate model (or host) may not have
RETRYABLE = frozenset({"model-missing", "auth", "unreachable", "http", "busy", "stream", "timeout"})


@dataclass
class LlmCall:
    """One attempt: a model on an endpoint, with what the agent and its profile ask for."""

    model: str
    endpoint: endpoints.Endpoint
    messages: list[dict[str, str]]
    options: dict[str, Any]
    think: Any
    timeout: float


def call_settings(agent: AgentSpec, prof: Any) -> tuple[str, dict[str, Any], Any]:
    """System prompt, options and think for one candidate profile (the agent's own settings
    win over the profile's, as in llm-orc)."""
    system = agent.system_prompt
    if system is None and prof is not None:
        system = prof.system_prompt
    if system is None:
        system = f"You are a {agent.name}. Provide helpful analysis."
    options: dict[str, Any] = {**((prof.options if prof else None) or {}), **(agent.options or {})}
    think = options.pop("think", None)
    temperature = agent.temperature if agent.temperature is not None else (prof.temperature if prof else None)
    if temperature is not None:
        options["temperature"] = temperature
    max_tokens = agent.max_tokens if agent.max_tokens is not None else (prof.max_tokens if prof else None)
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    return system, options, think


def usage_from(u: Any, model: str, duration_ms: int) -> Usage:
    """The agent's usage from the provider's final usage item (``None`` when it sent none)."""
    return Usage(
        input_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(u, "output_tokens", 0) or 0),
        duration_ms=(
            int(u.total_duration_ns // 1_000_000) if u and getattr(u, "total_duration_ns", 0) else duration_ms
        ),
        model=(getattr(u, "model", None) or model),
        tokens_per_second=(round(u.tokens_per_second, 2) if u and u.tokens_per_second else None),
        load_duration_ms=(int(u.load_duration_ns // 1_000_000) if u else None),
    )


def _failure(reason: str, failure: str, fix: str | None, kind: Any) -> AgentFailure:
    """An :class:`AgentFailure` that remembers the provider's error kind (for the fallback)."""
    return AgentFailure(reason, failure, fix, provider_kind=kind if isinstance(kind, str) else None)


class LlmAgents(ExecutorBase):
    """Runs LLM agents through the provider of their endpoint."""

    async def _run_llm(
        self,
        agent: AgentSpec,
        text: str,
        res: AgentResult,
        emit: Emit,
        *,
        instance: tuple[int, int] | None,
    ) -> None:
        candidates = self._llm_candidates(agent)
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
            system, options, think = call_settings(agent, prof)
            timeout = self._timeout_for(agent, prof.timeout_seconds if prof else None)
            messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
            try:
                if ep.api_key_env and not ep.api_key():
                    raise _failure(
                        f"{ep.api_key_env} is not set (the API key for {ep.label})",
                        "config",
                        f"export {ep.api_key_env}=<key>",
                        "auth",
                    )
                call = LlmCall(model, ep, messages, options, think, timeout)
                await self._stream_llm(agent, call, res, emit, self._provider_for(ep))
                return
            except AgentFailure as exc:
                last_error = exc
                retryable = exc.provider_kind in RETRYABLE
                if not retryable or attempt == len(candidates) - 1:
                    raise

    def _llm_candidates(self, agent: AgentSpec) -> list[tuple[str, Any, endpoints.Endpoint]]:
        """(model, profile, endpoint) to try in order: the agent's own, then its fallback chain."""
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
        return candidates

    async def _stream_llm(
        self, agent: AgentSpec, call: LlmCall, res: AgentResult, emit: Emit, provider: Any
    ) -> None:
        """Stream one attempt; its text so far stays on ``res`` when it fails or is cancelled."""
        parts: list[str] = []
        model = call.model
        try:
            async with self._slot(model, call.endpoint.url), asyncio.timeout(call.timeout):
                usage_obj = await self._consume(agent, call, provider, res.name, parts, emit)
        except TimeoutError:
            self._partial(res, parts)
            raise _failure(
                f"timed out after {call.timeout:g} s (model {model})",
                "infrastructure",
                "raise timeout_seconds in the agent or its profile",
                "timeout",
            ) from None
        except asyncio.CancelledError:
            self._partial(res, parts)
            raise
        except Exception as e:
            self._partial(res, parts)
            reason = str(e) or type(e).__name__
            raise _failure(reason, "infrastructure", getattr(e, "fix", None), getattr(e, "kind", None)) from e
        response = "".join(parts)
        res.finished = self._now()
        res.response = response
        res.usage = usage_from(usage_obj, model, res.duration_ms)
        res.model = model
        if not response.strip():
            raise AgentFailure(f"model {model} returned no text", "model")
        res.status = SUCCESS
        emit(
            AgentFinished(self._run_id(), res.finished, res.name, response, res.usage, res.model_substituted)
        )

    async def _consume(
        self, agent: AgentSpec, call: LlmCall, provider: Any, name: str, parts: list[str], emit: Emit
    ) -> Any:
        """Read the provider's stream into ``parts``, emitting each delta; return its usage item."""
        run_id, perf, t0 = self._run_id(), time.perf_counter, self._t0
        usage_obj: Any = None
        stream = provider.chat_stream(
            call.model,
            call.messages,
            options=call.options or None,
            format=agent.ollama_format,
            keep_alive=self.settings.keep_alive,
            think=call.think,
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
        return usage_obj

    @staticmethod
    def _partial(res: AgentResult, parts: list[str]) -> None:
        if parts:
            res.response = "".join(parts)
