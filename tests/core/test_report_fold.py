"""The report's per-record fold (``FoldMixin._add_routes``: group tables, savings-pair
tables kept across group flushes, parallel partials) against the plain per-record meaning
of every counter, written out here line by line: on random routing logs with every None
pattern of the fields the report reads, failed and odd statuses, standing authorisation,
propose–judge blocks, ensemble-prepared Claude, Claude overhead, odd timestamps and corrupt
lines. Also: a warm start that receives a new verdict for an already judged run (the
run → verdict index a loaded cache keeps encoded until then) ends where a fresh read does."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conductor_tui.core import aggregate_scan
from conductor_tui.core.aggregate import Aggregator, _tolerant, cache_path_for
from conductor_tui.core.aggregate_rows import (
    _CLAUDE_TOK,
    _CLAUDE_TOK_N,
    _CMAX,
    _CMIN,
    _FAILED,
    _FIXED_SAVED,
    _FIXED_UNEST,
    _LOCAL_TOK,
    _LOCAL_TOK_N,
    _N,
    _NCOUNTERS,
    _PAIR_SHIFT,
    _PAIRS,
    _PJ_CLAUDE,
    _PLAIN_CLAUDE_N,
    _PLAIN_CLAUDE_TOK,
    _PREP_LOCAL,
    _PREP_N,
    _PREP_SAVED,
    _ROUTE_DEC,
    _SAVED,
    _STANDING,
    _UNESTIMATED,
)
from conductor_tui.core.records import MAX_TOKENS
from conductor_tui.core.savings_band import pair_of

STATUSES = [None, "completed", "done", "success", "failed", "cancelled", "error", "running", "Completed"]
TARGETS = ["extract-x", "write-changelog", "claude", "Claude", "claude-opus", "", None]
TYPES = ["extraction", "Extraction ", "summarization", "judging", "planning", "", None]


def _maybe(rng: random.Random, value: Any, p: float = 0.5) -> Any:
    return value if rng.random() < p else None


def _line(rng: random.Random, i: int) -> str:
    roll = rng.random()
    if roll < 0.04:
        return rng.choice(['{"task_type": "extr', "not json", "[1, 2]", "", "  ", '"text"', "{}", "null"])
    day = rng.choice(["2025-01-0", "2025-02-1", "2025-02-3", "2024-12-2"]) + str(rng.randint(0, 9))
    ts = rng.choice([f"{day}T10:00:00Z", f"{day} 09:00:00", None, "", "yesterday", 1735725600])
    rec: dict[str, Any] = {
        "timestamp": ts,
        "event": rng.choice([None, None, None, "", "routing-decision", "claude-overhead", "config-change"]),
        "task_type": rng.choice(TYPES),
        "routed_to": rng.choice(TARGETS),
        "ensemble": rng.choice([None, "extract-x", "cross-file-deps"]),
        "delegability_category": rng.choice([None, "agent-delegable", "Agent Delegable", "claude-only"]),
        "reason": rng.choice([None, "no-ensemble", "task-profile", "standing-auth"]),
        "standing_auth": rng.choice([None, True, False]),
        "status": rng.choice(STATUSES),
        "total_tokens_local": _maybe(rng, rng.choice([0, rng.randint(1, 4000)])),
        "tokens_saved": _maybe(rng, rng.choice([0, -rng.randint(1, 300), rng.randint(1, 3000)]), 0.3),
        "estimated_claude_tokens": _maybe(rng, rng.choice([0, rng.randint(1, 3000)]), 0.4),
        "claude_tokens": _maybe(rng, rng.choice([0, rng.randint(1, 5000)]), 0.4),
        "preparation_tokens_local": _maybe(rng, rng.randint(0, 2000), 0.2),
        "preparation_savings": _maybe(rng, rng.randint(-100, 3000), 0.3),
        "estimated_full_claude_tokens": _maybe(rng, rng.randint(0, 6000), 0.4),
        "judgment_tokens_claude": _maybe(rng, rng.randint(0, 900), 0.5),
        "propose_judge": rng.choice(
            [
                None,
                None,
                {},
                {"claude_judge_tokens": None},
                {"claude_judge_tokens": 0},
                {"claude_judge_tokens": 70},
            ]
        ),
        "task_summary": "Résumé — 検証 " * rng.randint(0, 2),
    }
    if rng.random() < 0.02:
        rec["total_tokens_local"] = "450"  # a string number: the tolerant path
    # drop some keys entirely (absent, not null)
    for key in list(rec):
        if rng.random() < 0.15:
            del rec[key]
    return json.dumps(rec, ensure_ascii=False)


def _write_log(path: Path, seed: int, n: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(_line(rng, i) for i in range(n)) + "\n", encoding="utf-8")


def _record_counters(r: Any) -> tuple[list[int], tuple[int, int] | None]:
    """One record's counters, each by its plain meaning (see ``aggregate_rows``), and its
    (saving, local tokens) pair when the run is banded."""
    c = [0] * _NCOUNTERS
    c[_N] = 1
    done = r.status in (None, "completed", "done", "success")
    c[_FAILED] = 0 if done else 1
    c[_STANDING] = 1 if r.standing_auth else 0
    c[_PJ_CLAUDE] = (r.propose_judge.claude_judge_tokens or 0) if r.propose_judge is not None else 0
    pair = None
    t = r.total_tokens_local
    if t is not None:
        c[_LOCAL_TOK], c[_LOCAL_TOK_N] = t, 1
        saving = r.tokens_saved if r.tokens_saved is not None else r.estimated_claude_tokens
        if saving is None:
            c[_UNESTIMATED] = t
            c[_FIXED_UNEST] = 0 if done else t
        else:
            c[_SAVED] = saving
            if done and saving != 0 and t != 0:
                pair = (saving, t)
            else:
                c[_FIXED_SAVED] = saving
        return c, pair
    if r.tokens_saved is not None:
        c[_SAVED] = c[_FIXED_SAVED] = r.tokens_saved
    prepared = r.preparation_tokens_local is not None
    if r.claude_tokens is not None:
        c[_CLAUDE_TOK], c[_CLAUDE_TOK_N] = r.claude_tokens, 1
        if not prepared:
            c[_PLAIN_CLAUDE_TOK], c[_PLAIN_CLAUDE_N] = r.claude_tokens, 1
            if r.claude_tokens > 0:
                c[_CMIN] = c[_CMAX] = r.claude_tokens
    if prepared:
        c[_PREP_LOCAL], c[_PREP_N] = r.preparation_tokens_local, 1
        if r.preparation_savings is not None:
            c[_PREP_SAVED] = r.preparation_savings
        elif r.estimated_full_claude_tokens is not None:
            c[_PREP_SAVED] = r.estimated_full_claude_tokens - (r.judgment_tokens_claude or 0)
    return c, pair


def _reference_collapsed(agg: Aggregator, path: Path) -> tuple[dict, int]:
    """Every line decoded alone (the typed decoder, else json + pydantic, as the report
    reads a line the typed decoder rejects), each record's counters added to its
    normalised key one record at a time; (collapsed table, skipped lines)."""
    out: dict[Any, Any] = {_PAIRS: {}}
    skipped = 0
    for line in path.read_bytes().split(b"\n")[:-1]:
        if not line.strip():
            continue
        try:
            r = _ROUTE_DEC.decode(line.strip())
        except (msgspec.DecodeError, msgspec.ValidationError):
            r = _tolerant(line.strip(), "routing")
        if r is None:
            skipped += 1
            continue
        ts = r.timestamp
        raw = (r.event, r.task_type, r.routed_to, r.ensemble, r.delegability_category, r.reason)
        nk = agg._norm_key((*raw, ts[:10] if ts else None))
        c, pair = _record_counters(r)
        acc = out.setdefault(nk, [0] * _NCOUNTERS)
        for i in range(_CMIN):
            acc[i] += c[i]
        if c[_CMIN]:
            acc[_CMIN] = min(acc[_CMIN], c[_CMIN]) if acc[_CMIN] else c[_CMIN]
        acc[_CMAX] = max(acc[_CMAX], c[_CMAX])
        if pair is not None and nk[0] and nk[2]:  # banded: local decisions only
            table = out[_PAIRS].setdefault(nk[1], {})
            pk = pair[0] * 2**_PAIR_SHIFT + pair[1]
            table[pk] = table.get(pk, 0) + 1
    if not out[_PAIRS]:
        del out[_PAIRS]
    return out, skipped


def _fast_collapsed(path: Path) -> dict:
    """The fast path's table, as a parallel worker builds it (flushes included)."""
    _folder, collapsed, _lines, _state = aggregate_scan._scan_range((str(path), 0, path.stat().st_size))
    if not collapsed.get(_PAIRS, True):
        del collapsed[_PAIRS]
    return collapsed


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_fold_equals_the_per_record_meaning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(aggregate_scan, "BLOCK_SIZE", 1499)  # many blocks, lines across their edges
    monkeypatch.setattr(aggregate_scan, "GROUP_FLUSH", 7)  # group tables flushed all the time
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, seed, 2500)
    reference, ref_skipped = _reference_collapsed(Aggregator(), log)
    assert ref_skipped > 0 and len(reference) > 100 and reference.get(_PAIRS)
    assert _fast_collapsed(log) == reference
    # what a worker sends: the table added up into the routing totals
    folder = aggregate_scan.Folder()
    folder._apply_collapsed(copy.deepcopy(reference))
    sent = aggregate_scan.scan_routing_range((str(log), 0, log.stat().st_size))[0]
    assert sent == folder._route_totals()

    # and the figures: fed serially and on 2 / 3 workers, against the reference table applied
    ref = Aggregator()
    ref._apply_collapsed(reference)
    ref_snap = ref.snapshot().to_dict()
    assert ref_snap == dataclasses.asdict(ref.snapshot())  # to_dict is asdict, faster
    for workers in ("1", "2", "3"):
        monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
        agg = Aggregator()
        agg.feed_file(log, "routing")
        snap = agg.snapshot().to_dict()
        assert snap["skipped_lines"] == ref_skipped
        assert snap["lines_read"] == {str(log): 2500}
        for key in ("skipped_lines", "skipped_line_numbers", "lines_read"):
            snap.pop(key)
            ref_snap.pop(key, None)
        assert snap == ref_snap, workers
        assert agg.savings_range() == ref.savings_range(), workers


