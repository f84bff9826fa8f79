"""The handoff to the Ensemble Designer (see the glossary: designer).

The conductor does not compose ensembles; it writes **artifacts** the designer reads:

* an **ensemble request** (``request_type: new | revision``) — task type, delegability,
  DAG test, sample inputs, expected output format, repetition count, evaluation data for a
  revision, context;
* a **feedback** artifact (``feedback_type: calibration_summary | poor_evaluation |
  promotion_candidate``) — ensemble, score counts, dominant failure mode, sample
  evaluations, a recommendation (and per-model correctness for complementary ensembles).

One YAML file per artifact under ``<project>/.llm-orc/conductor/designer/``
(``requests/<id>.yaml``, ``feedback/<id>.yaml``): the spec's keys first, then the
conductor's bookkeeping (``id``, ``created``, ``trigger``, ``state`` …). Files are written
atomically; a state change rewrites the file (the artifact is a message, not a log).

**States.** A request is ``proposed`` (the conductor recommends it: adaptive observation,
a failed calibration — the person has not yet approved the handoff) or
``requested`` (the person approved: a ``create-ensemble`` plan row approved, an explicit
request, ``design approve``); ``declined`` by the person; then, derived from the project,
``answered`` (a new request: an ensemble now exists for the task type; a revision: the
ensemble's file changed since) or ``rejected`` (the task profile says ``design_rejected``).
Feedback is ``sent`` (information for the designer; it needs no answer).

The triggers live in :class:`~conductor_tui.core.loop.Conductor` (the one home for
recording and transitions); this module builds, writes, lists and updates artifacts.
No Textual, no engine.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core import locations, rules
from conductor_tui.core.records import Evaluation, Score, TaskProfiles
from conductor_tui.core.store import atomic_write_text

DESIGNER_DIR = Path("conductor") / "designer"
REQUESTS = "requests"
FEEDBACK = "feedback"

PROPOSED, REQUESTED, DECLINED, ANSWERED, REJECTED, SENT = (
    "proposed",
    "requested",
    "declined",
    "answered",
    "rejected",
    "sent",
)
OPEN_STATES = (PROPOSED, REQUESTED)
FEEDBACK_TYPES = ("calibration_summary", "poor_evaluation", "promotion_candidate")
TRIGGERS = (
    "user-request",
    "plan-gap",
    "adaptive-observation",
    "calibration-failed",
)
SAMPLE_LIMIT = 3
OUTPUT_LIMIT = 1500


def designer_dir(project: str | os.PathLike[str]) -> Path:
    """``<project>/.llm-orc/conductor/designer``."""
    return locations.project_llm_orc_dir(project) / DESIGNER_DIR


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return (s or "untitled")[:48]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


@dataclass
class Artifact:
    """One designer artifact as read from its file, with its live state."""

    kind: str  # "request" | "feedback"
    id: str
    path: Path
    data: dict[str, Any]
    state: str

    @property
    def subject(self) -> str:
        """The task type (requests) or the ensemble (feedback)."""
        if self.kind == "request":
            return str(self.data.get("task_type") or "?")
        return str(self.data.get("ensemble") or "?")

    @property
    def type(self) -> str:
        return str(self.data.get("request_type") or self.data.get("feedback_type") or "?")

    @property
    def created(self) -> str:
        return str(self.data.get("created") or "")

    def summary(self) -> dict[str, Any]:
        """The JSON a CLI verb prints: the artifact's spec fields with id, state, path."""
        return {**self.data, "kind": self.kind, "id": self.id, "state": self.state, "path": str(self.path)}


