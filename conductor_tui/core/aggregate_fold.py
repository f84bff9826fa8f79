"""The report's hot loops: decoded records folded into small per-block group tables (raw
key → counters), then normalised once per distinct key and added to the buckets (see
:mod:`~conductor_tui.core.aggregate`)."""

from __future__ import annotations

from collections import _count_elements  # type: ignore[attr-defined]
from typing import Any

from conductor_tui.core.aggregate_rows import (
    _CLAUDE_TOK,
    _CMAX,
    _CMIN,
    _DAY_RE,
    _DONE,
    _FAILED,
    _FIXED_SAVED,
    _FIXED_UNEST,
    _GROUP_DONE,
    _LOCAL_TOK,
    _LOCAL_TOK_N,
    _N,
    _NCOUNTERS,
    _PAIR_SHIFT,
    _PAIR_TABLE,
    _PAIRS,
    _PJ_CLAUDE,
    _PLAIN_CLAUDE_N,
    _PLAIN_CLAUDE_TOK,
    _PREP_LOCAL,
    _PREP_N,
    _PREP_SAVED,
    _SAVED,
    _STANDING,
    _UNESTIMATED,
    CLAUDE_OVERHEAD_EVENT,
    _Eval,
    _merge_counters,
    _new_bucket,
    _real_day,
    _Route,
    _score_bucket,
)
from conductor_tui.core.enums import Delegability
from conductor_tui.core.vocab import as_delegability, as_score

# a score as written ("Good", "good ") → (Score or None, its label)
_SCORE_OF: dict[Any, tuple[Any, str]] = {}
_NO_DAY = "\0" * 10  # no timestamp starts with it
_TOP = chr(0x10FFFF)  # the last code point: ``day <= ts < day + _TOP`` when ``ts`` starts with ``day``
# the per-record loop indexes a group's list with literals (a[19], a[20], shift 40)
assert (_PAIR_TABLE, _GROUP_DONE, _PAIR_SHIFT) == (19, 20, 40)


def _add_counts(mine: dict[int, int], other: dict[int, int]) -> None:
    """``mine[k] += other[k]`` for every key of ``other`` (pair key → runs)."""
    get = mine.get
    for k, n in other.items():
        mine[k] = get(k, 0) + n


def _new_group(key: tuple, pairs: dict[Any, Any]) -> list[Any]:
    """A group's counters, its (event, task type, target)'s pending pair keys, and whether
    its status counts as completed (``key``: see :meth:`FoldMixin._add_routes`)."""
    a: list[Any] = [0] * _NCOUNTERS
    entry = pairs.get(key[:3])
    if entry is None:
        entry = pairs[key[:3]] = [{}, []]
    st = key[7]
    a.append(entry[1])
    a.append(st is None or st in _DONE)
    return a


