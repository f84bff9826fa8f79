"""Pydantic models of every conductor file.

Reading is tolerant:

* unknown fields are kept (``extra="allow"``) and written back unchanged;
* missing optional fields take defaults;
* near-miss enum values are normalised (``"Calibration"`` → ``calibrate``,
  ``"agent delegable"`` → ``agent-delegable``); a value that still matches nothing
  is kept as the plain string rather than rejecting the record;
* the spec's placeholder strings (``"null | …"``, ``"ISO-8601"``) load;
* timestamps parse with or without a zone (a naive timestamp is taken as UTC).

This module never imports Textual.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from conductor_tui.core.config_records import (  # re-exported: the YAML files' models
    THRESHOLD_EXTENSION_KEYS,
    RoutingConfig,
    RoutingThresholds,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.enums import (  # re-exported: the building blocks
    _ALIASES,
    _DATE_LIKE,
    _NULLS,
    MAX_TOKENS,
    Delegability,
    EvalPhase,
    FailureMode,
    Phase,
    RowStatus,
    RunStatus,
    Score,
    _is_placeholder,
    enum_normaliser,
    norm_token,
)
from conductor_tui.core.record_types import (  # re-exported
    DelegabilityField,
    EvalPhaseField,
    FailureModeField,
    Flag,
    NullableStr,
    PhaseField,
    Record,
    RowStatusField,
    ScoreField,
    SignedTokenCount,
    Timestamp,
    TokenCount,
    _checked_timestamp,
    _null_string,
    _to_bool,
    as_datetime,
    line_identity,
    new_id,
    normalise_enum,
    now_utc,
    parse_timestamp,
)

__all__ = [
    "DagTestField",
    "DagTestResult",
    "Delegability",
    "DelegabilityField",
    "EvalPhase",
    "EvalPhaseField",
    "Evaluation",
    "FailureMode",
    "FailureModeField",
    "Flag",
    "MAX_TOKENS",
    "NullableStr",
    "Phase",
    "PhaseField",
    "PlanRow",
    "Record",
    "RefId",
    "RoutingConfig",
    "RoutingDecision",
    "RoutingThresholds",
    "RowStatus",
    "RowStatusField",
    "RunStatus",
    "Score",
    "ScoreField",
    "SignedTokenCount",
    "StandingAuthorization",
    "THRESHOLD_EXTENSION_KEYS",
    "TaskProfile",
    "TaskProfiles",
    "Timestamp",
    "TokenCount",
    "WorkflowPlan",
    "_ALIASES",
    "_DATE_LIKE",
    "_NULLS",
    "_checked_timestamp",
    "_id_or_none",
    "_is_placeholder",
    "_null_string",
    "_to_bool",
    "as_datetime",
    "enum_normaliser",
    "line_identity",
    "new_id",
    "norm_token",
    "normalise_enum",
    "now_utc",
    "parse_timestamp",
]

# --------------------------------------------------------------------------- records


class DagTestResult(Record):
    """The four-condition DAG decomposability test (see the glossary: DAG test)."""

    dag: Flag = None
    script: Flag = None
    fanout: Flag = None
    synthesis: Flag = None

    def passed(self) -> bool:
        return all(v is True for v in (self.dag, self.script, self.fanout, self.synthesis))

    def marks(self) -> str:
        """Four marks for a table cell: ✓ pass, ✗ fail, · unknown."""
        return "".join(
            "✓" if v is True else "✗" if v is False else "·"
            for v in (self.dag, self.script, self.fanout, self.synthesis)
        )


def _dag_test(value: Any) -> Any:
    if isinstance(value, str):
        return _null_string(value) if _null_string(value) is None else value
    return value


DagTestField = Annotated[DagTestResult | None, BeforeValidator(_dag_test)]


def _accept_dag_test(data: Any) -> Any:
    """The conductor skill writes the DAG test as ``dag_test``; the spec's record says
    ``dag_test_result``. Both are read (the spec's name wins when both are present)."""
    if isinstance(data, dict) and "dag_test" in data:
        data = dict(data)
        value = data.pop("dag_test")
        if data.get("dag_test_result") in (None, ""):
            data["dag_test_result"] = value
    return data


class _DropsNulls(Record):
    """A record whose conductor-tui fields (named in ``_DROP_NULL``) are left out of a
    written line while null, so declaring them keeps lines written without them unchanged."""

    _DROP_NULL: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        drop = self._DROP_NULL
        return {k: v for k, v in data.items() if v is not None or k not in drop}


class RoutingDecision(_DropsNulls):
    """One line of ``routing-log.jsonl``.

    Besides the spec's fields, conductor-tui writes ``id`` (what evaluations link to
    through ``routing_id``), ``ensemble``, ``status`` of the run, ``artifact`` and,
    for non-decision entries (config changes, rollbacks), ``event``.
    """

    id: str | None = None
    timestamp: Timestamp = Field(default_factory=now_utc)
    event: str | None = None  # None = a routing decision; "config-change", "rollback", …
    task_type: str | None = None
    delegability_category: DelegabilityField = None
    dag_test_result: DagTestField = None
    task_summary: str | None = None
    routed_to: NullableStr = None
    reason: NullableStr = None
    evaluation_summary: NullableStr = None
    standing_auth: Flag = False
    # Token savings quantification (see the glossary: token savings)
    total_tokens_local: TokenCount | None = None
    estimated_claude_tokens: TokenCount | None = None
    tokens_saved: SignedTokenCount | None = None
    claude_tokens: TokenCount | None = None  # actual Claude tokens when Claude handled it
    # Ensemble-prepared Claude (see the glossary)
    preparation_tokens_local: TokenCount | None = None
    judgment_tokens_claude: TokenCount | None = None
    estimated_full_claude_tokens: TokenCount | None = None
    preparation_savings: SignedTokenCount | None = None
    # conductor-tui bookkeeping
    ensemble: str | None = None
    status: str | None = None  # completed | failed | cancelled
    artifact: str | None = None
    session: str | None = None
    plan_id: str | None = None
    row_id: str | None = None
    # Written by the conductor loop and the row runner (left out of a line when null). Typed
    # ``Any`` where older lines held them as free-form extras, so those lines still validate.
    error: Any = None
    failure: Any = None  # infrastructure | model | config | cancelled
    duration_ms: Any = None
    request_id: Any = None  # the handoff request the run answered
    claude_only_criterion: Any = None
    interim: Any = None
    routing_id: Any = None  # on flag events: the decision flagged
    config_version: Any = None  # config-change / rollback events
    previous_version: Any = None
    from_phase: Any = Field(default=None, alias="from")  # lifecycle events
    to: Any = None
    ensemble_digest: Any = None
    invocation_number: Any = None  # the ensemble's completed-run count at this run
    sampled_for_evaluation: Any = None  # the sampling decision recorded in Establish
    phase: Any = None  # the evaluation phase the run was recorded in
    context: Any = None  # what the row runner gave the ensemble (glossary: context strategy)
    role: Any = None  # the role the row was routed by
    propose_judge: Any = None  # a propose–judge run: its shape and Claude-judge tokens
    # Lifecycle events (left out of a line when null): a generality assessment, a promotion,
    # a demotion, a config rollback.
    general: Any = None
    assessment: Any = None
    assessed_by: Any = None
    destination: Any = None  # promotion: global | library
    copied: Any = None
    skipped: Any = None
    tier: Any = None  # demotion: global | library
    removed: Any = None
    rolled_back_to: Any = None
    purpose: Any = None  # claude-overhead events: what the Claude tokens were spent on
    usage: Any = None  # … and the provider's usage figures

    _DROP_NULL = frozenset(
        {
            "general",
            "assessment",
            "assessed_by",
            "destination",
            "copied",
            "skipped",
            "tier",
            "removed",
            "rolled_back_to",
            "purpose",
            "usage",
        }
    )

    @model_validator(mode="before")
    @classmethod
    def _skill_keys(cls, data: Any) -> Any:
        return _accept_dag_test(data)

    @property
    def is_decision(self) -> bool:
        return self.event in (None, "", "routing-decision", "routing")

    @property
    def is_local(self) -> bool:
        """Handled by a local ensemble (not Claude)."""
        target = (self.routed_to or "").strip().lower()
        if not target:
            return False
        return not target.startswith("claude")

    @property
    def is_prepared_claude(self) -> bool:
        return self.preparation_tokens_local is not None


def _id_or_none(value: Any) -> Any:
    """An id never holds whitespace: text like the spec's ``"links to routing-log entry"``
    is a placeholder, not a reference."""
    value = _null_string(value)
    if isinstance(value, str):
        words = value.split()  # str.split() and str.isspace() know the same whitespace
        return words[0] if len(words) == 1 else None
    return value


RefId = Annotated[str | None, BeforeValidator(_id_or_none)]


class Evaluation(_DropsNulls):
    """One line of ``evaluations.jsonl`` (see the glossary: evaluation)."""

    _DROP_NULL = frozenset({"review", "judge_model"})

    id: str | None = None
    timestamp: Timestamp = Field(default_factory=now_utc)
    routing_id: RefId = None
    ensemble: str | None = None
    task_type: str | None = None
    invocation_number: TokenCount | None = None
    phase: EvalPhaseField = None
    score: ScoreField = None
    reasoning: str | None = None
    failure_mode: FailureModeField = None
    input_summary: str | None = None
    output_length: TokenCount | None = None
    user_feedback: NullableStr = None
    calibration_context: NullableStr = None
    # Who scored: "human", "claude" (judge) …; the judge's own verdict is kept when
    # the person overrides it.
    evaluator: str | None = None
    judge_score: ScoreField = None
    judge_reasoning: str | None = None
    judge_tokens: TokenCount | None = None
    session: str | None = None
    # each model's verdict for a complementary ensemble ({model: correct | incorrect})
    per_model: Any = None
    judge_agreement: Any = None
    # Written by the judge pass (left out of a line when null): "pending" until the person
    # agrees or overrides; the model that judged.
    review: Any = None
    judge_model: Any = None


class PlanRow(_DropsNulls):
    """One subtask of a workflow plan."""

    _DROP_NULL = frozenset(
        {
            "workflow",
            "phase_type",
            "inputs",
            "context_strategy",
            "distill_with",
            "output",
            "context_files",
            "triage_reason",
            "triage_message",
            "uncertain_conditions",
            "above_repetition_threshold",
            "repetition_message",
            "rationale",
            "capacity",
        }
    )

    id: str = Field(default_factory=lambda: new_id("r-"))
    description: str = ""
    task_type: str | None = None
    delegability_category: DelegabilityField = None
    dag_test_result: DagTestField = None
    phase: str | None = None  # the plan's own phase name ("Research", "Build", …)
    handler: str | None = None  # ensemble name | "claude" | "create-ensemble" | "role:<name>"
    role: NullableStr = None  # routing role (core.roles): planner, backend, tests …
    claude_only_criterion: NullableStr = None
    depends_on: list[str] = Field(default_factory=list)
    expected_repetitions: TokenCount | None = None
    estimated_local_tokens: TokenCount | None = None
    estimated_claude_tokens: TokenCount | None = None
    preparation_ensemble: NullableStr = None  # ensemble-prepared Claude
    status: RowStatusField = RowStatus.PENDING
    note: NullableStr = None
    original_handler: NullableStr = None
    decided_at: Timestamp = None
    routing_id: NullableStr = None  # the run / routing decision it produced
    route_reason: NullableStr = None  # why the conductor routed it so (fallback, standing auth …)
    decided_by: NullableStr = None  # "person" | "standing-auth" (approved by the rule)
    # Rows from a workflow template (left out of a line when null; see the glossary: context
    # strategy). Typed ``Any`` as RoutingDecision's, so hand-edited lines still validate.
    workflow: Any = None  # the template's name
    phase_type: Any = None  # ensemble | single | routed | parallel
    inputs: Any = None  # row ids whose outputs it reads explicitly
    context_strategy: Any = None  # full | distilled | files …
    distill_with: Any = None  # the ensemble distilling the context
    output: Any = None  # where the phase writes its output
    context_files: Any = None  # files given as context
    # Rows from the planner (left out when null): the triage's verdict, a gap's repetition
    # assessment, the planner's rationale.
    triage_reason: Any = None
    triage_message: Any = None
    uncertain_conditions: Any = None  # the DAG-test conditions the planner was unsure of
    above_repetition_threshold: Any = None
    repetition_message: Any = None
    rationale: Any = None
    # The capacity flag the conductor set on a row routed to an ensemble that would spill or
    # queue ({"verdict": …}); null (left out) once it no longer applies.
    capacity: Any = None

    @model_validator(mode="before")
    @classmethod
    def _skill_keys(cls, data: Any) -> Any:
        return _accept_dag_test(data)


class WorkflowPlan(_DropsNulls):
    """One line of ``workflow-plans.jsonl``: one revision of one plan.

    The log is append-only; each decision appends a new revision with the same
    ``id`` and ``revision`` + 1. The newest revision of an id is the plan.
    """

    id: str = Field(default_factory=lambda: new_id("plan-"))
    revision: int = 1
    timestamp: Timestamp = Field(default_factory=now_utc)
    meta_task: str = ""
    session: str | None = None
    source: str | None = None  # "session", "file", "cockpit", "claude" …
    status: str = "proposed"  # proposed | decided | running | complete | abandoned
    subtasks: list[PlanRow] = Field(default_factory=list)
    change: str | None = None  # what this revision changed, for the history
    # Written by the planner (left out of a line when null).
    phases: Any = None  # the planner's phases
    planning_tokens: Any = None  # what planning cost in Claude tokens
    estimated_savings: Any = None
    worthwhile: Any = None  # the complexity floor's verdict
    complexity: Any = None  # … and its reason
    ensembles_to_create: Any = None  # gaps: task types with no runnable ensemble
    planner_notes: Any = None

    _DROP_NULL = frozenset(
        {
            "phases",
            "planning_tokens",
            "estimated_savings",
            "worthwhile",
            "complexity",
            "ensembles_to_create",
            "planner_notes",
        }
    )
