"""The conductor's rules as pure functions (the terms are in docs/GLOSSARY.md).

Every number comes from :class:`~conductor_tui.core.records.RoutingThresholds` (the
routing config), never from a constant here:

================================  =================================  ==========
rule                              threshold field                    spec value
================================  =================================  ==========
calibration window                ``calibration_period``             5
established sampling rate         ``sampling_rate_established``      0.15
trust: uses (strictly more)       ``trusted_threshold_uses``         20
trust: acceptable-or-good ratio   ``trusted_threshold_good_ratio``   0.8 (>)
repetition threshold              ``repetition_threshold``           3
calibration fail (poor count)     ``calibration_fail_poor``          2
global promotion (good count)     ``promotion_global_good``          3
library promotion (good count)    ``promotion_library_good``         5
LoRA candidate (poor count)       ``lora_poor_threshold``            3
LoRA dominant failure-mode share  ``lora_dominant_share``            0.66
complexity floor                  ``complexity_min_subtasks`` /      5 / 3
                                  ``complexity_min_delegable``
local → Claude token ratio        ``local_to_claude_token_ratio``    1.2
ratio refinement samples          ``ratio_min_samples``              3
prepared-Claude minimum           ``preparation_min_tokens``         500
================================  =================================  ==========

Scores, phases and categories may be given as enum members or as the strings found
in files ("Good", "calibration" …); they are normalised here. No I/O, no Textual.

Where each rule lives: ``scores`` (evaluation counts), ``phases`` (calibration, fallback,
lifecycle status, sampling), ``gates`` (promotion, LoRA), ``delegability`` (taxonomy, DAG
test), ``triage`` (decision tree, repetition, complexity floor), ``savings`` (token ratio,
Claude-token estimate, prepared Claude), ``sizes`` (model-size ceiling), ``ranges``
(threshold ranges). Every name is re-exported here: callers use ``core.rules.X``.
"""

from __future__ import annotations

from conductor_tui.core.records import Delegability, Phase
from conductor_tui.core.rules.delegability import (
    AGENT_DELEGABLE_TYPES,
    CLAUDE_ONLY_CRITERIA,
    DAG_CONDITION_NAMES,
    DAG_CONDITIONS,
    ENSEMBLE_DELEGABLE_TYPES,
    dag_category,
    dag_failed_conditions,
    dag_uncertain_conditions,
    default_category,
    task_type_key,
)
from conductor_tui.core.rules.gates import (
    LoraCandidate,
    PromotionReadiness,
    lora_candidate,
    promotion_readiness,
)
from conductor_tui.core.rules.phases import (
    CalibrationOutcome,
    EvaluationDecision,
    FallbackDecision,
    LifecycleStatus,
    calibration_fallback,
    calibration_outcome,
    lifecycle_phase,
    lifecycle_status,
    needs_evaluation,
    status_from_tracker,
    walk_evidence,
)
from conductor_tui.core.rules.ranges import (
    THRESHOLD_RANGES,
    threshold_problem,
    thresholds_problems,
)
from conductor_tui.core.rules.savings import (
    PreparationSavings,
    PreparationSavingsFields,
    TokenRatio,
    TokenSavings,
    TokenSavingsFields,
    default_ratio,
    estimate_claude_tokens,
    estimate_local_tokens,
    is_interim_claude,
    preparation_savings,
    ratio_value,
    ratios_by_task_type,
    refine_ratio,
    should_prepare,
    token_savings,
)
from conductor_tui.core.rules.scores import (
    ScoreCounts,
    count_scores,
)
from conductor_tui.core.rules.sizes import (
    EnsembleSize,
    ModelSize,
    model_size,
    parameter_billions,
)
from conductor_tui.core.rules.triage import (
    PlanningDecision,
    RepetitionAssessment,
    TriageDecision,
    adaptive_design_trigger,
    complexity_floor,
    repetition_assessment,
    triage,
)
from conductor_tui.core.vocab import as_delegability, as_failure_mode, as_phase, as_score

__all__ = [
    "AGENT_DELEGABLE_TYPES",
    "CLAUDE_ONLY_CRITERIA",
    "CalibrationOutcome",
    "DAG_CONDITIONS",
    "DAG_CONDITION_NAMES",
    "Delegability",
    "ENSEMBLE_DELEGABLE_TYPES",
    "EnsembleSize",
    "EvaluationDecision",
    "FallbackDecision",
    "LifecycleStatus",
    "LoraCandidate",
    "ModelSize",
    "Phase",
    "PlanningDecision",
    "PreparationSavings",
    "PreparationSavingsFields",
    "PromotionReadiness",
    "RepetitionAssessment",
    "ScoreCounts",
    "THRESHOLD_RANGES",
    "TokenRatio",
    "TokenSavings",
    "TokenSavingsFields",
    "TriageDecision",
    "adaptive_design_trigger",
    "as_delegability",
    "as_failure_mode",
    "as_phase",
    "as_score",
    "calibration_fallback",
    "calibration_outcome",
    "complexity_floor",
    "count_scores",
    "dag_category",
    "dag_failed_conditions",
    "dag_uncertain_conditions",
    "default_category",
    "default_ratio",
    "estimate_claude_tokens",
    "estimate_local_tokens",
    "is_interim_claude",
    "lifecycle_phase",
    "lifecycle_status",
    "lora_candidate",
    "model_size",
    "needs_evaluation",
    "parameter_billions",
    "preparation_savings",
    "promotion_readiness",
    "ratio_value",
    "ratios_by_task_type",
    "refine_ratio",
    "repetition_assessment",
    "should_prepare",
    "status_from_tracker",
    "walk_evidence",
    "task_type_key",
    "threshold_problem",
    "thresholds_problems",
    "token_savings",
    "triage",
]
