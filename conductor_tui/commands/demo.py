"""``conductor-tui demo``: the cockpit on a copy of the bundled sample project (demo data).

The sample is a recorded conductor session — the PromotionHandler decomposition
(plan, routing log over four days, evaluations, task profiles, artifacts,
ensembles) — copied to a temporary directory, so evaluating, promoting or editing the
config there never touches the installed package.  Ollama and the GPU show their real
status.  The global and library tiers, the cockpit's settings and caches are redirected into the
temporary folder too (:func:`isolated_demo`): the demo never writes outside it.
The temporary copy is removed on exit unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEMO_NOTICE = (
    "Demo data: a recorded PromotionHandler session (33 subtasks). It is a temporary copy — "
    "evaluate, promote and edit freely. Ollama and GPU status are real."
)


# Every location core/locations.py (and the aggregate cache) resolves from the environment:
# in the demo they all point inside the temporary copy, so promoting to the "global" tier,
# saving a theme or caching aggregates never touches the user's real folders.
DEMO_ENV_DIRS = {
    "XDG_CONFIG_HOME": "config",  # global llm-orc tier, roles, conductor-tui settings
    "LLM_ORC_LIBRARY_PATH": "library",  # the library tier
    "XDG_CACHE_HOME": "cache",  # report aggregates
}


def demo_environment(project: Path) -> dict[str, str]:
    """The environment overrides that keep the demo inside ``project``'s temporary folder."""
    root = Path(project).resolve().parent / "demo-home"
    env = {name: str(root / sub) for name, sub in DEMO_ENV_DIRS.items()}
    for path in env.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    return env


@contextlib.contextmanager
def isolated_demo(project: Path) -> Iterator[dict[str, str]]:
    """Point the global, library, settings and cache locations into the demo's temporary
    copy while the demo runs; restore the environment afterwards."""
    env = demo_environment(project)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_demo_app(project: Path, **service_options: Any):
    """The cockpit app for ``project`` labelled as demo data (used by ``main`` and tests)."""
    from conductor_tui.ui.app import ConductorApp
    from conductor_tui.ui.services import Services

    class DemoApp(ConductorApp):
        TITLE = "conductor-tui — DEMO DATA"
        SUB_TITLE = "recorded sample session"

        def on_mount(self) -> None:  # runs after ConductorApp.on_mount (Textual walks the MRO)
            self.notify(DEMO_NOTICE, title="Demo", timeout=4, markup=False)  # header says DEMO

    service_options.setdefault("demo", True)
    services = Services(project=project, **service_options)
    return DemoApp(services, initial_mode="savings")


def main(args: argparse.Namespace) -> int:
    from conductor_tui.demo import copy_sample_project

    project = copy_sample_project()
    keep = bool(getattr(args, "keep", False))
    print(f"Demo data (a recorded PromotionHandler session) copied to {project}")
    try:
        with isolated_demo(project):
            app = build_demo_app(project)
            result = app.run()
    finally:
        if keep:
            print(f"Kept the demo project: {project}")
        else:
            shutil.rmtree(project.parent, ignore_errors=True)
    if result is None and app.return_code:
        return int(app.return_code or 0)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(argparse.Namespace(keep="--keep" in sys.argv)))
