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
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from conductor_tui.core.record_types import (  # re-exported: the building blocks
    _ALIASES,
    _DATE_LIKE,
    _NULLS,
    MAX_TOKENS,
    Delegability,
    DelegabilityField,
    EvalPhase,
    EvalPhaseField,
    FailureMode,
    FailureModeField,
    Flag,
    NullableStr,
    Phase,
    PhaseField,
    Record,
    RowStatus,
    RowStatusField,
    RunStatus,
    Score,
    ScoreField,
    SignedTokenCount,
    Timestamp,
    TokenCount,
    _checked_timestamp,
    _is_placeholder,
    _null_string,
    _to_bool,
    as_datetime,
    enum_normaliser,
    line_identity,
    new_id,
    norm_token,
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
    if isinstance(value, str) and (not value.strip() or any(c.isspace() for c in value.strip())):
        return None
    return value.strip() if isinstance(value, str) else value


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


class StandingAuthorization(Record):
    task_type: str
    ensemble: str
    granted_date: Timestamp = Field(default_factory=now_utc)


class RoutingThresholds(Record):
    """``routing_thresholds`` of the routing config.

    The first five are the spec's keys. The rest are conductor-tui extensions holding the
    spec's other numbers (promotion 3/5 good, LoRA 3 poor, complexity floor 5/3, the 1.2
    token ratio …) so that the rules never hard-code a threshold. The store writes an
    extension key to the YAML only when it was set (see :data:`THRESHOLD_EXTENSION_KEYS`),
    so a saved config keeps the spec's shape unless the user tuned one of them.
    """

    calibration_period: int = 5
    sampling_rate_established: float = 0.15
    trusted_threshold_uses: int = 20
    trusted_threshold_good_ratio: float = 0.8
    repetition_threshold: int = 3
    # conductor-tui extensions (optional, defaulted; spec numbers)
    calibration_fail_poor: int = 2  # 2+ poor in a calibration window = fail; 1 = mixed
    promotion_global_good: int = 3  # promotion gate: global
    promotion_library_good: int = 5  # promotion gate: library (+ generality assessment)
    lora_poor_threshold: int = 3  # 3+ poor with one dominant failure mode
    lora_dominant_share: float = 0.66  # "dominant" = this share of the poor evaluations
    complexity_min_subtasks: int = 5  # fewer subtasks → skip planning
    complexity_min_delegable: int = 3  # fewer delegable → skip planning
    local_to_claude_token_ratio: float = 1.2  # estimated_claude = local / ratio
    ratio_min_samples: int = 3  # decisions per side before the ratio is refined
    preparation_min_tokens: int = 500  # ensemble-prepared Claude below this is not worth it
    judge_agreement_min: float = 0.7  # judge agreeing with the person less often → back to the person
    judge_agreement_min_samples: int = 5  # judge–person pairs before the rule applies
    ratio_band_default: float = 0.25  # ± share around the default ratio when too few samples
    small_model_max_b: float = 7.0  # model-size ceiling: agents above this size (billions) are flagged
    model_ceiling_b: float = 14.0  # model-size ceiling: above this, refused for delegation unless overridden


THRESHOLD_EXTENSION_KEYS: tuple[str, ...] = (
    "calibration_fail_poor",
    "promotion_global_good",
    "promotion_library_good",
    "lora_poor_threshold",
    "lora_dominant_share",
    "complexity_min_subtasks",
    "complexity_min_delegable",
    "local_to_claude_token_ratio",
    "ratio_min_samples",
    "preparation_min_tokens",
    "judge_agreement_min",
    "judge_agreement_min_samples",
    "ratio_band_default",
    "small_model_max_b",
    "model_ceiling_b",
)


class RoutingConfig(Record):
    """``routing-config.yaml``."""

    version: int = 1
    starter_kit_offered: Flag = False
    standing_authorizations: list[StandingAuthorization] = Field(default_factory=list)
    routing_thresholds: RoutingThresholds = Field(default_factory=RoutingThresholds)

    def authorization_for(self, task_type: str, ensemble: str | None = None) -> StandingAuthorization | None:
        for auth in self.standing_authorizations:
            if auth.task_type == task_type and (ensemble is None or auth.ensemble == ensemble):
                return auth
        return None


class TaskProfile(Record):
    """One task type's entry in ``task-profiles.yaml``."""

    phase: PhaseField = None
    ensemble: NullableStr = None
    invocation_count: int = 0
    good_count: int = 0
    acceptable_count: int = 0
    poor_count: int = 0
    last_used: Timestamp = None
    design_requested: Timestamp = None
    interim_claude_count: int = 0
    design_rejected: Flag = False
    rejection_reason: NullableStr = None
    delegability_category: DelegabilityField = None


class TaskProfiles(BaseModel):
    """``task-profiles.yaml``: a mapping of task type → :class:`TaskProfile`."""

    model_config = ConfigDict(defer_build=True)

    profiles: dict[str, TaskProfile] = Field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> TaskProfiles:
        out: dict[str, TaskProfile] = {}
        for key, value in (data or {}).items():
            out[str(key)] = TaskProfile.model_validate(value if isinstance(value, dict) else {})
        return cls(profiles=out)

    def to_mapping(self) -> dict[str, Any]:
        return {k: v.to_json_dict() for k, v in self.profiles.items()}
