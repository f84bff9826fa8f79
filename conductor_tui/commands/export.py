"""``conductor-tui export training-data [--task-type T] [--format jsonl|chatml] [--out DIR]``.

Writes the project's evaluations as training triples — the spec's ``(input_summary,
output, score, reasoning)`` with the run's real input and output from its artifact, poor
examples labelled by failure mode, nothing from other projects — and a ``manifest.json``
of counts (:mod:`conductor_tui.core.training`). Exit codes: 0 written (also when there
was nothing to export), 2 bad input, 1 could not write.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conductor_tui.core import locations
from conductor_tui.core.store import ProjectStore


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", help="what to export: training-data")
    p.add_argument(
        "--project",
        metavar="DIR",
        default=None,
        help="project directory (default: nearest folder with .llm-orc/ at or above the cwd)",
    )
    p.add_argument("--task-type", default=None, metavar="T", help="only this task type")
    p.add_argument(
        "--format", dest="fmt", default="jsonl", metavar="FORMAT", help="jsonl (default) or chatml"
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder to write (default .llm-orc/training-data/<type>-<time>/)",
    )
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def main(args: argparse.Namespace) -> int:
    from conductor_tui.core.training import FORMATS, export_training_data

    if args.what != "training-data":
        print(f"conductor-tui export: unknown export {args.what!r} (try: training-data)", file=sys.stderr)
        return 2
    if args.fmt not in FORMATS:
        print(
            f"conductor-tui export: --format must be one of {', '.join(FORMATS)} (got {args.fmt!r})",
            file=sys.stderr,
        )
        return 2
    project = Path(args.project).expanduser().resolve() if args.project else locations.find_project()
    if not locations.project_llm_orc_dir(project).is_dir():
        print(f"conductor-tui export: no .llm-orc/ folder in {project} — nothing to export.", file=sys.stderr)
        return 2
    try:
        result = export_training_data(
            ProjectStore(project), task_type=args.task_type, fmt=args.fmt, out_dir=args.out
        )
    except OSError as exc:
        print(f"conductor-tui export: cannot write: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**result.manifest, "folder": str(result.folder)}, ensure_ascii=False, indent=2))
        return 0
    print(result.summary() + ".")
    print(f"  {result.data_file}")
    if result.folder is not None:  # always set by export_training
        print(f"  {result.folder / 'manifest.json'}")
    for reason, n in sorted(result.manifest.get("skipped", {}).items()):
        print(f"  skipped {n}: {reason}")
    return 0
