"""Pilot tests of the Evaluate, Lifecycle, Models and Savings screens: real key presses,
assertions on screen state and on what was written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from textual.widgets import DataTable, Input, RadioSet, Static

from conductor_tui.core import locations
from conductor_tui.core.records import Phase
from conductor_tui.core.review import load_review, status_for
from conductor_tui.core.store import ProjectStore
from conductor_tui.ui.app import make_app
from conductor_tui.ui.screens.evaluation import EvaluationScreen
from conductor_tui.ui.screens.lifecycle import LifecycleScreen
from conductor_tui.ui.screens.models import ModelsScreen
from conductor_tui.ui.screens.savings import SavingsScreen
from conductor_tui.ui.widgets.config_dialogs import ActionConfirm, RollbackDialog, ThresholdsDialog
from tests.fakes.gpu import RTX_4090, FakeGpuProbe
from tests.ui.conftest import drain, posted, wait_until
from tests.ui.review_support import (
    SIZE,
    calibrating_project,
    demo_app,
    services_for,
    settle,
    type_text,
    write_jsonl,
)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- Evaluate


async def test_score_is_refused_before_a_reflection(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "evaluate")
    evals = project / ".llm-orc/evaluations/evaluations.jsonl"
    before = evals.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        assert screen.current is not None and screen.current.judge is None
        score = screen.query_one("#ev-score", RadioSet)
        assert score.disabled
        assert "write your reflection first" in str(screen.query_one("#ev-gate", Static).render())
        # clicking a score does nothing while locked; ctrl+s refuses
        await pilot.click("#ev-score-good")
        assert screen.selected_score() is None
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert evals.read_bytes() == before
        # a reflection unlocks the score
        await pilot.click("#ev-reflect")
        await type_text(pilot, "All fixtures present")
        await pilot.pause()
        assert not score.disabled
        await pilot.click("#ev-score-good")
        assert screen.selected_score() == "good"


async def test_a_verdict_by_keyboard_alone(tmp_path: Path) -> None:
    """Tab to the reflection, write it, Tab to the score, Enter picks the highlighted one
    (the first), the arrows move, a poor score's failure mode the same way; ctrl+s records."""
    project = calibrating_project(tmp_path, evaluated=4)
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        while app.focused is None or app.focused.id != "ev-reflect":
            await pilot.press("tab")
        await type_text(pilot, "Two endpoints missing")
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "ev-score"
        await pilot.press("enter")
        assert screen.selected_score() == "good"
        await pilot.press("right", "right", "enter")
        assert screen.selected_score() == "poor"
        await pilot.pause()
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "ev-failure"
        await pilot.press("enter")
        assert screen.selected_failure() is not None
        await pilot.press("ctrl+s")
        await settle(pilot)
    record = _lines(project / ".llm-orc/evaluations/evaluations.jsonl")[-1]
    assert (record["routing_id"], record["score"]) == ("rt-5", "poor")
    assert record["failure_mode"] and record["reasoning"] == "Two endpoints missing"


async def test_an_evaluation_writes_the_spec_record_and_moves_the_phase(tmp_path: Path) -> None:
    project = calibrating_project(tmp_path, evaluated=4)
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    store = ProjectStore(project)
    assert status_for(load_review(store), "extract-endpoints").phase is Phase.CALIBRATE
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert [i.routing_id for i in screen.items] == ["rt-5"]
        await pilot.click("#ev-reflect")
        await type_text(pilot, "All 7 endpoints with methods")
        await pilot.click("#ev-score-good")
        await pilot.click("#ev-feedback")
        await type_text(pilot, "nice")
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = str(screen.query_one("#ev-consequences", Static).render())
        assert "Calibrate → Establish" in shown
        assert "calibration passed" in shown
        assert screen.items == []  # nothing left to evaluate
    record = _lines(project / ".llm-orc/evaluations/evaluations.jsonl")[-1]
    assert record["routing_id"] == "rt-5"
    assert record["ensemble"] == "extract-endpoints"
    assert record["invocation_number"] == 5
    assert record["phase"] == "calibrate"
    assert record["score"] == "good"
    assert record["reasoning"] == "All 7 endpoints with methods"
    assert record["failure_mode"] is None
    assert record["input_summary"] == "Extract endpoints from api_5.py"
    assert record["output_length"] > 0
    assert record["user_feedback"] == "nice"
    assert record["timestamp"].startswith("2026-11-20T16:30")
    assert status_for(load_review(store), "extract-endpoints").phase is Phase.ESTABLISH
    profile = store.load_task_profiles().profiles["extraction"]  # Task Profile Updates
    assert (profile.ensemble, profile.phase, profile.invocation_count, profile.good_count) == (
        "extract-endpoints",
        Phase.ESTABLISH,
        5,
        5,
    )


