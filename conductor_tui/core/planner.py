"""From Claude's structured decomposition to a :class:`WorkflowPlan` (the deterministic part).

Claude (``providers.anthropic.ClaudeProvider.plan``) proposes phases and subtasks with
task types, delegability categories, DAG-test answers, dependencies, expected repetitions,
Claude-only criteria and preparation/judgment splits (:class:`PlannerOutput`).  This
module does the rest with the conductor's rules (see the glossary: triage, DAG
test, repetition threshold, ensemble-prepared Claude):

* each subtask goes through :func:`conductor_tui.core.rules.triage` against the runnable
  ensembles that match its task type → an ensemble name, ``claude``, or, for delegable
  work without an ensemble, ``create-ensemble`` (a gap, Design phase);
* the repetition threshold gives each gap its cost-benefit line and priority;
* ensemble-prepared Claude is kept only where :func:`rules.should_prepare` allows it
  (separable preparation ≥ ``preparation_min_tokens``, and an ensemble exists or the
  pattern repeats); otherwise the preparation row is folded back into Claude-direct;
* the complexity floor says whether the plan is worth it at all;
* savings are estimated (local rows' Claude-equivalent tokens) net of the planning tokens.

Pure functions, no I/O, no Textual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor_tui.core import rules
from conductor_tui.core.records import (
    DagTestResult,
    Delegability,
    PlanRow,
    RoutingConfig,
    RoutingThresholds,
    TaskProfiles,
    WorkflowPlan,
    norm_token,
)

CLAUDE = "claude"
CREATE_ENSEMBLE = "create-ensemble"

# --------------------------------------------------------------------------- Claude's output


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class DagAnswers(_Model):
    dag: bool | None = None
    script: bool | None = None
    fanout: bool | None = None
    synthesis: bool | None = None


class PlannedSubtask(_Model):
    """One subtask as Claude proposed it (before matching to ensembles)."""

    id: str
    description: str
    phase: str | None = None
    task_type: str = "unknown"
    delegability_category: str = Delegability.CLAUDE.value
    dag_test: DagAnswers | None = None
    depends_on: list[str] = Field(default_factory=list)
    expected_repetitions: int = 1
    claude_only_criterion: str | None = None
    prepares: str | None = None  # id of the Claude-only subtask this one prepares (ensemble-prepared Claude)
    estimated_claude_tokens: int | None = None
    rationale: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _deps(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str | int):
            return [str(value)]
        return [str(v) for v in value]

    @field_validator("delegability_category", mode="before")
    @classmethod
    def _norm_category(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = norm_token(value)
            aliases = {
                "agent": "agent-delegable",
                "ensemble": "ensemble-delegable",
                "claude": "claude-only",
                "claude-direct": "claude-only",
            }
            return aliases.get(key, key)
        return value

    @field_validator("expected_repetitions", mode="before")
    @classmethod
    def _reps(cls, value: Any) -> Any:
        return 1 if value in (None, "", 0) else value


class PlannedPhase(_Model):
    name: str
    goal: str | None = None


class PlannerOutput(_Model):
    """Claude's structured plan (the ``submit_plan`` tool input)."""

    meta_task: str = ""
    phases: list[PlannedPhase] = Field(default_factory=list)
    subtasks: list[PlannedSubtask] = Field(default_factory=list)
    notes: str | None = None


# --------------------------------------------------------------------------- ensembles


@dataclass(frozen=True)
class AvailableEnsemble:
    """What the planner needs to know of an ensemble (from the engine's catalog)."""

    name: str
    description: str = ""
    runnable: bool = True
    task_types: tuple[str, ...] = ()


# Stems that connect a task type to ensemble names ("extraction" → "extract-endpoints").
_STEMS: dict[str, tuple[str, ...]] = {
    "extraction": ("extract",),
    "classification": ("classif", "categori", "triage", "label"),
    "summarization": ("summar", "digest", "condense"),
    "template-fill": ("template", "fill"),
    "mechanical-transform": ("transform", "format", "lint", "wrap"),
    "boilerplate-generation": ("boilerplate", "scaffold"),
    "cross-file-analysis": ("cross-file", "crossfile", "multi-file"),
    "evidence-gathering": ("evidence", "gather"),
    "factual-knowledge-retrieval": ("retriev", "knowledge", "lookup"),
    "tool-based-scanning": ("scan", "lint", "static-analysis"),
    "decomposable-multi-step-reasoning": ("reason",),
}


