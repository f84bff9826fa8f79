"""What a designer artifact says: the bodies of ensemble requests and feedback.

:func:`request_body` (``request_type: new | revision``) and :func:`feedback_body`
(``calibration_summary | poor_evaluation | promotion_candidate``) build the spec's keys
from the logs: sample evaluations with the run's output, the dominant failure mode,
the per-model verdicts of a complementary ensemble (``per_model``) and its union accuracy.
:mod:`conductor_tui.core.designer` writes, lists and updates the files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.records import Evaluation, Score

FEEDBACK_TYPES = ("calibration_summary", "poor_evaluation", "promotion_candidate")
SAMPLE_LIMIT = 3
OUTPUT_LIMIT = 1500


def _plain(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


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
