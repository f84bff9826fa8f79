"""Fast scanning helpers for big append-only JSONL logs (msgspec only; no pydantic, no Textual).

What :mod:`~conductor_tui.core.aggregate` (the report and the Savings dashboard) and
:mod:`~conductor_tui.core.review` (Evaluate, Lifecycle) share to read a million-line
``routing-log.jsonl`` near the decoder's limit:

* :func:`line_ranges` splits a byte range of a file into ``n`` pieces that each end
  right after a newline, so every piece holds whole lines;
* :func:`iter_blocks` yields the complete lines of a byte range as ~1 MiB memoryviews
  (one ``read`` per block, no copies), with the 1-based number of each block's first
  line relative to the range;
* :func:`fork_map` (on a :class:`ForkJob`) runs a function over such pieces on every core: ``n - 1`` forked
  children (they inherit the already-imported modules and the file's page cache, so a
  worker starts in a millisecond instead of the ~0.3 s of a spawned interpreter), the
  calling process takes the last piece itself, and each child sends its (small,
  pickled) partial result back through a pipe. A child that fails is redone in-process,
  so the result never depends on the workers; without ``os.fork`` (Windows) everything
  runs in-process.

The decoding and folding of records stays with the callers; this module only knows about
bytes, lines and processes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

BLOCK_SIZE = 1 << 20  # 1 MiB: a decoded block stays in the CPU cache for the loop over it
BOM = b"\xef\xbb\xbf"
# Below this many bytes a single process is faster than forking (a fork + pipe costs a
# few ms; one core decodes ~20 MB in that time).
PARALLEL_MIN_BYTES = 24 << 20

T = TypeVar("T")


def numbered_lines(path: Any) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, stripped bytes) for every non-blank line of a JSONL file, a
    leading UTF-8 BOM removed; nothing when the file is missing. The one line walk of the
    readers that decode line by line (history, savings trace, training export)."""
    p = Path(path)
    if not p.is_file():
        return
    with p.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            line = raw.strip()
            if line:
                yield n, line


