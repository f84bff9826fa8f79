"""The store's YAML half: ``routing-config.yaml`` with its numbered backups, changes that
log themselves in the routing log, rollback, standing authorisations, thresholds, and
``task-profiles.yaml`` — every write atomic and made under a lock (mixed into
:class:`~conductor_tui.core.store.ProjectStore`)."""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from conductor_tui.core import safeyaml
from conductor_tui.core.fileio import StoreError, _locked, atomic_write_bytes, atomic_write_text
from conductor_tui.core.records import (
    THRESHOLD_EXTENSION_KEYS,
    RoutingConfig,
    RoutingDecision,
    StandingAuthorization,
    TaskProfiles,
    now_utc,
)

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_VERSION_RE = re.compile(r"^routing-config\.v(\d+)\.yaml$")
_CONFIG_LINE_RE = re.compile(
    rb'"event": "(?:config-change|rollback)"[^\n]*?"config_version": (\d+)'
    rb'|"config_version": (\d+)[^\n]*?"event": "(?:config-change|rollback)"'
)


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


class ConfigStoreMixin:
    """The routing config and task profiles of a :class:`~conductor_tui.core.store.ProjectStore`."""

    root: Path
    config_path: Path
    profiles_path: Path
    routing_log_path: Path
    _config_lock: Path
    _profiles_lock: Path

    def append_routing(self, d: RoutingDecision) -> RoutingDecision:  # pragma: no cover - the store's
        raise NotImplementedError

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
            current, current_raw, load_error = self._read_current_config()
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
            current_version = self._back_up_current(current, current_raw, load_error, stamp)
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

    def _read_current_config(self) -> tuple[RoutingConfig | None, bytes, StoreError | None]:
        """The current config, its bytes, and the error when it cannot be read."""
        if not self.config_path.exists():
            return None, b"", None
        raw = self.config_path.read_bytes()
        try:
            return self.load_config(), raw, None
        except StoreError as exc:
            return None, raw, exc

    def _back_up_current(
        self, current: RoutingConfig | None, current_raw: bytes, load_error: StoreError | None, stamp: str
    ) -> int:
        """Keep the current config as its version's backup (losing nothing); its version."""
        if load_error is not None:
            # Unreadable (malformed by hand): keep its bytes aside, lose nothing; it
            # was (presumably) the version after the newest backup.
            atomic_write_bytes(self.root / f"routing-config.unreadable-{stamp}.yaml", current_raw)
            return max(self._backup_versions(), default=0) + 1
        if current is not None:
            self._repair_config_log(current.version)
            backup = self.version_path(current.version)
            if not backup.exists():
                atomic_write_bytes(backup, current_raw)
            elif backup.read_bytes() != current_raw:
                # Edited by hand without bumping the version: keep both, lose nothing.
                atomic_write_bytes(
                    self.root / f"routing-config.v{current.version}.edited-{stamp}.yaml", current_raw
                )
            return current.version
        # No file yet: the implied defaults become version 1, so that rolling back
        # to "before the first change" is possible too.
        version = RoutingConfig().version
        backup = self.version_path(version)
        if not backup.exists():
            atomic_write_text(backup, _dump_yaml(config_to_mapping(RoutingConfig())))
        return version

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
