"""Where a history stopped reading its logs, so the next build goes on from there (no Textual).

A :class:`~conductor_tui.core.history.History` read from a project remembers a :class:`Tail`:
for the routing log and the evaluations, the byte offset it read up to, the file's
signature and a fingerprint of the bytes before that offset
(:func:`~conductor_tui.core.logscan.grew_from`); and the config's signature. When since
then lines were only appended to the logs (the same files, the bytes before the offsets
unchanged, each read ending at the end of a line) and the config is the same, the next
build reads only the appended bytes; anything else is read again from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conductor_tui.core import logscan


@dataclass(frozen=True, slots=True)
class Mark:
    """How far one log was read: ``offset`` (a line's end, or 0), the file's signature
    (``None``: it did not exist) and the fingerprint of the bytes before ``offset``."""

    sig: tuple | None
    offset: int
    fingerprint: bytes | None

    @classmethod
    def after(cls, path: Any, sig: tuple | None, offset: int) -> Mark | None:
        """The mark of a read of ``path`` (signature ``sig`` taken before it) that stopped
        at ``offset``; ``None`` when it cannot be continued (the file was replaced meanwhile,
        or the read ended inside a line: the rest of that line would change what it was)."""
        if sig is None:
            return cls(None, 0, None) if offset == 0 and logscan.file_signature(path) is None else None
        try:
            with open(path, "rb", buffering=0) as fh:
                if offset > 0:
                    fh.seek(offset - 1)
                    if fh.read(1) != b"\n":
                        return None
                if (logscan.file_signature(path) or (None,))[0] != sig[0]:
                    return None
        except OSError:
            return None
        return cls(sig, offset, logscan.prefix_fingerprint(path, offset))

    def grown(self, path: Any) -> int | None:
        """The file's size now when only bytes were appended after the mark (a file missing
        then: its size, 0 while still missing), else ``None``."""
        if self.sig is None:  # created since: all of it is new
            now = logscan.file_signature(path)
            return 0 if now is None else now[1]
        if not logscan.grew_from(path, self.sig, self.offset, self.fingerprint):
            return None
        now = logscan.file_signature(path)
        return None if now is None else now[1]


@dataclass(frozen=True, slots=True)
class Tail:
    """What a build read: the routing log (up to ``routing.offset``), the evaluations (up to
    ``evaluations.offset``, the next line being ``next_line``) and the config's signature."""

    routing: Mark
    evaluations: Mark
    next_line: int
    config: tuple | None


def signatures(store: Any) -> tuple:
    """The signatures of the routing log, the evaluations and the config (unchanged: the
    remembered history holds)."""
    return tuple(
        logscan.file_signature(p) for p in (store.routing_log_path, store.evaluations_path, store.config_path)
    )


def appended(store: Any, tail: Tail | None) -> tuple[int, int] | None:
    """``(routing log size, evaluations size)`` now when, since ``tail``, lines were only
    appended to the logs and the config is the same; else ``None`` (read it all again)."""
    if tail is None or logscan.file_signature(store.config_path) != tail.config:
        return None
    routing = tail.routing.grown(Path(store.routing_log_path))
    if routing is None or tail.routing.sig is None:
        return None
    evaluations = tail.evaluations.grown(Path(store.evaluations_path))
    if evaluations is None:
        return None
    return routing, evaluations