async def test_an_evaluation_keeps_a_profile_bump_written_meanwhile(tmp_path: Path) -> None:
    """The post-evaluation profile update re-reads the file under its lock: a session
    bumping interim_claude_count after the screen loaded is not lost."""
    project = calibrating_project(tmp_path, evaluated=4)
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    store = ProjectStore(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def bump(p):
            prof = p.profiles.get("extraction")
            if prof is None:
                from conductor_tui.core.records import TaskProfile

                prof = p.profiles["extraction"] = TaskProfile()
            prof.interim_claude_count += 3
            return p

        before = store.load_task_profiles().profiles.get("extraction")
        start = before.interim_claude_count if before else 0
        store.update_task_profiles(bump)  # the session process, after the screen loaded
        await pilot.click("#ev-reflect")
        await type_text(pilot, "All 7 endpoints with methods")
        await pilot.click("#ev-score-good")
        await pilot.press("ctrl+s")
        await settle(pilot)
    profile = store.load_task_profiles().profiles["extraction"]
    assert profile.interim_claude_count == start + 3
    assert (profile.phase, profile.good_count) == (Phase.ESTABLISH, 5)


async def test_poor_needs_a_failure_mode_and_triggers_the_fallback(tmp_path: Path) -> None:
    project = calibrating_project(tmp_path, evaluated=1)
    app = make_app(services=services_for(project, tmp_path), initial_mode="evaluate")
    log = project / ".llm-orc/evaluations/evaluations.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.click("#ev-reflect")
        await type_text(pilot, "Missed half the routes")
        await pilot.click("#ev-score-poor")
        assert screen.query_one("#ev-failure", RadioSet).display
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(_lines(log)) == 1  # refused: no failure mode
        await pilot.click("#ev-fail-incomplete")
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = str(screen.query_one("#ev-consequences", Static).render())
        assert "scored poor during calibration — falling back to Claude for the rest of this session" in shown
    record = _lines(log)[-1]
    assert (record["score"], record["failure_mode"], record["routing_id"]) == ("poor", "incomplete", "rt-2")


async def test_agreeing_with_the_judge_keeps_both_verdicts(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#ev-queue", DataTable)
        index = next(i for i, it in enumerate(screen.items) if it.judge is not None)
        table.focus()
        for _ in range(index):
            await pilot.press("down")
        await settle(pilot)
        assert screen.current.judge is not None
        assert screen.query_one("#ev-judge").display
        assert not screen.query_one("#ev-score", RadioSet).disabled  # the judge's reflection counts
        await pilot.click("#ev-feedback")
        await type_text(pilot, "agree, subject is tight")
        await pilot.press("escape")
        screen.query_one("#ev-queue", DataTable).focus()
        await pilot.press("J")
        await settle(pilot)
    record = _lines(project / ".llm-orc/evaluations/evaluations.jsonl")[-1]
    assert record["ensemble"] == "write-commit-message"
    assert record["evaluator"] == "human"
    assert record["score"] == record["judge_score"] == "good"
    assert record["judge_agreement"] == "agreed"
    assert record["judge_reasoning"].startswith("Completeness")
    assert record["user_feedback"] == "agree, subject is tight"


async def test_overriding_the_judge_and_flagging(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        index = next(i for i, it in enumerate(screen.items) if it.judge is not None)
        screen.query_one("#ev-queue", DataTable).move_cursor(row=index)
        await settle(pilot)
        await pilot.click("#ev-reflect")
        await type_text(pilot, "Body overstates test count")
        await pilot.click("#ev-score-acceptable")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # flag a run that is not due: it enters the queue as "triggered"
        await pilot.press("v")
        await settle(pilot)
        all_ids = [i.routing_id for i in screen.items]
        target = "rt-1119-01"
        screen.query_one("#ev-queue", DataTable).move_cursor(row=all_ids.index(target))
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        flagged = next(i for i in screen.items if i.routing_id == target)
        assert flagged.phase == "triggered" and flagged.flagged
    records = _lines(project / ".llm-orc/evaluations/evaluations.jsonl")
    override = records[-1]
    assert (override["score"], override["judge_score"], override["judge_agreement"]) == (
        "acceptable",
        "good",
        "overridden",
    )
    assert override["reasoning"] == "Body overstates test count"
    flag = _lines(project / ".llm-orc/evaluations/routing-log.jsonl")[-1]
    assert flag["event"] == "flagged-unsatisfactory" and flag["routing_id"] == target


# ----------------------------------------------------------------------------- Lifecycle


async def test_threshold_edit_creates_a_version_and_rollback_restores_it(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    store = ProjectStore(project)
    assert store.load_config().version == 3
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ThresholdsDialog)
        field = app.screen.query_one("#th-calibration_period", Input)
        field.value = "7"
        await pilot.click("#cp-ok")
        await settle(pilot)
        assert isinstance(app.screen, LifecycleScreen)
        cfg = store.load_config()
        assert (cfg.version, cfg.routing_thresholds.calibration_period) == (4, 7)
        assert store.load_config_version(3).routing_thresholds.calibration_period == 5
        assert "v4" in str(app.screen.query_one("#lc-config", Static).render())
        shown = {v: cfg.routing_thresholds.calibration_period for v, cfg in app.screen.versions}
        assert shown[3] == 5 and shown[4] == 7  # v3 read again from its backup, v4 is new
        # roll back to v3 (restored as v5)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, RollbackDialog)
        await pilot.press("up")  # from v4 (current, disabled) the highlight starts on v3
        ol = app.screen.query_one("OptionList")
        ol.highlighted = [o.id for o in ol.options].index("3")
        await pilot.press("enter")
        await settle(pilot)
    cfg = store.load_config()
    assert cfg.version == 5
    assert cfg.routing_thresholds.calibration_period == 5
    assert cfg.routing_thresholds.sampling_rate_established == 0.2
    events = [r for r in _lines(project / ".llm-orc/evaluations/routing-log.jsonl") if r.get("event")]
    assert events[-1]["event"] == "rollback" and events[-1]["rolled_back_to"] == 3


async def test_a_reload_parses_only_config_versions_that_changed(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        store = screen.services.store
        parsed: list[int] = []
        load = store.load_config_version

        def counting(n: int):
            parsed.append(n)
            return load(n)

        store.load_config_version = counting
        before = screen.versions
        screen.reload()
        await settle(pilot)
        assert parsed == [] and [v for v, _ in screen.versions] == [v for v, _ in before]
        cfg = store.load_config()
        cfg.routing_thresholds.calibration_period = 6
        store.save_config(cfg, "test")  # a new current version; the old one becomes a backup
        screen.reload()
        await settle(pilot)
        newest = max(v for v, _ in before) + 1
        assert sorted(parsed) == [newest - 1, newest]
        assert dict(screen.versions)[newest].routing_thresholds.calibration_period == 6


async def test_a_reload_after_new_runs_updates_only_the_cells_that_changed(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#lc-table", DataTable)
        target = next(r for r in screen.rows if r.ensemble)
        before = {r.key: table.get_row(r.key) for r in screen.rows}
        run = {"id": "rt-new-1", "timestamp": "2031-01-01T00:00:00Z", "routed_to": target.ensemble}
        run |= {"ensemble": target.ensemble, "task_type": target.task_type, "status": "completed"}
        with (project / ".llm-orc/evaluations/routing-log.jsonl").open("a") as fh:
            fh.write(json.dumps(run) + "\n")
        screen.reload()
        await settle(pilot)
        after = {r.key: table.get_row(r.key) for r in screen.rows}
        assert list(after) == list(before)  # the same rows: filled in place
        changed = [k for k in after if [c.plain for c in after[k]] != [c.plain for c in before[k]]]
        assert changed == [target.key]
        uses = [c.plain for c in after[target.key]]
        assert str(target.status.invocations + 1) in uses and "01-01 00:00" in uses
        for key in after:  # unchanged cells are the same objects (their rendering is kept)
            same = [a is b for a, b in zip(after[key], before[key], strict=True)]
            assert all(same) if key != target.key else not all(same) and any(same)


async def test_grant_and_revoke_standing_authorisation(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    store = ProjectStore(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        keys = [r.key for r in screen.rows]
        screen.query_one("#lc-table", DataTable).move_cursor(
            row=keys.index("template-fill::wire-handler-dispatch")
        )
        await settle(pilot)
        version = store.load_config().version
        await pilot.press("a")  # changes routing: asks first
        await settle(pilot)
        assert isinstance(app.screen, ActionConfirm)
        await pilot.press("escape")  # declined: nothing changes
        await settle(pilot)
        assert store.load_config().version == version
        await pilot.press("a")
        await settle(pilot)
        await pilot.click("#cp-ok")
        await settle(pilot)
        assert store.load_config().authorization_for("template-fill", "wire-handler-dispatch") is not None
        assert screen.current.authorized
        await pilot.press("a")
        await settle(pilot)
        await pilot.click("#cp-ok")
        await settle(pilot)
    assert store.load_config().authorization_for("template-fill", "wire-handler-dispatch") is None
    assert store.load_config().version == 5


def _earn_trust(project: Path, ensemble: str, runs: int) -> None:
    """More completed runs: past the Trust bar (>20 uses), so promotion's phase gate opens."""
    from conductor_tui.core.loop import Conductor
    from conductor_tui.core.records import RoutingDecision

    conductor = Conductor(project)
    for i in range(runs):
        conductor.record_run(
            RoutingDecision(
                task_type="extraction",
                routed_to=ensemble,
                ensemble=ensemble,
                status="completed",
                total_tokens_local=800,
                session=f"earn-{i}",
            )
        )


async def test_promotion_copies_the_right_files_after_confirmation(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    _earn_trust(project, "extract-code-patterns", 9)  # the demo's 12 uses are Establish: Trust needs >20
    dest = locations.global_llm_orc_dir()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.current.ensemble == "extract-code-patterns"  # the promotion-ready one is first
        assert screen.current.status.phase is Phase.PROMOTE
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, ActionConfirm)
        assert not dest.exists()  # nothing copied before the confirmation
        await pilot.click("#cp-ok")
        await settle(pilot)
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == [
        "ensembles/extract-code-patterns.yaml",
        "profiles/coder-local.yaml",
        "profiles/small-local.yaml",
        "scripts/read_files.py",
    ]
    assert yaml.safe_load((dest / "profiles/coder-local.yaml").read_text())["name"] == "coder-local"
    assert _lines(project / ".llm-orc/evaluations/routing-log.jsonl")[-1]["event"] == "promotion"


async def test_promotion_blocked_by_hard_coded_path_copies_nothing(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "lifecycle")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        keys = [r.key for r in screen.rows]
        screen.query_one("#lc-table", DataTable).move_cursor(
            row=keys.index("template-fill::wire-handler-dispatch")
        )
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ActionConfirm) and not dialog.allowed
        assert not dialog.query("#cp-ok")
        await pilot.press("escape")
        await settle(pilot)
    assert not locations.global_llm_orc_dir().exists()


# ----------------------------------------------------------------------------- Models


async def test_models_polls_never_overlap_and_pause_while_hidden(tmp_path: Path) -> None:
    gpu = FakeGpuProbe([RTX_4090])
    app, _project = demo_app(tmp_path, "models", gpu=gpu, poll=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        while screen.polls < 3:
            await pilot.pause(0.05)
        assert len(screen.gpu_history[0]) >= 3  # one sample per poll, kept for the graph
        await pilot.press("s")  # switch to Savings: Models is suspended
        await settle(pilot)
        await pilot.pause(0.3)
        paused_at = screen.polls
        await pilot.pause(0.3)
        assert screen.polls == paused_at
        await pilot.press("m")
        while screen.polls <= paused_at:
            await pilot.pause(0.05)
    assert screen.max_in_flight == 1  # never two polls at once
    assert gpu.calls >= screen.polls


async def test_models_show_no_gpu_and_ollama_down(tmp_path: Path) -> None:
    app, _project = demo_app(tmp_path, "models", gpu=FakeGpuProbe.none())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        gpu_text = " ".join(str(w.render()) for w in screen.query("#md-gpu Static"))
        assert "no GPU detected" in gpu_text
        assert "not reachable" in str(screen.query_one("#md-ollama", Static).render())
        runs = screen.query_one("#md-ensembles", DataTable)
        assert runs.row_count == 7


# ----------------------------------------------------------------------------- Savings


async def test_savings_updates_when_lines_are_appended(tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "savings")
    log = project / ".llm-orc/evaluations/routing-log.jsonl"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        snap = screen.snapshot
        assert (snap.local_decisions, snap.routing_decisions, snap.skipped_lines) == (27, 48, 0)
        wrap = str(screen.query_one("#sv-wrapup", Static).render())
        assert "Workflow complete. 16/33 subtasks handled locally." in wrap  # the latest plan
        assert "All sessions: 27/48 local" in wrap
        write_jsonl(
            log,
            [
                {"timestamp": "2026-11-21T09:00:00Z", "task_type": "extraction", "routed_to": "extract-code-patterns",
                 "delegability_category": "agent-delegable", "total_tokens_local": 1200,
                 "estimated_claude_tokens": 1000, "tokens_saved": 1000},
            ],
        )  # fmt: skip
        with log.open("a") as fh:
            fh.write('{"timestamp": "2026-11-21T09:01:00Z", "task_ty\n')  # a corrupt line
        screen.refresh_data()
        await settle(pilot)
        snap = screen.snapshot
        assert (snap.local_decisions, snap.routing_decisions, snap.skipped_lines) == (28, 49, 1)
        assert "2026-11-21" in snap.by_day
        assert "1" in str(screen.query_one("#sv-skipped", Static).render())
        # the tables were updated in place (changed cells, new rows): they show what a fresh
        # fill of the same snapshot shows
        from conductor_tui.ui.widgets import savings_panels

        for table_id, fill in (
            ("#sv-by-tt", savings_panels.fill_task_types),
            ("#sv-by-ens", savings_panels.fill_ensembles),
            ("#sv-by-day", savings_panels.fill_days),
        ):
            table = screen.query_one(table_id, DataTable)
            shown = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            fresh = DataTable()
            fresh.add_columns(*(c.label for c in table.ordered_columns))
            fill(fresh, snap)
            assert shown == [[str(c) for c in fresh.get_row_at(i)] for i in range(fresh.row_count)]
        day_row = screen.query_one("#sv-by-day", DataTable).get_row("2026-11-21")
        assert str(day_row[2]) == str(snap.by_day["2026-11-21"]["local_decisions"])


async def test_savings_shortens_big_figures_to_fit_instead_of_cutting_them(tmp_path: Path) -> None:
    """Hundreds of millions of tokens in a column seven cells wide: the cell says 218.13M,
    not the first seven characters of 218,130,456 (which read as 218,130)."""
    from conductor_tui.ui.widgets import savings_panels

    project = tmp_path / "big"
    log = project / ".llm-orc/evaluations/routing-log.jsonl"
    row = {"timestamp": "2026-11-21T09:00:00Z", "task_type": "extraction", "routed_to": "extract-code-patterns",
           "ensemble": "extract-code-patterns", "delegability_category": "agent-delegable",
           "total_tokens_local": 218_130_456 // 4, "tokens_saved": 181_775_380 // 4}  # fmt: skip
    write_jsonl(log, [row] * 4)
    app = make_app(services=services_for(project, tmp_path), initial_mode="savings")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        table = screen.query_one("#sv-by-tt", DataTable)
        widths = dict(savings_panels.TASK_TYPE_COLUMNS)
        cells = dict(
            zip([str(c.label) for c in table.ordered_columns], table.get_row("extraction"), strict=True)
        )
        assert str(cells["tokens"]) == "218.13M" and str(cells["saved~"]) == "181.78M"
        for label in ("dec", "local", "tokens", "saved~", "g/a/p"):
            assert len(str(cells[label])) <= widths[label]
        card = str(screen.query_one("#sv-local", Static).render())
        assert "218,130,456" in card  # a card has room for the whole figure at this width


async def test_savings_says_what_it_reads_until_the_first_figures_show(tmp_path: Path) -> None:
    app, _project = demo_app(tmp_path, "savings")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        wrap = screen.query_one("#sv-wrapup", Static)
        shown = str(wrap.render())
        screen.post_message(SavingsScreen.Reading(394_238_977, 2))  # late: the figures stay
        await settle(pilot)
        assert str(wrap.render()) == shown
        screen.refreshes = 0  # as before the first read's figures
        screen.post_message(SavingsScreen.Reading(394_238_977, 2))
        await settle(pilot)
        assert "Reading routing-log.jsonl (394 MB) on 2 cores" in str(wrap.render())


async def test_a_refresh_asked_for_during_a_read_waits_for_it(tmp_path: Path, monkeypatch) -> None:
    """A second refresh while the first still reads (a visit during the first read of a big
    log) runs after it and reads only what is new: two threads feeding the one aggregator
    counted the log twice."""
    import threading

    from conductor_tui.core.aggregate import Aggregator

    app, _project = demo_app(tmp_path, "savings")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SavingsScreen)
        expected = screen.snapshot.to_dict()
        inside, most, second, count = [0], [0], threading.Event(), threading.Lock()
        feed = Aggregator.feed_store

        def watched(self: Aggregator, store, prefetch=None) -> int:
            with count:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            if inside[0] > 1:
                second.set()
            elif not second.is_set():
                second.wait(2.0)  # the first read holds on until a second one is in, or 2 s
                second.set()
            try:
                return feed(self, store, prefetch)
            finally:
                with count:
                    inside[0] -= 1

        monkeypatch.setattr(Aggregator, "feed_store", watched)
        screen.aggregator = None  # the next read starts from the beginning
        screen.refresh_data()
        await wait_until(lambda: inside[0] == 1)  # the first read is under way
        screen.refresh_data()
        await drain(app)
        await settle(pilot)
        assert most[0] == 1  # never two at once
        assert screen.snapshot.to_dict() == expected  # the log counted once


# ----------------------------------------------------------------------------- demo


async def test_demo_app_is_labelled_and_opens_on_savings(tmp_path: Path) -> None:
    from conductor_tui.commands.demo import DEMO_NOTICE, build_demo_app
    from conductor_tui.demo import copy_sample_project

    project = copy_sample_project(tmp_path)
    app = build_demo_app(
        project, poll_interval=0, ollama_host="http://127.0.0.1:9", gpu_probe=FakeGpuProbe.none()
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.services.demo and "DEMO" in app.title
        assert isinstance(app.screen, SavingsScreen)
        notice = [n for n in posted(app) if n.message == DEMO_NOTICE]
        assert notice and notice[0].timeout <= 5  # brief: it covers the plan summary lines
        assert "[demo]" in str(app.screen.query_one("#sb-project", Static).render())
        assert app.screen.snapshot.routing_decisions == 48


async def test_judge_stream_hook_renders_into_the_judge_panel(tmp_path: Path) -> None:
    app, _project = demo_app(tmp_path, "evaluate")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        stream = screen.judge_stream()
        for delta in ("**Completeness:** all ", "fixtures present. ", "*Hallucinations:* none."):
            await stream.write(delta)
        await stream.stop()
        await settle(pilot)
        panel = screen.query_one("#ev-judge")
        assert panel.display
        assert "fixtures present" in panel.source
