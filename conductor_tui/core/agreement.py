"""Can I trust the judge? Judge–human agreement from the evaluations (no Textual).

A *pair* is one run that both the judge and the person scored: the person's verdict is the
run's latest record written by anyone but a judge, the judge's is the ``judge_score`` that
record kept (:func:`conductor_tui.core.review.build_evaluation` writes it, with
``judge_agreement: agreed|overridden``), else the latest judge record of the same run before
it (a session's ``record evaluation`` by Claude, then the person's own record for the same
``routing_id``). Runs are keyed like :func:`~conductor_tui.core.review.effective_evaluations`
(``routing_id``, else ensemble + invocation number), so one run is one pair however many
times it was re-scored.

``agreed`` is the record's own ``judge_agreement`` when it says so, else "the two scores are
equal". Rates come with a Wilson score interval (95 %), per ensemble, per task type and per
failure mode — the person's failure mode when the person scored poor, else the judge's
when the judge did, else ``none`` (both found the output usable).

The rule (:func:`untrusted_judges`): an ensemble whose judge agreed with the person in
fewer than ``judge_agreement_min`` of at least ``judge_agreement_min_samples`` pairs has an
untrusted judge; its judge-only evaluations go back to the person (the evaluation queue
treats them as not yet reviewed) and the cockpit's judge records its verdicts as advice
only (no score) until agreement recovers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from conductor_tui.core import logscan
from conductor_tui.core.records import Evaluation, RoutingThresholds

JUDGES = frozenset({"claude", "judge", "claude-judge"})
_DEFAULTS = RoutingThresholds()  # the judge-agreement rule's numbers live in the routing thresholds
Z95 = 1.959963984540054


def is_judge_record(ev: Evaluation) -> bool:
    """Written by a judge (Claude), not by the person."""
    return (ev.evaluator or "").strip().lower() in JUDGES


def _score(value: Any) -> str | None:
    v = getattr(value, "value", value)
    return str(v).strip().lower() if v not in (None, "") else None


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0..1); (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Pair:
    """One run scored by both the judge and the person."""

    key: str
    ensemble: str | None
    task_type: str | None
    failure_mode: str  # see the module docstring
    judge_score: str
    person_score: str
    agreed: bool
    evaluation_id: str | None = None


@dataclass
class Agreement:
    """Agreement counts of one group, with the Wilson interval."""

    agreed: int = 0
    total: int = 0

    @property
    def overridden(self) -> int:
        return self.total - self.agreed

    @property
    def rate(self) -> float | None:
        return self.agreed / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.agreed, self.total)

    def add(self, agreed: bool) -> None:
        self.total += 1
        self.agreed += int(agreed)

    def label(self) -> str:
        """``78% (7/9, 45–94%)`` or ``no pairs``."""
        if not self.total:
            return "no pairs"
        lo, hi = self.interval
        return f"{self.rate:.0%} ({self.agreed}/{self.total}, {lo * 100:.0f}–{hi:.0%})"

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "agreed": self.agreed,
            "overridden": self.overridden,
            "pairs": self.total,
            "rate": round(self.rate, 4) if self.rate is not None else None,
            "ci95": [round(lo, 4), round(hi, 4)],
        }


@dataclass
class AgreementReport:
    overall: Agreement = field(default_factory=Agreement)
    by_ensemble: dict[str, Agreement] = field(default_factory=dict)
    by_task_type: dict[str, Agreement] = field(default_factory=dict)
    by_failure_mode: dict[str, Agreement] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    untrusted: dict[str, Agreement] = field(default_factory=dict)  # ensemble → its agreement
    min_rate: float = _DEFAULTS.judge_agreement_min
    min_samples: int = _DEFAULTS.judge_agreement_min_samples

    def to_dict(self) -> dict[str, Any]:
        def table(groups: dict[str, Agreement]) -> dict[str, Any]:
            return {k: groups[k].to_dict() for k in sorted(groups)}

        return {
            "overall": self.overall.to_dict(),
            "by_ensemble": table(self.by_ensemble),
            "by_task_type": table(self.by_task_type),
            "by_failure_mode": table(self.by_failure_mode),
            "threshold": {
                "judge_agreement_min": self.min_rate,
                "judge_agreement_min_samples": self.min_samples,
            },
            "untrusted_ensembles": sorted(self.untrusted),
        }


def _run_key(ev: Evaluation) -> str | None:
    if ev.routing_id:
        return str(ev.routing_id)
    if ev.ensemble and isinstance(ev.invocation_number, int):
        return f"\1{ev.ensemble}#{ev.invocation_number}"
    return None


def judged_keys(evaluations: Iterable[Evaluation]) -> set[str]:
    """The runs (:func:`_run_key`) a judge's verdict names: a judge's record, or the
    person's with the judge's score kept. Evaluations of other runs, none a judge's, add
    no pair to :func:`judge_pairs` and change none."""
    return {
        key
        for ev in evaluations
        if (ev.judge_score or is_judge_record(ev)) and (key := _run_key(ev)) is not None
    }


def touches_pairs(added: list[Evaluation], judged: set[str]) -> bool:
    """Whether evaluations ``added`` after those whose :func:`judged_keys` are ``judged``
    can change :func:`judge_pairs`: one is a judge's, or names a run a judge's verdict names."""
    return bool(judged_keys(added)) or any(_run_key(ev) in judged for ev in added)


def judge_pairs(
    evaluations: Iterable[Evaluation], ensemble_of: Callable[[Evaluation], str | None] | None = None
) -> list[Pair]:
    """Every run both the judge and the person scored, in the order of its first record."""
    evaluations = list(evaluations)
    if not any(ev.judge_score for ev in evaluations) and not any(map(is_judge_record, evaluations)):
        return []  # a pair needs a judge's verdict: a judge's record or a judge score kept
    judge_last: dict[str, Evaluation] = {}
    person_last: dict[str, tuple[Evaluation, Evaluation | None]] = {}
    order: list[str] = []
    for ev in evaluations:
        key = _run_key(ev)
        if key is None:
            continue
        if key not in judge_last and key not in person_last:
            order.append(key)
        if is_judge_record(ev):
            judge_last[key] = ev
        else:
            person_last[key] = (ev, judge_last.get(key))
    pairs: list[Pair] = []
    for key in order:
        found = person_last.get(key)
        if found is None:
            continue
        person, judge = found
        p_score = _score(person.score)
        j_score = _score(person.judge_score) or (_score(judge.judge_score or judge.score) if judge else None)
        if p_score is None or j_score is None:
            continue
        flag = str(getattr(person, "judge_agreement", None) or "").strip().lower()
        agreed = flag == "agreed" if flag in ("agreed", "overridden") else p_score == j_score
        if p_score == "poor":
            mode = _score(person.failure_mode) or "unspecified"
        elif j_score == "poor":
            mode = (_score(judge.failure_mode) if judge is not None else None) or "unspecified"
        else:
            mode = "none"
        ensemble = person.ensemble or (judge.ensemble if judge else None)
        if ensemble is None and ensemble_of is not None:
            ensemble = ensemble_of(person) or (ensemble_of(judge) if judge is not None else None)
        task_type = person.task_type or (judge.task_type if judge else None)
        pairs.append(Pair(key, ensemble, task_type, mode, j_score, p_score, agreed, person.id))
    return pairs


class _JudgeFields(msgspec.Struct, gc=False):
    evaluator: Any = None
    judge_score: Any = None


_JUDGE_FIELDS = msgspec.json.Decoder(_JudgeFields)


def may_have_pairs(path: Any) -> bool:
    """Whether ``evaluations.jsonl`` at ``path`` can hold a judge–human pair at all: some
    line is written by a judge or keeps a judge's score. A pair needs one of the two
    (:func:`judge_pairs`), so when this is ``False`` the agreement report is empty and the
    file need not be validated record by record. Undecodable or odd values count as "maybe"."""
    for _n, line in logscan.numbered_lines(path):
        try:
            found = _JUDGE_FIELDS.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            if b"evaluator" in line or b"judge_score" in line:
                return True
            continue
        if found.judge_score is not None:
            return True
        who = found.evaluator
        if who is not None and (type(who) is not str or who.strip().lower() in JUDGES):
            return True
    return False


def agreement_report(
    evaluations: Iterable[Evaluation],
    thresholds: RoutingThresholds | None = None,
    ensemble_of: Callable[[Evaluation], str | None] | None = None,
) -> AgreementReport:
    """Agreement overall, per ensemble, task type and failure mode, and the untrusted judges."""
    t = thresholds or RoutingThresholds()
    report = AgreementReport(
        min_rate=float(getattr(t, "judge_agreement_min", _DEFAULTS.judge_agreement_min)),
        min_samples=int(getattr(t, "judge_agreement_min_samples", _DEFAULTS.judge_agreement_min_samples)),
    )
    report.pairs = judge_pairs(evaluations, ensemble_of)
    for pair in report.pairs:
        report.overall.add(pair.agreed)
        report.by_ensemble.setdefault(pair.ensemble or "(unknown)", Agreement()).add(pair.agreed)
        report.by_task_type.setdefault(pair.task_type or "(untyped)", Agreement()).add(pair.agreed)
        report.by_failure_mode.setdefault(pair.failure_mode, Agreement()).add(pair.agreed)
    report.untrusted = {
        name: a
        for name, a in report.by_ensemble.items()
        if judge_untrusted(a, report.min_rate, report.min_samples)
    }
    return report


def judge_untrusted(a: Agreement, min_rate: float, min_samples: int) -> bool:
    """The rule: enough pairs, and the judge agreed with the person in fewer than
    ``min_rate`` of them."""
    return a.total >= max(1, min_samples) and a.rate is not None and a.rate < min_rate


def untrusted_judges(
    evaluations: Iterable[Evaluation],
    thresholds: RoutingThresholds | None = None,
    ensemble_of: Callable[[Evaluation], str | None] | None = None,
) -> dict[str, Agreement]:
    """Ensemble → agreement, for the ensembles whose judge is not trusted now."""
    return agreement_report(evaluations, thresholds, ensemble_of).untrusted


def untrusted_reason(name: str, a: Agreement, min_rate: float) -> str:
    return (
        f"judge agreement for '{name}' is {a.rate:.0%} over {a.total} runs (below {min_rate:.0%}): "
        "the judge's verdicts need your review"
    )
