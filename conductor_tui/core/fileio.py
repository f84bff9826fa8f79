"""Writing the conductor's files safely (no pydantic, no Textual).

* :func:`append_jsonl` — one JSON line in ONE ``os.write()`` on an ``O_APPEND``
  descriptor under an exclusive ``flock``, so several writers never interleave;
* :func:`atomic_write_bytes` / :func:`atomic_write_text` — replace a file so a reader (or
  a crash) sees the old or the new one, never a torn one; :func:`sweep_temp_files`
  removes what killed writers left;
* :class:`StoreError` — a file that could not be read or written, with its path (and line).

:mod:`~conductor_tui.core.store` re-exports all of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class StoreError(Exception):
    """A conductor file could not be read or written.

    ``path`` is the file, ``line`` the 1-based line when known; ``str(err)`` names both.
    """

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        self.reason = message  # the message without the location
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


TEMP_STALE_AFTER = 30.0  # seconds: an atomic-write temp file older than this is an orphan


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def sweep_temp_files(path: str | os.PathLike[str], *, stale_after: float = TEMP_STALE_AFTER) -> int:
    """Remove the temp files killed :func:`atomic_write_bytes` calls left in ``path``'s
    folder (``.<name>.<pid>.<random>.tmp``): those whose writer process is gone, and any
    older than ``stale_after`` seconds (also ``.<name>.<random>.tmp`` of older versions
    next to ``path``). Returns how many were removed. Never raises."""
    target = Path(path)
    legacy = _temp_prefix(target)
    removed = 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        m = _TEMP_RE.match(name)
        if m is None and not name.startswith(legacy):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = int(m.group(1)) if m else None
        dead = pid is not None and pid != os.getpid() and _pid_gone(pid)
        if dead or age > stale_after:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader (or a crash) sees the old or the new file,
    never a torn one: temp file in the same folder, write, flush, fsync, ``os.replace``,
    fsync the folder. Keeps the permissions of an existing file.

    The temp file is named ``.<name>.<pid>.<random>.tmp``; every write first removes the
    temp files of earlier writers that were killed (:func:`sweep_temp_files`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp_files(target)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_temp_prefix(target)}{os.getpid()}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def _locked(path: Path, *, shared: bool = False) -> Iterator[int]:
    """An advisory ``flock`` on ``path`` (created if missing) for the block's duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


MAX_LINE_BYTES = 64 * 1024 * 1024  # a log line longer than this is refused (write) / skipped (read)
MAX_JSON_DEPTH = 64  # nesting deeper than this in one record is refused / skipped


def append_jsonl(path: str | os.PathLike[str], obj: dict[str, Any], *, fsync: bool = False) -> None:
    """Append ``obj`` as one JSON line: one ``os.write()`` on an ``O_APPEND`` descriptor
    under an exclusive ``flock``. If the file's last byte is not a newline (a hand-edited
    file, or a line torn by a writer killed mid-write), the line is preceded by one so it
    never merges with the previous line — the torn line is then skipped and counted by
    :func:`read_jsonl`. Raises :class:`StoreError` (naming the file) when it cannot write."""
    target = Path(path)
    line = json.dumps(obj, ensure_ascii=False) + "\n"
    data = line.encode("utf-8")
    if len(data) > MAX_LINE_BYTES:
        raise StoreError(
            target, f"record too large for one log line ({len(data):,} bytes > {MAX_LINE_BYTES:,})"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except IsADirectoryError as exc:
        raise StoreError(target, "is a directory, not a log file") from exc
    except OSError as exc:
        raise StoreError(target, f"cannot write: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        while written < len(data):  # only on a full disk or a signal; still under the lock
            written += os.write(fd, data[written:])
        if fsync:
            os.fsync(fd)
    except OSError as exc:
        raise StoreError(target, f"cannot write: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
