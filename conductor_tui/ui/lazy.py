"""Modules the first screen needs only once its data arrives, imported on first use.

``plan_ops = lazy_module("conductor_tui.core.plan")`` binds a stand-in that imports the
real module the first time one of its attributes is read (then behaves as it).  The
Plan screen paints its frame before pydantic and the plan records are imported: they
load with the plan log, in the worker that reads it.  Type checkers see the real
module (import it under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later reads are plain attribute reads
        return getattr(module, attr)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it on first attribute access."""
    return _LazyModule(name)
