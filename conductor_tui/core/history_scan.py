"""Reading the routing log for :mod:`~conductor_tui.core.history` near the decoder's limit.

The log splits at line boundaries into one piece per core (:mod:`~conductor_tui.core.logscan`);
each piece is decoded apart (msgspec, only the fields history needs) into small facts per
ensemble: counts, task types, the newest use, the time and place (block, index) of every completed run.
Runs themselves are not built here except those named in ``wanted`` (the runs evaluations point
at): :func:`read_run_at` builds any other completed run later from where it is, and
:func:`all_runs` every run, the way one sequential pass would. :func:`_iter_lines` is that
sequential reference reader; the pieces agree with it line for line.
"""

from __future__ import annotations

import bisect
import json
import mmap
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from conductor_tui.core import logscan, rules
from conductor_tui.core.records import Phase, RunStatus, as_datetime, line_identity, parse_timestamp
from conductor_tui.core.schemas import HistoryLine as _Line

LIFECYCLE_EVENT = "lifecycle"
DONE = frozenset({RunStatus.COMPLETED, "done", "success"})
_DECISION_EVENTS = (None, "", "routing-decision", "routing")
_DECODE = msgspec.json.Decoder(_Line)
_FROM_ISO = datetime.fromisoformat
_CHUNK = 1 << 20  # a block: decoded at once, and split again to build one run from its locator
_BLOCKS_KEPT = 64


def _s(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _local(routed: Any) -> bool:
    target = (_s(routed) or "").lower()
    return bool(target) and not target.startswith("claude") and "|" not in target


def _when(raw: Any) -> datetime | None:
    if type(raw) is str:  # the common spelling, without parse_timestamp's detour (same result)
        try:
            found = _FROM_ISO(raw)
        except ValueError:
            pass
        else:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    try:
        return as_datetime(parse_timestamp(raw)) if raw else None
    except Exception:
        return None


def session_key(session: str | None, when: datetime | None = None) -> str:
    """The session a record belongs to: its id, else the calendar day (UTC) it was written
    on — a person working without session ids is one session per day."""
    if session:
        return str(session)
    day = (when or datetime.now(UTC)).astimezone(UTC).date().isoformat()
    return f"day:{day}"


def _run_fields(line: _Line, rid: str) -> tuple:
    """What a run keeps of its line: (ensemble, id, task type, status, time, session,
    plan id, row id, sampled)."""
    sampled = line.sampled_for_evaluation
    return (
        _s(line.ensemble) or _s(line.routed_to) or "?",
        rid,
        _s(line.task_type),
        (_s(line.status) or RunStatus.COMPLETED).lower(),
        _when(line.timestamp),
        _s(line.session),
        _s(line.plan_id),
        _s(line.row_id),
        sampled if isinstance(sampled, bool) else None,
    )


def _run_id(line: _Line, raw: bytes) -> str:
    rid = line.id
    rid = rid.strip() if type(rid) is str else _s(rid)
    return rid or line_identity("rd-", raw)


def _count_claude(line: _Line, prepared: Counter, by_type: Counter, by_type_session: Counter) -> None:
    if line.preparation_tokens_local is not None:
        prepared[_s(line.task_type) or "(untyped)"] += 1
        return
    cat = rules.as_delegability(line.delegability_category)
    if cat in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE):
        tt = _s(line.task_type) or "(untyped)"
        by_type[tt] += 1
        by_type_session[(tt, session_key(_s(line.session), _when(line.timestamp)))] += 1


def _design_digest(line: _Line) -> tuple[str, str] | None:
    """(ensemble, its file's digest) of a lifecycle event into design, else ``None``."""
    ens = _s(line.ensemble)
    if ens and _s(line.to) == Phase.DESIGN.value and line.ensemble_digest:
        return ens, str(line.ensemble_digest)
    return None


def _decode_line(line: bytes) -> _Line | None:
    """The history fields of one stripped, non-blank line; ``None`` for a corrupt one."""
    try:
        return _DECODE.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        try:
            obj = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            return None
        return _Line(**{k: obj.get(k) for k in _Line.__struct_fields__})


