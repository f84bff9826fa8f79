"""Cockpit presence: the heartbeat file ``conductor/cockpit.json`` that says a cockpit is
open on a project, and the check that it is still alive (no Textual).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from conductor_tui.core.store import atomic_write_text
from conductor_tui.handoff.schema import HEARTBEAT_STALE_AFTER, cockpit_path


def cockpit_heartbeat(
    project: str | os.PathLike[str], *, pid: int | None = None, started: float | None = None
) -> None:
    """Say "a cockpit is open on this project" (call every 1–2 s from the cockpit)."""
    path = cockpit_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = _read_cockpit(path)
    now = time.time()
    if started is None:
        started = previous.get("started", now) if previous.get("pid") == (pid or os.getpid()) else now
    data = {
        "pid": pid or os.getpid(),
        "host": socket.gethostname(),
        "project": str(Path(project).resolve()),
        "started": started,
        "heartbeat": now,
    }
    atomic_write_text(path, json.dumps(data) + "\n")


def cockpit_closed(project: str | os.PathLike[str], *, pid: int | None = None) -> None:
    """Remove the heartbeat file (only our own: another cockpit may have taken over)."""
    path = cockpit_path(project)
    data = _read_cockpit(path)
    if data and data.get("pid") not in (None, pid or os.getpid()):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read_cockpit(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cockpit_alive(
    project: str | os.PathLike[str], *, stale_after: float = HEARTBEAT_STALE_AFTER
) -> dict[str, Any] | None:
    """The heartbeat of the cockpit open on ``project``, or ``None`` when there is none
    (no file, stale heartbeat, or its process is gone on this host)."""
    data = _read_cockpit(cockpit_path(project))
    beat = data.get("heartbeat")
    if not isinstance(beat, int | float) or time.time() - beat > stale_after:
        return None
    if data.get("host") == socket.gethostname() and not _pid_alive(data.get("pid")):
        return None
    return data
