"""A protocol-faithful fake Ollama server for tests, benchmarks and demos.

Real HTTP/1.1 on 127.0.0.1 (threaded: several requests stream at once, keep-alive like the real
server), the real NDJSON wire protocol (``application/x-ndjson`` with chunked transfer encoding, one
JSON object per line, never a blank line), so the official ``ollama`` client talks to it unchanged.

Endpoints: ``GET /``, ``GET /api/version``, ``GET /api/tags``, ``GET /api/ps``, ``POST /api/show``,
``POST /api/chat``, ``POST /api/generate``.

Behaviour that mirrors Ollama:

* an absent ``stream`` means stream; ``stream: false`` returns one JSON object;
* unknown model → 404 ``{"error": "model 'x' not found"}``;
* a model becomes *loaded* on use (``/api/ps``) until ``now + keep_alive`` (default 5m; ``0`` unloads
  after the request; a negative value keeps it forever); an empty ``messages`` / ``prompt`` only loads
  (``done_reason: "load"``) or, with ``keep_alive: 0``, unloads (``done_reason: "unload"``);
* ``options.num_predict`` truncates (``done_reason: "length"``), ``options.stop`` cuts at a stop string,
  ``options.num_ctx`` is the ``context_length`` reported by ``/api/ps``;
* ``think`` on a model without the ``thinking`` capability → 400; with it, the model's ``thinking``
  text streams first in ``message.thinking`` (chat) / ``thinking`` (generate);
* per-model parallel slots (``OLLAMA_NUM_PARALLEL``): extra requests wait for a slot; with
  ``max_queue`` (``OLLAMA_MAX_QUEUE``) more waiting requests than that get 503 "server busy";
* metrics on the final chunk are integer nanoseconds *measured* around the pacing actually applied,
  like the real server: ``load_duration`` covers waiting for a slot plus loading, ``prompt_eval_duration``
  the simulated prompt processing (and any slow-first-token fault), ``eval_duration`` the token stream,
  ``total_duration`` the whole request. Zero metrics are omitted (Go ``omitempty``).

Pacing: each reply is tokenised deterministically (:func:`tokenize`: words and single punctuation marks
with their leading whitespace; one piece = one eval token) and paced at ``tokens_per_second * speed``.
So with ``speed=10`` the reported tokens/s is about ten times the model's ``tokens_per_second``.

Every request is recorded in :attr:`FakeOllama.requests` as a dict with ``path``, ``method``, ``body``
and, for chat/generate, ``model``, ``t_received``, ``t_slot`` (slot acquired), ``t_first_token``,
``t_end`` (``time.monotonic()`` values), ``tokens_sent``, ``status`` and ``outcome`` (``"completed"``,
``"client-disconnected"``, ``"fault:<kind>"``, ``"busy"`` (queue full), ``"error"``,
``"server-stopped"``). Use
:meth:`FakeOllama.wait_until` / :meth:`wait_for_outcome` to synchronise on them instead of sleeping.

CLI (serves until Ctrl-C)::

    python -m tests.fakes.ollama_server --port 11434 --speed 1 --model qwen3:1.7b:200 --model llama3.2:3b:90
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import select
import signal
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "DEFAULT_MODELS",
    "FakeModel",
    "FakeOllama",
    "Fault",
    "LoadedState",
    "default_models",
    "parse_keep_alive",
    "prompt_token_count",
    "tokenize",
]

THINKING_FAMILIES = {"qwen3", "deepseek-r1", "gpt-oss", "magistral"}
DEFAULT_KEEP_ALIVE = 300.0
FOREVER = datetime(2318, 1, 1, tzinfo=UTC)
FAULT_KINDS = (
    "not-found",
    "server-error",
    "error-midstream",
    "cut-midstream",
    "slow-first-token",
    "busy",
)

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into deterministic pieces whose concatenation is ``text``.

    Each piece is a word or a single punctuation character with its leading whitespace (trailing
    whitespace is a piece of its own). One piece = one eval token."""
    return _TOKEN_RE.findall(text)


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content") or ""
    return content if isinstance(content, str) else json.dumps(content)


