"""Aggregator: totals, savings arithmetic, incremental feeding, tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.records import Evaluation, RoutingDecision, RoutingThresholds
from conductor_tui.core.store import ProjectStore


def _write(path: Path, rows: list[dict | str], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8", newline="") as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")


def local(tt: str, ens: str, tokens: int, day: str = "2025-06-01", **kw) -> dict:
    return {
        "timestamp": f"{day}T10:00:00Z",
        "task_type": tt,
        "delegability_category": "agent-delegable",
        "routed_to": ens,
        "reason": "task-profile",
        "total_tokens_local": tokens,
        **kw,
    }


def claude(
    tt: str, tokens: int | None = None, cat: str = "claude-only", day: str = "2025-06-01", **kw
) -> dict:
    return {
        "timestamp": f"{day}T11:00:00+00:00",
        "task_type": tt,
        "delegability_category": cat,
        "routed_to": "claude",
        "reason": "competence-boundary" if cat == "claude-only" else "no-ensemble",
        "claude_tokens": tokens,
        **kw,
    }


def test_totals_savings_and_debt(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write(
        log,
        [
            local("extraction", "extract-x", 1200, estimated_claude_tokens=1000, tokens_saved=1000),
            local("extraction", "extract-x", 600, day="2025-06-02"),  # no estimate → 600/1.2
            local("summarization", "write-changelog", 240, estimated_claude_tokens=150),
            claude("holistic-judgment", 3000),
            claude("classification", 800, cat="agent-delegable"),  # interim debt
            claude("evidence-gathering", 900, cat="Ensemble Delegable"),  # interim debt
            {  # ensemble-prepared Claude
                "timestamp": "2025-06-02T09:00:00Z",
                "task_type": "holistic-judgment",
                "delegability_category": "claude-only",
                "routed_to": "claude",
                "preparation_tokens_local": 4000,
                "judgment_tokens_claude": 800,
                "estimated_full_claude_tokens": 3000,
            },
            {"timestamp": "2025-06-02T09:00:00Z", "event": "config-change", "reason": "tune"},
        ],
    )
    agg = Aggregator()
    assert agg.feed_file(log) == 8
    s = agg.snapshot()
    assert s.routing_decisions == 7
    assert s.local_decisions == 3
    assert s.claude_decisions == 4
    assert s.prepared_claude_decisions == 1
    assert s.events == 1
    assert s.total_tokens_local == 1200 + 600 + 240 + 4000
    assert s.estimated_claude_tokens_saved == 1000 + 500 + 150 + 2200
    assert s.interim_claude_debt == 2
    assert s.local_share_pct == pytest.approx(42.9)
    assert s.skipped_lines == 0
    ex = s.by_task_type["extraction"]
    assert (ex["decisions"], ex["local_decisions"], ex["estimated_claude_tokens_saved"]) == (2, 2, 1500)
    assert ex["token_ratio_source"] == "default" and ex["token_ratio"] == 1.2
    assert s.by_task_type["classification"]["interim_claude"] == 1
    assert s.by_task_type["classification"]["phase"] == "design"
    assert s.by_task_type["holistic-judgment"]["phase"] is None
    assert s.by_ensemble["extract-x"]["local_decisions"] == 2
    assert set(s.by_day) == {"2025-06-01", "2025-06-02"}
    assert s.by_day["2025-06-02"]["decisions"] == 2
    d = s.to_dict()
    for key in (
        "routing_decisions",
        "local_decisions",
        "claude_decisions",
        "total_tokens_local",
        "estimated_claude_tokens_saved",
        "interim_claude_debt",
        "skipped_lines",
        "by_task_type",
        "by_ensemble",
    ):
        assert key in d
    json.dumps(d)  # plain data


def test_ratio_refined_per_task_type(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    rows = [local("extraction", "extract-x", 1500) for _ in range(3)]
    rows += [claude("extraction", 1000, cat="agent-delegable") for _ in range(3)]
    _write(log, rows)
    agg = Aggregator()
    agg.feed_file(log)
    s = agg.snapshot()
    ex = s.by_task_type["extraction"]
    assert ex["token_ratio_source"] == "refined" and ex["token_ratio"] == 1.5
    assert ex["estimated_claude_tokens_saved"] == 3000  # 4500 / 1.5
    # with a higher sample requirement the default applies again
    agg2 = Aggregator(RoutingThresholds(ratio_min_samples=4))
    agg2.feed_file(log)
    assert agg2.snapshot().by_task_type["extraction"]["estimated_claude_tokens_saved"] == 3750


def test_incremental_feed_reads_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write(log, [local("extraction", "extract-x", 120) for _ in range(5)])
    agg = Aggregator()
    assert agg.feed_file(log) == 5
    assert agg.feed_file(log) == 0
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(local("extraction", "extract-x", 120)) + "\n")
        fh.write('{"task_type": "extraction", "routed_to": "extract-x", "total_to')  # being written
    assert agg.feed_file(log) == 1
    assert agg.snapshot().routing_decisions == 6
    with open(log, "a", encoding="utf-8") as fh:
        fh.write('kens_local": 120}\n')
    assert agg.feed_file(log) == 1
    s = agg.snapshot()
    assert s.routing_decisions == 7 and s.total_tokens_local == 840
    assert s.skipped_lines == 0


def test_truncated_or_replaced_file_starts_over(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write(log, [local("extraction", "extract-x", 100) for _ in range(10)])
    agg = Aggregator()
    agg.feed_file(log)
    _write(log, [local("summarization", "w", 50) for _ in range(2)])  # rewritten, shorter
    agg.feed_file(log)
    s = agg.snapshot()
    assert s.routing_decisions == 2 and set(s.by_task_type) == {"summarization"}


@pytest.mark.parametrize("workers", ["1", "3"])
def test_corrupt_lines_counted_with_line_numbers_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    import conductor_tui.core.aggregate_scan as aggregate_scan

    monkeypatch.setattr(aggregate_scan, "BLOCK_SIZE", 4096)  # many blocks, bisection paths
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    log = tmp_path / "routing-log.jsonl"
    rows: list[dict | str] = []
    bad_lines = {7, 120, 121, 150, 151, 299, 300}
    two = json.dumps(local("extraction", "extract-x", 100))
    for n in range(1, 301):
        if n in (120, 121):  # two records on one line: not a JSONL line, skipped like a corrupt one
            rows.append(two + ("" if n % 2 else " ") + two)
        elif n in bad_lines:
            rows.append("{not json" if n % 2 else "[1, 2]")
        elif n % 50 == 0:
            rows.append("")  # blank: ignored, not counted
        elif n % 45 == 0:
            rows.append(json.dumps(local("extraction", "extract-x", 100, total_tokens_local="100")))  # lax
        else:
            rows.append(json.dumps(local("extraction", "extract-x", 100)))
    _write(log, rows)
    agg = Aggregator()
    agg.feed_file(log)
    s = agg.snapshot()
    assert s.skipped_lines == 7
    assert s.skipped_line_numbers[str(log)] == sorted(bad_lines)
    blanks = len([n for n in range(1, 301) if n % 50 == 0 and n not in bad_lines])
    assert s.routing_decisions == 300 - 7 - blanks
    assert s.total_tokens_local == 100 * s.routing_decisions
    assert s.lines_read[str(log)] == 300


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    "hiding",
    [
        pytest.param([""], id="blank"),
        pytest.param(["  \r"], id="whitespace-only"),
        pytest.param(
            ['{"timestamp": "2025-06-01T10:00:00Z",', ' "task_type": "extraction"}'], id="over-two-lines"
        ),
    ],
)
def test_a_line_of_two_records_is_skipped_when_another_line_evens_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str, hiding: list[str]
) -> None:
    """A line without a record of its own (blank, or half of a record written over two
    lines) in the same block as a line holding two records (two writers interleaved): the
    block has as many values as lines, yet the line of two is corrupt, as a line-by-line
    reader finds it, and the blank line is nothing."""
    import conductor_tui.core.aggregate_scan as aggregate_scan

    monkeypatch.setattr(aggregate_scan, "BLOCK_SIZE", 1 << 16)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    one = json.dumps(local("extraction", "extract-x", 100))
    rows = [one] * 40 + hiding + [one + one] * (len(hiding)) + [one] * 40
    log = tmp_path / "routing-log.jsonl"
    _write(log, rows)
    agg = Aggregator()
    agg.feed_file(log)
    s = agg.snapshot()
    two_records = [41 + len(hiding) + i for i in range(len(hiding))]
    half_records = [41 + i for i in range(len(hiding))] if len(hiding) == 2 else []
    assert s.routing_decisions == 80
    assert s.total_tokens_local == 8000
    assert s.skipped_line_numbers.get(str(log), []) == sorted(half_records + two_records)


def test_crlf_bom_non_ascii_and_odd_values(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    body = (
        "\ufeff"
        + json.dumps(local("résumé", "write-résumé", 10))
        + "\r\n"
        + json.dumps({**local("extraction", "x", 5), "timestamp": 1735725600})  # numeric timestamp
        + "\r\n"
        + json.dumps({**local("extraction", "x", 5), "timestamp": "ISO-8601", "standing_auth": "yes"})
        + "\r\n"
    )
    log.write_bytes(body.encode("utf-8"))
    agg = Aggregator()
    agg.feed_file(log)
    s = agg.snapshot()
    assert s.routing_decisions == 3 and s.skipped_lines == 0
    assert "résumé" in s.by_task_type and "write-résumé" in s.by_ensemble
    assert "2025-01-01" in s.by_day and "unknown" in s.by_day
    assert s.standing_auth_decisions == 1


def test_evaluations_lifecycle_and_promotion(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    for _ in range(21):
        store.append_routing(
            RoutingDecision(
                task_type="extraction", routed_to="extract-x", ensemble="extract-x", total_tokens_local=12
            )
        )
    store.append_routing(
        RoutingDecision(task_type="summarization", routed_to="write-cl", total_tokens_local=12)
    )
    for score in ["good", "good", "acceptable", "good", "good", "good"]:
        store.append_evaluation(Evaluation(ensemble="extract-x", score=score))
    store.append_evaluation(Evaluation(ensemble="write-cl", score="poor", failure_mode="incomplete"))
    store.append_evaluation(Evaluation(ensemble="write-cl", score="good", task_type="summarization"))
    agg = Aggregator()
    agg.feed_store(store)
    s = agg.snapshot()
    ex = s.by_ensemble["extract-x"]
    assert ex["phase"] == "promote"
    assert (
        ex["promotion"]["global_ready"]
        and ex["promotion"]["next"] == "generality assessment for library contribution"
    )
    assert ex["evaluations"] == {"good": 5, "acceptable": 1, "poor": 0, "total": 6}
    wc = s.by_ensemble["write-cl"]
    assert wc["phase"] == "calibrate" and wc["next_step"].startswith("3 more evaluations")
    assert s.by_task_type["extraction"]["evaluations"]["good"] == 5
    assert s.by_task_type["summarization"]["evaluations"] == {
        "good": 1,
        "acceptable": 0,
        "poor": 1,
        "unscored": 0,
    }
    assert s.by_task_type["extraction"]["phase"] == "promote"
    assert s.evaluations["total"] == 8
    # appended evaluations are reflected incrementally
    store.append_evaluation(Evaluation(ensemble="write-cl", score="good"))
    assert agg.feed_store(store) == 1
    assert agg.snapshot().by_ensemble["write-cl"]["evaluations"]["good"] == 2


def test_missing_files_are_empty(tmp_path: Path) -> None:
    agg = Aggregator()
    assert agg.feed_file(tmp_path / "routing-log.jsonl") == 0
    assert agg.feed_file(tmp_path / "evaluations.jsonl") == 0
    s = agg.snapshot()
    assert s.routing_decisions == 0 and s.by_ensemble == {} and s.local_share_pct == 0.0


def test_warm_start_cache(tmp_path: Path) -> None:
    from conductor_tui.core.aggregate import cache_path_for

    log = tmp_path / "ev" / "routing-log.jsonl"
    evals = tmp_path / "ev" / "evaluations.jsonl"
    _write(log, [local("extraction", "extract-x", 120) for _ in range(4)] + ["broken"])
    _write(evals, [{"ensemble": "extract-x", "score": "good"}, {"ensemble": "extract-x", "score": "poor"}])
    cold = Aggregator()
    cold.feed_file(log)
    cold.feed_file(evals)
    cache = cache_path_for(tmp_path / "ev")
    assert "conductor-tui" in cache.parts and ".llm-orc" not in cache.parts
    cold.save_cache(cache)
    _write(log, [local("summarization", "w", 60)], mode="a")
    warm = Aggregator()
    assert warm.load_cache(cache)
    assert warm.feed_file(log) == 1  # only the appended line is read
    assert warm.feed_file(evals) == 0
    cold.feed_file(log)
    assert warm.snapshot() == cold.snapshot()
    assert warm.snapshot().skipped_line_numbers[str(log)] == [5]
    # a rewritten log invalidates the cache
    _write(log, [local("classification", "c", 1)] * 30)
    assert not Aggregator().load_cache(cache)
    # a corrupt cache is ignored
    cache.write_bytes(b"\x00garbage")
    fresh = Aggregator()
    assert not fresh.load_cache(cache)
    fresh.feed_file(log)
    assert fresh.snapshot().routing_decisions == 30


def test_unterminated_complete_last_line_then_appends(tmp_path: Path) -> None:
    from conductor_tui.core.store import append_jsonl

    log = tmp_path / "routing-log.jsonl"
    log.write_text(json.dumps(local("extraction", "x", 10)) + "\n" + json.dumps(local("extraction", "x", 10)))
    agg = Aggregator()
    assert agg.feed_file(log) == 2
    append_jsonl(log, local("extraction", "x", 10))
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("garbage\n")
    assert agg.feed_file(log) == 2
    s = agg.snapshot()
    assert s.routing_decisions == 3
    assert s.skipped_line_numbers[str(log)] == [4]
    assert s.lines_read[str(log)] == 4


def test_claude_overhead_is_subtracted_from_savings(tmp_path: Path) -> None:
    from conductor_tui.core.aggregate import cache_path_for

    log = tmp_path / "ev" / "routing-log.jsonl"
    evals = tmp_path / "ev" / "evaluations.jsonl"
    _write(
        log,
        [
            local("extraction", "extract-x", 1200, tokens_saved=1000),
            local("extraction", "extract-x", 1200, tokens_saved=1000),
            # planning cost (handoff.record_claude_overhead) — an event, not a decision
            {
                "event": "claude-overhead",
                "task_type": "planning",
                "routed_to": "claude",
                "claude_tokens": 300,
            },
            {"event": "claude-overhead", "task_type": "planning", "routed_to": "claude", "claude_tokens": 50},
            # a judge call that produced no evaluation is logged as overhead too
            {"event": "claude-overhead", "task_type": "judging", "routed_to": "claude", "claude_tokens": 7},
            # a propose–judge run judged by Claude (the cockpit's run screen): its judge cost
            local(
                "planning",
                "pair-claude",
                300,
                tokens_saved=0,
                propose_judge={"judge": "claude", "judge_tokens": 90, "claude_judge_tokens": 90},
            ),
            local("planning", "pair-local", 300, tokens_saved=0, propose_judge={"judge_tokens": 80}),
        ],
    )
    _write(
        evals,
        [
            {"ensemble": "extract-x", "score": "good", "judge_tokens": 400},
            {"ensemble": "extract-x", "score": "good"},  # a person's verdict: no judge cost
            '{"ensemble": "extract-x", "score": "poor", "judge_tokens": "45"}',  # tolerant path
        ],
    )
    agg = Aggregator()
    agg.feed_file(log)
    agg.feed_file(evals)
    s = agg.snapshot()
    assert s.routing_decisions == 4 and s.events == 3
    assert s.estimated_claude_tokens_saved == 2000
    assert s.claude_overhead_planning_tokens == 350
    assert s.claude_overhead_judge_tokens == 400 + 45 + 7 + 90  # a local judge costs Claude nothing
    assert s.claude_overhead_tokens == 350 + 542
    assert s.net_claude_tokens_saved == 2000 - 892
    assert s.claude_tokens == 0  # overhead is not counted as Claude decisions' tokens
    # incremental: new overhead shows up; the warm-start cache keeps it
    _write(evals, [{"ensemble": "extract-x", "score": "good", "judge_tokens": 98}], mode="a")
    agg.feed_file(evals)
    assert agg.snapshot().net_claude_tokens_saved == 2000 - 990
    cache = cache_path_for(tmp_path / "ev")
    agg.save_cache(cache)
    warm = Aggregator()
    assert warm.load_cache(cache)
    assert warm.snapshot().claude_overhead_tokens == 990
    # the tolerant path (a line the strict decoder rejects) counts it too
    _write(
        log,
        [local("planning", "pair-claude", "300", propose_judge={"claude_judge_tokens": 10})],
        mode="a",
    )
    warm.feed_file(log)
    assert warm.snapshot().claude_overhead_judge_tokens == 542 + 98 + 10
    json.dumps(s.to_dict())


def test_interim_debt_takes_profile_counts_where_logs_lack_them(tmp_path: Path) -> None:
    from conductor_tui.core.records import TaskProfile, TaskProfiles

    (tmp_path / ".llm-orc").mkdir()
    store = ProjectStore(tmp_path)
    _write(
        store.routing_log_path,
        [
            claude("classification", 800, cat="agent-delegable"),
            claude("classification", 800, cat="agent-delegable"),
            claude("holistic-judgment", 3000),
        ],
    )
    agg = Aggregator()
    agg.feed_store(store)
    assert agg.snapshot().interim_claude_debt == 2
    store.save_task_profiles(
        TaskProfiles(
            profiles={
                # same work as the two logged decisions: not counted twice
                "classification": TaskProfile(phase="design", interim_claude_count=2),
                # logs rotated / only the profile knows: 3 more
                "Code Review": TaskProfile(phase="design", interim_claude_count=3),
                "summarization": TaskProfile(phase="trust", interim_claude_count=0),
            }
        )
    )
    agg.feed_store(store)
    s = agg.snapshot()
    assert s.interim_claude_debt == 2 + 3
    assert s.interim_claude_debt_from_profiles == 3
    assert s.by_task_type["classification"]["interim_claude"] == 2
    assert s.by_task_type["Code Review"]["interim_claude"] == 3
    assert s.by_task_type["Code Review"]["phase"] == "design"
    assert "summarization" not in s.by_task_type
    # the profile counts more than the log: the difference is added, once
    store.update_task_profiles(
        lambda p: p.profiles["classification"].__setattr__("interim_claude_count", 5) or p
    )
    agg.feed_store(store)
    s = agg.snapshot()
    assert s.by_task_type["classification"]["interim_claude"] == 5
    assert s.interim_claude_debt == 5 + 3
    # a profile spelled differently from the log still matches it (task_type_key)
    agg.set_task_profile_interim({"Classification": 1})
    assert agg.snapshot().interim_claude_debt == 2
