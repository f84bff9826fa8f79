"""The delegability taxonomy and the DAG test (docs/GLOSSARY.md: delegability, DAG test)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from conductor_tui.core.records import (
    DagTestResult,
    Delegability,
)

AGENT_DELEGABLE_TYPES: frozenset[str] = frozenset(
    {
        "extraction",
        "classification",
        "summarization",
        "template-fill",
        "mechanical-transform",
        "boilerplate-generation",
    }
)
ENSEMBLE_DELEGABLE_TYPES: frozenset[str] = frozenset(
    {
        "cross-file-analysis",
        "evidence-gathering",
        "factual-knowledge-retrieval",
        "tool-based-scanning",
        "decomposable-multi-step-reasoning",
    }
)
CLAUDE_ONLY_CRITERIA: dict[str, str] = {
    "recursive-reconsideration": "recursive reconsideration",
    "interacting-constraints": "interacting constraints",
    "holistic-judgment": "holistic judgment",
    "novel-insight": "novel insight",
    "aesthetic-judgment": "aesthetic judgment",
}
DAG_CONDITIONS: tuple[str, ...] = ("dag", "script", "fanout", "synthesis")
DAG_CONDITION_NAMES: dict[str, str] = {
    "dag": "DAG-decomposable",
    "script": "script-absorbable",
    "fanout": "fan-out-parallelizable",
    "synthesis": "structured-synthesizable",
}


def task_type_key(task_type: str | None) -> str:
    """``"Cross file analysis"`` → ``cross-file-analysis``."""
    return re.sub(r"[\s_]+", "-", (task_type or "").strip().lower())


def default_category(task_type: str | None) -> Delegability | None:
    """The delegability taxonomy: known agent-delegable types, ensemble-delegable candidates
    (which still need the DAG test) and Claude-only criteria; ``None`` when unknown."""
    key = task_type_key(task_type)
    if key in AGENT_DELEGABLE_TYPES:
        return Delegability.AGENT
    if key in ENSEMBLE_DELEGABLE_TYPES:
        return Delegability.ENSEMBLE
    if key in CLAUDE_ONLY_CRITERIA:
        return Delegability.CLAUDE
    return None


def _dag(result: DagTestResult | Mapping[str, Any] | None) -> DagTestResult | None:
    if result is None or isinstance(result, DagTestResult):
        return result
    return DagTestResult.model_validate(dict(result))


def dag_failed_conditions(result: DagTestResult | Mapping[str, Any] | None) -> list[str]:
    """Names of the conditions that explicitly failed (``False``)."""
    r = _dag(result)
    if r is None:
        return []
    return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS if getattr(r, c) is False]


def dag_uncertain_conditions(result: DagTestResult | Mapping[str, Any] | None) -> list[str]:
    """Names of the conditions not yet decided (``None``)."""
    r = _dag(result)
    if r is None:
        return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS]
    return [DAG_CONDITION_NAMES[c] for c in DAG_CONDITIONS if getattr(r, c) is None]


def dag_category(result: DagTestResult | Mapping[str, Any] | None) -> Delegability | None:
    """The DAG test's four conditions: all four hold → ensemble-delegable; any fails →
    Claude-only; otherwise (a condition undecided) → ``None``: uncertain, ask the user."""
    r = _dag(result)
    if r is None:
        return None
    if r.passed():
        return Delegability.ENSEMBLE
    if dag_failed_conditions(r):
        return Delegability.CLAUDE
    return None
