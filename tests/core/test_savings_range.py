"""The saving's range from the report's one pass (Aggregator.savings_range, serial and on
every core) equals the line-by-line trace (SavingsTrace.range_from_lines) within a
rounding, on generated logs with corrupt lines, id-less lines, a BOM, failed runs and
zero savings; a trace read from a store reuses the report's aggregation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import aggregate
from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.records import RoutingThresholds
from conductor_tui.core.savings_trace import SavingsTrace, trace_savings
from conductor_tui.core.store import ProjectStore
from tests.core.test_logscan_parallel import _line


def _write(path: Path, seed: int, n: int) -> None:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = _line(rng, i)
        if text.startswith("{") and '"total_tokens_local"' in text and rng.random() < 0.3:
            rec = json.loads(text)
            rec.pop("id", None)  # id-less lines
            if rng.random() < 0.3:
                rec["status"] = rng.choice(["failed", "cancelled"])
            if rng.random() < 0.2:
                rec["tokens_saved"] = 0
            text = json.dumps(rec, ensure_ascii=False)
        out.append(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(out) + "\n").encode())


def _close(a: object, b: object) -> bool:
    """Equal, integers within 1 (float sums in another order may round the other way)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(a - b) <= 1
    return a == b


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_one_pass_range_equals_the_line_by_line_trace(tmp_path: Path, monkeypatch, seed: int) -> None:
    log = tmp_path / "routing-log.jsonl"
    evals = tmp_path / "evaluations.jsonl"
    _write(log, seed, 3000)
    evals.write_text(
        "\n".join(
            json.dumps({"ensemble": "extract-x", "score": "good", "judge_tokens": 40 + i}) for i in range(30)
        )
        + "\nnot json\n"
    )
    t = RoutingThresholds(ratio_min_samples=3)
    reference = SavingsTrace(t)
    reference.read_routing(log)
    reference.read_evaluations(evals)
    expected = reference.finish().range_from_lines()
    assert reference.skipped["routing-log.jsonl"]  # corrupt lines were there, and skipped
    assert any(b.source == "refined" for b in reference.bands.values())
    for workers in (1, 2, 3):
        monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
        agg = Aggregator(t)
        agg.feed_file(log, "routing")
        agg.feed_file(evals, "evaluations")
        got = agg.savings_range()
        assert _close(got, expected), (workers, got, expected)
        assert got["saved"] == agg.snapshot().estimated_claude_tokens_saved
        for tt, band in agg.bands().items():
            assert band == reference.band(tt)
        # the range survives the offset cache and goes on with appended lines
        cache = tmp_path / f"cache{workers}.msgpack"
        agg.save_cache(cache)
        again = Aggregator(t)
        assert again.load_cache(cache)
        assert again.savings_range() == got


def test_a_store_trace_reuses_the_last_aggregation(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_NO_CACHE", "1")
    store = ProjectStore(tmp_path)
    _write(Path(store.routing_log_path), 5, 400)
    agg = Aggregator(store.load_config().routing_thresholds)
    agg.feed_store(store)
    calls = []
    monkeypatch.setattr(aggregate.Aggregator, "_consume", lambda *a: calls.append(a))
    trace = trace_savings(store)
    assert trace.savings_range() == agg.savings_range() and calls == []  # no second pass
    monkeypatch.undo()
    with Path(store.routing_log_path).open("a") as fh:  # the log grew: read again
        fh.write(json.dumps({"task_type": "new-kind", "routed_to": "e", "total_tokens_local": 900}) + "\n")
    fresh = trace_savings(store).savings_range()
    assert fresh["saved"] == agg.savings_range()["saved"] + 750  # 900 ÷ the default 1.2
    # and the line-by-line trace still explains the same figures
    assert _close(trace_savings(store).range_from_lines(), fresh)
