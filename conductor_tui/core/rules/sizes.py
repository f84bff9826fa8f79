"""The model-size ceiling: parameter counts, each agent's size level and an ensemble's verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conductor_tui.core.records import (
    RoutingThresholds,
)


def parameter_billions(parameter_size: Any = None, model: str | None = None) -> tuple[float | None, str]:
    """(billions of parameters, source) from Ollama's ``parameter_size`` (``"14.8B"``,
    ``"999.89M"``) — else from the model's size tag (``qwen3:14b``) — else ``(None, "unknown")``."""

    text = str(parameter_size or "").strip().upper()
    m = re.fullmatch(r"([\d.]+)\s*([KMBT]?)", text)
    if m:
        try:
            value = float(m.group(1))
        except ValueError:
            value = None
        if value is not None:
            scale = {"K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3, "": 1e-9}[m.group(2)]
            return value * scale, "ollama"
    if model:
        tag = re.search(r"[:\-_](\d+(?:\.\d+)?)([bm])\b", model.lower())
        if tag:
            value = float(tag.group(1)) * (1.0 if tag.group(2) == "b" else 1e-3)
            return value, "name"
    return None, "unknown"


@dataclass(frozen=True)
class ModelSize:
    """One LLM agent's model against the model-size ceiling. ``nominal`` is the size class (14.8B is a
    14B model, 7.6B a 7B one): ``level`` is ``ok`` (≤ small_model_max_b), ``large`` (above it:
    reserved for synthesis across 4+ upstream outputs), ``over-ceiling`` (above
    model_ceiling_b: refused for delegation) or ``unknown``."""

    agent: str
    model: str
    billions: float | None
    source: str
    level: str

    @property
    def nominal(self) -> int | None:
        import math

        return math.floor(self.billions + 0.05) if self.billions is not None else None

    def label(self) -> str:
        size = f"{self.billions:.1f}B" if self.billions is not None else "size unknown"
        return f"{self.agent}: {self.model} ({size})"


def model_size(agent: str, model: str, parameter_size: Any, thresholds: RoutingThresholds) -> ModelSize:
    billions, source = parameter_billions(parameter_size, model)
    level = "unknown"
    if billions is not None:
        import math

        nominal = math.floor(billions + 0.05)
        level = (
            "over-ceiling"
            if nominal > thresholds.model_ceiling_b
            else "large"
            if nominal > thresholds.small_model_max_b
            else "ok"
        )
    return ModelSize(agent, model, billions, source, level)


@dataclass(frozen=True)
class EnsembleSize:
    """The model-size ceiling for one ensemble: its agents' model sizes and the user's override
    (a top-level ``conductor: {allow_large_models: true}`` in the ensemble file)."""

    ensemble: str
    models: tuple[ModelSize, ...]
    allow_large: bool = False

    @property
    def large(self) -> list[ModelSize]:
        return [m for m in self.models if m.level == "large"]

    @property
    def over_ceiling(self) -> list[ModelSize]:
        return [m for m in self.models if m.level == "over-ceiling"]

    @property
    def refused(self) -> bool:
        return bool(self.over_ceiling) and not self.allow_large

    @property
    def level(self) -> str:
        if self.over_ceiling:
            return "over-ceiling"
        return "large" if self.large else "ok"

    def message(self, thresholds: RoutingThresholds | None = None) -> str:
        t = thresholds or RoutingThresholds()
        if self.over_ceiling:
            names = ", ".join(m.label() for m in self.over_ceiling)
            if self.allow_large:
                return (
                    f"Above the {t.model_ceiling_b:g}B ceiling (allowed by the ensemble's override): {names}"
                )
            return (
                f"Ensemble '{self.ensemble}' uses a model above the {t.model_ceiling_b:g}B ceiling ({names}): "
                "refused for delegation (model-size ceiling) — compose smaller models, or set "
                "`conductor: {allow_large_models: true}` in the ensemble to override."
            )
        if self.large:
            names = ", ".join(m.label() for m in self.large)
            return (
                f"Above {t.small_model_max_b:g}B ({names}): larger models are reserved for synthesis across "
                "4+ upstream outputs — prefer a swarm of ≤7B models (model-size ceiling)."
            )
        return ""
