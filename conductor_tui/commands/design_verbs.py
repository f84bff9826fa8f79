"""``conductor-tui design list | request | approve | decline | reject | notes`` and
``design-notes``: the handoff to the Ensemble Designer (see the glossary: designer)."""

from __future__ import annotations

import argparse

from conductor_tui.commands.verb_io import EXIT_USAGE, Out, project_of, session_of


def design(args: argparse.Namespace, out: Out) -> int:
    """The handoff to the Ensemble Designer: artifacts, approvals, rejections, notes."""
    from conductor_tui.core.loop import Conductor
    from conductor_tui.engine.row_run import candidates_for

    project = project_of(args)
    conductor = Conductor(project)
    action = args.action
    if action == "list":
        listing = conductor.design_artifacts(candidates_for(project))
        items = [a.summary() for a in listing.artifacts]
        lines = [
            f"{a.id}  {a.kind:<8} {a.type:<19} {a.subject:<24} {a.state}" for a in listing.artifacts
        ] or ["no designer artifacts yet"]
        lines += [f"! {p}" for p in listing.problems]
        return out.done({"artifacts": items, "problems": listing.problems}, "\n".join(lines))
    if action == "request":
        art = conductor.request_ensemble(
            args.task_type,
            trigger="user-request",
            state="requested",
            repetition_count=args.repetitions,
            expected_output_format=args.output_format,
            context=args.context or "Requested by the user.",
            session=session_of(args),
        )
        if art is not None and args.sample:
            from conductor_tui.core import designer as d

            data = dict(art.data)
            data["sample_inputs"] = list(dict.fromkeys([*args.sample, *(data.get("sample_inputs") or [])]))[
                :5
            ]
            d.Designer(project)._write(d.REQUESTS, art.id, data)
            art.data = data
        return out.done(
            {"ensemble_request": art.summary()},
            f"{art.id}\nEnsemble request for '{args.task_type}' ({art.state})",
        )
    if action in ("approve", "decline"):
        art = conductor.set_request_state(
            args.request_id, "requested" if action == "approve" else "declined", note=args.note
        )
        return out.done({"ensemble_request": art.summary()}, f"{art.id}: {art.state}")
    if action == "reject":
        prof = conductor.reject_design(args.task_type, args.reason)
        return out.done(
            {"task_type": args.task_type, "design_rejected": True, "rejection_reason": prof.rejection_reason},
            f"Designer determined '{args.task_type}' cannot be composed into an ensemble: "
            f"{prof.rejection_reason}. Marking as Claude-only.",
        )
    if action == "notes":
        notes, path = conductor.design_notes(args.task_type, candidates_for=candidates_for(project))
        from conductor_tui.core.designer import notes_text

        return out.done({"path": str(path), "notes": notes}, notes_text(notes) + f"\n(written to {path})")
    return out.fail(f"unknown design action {action!r}", EXIT_USAGE)
