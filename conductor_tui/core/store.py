"""The conductor's files under ``<project>/.llm-orc/evaluations/``.

:class:`ProjectStore` owns one evaluations folder — a project's, or the global tier's
(``$XDG_CONFIG_HOME/llm-orc/evaluations``):

* **append-only logs** (``routing-log.jsonl``, ``evaluations.jsonl``,
  ``workflow-plans.jsonl``): every line goes out in ONE ``os.write()`` on an ``O_APPEND``
  descriptor while holding an exclusive ``fcntl.flock`` on the log, so the cockpit, the
  coding session and other tools can append at the same time without interleaving. A log
  is never rewritten.
* **tolerant reads** (:class:`ReadResult`): blank lines are ignored; corrupt, non-JSON,
  non-object or invalid lines are skipped and counted with their 1-based line numbers;
  CRLF, a UTF-8 BOM and non-ASCII text are fine; a last line without a newline that is
  not (yet) a complete JSON object is left unconsumed (``end_offset`` stops before it) so
  an incremental reader picks it up once its writer finishes it.
* **YAML written atomically** (:func:`atomic_write_text`: temp file in the same folder,
  flush, fsync, ``os.replace``, fsync of the folder). Every routing-config change backs the
  current file up as ``routing-config.v{N}.yaml``, writes version N+1 and logs the change in
  the routing log; rollback restores an old version's content *as a new version*.

Never imports Textual or Rich.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from conductor_tui.core import locations, safeyaml
from conductor_tui.core.records import (
    THRESHOLD_EXTENSION_KEYS,
    Evaluation,
    RoutingConfig,
    RoutingDecision,
    StandingAuthorization,
    TaskProfiles,
    WorkflowPlan,
    line_identity,
    new_id,
    now_utc,
)

ROUTING_LOG = "routing-log.jsonl"
EVALUATIONS_LOG = "evaluations.jsonl"
PLANS_LOG = "workflow-plans.jsonl"
ROUTING_CONFIG = "routing-config.yaml"
TASK_PROFILES = "task-profiles.yaml"
CONDUCTOR_FILES = (ROUTING_LOG, EVALUATIONS_LOG, PLANS_LOG, ROUTING_CONFIG, TASK_PROFILES)

_BOM = b"\xef\xbb\xbf"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_VERSION_RE = re.compile(r"^routing-config\.v(\d+)\.yaml$")
_CONFIG_LINE_RE = re.compile(
    rb'"event": "(?:config-change|rollback)"[^\n]*?"config_version": (\d+)'
    rb'|"config_version": (\d+)[^\n]*?"event": "(?:config-change|rollback)"'
)

M = TypeVar("M", bound=BaseModel)
_HELD = threading.local()  # the ProjectStore.lock()s this thread holds (re-entrancy)

# conductor-tui's own optional fields, left out of a log line when they are null so that
# lines stay compact (the spec's fields are always written, null or not).
_ROUTING_DROP_NULL = frozenset(
    {
        "event",
        "claude_tokens",
        "preparation_tokens_local",
        "judgment_tokens_claude",
        "estimated_full_claude_tokens",
        "preparation_savings",
        "ensemble",
        "status",
        "artifact",
        "session",
        "plan_id",
        "row_id",
        "error",
        "failure",
        "duration_ms",
        "request_id",
        "claude_only_criterion",
        "interim",
        "routing_id",
        "config_version",
        "previous_version",
        "from",
        "to",
        "ensemble_digest",
    }
)
_EVALUATION_DROP_NULL = frozenset(
    {
        "task_type",
        "calibration_context",
        "evaluator",
        "judge_score",
        "judge_reasoning",
        "judge_tokens",
        "session",
        "per_model",
        "judge_agreement",
    }
)


def _compact(data: dict[str, Any], droppable: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None or k not in droppable}


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


@dataclass
class ReadResult(Generic[M]):
    """Outcome of a tolerant JSONL read.

    ``records``: the valid records in file order. ``skipped``: 1-based line numbers of
    lines that were not blank but could not be read (not JSON, not an object, invalid
    record, not UTF-8). ``errors``: ``(line, reason)`` for each skipped line.
    ``end_offset``: byte offset just after the last line consumed — pass it back as
    ``offset`` (with ``next_line`` as ``first_line``) to read only what was appended since.
    """

    records: list[M] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    end_offset: int = 0
    next_line: int = 1
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)


# --------------------------------------------------------------------------- helpers


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


_ID_PREFIX = {"RoutingDecision": "rd-", "Evaluation": "ev-"}


def _too_deep(obj: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``obj`` nests lists/dicts deeper than ``limit`` (iterative walk)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses (``ValueError``) what nests deeper than ``max_depth``
    instead of raising ``RecursionError`` — for every JSON that comes from a file."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    try:
        obj = json.loads(text)
    except RecursionError as exc:
        raise ValueError(f"nested deeper than {max_depth} levels") from exc
    # Cheap pre-test: a record this shallow cannot hold more openers than the limit.
    if (text.count("[") + text.count("{")) > max_depth and _too_deep(obj, max_depth):
        raise ValueError(f"nested deeper than {max_depth} levels")
    return obj


def derived_id(prefix: str, raw: bytes, line_no: int) -> str:
    """A stable id for a log line written without one: the same line at the same place
    gets the same id on every read (``prefix`` + 16 hex digits of sha256)."""
    h = hashlib.sha256(raw)
    h.update(b"\0%d" % line_no)
    return f"{prefix}{h.hexdigest()[:16]}"


def _line_error(
    raw: bytes, model: type[M], *, line_no: int = 0, derive_id: str | None = None
) -> tuple[M | None, str | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, f"line too long ({len(raw):,} bytes > {MAX_LINE_BYTES:,})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 ({exc.reason})"
    try:
        obj = loads_bounded(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg})"
    except ValueError as exc:
        return None, f"not readable JSON ({exc})"
    if not isinstance(obj, dict):
        return None, f"not a JSON object ({type(obj).__name__})"
    if derive_id is not None and not obj.get("id"):
        obj["id"] = derived_id(derive_id, raw, line_no)
    try:
        rec = model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "record"
        return None, f"invalid {loc}: {first.get('msg', 'invalid value')}"
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        return None, f"invalid record ({type(exc).__name__})"
    prefix = _ID_PREFIX.get(model.__name__)
    if prefix is not None and getattr(rec, "id", "") is None:
        # models in _ID_PREFIX all carry ``id`` (checked by the getattr above); M is only bound to BaseModel
        rec.id = line_identity(prefix, raw)  # type: ignore[attr-defined]  # a log line without id: its stable, derived identity
    return rec, None


def _writer_active(fh: Any) -> bool:
    """True when a writer holds the log's lock right now (an append is in progress)."""
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