def _iter_lines(path: Path) -> Iterator[tuple[_Line | None, bytes]]:
    """(decoded line, raw bytes) for every non-blank line; ``None`` for a corrupt one.
    The sequential reference reader."""
    for _n, line in logscan.numbered_lines(path):
        yield _decode_line(line), line


def _iter_blocks(path: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, bytes) of ~1 MiB blocks of whole lines covering ``[start, end)``
    (``start`` at a line start; a leading BOM of the file left out)."""
    carry = b""
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        pos = start
        while pos < end:
            chunk = fh.read(min(_CHUNK, end - pos))
            if not chunk:
                break
            if pos == 0 and chunk.startswith(logscan.BOM):
                chunk = chunk[len(logscan.BOM) :]
                pos += len(logscan.BOM)
            data = carry + chunk if carry else chunk
            at = pos - len(carry)
            pos += len(chunk)
            cut = data.rfind(b"\n") + 1
            if cut <= 0:
                carry = data
                continue
            carry = data[cut:]
            yield at, data[:cut]
        if carry:
            yield pos - len(carry), carry


def _stripped(block: bytes) -> list[bytes]:
    """The non-blank lines of ``block``, stripped (what :func:`~conductor_tui.core.logscan.numbered_lines` gives)."""
    return [line for line in (raw.strip() for raw in block.split(b"\n")) if line]


def _iter_piece(path: str, start: int, end: int) -> Iterator[tuple[int, _Line | None, bytes | None]]:
    """(locator, decoded line or ``None`` if corrupt, raw line or ``None``) for every non-blank
    line of ``[start, end)``. A block is decoded at once when every line in it is one JSON
    object with an id (the raw bytes are then not needed); otherwise line by line, as the
    reference does. The locator (block offset << 32 | index among its non-blank lines) is
    what :func:`read_run_at` takes."""
    decode_lines = _DECODE.decode_lines
    errors = (msgspec.DecodeError, msgspec.ValidationError)
    for at, block in _iter_blocks(path, start, end):
        base = at << 32
        try:
            lines = decode_lines(block)
        except errors:
            lines = None
        if (
            lines is not None
            and all(type(x.id) is str and x.id.strip() for x in lines)
            and logscan.one_value_per_line(block, len(lines))
        ):
            for i, line in enumerate(lines):
                yield base | i, line, None
            continue
        for i, raw in enumerate(_stripped(block)):
            yield base | i, _decode_line(raw), raw


class PieceFacts(NamedTuple):
    """What one piece of the log says (see the module docstring).

    ``ensembles``: name → ``[completed, failed, cancelled, task types, newest use,
    [(time, ordinal in the piece)], [byte offset of each completed run]]``, in order of first
    appearance; ``digests``: (ensemble, digest) of lifecycle events into design, in order;
    ``wanted``: (run fields, ordinal in the piece or ``None``) of the runs asked for."""

    ensembles: dict[str, list]
    digests: list[tuple[str, str]]
    wanted: list[tuple[tuple, int | None]]
    prepared: Counter
    by_type: Counter
    by_type_session: Counter
    skipped: int


class _Memo(dict):
    """``memo[text]`` = ``fn(text)``, computed once per distinct string (a log repeats a few
    dozen ensemble names, statuses and categories a million times)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, key: str) -> Any:
        value = self[key] = self.fn(key)
        return value


def _status_kind(status: Any) -> int:
    """0 completed, 1 failed, 2 cancelled (as :meth:`History.add_run` counts them)."""
    text = (_s(status) or RunStatus.COMPLETED).lower()
    return 0 if text in DONE else 2 if text == RunStatus.CANCELLED else 1


def _delegable(category: Any) -> bool:
    return rules.as_delegability(category) in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE)


