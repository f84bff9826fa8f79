"""What the report shows: :class:`Snapshot` (plain totals; ``to_dict()`` is ``report
--json``) and the saving's range, computed from an Aggregator's folded state (cheap:
proportional to the number of groups, not lines)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from conductor_tui.core import rules
from conductor_tui.core.aggregate_rows import _FileState, _new_bucket, _score_bucket, _str
from conductor_tui.core.records import RoutingThresholds
from conductor_tui.core.savings_band import RangeAcc, RatioBand, range_of, ratio_band


@dataclass
class Snapshot:
    """Plain totals (``to_dict()`` is the ``report --json`` object).

    Decisions count routing-log lines without an ``event`` (config changes, rollbacks …
    are ``events``). "Local" = ``routed_to`` is not Claude. ``interim_claude_debt`` =
    Claude decisions whose category is agent- or ensemble-delegable (or reason
    ``no-ensemble``), excluding ensemble-prepared Claude. ``total_tokens_local`` includes
    the preparation tokens of ensemble-prepared Claude. ``by_task_type`` / ``by_ensemble``
    / ``by_day`` rows hold ``decisions``, ``local_decisions``, ``claude_decisions``,
    ``prepared_claude_decisions``, ``interim_claude``, ``standing_auth``,
    ``total_tokens_local``, ``claude_tokens``, ``estimated_claude_tokens_saved``; ensemble
    rows add ``evaluations`` (good/acceptable/poor/total), ``phase``, ``next_step``,
    ``calibration``, ``promotion`` {level, global_ready, library_ready, next},
    ``lora_candidate``, ``dominant_failure_mode``, ``task_types``; task-type rows add
    ``ensembles``, ``evaluations``, ``token_ratio``, ``token_ratio_source``, ``phase``
    (``None`` for Claude-only work), ``promotion`` (level), ``next_step``.

    ``claude_overhead_tokens`` = ``claude_overhead_planning_tokens`` (routing-log
    ``claude-overhead`` events) + ``claude_overhead_judge_tokens`` (evaluations'
    ``judge_tokens``, ``claude-overhead`` events for judging, Claude-judged propose–judge
    runs); ``net_claude_tokens_saved`` = ``estimated_claude_tokens_saved -
    claude_overhead_tokens`` (can be negative). ``interim_claude_debt_from_profiles`` is
    the part of ``interim_claude_debt`` only the task profiles know about.
    """

    routing_decisions: int = 0
    local_decisions: int = 0
    claude_decisions: int = 0
    prepared_claude_decisions: int = 0
    standing_auth_decisions: int = 0
    events: int = 0
    total_tokens_local: int = 0
    claude_tokens: int = 0
    preparation_tokens_local: int = 0
    estimated_claude_tokens_saved: int = 0
    claude_overhead_tokens: int = 0
    claude_overhead_planning_tokens: int = 0
    claude_overhead_judge_tokens: int = 0
    net_claude_tokens_saved: int = 0
    interim_claude_debt: int = 0
    interim_claude_debt_from_profiles: int = 0
    local_share_pct: float = 0.0
    skipped_lines: int = 0
    skipped_line_numbers: dict[str, list[int]] = field(default_factory=dict)
    lines_read: dict[str, int] = field(default_factory=dict)
    evaluations: dict[str, int] = field(default_factory=dict)
    by_task_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_ensemble: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_day: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)``: a copy that shares nothing mutable with the snapshot,
        built without asdict's per-value ``deepcopy`` calls (a year of days is ~10k values)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


_ATOMIC = frozenset({int, float, str, bool, type(None)})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is tuple:
        return tuple(_plain(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return copy.deepcopy(value)


class SnapshotMixin:
    """The Aggregator's :meth:`snapshot` and :meth:`savings_range`."""

    thresholds: RoutingThresholds
    _files: dict[str, _FileState]
    _ratio: dict[str, list[int]]
    _range: dict[str, list[Any]]
    _overhead: dict[str, int]
    _totals: dict[str, Any]
    _events: int
    _by_tt: dict[str, dict[str, Any]]
    _by_ens: dict[str, dict[str, Any]]
    _by_day: dict[str, dict[str, Any]]
    _ens_tt: dict[str, dict[str, int]]
    _eval_scores: dict[str, list[Any]]
    _eval_modes: dict[str, list[Any]]
    _eval_tt: dict[str, dict[str, int]]
    _eval_implicit: dict[str, dict[str, int]]
    _eval_totals: dict[str, int]
    _status_cache: dict[str, tuple]
    _profile_interim: dict[str, int]

    def _ratios(self) -> dict[str, rules.TokenRatio]:
        t = self.thresholds
        return {tt: rules.refine_ratio(r[0], r[1], r[2], r[3], t) for tt, r in self._ratio.items()}

    def _saved(self, bucket: dict[str, Any], ratios: dict[str, rules.TokenRatio]) -> int:
        default = rules.default_ratio(self.thresholds)
        extra = 0
        for tt, tokens in bucket["unestimated"].items():
            extra += rules.estimate_claude_tokens(tokens, ratios.get(tt, default))
        return bucket["saved_logged"] + extra

    def _public(self, bucket: dict[str, Any], ratios: dict[str, rules.TokenRatio]) -> dict[str, Any]:
        return {
            "decisions": bucket["decisions"],
            "local_decisions": bucket["local_decisions"],
            "failed_local_decisions": bucket["failed_decisions"],
            "claude_decisions": bucket["claude_decisions"],
            "prepared_claude_decisions": bucket["prepared_claude_decisions"],
            "interim_claude": bucket["interim_claude"],
            "standing_auth": bucket["standing_auth"],
            "total_tokens_local": bucket["total_tokens_local"],
            "claude_tokens": bucket["claude_tokens"],
            "estimated_claude_tokens_saved": self._saved(bucket, ratios),
        }

    def _profile_debt(self) -> dict[str, int]:
        """Task type (as the log spells it, else as the profile does) → interim Claude
        work only the task profiles count: ``max(0, profile count - logged count)``."""
        if not self._profile_interim:
            return {}
        logged: dict[str, int] = {}
        spelling: dict[str, str] = {}
        for tt, bucket in self._by_tt.items():
            k = rules.task_type_key(tt)
            logged[k] = logged.get(k, 0) + bucket["interim_claude"]
            spelling.setdefault(k, tt)
        extra: dict[str, int] = {}
        for name, count in self._profile_interim.items():
            k = rules.task_type_key(name)
            missing = count - logged.get(k, 0)
            if missing > 0:
                logged[k] = count  # two profile spellings of one type: count it once
                tt = spelling.get(k, name.strip() or "(unknown)")
                extra[tt] = extra.get(tt, 0) + missing
        return extra

    def bands(self) -> dict[str, RatioBand]:
        """Task type → the band of its local/Claude token ratio (:mod:`~conductor_tui.core.savings_band`)."""
        t = self.thresholds
        return {tt: ratio_band(r[0], r[1], r[2], r[3], r[4], r[5], t) for tt, r in self._ratio.items()}

    def savings_range(self) -> dict[str, Any]:
        """The saving and the net saving with their ranges, per task type too (``report
        --json``'s ``savings_range``; the same figures :mod:`~conductor_tui.core.savings_trace`
        computes line by line)."""
        bands = self.bands()
        ratios = self._ratios()
        spent = self._overhead["planning"] + self._overhead["judge"]
        lo, hi = 0.0, 0.0
        by_tt: dict[str, Any] = {}
        for tt in sorted(self._by_tt):
            band = bands[tt]
            acc = RangeAcc.from_state(self._range.get(tt) or [0, 0, 0, {}])
            t_lo, t_hi = range_of(acc, band)
            saved = self._saved(self._by_tt[tt], ratios)
            lo += t_lo
            hi += t_hi
            by_tt[tt] = {
                "saved": saved,
                "range": [round(t_lo), round(t_hi)],
                "ratio": round(band.ratio, 4),
                "ratio_band": [round(band.low, 4), round(band.high, 4)],
                "ratio_source": band.source,
                "claude_samples": band.claude_samples,
            }
        total = self._saved(self._totals, ratios)
        rng = (round(lo), round(hi))
        return {
            "saved": total,
            "saved_range": list(rng),
            "overhead": spent,
            "net": total - spent,
            "net_range": [rng[0] - spent, rng[1] - spent],
            "by_task_type": by_tt,
        }

    def snapshot(self) -> Snapshot:
        """Current totals, per task type / ensemble / day, evaluations, lifecycle phase and
        promotion readiness (plain data; cheap — proportional to the number of groups)."""
        ratios = self._ratios()
        snap = Snapshot()
        tot = self._public(self._totals, ratios)
        snap.routing_decisions = tot["decisions"]
        snap.local_decisions = tot["local_decisions"]
        snap.claude_decisions = tot["claude_decisions"]
        snap.prepared_claude_decisions = tot["prepared_claude_decisions"]
        snap.standing_auth_decisions = tot["standing_auth"]
        snap.total_tokens_local = tot["total_tokens_local"]
        snap.claude_tokens = tot["claude_tokens"]
        snap.preparation_tokens_local = self._totals["preparation_tokens_local"]
        snap.estimated_claude_tokens_saved = tot["estimated_claude_tokens_saved"]
        snap.claude_overhead_planning_tokens = self._overhead["planning"]
        snap.claude_overhead_judge_tokens = self._overhead["judge"]
        snap.claude_overhead_tokens = self._overhead["planning"] + self._overhead["judge"]
        snap.net_claude_tokens_saved = snap.estimated_claude_tokens_saved - snap.claude_overhead_tokens
        profile_extra = self._profile_debt()
        snap.interim_claude_debt_from_profiles = sum(profile_extra.values())
        snap.interim_claude_debt = tot["interim_claude"] + snap.interim_claude_debt_from_profiles
        snap.events = self._events
        snap.local_share_pct = (
            round(100.0 * snap.local_decisions / snap.routing_decisions, 1) if snap.routing_decisions else 0.0
        )
        # routing logs first, whichever was fed first
        for name, st in sorted(self._files.items(), key=lambda item: item[1].kind != "routing"):
            snap.skipped_lines += st.skipped
            snap.lines_read[name] = st.lines
            if st.skipped_lines:
                snap.skipped_line_numbers[name] = list(st.skipped_lines)
        snap.evaluations = dict(self._eval_totals)
        ens_status = self._ensemble_rows(snap, ratios)
        self._task_type_rows(snap, ratios, ens_status, profile_extra)
        for day in sorted(self._by_day):
            snap.by_day[day] = self._public(self._by_day[day], ratios)
        return snap

    def walk_lifecycles(self) -> None:
        """Walk each ensemble's evaluation history now (it needs no routing log: ``report``
        does it while its workers read the log); the snapshot then only looks up the result."""
        tkey = self.thresholds.model_dump_json()
        for name, scores in self._eval_scores.items():
            self._walked(name, scores, tkey)

    def _walked(self, name: str, scores: list[Any], tkey: str) -> tuple[Any, int, Any]:
        """``(lifecycle tracker fed with the scores, evaluated scores, LoRA candidacy)`` of
        an ensemble: the whole evaluation history walked once, again only when it (or the
        thresholds) changed since."""
        key = (len(scores), tkey)
        cached = self._status_cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        walked = rules.walk_evidence(scores, self._eval_modes.get(name, []), self.thresholds)
        self._status_cache[name] = (key, walked)
        return walked

    def _ensemble_rows(self, snap: Snapshot, ratios: dict[str, rules.TokenRatio]) -> dict[str, Any]:
        """``snap.by_ensemble`` (decisions + evaluations); returns each ensemble's status."""
        t = self.thresholds
        ens_names = set(self._by_ens) | set(self._eval_scores)
        ens_status: dict[str, rules.LifecycleStatus] = {}
        tkey = t.model_dump_json()
        for name in sorted(ens_names):
            bucket = self._by_ens.get(name) or _new_bucket()
            row = self._public(bucket, ratios)
            scores = self._eval_scores.get(name, [])
            tracker, evaluated, lora = self._walked(name, scores, tkey)
            status = rules.status_from_tracker(tracker, max(bucket["local_decisions"], evaluated))
            ens_status[name] = status
            tts = self._ens_tt.get(name, {})
            row.update(
                task_types=sorted(tts, key=lambda k: -tts[k]),
                evaluations={
                    "good": status.counts.good,
                    "acceptable": status.counts.acceptable,
                    "poor": status.counts.poor,
                    "total": len(scores),
                },
                phase=status.phase.value,
                next_step=status.next_step,
                calibration=status.calibration.kind if status.calibration else None,
                promotion={
                    "level": status.promotion.level,
                    "global_ready": status.promotion.global_ready,
                    "library_ready": status.promotion.library_ready,
                    "next": status.promotion.next_step,
                },
                lora_candidate=lora.flag,
                dominant_failure_mode=_str(lora.dominant_failure_mode),
            )
            snap.by_ensemble[name] = row

        return ens_status

    def _task_type_rows(
        self,
        snap: Snapshot,
        ratios: dict[str, rules.TokenRatio],
        ens_status: dict[str, Any],
        profile_extra: dict[str, int],
    ) -> None:
        """``snap.by_task_type``."""
        t = self.thresholds
        # per task type: evaluations carrying their own task_type count there; the others
        # count for their ensemble's main task type (the one it was routed for most).
        tt_evals: dict[str, dict[str, int]] = {tt: dict(c) for tt, c in self._eval_tt.items()}
        for name, implicit in self._eval_implicit.items():
            ens_tts = self._ens_tt.get(name)
            if not ens_tts:
                continue
            main = max(ens_tts, key=lambda k: ens_tts[k])
            c = tt_evals.setdefault(main, _score_bucket())
            for label, n in implicit.items():
                c[label] += n
        for tt in sorted(set(self._by_tt) | set(tt_evals) | set(profile_extra)):
            bucket = self._by_tt.get(tt) or _new_bucket()
            row = self._public(bucket, ratios)
            row["interim_claude"] += profile_extra.get(tt, 0)
            ratio = ratios.get(tt, rules.default_ratio(t))
            ens_for_tt = sorted(
                (e for e, m in self._ens_tt.items() if tt in m), key=lambda e: -self._ens_tt[e][tt]
            )
            if ens_for_tt:
                ens_st = ens_status.get(ens_for_tt[0])
                phase = ens_st.phase.value if ens_st else None
                promo = ens_st.promotion.level if ens_st else "none"
                nxt = ens_st.next_step if ens_st else ""
            elif row["interim_claude"] or rules.default_category(tt) in (
                rules.Delegability.AGENT,
                rules.Delegability.ENSEMBLE,
            ):
                phase, promo, nxt = "design", "none", "no ensemble yet — request one from the designer"
            else:
                phase, promo, nxt = None, "none", ""
            row.update(
                ensembles=ens_for_tt,
                evaluations=tt_evals.get(tt, _score_bucket()),
                token_ratio=round(ratio.ratio, 4),
                token_ratio_source=ratio.source,
                phase=phase,
                promotion=promo,
                next_step=nxt,
            )
            snap.by_task_type[tt] = row
