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
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from conductor_tui.core import locations

# re-exported: the writing and reading halves live in core.fileio and core.jsonl
from conductor_tui.core.config_store import (
    ConfigStoreMixin,
    _dump_yaml,
    config_to_mapping,
    read_yaml_mapping,
)
from conductor_tui.core.fileio import (
    MAX_JSON_DEPTH,
    MAX_LINE_BYTES,
    TEMP_STALE_AFTER,
    StoreError,
    _locked,
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    sweep_temp_files,
)
from conductor_tui.core.jsonl import (
    TORN_AFTER,
    ReadResult,
    derived_id,
    loads_bounded,
    read_jsonl,
    read_newest_revisions,
    read_revisions,
)
from conductor_tui.core.records import (
    Evaluation,
    RoutingDecision,
    WorkflowPlan,
    new_id,
)

ROUTING_LOG = locations.ROUTING_LOG
EVALUATIONS_LOG = "evaluations.jsonl"
PLANS_LOG = "workflow-plans.jsonl"
ROUTING_CONFIG = "routing-config.yaml"
TASK_PROFILES = "task-profiles.yaml"
CONDUCTOR_FILES = (ROUTING_LOG, EVALUATIONS_LOG, PLANS_LOG, ROUTING_CONFIG, TASK_PROFILES)

M = TypeVar("M", bound=BaseModel)
__all__ = [
    "_dump_yaml",
    "config_to_mapping",
    "read_yaml_mapping",
    "MAX_JSON_DEPTH",
    "MAX_LINE_BYTES",
    "TEMP_STALE_AFTER",
    "TORN_AFTER",
    "ProjectStore",
    "ReadResult",
    "StoreError",
    "append_jsonl",
    "atomic_write_bytes",
    "atomic_write_text",
    "derived_id",
    "loads_bounded",
    "read_jsonl",
    "sweep_temp_files",
]
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
        "invocation_number",
        "sampled_for_evaluation",
        "phase",
        "context",
        "role",
        "propose_judge",
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


# --------------------------------------------------------------------------- the store


class ProjectStore(ConfigStoreMixin):
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
        return read_newest_revisions(self.plans_path, WorkflowPlan)

    def latest_plan(self, plan_id: str) -> WorkflowPlan | None:
        """The newest revision of one plan (only its newest line is validated)."""
        return read_newest_revisions(self.plans_path, WorkflowPlan, plan_id).get(plan_id)

    def plan_history(self, plan_id: str) -> list[WorkflowPlan]:
        """All revisions of one plan, oldest first (by revision, then file order)."""
        return read_revisions(self.plans_path, WorkflowPlan, plan_id)

    # ----------------------------------------------------------------- routing config
