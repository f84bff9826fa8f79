"""Discovery: every ensemble visible from a project across llm-orc's three tiers (project,
library, global), the winner per name and the ones it shadows, and the files that did not load."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from conductor_tui.core import locations
from conductor_tui.core.spec import EnsembleSpec, Problem
from conductor_tui.engine.loader.ensembles import load_ensemble_file
from conductor_tui.engine.loader.profiles import ProfileSet, load_profiles
from conductor_tui.engine.loader.yaml_source import EnsembleLoadError

TIER_ORDER = ("project", "library", "global")


@dataclass
class EnsembleEntry:
    """One ensemble name as found across the tiers."""

    name: str
    tier: str
    path: Path
    spec: EnsembleSpec | None = None
    problems: list[Problem] = field(default_factory=list)
    shadowed: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.spec is not None


@dataclass
class EnsembleCatalog:
    """Every ensemble visible from a project, with the winner per name."""

    project: Path | None
    dirs: list[tuple[str, Path]]
    entries: dict[str, EnsembleEntry] = field(default_factory=dict)
    invalid: list[EnsembleEntry] = field(default_factory=list)
    profiles: ProfileSet | None = None

    def get(self, name: str) -> EnsembleEntry | None:
        """The winning ensemble called ``name`` (or by ``relative/name``)."""
        entry = self.entries.get(name)
        if entry is not None:
            return entry
        for e in self.entries.values():
            if e.spec and e.spec.relative_path and f"{e.spec.relative_path}/{e.name}" == name:
                return e
        return None

    def find_invalid(self, name: str) -> list[EnsembleEntry]:
        return [e for e in self.invalid if e.name == name or e.path.stem == name]

    def all_entries(self) -> list[EnsembleEntry]:
        return sorted(
            self.entries.values(),
            key=lambda e: (TIER_ORDER.index(e.tier) if e.tier in TIER_ORDER else 9, e.name),
        )


def ensemble_dirs(project: Path | None) -> list[tuple[str, Path]]:
    """(tier, directory) in precedence order; directories may not exist."""
    dirs: list[tuple[str, Path]] = []
    if project is not None:
        dirs.append(("project", locations.project_llm_orc_dir(project) / "ensembles"))
    lib = locations.library_dir()
    if lib is not None:
        dirs.append(("library", lib / "ensembles"))
    dirs.append(("global", locations.global_llm_orc_dir() / "ensembles"))
    return dirs


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    files = [*directory.rglob("*.yaml"), *directory.rglob("*.yml")]
    return sorted(p for p in files if p.is_file())


def load_catalog(project: str | os.PathLike[str] | None, *, with_profiles: bool = True) -> EnsembleCatalog:
    """Scan the three tiers. Never raises for a bad file: it lands in ``invalid``."""
    proj = Path(project) if project is not None else None
    dirs = ensemble_dirs(proj)
    catalog = EnsembleCatalog(project=proj, dirs=dirs)
    for tier, directory in dirs:
        for file in _yaml_files(directory):
            try:
                spec = load_ensemble_file(file, tier=tier)
            except EnsembleLoadError as exc:
                catalog.invalid.append(
                    EnsembleEntry(name=file.stem, tier=tier, path=file, problems=exc.problems)
                )
                continue
            rel = file.parent.relative_to(directory)
            spec.relative_path = str(rel) if str(rel) != "." else None
            existing = catalog.entries.get(spec.name)
            if existing is not None:
                existing.shadowed.append((tier, file))
                continue
            catalog.entries[spec.name] = EnsembleEntry(
                name=spec.name, tier=tier, path=file, spec=spec, problems=list(spec.problems)
            )
    if with_profiles:
        catalog.profiles = load_profiles(proj)
    return catalog
