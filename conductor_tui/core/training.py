"""Can I fine-tune on my failures? Evaluations exported as training data (no Textual).

Every evaluation is a potential LoRA example; the
``(input_summary, output, score, reasoning)`` tuple is one training triple. This module
writes those triples for one project:

* one verdict per run — the run's effective evaluation as the conductor loop links it
  (:mod:`conductor_tui.core.history`: ``routing_id``, else invocation number, else time; a
  person's later record replaces the judge's);
* the run's **real** input and output, read from its ``execution.json`` artifact
  (:func:`conductor_tui.core.review.read_artifact`), next to the spec's ``input_summary``;
* poor examples labelled by failure mode (``label: "poor:hallucination"``);
* nothing from other projects: only this project's logs, and an artifact outside the
  project folder is refused;
* what could not be exported is counted by reason in the manifest (no run in this
  project's log, a run that did not complete, no artifact, an unreadable artifact, a judge
  verdict the person has not reviewed while that ensemble's judge is untrusted).

Formats: ``jsonl`` (one triple per line, with metadata) and ``chatml`` (``messages``:
system / user = the real input / assistant = the real output, plus the same metadata).
Files are written atomically into a new folder with ``manifest.json`` (counts by score,
label, task type, ensemble and the skipped reasons).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import agreement, logscan, rules
from conductor_tui.core.records import RoutingDecision, line_identity
from conductor_tui.core.schemas import IdOnly as _Id

FORMATS = ("jsonl", "chatml")
_SENTINELS = ("(no output found", "(agent failed", "(artifact ", "(no artifact")


_ID = msgspec.json.Decoder(_Id)


@dataclass
class Example:
    """One exported triple (plus where it came from)."""

    input_summary: str | None
    input: str
    output: str
    score: str
    reasoning: str
    label: str  # good | acceptable | poor:<failure mode>
    failure_mode: str | None
    task_type: str | None
    ensemble: str
    routing_id: str
    evaluation_id: str | None
    evaluator: str | None

    def jsonl(self) -> dict[str, Any]:
        return {
            "input_summary": self.input_summary,
            "input": self.input,
            "output": self.output,
            "score": self.score,
            "reasoning": self.reasoning,
            "label": self.label,
            "failure_mode": self.failure_mode,
            "task_type": self.task_type,
            "ensemble": self.ensemble,
            "routing_id": self.routing_id,
            "evaluation_id": self.evaluation_id,
            "evaluator": self.evaluator,
        }

    def chatml(self) -> dict[str, Any]:
        system = f"Task type: {self.task_type}." if self.task_type else "Complete the task."
        if self.input_summary:
            system += f" Task: {self.input_summary}"
        meta = self.jsonl()
        for key in ("input", "output", "input_summary"):
            meta.pop(key)
        return {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": self.input},
                {"role": "assistant", "content": self.output},
            ],
            **meta,
        }


@dataclass
class ExportResult:
    folder: Path | None
    data_file: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.examples)

    def summary(self) -> str:
        skipped = sum(self.manifest.get("skipped", {}).values())
        where = f" to {self.folder}" if self.folder else ""
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.manifest.get("by_label", {}).items()))
        return (
            f"Exported {self.count} training example(s){where}"
            + (f" ({labels})" if labels else "")
            + (f"; {skipped} evaluation(s) skipped" if skipped else "")
        )


def _routing_records(path: Path, wanted: set[str]) -> dict[str, RoutingDecision]:
    """The full routing decisions with these ids (line identity for lines without one)."""
    from conductor_tui.core.review import _validate_line

    out: dict[str, RoutingDecision] = {}
    if not wanted or not path.is_file():
        return out
    for _n, line in logscan.numbered_lines(path):
        try:
            rid = _ID.decode(line).id
        except (msgspec.DecodeError, msgspec.ValidationError):
            rid = None
        rid = str(rid).strip() if rid not in (None, "") else line_identity("rd-", line)
        if rid in wanted:
            rec = _validate_line(line)
            if rec is not None:
                out[rid] = rec
    return out


def _inside(project: Path, folder: Path) -> bool:
    try:
        folder.resolve().relative_to(project.resolve())
    except (OSError, ValueError):
        return False
    return True


def _label(score: str, mode: str | None) -> str:
    return f"poor:{mode or 'unspecified'}" if score == "poor" else score


def collect_examples(store: Any, *, task_type: str | None = None) -> tuple[list[Example], Counter[str], dict]:
    """(examples, skipped reasons, judge agreement) for ``store``'s project."""
    from conductor_tui.core.history import build_history

    project = Path(store.project)
    hist = build_history(store)
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:
        thresholds = hist.thresholds
    try:
        raw_evals = list(store.read_evaluations(0).records)
    except Exception:
        raw_evals = []
    untrusted = agreement.untrusted_judges(raw_evals, thresholds)
    skipped: Counter[str] = Counter()
    chosen = _evaluated_runs(hist, untrusted, task_type, skipped)
    records = _routing_records(Path(store.routing_log_path), {run.id for _ev, run in chosen})
    examples: list[Example] = []
    for ev, run in chosen:
        rec = records.get(run.id)
        if rec is None:
            skipped["routing decision unreadable"] += 1
            continue
        example = _example(project, ev, run, rec, skipped)
        if example is not None:
            examples.append(example)
    return examples, skipped, {k: v.to_dict() for k, v in untrusted.items()}


