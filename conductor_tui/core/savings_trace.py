"""Where did the saving come from? Savings as a range, and every figure traced back to the
log lines that make it up (no Textual).

:func:`trace_savings` reads ``routing-log.jsonl`` and ``evaluations.jsonl`` once, keeping
each line's number, and computes the same figures as the report
(:mod:`conductor_tui.core.aggregate`, whose accounting rules it follows line by line):

* **drill-down** — :meth:`SavingsTrace.explain` returns the lines (``file:line``, value,
  what) behind a figure — ``saved``, ``net``, ``overhead``, ``local-tokens``,
  ``claude-tokens``, ``decisions``, ``local-decisions``, ``debt`` — optionally scoped to a
  task type, an ensemble or a day (``saved:task-type=extraction``). The lines add up to the
  figure; estimated savings are summed per task type and rounded once, as the report does.
* **range** — the saving estimated from a ratio is uncertain. Per task type the band is
  the spread of the project's own Claude-task records: with ``m`` the mean local tokens per
  local run and ``c_i`` each Claude-handled task's tokens, the ratios ``m / c_i`` run from
  ``r_lo`` to ``r_hi`` (the refined point ratio ``m / mean(c)`` always lies inside). With
  fewer than ``ratio_min_samples`` records on either side the default ratio applies with a
  stated band of ± ``ratio_band_default`` (25 %). A local run saves between
  ``tokens / r_hi`` and ``tokens / r_lo``; a logged saving outside that band widens it to
  include the logged value; a run that did not complete, or logged a zero saving, stays at
  its value. Claude's overhead is measured, so the net range is the saving range minus it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from conductor_tui.core import logscan, rules
from conductor_tui.core.records import RoutingThresholds, RunStatus
from conductor_tui.core.savings_band import RatioBand, default_band, ratio_band
from conductor_tui.core.schemas import TraceEval as _E
from conductor_tui.core.schemas import TraceRoute as _R

CLAUDE_OVERHEAD_EVENT = "claude-overhead"
ROUTING = "routing-log.jsonl"
EVALUATIONS = "evaluations.jsonl"
FIGURES = (
    "saved",
    "net",
    "overhead",
    "local-tokens",
    "claude-tokens",
    "decisions",
    "local-decisions",
    "debt",
)
SCOPES = ("task-type", "ensemble", "day")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DONE = (RunStatus.COMPLETED, "done", "success")


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    try:
        return int(float(str(v).strip()))
    except ValueError:
        return None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


@dataclass
class Line:
    """One log line's part in the figures."""

    file: str
    line: int
    kind: str  # local | claude | prepared | overhead-planning | overhead-judge | judge-evaluation
    task_type: str
    ensemble: str | None
    day: str
    decision: bool = False
    local_tokens: int = 0
    claude_tokens: int = 0
    saved_logged: int | None = None  # a logged saving (tokens_saved / estimated / preparation)
    unestimated: int = 0  # local tokens whose saving comes from the ratio
    overhead: int = 0
    interim: bool = False
    completed: bool = True
    summary: str = ""
    local_known: bool = False  # total_tokens_local was logged (a ratio sample)
    claude_known: bool = False  # claude_tokens was logged (a ratio sample)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Explanation:
    figure: str
    scope: tuple[str, str] | None
    total: int
    lines: list[tuple[str, float, str]] = field(default_factory=list)  # (file:line, value, what)
    note: str = ""
    range: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "scope": {self.scope[0]: self.scope[1]} if self.scope else None,
            "total": self.total,
            "range": list(self.range) if self.range else None,
            "note": self.note,
            "lines": [{"at": at, "value": round(v, 2), "what": what} for at, v, what in self.lines],
        }


