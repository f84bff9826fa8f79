"""Is a script portable, and what does it need? (the promotion's dependency checks)

An ensemble's script agents must run wherever the ensemble is promoted to: the file must
be found, must not hard-code a machine-specific path (``/home/…``, ``/Users/…``, the
project directory), and its Python imports are either the standard library, helper
modules in its own folder (copied with it) or third-party modules the ensemble declares
(``conductor: {requires: […]}``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from conductor_tui.core import locations

SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".js", ".ts", ".rb", ".pl")
# Absolute paths that tie a script to one machine / one checkout.
_ABS_PATH = re.compile(
    r"""(?P<path>(?:/home/|/Users/|/root/|/mnt/|/media/|/var/folders/|[A-Za-z]:\\\\?|~/)[^\s'"`),;]*)"""
)


def looks_like_path(script: str) -> bool:
    s = script.strip()
    return "\n" not in s and ("/" in s or "\\" in s or s.endswith(SCRIPT_SUFFIXES))


def resolve_script(ref: str, project: Path) -> Path | None:
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


def declared_requirements(data: Any) -> set[str]:
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


def importable(module: str) -> bool:
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
