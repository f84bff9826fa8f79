"""The report's warm-start cache: an :class:`~conductor_tui.core.aggregate.Aggregator`'s
state saved with each file's offset and a fingerprint, so that a later run reads only the
lines appended since (``$XDG_CACHE_HOME/conductor-tui/aggregates/``, never inside
``.llm-orc/``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import locations
from conductor_tui.core.aggregate_rows import _FileState
from conductor_tui.core.records import Score

# 6: size + mtime_ns per file; failed/cancelled local runs apart; one verdict per run;
# the saving's range; 7: its pairs under one key (saving * 2**40 + tokens)
CACHE_FORMAT = 7
# the run → verdict index is only needed when new evaluations arrive: kept encoded till then
_LAZY = "_eval_index"
_SCORES: dict[Any, Score | None] = {s.value: s for s in Score}
_SCORES[None] = None


class _Blob(msgspec.Struct):
    """A saved cache, its state entries left encoded (decoded one by one in :meth:`CacheMixin.load_cache`)."""

    format: Any = None
    files: dict[str, Any] = {}
    data: dict[str, msgspec.Raw] = {}
    eval_scores: dict[str, list[Any]] = {}


_BLOB_DEC = msgspec.msgpack.Decoder(_Blob)
CLAUDE_OVERHEAD_EVENT = "claude-overhead"  # see handoff.record_claude_overhead


def _fingerprint(path: str | os.PathLike[str], offset: int) -> str:
    """A hash of a file's first 4 KiB and of the 4 KiB before ``offset`` (both within
    ``offset``): a rewritten or replaced log will not match its cached state."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        h.update(fh.read(min(offset, 4096)))
        start = max(0, offset - 4096)
        fh.seek(start)
        h.update(fh.read(offset - start))
    h.update(str(offset).encode())
    return h.hexdigest()


def _identity(path: str | os.PathLike[str]) -> dict[str, int]:
    """Size and mtime (ns) of a cached file when the cache is saved: with the inode they
    key the cache on the content's identity, so an in-place edit invalidates it."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


cache_path_for = locations.aggregate_cache_path


class CacheMixin:
    """:meth:`save_cache` / :meth:`load_cache` of the Aggregator."""

    _files: dict[str, _FileState]
    _eval_scores: dict[str, list[Any]]

    _eval_index_raw: msgspec.Raw | None

    def _eval_index_loaded(self) -> None:
        """Decode the run → verdict index a loaded cache left encoded (before it is used)."""
        raw, self._eval_index_raw = self._eval_index_raw, None
        if raw is not None:
            setattr(self, _LAZY, msgspec.msgpack.decode(raw))

    def _reset_data(self) -> None:  # pragma: no cover - the Aggregator's
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - the Aggregator's
        raise NotImplementedError

    _STATE = (
        "_totals",
        "_events",
        "_by_tt",
        "_by_ens",
        "_by_day",
        "_ratio",
        "_range",
        "_ens_tt",
        "_eval_modes",
        "_eval_index",
        "_eval_tt",
        "_eval_implicit",
        "_eval_totals",
        "_overhead",
    )

    def save_cache(self, path: str | os.PathLike[str]) -> None:
        """Write the accumulated state, with each file's offset and a fingerprint, so that
        :meth:`load_cache` + :meth:`feed_file` later only read the lines appended since."""
        files = {}
        for name, st in self._files.items():
            files[name] = {
                "kind": st.kind,
                "offset": st.offset,
                "next_line": st.next_line,
                "ino": st.ino,
                "lines": st.lines,
                "skipped": st.skipped,
                "skipped_lines": st.skipped_lines,
                "fingerprint": _fingerprint(name, st.offset),
                **_identity(name),
            }
        state = {
            "format": CACHE_FORMAT,
            "files": files,
            "data": {k: getattr(self, k) for k in self._STATE},
            "eval_scores": {
                k: [x.value if x is not None else None for x in v] for k, v in self._eval_scores.items()
            },
        }
        if self._eval_index_raw is not None:  # never decoded: written back as read
            state["data"][_LAZY] = self._eval_index_raw  # type: ignore[index]
        from conductor_tui.core.store import atomic_write_bytes

        try:
            blob = msgspec.msgpack.encode(state)
        except (OverflowError, msgspec.EncodeError, TypeError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(path)  # no cache beats a wrong one
            return
        atomic_write_bytes(path, blob)

    def load_cache(self, path: str | os.PathLike[str]) -> bool:
        """Restore state saved by :meth:`save_cache` if every file it covers is still the
        same file (inode, not shorter, same fingerprint up to the cached offset). Returns
        ``False`` — and leaves the aggregator empty — when the cache is missing or stale."""
        try:
            state = _BLOB_DEC.decode(Path(path).read_bytes())
            if state.format != CACHE_FORMAT:
                return False
            files: dict[str, _FileState] = {}
            for name, f in state.files.items():
                st = os.stat(name)
                if (
                    st.st_ino != f["ino"]
                    or st.st_size < f["offset"]
                    # same size, other mtime: edited in place (an append changes the size)
                    or (st.st_size == f["size"] and st.st_mtime_ns != f["mtime_ns"])
                    or _fingerprint(name, f["offset"]) != f["fingerprint"]
                ):
                    return False
                files[name] = _FileState(
                    kind=f["kind"],
                    offset=f["offset"],
                    next_line=f["next_line"],
                    ino=f["ino"],
                    lines=f["lines"],
                    skipped=f["skipped"],
                    skipped_lines=list(f["skipped_lines"]),
                )
            data = state.data
            values = {k: msgspec.msgpack.decode(data[k]) for k in self._STATE if k != _LAZY}
            scores = {k: [_SCORES[x] for x in v] for k, v in state.eval_scores.items()}
            lazy = data[_LAZY]
            self._reset_data()
            for k, v in values.items():
                setattr(self, k, v)
            self._eval_index_raw = lazy
            self._eval_scores = scores
            self._files = files
            return True
        except (OSError, KeyError, TypeError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
            self.reset()
            return False