class SavingsTrace:
    """The report's figures with their lines (see the module docstring)."""

    def __init__(self, thresholds: RoutingThresholds | None = None, store: Any = None) -> None:
        self.thresholds = thresholds or RoutingThresholds()
        self._lines: list[Line] = []
        self.skipped: dict[str, list[int]] = {}
        self.bands: dict[str, RatioBand] = {}
        self._store = store  # read on first use of the lines (see trace_savings)

    @property
    def lines(self) -> list[Line]:
        if self._store is not None:
            store, self._store = self._store, None
            self.read_routing(Path(store.routing_log_path))
            self.read_evaluations(Path(store.evaluations_path))
            self.finish()
        return self._lines

    # ------------------------------------------------------------------ reading

    def read_routing(self, path: Path) -> None:
        dec = msgspec.json.Decoder(_R)
        for n, line in logscan.numbered_lines(path):
            try:
                r = dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                r = _loose(line, _R)
                if r is None:
                    self.skipped.setdefault(ROUTING, []).append(n)
                    continue
            self._add_route(n, r)

    def read_evaluations(self, path: Path) -> None:
        dec = msgspec.json.Decoder(_E)
        for n, line in logscan.numbered_lines(path):
            try:
                e = dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                e = _loose(line, _E)
                if e is None:
                    self.skipped.setdefault(EVALUATIONS, []).append(n)
                    continue
            j = _int(e.judge_tokens)
            if j is not None and j > 0:
                tt = (_text(e.task_type) or "").strip() or "(unknown)"
                self._lines.append(
                    Line(EVALUATIONS, n, "judge-evaluation", tt, _text(e.ensemble), "unknown", overhead=j,
                         summary="the judge's tokens for this evaluation")
                )  # fmt: skip

    def _add_route(self, n: int, r: _R) -> None:
        event = _text(r.event)
        tt = (_text(r.task_type) or "").strip() or "(unknown)"
        ts = _text(r.timestamp)
        day = ts[:10] if ts and _DAY.match(ts[:10]) else "unknown"
        pj = r.propose_judge.get("claude_judge_tokens") if isinstance(r.propose_judge, dict) else None
        pj = _int(pj)
        if pj:
            self._lines.append(
                Line(ROUTING, n, "overhead-judge", tt, _text(r.ensemble), day, overhead=pj,
                     summary="Claude judged a propose–judge run")
            )  # fmt: skip
        if event not in (None, "", "routing-decision", "routing"):
            if event == CLAUDE_OVERHEAD_EVENT:
                kind = "overhead-judge" if tt.lower().startswith("judg") else "overhead-planning"
                tokens = _int(r.claude_tokens) or 0
                self._lines.append(
                    Line(ROUTING, n, kind, tt, None, day, overhead=tokens, summary=f"Claude overhead ({tt})")
                )
            return
        self._lines.append(_decision_line(n, r, tt, day))

    # ------------------------------------------------------------------ ratios and bands

    def finish(self) -> SavingsTrace:
        t = self.thresholds
        local: dict[str, list[int]] = defaultdict(list)
        claude: dict[str, list[int]] = defaultdict(list)
        for ln in self.lines:
            if not ln.decision:
                continue
            if ln.kind == "local" and ln.local_known:
                local[ln.task_type].append(ln.local_tokens)
            elif ln.kind == "claude" and ln.claude_known:
                claude[ln.task_type].append(ln.claude_tokens)
        for tt in set(local) | set(claude) | {ln.task_type for ln in self.lines if ln.decision}:
            loc, cl = local.get(tt, []), claude.get(tt, [])
            positive = [c for c in cl if c > 0]
            self.bands[tt] = ratio_band(
                sum(loc), len(loc), sum(cl), len(cl), min(positive, default=0), max(positive, default=0), t
            )
        return self

    def band(self, task_type: str) -> RatioBand:
        if self._store is not None:
            _ = self.lines  # read them now: the bands come from the lines
        found = self.bands.get(task_type)
        return found if found is not None else default_band(self.thresholds)

    # ------------------------------------------------------------------ figures

    def _select(self, scope: tuple[str, str] | None) -> list[Line]:
        if scope is None:
            return self.lines
        kind, value = scope
        if kind == "task-type":
            return [ln for ln in self.lines if ln.task_type == value]
        if kind == "ensemble":
            return [ln for ln in self.lines if ln.ensemble == value and ln.decision]
        if kind == "day":
            return [ln for ln in self.lines if ln.day == value and ln.decision]
        raise ValueError(f"scope must be one of {', '.join(SCOPES)} (got {kind!r})")

    def _saved(self, lines: list[Line]) -> tuple[int, list[tuple[str, float, str]], tuple[int, int]]:
        total_logged = 0
        unest: dict[str, int] = defaultdict(int)
        out: list[tuple[str, float, str]] = []
        lo = hi = 0.0
        for ln in lines:
            if not ln.decision or ln.kind == "claude":
                continue
            if ln.kind == "prepared":
                value = float(ln.saved_logged or 0)
                total_logged += ln.saved_logged or 0
                lo += value
                hi += value
                if value:
                    out.append((ln.where, value, f"ensemble-prepared Claude · {ln.task_type}"))
                continue
            band = self.band(ln.task_type)
            if ln.saved_logged is not None:
                value = float(ln.saved_logged)
                total_logged += ln.saved_logged
                how = "logged tokens_saved"
            elif ln.unestimated:
                value = ln.unestimated / band.ratio if band.ratio > 0 else 0.0
                unest[ln.task_type] += ln.unestimated
                how = f"{ln.unestimated:,} local ÷ {band.ratio:.3g}"
            else:
                continue
            fixed = (
                not ln.completed
                or (ln.saved_logged is not None and ln.saved_logged == 0)
                or not ln.local_tokens
            )
            if fixed:
                lo += value
                hi += value
            else:
                lo += min(value, ln.local_tokens / band.high)
                hi += max(value, ln.local_tokens / band.low if band.low > 0 else value)
            if value:
                out.append((ln.where, value, f"{ln.summary} · {how}"))
        estimated = sum(
            rules.estimate_claude_tokens(tokens, self.band(tt).ratio) for tt, tokens in unest.items()
        )
        return total_logged + estimated, out, (round(lo), round(hi))

    def explain(self, figure: str) -> Explanation:
        """The lines behind ``figure`` (``NAME`` or ``NAME:SCOPE=VALUE``, see the module docstring)."""
        name, scope = parse_figure(figure)
        lines = self._select(scope)
        if name == "saved":
            total, out, rng = self._saved(lines)
            return Explanation(name, scope, total, out, self._band_note(lines), rng)
        if name in ("overhead", "net"):
            return self._explain_overhead(name, scope, lines)
        if name == "local-tokens":
            sel = [ln for ln in lines if ln.decision and ln.local_tokens]
            return Explanation(
                name,
                scope,
                sum(ln.local_tokens for ln in sel),
                [(ln.where, float(ln.local_tokens), ln.summary) for ln in sel],
            )
        if name == "claude-tokens":
            sel = [ln for ln in lines if ln.decision and ln.claude_tokens]
            return Explanation(
                name,
                scope,
                sum(ln.claude_tokens for ln in sel),
                [(ln.where, float(ln.claude_tokens), ln.summary) for ln in sel],
            )
        if name in ("decisions", "local-decisions"):
            # a local run that did not complete is a decision but no local success (as in the report)
            sel = [
                ln
                for ln in lines
                if ln.decision and (name == "decisions" or (ln.kind == "local" and ln.completed))
            ]
            return Explanation(name, scope, len(sel), [(ln.where, 1.0, ln.summary) for ln in sel])
        if name == "debt":
            sel = [ln for ln in lines if ln.decision and ln.interim]
            return Explanation(
                name,
                scope,
                len(sel),
                [(ln.where, 1.0, ln.summary) for ln in sel],
                "interim Claude work in the log (task-profiles.yaml may add work the log lacks)",
            )
        raise ValueError(f"unknown figure {name!r}: one of {', '.join(FIGURES)}")

    def _explain_overhead(self, name: str, scope: Any, lines: list[Line]) -> Explanation:
        """``overhead`` (Claude's own planning and judging) or ``net`` (saved − overhead)."""
        over = [ln for ln in (self.lines if scope is None or scope[0] == "task-type" else []) if ln.overhead]
        if scope is not None and scope[0] == "task-type":
            over = [ln for ln in over if ln.task_type == scope[1]]
        spent = sum(ln.overhead for ln in over)
        over_lines = [(ln.where, -float(ln.overhead), ln.summary) for ln in over]
        if name == "overhead":
            return Explanation(
                name,
                scope,
                spent,
                [(w, -v, s) for w, v, s in over_lines],
                "Claude's own planning and judging",
            )
        total, out, (lo, hi) = self._saved(lines)
        return Explanation(
            name, scope, total - spent, out + over_lines, self._band_note(lines), (lo - spent, hi - spent)
        )

    def _band_note(self, lines: list[Line]) -> str:
        types = sorted({ln.task_type for ln in lines if ln.decision and ln.kind == "local"})
        return "; ".join(f"{tt}: {self.band(tt).describe()}" for tt in types)

    def savings_range(self) -> dict[str, Any]:
        """The saving and the net saving with their ranges, per task type too (for ``report
        --json``). A trace of a store whose lines were not needed yet takes them from the
        report's one-pass aggregation (:func:`~conductor_tui.core.aggregate.savings_range_for`:
        the same figures); otherwise they are summed line by line (:meth:`range_from_lines`)."""
        if self._store is not None:
            from conductor_tui.core.aggregate import savings_range_for

            return savings_range_for(self._store, self.thresholds)
        return self.range_from_lines()

    def range_from_lines(self) -> dict[str, Any]:
        """:meth:`savings_range` summed over the traced lines (the reference)."""
        total, _out, rng = self._saved(self.lines)
        spent = sum(ln.overhead for ln in self.lines)
        by_tt = {}
        for tt in sorted({ln.task_type for ln in self.lines if ln.decision}):
            t_total, _o, t_rng = self._saved([ln for ln in self.lines if ln.task_type == tt])
            b = self.band(tt)
            by_tt[tt] = {
                "saved": t_total,
                "range": list(t_rng),
                "ratio": round(b.ratio, 4),
                "ratio_band": [round(b.low, 4), round(b.high, 4)],
                "ratio_source": b.source,
                "claude_samples": b.claude_samples,
            }
        return {
            "saved": total,
            "saved_range": list(rng),
            "overhead": spent,
            "net": total - spent,
            "net_range": [rng[0] - spent, rng[1] - spent],
            "by_task_type": by_tt,
        }


