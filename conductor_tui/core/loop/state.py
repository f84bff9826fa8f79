"""The loop's state: what every part of the conductor reads before it decides.

:class:`LoopState` holds the project, its store, the clock and the injected facts
(model size, capacity), and answers the questions every rule asks first: the history
built from the append-only logs, the routing config and task profiles (a broken file
degrades to the defaults, never stops the loop), an ensemble's file and digest, whether
it was revised since it failed calibration, and its live lifecycle phase and status.

The small helpers shared by the loop's parts live here too: the locks, the stable
sampling draw, and the task-profile / authorisation / Claude-debt look-ups that accept a
task type in either spelling (see the glossary: task type).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conductor_tui.core import locations, rules
from conductor_tui.core.history import History, build_history
from conductor_tui.core.loop.outcomes import Admission
from conductor_tui.core.records import (
    Phase,
    RoutingConfig,
    RowStatus,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.store import ProjectStore

CREATE_ENSEMBLE = "create-ensemble"
GENERALITY_EVENT = "generality-assessment"
LOOP_LOCK = "loop"
PLANS_LOCK = "plans"
OPEN_ROWS = (RowStatus.PENDING, RowStatus.APPROVED)


def stable_fraction(key: str) -> float:
    """A uniform draw in [0, 1) that is the same for the same run id: the one sampling
    decision of a run, made when it is recorded and re-derivable by any reader."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def value_of(v: Any) -> Any:
    """An enum's value, anything else as is."""
    return getattr(v, "value", v)


def set_field(record: Any, key: str, value: Any) -> None:
    """Set a field: validated when declared; an unknown name is kept as an unknown field."""
    setattr(record, key, value)


def aware(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def profile_of(profiles: TaskProfiles, task_type: str | None) -> TaskProfile | None:
    """The task profile of ``task_type``, looked up as written, then by its key."""
    table = profiles.profiles
    return table.get(task_type or "") or table.get(rules.task_type_key(task_type))


def profile_key(profiles: TaskProfiles, task_type: str) -> str:
    """The key ``task_type``'s profile is stored under (as written when new)."""
    if task_type in profiles.profiles:
        return task_type
    key = rules.task_type_key(task_type)
    return key if key in profiles.profiles else task_type


def authorization(
    config: RoutingConfig, task_type: str | None, ensemble: str
) -> StandingAuthorization | None:
    """The standing authorisation covering ``task_type`` → ``ensemble`` (either spelling)."""
    if not task_type:
        return None
    return config.authorization_for(task_type, ensemble) or config.authorization_for(
        rules.task_type_key(task_type), ensemble
    )


def claude_debt(hist: History, task_type: str) -> int:
    """Interim Claude uses of ``task_type`` logged so far, counted under both spellings."""
    key = rules.task_type_key(task_type)
    return hist.claude_by_type.get(task_type, 0) + (
        hist.claude_by_type.get(key, 0) if key != task_type else 0
    )


def routing_objects(path: Path, match: Callable[[bytes], bool]) -> Iterator[dict[str, Any]]:
    """The routing-log lines ``match`` picks by a byte test, parsed (a fast scan for a few
    lines: unparseable lines and an unreadable file yield nothing)."""
    if not path.is_file():
        return
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if not match(raw):
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    yield obj
    except OSError:
        return


def routing_objects_with(path: Path, keys: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The routing-log lines holding one of ``keys``, parsed, in file order: what
    ``routing_objects(path, lambda raw: any(key in raw for key in keys))`` yields, found by
    one search of the whole file instead of a test of every line."""
    needles = sorted({k for k in keys if k and b"\n" not in k}, key=len, reverse=True)
    if not needles or not path.is_file():
        return
    pattern = re.compile(b"|".join(re.escape(k) for k in needles))
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            done = 0  # the end of the last line parsed
            for hit in pattern.finditer(mm):
                if hit.start() < done:
                    continue
                start = mm.rfind(b"\n", 0, hit.start()) + 1
                stop = mm.find(b"\n", hit.end())
                done = len(mm) if stop < 0 else stop + 1
                try:
                    obj = json.loads(mm[start:done])
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    yield obj
    except (OSError, ValueError):  # unreadable, or empty (nothing to map)
        return


class LoopState:
    """The project, its store, its clock and the facts the loop reads (module docstring).

    ``now``: the clock (tests inject a fixed one); ``ensemble_file``: name → the ensemble's
    YAML path, to recognise a revision (default: the three tiers, file name = name)."""

    def __init__(
        self,
        project: str | os.PathLike[str],
        *,
        store: ProjectStore | None = None,
        now: Callable[[], datetime] | None = None,
        ensemble_file: Callable[[str], Path | None] | None = None,
        size_facts: Callable[[str], Any] | None = None,
        capacity_facts: Callable[[str], Any] | None = None,
    ) -> None:
        self.project = Path(project)
        # ensemble → rules.EnsembleSize (model-size ceiling), built by the engine (engine.model_size)
        self.size_facts = size_facts
        # ensemble → core.capacity.Capacity (spill / queue now), measured by handoff.capacity
        self.capacity_facts = capacity_facts
        self.store = store or ProjectStore(self.project)
        self.now = now or (lambda: datetime.now(UTC))
        self._ensemble_file = ensemble_file or self._find_ensemble_file
        self.refusals: list[Admission] = []  # what the last route_row refused, and why
        self.design_request: Any = None  # the ensemble request record_claude_task proposed (adaptive)

    def history(self) -> History:
        return build_history(self.store)

    def config(self) -> RoutingConfig:
        try:
            return self.store.load_config()
        except Exception:  # a broken config degrades to the spec's defaults, never stops the loop
            return RoutingConfig()

    def profiles(self) -> TaskProfiles:
        try:
            return self.store.load_task_profiles()
        except Exception:
            return TaskProfiles()

    def _find_ensemble_file(self, name: str) -> Path | None:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        roots = [locations.project_llm_orc_dir(self.project) / "ensembles"]
        lib = locations.library_dir()
        if lib is not None:
            roots.append(lib / "ensembles")
        roots.append(locations.global_llm_orc_dir() / "ensembles")
        for root in roots:
            if not root.is_dir():
                continue
            for ext in ("yaml", "yml"):
                direct = root / f"{name}.{ext}"
                if direct.is_file():
                    return direct
                found = next(iter(root.rglob(f"{name}.{ext}")), None)
                if found is not None:
                    return found
        return None

    def digest(self, ensemble: str) -> str | None:
        path = self._ensemble_file(ensemble)
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else None
        except OSError:
            return None

    def revised(self, ensemble: str, hist: History) -> bool:
        """Has the ensemble's file changed since it failed calibration?"""
        eh = hist.ensembles.get(ensemble)
        if eh is None or eh.tracker is None or not eh.tracker.failed:
            return False
        if eh.failed_digest:
            current = self.digest(ensemble)
            return current is not None and current != eh.failed_digest
        path = self._ensemble_file(ensemble)
        if path is None or eh.failed_at is None:
            return False
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, UTC) > eh.failed_at
        except OSError:
            return False

    def phase(self, ensemble: str, hist: History) -> Phase:
        """The live phase; a failed ensemble that has been revised is calibrating again."""
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return Phase.CALIBRATE
        phase = eh.phase()
        if phase is Phase.DESIGN and self.revised(ensemble, hist):
            return Phase.CALIBRATE
        return phase

    def status(self, ensemble: str, hist: History) -> rules.LifecycleStatus:
        eh = hist.ensembles.get(ensemble)
        if eh is None:
            return rules.lifecycle_status([], hist.thresholds)
        return eh.status()
