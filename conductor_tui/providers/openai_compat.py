"""OpenAI-compatible servers (vLLM, llama.cpp's llama-server, LM Studio, OpenRouter, Ollama's ``/v1``):
status, models and streaming chat. No Textual.

Everything goes through the official ``openai`` client (``AsyncOpenAI`` with an explicit ``base_url``,
``timeout`` and ``max_retries``), imported lazily: the first call pays its ~0.5 s import, the cockpit's
start-up never does. Why that client rather than raw HTTP: it is the reference implementation of the
wire protocol every one of these servers copies (SSE ``data:`` lines, ``[DONE]``, ``{"error"}`` objects
mid-stream, ``stream_options.include_usage``), it retries 429/5xx before a stream starts, and it runs on
the same ``httpx2`` stack as the ``anthropic`` client already installed — so it adds little.

The chat stream yields the same :class:`~conductor_tui.providers.ollama.ChatChunk` pieces and one final
:class:`OpenAIUsage` (a :class:`~conductor_tui.providers.ollama.ChatUsage`) as the Ollama adapter, and
every failure becomes one :class:`OpenAICompatError` with the same ``kind`` vocabulary
(``unreachable``, ``model-missing``, ``http``, ``stream``, ``timeout``, ``busy``, plus ``auth``), a
one-line message and, where there is one, the fix. So the executor treats both alike.

Token counts come from the server (``usage`` on the last chunk, asked for with
``stream_options={"include_usage": True}``); a server that sends none gets one token per content chunk
(what vLLM and llama.cpp send; llama-cpp-python's server ignores ``include_usage``), a prompt count
estimated at ~4 characters a token, and ``usage_source="estimated"``. Durations are measured here (time to
first token, generation time) unless the server reports llama.cpp's ``timings``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conductor_tui.providers.endpoints import display_url, is_loopback, normalise_url
from conductor_tui.providers.errors import (
    ProviderError,
    cut_mid_response,
    ended_early,
    first_line,
    malformed_response,
)
from conductor_tui.providers.ollama import ChatChunk, ChatUsage
from conductor_tui.providers.openai_stream import OpenAIUsage, StreamTally

__all__ = ["EndpointStatus", "OpenAICompatError", "OpenAICompatProvider", "OpenAIUsage"]

# options that map 1:1 onto chat-completions parameters
_DIRECT = ("temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty", "max_tokens")
# sampling options vLLM and llama.cpp accept as extra body fields (OpenAI itself would reject them)
_EXTRA = ("top_k", "min_p", "repeat_penalty", "repetition_penalty", "typical_p", "mirostat")


class OpenAICompatError(ProviderError):
    """A normalised failure. ``str(e)`` is a clear one-line message; ``kind`` as :class:`OllamaError`
    plus ``"auth"`` (401/403: the key is missing or wrong)."""

    def __repr__(self) -> str:
        return f"OpenAICompatError(kind={self.kind!r}, message={self.message!r}, fix={self.fix!r})"


@dataclass
class EndpointStatus:
    reachable: bool
    url: str
    models: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None
    kind: str | None = None


def _body_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    return getattr(exc, "message", None) or first_line(exc)


class OpenAICompatProvider:
    """Async access to one OpenAI-compatible server. Create it inside the event loop that uses it.

    ``api_key``: the key itself (from the environment variable the profile names); ``api_key_env``
    only makes error messages say which variable to set. A server without auth gets a placeholder
    key (the client insists on one; local servers ignore it)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_key_env: str | None = None,
        provider: str = "openai-compatible",
        timeout: float = 300.0,
        connect_timeout: float = 3.0,
        status_timeout: float = 5.0,
        max_retries: int = 1,
    ):
        self.base_url = normalise_url(base_url)
        self.provider = provider
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.status_timeout = status_timeout
        self.max_retries = max_retries
        self._api_key = api_key
        self._client: Any = None

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(base_url={self.base_url!r}, provider={self.provider!r})"

    @property
    def where(self) -> str:
        return display_url(self.base_url)

    def _get_client(self) -> Any:
        if self._client is None:
            import httpx2
            import openai

            timeout = httpx2.Timeout(self.timeout, connect=self.connect_timeout)
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key or "no-key-required",
                base_url=self.base_url,
                timeout=timeout,
                max_retries=self.max_retries,
                # a server on this machine must never be reached through an HTTP(S)_PROXY left in the env
                http_client=openai.DefaultAsyncHttpxClient(
                    timeout=timeout, trust_env=not is_loopback(self.base_url)
                ),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None

    async def __aenter__(self) -> OpenAICompatProvider:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ errors
    def normalise_error(self, exc: BaseException, model: str | None = None) -> OpenAICompatError:
        """Map anything the client raises to one :class:`OpenAICompatError`."""
        if isinstance(exc, OpenAICompatError):
            return exc
        import openai

        where = self.where
        name = self.provider
        if isinstance(exc, openai.APITimeoutError | TimeoutError):
            return OpenAICompatError("timeout", f"{name} at {where} did not answer in time", model=model)
        if isinstance(exc, openai.APIConnectionError):
            return self._connection_error(exc, model)
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc.status_code, _body_message(exc), model)
        if isinstance(exc, openai.APIError):  # an {"error": …} object mid-stream
            return OpenAICompatError(
                "stream", f"{name} at {where} failed mid-stream: {_body_message(exc)}", model=model
            )
        if isinstance(exc, openai.OpenAIError):
            return OpenAICompatError("stream", f"{name} at {where}: {first_line(exc)}", model=model)
        return OpenAICompatError("stream", malformed_response(name, where, exc), model=model)

    def _connection_error(self, exc: BaseException, model: str | None) -> OpenAICompatError:
        """Nothing listening (``unreachable``, with how to start it), or a connection cut mid-response."""
        cause = exc.__cause__
        cause_name = type(cause).__name__ if cause is not None else ""
        if "Connect" in cause_name or isinstance(cause, ConnectionRefusedError | OSError):
            fix = (
                "start it: llama-server -m MODEL.gguf --port PORT (or python -m llama_cpp.server)"
                if self.provider == "llama-server"
                else f"start the server at {self.base_url} or fix base_url in the profile"
            )
            return OpenAICompatError(
                "unreachable",
                f"{self.provider} server is not reachable at {self.where} ({cause_name})",
                fix=fix,
            )
        detail = cause_name or first_line(exc)
        return OpenAICompatError("stream", cut_mid_response(self.provider, self.where, detail), model=model)

    def _status_error(self, status: int, text: str, model: str | None) -> OpenAICompatError:
        """An HTTP error status: the key refused, a model not served, a wrong path, busy, or other."""
        name, where = self.provider, self.where
        if status in (401, 403):
            var = self.api_key_env
            fix = f"export {var}=<key>" if var else "add api_key_env: <VARIABLE> to the profile and export it"
            return OpenAICompatError(
                "auth", f"{name} at {where} refused the key (HTTP {status}: {text})", fix=fix, status=status
            )
        if status == 404:
            if model and "model" in text.lower():
                return OpenAICompatError(
                    "model-missing",
                    f"Model {model} is not served by {name} at {where} ({text})",
                    fix=f"use a model listed by GET {self.base_url}/models (conductor-tui check shows them)",
                    status=404,
                    model=model,
                )
            hint = (
                "base_url usually ends with /v1"
                if not self.base_url.endswith("/v1")
                else "check base_url in the profile"
            )
            return OpenAICompatError(
                "http", f"{name} at {where} returned HTTP 404: {text}", fix=hint, status=404, model=model
            )
        if status in (429, 503):
            return OpenAICompatError(
                "busy",
                f"{name} at {where} is busy (HTTP {status}: {text}) — try again shortly",
                status=status,
                model=model,
            )
        return OpenAICompatError(
            "http", f"{name} at {where} returned HTTP {status}: {text}", status=status, model=model
        )

    # ------------------------------------------------------------------ queries
    async def list_models(self) -> list[str]:
        """Model ids the server serves (``GET /v1/models``), in the server's order."""
        client = self._get_client().with_options(max_retries=0, timeout=self.status_timeout)
        try:
            page = await client.models.list()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise self.normalise_error(e) from e
        return [str(m.id) for m in page.data]

    async def status(self) -> EndpointStatus:
        """Reachable or not, with its models. Never raises: failures are ``error`` + ``fix``."""
        try:
            models = await asyncio.wait_for(self.list_models(), self.status_timeout + self.connect_timeout)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return EndpointStatus(
                False,
                self.base_url,
                error=f"{self.provider} at {self.where} did not answer within "
                f"{self.status_timeout + self.connect_timeout:g} s",
                fix="check the server (it may be stuck)",
                kind="timeout",
            )
        except Exception as e:
            err = self.normalise_error(e)
            reachable = err.kind not in ("unreachable", "timeout")
            return EndpointStatus(reachable, self.base_url, error=str(err), fix=err.fix, kind=err.kind)
        return EndpointStatus(True, self.base_url, models=models)

    # ------------------------------------------------------------------ chat
    @staticmethod
    def request_params(
        options: Mapping[str, Any] | None, format: str | Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(chat-completions keyword arguments, extra body) from Ollama-style ``options`` and
        ``format``: ``num_predict`` → ``max_tokens``, OpenAI's own names pass through, llama.cpp/vLLM
        sampling extras go in the body, load-time Ollama options (``num_ctx``, ``num_gpu`` …) are
        dropped (they are the server's settings here)."""
        opts = dict(options or {})
        params: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if opts.get("num_predict") is not None and int(opts["num_predict"]) > 0:
            params["max_tokens"] = int(opts["num_predict"])
        for key in _DIRECT:
            if opts.get(key) is not None:
                params[key] = opts[key]
        for key in _EXTRA:
            if opts.get(key) is not None:
                extra[key] = opts[key]
        if format == "json":
            params["response_format"] = {"type": "json_object"}
        elif isinstance(format, Mapping):
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": dict(format)},
            }
        return params, extra

    async def chat_stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: Any = None,  # Ollama-only; accepted for a common signature
        think: Any = None,  # Ollama-only; reasoning servers stream ``reasoning_content`` anyway
    ) -> AsyncIterator[ChatChunk | ChatUsage]:
        """Stream a chat: a :class:`ChatChunk` per non-empty delta, then exactly one :class:`OpenAIUsage`.

        Raises :class:`OpenAICompatError`. Cancelling the consuming task, or closing this generator,
        closes the HTTP response at once, so the server sees the client go and stops generating."""
        params, extra = self.request_params(options, format)
        client = self._get_client()
        tally = StreamTally(model)
        try:
            stream = await client.chat.completions.create(
                model=model,
                messages=list(messages),
                stream=True,
                stream_options={"include_usage": True},
                extra_body=extra or None,
                **params,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise self.normalise_error(e, model) from e
        try:
            iterator = stream.__aiter__()
            while True:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    raise self.normalise_error(e, model) from e
                for piece in tally.feed(chunk):
                    yield piece
        finally:
            with contextlib.suppress(Exception):
                await stream.close()
        if tally.incomplete:
            raise OpenAICompatError(
                "stream",
                ended_early(self.provider, self.where, model),
                fix=(
                    "if several agents share this server, let it take one request at a time "
                    f'(performance.concurrency.hosts: {{"{self.base_url}": 1}}); llama-cpp-python\'s server '
                    "drops a stream when another request arrives unless started with --interrupt_requests False"
                ),
                model=model,
            )
        yield tally.final_usage(messages)