def _evaluated_runs(
    hist: Any, untrusted: dict[str, Any], task_type: str | None, skipped: Counter[str]
) -> list[tuple[Any, Any]]:
    """(evaluation, run) pairs that may become examples: a scored evaluation of a completed
    run in this project, not an unreviewed verdict of an untrusted judge."""
    want_key = rules.task_type_key(task_type) if task_type else None
    chosen: list[tuple[Any, Any]] = []
    run_of = {id(e): rid for rid, e in hist.evaluation_of.items()}
    for name, eh in sorted(hist.ensembles.items()):
        for ev in eh.evaluations:
            run_id = run_of.get(id(ev))
            run = hist.runs.get(run_id) if run_id else None
            tt = ev.task_type or (run.task_type if run is not None else None)
            if want_key is not None and rules.task_type_key(tt) != want_key:
                continue
            if run is None:
                skipped["no run in this project's routing log"] += 1
            elif not run.completed:
                skipped["run did not complete"] += 1
            elif rules.as_score(ev.score) is None:
                skipped["no score"] += 1
            elif name in untrusted and agreement.is_judge_record(ev):
                skipped["judge verdict not reviewed (judge below agreement threshold)"] += 1
            else:
                chosen.append((ev, run))
    return chosen


def _example(project: Path, ev: Any, run: Any, rec: RoutingDecision, skipped: Counter[str]) -> Example | None:
    """The example of one evaluated run, from its artifact (``None``, counted in
    ``skipped``, when the artifact is missing, outside the project or empty)."""
    from conductor_tui.core.review import artifact_dir, read_artifact

    folder = artifact_dir(project, rec)
    if folder is None:
        skipped["no artifact recorded"] += 1
        return None
    if not _inside(project, folder):
        skipped["artifact outside this project"] += 1
        return None
    if not (folder / "execution.json").is_file():
        skipped["artifact missing"] += 1
        return None
    inp, out = read_artifact(project, rec)
    if inp is None or out.startswith(_SENTINELS):
        skipped["artifact without input or output"] += 1
        return None
    ev_score = rules.as_score(ev.score)
    if ev_score is None:  # not reached: unscored evaluations were skipped ("no score")
        return None
    score = ev_score.value
    mode = rules.as_failure_mode(ev.failure_mode) if score == "poor" else None
    mode_s = str(getattr(mode, "value", mode)) if mode else None
    return Example(
        input_summary=ev.input_summary or rec.task_summary,
        input=inp,
        output=out,
        score=score,
        reasoning=(ev.reasoning or "").strip(),
        label=_label(score, mode_s),
        failure_mode=mode_s,
        task_type=ev.task_type or rec.task_type,
        ensemble=run.ensemble,
        routing_id=run.id,
        evaluation_id=ev.id,
        evaluator=ev.evaluator,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "all"


def export_training_data(
    store: Any,
    *,
    task_type: str | None = None,
    fmt: str = "jsonl",
    out_dir: str | Path | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the project's training triples (see the module docstring) into a new folder
    (default ``.llm-orc/training-data/<task type|all>-<timestamp>/``) and return what was
    written. Raises ``ValueError`` for an unknown format, ``OSError`` when it cannot write."""
    from conductor_tui.core.store import atomic_write_text

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    when = now or datetime.now(UTC)
    examples, skipped, untrusted = collect_examples(store, task_type=task_type)
    project = Path(store.project)
    if out_dir is None:
        stamp = when.strftime("%Y%m%d-%H%M%S")
        folder = project / ".llm-orc" / "training-data" / f"{_slug(task_type or 'all')}-{stamp}"
    else:
        folder = Path(out_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    name = "training-data.jsonl" if fmt == "jsonl" else "training-data.chatml.jsonl"
    data_file = folder / name
    lines = [json.dumps(ex.jsonl() if fmt == "jsonl" else ex.chatml(), ensure_ascii=False) for ex in examples]
    atomic_write_text(data_file, "".join(line + "\n" for line in lines))
    manifest = {
        "project": str(project),
        "created": when.isoformat(),
        "format": fmt,
        "task_type": task_type,
        "file": name,
        "examples": len(examples),
        "by_score": dict(Counter(ex.score for ex in examples)),
        "by_label": dict(Counter(ex.label for ex in examples)),
        "by_failure_mode": dict(Counter(ex.failure_mode for ex in examples if ex.failure_mode)),
        "by_task_type": dict(Counter(ex.task_type or "(untyped)" for ex in examples)),
        "by_ensemble": dict(Counter(ex.ensemble for ex in examples)),
        "skipped": dict(skipped),
        "untrusted_judges": untrusted,
        "source": "evaluations.jsonl + routing-log.jsonl + artifacts of this project only",
    }
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return ExportResult(folder, data_file, manifest, examples)
