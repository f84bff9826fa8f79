"""``conductor-tui starter-kit [--project DIR] [NAMES…] [--yes] [--list]``.

Installs any subset of the five universal ensembles (with their profiles and
scripts) into the project's ``.llm-orc/`` — all five by default. The optional workflow
ensembles ``plan-review`` and ``distill-context`` are installed when named
(``conductor-tui starter-kit plan-review``, or both with ``starter-kit workflows``). A file the user changed is never
overwritten without asking: on a terminal the command asks; otherwise it keeps
the user's file unless ``--yes``. Sets ``starter_kit_offered: true``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conductor_tui.core import locations
from conductor_tui.engine.kit import (
    KIT_NAMES,
    TASK_TYPES,
    WORKFLOW_NAMES,
    WORKFLOW_TASK_TYPES,
    InstallResult,
    KitError,
    install_starter_kit,
    installed_state,
    kit_ensemble,
)

__all__ = ["InstallResult", "install_starter_kit", "main"]


def _project(args: argparse.Namespace) -> Path:
    return Path(args.project).expanduser().resolve() if args.project else locations.find_project()


def _ask(path: Path) -> bool:
    try:
        answer = input(f"{path} differs from the starter kit (you changed it). Overwrite? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def main(args: argparse.Namespace) -> int:
    project = _project(args)
    if getattr(args, "list", False):
        state = installed_state(project, extras=True)
        for name in KIT_NAMES:
            print(f"{name:<22} {TASK_TYPES[name]:<21} {state[name]:<9} {kit_ensemble(name).description}")
        print("Optional workflow ensembles (install by name, or both with `workflows`):")
        for name in WORKFLOW_NAMES:
            desc = kit_ensemble(name).description
            print(f"{name:<22} {WORKFLOW_TASK_TYPES[name]:<21} {state[name]:<9} {desc}")
        return 0
    names = list(args.names or KIT_NAMES)  # extras only when named
    confirm = None
    if not args.yes and sys.stdin.isatty():
        confirm = _ask
    try:
        result = install_starter_kit(project, names, overwrite=bool(args.yes), confirm=confirm)
    except KitError as exc:
        print(f"starter-kit: {exc}", file=sys.stderr)
        return 2
    rel = lambda p: p.relative_to(project) if p.is_relative_to(project) else p  # noqa: E731
    print(f"Starter kit → {project / '.llm-orc'}")
    for p in result.written:
        print(f"  + {rel(p)}")
    for p in result.overwritten:
        print(f"  ~ {rel(p)} (replaced; your version kept as {rel(p)}.bak)")
    for p in result.unchanged:
        print(f"  = {rel(p)} (already up to date)")
    for p in result.kept:
        print(f"  ! {rel(p)} (you changed it; kept yours — rerun with --yes to replace it)")
    verb = "Installed" if result.ok else "Installed (with your changed files kept)"
    print(
        f"{verb} {len(result.ensembles)} starter-kit ensemble(s): {', '.join(result.ensembles)}. "
        "All will enter calibration on first use."
    )
    if result.models:
        print("Models they use: " + ", ".join(result.models))
        print("  pull them with: " + " && ".join(f"ollama pull {m}" for m in result.models))
    if result.config_version is not None:
        print(f"routing-config.yaml: starter_kit_offered: true (version {result.config_version})")
    elif result.config_error:
        print(f"warning: could not set starter_kit_offered: {result.config_error}", file=sys.stderr)
    return 0 if result.ok else 1
