"""A protocol-faithful fake OpenAI-compatible server (vLLM / llama-server style) for tests and demos.

Real HTTP/1.1 on 127.0.0.1 (threaded, keep-alive), the real chat-completions wire protocol, so the
official ``openai`` client talks to it unchanged:

* ``GET /v1/models`` → ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``
* ``POST /v1/chat/completions`` → with ``stream: true`` a ``text/event-stream`` of ``data: {chunk}``
  events (``chat.completion.chunk``: the first delta carries ``role``, then one content piece per token,
  then a chunk with ``finish_reason``), then — when the request sets
  ``stream_options.include_usage`` — a final chunk with ``choices: []`` and ``usage``, then
  ``data: [DONE]``. Every chunk carries ``"usage": null`` when usage was asked for, as the real servers do.
  Without ``stream`` one ``chat.completion`` object.
* ``max_tokens`` (or ``max_completion_tokens``) truncates with ``finish_reason: "length"``, ``stop`` cuts.
* unknown model → 404 ``{"error": {"message": "The model `x` does not exist.", "type": "NotFoundError",
  "code": 404}}`` (vLLM's shape); with ``api_key`` set, a missing/wrong Bearer token → 401.
* per-model parallel slots (extra requests wait), pacing at ``tokens_per_second * speed``.
* ``llama_timings=True`` adds llama.cpp's ``timings`` object (``prompt_ms``, ``predicted_ms`` …) to the
  last chunk.

Faults on demand (:meth:`FakeOpenAI.fault`): ``not-found`` (404), ``server-error`` (500 before the
stream), ``busy`` (503), ``error-midstream`` (a ``data: {"error": …}`` event after ``after_tokens``
tokens), ``cut-midstream`` (socket closed after ``after_tokens`` tokens), ``slow-first-token`` (``delay``
seconds before the first byte of the body; a large delay is a server that never answers).

Requests are recorded in :attr:`FakeOpenAI.requests` (``path``, ``method``, ``body``, ``auth``,
``model``, ``t_received``, ``t_first_token``, ``t_end``, ``tokens_sent``, ``status``, ``outcome``: one of
``completed``, ``client-disconnected``, ``fault:<kind>``, ``error``, ``server-stopped``). Synchronise with
:meth:`wait_until` / :meth:`wait_for_outcome`, never with sleeps.

CLI (serves until Ctrl-C)::

    python -m tests.fakes.openai_server --port 8080 --model smollm2:80
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.ollama_server import prompt_token_count, tokenize

__all__ = ["FakeOpenAI", "FakeOpenAIModel", "default_openai_models"]

FAULT_KINDS = ("not-found", "server-error", "busy", "error-midstream", "cut-midstream", "slow-first-token")
CREATED = 1_756_720_800  # 2025-09-01, fixed so listings are deterministic


@dataclass
class FakeOpenAIModel:
    name: str
    reply: str | Callable[[dict], str] | None = None  # None → deterministic echo (JSON with response_format)
    tokens_per_second: float = 200.0
    parallel: int = 4
    owned_by: str = "vllm"
    reasoning: str = ""  # streamed first as delta.reasoning_content (DeepSeek/vLLM reasoning parsers)
    # After ``hold_after`` streamed tokens, send nothing more until the test sets ``release``
    # (as in the fake Ollama): a request that stays in flight until the test has looked.
    hold_after: int | None = None
    release: threading.Event | None = None

    def reply_for(self, body: dict) -> str:
        if callable(self.reply):
            return str(self.reply(body))
        if self.reply is not None:
            return self.reply
        users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        prompt = str(users[-1].get("content") or "") if users else ""
        words = prompt.split()
        gist = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
        if body.get("response_format"):
            return json.dumps({"model": self.name, "answer": gist})
        return f"{self.name} answers: {gist}".rstrip()


def default_openai_models() -> list[FakeOpenAIModel]:
    return [
        FakeOpenAIModel("Qwen/Qwen2.5-1.5B-Instruct", tokens_per_second=200.0, parallel=4),
        FakeOpenAIModel("smollm2", tokens_per_second=150.0, parallel=2, owned_by="llamacpp"),
    ]


@dataclass
class _Fault:
    kind: str
    model: str | None = None
    after_tokens: int = 0
    delay: float = 0.0
    times: int | None = None


class _ClientGone(Exception):
    pass


class _ServerStopping(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, fake: FakeOpenAI):
        self.fake = fake
        super().__init__(addr, handler)

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError | _ClientGone | _ServerStopping):
            return
        super().handle_error(request, client_address)


class FakeOpenAI:
    """A fake OpenAI-compatible server on 127.0.0.1; ``url`` ends with ``/v1`` like a real base_url."""

    def __init__(
        self,
        models: list[FakeOpenAIModel] | None = None,
        *,
        speed: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
        api_key: str | None = None,
        llama_timings: bool = False,
        send_usage: bool = True,
        slots_endpoint: bool = False,
    ):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.models = {m.name: m for m in (default_openai_models() if models is None else models)}
        self.speed = speed
        self.port = port
        self.host = host
        self.api_key = api_key
        self.llama_timings = llama_timings
        self.send_usage = send_usage  # False: ignore include_usage, like llama-cpp-python's server
        # llama-server's GET /slots: one entry per parallel slot of its model, ``is_processing``
        # while a request holds it (vLLM and OpenAI have no such endpoint: 404 when False)
        self.slots_endpoint = slots_endpoint
        self.processing: dict[str, int] = {}
        self.requests: list[dict] = []
        self.faults: list[_Fault] = []
        self._cond = threading.Condition()
        self._slots: dict[str, threading.Semaphore] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"fake-openai-{self.port}"
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

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fault(
        self,
        kind: str,
        model: str | None = None,
        *,
        after_tokens: int = 0,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        with self._cond:
            self.faults.append(_Fault(kind, model, after_tokens, delay, times))

    def clear_faults(self) -> None:
        with self._cond:
            self.faults.clear()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def chat_requests(self) -> list[dict]:
        with self._cond:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def wait_for_outcome(self, index: int = -1, timeout: float = 5.0) -> dict | None:
        def done() -> bool:
            chats = [r for r in self.requests if r["path"].endswith("/chat/completions")]
            try:
                return chats[index].get("outcome") is not None
            except IndexError:
                return False

        if not self.wait_until(done, timeout):
            return None
        return self.chat_requests()[index]

    def _record(self, entry: dict) -> dict:
        with self._cond:
            self.requests.append(entry)
            self._cond.notify_all()
        return entry

    def _update(self, entry: dict, **values: Any) -> None:
        with self._cond:
            entry.update(values)
            self._cond.notify_all()

    def _take_fault(self, model: str) -> _Fault | None:
        with self._cond:
            for f in self.faults:
                if f.model is None or f.model == model:
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def slots(self) -> list[dict]:
        """llama-server's ``/slots`` shape: ``[{id, id_task, n_ctx, is_processing}, …]`` — the
        slots of every model, in order (a real llama-server serves one model)."""
        out: list[dict] = []
        with self._cond:
            models = list(self.models.values())
            busy = dict(self.processing)
        for m in models:
            for i in range(max(1, m.parallel)):
                processing = i < busy.get(m.name, 0)
                out.append(
                    {
                        "id": len(out),
                        "id_task": -1,
                        "n_ctx": 4096,
                        "speculative": False,
                        "is_processing": processing,
                    }
                )
        return out

    def _slot(self, m: FakeOpenAIModel) -> threading.Semaphore:
        with self._cond:
            sem = self._slots.get(m.name)
            if sem is None:
                sem = self._slots[m.name] = threading.Semaphore(max(1, m.parallel))
            return sem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
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
    def fake(self) -> FakeOpenAI:
        return self.server.fake

    # -- plumbing -------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _error(self, status: int, message: str, type_: str, code: Any = None) -> None:
        self._send_json(
            status, {"error": {"message": message, "type": type_, "param": None, "code": code or status}}
        )

    def _wait(self, seconds: float) -> None:
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

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError:
            raise _ClientGone from None

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        self._write_chunk(f"data: {text}\n\n".encode())

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

    def _authorised(self) -> bool:
        if self.fake.api_key is None:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.fake.api_key}"

    # -- routes ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        entry = self.fake._record(
            {"path": path, "method": "GET", "body": None, "auth": self.headers.get("Authorization")}
        )
        if path in ("/v1/models", "/models"):
            if not self._authorised():
                self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
                self.fake._update(entry, status=401, outcome="error")
                return
            with self.fake._cond:
                names = list(self.fake.models.values())
            data = [
                {"id": m.name, "object": "model", "created": CREATED, "owned_by": m.owned_by} for m in names
            ]
            self._send_json(200, {"object": "list", "data": data})
            self.fake._update(entry, status=200, outcome="completed")
            return
        if path == "/health":
            self._send_json(200, {"status": "ok"})
            return
        if path == "/slots" and self.fake.slots_endpoint:
            self._send_json(200, self.fake.slots())
            return
        self._error(404, f"Not Found: {path}", "NotFoundError")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        entry = self.fake._record(
            {
                "path": path,
                "method": "POST",
                "body": None,
                "auth": self.headers.get("Authorization"),
                "t_received": time.monotonic(),
            }
        )
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"Not Found: {path}", "NotFoundError")
            self.fake._update(entry, status=404, outcome="error")
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            self._error(400, f"invalid JSON body: {e}", "BadRequestError")
            self.fake._update(entry, status=400, outcome="error")
            return
        self.fake._update(entry, body=body, model=body.get("model"))
        if not self._authorised():
            self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
            self.fake._update(entry, status=401, outcome="error")
            return
        try:
            self._chat(entry, body)
        except _ClientGone:
            self.fake._update(entry, outcome="client-disconnected", t_end=time.monotonic())
            self.close_connection = True
        except _ServerStopping:
            self.fake._update(entry, outcome="server-stopped", t_end=time.monotonic())
            self._cut()

    def _chat(self, entry: dict, body: dict) -> None:
        fake = self.fake
        name = str(body.get("model") or "")
        with fake._cond:
            m = fake.models.get(name)
        fault = fake._take_fault(name)
        if fault is not None and fault.kind == "not-found" or m is None:
            self._error(404, f"The model `{name}` does not exist.", "NotFoundError")
            fake._update(entry, status=404, outcome="fault:not-found" if fault else "error")
            return
        if fault is not None and fault.kind == "server-error":
            self._error(500, "internal server error (injected)", "InternalServerError")
            fake._update(entry, status=500, outcome="fault:server-error")
            return
        if fault is not None and fault.kind == "busy":
            self._error(503, "the server is overloaded (injected)", "ServiceUnavailableError")
            fake._update(entry, status=503, outcome="fault:busy")
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._error(400, "messages must be a non-empty list", "BadRequestError")
            fake._update(entry, status=400, outcome="error")
            return
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and fake.send_usage
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        stops = body.get("stop")
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        text = m.reply_for(body)
        for s in stops:
            if s and s in text:
                text = text[: text.index(s)]
        pieces = tokenize(text)
        finish = "stop"
        if isinstance(limit, int) and limit > 0 and len(pieces) > limit:
            pieces = pieces[:limit]
            finish = "length"
        reasoning = tokenize(m.reasoning) if m.reasoning else []
        prompt_tokens = prompt_token_count({"messages": messages})
        rate = m.tokens_per_second * fake.speed
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        sem = fake._slot(m)
        while not sem.acquire(timeout=0.05):
            self._wait(0)
        with fake._cond:
            fake.processing[m.name] = fake.processing.get(m.name, 0) + 1
        try:
            t_start = time.monotonic()
            if fault is not None and fault.kind == "slow-first-token":
                self._wait(fault.delay)
            t_prompt = time.monotonic()
            if not stream:
                self._wait(len(pieces) / rate)
                completion = len(pieces)
                payload = {
                    "id": chunk_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": m.name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(pieces)},
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion,
                        "total_tokens": prompt_tokens + completion,
                    },
                }
                self._send_json(200, payload)
                fake._update(
                    entry, status=200, outcome="completed", tokens_sent=completion, t_end=time.monotonic()
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            created = int(time.time())

            def chunk(delta: dict, finish_reason: str | None = None) -> dict:
                c: dict[str, Any] = {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": m.name,
                    "system_fingerprint": "fake-openai",
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                    ],
                }
                if include_usage:
                    c["usage"] = None
                return c

            self._event(chunk({"role": "assistant", "content": ""}))
            sent = 0
            fake._update(entry, status=200, t_first_token=None)
            for piece in reasoning:
                self._wait(1.0 / rate)
                self._event(chunk({"reasoning_content": piece}))
            t_gen = time.monotonic()
            for piece in pieces:
                if fault is not None and fault.kind in ("error-midstream", "cut-midstream"):
                    if sent >= fault.after_tokens:
                        break
                self._wait(1.0 / rate)
                self._event(chunk({"content": piece}))
                sent += 1
                if sent == 1:
                    fake._update(entry, t_first_token=time.monotonic())
                if m.hold_after is not None and sent == m.hold_after and m.release is not None:
                    fake._update(entry, held=True)
                    while not m.release.wait(0.05):
                        self._wait(0)
            if fault is not None and fault.kind == "error-midstream":
                self._event(
                    {
                        "error": {
                            "message": "model runner crashed (injected)",
                            "type": "InternalServerError",
                            "code": 500,
                        }
                    }
                )
                self._end_chunks()
                fake._update(entry, outcome="fault:error-midstream", tokens_sent=sent, t_end=time.monotonic())
                return
            if fault is not None and fault.kind == "cut-midstream":
                fake._update(entry, outcome="fault:cut-midstream", tokens_sent=sent, t_end=time.monotonic())
                self._cut()
                return
            last = chunk({}, finish)
            t_done = time.monotonic()
            if fake.llama_timings:
                predicted_ms = (t_done - t_gen) * 1000
                last["timings"] = {
                    "prompt_n": prompt_tokens,
                    "prompt_ms": (t_prompt - t_start) * 1000,
                    "predicted_n": sent,
                    "predicted_ms": predicted_ms,
                    "predicted_per_second": sent / (predicted_ms / 1000) if predicted_ms > 0 else 0.0,
                }
            self._event(last)
            if include_usage:
                self._event(
                    {
                        "id": chunk_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": m.name,
                        "system_fingerprint": "fake-openai",
                        "choices": [],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": sent,
                            "total_tokens": prompt_tokens + sent,
                        },
                    }
                )
            self._event("[DONE]")
            self._end_chunks()
            fake._update(entry, outcome="completed", tokens_sent=sent, t_end=time.monotonic())
        finally:
            with fake._cond:
                fake.processing[m.name] = max(0, fake.processing.get(m.name, 0) - 1)
            sem.release()


def _parse_model_arg(text: str) -> FakeOpenAIModel:
    name, _, rate = text.rpartition(":")
    if name and rate.replace(".", "", 1).isdigit():
        return FakeOpenAIModel(name, tokens_per_second=float(rate))
    return FakeOpenAIModel(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="A fake OpenAI-compatible server (for trying conductor-tui).")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--model", action="append", default=[], help="NAME or NAME:TOKENS_PER_SECOND")
    ap.add_argument("--api-key", default=None)
    args = ap.parse_args(argv)
    models = [_parse_model_arg(m) for m in args.model] or None
    server = FakeOpenAI(models, speed=args.speed, port=args.port, api_key=args.api_key).start()
    print(f"fake OpenAI-compatible server at {server.url} serving {', '.join(server.models)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
