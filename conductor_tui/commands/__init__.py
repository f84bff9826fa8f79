"""Implementations of the ``conductor-tui`` subcommands (one module each; no Textual
except ``demo``, which opens the cockpit)."""

from __future__ import annotations

import gc
import importlib
from types import ModuleType


def import_quietly(name: str) -> ModuleType:
    """Import ``name`` as a command's modules load: they take a third of its run and live
    till it ends, so no cycle collection while they load (each would walk every object
    loaded so far), then frozen out of the collector's scans while the command runs (the
    caller unfreezes when it ends)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
