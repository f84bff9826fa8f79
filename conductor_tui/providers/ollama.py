"""Ollama: status, models, what is loaded, and streaming chat — the only module that talks to Ollama.

Everything goes through the official ``ollama.AsyncClient`` with explicit ``httpx`` timeouts (the
client's default is none, so a stalled server would hang forever). The client surfaces failures as many
different exception types (``ResponseError`` with an HTTP status, ``ResponseError`` with status -1 for an
``{"error"}`` line mid-stream, ``ConnectionError`` for refused non-streaming calls, raw
``httpx.ConnectError`` / ``RemoteProtocolError`` / ``ReadTimeout`` for streaming ones, ``json`` and
``pydantic`` errors for garbage); :func:`normalise_error` turns all of them into one :class:`OllamaError`
with a ``kind``, a one-line message and, where there is one, the command that fixes it.

No Textual here.

Usage::

    provider = OllamaProvider()            # $OLLAMA_HOST or http://127.0.0.1:11434
    status = await provider.status()       # never raises
    async with contextlib.aclosing(provider.chat_stream("qwen3:1.7b", messages)) as stream:
        async for item in stream:
            if isinstance(item, ChatChunk): ...
            else: usage = item             # exactly one ChatUsage, last
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama
import pydantic

from conductor_tui.core import locations
from conductor_tui.providers.endpoints import is_loopback
from conductor_tui.providers.errors import (
    ProviderError,
    cut_mid_response,
    ended_early,
    first_line,
    malformed_response,
)

__all__ = [
    "ChatChunk",
    "ChatUsage",
    "LoadedModel",
    "ModelInfo",
    "OllamaError",
    "OllamaProvider",
    "OllamaStatus",
    "normalise_error",
]

# an expiry further away than this means "kept loaded forever" (Ollama reports year 2318 for keep_alive<0)
_FOREVER_SECONDS = 50 * 365 * 24 * 3600


class OllamaError(ProviderError):
    """A normalised Ollama failure. ``str(e)`` is a clear one-line message.

    kind: ``"unreachable"`` (nothing listening / connection failed), ``"model-missing"`` (404; ``fix`` is
    ``ollama pull <model>``), ``"http"`` (another HTTP error status), ``"stream"`` (error line or cut
    connection mid-stream, malformed response), ``"timeout"`` (no data within the timeout), ``"busy"``
    (503: the server's queue is full — retry later)."""

    def __repr__(self) -> str:
        return f"OllamaError(kind={self.kind!r}, message={self.message!r}, fix={self.fix!r}, status={self.status!r})"


@dataclass
class ModelInfo:
    """One installed model (``/api/tags``)."""

    name: str
    size: int = 0
    parameter_size: str = ""
    quantization_level: str = ""
    family: str = ""
    modified_at: datetime | None = None
    digest: str = ""


@dataclass
class LoadedModel:
    """One model loaded in memory (``/api/ps``). ``size_vram`` vs ``size`` gives the GPU/CPU split."""

    name: str
    size: int = 0
    size_vram: int = 0
    expires_at: datetime | None = None
    context_length: int | None = None

    @property
    def vram_fraction(self) -> float:
        """Share of the model in GPU memory (0..1); 0 when the size is unknown."""
        if self.size <= 0:
            return 0.0
        return max(0.0, min(1.0, self.size_vram / self.size))

    @property
    def cpu_fraction(self) -> float:
        return 0.0 if self.size <= 0 else 1.0 - self.vram_fraction

    def seconds_to_unload(self, now: datetime | float | None = None) -> float | None:
        """Seconds until Ollama unloads it (>= 0); ``None`` if kept forever or unknown.

        ``now``: an aware datetime, a POSIX timestamp, or ``None`` for the current time."""
        if self.expires_at is None:
            return None
        if now is None:
            now_ts = time.time()
        elif isinstance(now, datetime):
            now_ts = (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
        else:
            now_ts = float(now)
        remaining = self.expires_at.timestamp() - now_ts
        if remaining > _FOREVER_SECONDS:
            return None
        return max(0.0, remaining)


@dataclass
class OllamaStatus:
    reachable: bool
    host: str
    version: str | None = None
    models: list[ModelInfo] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None


@dataclass
class ChatChunk:
    """A piece of streamed output: ``text`` (content) and/or ``thinking``."""

    text: str
    thinking: str = ""


@dataclass
class ChatUsage:
    """The final numbers of a chat, from Ollama's last chunk (durations in ns, as Ollama reports them)."""

    model: str
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_duration_ns: int = 0
    load_duration_ns: int = 0
    prompt_eval_duration_ns: int = 0
    eval_duration_ns: int = 0
    done_reason: str | None = None

    @property
    def tokens_per_second(self) -> float:
        """Generation speed: ``eval_count / eval_duration`` (0.0 when unknown)."""
        if self.eval_duration_ns <= 0 or self.output_tokens <= 0:
            return 0.0
        return self.output_tokens / (self.eval_duration_ns / 1e9)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    @property
    def duration_ms(self) -> int:
        return self.total_duration_ns // 1_000_000


def _display_host(host: str) -> str:
    parts = urlsplit(host if "://" in host else f"http://{host}")
    return parts.netloc or host


def _unreachable(host: str) -> OllamaError:
    msg = f"Ollama is not running at {_display_host(host)} — start it with `ollama serve`"
    return OllamaError("unreachable", msg, fix="ollama serve")


def normalise_error(exc: BaseException, *, host: str, model: str | None = None) -> OllamaError:
    """Map any exception raised while talking to Ollama to one :class:`OllamaError`."""
    if isinstance(exc, OllamaError):
        return exc
    where = _display_host(host)
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        text = str(exc.error).strip() or "unknown error"
        if status == -1:
            return OllamaError("stream", f"Ollama failed mid-stream: {text}", status=None, model=model)
        if status == 404 and model and "not found" in text.lower():
            return OllamaError(
                "model-missing",
                f"Model {model} is not installed in Ollama at {where} — pull it with `ollama pull {model}`",
                fix=f"ollama pull {model}",
                status=404,
                model=model,
            )
        if status == 503:
            return OllamaError(
                "busy",
                f"Ollama at {where} is busy (503: {text}) — try again shortly",
                status=503,
                model=model,
            )
        return OllamaError("http", f"Ollama returned HTTP {status}: {text}", status=status, model=model)
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return OllamaError(
            "timeout",
            f"Ollama at {where} did not answer in time ({type(exc).__name__})",
            model=model,
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | ConnectionRefusedError) or (
        isinstance(exc, ConnectionError) and not isinstance(exc, ConnectionResetError | BrokenPipeError)
    ):
        return _unreachable(host)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return OllamaError("stream", cut_mid_response("Ollama", where, first_line(exc)), model=model)
    if isinstance(exc, httpx.HTTPError | OSError):
        return OllamaError("stream", f"Ollama at {where}: {first_line(exc)}", model=model)
    if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError | ValueError | KeyError | TypeError):
        return OllamaError("stream", malformed_response("Ollama", where, exc), model=model)
    return OllamaError("stream", f"Ollama at {where}: {type(exc).__name__}: {first_line(exc)}", model=model)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class OllamaProvider:
    """Async access to one Ollama server. Create it inside the event loop that uses it."""

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float = 300.0,
        connect_timeout: float = 3.0,
        status_timeout: float = 5.0,
    ):
        self.host = (host or locations.ollama_host()).rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.status_timeout = status_timeout
        self._client = ollama.AsyncClient(
            host=self.host,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # a local Ollama must never be reached through an HTTP(S)_PROXY left in the environment
            trust_env=not is_loopback(self.host),
        )

    def __repr__(self) -> str:
        return f"OllamaProvider(host={self.host!r})"

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._client._client.aclose()

    async def __aenter__(self) -> OllamaProvider:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ queries
    async def _call(self, coro: Any, model: str | None = None) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise normalise_error(e, host=self.host, model=model) from e

    async def version(self) -> str:
        response = await self._call(self._client._request_raw("GET", "/api/version"))
        try:
            return str(response.json().get("version") or "")
        except Exception as e:
            raise normalise_error(e, host=self.host) from e

    async def list_models(self) -> list[ModelInfo]:
        """Installed models (``/api/tags``), in the server's order."""
        response = await self._call(self._client.list())
        out = []
        for m in response.models:
            details = m.details
            out.append(
                ModelInfo(
                    name=m.model or "",
                    size=int(m.size or 0),
                    parameter_size=(details.parameter_size if details else None) or "",
                    quantization_level=(details.quantization_level if details else None) or "",
                    family=(details.family if details else None) or "",
                    modified_at=m.modified_at,
                    digest=m.digest or "",
                )
            )
        return out

    async def loaded_models(self) -> list[LoadedModel]:
        """Models in memory now (``/api/ps``)."""
        response = await self._call(self._client.ps())
        out = []
        for m in response.models:
            size = int(m.size or 0)
            out.append(
                LoadedModel(
                    name=m.model or m.name or "",
                    size=size,
                    size_vram=int(m.size_vram if m.size_vram is not None else 0),
                    expires_at=m.expires_at,
                    context_length=m.context_length,
                )
            )
        return out

    async def show(self, model: str) -> dict:
        """``/api/show`` as a plain dict (keys as on the wire: ``details``, ``model_info``,
        ``capabilities``, ``modelfile``, ``parameters``, ``template``, ``license``, ``modified_at``)."""
        response = await self._call(self._client.show(model), model=model)
        return response.model_dump(by_alias=True, exclude_none=True, mode="json")

    async def status(self) -> OllamaStatus:
        """Version, installed and loaded models. Never raises: failures are ``error`` + ``fix``."""
        try:
            return await asyncio.wait_for(self._status(), self.status_timeout + self.connect_timeout)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return OllamaStatus(
                reachable=False,
                host=self.host,
                error=f"Ollama at {_display_host(self.host)} did not answer within "
                f"{self.status_timeout + self.connect_timeout:g} s",
                fix="check `ollama serve` (it may be stuck)",
            )
        except Exception as e:  # pragma: no cover - _status already catches everything
            err = normalise_error(e, host=self.host)
            return OllamaStatus(reachable=False, host=self.host, error=str(err), fix=err.fix)

    async def _status(self) -> OllamaStatus:
        try:
            version = await self.version()
        except OllamaError as e:
            return OllamaStatus(
                reachable=e.kind not in ("unreachable",) and e.kind != "timeout",
                host=self.host,
                error=str(e),
                fix=e.fix,
            )
        results = await asyncio.gather(self.list_models(), self.loaded_models(), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in errors:
            if isinstance(r, asyncio.CancelledError):
                raise r
        first = next((normalise_error(r, host=self.host) for r in errors), None)
        models = results[0] if isinstance(results[0], list) else []
        loaded = results[1] if isinstance(results[1], list) else []
        return OllamaStatus(
            reachable=True,
            host=self.host,
            version=version or None,
            models=models,
            loaded=loaded,
            error=str(first) if first else None,
            fix=first.fix if first else None,
        )

    async def load(self, model: str, keep_alive: float | str | None = None) -> None:
        """Load ``model`` into memory without generating (an empty chat, like ``ollama run`` warm-up)."""
        await self._call(
            self._client.chat(model=model, messages=[], stream=False, keep_alive=keep_alive), model=model
        )

    async def unload(self, model: str) -> None:
        """Ask Ollama to unload ``model`` now (``keep_alive: 0``)."""
        await self._call(self._client.chat(model=model, messages=[], stream=False, keep_alive=0), model=model)

    # ------------------------------------------------------------------ chat
    async def chat_stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
        think: bool | str | None = None,
    ) -> AsyncIterator[ChatChunk | ChatUsage]:
        """Stream a chat: a :class:`ChatChunk` per non-empty delta, then exactly one :class:`ChatUsage`.

        Raises :class:`OllamaError` (any failure, normalised). Cancelling the consuming task, or closing
        this generator (``aclose()`` / ``contextlib.aclosing``), closes the HTTP response at once, so
        Ollama sees the connection drop and stops generating."""
        stream = await self._open_chat(model, messages, options, format, keep_alive, think)
        usage: ChatUsage | None = None
        try:
            while True:
                try:
                    part = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    raise normalise_error(e, host=self.host, model=model) from e
                message = part.message
                text = (message.content or "") if message is not None else ""
                thinking = (message.thinking or "") if message is not None else ""
                if text or thinking:
                    yield ChatChunk(text=text, thinking=thinking)
                if part.done:
                    usage = _final_usage(part, model)
                    break
        finally:
            # closes the underlying ``async with client.stream(...)`` → the HTTP response/connection
            with contextlib.suppress(Exception):
                await stream.aclose()
        if usage is None:
            raise OllamaError("stream", ended_early("Ollama", _display_host(self.host), model), model=model)
        yield usage

    async def _open_chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any] | None,
        format: str | Mapping[str, Any] | None,
        keep_alive: float | str | None,
        think: bool | str | None,
    ) -> Any:
        """Start a streaming chat (the response's iterator); failures normalised."""
        try:
            # format: ollama types it Literal['', 'json'] | dict; callers pass "json" or a JSON schema mapping
            return await self._client.chat(  # type: ignore[call-overload]
                model=model,
                messages=list(messages),
                stream=True,
                options=dict(options) if options is not None else None,
                format=format,
                keep_alive=keep_alive,
                think=think,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise normalise_error(e, host=self.host, model=model) from e


def _final_usage(part: Any, model: str) -> ChatUsage:
    """The numbers on Ollama's last chunk (``done: true``)."""
    return ChatUsage(
        model=part.model or model,
        prompt_tokens=_int(part.prompt_eval_count),
        output_tokens=_int(part.eval_count),
        total_duration_ns=_int(part.total_duration),
        load_duration_ns=_int(part.load_duration),
        prompt_eval_duration_ns=_int(part.prompt_eval_duration),
        eval_duration_ns=_int(part.eval_duration),
        done_reason=part.done_reason,
    )
