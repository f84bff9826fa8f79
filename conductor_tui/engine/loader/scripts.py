"""Where a script agent's file is: llm-orc's path-or-inline rule, the search order, and the
confinement to the tiers' ``scripts`` folders unless the ensemble opts out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from conductor_tui.core import locations

SCRIPT_EXTENSIONS = (".py", ".sh", ".bash", ".js", ".rb")

# A top-level (not agent) key: llm-orc rejects unknown agent keys. ``true`` lets this
# ensemble's script agents name files outside the tiers' scripts folders (absolute paths,
# ``../``) — the user's explicit opt-in, per ensemble.
EXTERNAL_SCRIPTS_KEY = "allow_external_scripts"


def script_roots(project: Path | None) -> list[Path]:
    """The folders script agents may run files from without the opt-in: each tier's
    ``scripts`` folder (project ``.llm-orc/scripts``, the library's, the global tier's)."""
    base = project or Path.cwd()
    roots = [base / ".llm-orc" / "scripts", locations.global_llm_orc_dir() / "scripts"]
    lib = locations.library_dir()
    if lib is not None:
        roots.append(lib / "scripts")
    return roots


def script_confined(path: Path, project: Path | None) -> bool:
    """True when ``path`` (symlinks resolved) lies inside one of :func:`script_roots`."""
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    for root in script_roots(project):
        try:
            real.relative_to(root.resolve())
            return True
        except (ValueError, OSError):
            continue
    return False


def looks_like_path(script: str) -> bool:
    """llm-orc's rule: a path has a slash or a known script extension; else inline."""
    s = script.strip()
    return "/" in s or "\\" in s or s.endswith(SCRIPT_EXTENSIONS)


def script_search_dirs(project: Path | None) -> list[Path]:
    base = project or Path.cwd()
    dirs = [base / ".llm-orc" / "scripts", base / ".llm-orc", base]
    lib = locations.library_dir()
    if lib is not None:
        dirs += [lib / "scripts", lib]
    g = locations.global_llm_orc_dir()  # a promoted ensemble's scripts run from the global tier
    dirs += [g / "scripts", g]
    return dirs


def resolve_script(script: str, project: Path | None) -> Path | None:
    """The script file a path-like reference names, or ``None`` when not found.

    Search order as llm-orc: ``.llm-orc/scripts``, ``.llm-orc``, the project, the
    library, then the global tier (where promoted ensembles' scripts land); also tries ``-`` → ``_`` and dropping a leading ``scripts/``.
    """
    ref = script.strip()
    if os.path.isabs(ref):
        p = Path(ref)
        return p if p.is_file() else None
    candidates = [ref]
    if "-" in ref:
        candidates.append(ref.replace("-", "_"))
    if ref.startswith("scripts/"):
        candidates.append(ref.removeprefix("scripts/"))
    for directory in script_search_dirs(project):
        for cand in candidates:
            p = directory / cand
            if p.is_file():
                return p
    return None


def external_scripts_allowed(ensemble: Any) -> bool:
    """The ensemble's explicit opt-in (top-level ``allow_external_scripts: true``)."""
    raw = getattr(ensemble, "raw", None)
    return isinstance(raw, dict) and raw.get(EXTERNAL_SCRIPTS_KEY) is True


def locate_script(
    script: str, project: Path | None, *, allow_external: bool = False
) -> tuple[Path | None, str]:
    """(the script file, "ok") — or (None, "missing" | "outside"): a path-like script must
    resolve inside a tier's scripts folder (:func:`script_roots`) unless ``allow_external``."""
    path = resolve_script(script, project)
    if path is None:
        return None, "missing"
    if not allow_external and not script_confined(path, project):
        return None, "outside"
    return path, "ok"