# long: the per-line loop of a million-line log, one frame for speed (steps as History.add_*)
def _scan_piece(item: tuple[str, int, int, frozenset[str]]) -> PieceFacts:
    path, start, end, wanted_ids = item
    facts = PieceFacts({}, [], [], Counter(), Counter(), Counter(), 0)
    ensembles = facts.ensembles
    prepared, by_type, by_type_session = facts.prepared, facts.by_type, facts.by_type_session
    skipped = 0
    text, local, kind, delegable = _Memo(_s), _Memo(_local), _Memo(_status_kind), _Memo(_delegable)
    for off, line, raw in _iter_piece(path, start, end):
        if line is None:
            skipped += 1
            continue
        event = line.event
        if event is not None:
            event = _s(event)
            if event == LIFECYCLE_EVENT:
                found = _design_digest(line)
                if found is not None:
                    facts.digests.append(found)
                    if found[0] not in ensembles:
                        ensembles[found[0]] = [0, 0, 0, Counter(), None, [], []]
                continue
            if event not in _DECISION_EVENTS:
                continue
        routed = line.routed_to
        tt = line.task_type
        tt = text[tt] if type(tt) is str else _s(tt)
        if not (local[routed] if type(routed) is str else _local(routed)):
            if line.preparation_tokens_local is not None:
                prepared[tt or "(untyped)"] += 1
                continue
            cat = line.delegability_category
            if delegable[cat] if type(cat) is str else _delegable(cat):
                session = line.session
                session = text[session] if type(session) is str else _s(session)
                key = session_key(session, None if session else _when(line.timestamp))
                by_type[tt or "(untyped)"] += 1
                by_type_session[(tt or "(untyped)", key)] += 1
            continue
        ens = line.ensemble
        ens = text[ens] if type(ens) is str else _s(ens)
        if not ens:
            ens = (text[routed] if type(routed) is str else _s(routed)) or "?"
        facts_of = ensembles.get(ens)
        if facts_of is None:
            facts_of = ensembles[ens] = [0, 0, 0, Counter(), None, [], []]
        status = line.status
        status = kind[status] if type(status) is str else _status_kind(status)
        ordinal = None
        if status == 0:
            facts_of[0] += 1
            ordinal = facts_of[0]
            facts_of[6].append(off)
            when = _when(line.timestamp)
            if when is not None:
                facts_of[5].append((when.timestamp(), ordinal))
                if facts_of[4] is None or when > facts_of[4]:
                    facts_of[4] = when
            if tt:
                facts_of[3][tt] += 1
        else:
            facts_of[status] += 1
        if wanted_ids:
            rid = _run_id(line, raw or b"")  # no raw bytes: the line has its id
            if rid in wanted_ids:
                facts.wanted.append((_run_fields(line, rid), ordinal))
    return facts._replace(skipped=skipped)


def scan_pieces(
    path: Path, wanted_ids: frozenset[str], start: int = 0, size: int | None = None
) -> list[PieceFacts]:
    """The facts of every piece of ``path``'s bytes ``[start, size)`` (``start`` at a line start;
    ``size``: the file's size when not given), in file order, read on every core."""
    if size is None:
        size = path.stat().st_size
    n = logscan.parallel_workers(size - start)
    with open(path, "rb", buffering=0) as fh:
        cut = logscan.last_newline(fh, start, size)
        ranges = logscan.line_ranges(fh, start, cut, n) if cut > start else []
    if cut < size:  # a last line without its newline goes with the last piece
        ranges = [*ranges[:-1], (ranges[-1][0] if ranges else start, size)]
    return logscan.fork_map(_scan_piece, [(str(path), a, b, wanted_ids) for a, b in ranges])


