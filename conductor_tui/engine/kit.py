"""The starter kit: five universal ensembles (+ profiles, scripts) and their installer.

The kit lives in the repository's top-level ``ensembles/`` folder; the wheel
carries it as ``conductor_tui/_starter_kit``. :func:`kit_dir` finds either.

Besides the five universal ensembles (``KIT_NAMES``, the default install), the kit
carries optional workflow ensembles (``WORKFLOW_NAMES``, under ``ensembles/workflows/``):
``plan-review`` (propose–judge over three small models) and ``distill-context`` (context
distillation between workflow phases). They are installed only when named — singly,
or all at once with the set name ``workflows`` (``EXTRA_SETS``) — into the same
``.llm-orc/ensembles/`` and ``profiles/`` folders. No Textual here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from conductor_tui.core import locations
from conductor_tui.core.spec import EnsembleSpec
from conductor_tui.engine import loader

KIT_NAMES = (
    "extract-code-patterns",
    "generate-test-cases",
    "fix-lint-violations",
    "write-changelog",
    "write-commit-message",
)
TASK_TYPES = {
    "extract-code-patterns": "extraction",
    "generate-test-cases": "template-fill",
    "fix-lint-violations": "mechanical-transform",
    "write-changelog": "summarization",
    "write-commit-message": "summarization",
}


# optional extras (not in the default install): name → path inside the kit folder
WORKFLOW_NAMES = ("plan-review", "distill-context")
WORKFLOW_TASK_TYPES = {
    "plan-review": "planning",
    "distill-context": "summarization",
}
EXTRA_SETS = {"workflows": WORKFLOW_NAMES}
ALL_NAMES = KIT_NAMES + WORKFLOW_NAMES


class KitError(Exception):
    pass


def _known() -> str:
    return f"kit: {', '.join(KIT_NAMES)}; extras: {', '.join(WORKFLOW_NAMES)} (set: {', '.join(EXTRA_SETS)})"


def kit_source(name: str, root: Path | None = None) -> Path:
    """The kit file of ensemble ``name`` (a universal one or a workflow extra)."""
    root = root or kit_dir()
    if name in WORKFLOW_NAMES:
        return root / "workflows" / f"{name}.yaml"
    return root / f"{name}.yaml"


def expand_names(names: Iterable[str] | None) -> list[str]:
    """Requested names → ensemble names: ``None``/empty → the five universal ones; a set
    name (``workflows``) → its members; duplicates dropped, order kept. Raises
    :class:`KitError` naming what is unknown."""
    wanted: list[str] = []
    for n in list(names or ()) or list(KIT_NAMES):
        wanted.extend(EXTRA_SETS.get(n, (n,)))
    wanted = list(dict.fromkeys(wanted))
    unknown = [n for n in wanted if n not in ALL_NAMES]
    if unknown:
        raise KitError(f"not in the starter kit: {', '.join(unknown)} ({_known()})")
    return wanted


def kit_dir() -> Path:
    """The starter kit folder: the installed package's copy, else the repository's."""
    try:
        packaged = Path(str(resources.files("conductor_tui") / "_starter_kit"))
        if (packaged / f"{KIT_NAMES[0]}.yaml").is_file():
            return packaged
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        pass
    dev = Path(__file__).resolve().parents[2] / "ensembles"
    if (dev / f"{KIT_NAMES[0]}.yaml").is_file():
        return dev
    raise KitError("the starter kit is missing from this installation (no ensembles/ folder found)")


def kit_ensemble(name: str, root: Path | None = None) -> EnsembleSpec:
    path = kit_source(name, root)
    if name not in ALL_NAMES or not path.is_file():
        raise KitError(f'"{name}" is not in the starter kit ({_known()})')
    return loader.load_ensemble_file(path, tier="kit")


@dataclass
class KitFile:
    source: Path
    target: Path
    kind: str  # ensemble | profile | script


def kit_files(names: Iterable[str], project: Path, root: Path | None = None) -> list[KitFile]:
    """Every file the named ensembles need, mapped to its place under ``.llm-orc/``."""
    root = root or kit_dir()
    dest = locations.project_llm_orc_dir(project)
    files: dict[Path, KitFile] = {}
    kit_profiles = loader.ProfileSet()
    for p in sorted((root / "profiles").glob("*.yaml")):
        doc = loader.read_yaml(p)
        if isinstance(doc.data, dict) and doc.data.get("name"):
            kit_profiles.profiles[str(doc.data["name"])] = loader.Profile.from_mapping(
                str(doc.data["name"]), doc.data, p
            )
    for name in names:
        spec = kit_ensemble(name, root)
        src = kit_source(name, root)
        files[src] = KitFile(src, dest / "ensembles" / src.name, "ensemble")
        for agent in spec.agents:
            if agent.kind == "llm":
                chain = []
                if agent.model_profile and agent.model_profile in kit_profiles:
                    chain.append(kit_profiles.profiles[agent.model_profile])
                chain += loader.fallback_chain(agent, kit_profiles)
                for prof in chain:
                    if prof.source is not None:
                        files[prof.source] = KitFile(
                            prof.source, dest / "profiles" / prof.source.name, "profile"
                        )
            elif agent.kind == "script" and agent.script and loader.looks_like_path(agent.script):
                src = root / agent.script
                if not src.is_file():
                    raise KitError(f"kit script missing: {src}")
                files[src] = KitFile(src, dest / agent.script, "script")
                for helper in sorted(src.parent.glob("_*.py")):
                    rel = helper.relative_to(root)
                    files[helper] = KitFile(helper, dest / rel, "script")
    return list(files.values())


@dataclass
class InstallResult:
    project: Path
    ensembles: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    overwritten: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # the user's changed file, left alone
    models: list[str] = field(default_factory=list)
    config_version: int | None = None
    config_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.kept

    def to_json(self) -> dict:
        return {
            "project": str(self.project),
            "ensembles": self.ensembles,
            "written": [str(p) for p in self.written],
            "unchanged": [str(p) for p in self.unchanged],
            "overwritten": [str(p) for p in self.overwritten],
            "kept": [str(p) for p in self.kept],
            "models": self.models,
            "config_version": self.config_version,
        }


def install_starter_kit(
    project: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    overwrite: bool = False,
    *,
    confirm: Callable[[Path], bool] | None = None,
    mark_offered: bool = True,
) -> InstallResult:
    """Copy the named kit ensembles (default: the five universal ones; the workflow
    extras ``plan-review`` / ``distill-context`` — or the set ``workflows`` — only when
    named) with the profiles and scripts they need into ``<project>/.llm-orc/``.

    A target that exists with the same bytes is left as is; one with different
    bytes (the user changed it) is replaced only when ``overwrite`` or
    ``confirm(path)`` says so — the old file is kept as ``<file>.bak``.
    Sets ``starter_kit_offered: true`` in the routing config (a new version).
    """
    proj = Path(project)
    wanted = expand_names(names)
    root = kit_dir()
    result = InstallResult(project=proj, ensembles=wanted)
    for f in kit_files(wanted, proj, root):
        data = f.source.read_bytes()
        if f.target.exists():
            if f.target.read_bytes() == data:
                result.unchanged.append(f.target)
                continue
            if not (overwrite or (confirm is not None and confirm(f.target))):
                result.kept.append(f.target)
                continue
            backup = f.target.with_name(f.target.name + ".bak")
            backup.write_bytes(f.target.read_bytes())
            _write(f.target, data, f.source)
            result.overwritten.append(f.target)
            continue
        _write(f.target, data, f.source)
        result.written.append(f.target)
    profiles = loader.load_profiles(proj)
    models: list[str] = []
    for name in wanted:
        for agent in kit_ensemble(name, root).agents:
            prof = profiles.get(agent.model_profile)
            if prof and prof.model and prof.model not in models:
                models.append(prof.model)
    result.models = models
    if mark_offered:
        try:
            from conductor_tui.core.store import ProjectStore

            cfg = ProjectStore(proj).mark_starter_kit_offered(
                reason=f"starter kit installed: {', '.join(wanted)}"
            )
            result.config_version = getattr(cfg, "version", None)
        except Exception as exc:  # the kit is installed either way; say why the flag is not set
            result.config_error = f"{type(exc).__name__}: {exc}"
    return result


def _write(target: Path, data: bytes, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    if os.access(source, os.X_OK):
        tmp.chmod(0o755)
    os.replace(tmp, target)


def installed_state(project: str | os.PathLike[str], *, extras: bool = False) -> dict[str, str]:
    """Per kit ensemble (the five universal ones; with ``extras`` the workflow extras too):
    ``missing``, ``installed`` (same bytes) or ``changed``."""
    proj = Path(project)
    root = kit_dir()
    out: dict[str, str] = {}
    for name in ALL_NAMES if extras else KIT_NAMES:
        target = locations.project_llm_orc_dir(proj) / "ensembles" / f"{name}.yaml"
        if not target.exists():
            out[name] = "missing"
        elif target.read_bytes() == kit_source(name, root).read_bytes():
            out[name] = "installed"
        else:
            out[name] = "changed"
    return out
