"""Designer feedback: what an evaluation or a run tells the designer.

After every evaluation the loop writes the feedback its consequences call for (see the
glossary: designer): a calibration summary when a calibration window ends mixed or
failed (and a revision request when it failed), a poor-evaluation note otherwise for a
poor score, and a promotion candidate when the ensemble has just become promotion-ready.
:meth:`DesignerFeedback.design_notes` keeps the design knowledge per task type
(``designer/notes/<task type>.yaml``) regenerated from the logs.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.history import History
from conductor_tui.core.loop.designer_hooks import DesignerHooks
from conductor_tui.core.loop.outcomes import EvaluationOutcome
from conductor_tui.core.loop.state import claude_debt, profile_of, value_of
from conductor_tui.core.records import Evaluation, Score


class DesignerFeedback(DesignerHooks):
    """Feedback artifacts and design notes (module docstring)."""

    def _designer_feedback(
        self,
        ensemble: str,
        ev: Evaluation,
        windows_before: int,
        status_before: rules.LifecycleStatus,
        hist: History,
        outcome: EvaluationOutcome,
    ) -> None:
        """The feedback (and revision request) an evaluation's consequences call for."""
        eh = hist.ensembles.get(ensemble)
        if eh is None or eh.tracker is None:
            return
        evs = eh.evaluations
        period = hist.thresholds.calibration_period
        # read only when a feedback is written (a byte scan of the whole routing log; the
        # designer's folder): most verdicts write none
        artifacts = functools.cache(lambda: self._artifact_paths(e.routing_id for e in evs[-2 * period :]))
        existing = functools.cache(lambda: self.design_artifacts(hist=hist))
        meta = {"evaluation_id": ev.id, "task_type": ev.task_type}
        window = eh.tracker.last_outcome if eh.tracker.windows > windows_before else None
        written: list[Any] = []
        if window in ("mixed", "fail") and existing().feedback_for(ev.id, "calibration_summary") is None:
            written += self._calibration_feedback(
                ensemble, ev, str(window), hist, artifacts(), meta, existing()
            )
        elif (
            rules.as_score(ev.score) is Score.POOR
            and existing().feedback_for(ev.id, "poor_evaluation") is None
        ):
            written.append(self._poor_feedback(ensemble, ev, evs, artifacts(), meta))
        written += self._promotion_feedback(ensemble, status_before, hist, artifacts, meta)
        if written and (ev.task_type or eh.task_types):
            tt = ev.task_type or eh.task_types.most_common(1)[0][0]
            self.design_notes(tt, hist=hist)
        for art in written:
            outcome.artifacts.append(art)
            what = art.type.replace("_", " ")
            outcome.messages.append(
                f"Designer {art.kind} written: {what} for '{art.subject}' ({art.state}) — {art.path.name}"
            )

    def _calibration_feedback(
        self,
        ensemble: str,
        ev: Evaluation,
        window: str,
        hist: History,
        artifacts: dict[str, str],
        meta: dict[str, Any],
        existing: Any,
    ) -> list[Any]:
        """A calibration window ended mixed or failed: the summary, and for a failure the
        revision request (once per open revision)."""
        from conductor_tui.core import designer as d

        eh = hist.ensembles[ensemble]
        period = hist.thresholds.calibration_period
        calibration = [e for e in eh.evaluations if value_of(e.phase) in (None, "calibrate", "triggered")][
            -2 * period :
        ]
        counts = rules.count_scores(e.score for e in calibration)
        if window == "fail":
            rec = (
                f"Failed calibration ({counts.poor} poor): revise the ensemble — it is back in "
                "Design and not routed to until its file changes."
            )
        else:
            rec = (
                "Mixed calibration (1 poor): a second calibration window follows; a revision "
                "is requested if it fails again."
            )
        des = self.designer()
        body = d.feedback_body(
            "calibration_summary", ensemble, calibration, recommendation=rec, artifacts=artifacts
        )
        written = [des.write_feedback(body, trigger=f"calibration-{window}", **meta)]
        if window == "fail" and existing.open_revision(ensemble) is None:
            tt = ev.task_type or (eh.task_types.most_common(1)[0][0] if eh.task_types else ensemble)
            request = d.request_body(
                "revision",
                tt,
                sample_inputs=[e.input_summary or "" for e in calibration],
                repetition_count=eh.completed or None,
                evaluation_data=d.revision_evaluation_data(calibration, artifacts),
                context=f"Ensemble '{ensemble}' failed calibration ({counts.poor} poor) — revise it.",
            )
            written.append(
                des.write_request(
                    request,
                    trigger="calibration-failed",
                    state=d.PROPOSED,
                    ensemble=ensemble,
                    ensemble_digest=self.digest(ensemble),
                    evaluation_id=ev.id,
                )
            )
        return written

    def _poor_feedback(
        self,
        ensemble: str,
        ev: Evaluation,
        evs: list[Evaluation],
        artifacts: dict[str, str],
        meta: dict[str, Any],
    ) -> Any:
        """A poor score outside a calibration verdict: this and the earlier poor samples."""
        from conductor_tui.core import designer as d

        mode = value_of(ev.failure_mode) or "unclassified"
        earlier = [e for e in reversed(evs) if e.id != ev.id and rules.as_score(e.score) is Score.POOR]
        body = d.feedback_body(
            "poor_evaluation",
            ensemble,
            [ev, *earlier][: d.SAMPLE_LIMIT],
            counted=evs,
            recommendation=f"Poor output ({mode}) in {value_of(ev.phase) or 'use'}: "
            "look at the failing stage of the DAG.",
            artifacts=artifacts,
        )
        return self.designer().write_feedback(body, trigger="poor-evaluation", **meta)

    def _promotion_feedback(
        self,
        ensemble: str,
        status_before: rules.LifecycleStatus,
        hist: History,
        artifacts: Callable[[], dict[str, str]] | None,
        meta: dict[str, Any],
    ) -> list[Any]:
        """A ``promotion_candidate`` feedback when the ensemble has just become promotion-ready
        (by an evaluation, or by a run that crossed the Trust bar); ``artifacts``: the run
        artifacts to cite (read when called), else those of the good runs sampled."""
        from conductor_tui.core import designer as d

        status = self.status(ensemble, hist)
        if not status.promotion.global_ready or status_before.promotion.global_ready:
            return []
        eh = hist.ensembles[ensemble]
        evs = eh.evaluations
        good = [e for e in evs if rules.as_score(e.score) is Score.GOOD]
        paths = (
            artifacts()
            if artifacts is not None
            else self._artifact_paths(e.routing_id for e in good[-d.SAMPLE_LIMIT :])
        )
        body = d.feedback_body(
            "promotion_candidate",
            ensemble,
            good[-d.SAMPLE_LIMIT :],
            counted=evs,
            recommendation=(
                f"{status.promotion.good} good evaluations in {self.phase(ensemble, hist).value}: ready for "
                f"global promotion (conductor-tui promote {ensemble} --to global); the library needs "
                f"{hist.thresholds.promotion_library_good} good and a generality assessment."
            ),
            artifacts=paths,
        )
        return [self.designer().write_feedback(body, trigger="promotion-candidate", **meta)]

    def design_notes(
        self,
        task_type: str,
        *,
        candidates_for: Callable[[str], Sequence[str]] | None = None,
        hist: History | None = None,
        write: bool = True,
    ) -> tuple[dict[str, Any], Path]:
        """Design knowledge for ``task_type`` accumulated from the logs: every
        ensemble tried for it with its DAG shape, phase, scores, calibration transitions,
        failure modes and per-model correctness; what worked and what failed; Claude debt and
        the designer artifacts. Written to ``designer/notes/<task type>.yaml`` for the designer."""
        from conductor_tui.core import designer as d

        hist = hist if hist is not None else self.history()
        key = rules.task_type_key(task_type)
        names = list(
            dict.fromkeys(
                [*hist.ensembles_for(task_type), *(candidates_for(task_type) if candidates_for else [])]
            )
        )
        prof = profile_of(self.profiles(), task_type)
        if prof is not None and prof.ensemble and prof.ensemble not in names:
            names.append(prof.ensemble)
        ensembles: list[dict[str, Any]] = []
        worked: list[str] = []
        failed: list[str] = []
        for name in names:
            entry, good, poor = self._notes_entry(name, key, hist)
            ensembles.append(entry)
            worked += good
            failed += poor
        listing = self.design_artifacts(candidates_for, hist=hist)
        related = [
            {"id": a.id, "kind": a.kind, "type": a.type, "state": a.state}
            for a in listing.artifacts
            if _related(a, key, names)
        ]
        notes: dict[str, Any] = {
            "task_type": task_type,
            "generated": self.now().astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ensembles": ensembles,
            "what_worked": worked,
            "what_failed": failed,
            "interim_claude_count": claude_debt(hist, task_type),
            "prepared_claude_uses": hist.prepared_by_type.get(task_type, 0),
            "design_rejected": bool(prof and prof.design_rejected),
            "rejection_reason": prof.rejection_reason if prof else None,
            "artifacts": related,
        }
        path = d.designer_dir(self.project) / d.NOTES / f"{d._slug(task_type)}.yaml"
        if write:
            _write_notes(path, notes)
        return notes, path

    def _notes_entry(self, name: str, key: str, hist: History) -> tuple[dict[str, Any], list[str], list[str]]:
        """One ensemble's part of the design notes: (entry, what worked, what failed)."""
        import yaml as _yaml

        from conductor_tui.core import designer as d

        eh = hist.ensembles.get(name)
        path = self._ensemble_file(name)
        try:
            data = _yaml.safe_load(path.read_text(encoding="utf-8")) if path else None
        except (OSError, _yaml.YAMLError, UnicodeDecodeError):
            data = None
        st = self.status(name, hist)
        evs = [
            e
            for e in (eh.evaluations if eh else [])
            if not e.task_type or rules.task_type_key(e.task_type) == key
        ]
        modes = Counter(
            str(value_of(e.failure_mode))
            for e in evs
            if rules.as_score(e.score) is Score.POOR and e.failure_mode
        )
        entry: dict[str, Any] = {
            "name": name,
            "phase": self.phase(name, hist).value,
            "uses": eh.completed if eh else 0,
            "failed_runs": eh.failed if eh else 0,
            "scores": {"good": st.counts.good, "acceptable": st.counts.acceptable, "poor": st.counts.poor},
            "calibration": [
                {"from": t.before.value, "to": t.after.value, "why": t.reason}
                for t in (eh.tracker.transitions if eh and eh.tracker else [])
            ],
            "failure_modes": dict(modes.most_common()),
            "dag": d.dag_shape(data) if isinstance(data, dict) else None,
        }
        pm = d.per_model_summary(evs)
        if pm:
            entry["per_model"] = pm
        shape = entry["dag"] or {}
        desc = f"{name} ({shape.get('pattern', 'unknown shape')}, {shape.get('agents', '?')} agents)"
        worked: list[str] = []
        failed: list[str] = []
        if entry["phase"] in ("establish", "trust", "promote"):
            good = [e.reasoning for e in evs if rules.as_score(e.score) is Score.GOOD and e.reasoning]
            worked.append(f"{desc} passed calibration" + (f": {good[-1]}" if good else ""))
        if entry["phase"] == "design" or modes:
            poor = [e.reasoning for e in evs if rules.as_score(e.score) is Score.POOR and e.reasoning]
            top = ", ".join(f"{m} ×{n}" for m, n in modes.most_common(2)) or "poor scores"
            failed.append(f"{desc}: {top}" + (f" — {poor[-1]}" if poor else ""))
        return entry, worked, failed


def _related(artifact: Any, key: str, names: list[str]) -> bool:
    """A request for the task type (by key) or feedback on one of its ensembles."""
    if artifact.kind == "request":
        return bool(rules.task_type_key(artifact.subject) == key)
    return artifact.kind == "feedback" and artifact.subject in names


def _write_notes(path: Path, notes: dict[str, Any]) -> None:
    import yaml as _yaml

    from conductor_tui.core.store import atomic_write_text

    atomic_write_text(
        path,
        "# conductor-tui design notes (generated from the logs; regenerated on each change)\n"
        + _yaml.safe_dump(notes, sort_keys=False, allow_unicode=True, width=100),
    )
