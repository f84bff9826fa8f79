"""``conductor-tui promote`` / ``demote``: the Promote transition for a coding session.

::

    conductor-tui promote ENSEMBLE --to global|library [--generality TEXT] [--check] [--json]
    conductor-tui demote ENSEMBLE --from global|library [--force] [--json]

Gated exactly like the cockpit's Lifecycle screen (one rule, :meth:`Conductor.promotion_check`):
the lifecycle phase (Trust / Promote), the good evaluations since the last failed
calibration (3 for global, 5 for the library), a recorded generality assessment for the
library, and the dependencies (profiles with their fallback chains, scripts and the helper
modules they import, no hard-coded paths). A failing gate exits 4 and names it.
"""

from __future__ import annotations

import argparse
from typing import Any

from conductor_tui.commands.verb_io import EXIT_FAILED, EXIT_USAGE, Out, project_of


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    p.set_defaults(verb=name)
    p.add_argument("ensemble", help="ensemble name")
    if name == "promote":
        p.add_argument("--to", dest="tier", choices=("global", "library"), required=True)
        p.add_argument(
            "--generality",
            default=None,
            metavar="TEXT",
            help="record the generality assessment (why it is useful beyond this project) first",
        )
        p.add_argument(
            "--not-general",
            action="store_true",
            help="with --generality: the assessment found the ensemble project-specific",
        )
        p.add_argument("--check", action="store_true", help="only check the gates; copy nothing")
        p.add_argument("--overwrite", action="store_true", help="replace files already at the destination")
    else:
        p.add_argument("--from", dest="tier", choices=("global", "library"), required=True)
        p.add_argument("--force", action="store_true", help="demote even if the project holds no copy")
        p.add_argument("--reason", default=None)
    p.add_argument(
        "--library", default=None, metavar="DIR", help="library directory (default: $LLM_ORC_LIBRARY_PATH)"
    )
    p.add_argument("--project", metavar="DIR", default=None, help="project directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _check_payload(check: Any) -> dict[str, Any]:
    return {
        "ensemble": check.ensemble,
        "destination": check.destination,
        "destination_dir": str(check.dest_root) if check.dest_root else None,
        "ready": check.ready,
        "gates_passed": check.ok,
        "gate": check.gate,
        "readiness": check.readiness,
        "good_count": check.good_count,
        "needed_good": check.needed_good,
        "problems": check.problems,
        "warnings": check.warnings,
        "profiles": [
            {
                "name": n.name,
                "at_destination": n.at_destination,
                "source": str(n.source) if n.source else None,
            }
            for n in check.profiles
        ],
        "helpers": [str(h) for h in check.helpers],
        "third_party_imports": check.third_party,
        "steps": [{"kind": s.kind, "target": str(s.target), "exists": s.exists} for s in check.steps],
    }


def main(args: argparse.Namespace) -> int:
    from conductor_tui.core.loop import Conductor

    out = Out(bool(args.json))
    project = project_of(args)
    conductor = Conductor(project)
    try:
        if args.verb == "promote":
            return _promote(args, out, conductor)
        return _demote(args, out, conductor)
    except ValueError as exc:
        return out.fail(str(exc), EXIT_USAGE)


def _promote(args: argparse.Namespace, out: Out, conductor: Any) -> int:
    if args.not_general and not args.generality:
        return out.fail("--not-general needs --generality TEXT (the assessment)", EXIT_USAGE)
    if args.generality:
        conductor.record_generality(
            args.ensemble, args.generality, general=not args.not_general, assessed_by="session"
        )
    if args.check:
        check = conductor.promotion_check(args.ensemble, args.tier, library=args.library)
        payload = _check_payload(check)
        if not check.ok:
            return out.fail(_gate_message(check), EXIT_FAILED, payload)
        return out.done(payload, "\n".join(check.summary_lines()))
    check, result = conductor.promote(
        args.ensemble, args.tier, library=args.library, overwrite=args.overwrite
    )
    payload = _check_payload(check)
    if result is None:
        return out.fail(_gate_message(check), EXIT_FAILED, payload)
    payload["copied"] = [str(p) for p in result.copied]
    payload["skipped"] = [str(p) for p in result.skipped]
    text = [f"Promoted '{args.ensemble}' to the {args.tier} tier ({check.dest_root}):"]
    text += [f"  copied {p}" for p in result.copied]
    text += [f"  kept (already there) {p}" for p in result.skipped]
    text += [f"! {w}" for w in check.warnings]
    return out.done(payload, "\n".join(text))


def _gate_message(check: Any) -> str:
    gate = check.gate or "dependencies"
    detail = check.readiness if gate in ("phase", "good-count", "generality") else "; ".join(check.problems)
    return f"promotion gate '{gate}' failed: {detail}"


def _demote(args: argparse.Namespace, out: Out, conductor: Any) -> int:
    check, removed = conductor.demote(
        args.ensemble, args.tier, library=args.library, force=args.force, reason=args.reason
    )
    payload = {
        "ensemble": args.ensemble,
        "tier": args.tier,
        "gate": check.gate,
        "problems": check.problems,
        "removed": str(removed) if removed else None,
        "project_copy": str(check.project_copy) if check.project_copy else None,
    }
    if removed is None:
        return out.fail(
            f"demotion gate '{check.gate}' failed: {'; '.join(check.problems)}", EXIT_FAILED, payload
        )
    return out.done(payload, f"Demoted '{args.ensemble}': removed {removed}")
