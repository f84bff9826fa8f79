"""Demotion: an ensemble leaves the global tier or the library.

The project keeps its own copy: demotion never removes the only one unless forced.
Profiles and scripts stay at the tier (other ensembles may use them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from conductor_tui.core.promotion import (
    Destination,
    PromotionError,
    destination_root,
    find_project_ensemble,
    load_yaml,
)


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
        data = load_yaml(f)
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