def test_warm_start_then_a_new_verdict_for_a_judged_run(tmp_path: Path) -> None:
    log = tmp_path / "ev" / "routing-log.jsonl"
    evals = tmp_path / "ev" / "evaluations.jsonl"
    _write_log(log, 5, 300)
    first = [
        {"routing_id": f"rd-{i}", "ensemble": "extract-x", "task_type": "extraction", "score": "good"}
        for i in range(40)
    ]
    evals.write_text("\n".join(json.dumps(e) for e in first) + "\n", encoding="utf-8")
    cold = Aggregator()
    cold.feed_file(log)
    cold.feed_file(evals)
    cache = cache_path_for(tmp_path / "ev")
    cold.save_cache(cache)

    # unchanged files: the cache loads, nothing is read, the figures are the same, and the
    # cache written back (the index still encoded) loads again to the same figures
    warm = Aggregator()
    assert warm.load_cache(cache)
    assert warm.feed_file(log) == 0 and warm.feed_file(evals) == 0
    assert warm.snapshot() == cold.snapshot()
    warm.save_cache(cache)
    again = Aggregator()
    assert again.load_cache(cache)
    assert again.snapshot() == cold.snapshot()

    # a person overrides the judge on run rd-3: one verdict per run, as a fresh read counts it
    # (after a snapshot was taken: the ensemble's lifecycle is not kept from before the change)
    with open(evals, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"routing_id": "rd-3", "ensemble": "extract-x", "score": "poor"}) + "\n")
    assert again.feed_file(evals) == 1
    fresh = Aggregator()
    fresh.feed_file(log)
    fresh.feed_file(evals)
    assert again.snapshot() == fresh.snapshot()
    assert again.snapshot().evaluations["poor"] == 1
    assert again.snapshot().evaluations["total"] == 40


def test_pair_keys_hold_every_saving_and_token_count(tmp_path: Path) -> None:
    """A (saving, tokens) pair is counted under one integer key: extreme and negative
    savings and token counts up to the largest accepted come back out unchanged."""
    assert MAX_TOKENS < 1 << _PAIR_SHIFT
    pairs = [(-MAX_TOKENS, MAX_TOKENS), (MAX_TOKENS, 1), (-1, 1), (1, MAX_TOKENS), (-7, 3), (5, 3)]
    log = tmp_path / "routing-log.jsonl"
    lines = [
        {"task_type": "extraction", "routed_to": "extract-x", "tokens_saved": s, "total_tokens_local": t}
        for s, t in pairs + pairs[:2]
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    agg = Aggregator()
    agg.feed_file(log, "routing")
    got = {pair_of(k): n for k, n in agg._range["extraction"][3].items()}
    assert got == {p: 2 if p in pairs[:2] else 1 for p in pairs}
