"""Generated conductor logs whose right answers are known (issue 17 tests).

:func:`write_project` writes routing-log.jsonl, evaluations.jsonl and real llm-orc
``execution.json`` artifacts for a small project; :class:`Truth` holds what every
feature must find in them (export counts, judge agreement, savings figures and the exact
lines behind them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EV = ".llm-orc/evaluations"


@dataclass
class Truth:
    # export
    exportable: dict[str, int] = field(default_factory=dict)  # label → count (all task types)
    exportable_by_tt: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    # agreement: ensemble → (agreed, pairs)
    agreement: dict[str, tuple[int, int]] = field(default_factory=dict)
    agreement_tt: dict[str, tuple[int, int]] = field(default_factory=dict)
    agreement_fm: dict[str, tuple[int, int]] = field(default_factory=dict)
    judge_only: dict[str, list[str]] = field(default_factory=dict)  # ensemble → judged-only run ids
    # savings
    saved_lines: dict[int, int] = field(default_factory=dict)  # routing-log line → its saving
    local_tokens: dict[int, tuple[str, int]] = field(default_factory=dict)  # line → (task type, tokens)
    claude_tokens: dict[int, tuple[str, int]] = field(default_factory=dict)  # line → (task type, tokens)
    overhead_routing: dict[int, int] = field(default_factory=dict)
    overhead_evals: dict[int, int] = field(default_factory=dict)
    corrupt_routing_line: int = 0
    inputs: dict[str, str] = field(default_factory=dict)  # routing id → real input
    outputs: dict[str, str] = field(default_factory=dict)


def _artifact(project: Path, ensemble: str, stamp: str, inp: str, out: str) -> str:
    rel = f".llm-orc/artifacts/{ensemble}/{stamp}/execution.json"
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "ensemble": ensemble,
                "status": "completed",
                "input": {"data": inp},
                "results": {"worker": {"response": out, "status": "success"}},
                "metadata": {"usage": {"agents": {}, "totals": {}}},
            }
        )
    )
    return rel


def write_project(project: Path, other_project: Path) -> Truth:
    """The project (see the module docstring). ``other_project``: where one run's artifact
    lives (it must not be exported)."""
    d = project / EV
    d.mkdir(parents=True, exist_ok=True)
    truth = Truth()
    routes: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []

    def route(rec: dict[str, Any]) -> int:
        routes.append(rec)
        return len(routes)  # its 1-based line number

    def ev(rec: dict[str, Any]) -> int:
        evals.append(rec)
        return len(evals)

    # ---- extraction: ensemble "extract" — 6 runs, all with artifacts
    # judge + person on runs 1-5: agreed on 1,2,3 (good/good), overridden on 4 (judge good, person
    # poor hallucination), overridden on 5 (judge poor incomplete, person acceptable). run 6: judge only.
    plan = [
        ("good", None, "good", None, "agreed"),
        ("good", None, "good", None, "agreed"),
        ("good", None, "good", None, "agreed"),
        ("good", None, "poor", "hallucination", "overridden"),
        ("poor", "incomplete", "acceptable", None, "overridden"),
    ]
    for i in range(1, 7):
        rid = f"rd-ex{i}"
        inp, out = f"def f{i}(): pass  # source {i}", f"endpoint /f{i}"
        art = _artifact(project, "extract", f"20260101-10000{i}-000", inp, out)
        line = route(
            {
                "id": rid,
                "timestamp": f"2026-01-0{i}T10:00:00Z",
                "task_type": "extraction",
                "delegability_category": "agent-delegable",
                "task_summary": f"extract endpoints {i}",
                "routed_to": "extract",
                "ensemble": "extract",
                "status": "completed",
                "total_tokens_local": 1200,
                "artifact": art,
            }
        )
        truth.local_tokens[line] = ("extraction", 1200)
        truth.inputs[rid], truth.outputs[rid] = inp, out
        if i <= 5:
            jscore, jmode, pscore, pmode, agreed = plan[i - 1]
            ev(
                {
                    "id": f"ev-j{i}",
                    "routing_id": rid,
                    "ensemble": "extract",
                    "task_type": "extraction",
                    "score": jscore,
                    "failure_mode": jmode,
                    "reasoning": "judge says",
                    "evaluator": "claude",
                    "judge_score": jscore,
                    "judge_tokens": 100,
                    "review": "pending",
                }
            )
            truth.overhead_evals[len(evals)] = 100
            ev(
                {
                    "id": f"ev-p{i}",
                    "routing_id": rid,
                    "ensemble": "extract",
                    "task_type": "extraction",
                    "score": pscore,
                    "failure_mode": pmode,
                    "reasoning": f"person reflects on {i}",
                    "evaluator": "human",
                    "judge_score": jscore,
                    "judge_agreement": agreed,
                }
            )
        else:
            ev(
                {
                    "id": f"ev-j{i}",
                    "routing_id": rid,
                    "ensemble": "extract",
                    "task_type": "extraction",
                    "score": "good",
                    "reasoning": "judge only",
                    "evaluator": "claude",
                    "judge_score": "good",
                    "judge_tokens": 100,
                    "review": "pending",
                }
            )
            truth.overhead_evals[len(evals)] = 100
    truth.agreement["extract"] = (3, 5)
    truth.agreement_tt["extraction"] = (3, 5)
    # failure modes: person poor hallucination (run 4) → "hallucination"; judge poor incomplete
    # (run 5) → "incomplete"; runs 1-3 → "none"
    truth.agreement_fm.update({"none": (3, 3), "hallucination": (0, 1), "incomplete": (0, 1)})
    truth.judge_only["extract"] = ["rd-ex6"]
    # export of extraction: runs 1-5 person verdicts (good×3, poor:hallucination, acceptable) +
    # run 6 judge-only good (excluded once extract's judge is untrusted — 3/5 = 60% < 70%)

    # ---- tests: ensemble "gen-tests" — 4 runs; poor wrong-format x2, good x1; run 4 failed
    for i in range(1, 5):
        rid = f"rd-gt{i}"
        status = "completed" if i < 4 else "failed"
        inp, out = f"class C{i}: ...", f"def test_c{i}(): assert C{i}()"
        art = _artifact(project, "gen-tests", f"20260102-10000{i}-000", inp, out)
        line = route(
            {
                "id": rid,
                "timestamp": f"2026-01-0{i}T11:00:00Z",
                "task_type": "test-generation",
                "delegability_category": "ensemble-delegable",
                "task_summary": f"tests for C{i}",
                "routed_to": "gen-tests",
                "ensemble": "gen-tests",
                "status": status,
                "total_tokens_local": 2000,
                "tokens_saved": 1500 if status == "completed" else 0,
                "artifact": art,
            }
        )
        truth.saved_lines[line] = 1500 if status == "completed" else 0
        truth.inputs[rid], truth.outputs[rid] = inp, out
        score, mode = [
            ("poor", "wrong-format"),
            ("poor", "wrong-format"),
            ("good", None),
            ("poor", "incomplete"),
        ][i - 1]
        ev(
            {
                "id": f"ev-gt{i}",
                "routing_id": rid,
                "ensemble": "gen-tests",
                "task_type": "test-generation",
                "score": score,
                "failure_mode": mode,
                "reasoning": f"tests {i}",
                "evaluator": "human",
            }
        )
    # ---- one run whose artifact lives in another project; one without an artifact
    extra = [("rd-far", "far"), ("rd-none", None)]
    for n, (rid, kind) in enumerate(extra, start=1):
        art = None
        if kind == "far":
            art = str(other_project / ".llm-orc/artifacts/gen-tests/x/execution.json")
            (other_project / ".llm-orc/artifacts/gen-tests/x").mkdir(parents=True, exist_ok=True)
            (other_project / ".llm-orc/artifacts/gen-tests/x/execution.json").write_text(
                json.dumps({"input": {"data": "SECRET other project"}, "results": {"a": {"response": "x"}}})
            )
        rec = {
            "id": rid,
            "timestamp": f"2026-01-0{4 + n}T11:00:00Z",
            "task_type": "test-generation",
            "delegability_category": "ensemble-delegable",
            "routed_to": "gen-tests",
            "ensemble": "gen-tests",
            "status": "completed",
            "total_tokens_local": 2000,
            "tokens_saved": 1500,
        }
        if art:
            rec["artifact"] = art
        line = route(rec)
        truth.saved_lines[line] = 1500
        ev(
            {
                "id": f"ev-{rid}",
                "routing_id": rid,
                "ensemble": "gen-tests",
                "task_type": "test-generation",
                "score": "poor",
                "failure_mode": "wrong-format",
                "reasoning": "bad",
                "evaluator": "human",
            }
        )
    # an evaluation naming a run that is not in this project's log
    ev(
        {
            "id": "ev-ghost",
            "timestamp": "2025-12-01T00:00:00Z",  # before any run: links to none
            "routing_id": "rd-elsewhere",
            "ensemble": "gen-tests",
            "task_type": "test-generation",
            "score": "good",
            "reasoning": "from another project's run",
            "evaluator": "human",
        }
    )

    # ---- Claude-handled extraction tasks (the ratio band) and overhead
    for n, tokens in enumerate((800, 1000, 1200, 1500), start=1):
        line = route(
            {
                "id": f"rd-cl{n}",
                "timestamp": f"2026-01-0{n}T12:00:00Z",
                "task_type": "extraction",
                "delegability_category": "agent-delegable",
                "routed_to": "claude",
                "reason": "no-ensemble",
                "claude_tokens": tokens,
            }
        )
        truth.claude_tokens[line] = ("extraction", tokens)
    line = route(
        {"event": "claude-overhead", "task_type": "planning", "claude_tokens": 700, "routed_to": "claude"}
    )
    truth.overhead_routing[line] = 700
    (d / "routing-log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in routes) + "{not json\n")
    (d / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    truth.corrupt_routing_line = len(routes) + 1

    truth.exportable = {"good": 4, "acceptable": 1, "poor:hallucination": 1, "poor:wrong-format": 2}
    # extraction: good×3 (runs 1-3) + acceptable + poor:hallucination (+ judge-only good run 6 when trusted)
    truth.exportable_by_tt = {"extraction": 5, "test-generation": 3}
    truth.skipped = {
        "run did not complete": 1,
        "artifact outside this project": 1,
        "no artifact recorded": 1,
        "no run in this project's routing log": 1,
        "judge verdict not reviewed (judge below agreement threshold)": 1,
    }
    return truth
