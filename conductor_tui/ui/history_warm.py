"""The loop's history of a big project read ahead, once the person starts a verdict (a
reflection typed, Claude asked to judge): recording it reads the history before and after
the append (``core.loop``), and the first read of a million-line routing log takes
seconds — the person is still writing meanwhile. Later reads go on from the remembered
history (``core.history``), so it is read ahead once per screen."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

# below this, the history is read in well under a second: nothing to read ahead
WARM_BYTES = 8 << 20


class HistoryWarm:
    """:meth:`start` reads the history in a thread worker of ``screen``; :meth:`wait` (from
    another thread) until that read is over, so a verdict recorded meanwhile does not
    read the log a second time beside it."""

    def __init__(self) -> None:
        self._done: threading.Event | None = None

    def start(self, screen: Any, store: Any) -> bool:
        """Start the read (once); ``False`` when the log is small or missing, or it ran."""
        if self._done is not None:
            return False
        try:
            if Path(store.routing_log_path).stat().st_size < WARM_BYTES:
                return False
        except OSError:
            return False
        done = self._done = threading.Event()

        def read() -> None:
            try:
                from conductor_tui.core.history import build_history

                build_history(store)
            finally:
                done.set()

        screen.run_worker(read, thread=True, group="history-warm", exit_on_error=False)
        return True

    def wait(self) -> None:
        if self._done is not None:
            self._done.wait()
