"""One story, two doors: the same session driven through the CLI verbs and through the cockpit
(Pilot key presses) leaves identical records — routing decisions, evaluations, plan rows and
task profiles — modulo timestamps, ids and who wrote the reflection.

The story: a session submits three extraction rows; the person approves them; rows 1 and 2
run; row 1 scores good, row 2 poor (incomplete) during calibration — the in-session fallback
re-routes row 3 to Claude."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import yaml
from textual.widgets import DataTable

from conductor_tui import cli
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import decide_rows
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, settle, wait_until
from tests.ui.review_support import type_text

ENSEMBLE = """\
name: extract-endpoints
description: Extract the API endpoints from source code.
conductor:
  task_type: extraction
agents:
  - name: extractor
    model: qwen3:1.7b
    provider: ollama
    system_prompt: List the endpoints.
"""

ROWS = [
    {
        "id": f"r{i}",
        "description": f"Extract endpoints from module{i}.py",
        "task_type": "extraction",
        "delegability_category": "agent-delegable",
    }
    for i in (1, 2, 3)
]
SESSION = "s-parity"


def _project(root: Path) -> Path:
    (root / ".llm-orc" / "ensembles").mkdir(parents=True)
    (root / ".llm-orc" / "ensembles" / "extract-endpoints.yaml").write_text(ENSEMBLE)
    return root


def _cli(project: Path, capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--project", str(project), "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _submit(project: Path, capsys, monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"meta_task": "parity", "subtasks": ROWS})))
    code, plan = _cli(project, capsys, "plan", "submit", "-", "--session", SESSION)
    assert code == 0, plan
    return plan["plan_id"]


def _records(project: Path) -> dict[str, Any]:
    """What the loop wrote, without timestamps, ids and the reflections' wording."""
    store = ProjectStore(project)
    decisions = [d for d in store.read_routing().records if d.is_decision]
    row_of = {d.id: d.row_id for d in decisions}
    keep = (
        "task_type",
        "routed_to",
        "status",
        "reason",
        "standing_auth",
        "evaluation_summary",
        "total_tokens_local",
        "estimated_claude_tokens",
        "tokens_saved",
        "row_id",
        "session",
    )
    routing = [
        {k: getattr(d, k) for k in keep}
        | {k: getattr(d, k) for k in ("invocation_number", "sampled_for_evaluation", "phase")}
        for d in decisions
    ]
    evaluations = [
        {
            "ensemble": e.ensemble,
            "run_row": row_of.get(e.routing_id),
            "invocation_number": e.invocation_number,
            "phase": str(e.phase),
            "score": str(e.score),
            "failure_mode": str(e.failure_mode) if e.failure_mode else None,
            "task_type": e.task_type,
            "session": e.session,
        }
        for e in store.read_evaluations().records
    ]
    plan = next(iter(store.latest_plans().values()))
    rows = [
        (r.id, r.handler, r.original_handler, str(r.status), r.route_reason, row_of.get(r.routing_id))
        for r in plan.subtasks
    ]
    profiles = yaml.safe_load(store.profiles_path.read_text())
    for prof in profiles.values():
        for stamp in ("last_used", "design_requested"):
            prof.pop(stamp, None)
    return {"routing": routing, "evaluations": evaluations, "rows": rows, "profiles": profiles}


def _by_cli(project: Path, capsys, monkeypatch) -> dict[str, Any]:
    plan_id = _submit(project, capsys, monkeypatch)
    decide_rows(project, plan_id, {r["id"]: "approved" for r in ROWS})
    runs = {}
    for row in ROWS[:2]:
        code, out = _cli(
            project, capsys, "request-run", "extract-endpoints", "--input", row["description"], "--headless",
            "--task-type", "extraction", "--session", SESSION, "--plan-id", plan_id, "--row-id", row["id"],
        )  # fmt: skip
        assert code == 0, out
        runs[row["id"]] = out["routing_id"]
    for rid, score in (("r1", "good"), ("r2", "poor")):
        argv = ["record", "evaluation", "--ensemble", "extract-endpoints", "--score", score,
                "--routing-id", runs[rid], "--session", SESSION, "--reasoning", "checked"]  # fmt: skip
        if score == "poor":
            argv += ["--failure-mode", "incomplete"]
        code, out = _cli(project, capsys, *argv)
        assert code == 0, out
    return _records(project)


async def _by_cockpit(project: Path, capsys, monkeypatch, cockpit, fake_url: str) -> dict[str, Any]:
    plan_id = _submit(project, capsys, monkeypatch)  # the session's side is the same verb
    app = cockpit(project, ollama_host=fake_url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        plan_screen = app.screen
        await wait_until(lambda: plan_screen.plan is not None and plan_screen.plan.id == plan_id)
        plan_screen.query_one(DataTable).focus()
        await pilot.press("a", "a", "a")  # the person approves the three rows
        await drain(app)
        await app.switch_mode("run")
        await pilot.pause()
        run_screen = app.screen
        for row_id in ("r1", "r2"):
            latest = ProjectStore(project).latest_plans()[plan_id]
            assert run_screen.start_run is not None
            run_screen.run_plan_row(latest, row_id)
            await drain(app)
            await pilot.pause()
            assert run_screen.outcome is not None and run_screen.outcome.status == "completed"
        await app.switch_mode("evaluate")
        await settle(pilot, app)
        screen = app.screen
        for score in ("good", "poor"):
            await wait_until(lambda: screen.current is not None)
            await pilot.click("#ev-reflect")
            await type_text(pilot, "checked")
            await pilot.click(f"#ev-score-{score}")
            if score == "poor":
                await pilot.click("#ev-fail-incomplete")
            await pilot.press("ctrl+s")
            await drain(app)
            await pilot.pause()
            await drain(app)
    return _records(project)


async def test_the_cli_and_the_cockpit_leave_the_same_records(
    tmp_path, capsys, monkeypatch, cockpit, fake_ollama_factory
):
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="GET /a\nPOST /b", tokens_per_second=4000)])
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    # the CLI door runs its own event loop (as a session's process does): off the test's loop
    by_cli = await asyncio.to_thread(_by_cli, _project(tmp_path / "cli"), capsys, monkeypatch)
    by_cockpit = await _by_cockpit(_project(tmp_path / "cockpit"), capsys, monkeypatch, cockpit, fake.url)

    # the story itself: two completed runs, good then poor, row 3 sent to Claude by the fallback
    assert [r["invocation_number"] for r in by_cli["routing"]] == [1, 2]
    assert [(e["score"], e["invocation_number"]) for e in by_cli["evaluations"]] == [("good", 1), ("poor", 2)]
    assert by_cli["rows"][2][1:3] == ("claude", "extract-endpoints")
    assert by_cli["profiles"]["extraction"]["phase"] == "calibrate"

    assert by_cockpit["routing"] == by_cli["routing"]
    assert by_cockpit["evaluations"] == by_cli["evaluations"]
    assert by_cockpit["rows"] == by_cli["rows"]
    assert by_cockpit["profiles"] == by_cli["profiles"]
