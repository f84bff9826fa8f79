"""Start the cockpit (placeholder until the shell lands)."""

from __future__ import annotations


def launch(project_dir: str | None) -> int:
    from conductor_tui.ui.app import run_app

    return run_app(project_dir)