TORN_AFTER = 2.0  # seconds: an unterminated last line untouched this long is torn, not pending


def _may_grow(fh: Any, pos: int) -> bool:
    """True when the unterminated line ending at ``pos`` may still be completed: the file
    grew since it was read, or was modified less than ``TORN_AFTER`` seconds ago."""
    st = os.fstat(fh.fileno())
    return st.st_size != pos or time.time() - st.st_mtime < TORN_AFTER


def _read_long_line(fh: Any, head: bytes) -> tuple[bytes, int, bool]:
    """Finish reading a line whose first ``MAX_LINE_BYTES + 1`` bytes are ``head`` without
    keeping it: returns (a short prefix, its total length, whether it ended with a newline)."""
    total = len(head)
    while True:
        piece = fh.readline(1 << 20)
        if not piece:
            return head[:64], total, False
        total += len(piece)
        if piece.endswith(b"\n"):
            return head[:64], total, True


def read_jsonl(
    path: str | os.PathLike[str],
    model: type[M],
    offset: int = 0,
    *,
    first_line: int = 1,
    derive_id: str | None = None,
) -> ReadResult[M]:
    """Read ``path`` from byte ``offset`` tolerantly into ``model`` records (see
    :class:`ReadResult`). The file is streamed line by line (never loaded whole); a line
    longer than ``MAX_LINE_BYTES`` or nested deeper than ``MAX_JSON_DEPTH`` is skipped and
    counted. A missing file reads as empty. An unreadable one raises :class:`StoreError`.

    A last line without its newline that is not a complete record is left for the next
    read while a writer may still finish it (it holds the log's lock, or the file changed
    less than ``TORN_AFTER`` seconds ago); after that it is a torn line (a writer killed
    mid-write) and is skipped and counted. The next append starts on a new line anyway. ``derive_id`` (a prefix): a line
    without an ``id`` gets :func:`derived_id` — the same on every read, never random."""
    target = Path(path)
    result: ReadResult[M] = ReadResult(end_offset=offset, next_line=first_line)
    try:
        fh = open(target, "rb")  # closed by the with-block below
    except FileNotFoundError:
        return result
    except IsADirectoryError as exc:
        raise StoreError(target, "is a directory, not a log file") from exc
    except OSError as exc:
        raise StoreError(target, exc.strerror or str(exc)) from exc
    try:
        with fh:
            if offset > 0:
                # A previous read consumed a last line without its newline; the newline
                # that later ends it belongs to that line, not to a new (blank) one.
                fh.seek(offset - 1)
                head = fh.read(3)
                if head[:1] != b"\n":
                    if head[1:2] == b"\n":
                        offset += 1
                    elif head[1:3] == b"\r\n":
                        offset += 2
            fh.seek(offset)
            pos = offset
            result.end_offset = pos
            line_no = first_line
            while True:
                chunk = fh.readline(MAX_LINE_BYTES + 1)
                if not chunk:
                    break
                if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                    _prefix, length, ended = _read_long_line(fh, chunk)
                    if not ended and (_writer_active(fh) or _may_grow(fh, pos + length)):
                        break  # still being written: wait for the next read
                    pos += length
                    result.skipped.append(line_no)
                    result.errors.append((line_no, f"line too long ({length:,} bytes > {MAX_LINE_BYTES:,})"))
                    line_no += 1
                    result.end_offset = pos
                    result.next_line = line_no
                    continue
                pos += len(chunk)
                raw = chunk
                if line_no == first_line and offset == 0 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                if not chunk.endswith(b"\n"):
                    # Unterminated last line: a complete record (a hand-written file
                    # without a final newline) is consumed; an incomplete one is left for
                    # the next read while a writer may still be finishing it, else it is a
                    # torn line: skipped and counted.
                    text = raw.strip()
                    if not text:
                        result.end_offset = pos
                        break
                    rec, err = _line_error(text, model, line_no=line_no, derive_id=derive_id)
                    if rec is not None:
                        result.records.append(rec)
                    elif _writer_active(fh) or _may_grow(fh, pos):
                        break  # a writer may still finish it: next read
                    else:
                        result.skipped.append(line_no)
                        result.errors.append((line_no, f"torn last line: {err or 'incomplete'}"))
                    result.end_offset = pos
                    result.next_line = line_no + 1
                    break
                text = raw.strip()
                if text:
                    rec, err = _line_error(text, model, line_no=line_no, derive_id=derive_id)
                    if rec is not None:
                        result.records.append(rec)
                    else:
                        result.skipped.append(line_no)
                        result.errors.append((line_no, err or "invalid"))
                line_no += 1
                result.end_offset = pos
                result.next_line = line_no
    except OSError as exc:
        raise StoreError(target, exc.strerror or str(exc)) from exc
    return result