def cpu_count() -> int:
    """Cores this process may use (``CONDUCTOR_TUI_WORKERS`` overrides: ``1`` turns the
    parallel scan off, a larger number forces more pieces — tests use it)."""
    env = os.environ.get("CONDUCTOR_TUI_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parallel_workers(nbytes: int, min_bytes: int = PARALLEL_MIN_BYTES) -> int:
    """How many pieces to split ``nbytes`` into (1 = read it in this process)."""
    if not hasattr(os, "fork"):
        return 1
    n = cpu_count()
    if n <= 1:
        return 1
    if os.environ.get("CONDUCTOR_TUI_WORKERS"):
        return n  # forced (tests): split even a small file
    return n if nbytes >= min_bytes else 1


def last_newline(fh: Any, start: int, end: int) -> int:
    """Offset just after the last ``\\n`` in ``[start, end)`` of the binary file ``fh``
    (``start`` when there is none)."""
    pos = end
    step = 1 << 16
    while pos > start:
        lo = max(start, pos - step)
        fh.seek(lo)
        chunk = fh.read(pos - lo)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return lo + cut + 1
        pos = lo
        step = min(step * 2, 1 << 24)
    return start


def line_ranges(fh: Any, start: int, end: int, n: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` (``end`` just after a newline) into at most ``n`` ranges
    that each end just after a newline. Empty ranges are dropped; a line longer than a
    piece simply makes its piece longer."""
    if n <= 1 or end - start < 2:
        return [(start, end)] if end > start else []
    cuts = [start]
    for i in range(1, n):
        # search from the byte before the guess: a guess on a line start cuts right there
        guess = max(start + (end - start) * i // n - 1, cuts[-1])
        fh.seek(guess)
        pos = guess
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                pos = end
                break
            nl = chunk.find(b"\n")
            if nl >= 0:
                pos = min(pos + nl + 1, end)
                break
            pos += len(chunk)
        cuts.append(pos)
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def iter_blocks(
    fh: Any, start: int, end: int, block_size: int | None = None
) -> Iterator[tuple[memoryview, int, int]]:
    """Complete lines of ``[start, end)`` (``end`` just after a newline) as memoryviews of
    about ``block_size`` bytes, each ending with ``\\n``; yields ``(piece, first_line,
    lines)``: the 1-based number, within the range, of the piece's first line and the
    number of lines (newlines) in it. ``fh`` must be an unbuffered binary file
    (``open(path, "rb", buffering=0)``)."""
    block_size = block_size or BLOCK_SIZE
    offset = start
    line = 1
    size = block_size
    while offset < end:
        fh.seek(offset)
        block = fh.read(min(size, end - offset))
        if not block:
            return
        cut = block.rfind(b"\n")
        if cut < 0:
            if offset + len(block) >= end:  # no newline before ``end``: not a whole line
                return
            size *= 2  # a line longer than the block
            continue
        n = block.count(b"\n", 0, cut + 1)
        yield memoryview(block)[: cut + 1], line, n
        line += n
        offset += cut + 1
        size = block_size


def one_value_per_line(block: bytes, values: int) -> bool:
    """Whether ``values``, the JSON values a reader of concatenated values (``msgspec``'s
    ``decode_lines``) found in ``block``, are one per line, as a line-by-line reader finds
    them: as many as the block's lines (an unterminated last one included), and every line
    one object on its own, opening with ``{`` and closing with ``}``.

    As many values as lines is not enough: a blank line (no value), or a record written
    over two lines, evens out a line holding two (``{…}{…}``: two writers interleaved).
    When every line opens with ``{`` and closes with ``}``, each line holds whole values —
    inside a value ``}`` cannot be followed by ``{`` without a comma, and a string cannot
    hold a raw newline — so as many values as lines is one per line."""
    parts = block.split(b"\n")
    if not parts[-1].strip():
        parts.pop()  # after the last newline: nothing, or blanks
    if len(parts) != values:
        return False
    for part in parts:
        line = part.strip()
        if line[:1] != b"{" or line[-1:] != b"}":
            return False
    return True


# an object closing where another opens, on one line (JSON's blanks between them)
_TWO_ON_A_LINE = re.compile(rb"\}[ \t\r]*\{")


def one_record_per_line(
    block: Any, values: int, lines: int | None = None, lo: int = 0, hi: int | None = None
) -> bool:
    """Whether ``values`` objects (a typed struct decoder's ``decode_lines``) found in the
    whole lines ``block[lo:hi]`` are one per line, as a line-by-line reader finds them
    (``lines``: their number, counted when not given; ``block`` is then bytes).

    As many objects as lines is not enough: a blank line, or a record written over two
    lines, evens out a line holding two (``{…}{…}``: two writers interleaved). With as many
    objects as lines it is enough that no object closes on a line where another opens
    (``}``, blanks, ``{``): then no line holds two, so none holds none. One C-level search;
    a block where it finds one (such text inside a string, or a line of two) gets the
    line-by-line check (:func:`one_value_per_line`)."""
    hi = len(block) if hi is None else hi
    if lines is None:
        lines = block.count(b"\n", lo, hi)
    if values != lines:
        return False
    if _TWO_ON_A_LINE.search(block, lo, hi) is None:
        return True
    return one_value_per_line(bytes(block[lo:hi]), values)


# --------------------------------------------------------------------------- processes


def _child(fn: Callable[[Any], Any], item: Any, wfd: int) -> None:
    code = 0
    try:
        payload = pickle.dumps(("ok", fn(item)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # report it; the parent redoes the piece and raises there
        payload = pickle.dumps(("error", None))
        code = 1
    try:
        view = memoryview(payload)
        while view:
            written = os.write(wfd, view)
            view = view[written:]
        os.close(wfd)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _fork() -> int:
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (the cockpit's
        # workers). The child here only decodes bytes with already-imported C code,
        # writes to its pipe and leaves with os._exit: it takes no lock another thread
        # could hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _read_all(fd: int) -> bytes:
    parts = []
    while True:
        data = os.read(fd, 1 << 20)
        if not data:
            break
        parts.append(data)
    os.close(fd)
    return b"".join(parts)


class ForkJob:
    """``fn`` over ``items``, each in a forked child started now; :meth:`join` collects the
    results in order (a child that failed, or could not be forked, is recomputed in this
    process, so an error is raised there with its real traceback). Meanwhile this process
    is free: the report loads its other modules while the children read the log.
    :meth:`cancel` stops the children of a job whose results are not wanted."""

    def __init__(self, fn: Callable[[Any], Any], items: list[Any]) -> None:
        self.fn = fn
        self.items = items
        self.children: list[tuple[int, int] | None] = []
        if not hasattr(os, "fork"):
            self.children = [None] * len(items)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        for item in items:
            rfd, wfd = os.pipe()
            try:
                pid = _fork()
            except OSError:
                os.close(rfd)
                os.close(wfd)
                self.children.append(None)
                continue
            if pid == 0:  # pragma: no cover - runs in the child, which leaves with os._exit
                os.close(rfd)
                _child(fn, item, wfd)
            os.close(wfd)
            self.children.append((pid, rfd))

    def join(self) -> list[Any]:
        raw = [self._collect(child) for child in self.children]
        self.children = []
        results: list[Any] = []
        for item, data in zip(self.items, raw, strict=True):
            value: Any = None
            ok = False
            if data:
                try:
                    tag, value = pickle.loads(data)
                    ok = tag == "ok"
                except Exception:
                    ok = False
            results.append(value if ok else self.fn(item))
        return results

    def cancel(self) -> None:
        for child in self.children:
            if child is not None:
                with contextlib.suppress(OSError):
                    os.kill(child[0], signal.SIGKILL)
                self._collect(child)
        self.children = []

    @staticmethod
    def _collect(child: tuple[int, int] | None) -> bytes | None:
        """A child's whole output once it has exited (``None`` when it failed)."""
        if child is None:
            return None
        pid, rfd = child
        try:
            data: bytes | None = _read_all(rfd)
        except OSError:
            data = None
        try:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                data = None
        except ChildProcessError:
            data = None
        return data


def fork_map(fn: Callable[[Any], T], items: list[Any]) -> list[T]:
    """``[fn(item) for item in items]``, the items but the last computed in forked
    children (a :class:`ForkJob`) at the same time as the last one here. ``fn``'s results
    must pickle."""
    if len(items) <= 1 or not hasattr(os, "fork"):
        return [fn(item) for item in items]
    job = ForkJob(fn, items[:-1])
    try:
        last = fn(items[-1])
    except BaseException:
        job.cancel()
        raise
    return [*job.join(), last]


# --------------------------------------------------------------------------- file identity


def file_signature(path: Any) -> tuple | None:
    """``(inode, size, mtime_ns)`` of ``path``, ``None`` when it does not exist: equal
    signatures mean "unchanged" for a file that is rewritten or appended to."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def prefix_fingerprint(path: Any, offset: int) -> bytes | None:
    """The first 4 KiB and the 4 KiB before ``offset`` of ``path`` (``None`` if
    unreadable): if they still match, bytes before ``offset`` were only appended to."""
    try:
        with open(path, "rb", buffering=0) as fh:
            head = fh.read(min(offset, 4096))
            lo = max(0, offset - 4096)
            fh.seek(lo)
            return head + fh.read(offset - lo)
    except OSError:
        return None


def grew_from(path: Any, sig: tuple | None, offset: int, fingerprint: bytes | None) -> bool:
    """Whether ``path`` is the file ``sig`` described, with bytes only appended after
    ``offset`` (same inode, not shorter, same bytes around ``offset``)."""
    now = file_signature(path)
    if sig is None or now is None or now[0] != sig[0] or now[1] < offset:
        return False
    return prefix_fingerprint(path, offset) == fingerprint


def region_contains(path: Any, start: int, needle: bytes) -> bool:
    """Whether the bytes of ``path`` from ``start`` on contain ``needle``."""
    with open(path, "rb", buffering=0) as fh:
        fh.seek(max(0, start - len(needle)))
        carry = b""
        while True:
            chunk = fh.read(8 << 20)
            if not chunk:
                return False
            if needle in carry + chunk[: len(needle)] or needle in chunk:
                return True
            carry = chunk[-len(needle) :]
