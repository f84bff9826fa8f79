"""Pydantic models of the conductor's two YAML files: ``routing-config.yaml`` (its
standing authorizations and routing thresholds) and ``task-profiles.yaml``.

Re-exported by :mod:`conductor_tui.core.records`, where the JSONL records live."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from conductor_tui.core.record_types import (
    DelegabilityField,
    Flag,
    NullableStr,
    PhaseField,
    Record,
    Timestamp,
    now_utc,
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
