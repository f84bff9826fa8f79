"""Promotion of an ensemble to the global tier or a library directory (Invariants 6 and 11).

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
asked).  Nothing here imports Textual; the cockpit only presents the result.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from conductor_tui.core import locations, safeyaml
from conductor_tui.core.store import atomic_write_bytes

Destination = Literal["global", "library"]

SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".js", ".ts", ".rb", ".pl")
# Absolute paths that tie a script to one machine / one checkout.
_ABS_PATH = re.compile(
    r"""(?P<path>(?:/home/|/Users/|/root/|/mnt/|/media/|/var/folders/|[A-Za-z]:\\\\?|~/)[^\s'"`),;]*)"""
)


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


def _load_yaml(path: Path) -> Any:
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
        data = _load_yaml(f)
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
        data = _load_yaml(cfg)
        section = data.get("model_profiles") if isinstance(data, dict) else None
        if isinstance(section, dict):
            for name, body in section.items():
                if isinstance(body, dict):
                    out[str(name)] = (cfg, body)
    pdir = tier_root / "profiles"
    if pdir.is_dir():
        for f in sorted(pdir.glob("*.y*ml")):
            data = _load_yaml(f)
            if isinstance(data, dict) and data.get("name"):
                out[str(data["name"])] = (f, data)
    return out


def _agent_profiles(agent: dict[str, Any]) -> list[str]:
    return [str(agent[k]) for k in ("model_profile", "fallback_model_profile") if agent.get(k)]


def _looks_like_path(script: str) -> bool:
    s = script.strip()
    return "\n" not in s and ("/" in s or "\\" in s or s.endswith(SCRIPT_SUFFIXES))


def _resolve_script(ref: str, project: Path) -> Path | None:
    ref = ref.strip()
    if os.path.isabs(ref):
        p = Path(ref)
        return p if p.is_file() else None
    cands = [ref, ref.replace("-", "_")]
    if ref.startswith("scripts/"):
        cands.append(ref.removeprefix("scripts/"))
    base = locations.project_llm_orc_dir(project)
    for directory in (base / "scripts", base, project):
        for cand in cands:
            if (directory / cand).is_file():
                return directory / cand
    return None


def find_hardcoded_paths(text: str, project: Path | None = None) -> list[tuple[int, str]]:
    """(line number, path) for every absolute, machine-specific path in ``text``."""
    found: list[tuple[int, str]] = []
    proj = str(project.resolve()) if project is not None else None
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#!"):
            continue
        if proj and len(proj) > 1 and proj in line:
            found.append((n, proj))
            continue
        m = _ABS_PATH.search(line)
        if m:
            found.append((n, m.group("path")))
    return found


# --------------------------------------------------------------------------- script imports


def _declared_requirements(data: Any) -> set[str]:
    """Python modules the ensemble declares it needs: a top-level ``conductor: {requires: […]}``
    (llm-orc ignores top-level keys it does not know; agents stay untouched)."""
    block = data.get("conductor") if isinstance(data, dict) else None
    reqs = block.get("requires") if isinstance(block, dict) else None
    if isinstance(reqs, str):
        reqs = [reqs]
    out = set()
    for r in reqs or []:
        name = re.split(r"[<>=!~\[ ;]", str(r).strip(), maxsplit=1)[0]
        if name:
            out.add(name.replace("-", "_").lower())
            out.add(name)
    return out


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _imports_of(path: Path) -> set[str]:
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_dependencies(script: Path) -> tuple[list[Path], list[str]]:
    """(helper modules in the script's folder it imports — recursively —, third-party
    top-level modules: neither standard library nor a local helper)."""
    import sys

    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    helpers: list[Path] = []
    external: set[str] = set()
    todo = [script]
    seen = {script.resolve()}
    while todo:
        current = todo.pop()
        folder = current.parent
        for mod in sorted(_imports_of(current)):
            local = folder / f"{mod}.py"
            package = folder / mod / "__init__.py"
            if local.is_file() or package.is_file():
                target = local if local.is_file() else package
                if target.resolve() not in seen:
                    seen.add(target.resolve())
                    if local.is_file():
                        helpers.append(local)
                        todo.append(local)
                    else:
                        for f in sorted((folder / mod).rglob("*.py")):
                            helpers.append(f)
                            seen.add(f.resolve())
                            todo.append(f)
                continue
            if mod in stdlib or mod == "__future__":
                continue
            external.add(mod)
    return helpers, sorted(external)


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
    from conductor_tui.core import rules

    proj = Path(project)
    g = getattr(thresholds, "promotion_global_good", None)
    lib = getattr(thresholds, "promotion_library_good", None)
    global_good = int(g) if g is not None else 3
    library_good = int(lib) if lib is not None else 5
    dest_root = destination_root(destination, library)
    check = PromotionCheck(
        ensemble=ensemble, destination=destination, dest_root=dest_root, good_count=good_count
    )
    check.needed_good = global_good if destination == "global" else library_good

    # readiness (the promotion gates), gated by the lifecycle phase
    gate = rules.as_phase(phase)
    short = check.needed_good - good_count
    if gate is not None and gate not in (rules.Phase.TRUST, rules.Phase.PROMOTE):
        label = (
            "a failed calibration must be revised first"
            if gate is rules.Phase.DESIGN
            else "reach Trust first"
        )
        check.readiness = f"Not ready: '{ensemble}' is in {gate.value.title()} — {label} ({good_count} good)."
    elif short > 0:
        check.readiness = (
            f"Not ready: {good_count} good evaluation{'s' if good_count != 1 else ''}, "
            f"{check.needed_good} needed — {short} more good for {destination} promotion."
        )
    else:
        check.ready = True
        check.readiness = (
            f"Ready: {good_count} good evaluations (≥ {check.needed_good} for {destination} promotion)."
        )
    if not check.ready:
        check.gate = (
            "phase"
            if gate is not None and gate not in (rules.Phase.TRUST, rules.Phase.PROMOTE)
            else "good-count"
        )
    if destination == "library" and check.ready and not generality_confirmed:
        check.ready = False
        check.gate = "generality"
        check.readiness = (
            f"Not ready: library contribution needs a generality assessment recorded for '{ensemble}' "
            "(is it useful beyond this project?) — record it, then promote."
        )

    if dest_root is None:
        check.problems.append("No library directory: set LLM_ORC_LIBRARY_PATH or choose one.")
    source = find_project_ensemble(proj, ensemble)
    check.source = source
    if source is None:
        check.problems.append(
            f"Ensemble '{ensemble}' not found in {locations.project_llm_orc_dir(proj) / 'ensembles'}"
        )
        return check
    data = _load_yaml(source)
    if not isinstance(data, dict):
        check.problems.append(f"{source}: not a YAML mapping — fix the file before promoting")
        return check
    agents = [a for a in (data.get("agents") or []) if isinstance(a, dict)]

    # profiles — including fallback chains
    project_profiles = profiles_in(locations.project_llm_orc_dir(proj))
    if destination == "global":
        dest_profiles = profiles_in(dest_root) if dest_root else {}
    else:
        dest_profiles = profiles_in(dest_root) if dest_root else {}
    if data.get("default_model_profile"):
        wanted = [str(data["default_model_profile"])]
    else:
        wanted = []
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

    # scripts (portability)
    for agent in agents:
        script = agent.get("script")
        if not isinstance(script, str) or not script.strip():
            continue
        if not _looks_like_path(script):
            sc = ScriptCheck(
                reference=script, path=None, inline=True, hardcoded=find_hardcoded_paths(script, proj)
            )
        else:
            path = _resolve_script(script, proj)
            sc = ScriptCheck(reference=script, path=path)
            if path is None:
                check.problems.append(f"Script '{script}' (agent {agent.get('name')}) not found.")
            else:
                try:
                    sc.hardcoded = find_hardcoded_paths(
                        path.read_text(encoding="utf-8", errors="replace"), proj
                    )
                except OSError as exc:
                    check.problems.append(f"Script {path} unreadable: {exc}")
            if os.path.isabs(script.strip()):
                sc.hardcoded.insert(0, (0, script.strip()))
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

    # helper modules the scripts import from their own folder (e.g. the kit's _kit.py), and
    # third-party imports that must be available wherever the ensemble lands
    declared = _declared_requirements(data)
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
        elif not _importable(mod):
            check.warnings.append(
                f"Declared dependency '{mod}' ({where}) is not importable here: install it."
            )
    if check.problems and check.gate is None:
        check.gate = "dependencies"

    # the copy plan
    if dest_root is not None:
        rel = source.relative_to(locations.project_llm_orc_dir(proj) / "ensembles")
        target = dest_root / "ensembles" / rel
        check.steps.append(CopyStep(source=source, target=target, kind="ensemble", exists=target.exists()))
        for need in check.missing_profiles:
            if need.source is None:
                continue
            ptarget = dest_root / "profiles" / f"{need.name}.yaml"
            if need.source.name == "config.yaml":
                body = {"name": need.name, **(need.body or {})}
                content = yaml.safe_dump(body, sort_keys=False, allow_unicode=True).encode()
                check.steps.append(
                    CopyStep(
                        source=None, target=ptarget, kind="profile", content=content, exists=ptarget.exists()
                    )
                )
            else:
                check.steps.append(
                    CopyStep(source=need.source, target=ptarget, kind="profile", exists=ptarget.exists())
                )
        scripts_root = locations.project_llm_orc_dir(proj)
        for sc in check.scripts:
            if sc.path is None:
                continue
            try:
                srel = sc.path.relative_to(scripts_root)
            except ValueError:
                srel = Path("scripts") / sc.path.name
            starget = dest_root / srel
            check.steps.append(
                CopyStep(source=sc.path, target=starget, kind="script", exists=starget.exists())
            )
        for helper in check.helpers:
            try:
                hrel = helper.relative_to(scripts_root)
            except ValueError:
                hrel = Path("scripts") / helper.name
            htarget = dest_root / hrel
            check.steps.append(
                CopyStep(source=helper, target=htarget, kind="helper", exists=htarget.exists())
            )
        if check.conflicts:
            names = ", ".join(str(s.target) for s in check.conflicts)
            check.warnings.append(f"Already at the destination (kept unless you overwrite): {names}")
    return check


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


# --------------------------------------------------------------------------- demote


@dataclass
class DemotionCheck:
    ensemble: str
    tier: Destination
    path: Path | None  # the ensemble's file at that tier
    project_copy: Path | None  # the project still holds it
    problems: list[str] = field(default_factory=list)
    gate: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _find_in_tier(root: Path, name: str) -> Path | None:
    directory = root / "ensembles"
    if not directory.is_dir():
        return None
    files = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    for f in files:
        data = _load_yaml(f)
        if isinstance(data, dict) and data.get("name") == name:
            return f
    return next((f for f in files if f.stem == name), None)


def check_demotion(
    project: str | os.PathLike[str],
    ensemble: str,
    *,
    tier: Destination = "global",
    library: str | os.PathLike[str] | None = None,
    allow_last_copy: bool = False,
) -> DemotionCheck:
    """May ``ensemble`` leave ``tier``? It must be there, and — unless ``allow_last_copy`` —
    the project must still hold its own copy, so demotion never loses the only one."""
    root = destination_root(tier, library)
    path = _find_in_tier(root, ensemble) if root is not None else None
    check = DemotionCheck(ensemble, tier, path, find_project_ensemble(Path(project), ensemble))
    if root is None:
        check.problems.append("No library directory: set LLM_ORC_LIBRARY_PATH.")
        check.gate = "tier"
    elif path is None:
        check.problems.append(f"'{ensemble}' is not in the {tier} tier ({root / 'ensembles'}).")
        check.gate = "tier"
    elif check.project_copy is None and not allow_last_copy:
        check.problems.append(
            f"The project has no copy of '{ensemble}': demoting would lose the only one "
            "(copy it into .llm-orc/ensembles first, or force)."
        )
        check.gate = "last-copy"
    return check


def demote(check: DemotionCheck) -> Path:
    """Remove the ensemble's file from the tier (profiles and scripts stay: other ensembles
    may use them). Returns the removed path."""
    if not check.ok or check.path is None:
        raise PromotionError("; ".join(check.problems) or "nothing to demote")
    check.path.unlink()
    return check.path
