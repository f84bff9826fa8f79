"""Running a script agent's process safely: an allow-listed environment (no secrets), stdout
bounded while it is read, the interpreter by extension, and a kill that takes the whole process
group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


class OutputTooLarge(Exception):
    pass


async def communicate_bounded(
    proc: asyncio.subprocess.Process, stdin: bytes, limit: int
) -> tuple[bytes, bytes]:
    """``proc.communicate(stdin)`` that raises :class:`OutputTooLarge` as soon as stdout
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
                raise OutputTooLarge
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


def stderr_tail(text: str, limit: int = 300) -> str:
    text = text.strip()
    if not text:
        return ""
    lines = text.splitlines()
    tail = " | ".join(lines[-3:])
    return tail[-limit:]


def interpreter(path: Path) -> list[str]:
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


def kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()