def parse_figure(figure: str) -> tuple[str, tuple[str, str] | None]:
    """``saved`` → (``saved``, None); ``saved:task-type=extraction`` → (``saved``, (``task-type``, ``extraction``))."""
    name, _, rest = figure.strip().partition(":")
    name = name.strip().lower().replace("_", "-")
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}: one of {', '.join(FIGURES)}")
    if not rest:
        return name, None
    kind, eq, value = rest.partition("=")
    kind = kind.strip().lower().replace("_", "-")
    if not eq or kind not in SCOPES or not value.strip():
        raise ValueError(f"scope must be KIND=VALUE with KIND one of {', '.join(SCOPES)} (got {rest!r})")
    return name, (kind, value.strip())


def _loose(line: bytes, cls: type[msgspec.Struct]) -> Any:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    return cls(**{k: obj.get(k) for k in cls.__struct_fields__})


def trace_savings(store: Any) -> SavingsTrace:
    """Read ``store``'s two logs into a :class:`SavingsTrace`."""
    try:
        thresholds = store.load_config().routing_thresholds
    except Exception:
        thresholds = RoutingThresholds()
    # the lines are read when a figure is explained; the range alone needs no trace
    return SavingsTrace(thresholds, store)


def _decision_line(n: int, r: _R, tt: str, day: str) -> Line:
    """The line of one routing decision: local or Claude, its tokens and logged savings."""
    routed = (_text(r.routed_to) or "").strip()
    local = bool(routed) and not routed.lower().startswith("claude")
    ens = _text(r.ensemble) or (routed if local else None)
    status = (_text(r.status) or RunStatus.COMPLETED).lower()
    ln = Line(ROUTING, n, "local" if local else "claude", tt, ens, day, decision=True)
    ln.completed = status in _DONE
    t = _int(r.total_tokens_local)
    if t is not None:
        ln.local_tokens = t
        ln.local_known = True
        s = _int(r.tokens_saved)
        s = s if s is not None else _int(r.estimated_claude_tokens)
        if s is not None:
            ln.saved_logged = s
        else:
            ln.unestimated = t
    else:
        _claude_tokens(ln, r, local)
    if not local and ln.kind != "prepared":
        cat = rules.as_delegability(_text(r.delegability_category))
        ln.interim = cat in (rules.Delegability.AGENT, rules.Delegability.ENSEMBLE) or (
            cat is None and (_text(r.reason) or "").strip().lower() == "no-ensemble"
        )
    ln.summary = f"{'local ' + (ens or '') if local else 'Claude'} · {tt}" + (
        "" if ln.completed else f" · {status}"
    )
    return ln


def _claude_tokens(ln: Line, r: _R, local: bool) -> None:
    """A decision without local tokens: Claude's tokens, an ensemble-prepared Claude task's
    preparation and savings (:func:`conductor_tui.core.rules.preparation_savings` when only
    the full estimate was logged), or a local run's logged savings."""
    c = _int(r.claude_tokens)
    if c is not None:
        ln.claude_tokens = c
        ln.claude_known = True
    p = _int(r.preparation_tokens_local)
    if p is not None:
        ln.kind = "prepared"
        ln.local_tokens = p
        ps = _int(r.preparation_savings)
        if ps is None:
            full = _int(r.estimated_full_claude_tokens)
            judged = _int(r.judgment_tokens_claude) or 0
            ps = rules.preparation_savings(p, judged, full).preparation_savings if full is not None else 0
        ln.saved_logged = ps
    elif local:
        s = _int(r.tokens_saved)
        if s is not None:
            ln.saved_logged = s