class FoldMixin:
    """Folding records into the Aggregator's totals."""

    _eval_totals: dict[str, int]
    _eval_index: dict[str, list[Any]]
    _eval_index_raw: Any
    _eval_index_loaded: Any
    _eval_scores: dict[str, list[Any]]
    _eval_modes: dict[str, list[Any]]
    _eval_tt: dict[str, dict[str, int]]
    _eval_implicit: dict[str, dict[str, int]]
    _overhead: dict[str, int]
    _key_cache: dict[tuple, tuple]
    _status_cache: dict[str, tuple]
    _day_cache: dict[Any, str]
    _pair_cache: dict[tuple, Any]
    _range: dict[str, list[Any]]
    _ratio: dict[str, list[int]]
    _events: int
    _totals: dict[str, Any]
    _by_tt: dict[str, dict[str, Any]]
    _by_ens: dict[str, dict[str, Any]]
    _by_day: dict[str, dict[str, Any]]
    _ens_tt: dict[str, dict[str, int]]

    def _add(self, recs: list[Any], routing: bool, groups: dict[tuple, list[int]]) -> None:
        if routing:
            self._add_routes(recs, groups)
        else:
            self._add_evals(recs)

    # long: the per-record loop of the report (~1M lines): one body, no helper call per line
    @staticmethod
    def _add_routes(recs: list[_Route], groups: dict[Any, Any]) -> None:
        """Fold records into ``groups`` (raw key → counters, see ``aggregate_rows``).

        The raw key holds the record's status and standing authorisation too (a few values
        each), so whether a run completed is known per group, and the failed and standing
        counters are filled from the record count when the group is collapsed. The day is
        the timestamp's first ten characters, taken once per run of lines on the same day
        (the same string object, so its hash is computed once). A completed local run with
        a logged saving appends its ``pair_key(saving, tokens)`` to the pending list of its
        (event, task type, target); the lists are counted into their tables (in C) at the
        end of the call."""
        get = groups.get
        pairs = get(_PAIRS)
        if pairs is None:
            pairs = groups[_PAIRS] = {}
        day = _NO_DAY
        beyond = day + _TOP  # every string that starts with ``day`` sorts before it
        for r in recs:
            ts = r.timestamp
            if not ts:
                d = None
            elif day <= ts < beyond:  # starts with ``day`` (two comparisons: cheaper than a call)
                d = day
            else:
                d = ts[:10]
                if len(d) == 10:
                    day = d
                    beyond = d + _TOP
            key = (
                r.event,
                r.task_type,
                r.routed_to,
                r.ensemble,
                r.delegability_category,
                r.reason,
                d,
                r.status,
                r.standing_auth,
            )
            a = get(key)
            if a is None:
                a = groups[key] = _new_group(key, pairs)
            a[0] += 1
            t = r.total_tokens_local
            if t is not None:  # a local run (or one that reports local tokens)
                a[1] += t
                a[2] += 1
                s = r.tokens_saved
                if s is None:
                    s = r.estimated_claude_tokens
                if s is not None:
                    a[3] += s
                    if s and t and a[20]:  # _GROUP_DONE
                        a[19].append((s << 40) | t)  # _PAIR_TABLE, pair_key: t <= MAX_TOKENS < 2**40
                    else:
                        a[15] += s
                else:
                    a[4] += t
                    if not a[20]:
                        a[16] += t
            else:
                s = r.tokens_saved
                if s is not None:
                    a[3] += s
                    a[15] += s
                c = r.claude_tokens
                p = r.preparation_tokens_local
                if c is not None:
                    a[5] += c
                    a[6] += 1
                    if p is None:
                        a[12] += c
                        a[13] += 1
                        if c > 0:
                            if not a[17] or c < a[17]:
                                a[17] = c
                            if c > a[18]:
                                a[18] = c
                if p is not None:
                    a[7] += p
                    ps = r.preparation_savings
                    if ps is None:
                        full = r.estimated_full_claude_tokens
                        ps = full - (r.judgment_tokens_claude or 0) if full is not None else 0
                    a[8] += ps
                    a[9] += 1
            pj = r.propose_judge
            if pj is not None:
                j = pj.claude_judge_tokens
                if j:
                    a[11] += j
        for table, pending in pairs.values():
            if pending:
                _count_elements(table, pending)
                pending.clear()

    # long: the per-record loop over the evaluations: one body, no helper call per line
    def _add_evals(self, recs: list[_Eval]) -> None:
        if self._eval_index_raw is not None:
            self._eval_index_loaded()
        totals = self._eval_totals
        scores_of = _SCORE_OF
        index = self._eval_index
        by_tt, implicit = self._eval_tt, self._eval_implicit
        all_scores, all_modes = self._eval_scores, self._eval_modes
        judge = 0
        for e in recs:
            j = e.judge_tokens
            if j is not None and j > 0:
                judge += j
            raw = e.score
            if raw is None:
                score, label = None, "unscored"
            else:
                seen = scores_of.get(raw)
                if seen is None:
                    score = as_score(raw)
                    seen = (score, score.value if score is not None else "unscored")
                    if len(scores_of) < 256:  # a few spellings; a file of odd ones is not kept
                        scores_of[raw] = seen
                score, label = seen
            name = e.ensemble or "(unknown)"
            tt = e.task_type
            tt = tt.strip() if tt else None
            rid = e.routing_id
            key = None
            if isinstance(rid, str):
                bare = rid.strip()
                if bare and " " not in bare:
                    key = rid
            if key is None and e.ensemble and isinstance(e.invocation_number, int):
                key = f"{e.ensemble}#{e.invocation_number}"
            prev = index.get(key) if key is not None else None
            if prev is not None:  # a later verdict on the same run replaces the earlier one
                old_name, idx, old_label, old_tt = prev
                all_scores[old_name][idx] = score
                self._status_cache.pop(old_name, None)  # same run count, other history
                all_modes[old_name][idx] = e.failure_mode
                totals[old_label] -= 1
                old_bucket = by_tt.get(old_tt) if old_tt else implicit.get(old_name)
                if old_bucket is not None:
                    old_bucket[old_label] -= 1
                prev[2], prev[3] = label, tt
            else:
                scores = all_scores.get(name)
                if scores is None:
                    scores = all_scores[name] = []
                    all_modes[name] = []
                scores.append(score)
                all_modes[name].append(e.failure_mode)
                totals["total"] += 1
                if key is not None:
                    index[key] = [name, len(scores) - 1, label, tt]
            totals[label] += 1
            if tt:
                bucket = by_tt.get(tt)
                if bucket is None:
                    bucket = by_tt[tt] = _score_bucket()
            else:
                bucket = implicit.get(name)
                if bucket is None:
                    bucket = implicit[name] = _score_bucket()
            bucket[label] += 1
        self._overhead["judge"] += judge

    # ----------------------------------------------------------------- merging

    def _norm_key(self, key: tuple) -> tuple:
        """Raw group key → (is_decision, task type, is_local, ensemble, delegable,
        overhead kind or None, day).
        The part without the day is cached (few distinct values), days separately."""
        base = key[:6]
        nb = self._key_cache.get(base)
        if nb is None:
            event, tt, routed, ens, deleg, reason = base
            is_decision = event in (None, "", "routing-decision", "routing")
            overhead = None
            if event == CLAUDE_OVERHEAD_EVENT:
                overhead = "judge" if (tt or "").strip().lower().startswith("judg") else "planning"
            target = (routed or "").strip().lower()
            is_local = bool(target) and not target.startswith("claude")
            ensemble = ens or (routed if is_local else None)
            cat = as_delegability(deleg)
            delegable = cat in (Delegability.AGENT, Delegability.ENSEMBLE) or (
                cat is None and (reason or "").strip().lower() == "no-ensemble"
            )
            nb = self._key_cache[base] = (
                is_decision,
                (tt or "").strip() or "(unknown)",
                is_local,
                ensemble,
                delegable,
                overhead,
            )
        day = key[6]
        dk = self._day_cache.get(day)
        if dk is None:
            dk = self._day_cache[day] = day if day and _DAY_RE.match(day) and _real_day(day) else "unknown"
        return (*nb, dk)

    def _merge_routes(self, groups: dict[tuple, list[int]]) -> None:
        self._apply_collapsed(self._collapse(groups))

    def _fold_groups(self, groups: dict[Any, Any], into: dict[tuple, list[int]] | None = None) -> dict:
        """Fold the group table ``groups`` into the totals (or into ``into``, a parallel
        worker's running partial) and return the table to go on with: empty but for the
        savings-pair tables, which are folded once, at the end (:meth:`_collapse`)."""
        pairs = groups.pop(_PAIRS, None)
        if into is None:
            self._merge_routes(groups)
        else:
            self._collapse(groups, into)
        return {} if pairs is None else {_PAIRS: pairs}

    def _collapse(self, groups: dict[tuple, list[int]], into: dict[tuple, list[int]] | None = None) -> dict:
        """Raw group keys (spelling variants, reasons) onto normalised keys, so the bucket
        updates of :meth:`_apply_collapsed` run once per distinct (type, target, day …).
        Adds to ``into`` when given (a parallel worker's running partial). The counter
        lists of ``groups`` are taken over (their pair-table reference dropped)."""
        collapsed: dict[tuple, list[int]] = {} if into is None else into
        norm = self._norm_key
        for key, a in groups.items():
            if key is _PAIRS:
                self._collapse_pairs(a, collapsed)
                continue
            if not a[_GROUP_DONE]:
                a[_FAILED] = a[_N]
            if key[8]:
                a[_STANDING] = a[_N]
            del a[_PAIR_TABLE:]
            nk = norm(key)
            b = collapsed.get(nk)
            if b is None:
                collapsed[nk] = a
            else:
                collapsed[nk] = _merge_counters(b, a)
        return collapsed

    def _collapse_pairs(self, pairs: dict[tuple, list[Any]], collapsed: dict[Any, Any]) -> None:
        """(event, task type, target) → pair table onto normalised task type → pair key →
        runs (the layout of the saving's range), for local decisions; other lines' pairs
        are dropped. A task type's first table is taken over as it is."""
        into = collapsed.get(_PAIRS)
        if into is None:
            into = collapsed[_PAIRS] = {}
        cache = self._pair_cache
        for base, (table, pending) in pairs.items():
            if pending:
                _count_elements(table, pending)
                pending.clear()
            ntt = cache.get(base, False)
            if ntt is False:
                nk = self._norm_key((*base, None, None, None, None))
                ntt = cache[base] = nk[1] if nk[0] and nk[2] else None
            if ntt is None or not table:
                continue
            mine: dict[int, int] | None = into.get(ntt)
            if mine is None:
                into[ntt] = table
            else:
                _add_counts(mine, table)

    def _apply_pairs(self, pairs: dict[str, dict[int, int]]) -> None:
        """Add collapsed pairs to the range's; a task type's first ones are taken over as
        they are (the collapsed table is not used again)."""
        for tt, table in pairs.items():
            rng = self._range.setdefault(tt, [0, 0, 0, {}])
            if not rng[3]:
                rng[3] = table
            else:
                _add_counts(rng[3], table)

    def _apply_collapsed(self, collapsed: dict[Any, Any]) -> None:
        for nkey, a in collapsed.items():
            if nkey is _PAIRS:
                self._apply_pairs(a)
                continue
            is_decision, tt, is_local, ensemble, delegable, overhead, day = nkey
            self._overhead["judge"] += a[_PJ_CLAUDE]
            if not is_decision:
                self._events += a[_N]
                if overhead is not None:
                    self._overhead[overhead] += a[_CLAUDE_TOK]
                continue
            buckets = [self._totals, self._by_tt.setdefault(tt, _new_bucket())]
            buckets.append(self._by_day.setdefault(day, _new_bucket()))
            if ensemble:
                buckets.append(self._by_ens.setdefault(ensemble, _new_bucket()))
                et = self._ens_tt.setdefault(ensemble, {})
                et[tt] = et.get(tt, 0) + a[_N]
            prepared = a[_PREP_N]
            ratio = self._ratio.setdefault(tt, [0, 0, 0, 0, 0, 0])
            rng = self._range.setdefault(tt, [0, 0, 0, {}])
            if is_local:
                ratio[0] += a[_LOCAL_TOK]
                ratio[1] += a[_LOCAL_TOK_N]
                rng[0] += a[_FIXED_SAVED]
                rng[1] += a[_FIXED_UNEST]
                rng[2] += a[_UNESTIMATED] - a[_FIXED_UNEST]
            else:  # counted per decision, so the ratio never depends on how lines were grouped
                ratio[2] += a[_PLAIN_CLAUDE_TOK]
                ratio[3] += a[_PLAIN_CLAUDE_N]
                if a[_CMIN] and (not ratio[4] or a[_CMIN] < ratio[4]):
                    ratio[4] = a[_CMIN]
                ratio[5] = max(ratio[5], a[_CMAX])
                rng[0] += a[_PREP_SAVED]
            for b in buckets:
                b["decisions"] += a[_N]
                b["standing_auth"] += a[_STANDING]
                b["claude_tokens"] += a[_CLAUDE_TOK]
                if is_local:
                    b["local_decisions"] += a[_N] - a[_FAILED]
                    b["failed_decisions"] += a[_FAILED]
                    b["total_tokens_local"] += a[_LOCAL_TOK]
                    b["saved_logged"] += a[_SAVED]
                    if a[_UNESTIMATED]:
                        u = b["unestimated"]
                        u[tt] = u.get(tt, 0) + a[_UNESTIMATED]
                else:
                    b["claude_decisions"] += a[_N]
                    b["prepared_claude_decisions"] += prepared
                    b["preparation_tokens_local"] += a[_PREP_LOCAL]
                    b["total_tokens_local"] += a[_PREP_LOCAL]
                    b["saved_logged"] += a[_PREP_SAVED]
                    if delegable:
                        b["interim_claude"] += a[_N] - prepared