@dataclass
class ListResult:
    artifacts: list[Artifact] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable files (path: reason)

    def requests(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == "request"]

    def feedback(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == "feedback"]

    def open_request(self, task_type: str, request_type: str = "new") -> Artifact | None:
        key = rules.task_type_key(task_type)
        for a in reversed(self.requests()):
            if a.state not in OPEN_STATES or a.type != request_type:
                continue
            if a.subject in (task_type, key) or rules.task_type_key(a.subject) == key:
                return a
        return None

    def open_revision(self, ensemble: str) -> Artifact | None:
        for a in reversed(self.requests()):
            if a.type == "revision" and a.state in OPEN_STATES and a.data.get("ensemble") == ensemble:
                return a
        return None

    def feedback_for(self, evaluation_id: str | None, feedback_type: str) -> Artifact | None:
        if not evaluation_id:
            return None
        for a in self.feedback():
            if a.type == feedback_type and a.data.get("evaluation_id") == evaluation_id:
                return a
        return None


# --------------------------------------------------------------------------- building


def _output_of(artifact: str | None) -> str | None:
    """The final output of a run from its ``execution.json`` (deliverable, else the last
    agent's response), or ``None``."""
    if not artifact:
        return None
    path = Path(artifact)
    if path.is_dir():
        path = path / "execution.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("deliverable"), str):
        return data["deliverable"][:OUTPUT_LIMIT]
    raw_results = data.get("results")
    results: dict[Any, Any] = raw_results if isinstance(raw_results, dict) else {}
    raw_order = data.get("execution_order")
    order: list[Any] = raw_order if isinstance(raw_order, list) else list(results)
    for name in reversed(order):
        r = results.get(name) if isinstance(name, str) else None
        if isinstance(r, dict) and isinstance(r.get("response"), str):
            return r["response"][:OUTPUT_LIMIT]
    return None


def sample_evaluations(
    evaluations: Iterable[Evaluation], artifacts: dict[str, str] | None = None, *, poor_first: bool = True
) -> list[dict[str, Any]]:
    """Up to three ``{input, output, score, reasoning}`` entries (poor ones first)."""
    evs = list(evaluations)
    if poor_first:
        evs.sort(key=lambda e: rules.as_score(e.score) is not Score.POOR)
    out = []
    for ev in evs[:SAMPLE_LIMIT]:
        output = _output_of((artifacts or {}).get(ev.routing_id or ""))
        entry: dict[str, Any] = {
            "input": ev.input_summary or "",
            "output": output if output is not None else "",
            "score": _plain(ev.score),
            "reasoning": ev.reasoning or "",
        }
        if ev.failure_mode:
            entry["failure_mode"] = _plain(ev.failure_mode)
        out.append(entry)
    return out


