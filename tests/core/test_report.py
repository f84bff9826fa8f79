"""`conductor-tui report` end to end through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.cli import main
from conductor_tui.core.records import Evaluation, RoutingDecision
from conductor_tui.core.store import ProjectStore

KEYS = (
    "routing_decisions",
    "local_decisions",
    "claude_decisions",
    "total_tokens_local",
    "estimated_claude_tokens_saved",
    "interim_claude_debt",
    "skipped_lines",
    "by_task_type",
    "by_ensemble",
)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def _project(root: Path) -> ProjectStore:
    (root / ".llm-orc").mkdir(parents=True)
    store = ProjectStore(root)
    for _ in range(3):
        store.append_routing(
            RoutingDecision(
                task_type="extraction",
                delegability_category="agent-delegable",
                routed_to="extract-endpoints",
                ensemble="extract-endpoints",
                reason="task-profile",
                total_tokens_local=1200,
                estimated_claude_tokens=1000,
                tokens_saved=1000,
            )
        )
    store.append_routing(
        RoutingDecision(
            task_type="classification",
            delegability_category="agent-delegable",
            routed_to="claude",
            reason="no-ensemble",
            claude_tokens=700,
        )
    )
    store.append_routing(
        RoutingDecision(
            task_type="[bold red]naming[/]", delegability_category="claude-only", routed_to="claude"
        )
    )
    for score in ("good", "good", "acceptable"):
        store.append_evaluation(Evaluation(ensemble="extract-endpoints", score=score))
    with open(store.routing_log_path, "a", encoding="utf-8") as fh:
        fh.write("not json\n")
    return store


def test_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path)
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in data
    assert data["routing_decisions"] == 5
    assert data["local_decisions"] == 3 and data["claude_decisions"] == 2
    assert data["total_tokens_local"] == 3600
    assert data["estimated_claude_tokens_saved"] == 3000
    assert data["interim_claude_debt"] == 1
    assert data["skipped_lines"] == 1
    assert data["local_share_pct"] == 60.0
    ens = data["by_ensemble"]["extract-endpoints"]
    assert ens["evaluations"]["good"] == 2 and ens["phase"] == "calibrate"
    assert ens["next_step"] == "2 more evaluations to finish Calibrate"
    assert ens["promotion"]["next"] == "1 more good for global promotion"
    assert data["by_task_type"]["classification"]["phase"] == "design"
    assert data["project"] == str(tmp_path.resolve())
    assert any("skipped 1 unreadable line" in w and ":" in w for w in data["warnings"])


def test_report_human(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _project(tmp_path)
    assert main(["report", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Routing decisions" in out
    assert "Estimated Claude tokens saved" in out and "~3,000" in out
    assert "Interim Claude debt" in out
    assert "extract-endpoints" in out and "calibrate" in out
    assert "[bold red]naming[/]" in out  # data shown as text, never as markup
    assert "skipped 1 unreadable line" in out


def test_report_defaults_to_the_project_around_cwd(tmp_path: Path, capsys, monkeypatch) -> None:
    _project(tmp_path)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert main(["report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["routing_decisions"] == 5


def test_report_without_llm_orc_is_friendly(tmp_path: Path, capsys) -> None:
    assert main(["report", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "No .llm-orc/ folder" in out and str(tmp_path.resolve()) in out
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["routing_decisions"] == 0 and "No .llm-orc/ folder" in data["message"]


def test_report_with_llm_orc_but_no_logs(tmp_path: Path, capsys) -> None:
    (tmp_path / ".llm-orc").mkdir()
    assert main(["report", "--project", str(tmp_path)]) == 0
    assert "No routing decisions or evaluations logged yet" in capsys.readouterr().out


def test_report_unreadable_file_names_it(tmp_path: Path, capsys) -> None:
    (tmp_path / ".llm-orc" / "evaluations" / "routing-log.jsonl").mkdir(parents=True)
    assert main(["report", "--project", str(tmp_path), "--json"]) == 1
    err = capsys.readouterr().err
    assert "routing-log.jsonl" in err and "Is a directory" in err


def test_report_malformed_config_warns_and_uses_defaults(tmp_path: Path, capsys) -> None:
    store = _project(tmp_path)
    store.config_path.write_text("routing_thresholds: [unclosed\n")
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any("routing-config.yaml:" in w and "default thresholds" in w for w in data["warnings"])
    assert data["routing_decisions"] == 5


def test_report_global_tier(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert main(["report", "--global"]) == 0
    assert "No global conductor logs yet" in capsys.readouterr().out
    g = ProjectStore(None)
    g.append_routing(
        RoutingDecision(task_type="summarization", routed_to="write-changelog", total_tokens_local=120)
    )
    assert main(["report", "--global", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["routing_decisions"] == 1 and data["estimated_claude_tokens_saved"] == 100
    assert data["project"] is None


def test_report_second_run_uses_cache_and_sees_appends(tmp_path: Path, capsys) -> None:
    import os

    from conductor_tui.core.aggregate import cache_path_for

    store = _project(tmp_path)
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert cache_path_for(store.root).exists()
    store.append_routing(
        RoutingDecision(task_type="extraction", routed_to="extract-endpoints", total_tokens_local=12)
    )
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["routing_decisions"] == first["routing_decisions"] + 1
    assert second["skipped_lines"] == 1  # remembered from the cached part
    os.environ["CONDUCTOR_TUI_NO_CACHE"] = "1"
    try:
        assert main(["report", "--project", str(tmp_path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["routing_decisions"] == second["routing_decisions"]
    finally:
        del os.environ["CONDUCTOR_TUI_NO_CACHE"]


def test_report_subtracts_claude_overhead_and_counts_profile_debt(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    from conductor_tui.core.records import TaskProfile, TaskProfiles
    from conductor_tui.handoff import record_claude_overhead

    store = _project(tmp_path)
    record_claude_overhead(tmp_path, "planning", 250, session="s1", store=store)
    store.append_evaluation(Evaluation(ensemble="extract-endpoints", score="good", judge_tokens=150))
    store.save_task_profiles(
        TaskProfiles(
            profiles={
                "classification": TaskProfile(phase="design", interim_claude_count=1),  # = the log
                "code-review": TaskProfile(phase="design", interim_claude_count=2),  # log lacks it
            }
        )
    )
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["estimated_claude_tokens_saved"] == 3000  # unchanged key, gross figure
    assert data["claude_overhead_tokens"] == 400
    assert data["claude_overhead_planning_tokens"] == 250
    assert data["claude_overhead_judge_tokens"] == 150
    assert data["net_claude_tokens_saved"] == 2600
    assert data["routing_decisions"] == 5  # the overhead event is not a decision
    assert data["interim_claude_debt"] == 1 + 2
    assert data["interim_claude_debt_from_profiles"] == 2
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["report", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Net Claude tokens saved" in out and "~2,600" in out
    assert "planning 250, judging 150" in out and "-400" in out
    assert "(2 from task profiles)" in out


def test_report_malformed_task_profiles_warns(tmp_path: Path, capsys) -> None:
    store = _project(tmp_path)
    store.profiles_path.write_text("classification: [unclosed\n", encoding="utf-8")
    assert main(["report", "--project", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["interim_claude_debt"] == 1
    assert any("task-profiles.yaml" in w and "routing log only" in w for w in data["warnings"])
