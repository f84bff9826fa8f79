"""FakeAnthropic: a small Anthropic Messages API server on ``127.0.0.1:0`` (tests only).

The real ``anthropic`` client talks to it unchanged (``base_url=fake.url``).  It speaks
the wire protocol faithfully enough to exercise the client's own parsing, retries and
error handling:

* ``POST /v1/messages`` — non-streaming JSON ``Message``, or SSE when ``"stream": true``
  with ``event:`` lines in the real order: ``message_start``, ``content_block_start``,
  ``ping``, ``content_block_delta`` (``text_delta`` / ``input_json_delta``),
  ``content_block_stop``, ``message_delta`` (cumulative usage), ``message_stop``.
  The body is sent with chunked transfer encoding (like the real API), so a cut
  connection is a protocol error and not a clean end of body.
* A forced tool (``tool_choice: {"type": "tool", "name": …}``, or ``any`` with one
  tool) answers with a ``tool_use`` block whose input is streamed as
  ``input_json_delta`` pieces (the first one empty, as the real API does).
* ``output_config.format`` (JSON schema) answers with the JSON as text.
* ``POST /v1/messages/count_tokens`` → ``{"input_tokens": N}``.
* Auth: ``x-api-key: KEY`` or ``Authorization: Bearer KEY`` (401 otherwise);
  ``anthropic-version`` is required (400 otherwise).

Replies are scripted with :meth:`FakeAnthropic.script` (a FIFO queue; each HTTP request
to ``/v1/messages`` takes one entry, so a ``Fault`` followed by a ``Reply`` is "fail once,
then succeed" — exactly what a retrying client needs).  Faults: 429 with
``retry-after-ms``, 529 overloaded, 500, ``event: error`` mid-stream, a connection cut
mid-stream, a slow first token.  Every request is recorded in :attr:`requests`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Reply:
    """One scripted successful answer.

    ``text`` → a text block; ``tool_input`` → a ``tool_use`` block (or JSON text when the
    request asked for ``output_config.format``).  Streaming options: ``chunk_chars`` (size
    of each delta), ``first_token_delay`` (seconds between ``message_start`` and the first
    delta), ``delta_delay`` (between deltas), ``error_after`` (send ``event: error`` after
    that many deltas), ``cut_after`` (close the socket after that many deltas),
    ``hold_after`` + ``release`` (after that many deltas, send nothing more until the test
    sets the ``release`` event — a stream that cannot finish before the test looks).
    """

    text: str | None = None
    tool_input: dict[str, Any] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    chunk_chars: int = 16
    first_token_delay: float = 0.0
    delta_delay: float = 0.0
    error_after: int | None = None
    error_type: str = "overloaded_error"
    error_message: str = "Overloaded"
    cut_after: int | None = None
    hold_after: int | None = None
    release: threading.Event | None = None


@dataclass
class Fault:
    """One scripted HTTP error before any body: ``status`` 429 / 529 / 500 / …

    ``retry_after_ms`` adds ``retry-after-ms`` (and a rounded-up ``retry-after``);
    ``delay`` holds the response back (a stalled server, for timeouts).
    """

    status: int
    message: str | None = None
    retry_after_ms: int | None = None
    delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    streamed: bool = False
    timestamp: float = 0.0


@dataclass
class _State:
    api_key: str
    model: str
    queue: deque = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    counter: int = 0


def estimate_tokens(value: Any) -> int:
    """A deterministic stand-in for tokenisation: ~4 characters per token, at least 1."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, (len(text) + 3) // 4)


def _input_tokens_of(body: dict[str, Any]) -> int:
    parts = {k: body.get(k) for k in ("system", "messages", "tools") if body.get(k) is not None}
    return estimate_tokens(parts)


