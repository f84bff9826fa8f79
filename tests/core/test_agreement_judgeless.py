"""Judge agreement without any judge: evaluations that hold no judge's record and keep no
judge score make no pair (``judge_pairs`` returns at once); one judge score or one judge's
record among them makes its pair as before."""

from __future__ import annotations

from conductor_tui.core.agreement import agreement_report, judge_pairs
from conductor_tui.core.records import Evaluation


def _person(i: int, **kw) -> Evaluation:
    return Evaluation(routing_id=f"rt-{i}", ensemble="extract-a", score="good", evaluator="human", **kw)


def test_no_judge_no_pair() -> None:
    evs = [_person(i) for i in range(50)] + [Evaluation(routing_id="rt-x", score="poor")]
    assert judge_pairs(evs) == []
    report = agreement_report(evs)
    assert report.pairs == [] and report.overall.total == 0 and not report.by_ensemble


def test_a_kept_judge_score_or_a_judge_record_still_pairs() -> None:
    evs = [_person(i) for i in range(50)]
    kept = evs + [_person(99, judge_score="poor")]
    assert [(p.key, p.judge_score, p.person_score) for p in judge_pairs(kept)] == [("rt-99", "poor", "good")]
    judged = [Evaluation(routing_id="rt-3", ensemble="extract-a", score="good", evaluator="Claude "), *evs]
    pairs = judge_pairs(iter(judged))  # any iterable
    assert [(p.key, p.agreed) for p in pairs] == [("rt-3", True)]
