"""``conductor-tui`` command line: the cockpit, plus headless subcommands.

Parsing is kept light and every subcommand's implementation is imported only when
it runs, so ``conductor-tui report`` never pays for Textual and the cockpit's
start-up never pays for the ``anthropic`` client.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# name → (module under conductor_tui.commands, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "report": ("report", "What local models did for you: decisions, tokens, savings, debt."),
    "check": ("check", "Pre-flight discovery: Ollama status, models, ensembles, runnability."),
    "run": ("run", "Run an ensemble on Ollama, streaming each agent's output."),
    "starter-kit": ("starter_kit", "Install the five universal ensembles into a project."),
    "demo": ("demo", "Open the cockpit on a bundled sample project (demo data)."),
    "plan": (
        "session",
        "Hand a workflow plan to the cockpit and wait for the decisions (submit/wait/from-task).",
    ),
    "request-run": ("session", "Ask for an ensemble run (in the open cockpit, else headless)."),
    "request-result": ("session", "Wait for / print the result of a requested run."),
    "record": ("session", "Record a Claude-handled subtask or an evaluation."),
    "export": ("export", "Export training data: evaluated runs as (input, output, score, reasoning)."),
    "design": ("session", "The Ensemble Designer handoff: list/request/approve/decline/reject/notes."),
    "design-notes": ("session", "Design knowledge for a task type (what worked, failure modes)."),
    "promote": ("promotion", "Promote an ensemble to the global tier or the library (gated on evidence)."),
    "demote": ("promotion", "Remove a promoted ensemble from the global tier or the library."),
}


def _add_project(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        metavar="DIR",
        default=None,
        help="project directory (default: nearest folder with .llm-orc/ at or above the cwd)",
    )


def _add_report_arguments(p: argparse.ArgumentParser) -> None:
    _add_project(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--global",
        dest="global_tier",
        action="store_true",
        help="report on the global tier (~/.config/llm-orc/evaluations)",
    )
    p.add_argument(
        "--explain",
        default=None,
        metavar="FIGURE",
        help="the log lines (file:line) behind a figure: saved, net, overhead, local-tokens, "
        "claude-tokens, decisions, local-decisions, debt; scoped as FIGURE:task-type=T, "
        ":ensemble=E or :day=YYYY-MM-DD",
    )


def _build_subparser(name: str) -> argparse.ArgumentParser:
    module, help_text = SUBCOMMANDS[name]
    epilog = None
    if name == "check":
        epilog = (
            "Exit codes: 0 — Ollama is reachable and at least one ensemble is runnable; "
            "1 — Ollama is not reachable; 3 — Ollama is reachable but no ensemble is runnable; "
            "2 — usage error."
        )
    p = argparse.ArgumentParser(prog=f"conductor-tui {name}", description=help_text, epilog=epilog)
    if name == "report":
        _add_report_arguments(p)
    elif name == "check":
        _add_project(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
    elif name == "run":
        p.add_argument("ensemble", help="ensemble name")
        _add_project(p)
        p.add_argument(
            "--input", default=None, metavar="TEXT", help="input text, or - to read standard input"
        )
        p.add_argument("--json", action="store_true", help="print one JSON result object")
        p.add_argument("--task-type", default=None, help="task type to log (default: inferred)")
    elif name == "starter-kit":
        _add_project(p)
        p.add_argument(
            "names",
            nargs="*",
            help="ensembles to install (default: the five universal ones; extras by name: "
            "plan-review, distill-context, or both with 'workflows')",
        )
        p.add_argument("--yes", "-y", action="store_true", help="overwrite changed files without asking")
        p.add_argument("--list", action="store_true", help="list the kit and exit")
    elif name == "demo":
        p.add_argument("--keep", action="store_true", help="keep the temporary demo project")
    elif name == "export":
        from conductor_tui.commands.export import add_arguments as add_export

        add_export(p)
    elif module == "session":
        from conductor_tui.commands.session import add_arguments

        add_arguments(name, p)
    elif module == "promotion":
        from conductor_tui.commands.promotion import add_arguments as add_promotion_arguments

        add_promotion_arguments(name, p)
    return p


def _app_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {n:<12} {h}" for n, (_, h) in SUBCOMMANDS.items())
    p = argparse.ArgumentParser(
        prog="conductor-tui",
        description="A terminal cockpit for local-first LLM work (Ollama ensembles + Claude).",
        epilog=f"subcommands (conductor-tui SUBCOMMAND --help):\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "project_dir",
        nargs="?",
        default=None,
        help="project directory (default: nearest folder with .llm-orc/)",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SUBCOMMANDS:
        name = args_list[0]
        args = _build_subparser(name).parse_args(args_list[1:])
        module_name = SUBCOMMANDS[name][0]
        import gc

        from conductor_tui.commands import import_quietly

        module = import_quietly(f"conductor_tui.commands.{module_name}")
        entry: Callable[[argparse.Namespace], int] = module.main
        try:
            return int(entry(args) or 0)
        except KeyboardInterrupt:
            return 130
        finally:
            gc.unfreeze()  # main() called in-process (tests): the caller's objects collectable again
    args = _app_parser().parse_args(args_list)
    if args.version:
        from conductor_tui import __version__

        print(f"conductor-tui {__version__}")
        return 0
    from conductor_tui.ui.launch import launch

    return launch(args.project_dir)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