def _stems(task_type: str) -> tuple[str, ...]:
    key = rules.task_type_key(task_type)
    if key in _STEMS:
        return _STEMS[key]
    words = [w for w in re.split(r"[-\s]+", key) if len(w) >= 4]
    return tuple(w[: max(4, len(w) - 3)] for w in words)


def matching_ensembles(task_type: str, ensembles: Iterable[AvailableEnsemble]) -> list[str]:
    """Runnable ensembles whose declared task types, name or description fit ``task_type``
    (declared task types first, then name matches, then description matches)."""
    key = rules.task_type_key(task_type)
    stems = _stems(task_type)
    declared, by_name, by_description = [], [], []
    for ens in ensembles:
        if not ens.runnable:
            continue
        if key in {rules.task_type_key(t) for t in ens.task_types}:
            declared.append(ens.name)
            continue
        name = ens.name.lower()
        if key and (key in name or any(s in name for s in stems)):
            by_name.append(ens.name)
            continue
        text = ens.description.lower()
        if key and (key in text or key.replace("-", " ") in text):
            by_description.append(ens.name)
    return declared + by_name + by_description


# --------------------------------------------------------------------------- build


@dataclass
class PlanBuild:
    """The plan, plus what the cockpit shows around it."""

    plan: WorkflowPlan
    worthwhile: bool
    floor_reason: str
    gaps: list[str] = field(default_factory=list)  # task types to create ensembles for, by priority
    estimated_savings: int = 0  # Claude tokens the local rows would save
    planning_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    usage: Any = None  # the planner call's usage, when Claude planned it

    @property
    def net_savings(self) -> int:
        return self.estimated_savings - self.planning_tokens


def _criterion(sub: PlannedSubtask, decision: Any, dag: DagTestResult | None) -> str | None:
    """The irreducible Claude-only criterion: Claude's, else the failed DAG conditions."""
    if decision.category != Delegability.CLAUDE:
        return None
    if sub.claude_only_criterion:
        return sub.claude_only_criterion
    failed = rules.dag_failed_conditions(dag)
    return f"fails the DAG test ({', '.join(failed)})" if failed else None


def _as_output(output: PlannerOutput | Mapping[str, Any]) -> PlannerOutput:
    return output if isinstance(output, PlannerOutput) else PlannerOutput.model_validate(dict(output))


def build_plan(
    output: PlannerOutput | Mapping[str, Any],
    *,
    ensembles: Sequence[AvailableEnsemble] = (),
    config: RoutingConfig | None = None,
    profiles: TaskProfiles | None = None,
    meta_task: str | None = None,
    session: str | None = None,
    source: str = "claude",
    planning_tokens: int = 0,
) -> PlanBuild:
    """Turn Claude's decomposition into plan rows (all ``pending``: the person decides)."""
    out = _as_output(output)
    config = config or RoutingConfig()
    thresholds = config.routing_thresholds
    profiles = profiles or TaskProfiles()
    notes: list[str] = []

    subtasks = list(out.subtasks)
    rows: dict[str, PlanRow] = {}
    gap_priority: dict[str, int] = {}
    for sub in subtasks:
        rows[sub.id] = _triaged_row(sub, ensembles, config, profiles, gap_priority)
    dropped = _apply_preparation(subtasks, rows, thresholds, notes, gap_priority)
    final = _final_rows(subtasks, rows, dropped)

    delegable = sum(
        1 for r in final if r.delegability_category in (Delegability.AGENT, Delegability.ENSEMBLE)
    )
    floor = rules.complexity_floor(len(final), delegable, thresholds)
    savings = sum(
        (r.estimated_claude_tokens or 0) * max(1, r.expected_repetitions or 1)
        for r in final
        if r.handler != CLAUDE
    )
    gaps = sorted(gap_priority, key=lambda t: (-gap_priority[t], t))
    plan = WorkflowPlan(
        meta_task=(meta_task or out.meta_task or "").strip(),
        session=session,
        source=source,
        subtasks=final,
        change="proposed by Claude" if source == "claude" else f"proposed ({source})",
    )
    _set_plan_extras(plan, out, planning_tokens, savings, floor, gaps)
    if not floor.plan:
        notes.append(floor.reason)
    return PlanBuild(
        plan=plan,
        worthwhile=floor.plan,
        floor_reason=floor.reason,
        gaps=gaps,
        estimated_savings=savings,
        planning_tokens=planning_tokens,
        notes=notes,
    )


