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
recording and transitions); :mod:`conductor_tui.core.designer_bodies` builds the artifacts'
bodies; this module writes, lists and updates them.
No Textual, no engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core import locations, rules
from conductor_tui.core.designer_bodies import (
    FEEDBACK_TYPES,
    OUTPUT_LIMIT,
    PER_MODEL_VALUES,
    SAMPLE_LIMIT,
    dominant_failure_mode,
    feedback_body,
    parse_per_model,
    per_model_of,
    per_model_summary,
    request_body,
    revision_evaluation_data,
    sample_evaluations,
)
from conductor_tui.core.records import TaskProfiles
from conductor_tui.core.store import atomic_write_text

__all__ = [  # the artifact bodies are built in designer_bodies; reachable here too
    "FEEDBACK_TYPES",
    "OUTPUT_LIMIT",
    "PER_MODEL_VALUES",
    "SAMPLE_LIMIT",
    "Artifact",
    "Designer",
    "ListResult",
    "dag_shape",
    "designer_dir",
    "dominant_failure_mode",
    "feedback_body",
    "notes_text",
    "parse_per_model",
    "per_model_of",
    "per_model_summary",
    "request_body",
    "revision_evaluation_data",
    "sample_evaluations",
]

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
TRIGGERS = (
    "user-request",
    "plan-gap",
    "adaptive-observation",
    "calibration-failed",
)


def designer_dir(project: str | os.PathLike[str]) -> Path:
    """``<project>/.llm-orc/conductor/designer``."""
    return locations.project_llm_orc_dir(project) / DESIGNER_DIR


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return (s or "untitled")[:48]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
            "# conductor-tui → Ensemble Designer: an ensemble request or feedback artifact.\n"
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