def prompt_token_count(body: dict) -> int:
    """The ``prompt_eval_count`` the fake reports for a chat or generate request body.

    Chat: per message, its content's tokens + 4 (role/template overhead); generate: tokens of
    ``system`` + ``prompt`` + 4. Never below 1."""
    if "messages" in body:
        messages = body.get("messages") or []
        count = sum(len(tokenize(_message_text(m))) + 4 for m in messages)
    else:
        text = (body.get("system") or "") + (body.get("prompt") or "")
        count = len(tokenize(text)) + 4
    return max(count, 1)


_DURATION_RE = re.compile(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> float | None:
    """Seconds to keep a model loaded; ``None`` means forever (negative values), like Ollama.

    Accepts numbers (seconds) and Go duration strings (``"5m"``, ``"1h30m"``, ``"-1"``, ``"0"``)."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, bool):
        raise ValueError(f"invalid keep_alive {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_RE.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text.replace("+", ""):
                raise ValueError(f"time: invalid duration {text!r}") from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return None if seconds < 0 else seconds


def _rfc3339(dt: datetime) -> str:
    """Ollama-style timestamp with nanosecond precision and a numeric offset."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000" + "+00:00"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakeModel:
    """One model the fake serves. ``reply`` is the text to stream (a callable gets the request body)."""

    name: str
    reply: str | Callable[[dict], str] | None = None  # None → a deterministic echo (JSON when format set)
    tokens_per_second: float = 200.0
    load_seconds: float = 0.0
    parallel: int = 1
    parameter_size: str = "1.7B"
    quantization_level: str = "Q4_K_M"
    family: str = "qwen3"
    size: int = 1_400_000_000
    size_vram: int | None = None  # None = fully on GPU (== size)
    context_length: int = 4096
    thinking: str | Callable[[dict], str] = ""  # streamed first when the request sets ``think``
    capabilities: list[str] | None = None  # None → completion, tools (+ thinking for thinking families)
    modified_at: datetime = field(default_factory=lambda: datetime(2025, 9, 1, 10, 0, 0, tzinfo=UTC))
    # After ``hold_after`` streamed tokens, send nothing more until the test sets ``release``
    # (the client hanging up still ends the request): a stream that cannot finish before the
    # test has looked, however loaded the machine is.
    hold_after: int | None = None
    release: threading.Event | None = None

    @property
    def model_capabilities(self) -> list[str]:
        if self.capabilities is not None:
            return list(self.capabilities)
        caps = ["completion", "tools"]
        if self.family in THINKING_FAMILIES or self.thinking:
            caps.append("thinking")
        return caps

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    @property
    def details(self) -> dict:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def reply_for(self, body: dict) -> str:
        if callable(self.reply):
            return str(self.reply(body))
        if self.reply is not None:
            return self.reply
        return default_reply(self.name, body)

    def thinking_for(self, body: dict) -> str:
        if callable(self.thinking):
            return str(self.thinking(body))
        return self.thinking


def default_reply(model: str, body: dict) -> str:
    """Deterministic default reply: echoes the first words of the last user message (JSON if ``format``)."""
    if "messages" in body:
        users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        prompt = _message_text(users[-1]) if users else ""
    else:
        prompt = body.get("prompt") or ""
    words = prompt.split()
    gist = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    if body.get("format"):
        return json.dumps({"model": model, "answer": gist})
    return f"{model} answers: {gist}".rstrip()


def default_models() -> list[FakeModel]:
    """A few small models that most tests and demos use."""
    return [
        FakeModel("qwen3:1.7b", tokens_per_second=200.0, parallel=2),
        FakeModel(
            "llama3.2:3b",
            tokens_per_second=120.0,
            parallel=1,
            parameter_size="3.2B",
            family="llama",
            size=2_000_000_000,
            context_length=8192,
        ),
        FakeModel(
            "gemma3:1b",
            tokens_per_second=250.0,
            parallel=1,
            parameter_size="999.89M",
            quantization_level="Q4_K_M",
            family="gemma3",
            size=815_000_000,
            size_vram=600_000_000,
        ),
    ]


DEFAULT_MODELS = [m.name for m in default_models()]


@dataclass
class Fault:
    kind: str
    model: str | None = None
    after_tokens: int = 0
    delay: float = 0.0
    times: int | None = None  # None = every matching request


@dataclass
class LoadedState:
    """What ``/api/ps`` reports for one loaded model."""

    name: str
    expires_at: datetime
    context_length: int
    size: int
    size_vram: int


class _ClientGone(Exception):
    pass


class _ServerStopping(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's default backlog of 5 drops bursts of connects (1 s SYN retry)

    def __init__(self, addr, handler, fake: FakeOllama):
        self.fake = fake
        super().__init__(addr, handler)

    def handle_error(self, request, client_address) -> None:
        """Clients hanging up are normal; anything else is a bug in the fake: say so on stderr."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | _ClientGone | _ServerStopping):
            return
        super().handle_error(request, client_address)


class FakeOllama:
    """A fake Ollama on 127.0.0.1. Use as a context manager or ``start()`` / ``stop()``."""

    def __init__(
        self,
        models: list[FakeModel] | None = None,
        *,
        speed: float = 1.0,
        port: int = 0,
        version: str = "0.12.3",
        host: str = "127.0.0.1",
        max_queue: int | None = None,
    ):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.models: dict[str, FakeModel] = {}
        for m in default_models() if models is None else models:
            self.models[m.name] = m
        self.speed = speed
        self.version = version
        self.host = host
        self.port = port
        self.max_queue = max_queue  # like OLLAMA_MAX_QUEUE: more waiting requests than this → 503
        self._waiting = 0
        self.requests: list[dict] = []
        self.loaded: dict[str, LoadedState] = {}
        self.faults: list[Fault] = []
        self._cond = threading.Condition()
        self._slots: dict[str, threading.Semaphore] = {}
        self._load_locks: dict[str, threading.Lock] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeOllama:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"fake-ollama-{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._cond:
            conns = list(self._connections)
            self._connections.clear()
            self._cond.notify_all()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ configuration
    def add_model(self, m: FakeModel) -> None:
        with self._cond:
            self.models[m.name] = m
            self._slots.pop(m.name, None)

    def remove_model(self, name: str) -> None:
        with self._cond:
            self.models.pop(name, None)
            self.loaded.pop(name, None)

    def fault(
        self,
        kind: str,
        model: str | None = None,
        *,
        after_tokens: int = 0,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Inject a fault into chat/generate requests (for ``model``, or any model when ``None``).

        kinds: ``not-found`` (404), ``server-error`` (500 before the stream), ``error-midstream``
        (an ``{"error": ...}`` line after ``after_tokens`` tokens), ``cut-midstream`` (socket closed after
        ``after_tokens`` tokens), ``slow-first-token`` (``delay`` seconds, not scaled by speed, before the
        first token), ``busy`` (503). ``times``: how many requests it hits (``None`` = all)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._cond:
            self.faults.append(Fault(kind, model, after_tokens, delay, times))

    def clear_faults(self) -> None:
        with self._cond:
            self.faults.clear()

    def preload(self, name: str, keep_alive: Any = None) -> None:
        """Mark a model as loaded (as if it had just been used) without a request."""
        with self._cond:
            self._mark_loaded(self.models[name], parse_keep_alive(keep_alive), None)

    # ------------------------------------------------------------------ observation
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` is true (re-checked whenever the server records progress)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def generation_requests(self) -> list[dict]:
        """Recorded chat/generate requests, in arrival order."""
        with self._cond:
            return [r for r in self.requests if r["path"] in ("/api/chat", "/api/generate")]

    def wait_for_outcome(self, index: int = -1, timeout: float = 5.0) -> dict | None:
        """Wait until the ``index``-th chat/generate request has finished; return its record."""

        def done() -> bool:
            gens = [r for r in self.requests if r["path"] in ("/api/chat", "/api/generate")]
            try:
                return gens[index].get("outcome") is not None
            except IndexError:
                return False

        if not self.wait_until(done, timeout):
            return None
        return self.generation_requests()[index]

    # ------------------------------------------------------------------ internals (under _cond)
    def _record(self, entry: dict) -> dict:
        with self._cond:
            self.requests.append(entry)
            self._cond.notify_all()
        return entry

    def _update(self, entry: dict, **values: Any) -> None:
        with self._cond:
            entry.update(values)
            self._cond.notify_all()

    def _expire(self) -> None:
        now = _now()
        for name in [n for n, s in self.loaded.items() if s.expires_at <= now]:
            del self.loaded[name]

    def _mark_loaded(self, m: FakeModel, keep_alive: float | None, num_ctx: int | None) -> None:
        expires = FOREVER if keep_alive is None else _now() + timedelta(seconds=keep_alive)
        prev = self.loaded.get(m.name)
        self.loaded[m.name] = LoadedState(
            name=m.name,
            expires_at=expires,
            context_length=num_ctx or (prev.context_length if prev else m.context_length),
            size=m.size,
            size_vram=m.size if m.size_vram is None else m.size_vram,
        )
        self._cond.notify_all()

    def _take_fault(self, model: str) -> Fault | None:
        with self._cond:
            for f in self.faults:
                if f.model is None or f.model == model:
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def _slot(self, m: FakeModel) -> threading.Semaphore:
        with self._cond:
            sem = self._slots.get(m.name)
            if sem is None:
                sem = self._slots[m.name] = threading.Semaphore(max(1, m.parallel))
                self._load_locks[m.name] = threading.Lock()
            return sem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"
    sys_version = ""
    server: _Server

    # -- plumbing -----------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._cond:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.fake._cond:
            self.fake._connections.discard(self.connection)

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake

    def _send_json(self, status: int, payload: Any, *, content_type: str = "application/json") -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _read_body(self) -> tuple[dict | None, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}, None
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return None, f"invalid character in request body: {e}"
        if not isinstance(body, dict):
            return None, "json: cannot unmarshal into request"
        return body, None

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
        return False

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` while watching for the client hanging up or the server stopping."""
        deadline = time.monotonic() + seconds
        while True:
            if self.fake._stopping.is_set():
                raise _ServerStopping
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.05))
            except (OSError, ValueError):
                raise _ClientGone from None
            if readable:
                try:
                    peek = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    raise _ClientGone from None
                if peek == b"":
                    raise _ClientGone
                time.sleep(min(max(deadline - time.monotonic(), 0), 0.05))

    def _write_chunk(self, obj: dict) -> None:
        line = json.dumps(obj, ensure_ascii=False).encode() + b"\n"
        try:
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            raise _ClientGone from None

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            raise _ClientGone from None

    def _cut(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- routes -------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.fake._record({"path": self.path, "method": "HEAD", "body": None})
        self._send_text(200, "Ollama is running")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.fake._record({"path": path, "method": "GET", "body": None})
        if path == "/":
            self._send_text(200, "Ollama is running")
        elif path == "/api/version":
            self._send_json(200, {"version": self.fake.version})
        elif path == "/api/tags":
            self._send_json(200, {"models": self._tags()})
        elif path == "/api/ps":
            self._send_json(200, {"models": self._ps()})
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body, problem = self._read_body()
        entry = self.fake._record({"path": path, "method": "POST", "body": body})
        if problem is not None:
            self.fake._update(entry, status=400, outcome="error")
            self._error(400, problem)
            return
        assert body is not None
        if path == "/api/show":
            self._show(body)
        elif path in ("/api/chat", "/api/generate"):
            self._generate(entry, body, chat=path == "/api/chat")
        else:
            self._send_text(404, "404 page not found")

    def _tags(self) -> list[dict]:
        with self.fake._cond:
            models = list(self.fake.models.values())
        return [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": _rfc3339(m.modified_at),
                "size": m.size,
                "digest": m.digest,
                "details": m.details,
            }
            for m in models
        ]

    def _ps(self) -> list[dict]:
        with self.fake._cond:
            self.fake._expire()
            states = list(self.fake.loaded.values())
            models = dict(self.fake.models)
        out = []
        for s in states:
            m = models.get(s.name) or FakeModel(s.name)
            out.append(
                {
                    "name": s.name,
                    "model": s.name,
                    "size": s.size,
                    "digest": m.digest,
                    "details": m.details,
                    "expires_at": _rfc3339(s.expires_at),
                    "size_vram": s.size_vram,
                    "context_length": s.context_length,
                }
            )
        return out

    def _show(self, body: dict) -> None:
        name = body.get("model") or body.get("name") or ""
        m = self.fake.models.get(name)
        if m is None:
            self._error(404, f"model '{name}' not found")
            return
        param_count = _parameter_count(m.parameter_size)
        self._send_json(
            200,
            {
                "license": "Fake license for tests",
                "modelfile": f"# Modelfile generated by the fake Ollama\nFROM {m.name}\n"
                f"PARAMETER num_ctx {m.context_length}\n",
                "parameters": f'num_ctx                        {m.context_length}\nstop                           "<|im_end|>"',
                "template": "{{ .System }}\n{{ .Prompt }}",
                "details": m.details,
                "model_info": {
                    "general.architecture": m.family,
                    "general.basename": m.name.split(":", 1)[0],
                    "general.file_type": 15,
                    "general.parameter_count": param_count,
                    "general.quantization_version": 2,
                    f"{m.family}.context_length": m.context_length,
                    f"{m.family}.embedding_length": 2048,
                    f"{m.family}.block_count": 28,
                },
                "capabilities": m.model_capabilities,
                "modified_at": _rfc3339(m.modified_at),
            },
        )

    # -- chat / generate ----------------------------------------------------------------------
    def _generate(self, entry: dict, body: dict, *, chat: bool) -> None:
        fake = self.fake
        t_received = time.monotonic()
        name = body.get("model") or ""
        stream = body.get("stream", True) is not False
        fake._update(entry, model=name, t_received=t_received, stream=stream, tokens_sent=0)
        if not name:
            fake._update(entry, status=400, outcome="error")
            self._error(400, "model is required")
            return
        m = fake.models.get(name)
        if m is None:
            fake._update(entry, status=404, outcome="error")
            self._error(404, f"model '{name}' not found")
            return
        options = body.get("options") or {}
        if not isinstance(options, dict):
            fake._update(entry, status=400, outcome="error")
            self._error(400, "json: cannot unmarshal options")
            return
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
        except ValueError as e:
            fake._update(entry, status=400, outcome="error")
            self._error(400, str(e))
            return
        think = body.get("think")
        if think and "thinking" not in m.model_capabilities:
            fake._update(entry, status=400, outcome="error")
            self._error(400, f'"{name}" does not support thinking')
            return

        fault = fake._take_fault(name)
        if fault is not None and fault.kind in ("not-found", "server-error", "busy"):
            status, message = {
                "not-found": (404, f"model '{name}' not found"),
                "server-error": (500, "llama runner process has terminated: exit status 2"),
                "busy": (503, "server busy, please try again.  maximum pending requests exceeded"),
            }[fault.kind]
            fake._update(entry, status=status, outcome=f"fault:{fault.kind}", t_end=time.monotonic())
            self._error(status, message)
            return

        load_only = (chat and not body.get("messages")) or (not chat and not body.get("prompt"))
        sem = fake._slot(m)
        acquired = False
        try:
            # wait for a parallel slot (extra requests queue like OLLAMA_NUM_PARALLEL)
            if not sem.acquire(blocking=False):
                with fake._cond:
                    full = fake.max_queue is not None and fake._waiting >= fake.max_queue
                    if not full:
                        fake._waiting += 1
                if full:
                    fake._update(entry, status=503, outcome="busy", t_end=time.monotonic())
                    self._error(503, "server busy, please try again.  maximum pending requests exceeded")
                    return
                try:
                    while not sem.acquire(timeout=0.02):
                        if fake._stopping.is_set():
                            raise _ServerStopping
                        if self._client_gone():
                            raise _ClientGone
                finally:
                    with fake._cond:
                        fake._waiting -= 1
            acquired = True
            t_slot = time.monotonic()
            fake._update(entry, t_slot=t_slot)
            with fake._load_locks[m.name]:
                with fake._cond:
                    fake._expire()
                    needs_load = m.name not in fake.loaded
                if needs_load and m.load_seconds > 0:
                    self._wait(m.load_seconds / fake.speed)
                with fake._cond:
                    fake._mark_loaded(m, keep_alive, options.get("num_ctx"))
            t_loaded = time.monotonic()
            if load_only:
                self._load_only(entry, m, chat=chat, stream=stream, keep_alive=keep_alive)
                return
            self._run(
                entry,
                body,
                m,
                fault,
                options,
                chat=chat,
                stream=stream,
                think=bool(think),
                t0=t_received,
                t_loaded=t_loaded,
            )
            if keep_alive == 0:
                with fake._cond:
                    fake.loaded.pop(m.name, None)
                    fake._cond.notify_all()
        except _ClientGone:
            fake._update(entry, outcome="client-disconnected", t_end=time.monotonic())
            self.close_connection = True
        except _ServerStopping:
            fake._update(entry, outcome="server-stopped", t_end=time.monotonic())
            self._cut()
        finally:
            if acquired:
                sem.release()

    def _base(self, m: FakeModel, *, chat: bool, text: str, thinking: str = "") -> dict:
        obj: dict[str, Any] = {"model": m.name, "created_at": _rfc3339(_now())}
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            obj["message"] = message
        else:
            obj["response"] = text
            if thinking:
                obj["thinking"] = thinking
        obj["done"] = False
        return obj

    def _load_only(
        self, entry: dict, m: FakeModel, *, chat: bool, stream: bool, keep_alive: float | None
    ) -> None:
        fake = self.fake
        reason = "load"
        if keep_alive == 0:
            with fake._cond:
                fake.loaded.pop(m.name, None)
                fake._cond.notify_all()
            reason = "unload"
        obj = self._base(m, chat=chat, text="")
        obj["done_reason"] = reason
        obj["done"] = True
        if stream:
            self._start_stream()
            self._write_chunk(obj)
            self._end_chunks()
        else:
            self._send_json(200, obj)
        fake._update(entry, status=200, outcome="completed", t_end=time.monotonic())

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _run(
        self,
        entry: dict,
        body: dict,
        m: FakeModel,
        fault: Fault | None,
        options: dict,
        *,
        chat: bool,
        stream: bool,
        think: bool,
        t0: float,
        t_loaded: float,
    ) -> None:
        fake = self.fake
        reply = m.reply_for(body)
        thinking = m.thinking_for(body) if think else ""
        done_reason = "stop"
        stops = options.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        for s in stops:
            if s and s in reply:
                reply = reply[: reply.index(s)]
        think_pieces = tokenize(thinking)
        pieces = tokenize(reply)
        num_predict = options.get("num_predict")
        if isinstance(num_predict, int) and num_predict >= 0:
            budget = num_predict
            if len(think_pieces) > budget:
                think_pieces, pieces, done_reason = think_pieces[:budget], [], "length"
            elif len(think_pieces) + len(pieces) > budget:
                pieces, done_reason = pieces[: budget - len(think_pieces)], "length"
        stream_items = [("thinking", p) for p in think_pieces] + [("content", p) for p in pieces]

        prompt_tokens = prompt_token_count(body)
        tps = max(m.tokens_per_second, 1e-6) * fake.speed
        interval = 1.0 / tps
        # prompt processing (20x faster than generation), plus a slow-first-token fault
        prompt_seconds = prompt_tokens * interval / 20.0
        if fault is not None and fault.kind == "slow-first-token":
            prompt_seconds += fault.delay
        fail_at = None
        if fault is not None and fault.kind in ("error-midstream", "cut-midstream"):
            fail_at = max(0, fault.after_tokens)

        if stream:
            self._start_stream()
        fake._update(entry, status=200)
        t_prompt_start = time.monotonic()
        self._wait(prompt_seconds)
        t_eval_start = time.monotonic()
        sent = 0
        collected_text: list[str] = []
        collected_thinking: list[str] = []
        next_at = t_eval_start
        for kind, piece in stream_items:
            if fail_at is not None and sent >= fail_at:
                break
            next_at += interval
            self._wait(next_at - time.monotonic())
            if stream:
                if kind == "thinking":
                    self._write_chunk(self._base(m, chat=chat, text="", thinking=piece))
                else:
                    self._write_chunk(self._base(m, chat=chat, text=piece))
            (collected_thinking if kind == "thinking" else collected_text).append(piece)
            sent += 1
            if sent == 1:
                fake._update(entry, t_first_token=time.monotonic())
            fake._update(entry, tokens_sent=sent)
            if m.hold_after is not None and sent == m.hold_after and m.release is not None:
                while not m.release.is_set():
                    self._wait(0.05)
                next_at = time.monotonic()

        if fail_at is not None and fault is not None:
            if fault.kind == "cut-midstream":
                fake._update(entry, outcome="fault:cut-midstream", t_end=time.monotonic())
                self._cut()
                return
            message = "an error was encountered while running the model: unexpected EOF"
            if stream:
                self._write_chunk({"error": message})
                self._end_chunks()
            else:
                self._error(500, message)
            fake._update(entry, outcome="fault:error-midstream", t_end=time.monotonic())
            return

        t_end = time.monotonic()
        final = self._base(m, chat=chat, text="" if stream else "".join(collected_text))
        if not stream and collected_thinking:
            key = "message" if chat else None
            if key:
                final["message"]["thinking"] = "".join(collected_thinking)
            else:
                final["thinking"] = "".join(collected_thinking)
        final["done_reason"] = done_reason
        final["done"] = True
        if not chat:
            final["context"] = [zlib.crc32(p.encode()) & 0xFFFF for p in pieces[:32]] or [1]
        metrics = {
            "total_duration": int((t_end - t0) * 1e9),
            "load_duration": int((t_loaded - t0) * 1e9),
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": int((t_eval_start - t_prompt_start) * 1e9),
            "eval_count": sent,
            "eval_duration": int((t_end - t_eval_start) * 1e9),
        }
        for key, value in metrics.items():
            if value:
                final[key] = value
        if stream:
            self._write_chunk(final)
            self._end_chunks()
        else:
            self._send_json(200, final)
        fake._update(entry, outcome="completed", t_end=time.monotonic(), metrics=metrics)