def _set_plan_extras(
    plan: WorkflowPlan, out: PlannerOutput, planning_tokens: int, savings: int, floor: Any, gaps: list[str]
) -> None:
    """The plan's planner fields: phases, planning cost, estimated savings, the complexity floor's
    verdict, the ensembles to create and the planner's notes."""
    plan_extras = {
        "phases": [p.model_dump(exclude_none=True) for p in out.phases],
        "planning_tokens": planning_tokens,
        "estimated_savings": savings,
        "worthwhile": floor.plan,
        "complexity": floor.reason,
        "ensembles_to_create": gaps,
    }
    if out.notes:
        plan_extras["planner_notes"] = out.notes
    for key, value in plan_extras.items():
        setattr(plan, key, value)


def _triaged_row(
    sub: PlannedSubtask,
    ensembles: Sequence[AvailableEnsemble],
    config: RoutingConfig,
    profiles: TaskProfiles,
    gap_priority: dict[str, int],
) -> PlanRow:
    """One subtask through :func:`rules.triage`: its row, with the triage's reason and message.
    A gap (no runnable ensemble) becomes ``create-ensemble`` and raises ``gap_priority``."""
    thresholds = config.routing_thresholds
    dag = DagTestResult.model_validate(sub.dag_test.model_dump()) if sub.dag_test else None
    candidates = matching_ensembles(sub.task_type, ensembles)
    decision = rules.triage(
        sub.task_type,
        config=config,
        profiles=profiles,
        available_ensembles=candidates,
        category=sub.delegability_category,
        dag_test=dag,
        claude_only_criterion=sub.claude_only_criterion,
    )
    handler = decision.handler
    if decision.reason == "no-ensemble":
        handler = CREATE_ENSEMBLE
    elif decision.reason == "task-profile" and decision.handler not in candidates and ensembles:
        # The profile names an ensemble that is not runnable here: treat as a gap.
        handler = CREATE_ENSEMBLE
    est_claude = sub.estimated_claude_tokens
    row = PlanRow(
        id=sub.id,
        description=sub.description,
        task_type=sub.task_type,
        delegability_category=decision.category or sub.delegability_category,
        dag_test_result=dag,
        phase=sub.phase,
        handler=handler,
        claude_only_criterion=_criterion(sub, decision, dag),
        depends_on=list(sub.depends_on),
        expected_repetitions=sub.expected_repetitions,
        estimated_claude_tokens=est_claude,
        estimated_local_tokens=rules.estimate_local_tokens(est_claude, thresholds)
        if est_claude and handler != CLAUDE
        else None,
    )
    extras: dict[str, Any] = {"triage_reason": decision.reason, "triage_message": decision.message}
    if decision.uncertain_conditions:
        extras["uncertain_conditions"] = list(decision.uncertain_conditions)
    if handler == CREATE_ENSEMBLE:
        extras.update(_gap_extras(sub, profiles, thresholds))
        gap_priority[sub.task_type] = max(gap_priority.get(sub.task_type, 0), sub.expected_repetitions)
    if sub.rationale:
        extras["rationale"] = sub.rationale
    for key, value in extras.items():
        setattr(row, key, value)
    return row


def _gap_extras(sub: PlannedSubtask, profiles: TaskProfiles, thresholds: RoutingThresholds) -> dict[str, Any]:
    """A gap's repetition assessment (cross-session uses count through the task profile)."""
    profile = profiles.profiles.get(sub.task_type) or profiles.profiles.get(
        rules.task_type_key(sub.task_type)
    )
    rep = rules.repetition_assessment(
        sub.expected_repetitions,
        thresholds,
        prior_uses=profile.invocation_count if profile else 0,
        tokens_per_use=sub.estimated_claude_tokens,
    )
    return {"above_repetition_threshold": rep.above, "repetition_message": rep.message}


