"""``conductor-tui demo``: the cockpit on a copy of the bundled sample project (demo data)."""

from __future__ import annotations

import argparse
import shutil
import sys


def main(args: argparse.Namespace) -> int:
    from conductor_tui.demo import copy_sample_project

    project = copy_sample_project()
    keep = bool(getattr(args, "keep", False))
    print(f"Demo data (a recorded PromotionHandler session) copied to {project}", file=sys.stderr)
    try:
        from conductor_tui.ui.app import make_app  # imported lazily: the CLI stays light

        app = make_app(project, demo=True, initial_mode="savings")
        app.title = "conductor-tui — DEMO DATA"
        app.sub_title = "recorded sample session; Ollama status is real"
        result = app.run()
    finally:
        if keep:
            print(f"Kept the demo project: {project}", file=sys.stderr)
        else:
            shutil.rmtree(project.parent, ignore_errors=True)
    return result if isinstance(result, int) else 0