def _forced_tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return choice.get("name")
    if choice.get("type") == "any" and tools:
        return tools[0].get("name")
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAnthropic/1.0"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ------------------------------------------------------------------ helpers
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{self.state.counter:06d}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        error_type = _ERROR_TYPES.get(status, "api_error")
        payload = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": f"req_fake_{self.state.counter:06d}",
        }
        self._send_json(status, payload, headers)

    def _authorised(self) -> bool:
        key = self.headers.get("x-api-key")
        auth = self.headers.get("authorization") or ""
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        return self.state.api_key in (key, bearer)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, name: str, payload: dict[str, Any]) -> None:
        self._chunk(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.state.stop.wait(seconds)

    # ------------------------------------------------------------------ routes
    def do_GET(self) -> None:
        self._send_error(404, f"Not found: {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        with self.state.lock:
            self.state.counter += 1
            self.state.requests.append(
                RecordedRequest(
                    method="POST",
                    path=path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    streamed=bool(isinstance(body, dict) and body.get("stream")),
                    timestamp=time.monotonic(),
                )
            )
        if not self._authorised():
            self._send_error(401, "invalid x-api-key")
            return
        if not self.headers.get("anthropic-version"):
            self._send_error(400, "anthropic-version: header is required")
            return
        if not isinstance(body, dict):
            self._send_error(400, "request body is not valid JSON")
            return
        if path == "/v1/messages/count_tokens":
            if not body.get("messages") or not body.get("model"):
                self._send_error(400, "messages: field required")
                return
            self._send_json(200, {"input_tokens": _input_tokens_of(body)})
            return
        if path != "/v1/messages":
            self._send_error(404, f"Not found: {path}")
            return
        for required in ("model", "messages", "max_tokens"):
            if required not in body:
                self._send_error(400, f"{required}: Field required")
                return
        with self.state.lock:
            entry = (
                self.state.queue.popleft() if self.state.queue else Reply(text="Hello from FakeAnthropic.")
            )
        if isinstance(entry, Fault):
            self._wait(entry.delay)
            headers = {}
            if entry.retry_after_ms is not None:
                headers["retry-after-ms"] = str(entry.retry_after_ms)
                headers["retry-after"] = str(max(1, -(-entry.retry_after_ms // 1000)))
            default = {
                429: "Number of request tokens has exceeded your per-minute rate limit",
                529: "Overloaded",
                500: "Internal server error",
            }
            self._send_error(entry.status, entry.message or default.get(entry.status, "error"), headers)
            return
        self._answer(body, entry)

    # ------------------------------------------------------------------ answers
    def _blocks(self, body: dict[str, Any], reply: Reply) -> tuple[list[dict[str, Any]], str]:
        """The content blocks of the answer and the stop reason."""
        tool = _forced_tool(body)
        fmt = (body.get("output_config") or {}).get("format")
        if reply.tool_input is not None and tool:
            block = {
                "type": "tool_use",
                "id": f"toolu_fake{self.state.counter:06d}",
                "name": tool,
                "input": reply.tool_input,
            }
            return [block], reply.stop_reason or "tool_use"
        if reply.tool_input is not None and fmt:
            return [{"type": "text", "text": json.dumps(reply.tool_input)}], reply.stop_reason or "end_turn"
        if reply.tool_input is not None:
            # No forced tool: a tool_use only if the request offered that tool at all.
            tools = body.get("tools") or []
            if tools:
                block = {
                    "type": "tool_use",
                    "id": f"toolu_fake{self.state.counter:06d}",
                    "name": tools[0].get("name"),
                    "input": reply.tool_input,
                }
                return [block], reply.stop_reason or "tool_use"
            return [{"type": "text", "text": json.dumps(reply.tool_input)}], reply.stop_reason or "end_turn"
        return [{"type": "text", "text": reply.text or ""}], reply.stop_reason or "end_turn"

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        blocks, stop_reason = self._blocks(body, reply)
        input_tokens = reply.input_tokens if reply.input_tokens is not None else _input_tokens_of(body)
        out_text = "".join(b.get("text") or json.dumps(b.get("input")) for b in blocks)
        output_tokens = reply.output_tokens if reply.output_tokens is not None else estimate_tokens(out_text)
        message_id = f"msg_fake{self.state.counter:06d}"
        model = body.get("model") or self.state.model
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            )
            return
        self._stream(message_id, model, blocks, stop_reason, input_tokens, output_tokens, reply)

    def _stream(
        self,
        message_id: str,
        model: str,
        blocks: list[dict[str, Any]],
        stop_reason: str,
        input_tokens: int,
        output_tokens: int,
        reply: Reply,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_fake_{self.state.counter:06d}")
        self.end_headers()
        try:
            self._event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": input_tokens,
                            "output_tokens": 1,
                            "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 0,
                        },
                    },
                },
            )
            deltas_sent = 0
            first = True
            for index, block in enumerate(blocks):
                if block["type"] == "tool_use":
                    start = {**block, "input": {}}
                    payload = json.dumps(block["input"])
                    pieces = [""] + [
                        payload[i : i + reply.chunk_chars] for i in range(0, len(payload), reply.chunk_chars)
                    ]
                    make = lambda piece: {"type": "input_json_delta", "partial_json": piece}  # noqa: E731
                else:
                    start = {"type": "text", "text": ""}
                    text = block.get("text") or ""
                    pieces = [text[i : i + reply.chunk_chars] for i in range(0, len(text), reply.chunk_chars)]
                    make = lambda piece: {"type": "text_delta", "text": piece}  # noqa: E731
                self._event(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": start},
                )
                if index == 0:
                    self._event("ping", {"type": "ping"})
                for piece in pieces:
                    if first:
                        self._wait(reply.first_token_delay)
                        first = False
                    elif reply.delta_delay:
                        self._wait(reply.delta_delay)
                    if reply.hold_after is not None and deltas_sent == reply.hold_after and reply.release:
                        while not reply.release.wait(0.05):
                            if self.state.stop.is_set():
                                return
                    if reply.cut_after is not None and deltas_sent >= reply.cut_after:
                        self._cut()
                        return
                    if reply.error_after is not None and deltas_sent >= reply.error_after:
                        self._event(
                            "error",
                            {
                                "type": "error",
                                "error": {"type": reply.error_type, "message": reply.error_message},
                            },
                        )
                        self._chunk(b"")
                        return
                    self._event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": make(piece)},
                    )
                    deltas_sent += 1
                self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            )
            self._event("message_stop", {"type": "message_stop"})
            self._chunk(b"")  # terminating chunk
        except (BrokenPipeError, ConnectionResetError):  # the client went away
            self.close_connection = True

    def _cut(self) -> None:
        """Drop the connection without the terminating chunk (a cut mid-stream)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client hanging up (before an error reply is written, say) is normal; anything
        else is a bug in the fake: say so on stderr."""
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class FakeAnthropic:
    """The server.  ``with FakeAnthropic() as fake: Anthropic(api_key=fake.api_key, base_url=fake.url)``."""

    def __init__(self, api_key: str = "sk-ant-test-key", model: str = "claude-sonnet-4-5") -> None:
        self.state = _State(api_key=api_key, model=model)
        handler = type("_BoundHandler", (_Handler,), {"state": self.state})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeAnthropic:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeAnthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    # ------------------------------------------------------------------ scripting
    def script(self, *entries: Reply | Fault | str | dict[str, Any]) -> None:
        """Queue replies: a ``str`` is a text reply, a ``dict`` a tool input."""
        with self.state.lock:
            for entry in entries:
                if isinstance(entry, str):
                    entry = Reply(text=entry)
                elif isinstance(entry, dict):
                    entry = Reply(tool_input=entry)
                self.state.queue.append(entry)

    @property
    def pending(self) -> int:
        with self.state.lock:
            return len(self.state.queue)