def _apply_preparation(
    subtasks: list[PlannedSubtask],
    rows: dict[str, PlanRow],
    thresholds: RoutingThresholds,
    notes: list[str],
    gap_priority: dict[str, int],
) -> dict[str, list[str]]:
    """Ensemble-prepared Claude: keep the split only where it pays (:func:`rules.should_prepare`);
    a preparation that does not is folded into its Claude row. Returns the folded rows'
    dependencies by id."""
    dropped: dict[str, list[str]] = {}
    for sub in subtasks:
        if not sub.prepares:
            continue
        target = rows.get(sub.prepares)
        prep = rows[sub.id]
        if target is None or target.delegability_category != Delegability.CLAUDE:
            notes.append(f"{sub.id}: prepares {sub.prepares!r}, which is not a Claude-only subtask")
            continue
        ensemble_exists = prep.handler not in (CLAUDE, CREATE_ENSEMBLE)
        est = sub.estimated_claude_tokens or 0
        if rules.should_prepare(
            est,
            ensemble_exists=ensemble_exists,
            expected_uses=sub.expected_repetitions,
            thresholds=thresholds,
        ):
            target.preparation_ensemble = prep.handler
            if sub.id not in target.depends_on:
                target.depends_on = [*target.depends_on, sub.id]
            prep.prepares = target.id  # type: ignore[attr-defined]  # PlanRow.prepares: an extra field (Record keeps unknown fields), not declared in records.py
            continue
        why = (
            f"preparation too small (~{est} < {thresholds.preparation_min_tokens} tokens)"
            if est < thresholds.preparation_min_tokens
            else "no preparation ensemble and the pattern is below the repetition threshold"
        )
        target.note = f"Claude-direct: {why}"
        notes.append(f"{sub.id} folded into {target.id}: {why}")
        dropped[sub.id] = list(prep.depends_on)
        if prep.handler == CREATE_ENSEMBLE and not any(
            r.task_type == prep.task_type and r.handler == CREATE_ENSEMBLE
            for rid, r in rows.items()
            if rid != sub.id and rid not in dropped
        ):
            gap_priority.pop(prep.task_type or "", None)
    return dropped


def _final_rows(
    subtasks: list[PlannedSubtask], rows: dict[str, PlanRow], dropped: dict[str, list[str]]
) -> list[PlanRow]:
    """The rows that stay, in order; a folded row's dependents inherit its dependencies."""
    by_id = {s.id for s in subtasks}
    final: list[PlanRow] = []
    for sub in subtasks:
        if sub.id in dropped:
            continue
        row = rows[sub.id]
        deps: list[str] = []
        for dep in row.depends_on:
            for d in dropped.get(dep, [dep]) if dep in dropped else [dep]:
                if d not in deps and d != row.id and (d in by_id or d in rows):
                    deps.append(d)
        row.depends_on = deps
        final.append(row)
    return final


def ensembles_from_catalog(
    catalog: Any, runnable: Mapping[str, bool] | None = None
) -> list[AvailableEnsemble]:
    """Adapt the engine's catalog (``engine.loader.load_catalog``) to :class:`AvailableEnsemble`.

    ``runnable``: name → verdict of ``check_runnable`` when known; a valid ensemble is
    otherwise assumed runnable (the run itself reports missing models)."""
    out: list[AvailableEnsemble] = []
    seen: set[str] = set()
    entries = catalog.all_entries() if hasattr(catalog, "all_entries") else list(catalog or [])
    for entry in entries:
        spec = getattr(entry, "spec", None) or getattr(entry, "ensemble", None)
        name = getattr(entry, "name", None) or getattr(spec, "name", None)
        if not name or name in seen:
            continue
        seen.add(name)
        valid = getattr(entry, "valid", True)
        ok = bool(valid) and (runnable.get(name, True) if runnable else True)
        description = getattr(spec, "description", "") or getattr(entry, "description", "") or ""
        out.append(AvailableEnsemble(name=name, description=str(description), runnable=ok))
    return out
