"""Pytest fixtures around the protocol-faithful fake servers (registered in conftest).

* ``fake_ollama`` — a started :class:`~tests.fakes.ollama_server.FakeOllama` serving the default small
  models (``qwen3:1.7b`` ×2 slots, ``llama3.2:3b``, ``gemma3:1b``) at real pacing; stopped afterwards.
  It sets nothing global: pass ``fake_ollama.url`` as the host (or set ``OLLAMA_HOST`` yourself with
  ``monkeypatch``).
* ``fake_ollama_factory`` — ``make(models=None, *, speed=1.0, **kw) -> FakeOllama`` for custom set-ups;
  every server it starts is stopped after the test.
* ``closed_port`` — a port on 127.0.0.1 with nothing listening (connection refused).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.fakes.ollama_server import FakeModel, FakeOllama


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def fake_ollama_factory() -> Iterator[Callable[..., FakeOllama]]:
    started: list[FakeOllama] = []

    def make(models: list[FakeModel] | None = None, **kwargs) -> FakeOllama:
        server = FakeOllama(models, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port


@pytest.fixture
def fake_openai_factory() -> Iterator[Callable[..., object]]:
    """``make(models=None, **kw) -> FakeOpenAI`` (an OpenAI-compatible server; ``.url`` ends with /v1);
    every server it starts is stopped after the test."""
    from tests.fakes.openai_server import FakeOpenAI

    started: list[FakeOpenAI] = []

    def make(models=None, **kwargs) -> FakeOpenAI:
        server = FakeOpenAI(models, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def fake_openai(fake_openai_factory):
    """A started fake OpenAI-compatible server with the default models."""
    return fake_openai_factory()
