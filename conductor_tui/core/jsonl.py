"""Tolerant reads of the append-only JSONL logs (see :class:`ReadResult`).

:func:`read_jsonl` streams a log line by line into pydantic records: blank lines are
ignored; corrupt, non-JSON, non-object or invalid lines are skipped and counted with their
1-based line numbers; CRLF, a UTF-8 BOM and non-ASCII text are fine; a last line without
its newline that is not (yet) a complete record is left for the next read while a writer
may still finish it. Lines are decoded with msgspec and, when every value is one the
record's validators would keep unchanged, built without re-validating
(:mod:`~conductor_tui.core.fastrecords`); any other line goes through pydantic.

:mod:`~conductor_tui.core.store` re-exports all of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from conductor_tui.core import fileio
from conductor_tui.core.fastrecords import builder_for
from conductor_tui.core.fileio import MAX_JSON_DEPTH, StoreError
from conductor_tui.core.records import line_identity

M = TypeVar("M", bound=BaseModel)
_BOM = b"\xef\xbb\xbf"
_DECODE = msgspec.json.Decoder().decode


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


def _with_identity(rec: Any, model: type, raw: bytes) -> Any:
    prefix = _ID_PREFIX.get(model.__name__)
    if prefix is not None and getattr(rec, "id", "") is None:
        rec.id = line_identity(prefix, raw)  # a log line without id: its stable, derived identity
    return rec


def _fast_record(raw: bytes, model: type[M], line_no: int, derive_id: str | None) -> M | None:
    """The record of a well-formed line built without re-validation, or ``None`` (then
    pydantic reads it: errors, odd values, deep nesting — see core.fastrecords)."""
    fast = builder_for(model)
    if fast.fields is None or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        return None
    try:
        obj = _DECODE(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if type(obj) is not dict:
        return None
    if derive_id is not None and not obj.get("id"):
        obj["id"] = derived_id(derive_id, raw, line_no)
    rec = fast.build(obj)
    return _with_identity(rec, model, raw) if rec is not None else None


def _line_error(
    raw: bytes, model: type[M], *, line_no: int = 0, derive_id: str | None = None
) -> tuple[M | None, str | None]:
    if len(raw) > fileio.MAX_LINE_BYTES:
        return None, f"line too long ({len(raw):,} bytes > {fileio.MAX_LINE_BYTES:,})"
    fast = _fast_record(raw, model, line_no, derive_id)
    if fast is not None:
        return fast, None
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
    return _with_identity(rec, model, raw), None


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
    """Finish reading a line whose first ``fileio.MAX_LINE_BYTES + 1`` bytes are ``head`` without
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
    longer than ``fileio.MAX_LINE_BYTES`` or nested deeper than ``MAX_JSON_DEPTH`` is skipped and
    counted. A missing file reads as empty. An unreadable one raises :class:`StoreError`.

    A last line without its newline that is not a complete record is left for the next
    read while a writer may still finish it (it holds the log's lock, or the file changed
    less than ``TORN_AFTER`` seconds ago); after that it is a torn line (a writer killed
    mid-write) and is skipped and counted. The next append starts on a new line anyway. ``derive_id`` (a prefix): a line
    without an ``id`` gets :func:`derived_id` — the same on every read, never random."""
    result: ReadResult[M] = ReadResult(end_offset=offset, next_line=first_line)
    _stream(path, lambda fh: _LineReader(fh, model, result, derive_id), offset, first_line)
    return result


def _stream(path: str | os.PathLike[str], make_reader: Any, offset: int, first_line: int) -> bool:
    """Run the line reader ``make_reader(fh)`` over ``path`` from ``offset``; ``False`` when
    the file does not exist. An unreadable one raises :class:`StoreError`."""
    target = Path(path)
    try:
        fh = open(target, "rb")  # closed by the with-block below
    except FileNotFoundError:
        return False
    except IsADirectoryError as exc:
        raise StoreError(target, "is a directory, not a log file") from exc
    except OSError as exc:
        raise StoreError(target, exc.strerror or str(exc)) from exc
    try:
        with fh:
            make_reader(fh).run(_skip_carried_newline(fh, offset), first_line)
    except OSError as exc:
        raise StoreError(target, exc.strerror or str(exc)) from exc
    return True


def _skip_carried_newline(fh: Any, offset: int) -> int:
    """After a consumed last line that had no newline, the newline that later ends it
    belongs to that line, not to a new (blank) one: the offset after it."""
    if offset > 0:
        fh.seek(offset - 1)
        head = fh.read(3)
        if head[:1] != b"\n":
            if head[1:2] == b"\n":
                offset += 1
            elif head[1:3] == b"\r\n":
                offset += 2
    return offset


class _LineReader:
    """One streaming pass of :func:`read_jsonl` over an open file."""

    def __init__(self, fh: Any, model: type, result: ReadResult, derive_id: str | None) -> None:
        self.fh, self.model, self.result, self.derive_id = fh, model, result, derive_id

    def run(self, offset: int, first_line: int) -> None:
        fh, result = self.fh, self.result
        fh.seek(offset)
        pos = offset
        result.end_offset = pos
        line_no = first_line
        while True:
            chunk = fh.readline(fileio.MAX_LINE_BYTES + 1)
            if not chunk:
                break
            if len(chunk) > fileio.MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                length = self._long_line(chunk, pos, line_no)
                if length is None:
                    break  # still being written: wait for the next read
                pos += length
            else:
                pos += len(chunk)
                raw = chunk
                if line_no == first_line and offset == 0 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                if not chunk.endswith(b"\n"):
                    self._last_line(raw.strip(), pos, line_no)
                    break
                self._line(raw.strip(), line_no)
            line_no += 1
            result.end_offset = pos
            result.next_line = line_no

    def _line(self, text: bytes, line_no: int) -> None:
        if text:
            rec, err = _line_error(text, self.model, line_no=line_no, derive_id=self.derive_id)
            if rec is not None:
                self.result.records.append(rec)
            else:
                self.result.skipped.append(line_no)
                self.result.errors.append((line_no, err or "invalid"))

    def _long_line(self, chunk: bytes, pos: int, line_no: int) -> int | None:
        """A line over the size limit: skipped and counted (its length), or ``None`` while
        a writer may still be writing it."""
        _prefix, length, ended = _read_long_line(self.fh, chunk)
        if not ended and (_writer_active(self.fh) or _may_grow(self.fh, pos + length)):
            return None
        self.result.skipped.append(line_no)
        self.result.errors.append((line_no, f"line too long ({length:,} bytes > {fileio.MAX_LINE_BYTES:,})"))
        return length

    def _last_line(self, text: bytes, pos: int, line_no: int) -> None:
        """Unterminated last line: a complete record (a hand-written file without a final
        newline) is consumed; an incomplete one is left for the next read while a writer
        may still be finishing it, else it is a torn line: skipped and counted."""
        result = self.result
        if not text:
            result.end_offset = pos
            return
        rec, err = _line_error(text, self.model, line_no=line_no, derive_id=self.derive_id)
        if rec is not None:
            result.records.append(rec)
        elif _writer_active(self.fh) or _may_grow(self.fh, pos):
            return  # a writer may still finish it: next read
        else:
            result.skipped.append(line_no)
            result.errors.append((line_no, f"torn last line: {err or 'incomplete'}"))
        result.end_offset = pos
        result.next_line = line_no + 1


# --------------------------------------------------------------------------- revisions


class _Revision(msgspec.Struct):
    """The two keys of a revisioned line (an append-only log of whole records, each line
    ``{"id": …, "revision": n, …}``), decoded without the rest of the line."""

    id: Any = None
    revision: Any = None


_REVISION_DEC = msgspec.json.Decoder(_Revision)


class _DeferringReader(_LineReader):
    """A :class:`_LineReader` that keeps each complete line's bytes (with its number)
    instead of validating it; the caller validates only the lines it needs."""

    def __init__(self, fh: Any, model: type, result: ReadResult, lines: list[tuple[int, bytes]]) -> None:
        super().__init__(fh, model, result, None)
        self.lines = lines

    def _line(self, text: bytes, line_no: int) -> None:
        if text:
            self.lines.append((line_no, text))


def _revision_candidates(
    path: str | os.PathLike[str], model: type[M], only_id: str | None
) -> dict[str, list]:
    """Per record id, its readable revisions as ``[(revision, line_no, record or bytes)]``:
    a line whose ``id`` is a string and ``revision`` an int keeps its bytes (validated when
    chosen); any other line is validated now, exactly as :func:`read_jsonl` would."""
    result: ReadResult[M] = ReadResult()
    lines: list[tuple[int, bytes]] = []
    if not _stream(path, lambda fh: _DeferringReader(fh, model, result, lines), 0, 1):
        return {}
    out: dict[str, list] = {}
    for line_no, text in lines:
        try:
            keys = _REVISION_DEC.decode(text)
            plain = type(keys.id) is str and type(keys.revision) is int
        except (msgspec.DecodeError, RecursionError):
            plain = False
        if plain:
            if only_id is None or keys.id == only_id:
                out.setdefault(keys.id, []).append((keys.revision, line_no, text))
            continue
        rec, _err = _line_error(text, model, line_no=line_no)
        if rec is not None and (only_id is None or rec.id == only_id):  # type: ignore[attr-defined]
            out.setdefault(rec.id, []).append((rec.revision, line_no, rec))  # type: ignore[attr-defined]
    for rec in result.records:  # a complete last line without its newline (validated)
        if only_id is None or rec.id == only_id:  # type: ignore[attr-defined]
            out.setdefault(rec.id, []).append((rec.revision, result.next_line - 1, rec))  # type: ignore[attr-defined]
    return out


def _validated(entry: tuple, model: type[M]) -> M | None:
    value = entry[2]
    if isinstance(value, bytes):
        rec, _err = _line_error(value, model, line_no=entry[1])
        return rec
    return value


def read_newest_revisions(
    path: str | os.PathLike[str], model: type[M], only_id: str | None = None
) -> dict[str, M]:
    """The newest readable revision of each id in a revisioned log (highest ``revision``;
    on a tie the later line) — what reading every line with :func:`read_jsonl` and keeping
    the newest gives, but only the winning lines are validated: deciding one row of a plan
    with a long history costs one plan's validation, not the whole history's. A newest
    line that does not validate yields to the next newest, as a skipped line would."""
    out: dict[str, M] = {}
    for rid, entries in _revision_candidates(path, model, only_id).items():
        for entry in sorted(entries, key=lambda e: (e[0], e[1]), reverse=True):
            rec = _validated(entry, model)
            if rec is not None:
                out[rid] = rec
                break
    return out


def read_revisions(path: str | os.PathLike[str], model: type[M], record_id: str) -> list[M]:
    """Every readable revision of ``record_id``, oldest first (by revision, then file
    order); only that id's lines are validated."""
    entries = _revision_candidates(path, model, record_id).get(record_id, [])
    out = [_validated(e, model) for e in sorted(entries, key=lambda e: (e[0], e[1]))]
    return [r for r in out if r is not None]