def dominant_failure_mode(evaluations: Iterable[Evaluation]) -> str | None:
    modes = Counter(
        str(_plain(e.failure_mode))
        for e in evaluations
        if rules.as_score(e.score) is Score.POOR and e.failure_mode
    )
    top = modes.most_common(2)
    if not top or (len(top) > 1 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def per_model_summary(evaluations: Iterable[Evaluation]) -> dict[str, dict[str, Any]]:
    """Per-model correctness of a complementary ensemble: for each model,
    how often it was right, plus the union accuracy (any model right) and the
    contradiction rate (the models disagreed) over the evaluations that name models."""
    counts: dict[str, Counter[str]] = {}
    union = contradictions = n = 0
    for ev in evaluations:
        pm = per_model_of(ev)
        if not pm:
            continue
        n += 1
        values = list(pm.values())
        union += any(v == "correct" for v in values)
        contradictions += len(set(values)) > 1
        for model, verdict in pm.items():
            counts.setdefault(model, Counter())[verdict] += 1
    if not n:
        return {}
    out: dict[str, dict[str, Any]] = {
        m: {
            "correct": c["correct"],
            "incorrect": c["incorrect"],
            "accuracy": round(c["correct"] / max(1, c["correct"] + c["incorrect"]), 3),
        }
        for m, c in sorted(counts.items())
    }
    out["_ensemble"] = {
        "evaluations": n,
        "union_accuracy": round(union / n, 3),
        "contradiction_rate": round(contradictions / n, 3),
    }
    return out


PER_MODEL_VALUES = {
    "correct": "correct",
    "right": "correct",
    "yes": "correct",
    "true": "correct",
    "incorrect": "incorrect",
    "wrong": "incorrect",
    "no": "incorrect",
    "false": "incorrect",
}


def parse_per_model(items: Iterable[str] | dict[str, Any] | None) -> dict[str, str]:
    """``["qwen3:4b=correct", "llama3.2:3b=incorrect"]`` (or a mapping) → ``{model: verdict}``.
    Raises ``ValueError`` with the offending item on a bad value."""
    out: dict[str, str] = {}
    if not items:
        return out
    pairs = items.items() if isinstance(items, dict) else (_split_pair(i) for i in items)
    for model, verdict in pairs:
        v = PER_MODEL_VALUES.get(str(verdict).strip().lower())
        if not str(model).strip() or v is None:
            raise ValueError(f"per-model verdict {model}={verdict}: use MODEL=correct or MODEL=incorrect")
        out[str(model).strip()] = v
    return out


def _split_pair(item: str) -> tuple[str, str]:
    model, sep, verdict = str(item).rpartition("=")
    if not sep:
        raise ValueError(f"per-model verdict {item!r}: use MODEL=correct or MODEL=incorrect")
    return model, verdict


def per_model_of(ev: Evaluation) -> dict[str, str]:
    raw = getattr(ev, "per_model", None)
    if not isinstance(raw, dict):
        return {}
    try:
        return parse_per_model(raw)
    except ValueError:
        return {}


def request_body(
    request_type: str,
    task_type: str,
    *,
    delegability_category: Any = None,
    dag_test_result: Any = None,
    sample_inputs: Iterable[str] = (),
    expected_output_format: str | None = None,
    repetition_count: int | None = None,
    evaluation_data: dict[str, Any] | None = None,
    context: str = "",
) -> dict[str, Any]:
    """The spec's ensemble-request artifact, keys in the spec's order."""
    seen: list[str] = []
    for s in sample_inputs:
        s = (s or "").strip()
        if s and s not in seen:
            seen.append(s)
    body: dict[str, Any] = {
        "request_type": request_type,
        "task_type": task_type,
        "delegability_category": _plain(delegability_category) or _plain(rules.default_category(task_type)),
        "dag_test_result": _plain(dag_test_result),
        "sample_inputs": seen[:5],
        "expected_output_format": expected_output_format,
        "repetition_count": repetition_count,
    }
    if request_type == "revision" or evaluation_data:
        body["evaluation_data"] = evaluation_data or {}
    body["context"] = context
    return body


def revision_evaluation_data(
    evaluations: list[Evaluation], artifacts: dict[str, str] | None = None
) -> dict[str, Any]:
    poor = [e for e in evaluations if rules.as_score(e.score) is Score.POOR]
    outputs = [o for o in (_output_of((artifacts or {}).get(e.routing_id or "")) for e in poor) if o]
    data: dict[str, Any] = {
        "scores": [_plain(rules.as_score(e.score)) for e in evaluations if rules.as_score(e.score)],
        "dominant_failure_mode": dominant_failure_mode(evaluations),
        "sample_poor_outputs": outputs[:SAMPLE_LIMIT]
        or [e.reasoning for e in poor[:SAMPLE_LIMIT] if e.reasoning],
    }
    pm = per_model_summary(evaluations)
    if pm:
        data["per_model"] = pm
    return data


def feedback_body(
    feedback_type: str,
    ensemble: str,
    evaluations: list[Evaluation],
    *,
    recommendation: str,
    artifacts: dict[str, str] | None = None,
    counted: list[Evaluation] | None = None,
) -> dict[str, Any]:
    """The spec's feedback artifact. ``scores`` count ``counted`` (default: the samples'
    ``evaluations``); ``sample_evaluations`` are drawn from ``evaluations``."""
    if feedback_type not in FEEDBACK_TYPES:
        raise ValueError(f"feedback_type must be one of {', '.join(FEEDBACK_TYPES)}")
    counts = rules.count_scores(e.score for e in (counted if counted is not None else evaluations))
    body: dict[str, Any] = {
        "feedback_type": feedback_type,
        "ensemble": ensemble,
        "scores": {"good": counts.good, "acceptable": counts.acceptable, "poor": counts.poor},
        "dominant_failure_mode": dominant_failure_mode(counted if counted is not None else evaluations),
        "sample_evaluations": sample_evaluations(
            evaluations, artifacts, poor_first=feedback_type != "promotion_candidate"
        ),
        "recommendation": recommendation,
    }
    pm = per_model_summary(counted if counted is not None else evaluations)
    if pm:
        body["per_model"] = pm
    return body


# --------------------------------------------------------------------------- files


class Designer:
    """Read and write the designer artifacts of one project."""

    def __init__(self, project: str | os.PathLike[str], *, now: Callable[[], datetime] | None = None):
        self.project = Path(project)
        self.root = designer_dir(self.project)
        self.now = now or (lambda: datetime.now(UTC))

    def _new_id(self, prefix: str, subject: str, kind: str) -> str:
        stamp = self.now().astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        base = f"{prefix}-{stamp}-{_slug(subject)}-{kind}"
        folder = self.root / (REQUESTS if prefix == "req" else FEEDBACK)
        candidate, n = base, 2
        while (folder / f"{candidate}.yaml").exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def _write(self, folder: str, artifact_id: str, data: dict[str, Any]) -> Path:
        path = self.root / folder / f"{artifact_id}.yaml"
        text = (
            "# conductor-tui → Ensemble Designer (seed 001, Ensemble Request Protocol).\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        )
        atomic_write_text(path, text)
        return path

    def write_request(
        self,
        body: dict[str, Any],
        *,
        trigger: str,
        state: str = PROPOSED,
        **meta: Any,
    ) -> Artifact:
        aid = self._new_id("req", str(body.get("task_type") or "?"), str(body.get("request_type")))
        data = {
            **body,
            "id": aid,
            "created": _iso(self.now()),
            "trigger": trigger,
            "state": state,
            **{k: v for k, v in meta.items() if v is not None},
        }
        path = self._write(REQUESTS, aid, data)
        return Artifact("request", aid, path, data, state)

    def write_feedback(self, body: dict[str, Any], *, trigger: str, **meta: Any) -> Artifact:
        aid = self._new_id("fb", str(body.get("ensemble") or "?"), str(body.get("feedback_type")))
        data = {
            **body,
            "id": aid,
            "created": _iso(self.now()),
            "trigger": trigger,
            "state": SENT,
            **{k: v for k, v in meta.items() if v is not None},
        }
        path = self._write(FEEDBACK, aid, data)
        return Artifact("feedback", aid, path, data, SENT)

    def set_state(self, artifact_id: str, state: str, *, note: str | None = None) -> Artifact:
        """The person approves (``requested``) or declines a request."""
        if state not in (REQUESTED, DECLINED, PROPOSED):
            raise ValueError(f"a request's state can be set to requested or declined, not {state!r}")
        path = self.root / REQUESTS / f"{artifact_id}.yaml"
        data = self._read(path)
        if data is None:
            raise ValueError(f"no ensemble request {artifact_id!r} in {self.root / REQUESTS}")
        data["state"] = state
        data["state_changed"] = _iso(self.now())
        if note:
            data["note"] = note
        self._write(REQUESTS, artifact_id, data)
        return Artifact("request", artifact_id, path, data, state)

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) else None

    def list(
        self,
        *,
        profiles: TaskProfiles | None = None,
        has_ensemble: Callable[[str], bool] | None = None,
        revised: Callable[[str, str | None], bool] | None = None,
    ) -> ListResult:
        """Every artifact, oldest first, with its live state (see the module docstring).

        ``has_ensemble(task_type)``: an ensemble now serves the task type (a new request is
        answered); ``revised(ensemble, digest_at_request)``: the ensemble's file changed
        since a revision request (it is answered)."""
        out = ListResult()
        table = profiles.profiles if profiles is not None else {}
        for kind, folder in (("request", REQUESTS), ("feedback", FEEDBACK)):
            directory = self.root / folder
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.yaml")):
                data = self._read(path)
                if data is None:
                    out.problems.append(f"{path}: not a readable YAML mapping — skipped")
                    continue
                state = str(data.get("state") or (PROPOSED if kind == "request" else SENT))
                if kind == "request" and state in OPEN_STATES:
                    tt = str(data.get("task_type") or "")
                    prof = table.get(tt) or table.get(rules.task_type_key(tt))
                    if data.get("request_type") == "revision":
                        ens = data.get("ensemble")
                        if ens and revised is not None and revised(str(ens), data.get("ensemble_digest")):
                            state = ANSWERED
                    elif prof is not None and prof.design_rejected:
                        state = REJECTED
                    elif tt and has_ensemble is not None and has_ensemble(tt):
                        state = ANSWERED
                out.artifacts.append(Artifact(kind, str(data.get("id") or path.stem), path, data, state))
        out.artifacts.sort(key=lambda a: (a.created, a.id))
        return out


# --------------------------------------------------------------------------- design knowledge


NOTES = "notes"


def dag_shape(data: Any) -> dict[str, Any]:
    """A compact description of an ensemble's DAG from its YAML mapping: agent count,
    script / LLM agents, fan-out, the deepest dependency chain, models and profiles."""
    agents = [a for a in (data.get("agents") or []) if isinstance(a, dict)] if isinstance(data, dict) else []
    names = {str(a.get("name")): a for a in agents}

    def deps(a: dict[str, Any]) -> list[str]:
        out = []
        for d in a.get("depends_on") or []:
            name = d.get("agent_name") if isinstance(d, dict) else d
            if name in names:
                out.append(str(name))
        return out

    memo: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in memo:
            return memo[name]
        if name in seen:
            return 0
        a = names[name]
        memo[name] = 1 + max((depth(d, seen | {name}) for d in deps(a)), default=0)
        return memo[name]

    scripts = [str(a.get("name")) for a in agents if a.get("script")]
    models = sorted({str(a["model"]) for a in agents if a.get("model")})
    profiles = sorted({str(a["model_profile"]) for a in agents if a.get("model_profile")})
    return {
        "agents": len(agents),
        "script_agents": len(scripts),
        "llm_agents": len(agents) - len(scripts),
        "fan_out": [str(a.get("name")) for a in agents if a.get("fan_out")],
        "depth": max((depth(n) for n in names), default=0),
        "models": models,
        "profiles": profiles,
        "pattern": _pattern(agents, scripts, models, profiles),
    }


def _pattern(agents: list[dict[str, Any]], scripts: list[str], models: list[str], profiles: list[str]) -> str:
    if len(agents) <= 1:
        return "single-agent"
    if scripts and any(a.get("fan_out") for a in agents):
        return "multi-stage"
    if scripts:
        return "multi-stage"
    if len(set(models) | set(profiles)) >= 2 and len(agents) <= 3:
        return "complementary-or-swarm"
    return "swarm"


def notes_text(notes: dict[str, Any]) -> str:
    """The notes as lines for a person."""
    lines = [f"Design notes — {notes.get('task_type')}"]
    for ens in notes.get("ensembles", []):
        sc = ens.get("scores", {})
        shape = ens.get("dag") or {}
        lines.append(
            f"  {ens['name']}: {ens.get('phase')} · {ens.get('uses', 0)} uses · "
            f"{sc.get('good', 0)} good / {sc.get('acceptable', 0)} acceptable / {sc.get('poor', 0)} poor · "
            f"{shape.get('pattern', '?')} ({shape.get('agents', '?')} agents)"
        )
        for fm, n in (ens.get("failure_modes") or {}).items():
            lines.append(f"    failure mode {fm}: {n}")
    for w in notes.get("what_worked", []):
        lines.append(f"  worked: {w}")
    for f in notes.get("what_failed", []):
        lines.append(f"  failed: {f}")
    if notes.get("design_rejected"):
        lines.append(f"  design rejected: {notes.get('rejection_reason')}")
    lines.append(f"  interim Claude debt: {notes.get('interim_claude_count', 0)}")
    return "\n".join(lines)
