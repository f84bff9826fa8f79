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
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from conductor_tui.core import locations, safeyaml

# re-exported: the writing and reading halves live in core.fileio and core.jsonl
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
)
from conductor_tui.core.records import (
    THRESHOLD_EXTENSION_KEYS,
    Evaluation,
    RoutingConfig,
    RoutingDecision,
    StandingAuthorization,
    TaskProfiles,
    WorkflowPlan,
    new_id,
    now_utc,
)

ROUTING_LOG = "routing-log.jsonl"
EVALUATIONS_LOG = "evaluations.jsonl"
PLANS_LOG = "workflow-plans.jsonl"
ROUTING_CONFIG = "routing-config.yaml"
TASK_PROFILES = "task-profiles.yaml"
CONDUCTOR_FILES = (ROUTING_LOG, EVALUATIONS_LOG, PLANS_LOG, ROUTING_CONFIG, TASK_PROFILES)

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_VERSION_RE = re.compile(r"^routing-config\.v(\d+)\.yaml$")
_CONFIG_LINE_RE = re.compile(
    rb'"event": "(?:config-change|rollback)"[^\n]*?"config_version": (\d+)'
    rb'|"config_version": (\d+)[^\n]*?"event": "(?:config-change|rollback)"'
)

M = TypeVar("M", bound=BaseModel)
__all__ = [
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
