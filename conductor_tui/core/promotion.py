"""Promotion of an ensemble to the global tier or a library directory.

``check_promotion`` answers "may this ensemble move, and what has to move with it?":

* readiness — enough ``good`` evaluations (3 for global, 5 + a generality assessment
  for a library; the numbers come from the routing thresholds);
* dependencies — every model profile the agents name (and their fallback chains)
  must exist at the destination or be copied there; every script file must exist and
  must not hard-code a project path (absolute paths such as ``/home/…``, ``/Users/…``
  or the project directory itself);
* the plan of files to copy (ensemble YAML, missing profiles, script files) and what
  already exists at the destination.

``promote`` then copies exactly those files (atomic writes, never overwriting unless
asked).  The script checks' helpers live in :mod:`conductor_tui.core.portability`, the
way back out of a tier in :mod:`conductor_tui.core.demotion`. Nothing here imports
Textual; the cockpit only presents the result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from conductor_tui.core import locations, safeyaml
from conductor_tui.core.portability import (
    declared_requirements,
    find_hardcoded_paths,
    importable,
    looks_like_path,
    python_dependencies,
    resolve_script,
)
from conductor_tui.core.store import atomic_write_bytes

Destination = Literal["global", "library"]


@dataclass
class ProfileNeed:
    """A model profile the ensemble needs at the destination."""

    name: str
    at_destination: bool
    source: Path | None = None  # where it was found in the project (None: nowhere)
    body: dict[str, Any] | None = None  # its mapping (for profiles defined in config.yaml)

    @property
    def missing(self) -> bool:
        return not self.at_destination


@dataclass
class ScriptCheck:
    reference: str
    path: Path | None  # the file, None when inline or not found
    inline: bool = False
    hardcoded: list[tuple[int, str]] = field(default_factory=list)  # (line, path text)


@dataclass
class CopyStep:
    source: Path | None  # None: written from ``content``
    target: Path
    kind: str  # "ensemble" | "profile" | "script"
    content: bytes | None = None
    exists: bool = False  # the target already exists


@dataclass
class PromotionCheck:
    ensemble: str
    destination: Destination
    dest_root: Path | None
    source: Path | None = None
    good_count: int = 0
    needed_good: int = 3
    ready: bool = False
    readiness: str = ""
    profiles: list[ProfileNeed] = field(default_factory=list)
    scripts: list[ScriptCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # blocking
    warnings: list[str] = field(default_factory=list)  # shown, not blocking
    steps: list[CopyStep] = field(default_factory=list)
    gate: str | None = None  # the first failing gate: phase | good-count | generality | dependencies
    helpers: list[Path] = field(default_factory=list)  # local modules the scripts import (copied too)
    third_party: dict[str, list[str]] = field(default_factory=dict)  # module → scripts importing it

    @property
    def ok(self) -> bool:
        """Ready and nothing blocking: the copy may go ahead (after confirmation)."""
        return self.ready and not self.problems

    @property
    def missing_profiles(self) -> list[ProfileNeed]:
        return [p for p in self.profiles if p.missing]

    @property
    def conflicts(self) -> list[CopyStep]:
        return [s for s in self.steps if s.exists]

    def _rel(self, path: Path | None) -> str:
        if path is None:
            return "?"
        for base in (self.dest_root, self.source.parent.parent if self.source else None):
            if base is not None:
                try:
                    return str(path.relative_to(base))
                except ValueError:
                    continue
        return str(path)

    def summary_lines(self) -> list[str]:
        """Plain-text lines for a confirmation dialog or a CLI."""
        where = str(self.dest_root) if self.dest_root else "(no library directory configured)"
        lines = [f"Destination: {where}", self.readiness]
        for need in self.profiles:
            if need.at_destination:
                state = "present at the destination"
            elif need.source:
                state = f"missing there — copy from {self._rel(need.source)}"
            else:
                state = "missing, and not found in the project"
            lines.append(f"profile {need.name}: {state}")
        for sc in self.scripts:
            if sc.inline:
                lines.append(f"script (inline): {sc.reference[:40]}")
            elif sc.path is None:
                lines.append(f"script {sc.reference}: not found")
            elif sc.hardcoded:
                lines.append(
                    f"script {sc.reference}: hard-coded path {sc.hardcoded[0][1]} (line {sc.hardcoded[0][0]})"
                )
            else:
                lines.append(f"script {sc.reference}: portable")
        lines += [f"✗ {p}" for p in self.problems]
        lines += [f"! {w}" for w in self.warnings]
        for step in self.steps:
            lines.append(f"{'overwrite' if step.exists else 'copy'} {step.kind}: {self._rel(step.target)}")
        return lines


@dataclass
class PromotionResult:
    copied: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # existed and overwrite was False


class PromotionError(Exception):
    pass


# --------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    try:
        return safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None


def destination_root(destination: Destination, library: str | os.PathLike[str] | None = None) -> Path | None:
    if destination == "global":
        return locations.global_llm_orc_dir()
    if library is not None:
        return Path(library).expanduser()
    return locations.library_dir()


def find_project_ensemble(project: Path, name: str) -> Path | None:
    """The project's ensemble file whose ``name`` is ``name`` (file stem as fallback)."""
    root = locations.project_llm_orc_dir(project) / "ensembles"
    if not root.is_dir():
        return None
    files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    for f in files:
        data = load_yaml(f)
        if isinstance(data, dict) and data.get("name") == name:
            return f
    for f in files:
        if f.stem == name:
            return f
    return None


