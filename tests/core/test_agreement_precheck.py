"""The report skips validating evaluations only when no pair can exist: whenever
:func:`may_have_pairs` says no, the full agreement report has no pairs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core.agreement import agreement_report, may_have_pairs
from conductor_tui.core.store import ProjectStore


def _write(root: Path, lines: list[str]) -> ProjectStore:
    d = root / ".llm-orc" / "evaluations"
    d.mkdir(parents=True, exist_ok=True)
    (d / "evaluations.jsonl").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return ProjectStore(root)


def _ev(i: int, **extra: object) -> str:
    return json.dumps(
        {"id": f"ev-{i}", "routing_id": f"rd-{i % 5}", "ensemble": "e", "score": "good", **extra}
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, False),
        ({"evaluator": "human"}, False),
        ({"evaluator": " Claude "}, True),
        ({"evaluator": "judge"}, True),
        ({"evaluator": 7}, True),
        ({"judge_score": "poor"}, True),
        ({"judge_score": "n/a"}, True),  # a maybe: the full pass decides
    ],
)
def test_the_precheck_sees_every_judge_verdict(tmp_path: Path, extra: dict, expected: bool) -> None:
    store = _write(tmp_path, [_ev(1), _ev(2, **extra), "{broken"])
    assert may_have_pairs(store.evaluations_path) is expected


def test_a_corrupt_line_naming_a_judge_counts_as_maybe(tmp_path: Path) -> None:
    store = _write(tmp_path, [_ev(1), '{"evaluator": "claude", "score": '])
    assert may_have_pairs(store.evaluations_path)


def test_a_missing_file_has_no_pairs(tmp_path: Path) -> None:
    assert not may_have_pairs(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("seed", range(20))
def test_no_pairs_whenever_the_precheck_says_so(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(60):
        extra: dict = {}
        if rng.random() < 0.03:
            extra["evaluator"] = rng.choice(["claude", "human", "Judge", None])
        if rng.random() < 0.03:
            extra["judge_score"] = rng.choice(["good", "poor", None])
        extra["score"] = rng.choice(["good", "poor", "acceptable", None])
        lines.append(_ev(i, **extra))
    store = _write(tmp_path, lines)
    pairs = agreement_report(list(store.read_evaluations(0).records)).pairs
    if not may_have_pairs(store.evaluations_path):
        assert pairs == []
    if pairs:
        assert may_have_pairs(store.evaluations_path)
