"""Judge–human agreement: pairs, counts, Wilson intervals, and the rule that sends an
untrusted judge's verdicts back to the person."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from conductor_tui.core import review
from conductor_tui.core.agreement import agreement_report, judge_pairs, wilson
from conductor_tui.core.records import Evaluation, RoutingThresholds
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff.recording import record_judge_verdict
from tests.core.unique_logs import EV, write_project


@pytest.fixture
def project(tmp_path: Path):
    proj, other = tmp_path / "proj", tmp_path / "other"
    proj.mkdir()
    other.mkdir()
    return proj, write_project(proj, other)


def test_wilson_interval_matches_the_textbook_values() -> None:
    lo, hi = wilson(3, 5)
    assert lo == pytest.approx(0.2307, abs=1e-3) and hi == pytest.approx(0.8824, abs=1e-3)
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-3) and hi == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)


def test_agreement_per_ensemble_task_type_and_failure_mode(project) -> None:
    proj, truth = project
    evals = list(ProjectStore(proj).read_evaluations().records)
    rep = agreement_report(evals, RoutingThresholds())
    for name, (agreed, total) in truth.agreement.items():
        assert (rep.by_ensemble[name].agreed, rep.by_ensemble[name].total) == (agreed, total)
    for tt, (agreed, total) in truth.agreement_tt.items():
        assert (rep.by_task_type[tt].agreed, rep.by_task_type[tt].total) == (agreed, total)
    assert {k: (a.agreed, a.total) for k, a in rep.by_failure_mode.items()} == truth.agreement_fm
    assert "gen-tests" not in rep.by_ensemble  # the person alone scored those runs: no pairs
    assert set(rep.untrusted) == {"extract"}  # 3/5 = 60 % < 70 % with 5 pairs
    d = rep.to_dict()
    assert d["by_ensemble"]["extract"]["pairs"] == 5 and d["by_ensemble"]["extract"]["rate"] == 0.6
    assert d["by_ensemble"]["extract"]["ci95"][0] == pytest.approx(0.2307, abs=1e-3)
    # below the sample minimum the rule does not apply
    assert agreement_report(evals, RoutingThresholds(judge_agreement_min_samples=6)).untrusted == {}


def test_pairs_without_the_explicit_flag_compare_scores_and_latest_person_wins() -> None:
    evs = [
        Evaluation(routing_id="r1", ensemble="e", score="good", evaluator="claude"),
        Evaluation(routing_id="r1", ensemble="e", score="poor", failure_mode="off-topic", evaluator="human"),
        Evaluation(routing_id="r2", ensemble="e", score="good", evaluator="claude"),
        Evaluation(routing_id="r2", ensemble="e", score="poor", failure_mode="incomplete", evaluator="human"),
        Evaluation(routing_id="r2", ensemble="e", score="good", evaluator="human"),  # changed their mind
        Evaluation(routing_id="r3", ensemble="e", score="good", evaluator="human"),  # no judge
    ]
    pairs = judge_pairs(evs)
    assert [(p.key, p.agreed, p.failure_mode) for p in pairs] == [
        ("r1", False, "off-topic"),
        ("r2", True, "none"),
    ]


def _add(proj: Path, rec: dict) -> None:
    with (proj / EV / "evaluations.jsonl").open("a") as fh:
        fh.write(json.dumps(rec) + "\n")


def _add_run(proj: Path, rid: str) -> None:
    with (proj / EV / "routing-log.jsonl").open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "id": rid,
                    "timestamp": "2026-01-09T10:00:00Z",
                    "task_type": "extraction",
                    "routed_to": "extract",
                    "ensemble": "extract",
                    "status": "completed",
                    "total_tokens_local": 10,
                }
            )
            + "\n"
        )


def test_an_untrusted_judge_sends_its_verdicts_back_to_the_person(project) -> None:
    proj, truth = project
    store = ProjectStore(proj)
    # a session's own Claude evaluation (a finished record, not awaiting review)
    _add_run(proj, "rd-ex7")
    _add(
        proj,
        {
            "id": "ev-s7",
            "routing_id": "rd-ex7",
            "ensemble": "extract",
            "score": "good",
            "reasoning": "Claude evaluated it",
            "evaluator": "claude",
        },
    )
    state = review.load_review(store)
    queued = {q.routing_id: q for q in review.evaluation_queue(state)}
    assert "rd-ex7" in queued and queued["rd-ex7"].judge is not None
    assert "judge agreement 60% < 70%" in queued["rd-ex7"].reason
    assert "rd-ex6" in queued  # the pending judge-only verdict as well
    assert set(state.agreement.untrusted) == {"extract"}
    # while the judge is trusted the session's evaluation counts as done
    store.update_thresholds("trust the judge", judge_agreement_min=0.5)
    state = review.load_review(store)
    assert "rd-ex7" not in {q.routing_id for q in review.evaluation_queue(state)}


@dataclass(frozen=True)
class _Usage:
    total: int = 120


@dataclass
class _Verdict:
    score: str = "good"
    reflection: str = "looks complete"
    failure_mode: str | None = None
    usage: _Usage = _Usage()
    model: str = "claude-test"


def test_the_cockpit_judge_records_advice_only_for_an_untrusted_ensemble(project) -> None:
    proj, _truth = project
    store = ProjectStore(proj)
    _add_run(proj, "rd-ex8")
    ev = record_judge_verdict(proj, _Verdict(), ensemble="extract", store=store, routing_id="rd-ex8")
    assert ev.score is None and ev.judge_score is not None and "60%" in ev.model_extra["advisory"]
    written = list(store.read_evaluations().records)[-1]
    assert written.score is None and written.judge_score.value == "good"
    ev2 = record_judge_verdict(proj, _Verdict(), ensemble="gen-tests", store=store, routing_id="rd-gt3")
    assert ev2.score is not None and "advisory" not in ev2.model_extra


def test_report_json_carries_the_agreement(project, capsys, monkeypatch) -> None:
    from conductor_tui.cli import main

    monkeypatch.setenv("CONDUCTOR_TUI_NO_CACHE", "1")
    proj, truth = project
    assert main(["report", "--project", str(proj), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ja = out["judge_agreement"]
    assert ja["by_ensemble"]["extract"]["agreed"] == 3 and ja["by_ensemble"]["extract"]["pairs"] == 5
    assert ja["by_failure_mode"]["hallucination"] == {
        "agreed": 0,
        "overridden": 1,
        "pairs": 1,
        "rate": 0.0,
        "ci95": [0.0, pytest.approx(0.7935, abs=1e-3)],
    }
    assert ja["untrusted_ensembles"] == ["extract"]
    assert main(["report", "--project", str(proj)]) == 0
    text = capsys.readouterr().out
    assert "Judge–human agreement" in text and "back to you" in text


@pytest.mark.parametrize("workers", ["1", "2"])
def test_verdicts_that_name_only_their_run_count_for_the_runs_ensemble(project, monkeypatch, workers) -> None:
    """Evaluations without an ``ensemble`` field (the run's id is enough): the agreement is
    the run's ensemble's, not "(unknown)", and an untrusted judge still sends its verdicts
    back to the person, whether the log is read in one process or split across the cores."""
    proj, _truth = project
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    store = ProjectStore(proj)
    with_ensembles = review.load_review(store)
    assert set(with_ensembles.agreement.untrusted) == {"extract"}
    path = Path(store.evaluations_path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        if row.get("routing_id"):
            row.pop("ensemble", None)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    state = review.load_review(ProjectStore(proj))
    assert "(unknown)" not in state.agreement.by_ensemble
    assert {k: (a.agreed, a.total) for k, a in state.agreement.by_ensemble.items()} == {
        k: (a.agreed, a.total) for k, a in with_ensembles.agreement.by_ensemble.items()
    }
    assert set(state.agreement.untrusted) == {"extract"}
    queued = {q.routing_id: q.reason for q in review.evaluation_queue(state)}
    assert {k: v for k, v in queued.items() if "judge" in v} == {
        q.routing_id: q.reason for q in review.evaluation_queue(with_ensembles) if "judge" in q.reason
    }


@pytest.mark.parametrize("seed", range(6))
def test_evaluations_that_touch_no_judged_run_leave_the_pairs(seed: int) -> None:
    """``touches_pairs``: when it says no, the pairs of the evaluations with the added ones
    are the pairs without them (what lets a later load keep its agreement); and it says
    yes whenever they differ."""
    import random

    from conductor_tui.core.agreement import judged_keys, touches_pairs

    rng = random.Random(seed)

    def one(i: int) -> Evaluation:
        judge = rng.random() < 0.3
        fields: dict = {"routing_id": f"r-{rng.randrange(40)}", "ensemble": "e", "evaluator": "claude" if judge else "human",
                        "score": rng.choice(["good", "acceptable", "poor"]), "id": f"ev-{i}"}  # fmt: skip
        if not judge and rng.random() < 0.2:
            fields["judge_score"] = rng.choice(["good", "poor"])
        return Evaluation(**fields)

    said_no = 0
    for trial in range(300):
        old = [one(i) for i in range(rng.randrange(0, 30))]
        added = [one(100 + i) for i in range(rng.randrange(1, 4))]
        before, after = judge_pairs(old), judge_pairs([*old, *added])
        if not touches_pairs(added, judged_keys(old)):
            said_no += 1
            assert after == before, trial
        elif after != before:
            continue  # it said yes, and they differ
    assert said_no > 30  # the cheap case happens (most verdicts are the person's)