def read_run_at(path: Path, locator: int, blocks: dict[int, list[bytes]]) -> tuple | None:
    """The run fields (:func:`_run_fields`) of the line at ``locator`` (from :func:`_iter_piece`);
    ``blocks`` remembers the blocks already split (evaluations of early runs share a few)."""
    at, index = locator >> 32, locator & 0xFFFFFFFF
    lines = blocks.get(at)
    if lines is None:
        if len(blocks) >= _BLOCKS_KEPT:
            blocks.clear()
        with open(path, "rb") as fh:
            fh.seek(at)
            data = fh.read(2 * _CHUNK)
            if len(data) == 2 * _CHUNK:  # whole lines only; the block is shorter than this
                data = data[: data.rfind(b"\n") + 1]
        if at == 0 and data.startswith(logscan.BOM):
            data = data[len(logscan.BOM) :]
        lines = blocks[at] = _stripped(data)
    if index >= len(lines):
        return None
    found = _decode_line(lines[index])
    return None if found is None else _run_fields(found, _run_id(found, lines[index]))


def _lines_until(path: Path, end: int) -> Iterator[tuple[_Line | None, bytes]]:
    """What :func:`_iter_lines` yields, for the bytes before ``end`` only."""
    for _at, block in _iter_blocks(str(path), 0, end):
        for raw in _stripped(block):
            yield _decode_line(raw), raw


def _run_line(line: _Line | None, raw: bytes) -> tuple | None:
    """The run fields of a decoded line when it is a local run, else ``None``."""
    if line is None:
        return None
    event = _s(line.event)
    if event == LIFECYCLE_EVENT or event not in _DECISION_EVENTS or not _local(line.routed_to):
        return None
    return _run_fields(line, _run_id(line, raw))


def all_runs(path: Path, end: int | None = None) -> Iterator[tuple[tuple, int | None]]:
    """(run fields, ordinal among the ensemble's completed runs or ``None``) of every run,
    in file order (the sequential reference pass); ``end``: only the lines before it."""
    completed: Counter[str] = Counter()
    for line, raw in _iter_lines(path) if end is None else _lines_until(path, end):
        fields = _run_line(line, raw)
        if fields is None:
            continue
        ordinal = None
        if fields[3] in DONE:
            completed[fields[0]] += 1
            ordinal = completed[fields[0]]
        yield fields, ordinal


def find_run(path: Path, rid: str, end: int) -> tuple[tuple, int] | None:
    """(run fields, offset of its line) of the last local run before ``end`` whose line spells
    the id ``rid`` as a JSON string (as :mod:`json` or :mod:`msgspec` write it), found by a
    byte search and checked by decoding that line; ``None`` when no line does (an id derived
    from a line's content, :func:`~conductor_tui.core.records.line_identity`, has no text)."""
    found: tuple[tuple, int] | None = None
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            end = min(end, len(mm))
            for needle in {msgspec.json.encode(rid), json.dumps(rid).encode()}:
                hi = end
                while found is None or hi > found[1]:
                    at = mm.rfind(needle, 0, hi)
                    if at < 0:
                        break
                    start = mm.rfind(b"\n", 0, at) + 1
                    stop = mm.find(b"\n", at, end)
                    raw = mm[start : end if stop < 0 else stop]
                    if start == 0 and raw.startswith(logscan.BOM):
                        raw, start = raw[len(logscan.BOM) :], len(logscan.BOM)
                    raw = raw.strip()
                    fields = _run_line(_decode_line(raw), raw) if raw else None
                    if fields is not None and fields[1] == rid:
                        if found is None or start > found[1]:
                            found = (fields, start)
                        break
                    hi = start
    except (OSError, ValueError):  # unreadable, or empty (nothing to map)
        return None
    return found


def ordinal_at(path: Path, offsets: list[int], start: int) -> int | None:
    """The ordinal of the completed run whose line starts at byte ``start``, from its
    ensemble's locators (:func:`_iter_piece`, in file order); ``None`` if it is not among them."""
    i = bisect.bisect_right(offsets, (start << 32) | 0xFFFFFFFF) - 1
    if i < 0:
        return None
    block = offsets[i] >> 32  # the block holding that line starts at or before it
    if start - block > 4 * _CHUNK:  # not that line's block: it is not among them
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(block)
            before = fh.read(start - block)
    except OSError:
        return None
    locator = (block << 32) | len(_stripped(before))
    j = bisect.bisect_left(offsets, locator)
    return j + 1 if j < len(offsets) and offsets[j] == locator else None