def profiles_in(tier_root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Profiles defined in a tier: ``config.yaml`` ``model_profiles`` and ``profiles/*.yaml``."""
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    cfg = tier_root / "config.yaml"
    if cfg.is_file():
        data = load_yaml(cfg)
        section = data.get("model_profiles") if isinstance(data, dict) else None
        if isinstance(section, dict):
            for name, body in section.items():
                if isinstance(body, dict):
                    out[str(name)] = (cfg, body)
    pdir = tier_root / "profiles"
    if pdir.is_dir():
        for f in sorted(pdir.glob("*.y*ml")):
            data = load_yaml(f)
            if isinstance(data, dict) and data.get("name"):
                out[str(data["name"])] = (f, data)
    return out


def _agent_profiles(agent: dict[str, Any]) -> list[str]:
    return [str(agent[k]) for k in ("model_profile", "fallback_model_profile") if agent.get(k)]


# --------------------------------------------------------------------------- check


def check_promotion(
    project: str | os.PathLike[str],
    ensemble: str,
    *,
    destination: Destination = "global",
    good_count: int = 0,
    thresholds: Any = None,
    library: str | os.PathLike[str] | None = None,
    generality_confirmed: bool = False,
    phase: Any = None,
) -> PromotionCheck:
    """Readiness + dependency check for promoting ``ensemble`` from ``project``.

    ``phase``: the ensemble's lifecycle phase; only a trusted ensemble (Trust / Promote) may
    be promoted — the gate is :func:`conductor_tui.core.rules.promotion_readiness`'s."""
    proj = Path(project)
    dest_root = destination_root(destination, library)
    check = PromotionCheck(
        ensemble=ensemble, destination=destination, dest_root=dest_root, good_count=good_count
    )
    _readiness(check, thresholds, generality_confirmed, phase)
    if dest_root is None:
        check.problems.append("No library directory: set LLM_ORC_LIBRARY_PATH or choose one.")
    source = find_project_ensemble(proj, ensemble)
    check.source = source
    if source is None:
        check.problems.append(
            f"Ensemble '{ensemble}' not found in {locations.project_llm_orc_dir(proj) / 'ensembles'}"
        )
        return check
    data = load_yaml(source)
    if not isinstance(data, dict):
        check.problems.append(f"{source}: not a YAML mapping — fix the file before promoting")
        return check
    agents = [a for a in (data.get("agents") or []) if isinstance(a, dict)]
    _check_profiles(check, data, agents, proj)
    _check_scripts(check, agents, proj)
    _check_imports(check, data, proj)
    if check.problems and check.gate is None:
        check.gate = "dependencies"
    if dest_root is not None:
        _plan_copies(check, source, proj, dest_root)
    return check


def _readiness(check: PromotionCheck, thresholds: Any, generality_confirmed: bool, phase: Any) -> None:
    """The promotion gates (:func:`conductor_tui.core.rules.promotion_readiness`), said
    for the destination: ``ready``, ``readiness`` and the first failing ``gate``."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import RoutingThresholds

    th = thresholds if thresholds is not None else RoutingThresholds()
    gate = rules.as_phase(phase)
    verdict = rules.promotion_readiness(
        rules.ScoreCounts(good=check.good_count), th, generality_assessed=generality_confirmed, phase=gate
    )
    to_global = check.destination == "global"
    check.needed_good = th.promotion_global_good if to_global else th.promotion_library_good
    check.ready = verdict.global_ready if to_global else verdict.library_ready
    good, short, where = check.good_count, check.needed_good - check.good_count, check.destination
    if check.ready:
        check.readiness = f"Ready: {good} good evaluations (≥ {check.needed_good} for {where} promotion)."
    elif gate is not None and gate not in (rules.Phase.TRUST, rules.Phase.PROMOTE):
        label = (
            "a failed calibration must be revised first"
            if gate is rules.Phase.DESIGN
            else "reach Trust first"
        )
        check.gate = "phase"
        check.readiness = f"Not ready: '{check.ensemble}' is in {gate.value.title()} — {label} ({good} good)."
    elif short > 0:
        check.gate = "good-count"
        check.readiness = (
            f"Not ready: {good} good evaluation{'s' if good != 1 else ''}, "
            f"{check.needed_good} needed — {short} more good for {where} promotion."
        )
    else:
        check.gate = "generality"
        check.readiness = (
            f"Not ready: library contribution needs a generality assessment recorded for '{check.ensemble}' "
            "(is it useful beyond this project?) — record it, then promote."
        )


def _check_profiles(
    check: PromotionCheck, data: dict[str, Any], agents: list[dict[str, Any]], proj: Path
) -> None:
    """Every model profile the agents name (and their fallback chains) must be at the
    destination or in the project (then it is copied)."""
    project_profiles = profiles_in(locations.project_llm_orc_dir(proj))
    dest_profiles = profiles_in(check.dest_root) if check.dest_root else {}
    wanted = [str(data["default_model_profile"])] if data.get("default_model_profile") else []
    for agent in agents:
        wanted += _agent_profiles(agent)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop(0)
        if name in seen:
            continue
        seen.add(name)
        at_dest = name in dest_profiles
        src = project_profiles.get(name)
        need = ProfileNeed(
            name=name, at_destination=at_dest, source=src[0] if src else None, body=src[1] if src else None
        )
        check.profiles.append(need)
        body = (dest_profiles.get(name) or src or (None, None))[1]
        if isinstance(body, dict) and body.get("fallback_model_profile"):
            wanted.append(str(body["fallback_model_profile"]))
        if not at_dest and src is None:
            check.problems.append(
                f"Profile '{name}' is used by the ensemble but defined neither in the project nor at the destination."
            )


def _script_check(script: str, agent: dict[str, Any], proj: Path, problems: list[str]) -> ScriptCheck:
    """One script reference: inline or a file, and its hard-coded paths."""
    if not looks_like_path(script):
        return ScriptCheck(
            reference=script, path=None, inline=True, hardcoded=find_hardcoded_paths(script, proj)
        )
    path = resolve_script(script, proj)
    sc = ScriptCheck(reference=script, path=path)
    if path is None:
        problems.append(f"Script '{script}' (agent {agent.get('name')}) not found.")
    else:
        try:
            sc.hardcoded = find_hardcoded_paths(path.read_text(encoding="utf-8", errors="replace"), proj)
        except OSError as exc:
            problems.append(f"Script {path} unreadable: {exc}")
    if os.path.isabs(script.strip()):
        sc.hardcoded.insert(0, (0, script.strip()))
    return sc


def _check_scripts(check: PromotionCheck, agents: list[dict[str, Any]], proj: Path) -> None:
    """Every script must be found and portable (no machine-specific path)."""
    for agent in agents:
        script = agent.get("script")
        if not isinstance(script, str) or not script.strip():
            continue
        sc = _script_check(script, agent, proj, check.problems)
        check.scripts.append(sc)
        for line, text in sc.hardcoded:
            where = f"{sc.path.name if sc.path else 'inline script'}" + (
                f" line {line}" if line else " (the reference itself)"
            )
            check.problems.append(
                f"Hard-coded path {text} in {where} — make it relative or a parameter so the ensemble runs elsewhere."
            )
        if any(agent.get(k) for k in ("ensemble",)):
            check.warnings.append(f"Agent {agent.get('name')} calls another ensemble — promote it too.")


def _check_imports(check: PromotionCheck, data: dict[str, Any], proj: Path) -> None:
    """Helper modules the scripts import from their own folder (e.g. the kit's _kit.py),
    and third-party imports that must be available wherever the ensemble lands."""
    declared = declared_requirements(data)
    for sc in list(check.scripts):
        if sc.path is None or sc.path.suffix != ".py":
            continue
        helpers, external = python_dependencies(sc.path)
        for h in helpers:
            if h not in check.helpers and h not in {s.path for s in check.scripts}:
                check.helpers.append(h)
                for line, text in find_hardcoded_paths(h.read_text(encoding="utf-8", errors="replace"), proj):
                    check.problems.append(
                        f"Hard-coded path {text} in {h.name} line {line} — make it relative or a parameter."
                    )
        for mod in external:
            check.third_party.setdefault(mod, []).append(sc.path.name)
    for mod, users in sorted(check.third_party.items()):
        where = ", ".join(sorted(set(users)))
        if mod not in declared:
            check.warnings.append(
                f"Undeclared third-party import '{mod}' in {where}: declare it (conductor: {{requires: [{mod}]}}) "
                "and make sure it is installed wherever the ensemble runs."
            )
        elif not importable(mod):
            check.warnings.append(
                f"Declared dependency '{mod}' ({where}) is not importable here: install it."
            )


def _tier_path(path: Path, root: Path, dest_root: Path) -> Path:
    """Where a project file lands at the destination (same place under the tier root)."""
    try:
        return dest_root / path.relative_to(root)
    except ValueError:
        return dest_root / "scripts" / path.name


def _plan_copies(check: PromotionCheck, source: Path, proj: Path, dest_root: Path) -> None:
    """The files to copy: the ensemble, the missing profiles, the scripts and helpers."""
    rel = source.relative_to(locations.project_llm_orc_dir(proj) / "ensembles")
    target = dest_root / "ensembles" / rel
    check.steps.append(CopyStep(source=source, target=target, kind="ensemble", exists=target.exists()))
    for need in check.missing_profiles:
        if need.source is None:
            continue
        ptarget = dest_root / "profiles" / f"{need.name}.yaml"
        if need.source.name == "config.yaml":
            content = yaml.safe_dump(
                {"name": need.name, **(need.body or {})}, sort_keys=False, allow_unicode=True
            )
            check.steps.append(
                CopyStep(
                    source=None,
                    target=ptarget,
                    kind="profile",
                    content=content.encode(),
                    exists=ptarget.exists(),
                )
            )
        else:
            check.steps.append(
                CopyStep(source=need.source, target=ptarget, kind="profile", exists=ptarget.exists())
            )
    scripts_root = locations.project_llm_orc_dir(proj)
    for kind, path in [
        *(("script", sc.path) for sc in check.scripts),
        *(("helper", h) for h in check.helpers),
    ]:
        if path is None:
            continue
        starget = _tier_path(path, scripts_root, dest_root)
        check.steps.append(CopyStep(source=path, target=starget, kind=kind, exists=starget.exists()))
    if check.conflicts:
        names = ", ".join(str(s.target) for s in check.conflicts)
        check.warnings.append(f"Already at the destination (kept unless you overwrite): {names}")


# --------------------------------------------------------------------------- copy


def promote(check: PromotionCheck, *, overwrite: bool = False, force: bool = False) -> PromotionResult:
    """Copy the planned files.  Refuses when the check is not ``ok`` unless ``force``."""
    if not check.ok and not force:
        reasons = check.problems or [check.readiness]
        raise PromotionError("; ".join(reasons))
    result = PromotionResult()
    for step in check.steps:
        if step.target.exists() and not overwrite:
            result.skipped.append(step.target)
            continue
        data = step.content if step.content is not None else step.source.read_bytes()  # type: ignore[union-attr]
        atomic_write_bytes(step.target, data)
        if step.kind in ("script", "helper") and step.source is not None:
            mode = step.source.stat().st_mode & 0o777
            os.chmod(step.target, mode)
        result.copied.append(step.target)
    return result