def _yaml_error(path: Path, exc: yaml.YAMLError) -> StoreError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return StoreError(path, f"malformed YAML: {problem}", line)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A YAML file as a mapping: ``None`` when missing, ``{}`` when empty or comments only.
    Malformed YAML or a non-mapping raises :class:`StoreError` with the file and line."""
    target = Path(path)
    try:
        if target.stat().st_size > safeyaml.MAX_YAML_BYTES:
            raise StoreError(target, f"YAML file too large (> {safeyaml.MAX_YAML_BYTES:,} bytes)")
        raw = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(target, exc.strerror or str(exc)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoreError(target, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = safeyaml.load(text)  # bounded (size, depth, aliases), safe, C when available
    except safeyaml.YamlLimitError as exc:
        raise StoreError(target, exc.message, exc.line) from exc
    except yaml.YAMLError as exc:
        raise _yaml_error(target, exc) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StoreError(target, f"expected a mapping at the top level, found {type(data).__name__}", 1)
    return data


def _dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=False)


def config_to_mapping(cfg: RoutingConfig) -> dict[str, Any]:
    """The config as written to YAML: the spec's keys, unknown keys kept, and the
    conductor-tui threshold extensions only when they were set explicitly."""
    data = cfg.to_json_dict()
    thresholds = data.get("routing_thresholds")
    if isinstance(thresholds, dict):
        set_fields = cfg.routing_thresholds.model_fields_set
        for key in THRESHOLD_EXTENSION_KEYS:
            if key not in set_fields:
                thresholds.pop(key, None)
    return data


# --------------------------------------------------------------------------- the store


class ProjectStore:
    """The conductor's files of one project (or of the global tier).

    ``ProjectStore(project)`` → ``<project>/.llm-orc/evaluations``;
    ``ProjectStore(None)`` or ``global_tier=True`` → ``$XDG_CONFIG_HOME/llm-orc/evaluations``.
    Nothing is created until the first write.
    """

    def __init__(self, project: str | os.PathLike[str] | None, *, global_tier: bool = False):
        self.global_tier = global_tier or project is None
        self.project: Path | None = None if self.global_tier else Path(project)  # type: ignore[arg-type]
        self.root: Path = locations.evaluations_dir(self.project, global_tier=self.global_tier)
        self.routing_log_path = self.root / ROUTING_LOG
        self.evaluations_path = self.root / EVALUATIONS_LOG
        self.plans_path = self.root / PLANS_LOG
        self.config_path = self.root / ROUTING_CONFIG
        self.profiles_path = self.root / TASK_PROFILES
        self._config_lock = self.root / ".routing-config.lock"
        self._profiles_lock = self.root / ".task-profiles.lock"

    def __repr__(self) -> str:
        return f"ProjectStore({str(self.root)!r})"

    def exists(self) -> bool:
        """True when any conductor file exists in the folder."""
        return any((self.root / name).exists() for name in CONDUCTOR_FILES)

    @contextlib.contextmanager
    def lock(self, name: str = "loop") -> Iterator[None]:
        """A cross-process critical section over this evaluations folder: an exclusive
        ``flock`` on ``.<name>.lock``. Every read-modify-write that spans files (an
        evaluation's invocation number, a plan revision, a lifecycle transition) runs
        inside one, so two writers (cockpit, session) never interleave.

        Re-entrant within one thread (``flock`` is not: a second descriptor on the same
        file would wait for the first forever), so a helper that takes the lock may be
        called from inside the same critical section."""
        path = self.root / f".{name}.lock"
        key = str(path.absolute())
        held: set[str] = _HELD.__dict__.setdefault("locks", set())
        if key in held:
            yield
            return
        with _locked(path):
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)

    # ----------------------------------------------------------------- appends

    def append_routing(self, d: RoutingDecision) -> RoutingDecision:
        """Append a routing decision (or a config event); gives it an ``id`` if it has none.
        The spec's fields are always written (``null`` included); conductor-tui's optional
        bookkeeping fields only when set. Returns the record."""
        if not d.id:
            d = d.model_copy(update={"id": new_id("rd-")})
        append_jsonl(self.routing_log_path, _compact(d.to_json_dict(), _ROUTING_DROP_NULL))
        return d

    def append_evaluation(self, e: Evaluation) -> Evaluation:
        """Append an evaluation record (training data); ``id`` assigned if missing."""
        if not e.id:
            e = e.model_copy(update={"id": new_id("ev-")})
        append_jsonl(self.evaluations_path, _compact(e.to_json_dict(), _EVALUATION_DROP_NULL))
        return e

    def append_plan(self, p: WorkflowPlan) -> WorkflowPlan:
        """Append one revision of a workflow plan. fsync'd: a plan persists before it is
        shown as submitted."""
        append_jsonl(self.plans_path, p.to_json_dict(), fsync=True)
        return p

    # ----------------------------------------------------------------- reads

    def read_routing(self, offset: int = 0, *, first_line: int = 1) -> ReadResult[RoutingDecision]:
        """Routing-log records from byte ``offset`` (tolerant; see :class:`ReadResult`)."""
        return read_jsonl(self.routing_log_path, RoutingDecision, offset, first_line=first_line)

    def read_evaluations(self, offset: int = 0, *, first_line: int = 1) -> ReadResult[Evaluation]:
        """Evaluation records from byte ``offset``."""
        return read_jsonl(self.evaluations_path, Evaluation, offset, first_line=first_line)

    def read_plans(self, offset: int = 0, *, first_line: int = 1) -> ReadResult[WorkflowPlan]:
        """Every workflow-plan revision from byte ``offset``, in file order."""
        return read_jsonl(self.plans_path, WorkflowPlan, offset, first_line=first_line)

    def latest_plans(self) -> dict[str, WorkflowPlan]:
        """The newest revision of each plan id (highest ``revision``; on a tie, the later line)."""
        out: dict[str, WorkflowPlan] = {}
        for plan in self.read_plans().records:
            current = out.get(plan.id)
            if current is None or plan.revision >= current.revision:
                out[plan.id] = plan
        return out

    def plan_history(self, plan_id: str) -> list[WorkflowPlan]:
        """All revisions of one plan, oldest first (by revision, then file order)."""
        revs = [p for p in self.read_plans().records if p.id == plan_id]
        return sorted(revs, key=lambda p: p.revision)

    # ----------------------------------------------------------------- routing config

    def version_path(self, n: int) -> Path:
        """``routing-config.v{n}.yaml``."""
        return self.root / f"routing-config.v{n}.yaml"

    def load_config(self) -> RoutingConfig:
        """The current routing config. Missing or comment-only → defaults. Malformed →
        :class:`StoreError` naming the file and line."""
        return self._load_config_file(self.config_path)

    def _load_config_file(self, path: Path) -> RoutingConfig:
        data = read_yaml_mapping(path)
        if data is None:
            return RoutingConfig()
        try:
            return RoutingConfig.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise StoreError(path, f"invalid routing config at {loc}: {first.get('msg')}") from exc

    def config_versions(self) -> list[int]:
        """Every version number available: the backups plus the current file's version."""
        versions: set[int] = set()
        if self.root.is_dir():
            for entry in self.root.iterdir():
                m = _VERSION_RE.match(entry.name)
                if m:
                    versions.add(int(m.group(1)))
        if self.config_path.exists():
            with contextlib.suppress(StoreError):
                versions.add(self.load_config().version)
        return sorted(versions)

    def load_config_version(self, n: int) -> RoutingConfig:
        """The config as it was at version ``n`` (the current file when ``n`` is current)."""
        backup = self.version_path(n)
        if backup.exists():
            return self._load_config_file(backup)
        if self.config_path.exists():
            current = self.load_config()
            if current.version == n:
                return current
        raise StoreError(backup, f"no routing config version {n} (have {self.config_versions()})")

    def save_config(self, cfg: RoutingConfig, reason: str) -> RoutingConfig:
        """Write ``cfg`` as the next version: back up the current file as
        ``routing-config.v{N}.yaml``, write version N+1 atomically, log a
        ``config-change`` line (with ``reason``) in the routing log. Returns what was written.

        ``cfg`` replaces the current content as a whole; to change one thing on top of
        whatever is current (safe against a concurrent writer), use the helpers below,
        which read, modify and write under the config lock."""
        return self._write_config(cfg, reason=reason, event="config-change")

    def _write_config(
        self,
        change: RoutingConfig | Callable[[RoutingConfig], RoutingConfig | None],
        *,
        reason: str,
        event: str,
        extra: dict[str, Any] | None = None,
    ) -> RoutingConfig:
        """Under the config lock: read the current file, compute the new config (``change``
        itself, or ``change(current copy)`` — ``None`` means nothing to do), back up, write
        atomically, log. ``extra`` (which ``change`` may fill) goes into the log line."""
        with _locked(self._config_lock):
            stamp = now_utc().strftime("%Y%m%dT%H%M%S%f")
            current: RoutingConfig | None = None
            current_raw = b""
            load_error: StoreError | None = None
            exists = self.config_path.exists()
            if exists:
                current_raw = self.config_path.read_bytes()
                try:
                    current = self.load_config()
                except StoreError as exc:
                    load_error = exc
            if callable(change):
                if load_error is not None:
                    raise load_error  # never modify what cannot be read
                base = current if current is not None else RoutingConfig()
                new_cfg = change(base.model_copy(deep=True))
                if new_cfg is None:
                    return base
                new_cfg = new_cfg.model_copy(deep=True)
            else:
                new_cfg = change.model_copy(deep=True)

            if load_error is not None:
                # Unreadable (malformed by hand): keep its bytes aside, lose nothing; it
                # was (presumably) the version after the newest backup.
                atomic_write_bytes(self.root / f"routing-config.unreadable-{stamp}.yaml", current_raw)
                current_version = max(self._backup_versions(), default=0) + 1
            elif current is not None:
                current_version = current.version
                self._repair_config_log(current_version)
                backup = self.version_path(current_version)
                if not backup.exists():
                    atomic_write_bytes(backup, current_raw)
                elif backup.read_bytes() != current_raw:
                    # Edited by hand without bumping the version: keep both, lose nothing.
                    atomic_write_bytes(
                        self.root / f"routing-config.v{current_version}.edited-{stamp}.yaml", current_raw
                    )
            else:
                # No file yet: the implied defaults become version 1, so that rolling back
                # to "before the first change" is possible too.
                current_version = RoutingConfig().version
                backup = self.version_path(current_version)
                if not backup.exists():
                    atomic_write_text(backup, _dump_yaml(config_to_mapping(RoutingConfig())))
            new_version = max([current_version, *self._backup_versions()]) + 1
            new_cfg.version = new_version
            atomic_write_text(self.config_path, _dump_yaml(config_to_mapping(new_cfg)))
            record = RoutingDecision(
                event=event,
                reason=reason,
                config_version=new_version,
                previous_version=current_version,
                **(extra or {}),
            )
            self.append_routing(record)
            return new_cfg

    def logged_config_versions(self) -> set[int]:
        """The config versions that have their ``config-change`` / ``rollback`` line in the
        routing log (a fast byte scan; the lines are written by this class)."""
        try:
            with open(self.routing_log_path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size == 0:
                    return set()
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    return {int(m.group(1) or m.group(2)) for m in _CONFIG_LINE_RE.finditer(data)}
        except (FileNotFoundError, IsADirectoryError):
            return set()
        except (OSError, ValueError) as exc:
            raise StoreError(self.routing_log_path, getattr(exc, "strerror", None) or str(exc)) from exc

    def config_versions_without_log(self) -> list[int]:
        """Versions after the first (the implied defaults) that exist as a file but have no
        log line — a writer killed between writing the version and logging it."""
        logged = self.logged_config_versions()
        return [v for v in self.config_versions() if v > 1 and v not in logged]

    def _repair_config_log(self, version: int) -> None:
        """Under the config lock: give ``version`` its missing log line (say it was recovered)."""
        if version <= 1 or version in self.logged_config_versions():
            return
        older = [v for v in self._backup_versions() if v < version]
        self.append_routing(
            RoutingDecision(
                event="config-change",
                reason=f"recovered: routing config version {version} was written without its log line",
                config_version=version,
                previous_version=max(older) if older else None,
            )
        )

    def repair_config_log(self) -> list[int]:
        """Log every version found without its line (see :meth:`config_versions_without_log`);
        returns the versions repaired."""
        with _locked(self._config_lock):
            missing = self.config_versions_without_log()
            for version in missing:
                self._repair_config_log(version)
            return missing

    def _backup_versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return [int(m.group(1)) for e in self.root.iterdir() if (m := _VERSION_RE.match(e.name))]

    def rollback_config(self, version: int | None = None, reason: str = "rollback") -> RoutingConfig:
        """Restore version ``version`` (default: the one before the current) as a NEW
        version, logged with ``event="rollback"`` and ``rolled_back_to``. Rollback never
        deletes history."""
        extra: dict[str, Any] = {}

        def restore(current: RoutingConfig) -> RoutingConfig:
            target = version
            if target is None:
                older = [v for v in self.config_versions() if v < current.version]
                if not older:
                    raise StoreError(self.config_path, "no earlier routing config version to roll back to")
                target = older[-1]
            extra["rolled_back_to"] = target
            return self.load_config_version(target)

        return self._write_config(restore, reason=reason, event="rollback", extra=extra)

    def grant_authorization(
        self, task_type: str, ensemble: str, reason: str = "standing authorization granted by the user"
    ) -> RoutingConfig:
        """Add a standing authorization (task type + ensemble) as a new config version.
        Already granted → no new version; the current config is returned."""

        def grant(cfg: RoutingConfig) -> RoutingConfig | None:
            if cfg.authorization_for(task_type, ensemble) is not None:
                return None
            cfg.standing_authorizations = [
                *cfg.standing_authorizations,
                StandingAuthorization(task_type=task_type, ensemble=ensemble, granted_date=now_utc()),
            ]
            return cfg

        return self._write_config(grant, reason=reason, event="config-change")

    def revoke_authorization(
        self, task_type: str, ensemble: str, reason: str = "standing authorization revoked by the user"
    ) -> RoutingConfig:
        """Remove a standing authorization as a new config version (none → no change)."""

        def revoke(cfg: RoutingConfig) -> RoutingConfig | None:
            kept = [
                a
                for a in cfg.standing_authorizations
                if not (a.task_type == task_type and a.ensemble == ensemble)
            ]
            if len(kept) == len(cfg.standing_authorizations):
                return None
            cfg.standing_authorizations = kept
            return cfg

        return self._write_config(revoke, reason=reason, event="config-change")

    def update_thresholds(self, reason: str, **changes: Any) -> RoutingConfig:
        """Change routing thresholds (e.g. ``repetition_threshold=4``) as a new config
        version. Unknown names raise ``ValueError``; values are validated (a pydantic
        ``ValidationError``, also a ``ValueError``)."""

        from conductor_tui.core import rules

        def update(cfg: RoutingConfig) -> RoutingConfig:
            thresholds = cfg.routing_thresholds.model_copy()
            allowed = set(type(thresholds).model_fields) | set(thresholds.extras)
            for key, value in changes.items():
                if key not in allowed:
                    raise ValueError(f"unknown routing threshold {key!r} (known: {sorted(allowed)})")
                problem = rules.threshold_problem(key, value)
                if problem:
                    raise ValueError(problem)
                setattr(thresholds, key, value)
            problems = rules.thresholds_problems(thresholds)
            if problems:
                raise ValueError("; ".join(problems))
            cfg.routing_thresholds = thresholds
            return cfg

        return self._write_config(update, reason=reason, event="config-change")

    def mark_starter_kit_offered(self, reason: str = "starter kit offered") -> RoutingConfig:
        """Set ``starter_kit_offered: true`` as a new version, once."""

        def mark(cfg: RoutingConfig) -> RoutingConfig | None:
            if cfg.starter_kit_offered:
                return None
            cfg.starter_kit_offered = True
            return cfg

        return self._write_config(mark, reason=reason, event="config-change")

    # ----------------------------------------------------------------- task profiles

    def load_task_profiles(self) -> TaskProfiles:
        """``task-profiles.yaml``: missing or comment-only → empty."""
        data = read_yaml_mapping(self.profiles_path)
        try:
            return TaskProfiles.from_mapping(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise StoreError(
                self.profiles_path, f"invalid task profile at {loc}: {first.get('msg')}"
            ) from exc

    def update_task_profiles(self, change: Callable[[TaskProfiles], TaskProfiles | None]) -> TaskProfiles:
        """Read, modify and write ``task-profiles.yaml`` under its lock, so two writers
        (cockpit, session) never lose each other's update. ``change`` gets the current
        profiles and returns the new ones (or ``None``: nothing to write).

        >>> store.update_task_profiles(lambda p: bump(p, "extraction"))  # doctest: +SKIP
        """
        with _locked(self._profiles_lock):
            current = self.load_task_profiles()
            new = change(current)
            if new is None:
                return current
            atomic_write_text(self.profiles_path, _dump_yaml(new.to_mapping()))
            return new

    def save_task_profiles(self, p: TaskProfiles) -> TaskProfiles:
        """Write ``task-profiles.yaml`` atomically (unknown keys kept)."""
        with _locked(self._profiles_lock):
            atomic_write_text(self.profiles_path, _dump_yaml(p.to_mapping()))
        return p