def _parameter_count(parameter_size: str) -> int:
    match = re.fullmatch(r"([\d.]+)\s*([KMBT]?)", parameter_size.strip().upper())
    if not match:
        return 0
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(2)]
    return int(float(match.group(1)) * scale)


def _parse_model_arg(text: str) -> FakeModel:
    """``name[:tag]:tps[:parallel]`` → FakeModel (``qwen3:1.7b:200:2``)."""
    parts = text.split(":")
    numbers: list[float] = []
    while parts and re.fullmatch(r"\d+(?:\.\d+)?", parts[-1]) and len(parts) > 1:
        numbers.insert(0, float(parts.pop()))
    name = ":".join(parts)
    model = FakeModel(name)
    size_tag = re.search(r":(\d+(?:\.\d+)?)([bm])\b", name.lower())
    if size_tag:  # "qwen3:4b" → 4B parameters, ~0.6 GB per billion at Q4
        value, unit = float(size_tag.group(1)), size_tag.group(2).upper()
        model.parameter_size = f"{size_tag.group(1)}{unit}"
        model.size = int(value * (1e9 if unit == "B" else 1e6) * 0.6) or model.size
        model.family = name.split(":")[0].rstrip("0123456789.") or model.family
    if numbers:
        model.tokens_per_second = numbers[0]
    if len(numbers) > 1:
        model.parallel = int(numbers[1])
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.ollama_server", description="Serve a fake Ollama until Ctrl-C."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--speed", type=float, default=1.0, help="pacing multiplier (2 = twice as fast)")
    parser.add_argument(
        "--model",
        action="append",
        type=_parse_model_arg,
        metavar="NAME:TAG:TPS[:PARALLEL]",
        help="serve this model (repeatable); default: qwen3:1.7b, llama3.2:3b, gemma3:1b",
    )
    parser.add_argument("--load-seconds", type=float, default=0.0, help="load time of every model")
    args = parser.parse_args(argv)
    models = args.model or default_models()
    for m in models:
        m.load_seconds = m.load_seconds or args.load_seconds
    # Ctrl-C stops the server even when it was started with SIGINT ignored (a background
    # job of a non-interactive shell, e.g. a CI step, passes SIG_IGN on to its children).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fake = FakeOllama(models, speed=args.speed, port=args.port, host=args.host).start()
    print(f"fake ollama listening on {fake.url} ({', '.join(fake.models)})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
