"""Savings as a range from the project's own Claude-task records, and every figure traced
to the log lines (file:line) that make it up — on generated logs with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.cli import main
from conductor_tui.commands.report import build_report
from conductor_tui.core.savings_trace import parse_figure, trace_savings
from conductor_tui.core.store import ProjectStore
from tests.core.unique_logs import write_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CONDUCTOR_TUI_NO_CACHE", "1")
    proj, other = tmp_path / "proj", tmp_path / "other"
    proj.mkdir()
    other.mkdir()
    return proj, write_project(proj, other)


def _at(lines) -> dict[int, float]:
    return {int(at.rsplit(":", 1)[1]): v for at, v, _ in lines if at.startswith("routing-log.jsonl")}


def test_figures_equal_the_report_and_lines_add_up(project) -> None:
    proj, truth = project
    store = ProjectStore(proj)
    snap, _cfg, _w = build_report(store)
    trace = trace_savings(store)
    saved = trace.explain("saved")
    # known answer: extraction 6 runs × 1,200 local tokens ÷ refined ratio 1,200/1,125 = 6,750;
    # test-generation logs 5 × 1,500 (the failed run logged 0)
    assert saved.total == 6750 + 7500 == snap.estimated_claude_tokens_saved
    assert round(sum(v for _a, v, _w in saved.lines)) == saved.total
    lines = _at(saved.lines)
    assert set(lines) == set(truth.local_tokens) | {n for n, v in truth.saved_lines.items() if v}
    assert all(lines[n] == pytest.approx(1125) for n in truth.local_tokens)
    over = trace.explain("overhead")
    assert over.total == 1300 == snap.claude_overhead_tokens
    assert {a for a, _v, _w in over.lines} == {f"routing-log.jsonl:{n}" for n in truth.overhead_routing} | {
        f"evaluations.jsonl:{n}" for n in truth.overhead_evals
    }
    net = trace.explain("net")
    assert net.total == snap.net_claude_tokens_saved == 14250 - 1300
    assert trace.explain("local-tokens").total == snap.total_tokens_local
    assert trace.explain("claude-tokens").total == snap.claude_tokens
    assert _at(trace.explain("claude-tokens").lines) == {
        n: float(t) for n, (_tt, t) in truth.claude_tokens.items()
    }
    assert trace.explain("decisions").total == snap.routing_decisions
    assert trace.explain("local-decisions").total == snap.local_decisions
    assert trace.explain("debt").total == snap.interim_claude_debt == 4
    for tt, row in snap.by_task_type.items():
        assert trace.explain(f"saved:task-type={tt}").total == row["estimated_claude_tokens_saved"]
    for ens, row in snap.by_ensemble.items():
        assert trace.explain(f"saved:ensemble={ens}").total == row["estimated_claude_tokens_saved"]
    for day, row in snap.by_day.items():
        assert trace.explain(f"saved:day={day}").total == row["estimated_claude_tokens_saved"]
    assert trace.skipped == {"routing-log.jsonl": [truth.corrupt_routing_line]}


def test_the_range_comes_from_the_projects_claude_task_records(project) -> None:
    proj, _truth = project
    trace = trace_savings(ProjectStore(proj))
    band = trace.band("extraction")
    # mean local 1,200 over Claude tasks of 800 / 1,000 / 1,200 / 1,500 tokens
    assert band.source == "refined" and band.claude_samples == 4
    assert (band.low, band.ratio, band.high) == (
        pytest.approx(0.8),
        pytest.approx(1200 / 1125),
        pytest.approx(1.5),
    )
    ext = trace.explain("saved:task-type=extraction")
    assert ext.range == (6 * 800, 6 * 1500)
    # test-generation has no Claude-task records: default 1.2 ± 25 % → 0.9–1.5
    tg = trace.band("test-generation")
    assert tg.source == "default" and (tg.low, tg.high) == (pytest.approx(0.9), pytest.approx(1.5))
    gen = trace.explain("saved:task-type=test-generation")
    # five completed runs logged 1,500 each (band 1,333–2,222 per run); the failed run stays 0
    assert gen.range == (round(5 * 2000 / 1.5), round(5 * 2000 / 0.9))
    rng = trace.savings_range()
    assert rng["saved_range"] == [ext.range[0] + gen.range[0], ext.range[1] + gen.range[1]]
    assert rng["net_range"] == [rng["saved_range"][0] - 1300, rng["saved_range"][1] - 1300]
    assert rng["saved_range"][0] <= rng["saved"] <= rng["saved_range"][1]


def test_bad_figures_are_refused_clearly() -> None:
    assert parse_figure("saved:task-type=x") == ("saved", ("task-type", "x"))
    with pytest.raises(ValueError, match="unknown figure"):
        parse_figure("profit")
    with pytest.raises(ValueError, match="KIND=VALUE"):
        parse_figure("saved:colour=red")


def test_report_explain_and_range(project, capsys) -> None:
    proj, truth = project
    assert main(["report", "--project", str(proj), "--explain", "net", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 12950 and len(out["lines"]) == len(
        [v for v in truth.saved_lines.values() if v]
    ) + len(truth.local_tokens) + len(truth.overhead_routing) + len(truth.overhead_evals)
    assert main(["report", "--project", str(proj), "--explain", "saved:ensemble=gen-tests"]) == 0
    text = capsys.readouterr().out
    assert "routing-log.jsonl:" in text and "7,500" in text
    assert main(["report", "--project", str(proj), "--explain", "nonsense"]) == 2
    assert main(["report", "--project", str(proj), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["savings_range"]["saved"] == out["estimated_claude_tokens_saved"]
    assert main(["report", "--project", str(proj)]) == 0
    assert "range" in capsys.readouterr().out
