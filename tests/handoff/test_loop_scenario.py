"""The conductor loop, told as a multi-session story driven through the CLI verbs only
(`plan submit`, `request-run`, `record evaluation`, `record claude-task`, `report`) against
the fake Ollama: Design → Calibrate → Establish → Trust/Promote → a poor streak (Trust →
Establish → Calibrate) → an in-session fallback → a failed calibration back to Design.
At every step the phase, the routing, the profile and the figures are asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conductor_tui import cli
from conductor_tui.core.loop import stable_fraction
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import decide_rows
from tests.fakes.ollama_server import FakeModel

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


@pytest.fixture
def story(tmp_path, fake_ollama_factory, monkeypatch):
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="GET /a\nPOST /b", tokens_per_second=4000)])
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    (tmp_path / ".llm-orc" / "ensembles").mkdir(parents=True)
    (tmp_path / ".llm-orc" / "ensembles" / "extract-endpoints.yaml").write_text(ENSEMBLE)
    return tmp_path


class Session:
    """One coding session talking to the cockpit's CLI (in process, --json)."""

    def __init__(self, project: Path, capsys, sid: str) -> None:
        self.project, self.capsys, self.sid = project, capsys, sid

    def cli(self, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, dict]:
        code = cli.main([*argv, "--project", str(self.project), "--json"])
        out = self.capsys.readouterr().out.strip()
        try:
            return code, json.loads(out.splitlines()[-1])
        except json.JSONDecodeError:
            return code, json.loads(out)  # `report --json` is indented

    def submit(self, rows: list[dict], monkeypatch) -> dict:
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"meta_task": "story", "subtasks": rows})))
        code, plan = self.cli("plan", "submit", "-", "--session", self.sid)
        assert code == 0, plan
        return plan

    def run(self, *, plan_id: str | None = None, row_id: str | None = None) -> tuple[int, dict]:
        argv = ["request-run", "extract-endpoints", "--input", "server.py", "--headless"]
        argv += ["--task-type", "extraction", "--session", self.sid]
        if plan_id:
            argv += ["--plan-id", plan_id, "--row-id", row_id or ""]
        return self.cli(*argv)

    def evaluate(self, routing_id: str, score: str, **kw: str) -> dict:
        argv = ["record", "evaluation", "--ensemble", "extract-endpoints", "--score", score]
        argv += ["--routing-id", routing_id, "--session", self.sid, "--reasoning", "checked every route"]
        if score == "poor":
            argv += ["--failure-mode", "incomplete"]
        for key, value in kw.items():
            argv += [f"--{key.replace('_', '-')}", value]
        code, out = self.cli(*argv)
        assert code == 0, out
        return out


def extraction_rows(n: int, prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "description": f"Extract endpoints from module {i}",
            "task_type": "extraction",
            "delegability_category": "agent-delegable",
        }
        for i in range(1, n + 1)
    ]


def profile(project: Path) -> dict:
    return yaml.safe_load((project / ".llm-orc/evaluations/task-profiles.yaml").read_text())["extraction"]


def ensemble_report(session: Session) -> dict:
    code, report = session.cli("report")
    assert code == 0
    return report["by_ensemble"]["extract-endpoints"]


def test_the_loop_closes_across_sessions_through_the_cli(story, capsys, monkeypatch):
    store = ProjectStore(story)

    # ---- session A: a plan, the person approves, three calibration runs -------------------
    a = Session(story, capsys, "s-A")
    plan = a.submit(
        [
            *extraction_rows(3, "a"),
            {
                "id": "j",
                "description": "Name the module",
                "task_type": "aesthetic-judgment",
                "delegability_category": "claude-only",
            },
        ],
        monkeypatch,
    )
    rows = {r["id"]: r for r in plan["rows"]}
    assert rows["a1"]["handler"] == "extract-endpoints" and rows["j"]["handler"] == "claude"
    decide_rows(story, plan["plan_id"], {rid: "approved" for rid in rows})  # the person, in the cockpit
    runs = []
    for rid in ("a1", "a2", "a3"):
        code, out = a.run(plan_id=plan["plan_id"], row_id=rid)
        assert code == 0 and out["status"] == "completed" and out["evaluate"] is True, out
        assert out["output"] == "GET /a\nPOST /b"
        runs.append(out["routing_id"])
    logged = [d for d in store.read_routing().records if d.id in runs]
    assert [d.invocation_number for d in logged] == [1, 2, 3]
    # the first run is the person's confirmation; from then on the task profile maps the type
    assert [d.reason for d in logged] == ["user-confirmed", "task-profile", "task-profile"]
    assert all(d.standing_auth is False and d.evaluation_summary is None for d in logged)
    first = a.evaluate(runs[0], "good")
    assert (first["invocation_number"], first["phase"], first["lifecycle_after"]) == (
        1,
        "calibrate",
        "calibrate",
    )
    a.evaluate(runs[1], "good")
    a.evaluate(runs[2], "acceptable")
    assert profile(story)["phase"] == "calibrate" and profile(story)["invocation_count"] == 3
    assert ensemble_report(a)["phase"] == "calibrate"

    # ---- session B: the profile routes; the 5th clean evaluation passes calibration -------
    b = Session(story, capsys, "s-B")
    plan_b = b.submit(extraction_rows(3, "b"), monkeypatch)
    row = plan_b["rows"][0]
    assert row["handler"] == "extract-endpoints" and "2/3 good" in (row["route_reason"] or "")
    decide_rows(story, plan_b["plan_id"], {r["id"]: "approved" for r in plan_b["rows"]})
    b_runs = [b.run(plan_id=plan_b["plan_id"], row_id=r["id"])[1]["routing_id"] for r in plan_b["rows"]]
    b.evaluate(b_runs[0], "good")
    passed = b.evaluate(b_runs[1], "good")
    assert (passed["lifecycle_before"], passed["lifecycle_after"]) == ("calibrate", "establish")
    assert profile(story)["phase"] == "establish"
    # the third run was made while calibrating? no: its sampling decision was taken at record time
    third = next(d for d in store.read_routing().records if d.id == b_runs[2])
    assert third.sampled_for_evaluation is True  # recorded while still calibrating

    # ---- the person grants a standing authorisation (Lifecycle screen) -------------------
    store.grant_authorization("extraction", "extract-endpoints", reason="calibration passed")

    # ---- session C: rows approved by the rule; runs up to Trust and Promote ----------------
    c = Session(story, capsys, "s-C")
    plan_c = c.submit(extraction_rows(2, "c"), monkeypatch)
    assert plan_c["decided"] is True
    assert all(r["status"] == "approved" and r["decided_by"] == "standing-auth" for r in plan_c["rows"])
    code, waited = c.cli("plan", "wait", plan_c["plan_id"], "--timeout", "1")
    assert code == 0 and waited["decided"] is True
    c_runs = []
    for r in plan_c["rows"]:
        code, out = c.run(plan_id=plan_c["plan_id"], row_id=r["id"])
        assert code == 0
        expected = stable_fraction(out["routing_id"]) < 0.15  # the ONE sampling decision
        assert out["evaluate"] is expected
        c_runs.append(out["routing_id"])
    while len(c_runs) < 16:  # ad-hoc runs of the same task type: 6 + 16 = 22 uses
        c_runs.append(c.run()[1]["routing_id"])
    records = {d.id: d for d in store.read_routing().records}
    assert all(records[r].standing_auth is True and records[r].reason == "standing-auth" for r in c_runs)
    assert records[c_runs[-1]].invocation_number == 22
    c.evaluate(c_runs[0], "good")
    c.evaluate(c_runs[1], "good")  # 7 evaluations, all acceptable-or-good, 6 good, 22 uses
    assert ensemble_report(c)["phase"] == "promote"
    assert profile(story)["phase"] == "promote"

    # ---- a poor streak: Trust → Establish (recent share falls), then → Calibrate -----------
    for rid, score in zip(
        c_runs[2:7], ["poor", "acceptable", "acceptable", "acceptable", "acceptable"], strict=True
    ):
        c.evaluate(rid, score, user_feedback="looked wrong")
    demoted = c.evaluate(c_runs[7], "poor", user_feedback="missed routes")
    assert (demoted["lifecycle_before"], demoted["lifecycle_after"]) == ("promote", "establish")
    recal = c.evaluate(c_runs[8], "poor", user_feedback="missed routes again")
    assert (recal["lifecycle_before"], recal["lifecycle_after"]) == ("establish", "calibrate")
    assert recal["fallback"] is False  # the demotion starts a fresh calibration window

    # ---- session C continues: a poor calibration score → in-session fallback --------------
    open_plan = c.submit(extraction_rows(2, "o"), monkeypatch)  # still routed to the ensemble...
    assert open_plan["rows"][0]["handler"] == "extract-endpoints"
    code, out = c.run()
    assert code == 0 and out["evaluate"] is True  # calibrating: every use is evaluated
    fell = c.evaluate(out["routing_id"], "poor")
    assert fell["fallback"] is True and fell["lifecycle_after"] == "calibrate"
    moved = {(m["plan_id"], m["row_id"]) for m in fell["rerouted_rows"]}
    assert (open_plan["plan_id"], "o1") in moved  # ...until the fallback re-routed its open rows
    reopened = store.latest_plans()[open_plan["plan_id"]].subtasks[0]
    assert reopened.handler == "claude" and reopened.original_handler == "extract-endpoints"
    assert "scored poor during calibration" in reopened.route_reason
    code, refused = c.run()
    assert code == 4 and refused["status"] == "refused" and "output" not in refused
    assert "scored poor during calibration" in refused["error"]
    again = c.submit(extraction_rows(1, "x"), monkeypatch)
    assert again["rows"][0]["handler"] == "claude"
    code, debt = c.cli(
        "record",
        "claude-task",
        "--task-type",
        "extraction",
        "--tokens",
        "900",
        "--delegable",
        "--session",
        "s-C",
    )
    assert code == 0 and debt["reason"] == "calibration-fallback"
    assert (debt["phase"], debt["ensemble"]) == ("calibrate", "extract-endpoints")  # not reset to Design
    assert profile(story)["interim_claude_count"] == 1

    # ---- session D: the fallback was this session's; a second poor fails calibration ------
    d = Session(story, capsys, "s-D")
    plan_d = d.submit(extraction_rows(1, "d"), monkeypatch)
    assert plan_d["rows"][0]["handler"] == "extract-endpoints"
    code, out = d.run()
    assert code == 0
    failed = d.evaluate(out["routing_id"], "poor")
    assert (failed["lifecycle_before"], failed["lifecycle_after"]) == ("calibrate", "design")
    assert profile(story)["phase"] == "design"
    lifecycle_events = [r for r in store.read_routing().records if r.event == "lifecycle"]
    assert lifecycle_events and lifecycle_events[-1].to == "design"
    code, refused = d.run()
    assert code == 4 and "failed calibration" in refused["error"]
    e = Session(story, capsys, "s-E")
    plan_e = e.submit(extraction_rows(1, "e"), monkeypatch)
    assert plan_e["rows"][0]["handler"] == "create-ensemble"  # not proposed until revised
    report = ensemble_report(e)
    assert report["phase"] == "design" and report["promotion"]["global_ready"] is False

    # ---- the designer revises the ensemble: it calibrates again -------------------------------
    path = story / ".llm-orc/ensembles/extract-endpoints.yaml"
    path.write_text(ENSEMBLE.replace("List the endpoints.", "List every endpoint as METHOD /path."))
    f = Session(story, capsys, "s-F")
    plan_f = f.submit(extraction_rows(1, "f"), monkeypatch)
    assert plan_f["rows"][0]["handler"] == "extract-endpoints"
    code, out = f.run()
    assert code == 0 and out["evaluate"] is True

    # ---- a run that fails (its model is not installed): no success, no saving, no slot ------
    (story / ".llm-orc/ensembles/summarize-notes.yaml").write_text(
        "name: summarize-notes\ndescription: Summarise notes.\nconductor:\n  task_type: summarization\n"
        "agents:\n  - name: s\n    model: missing-model:1b\n    provider: ollama\n"
    )
    code, broken = f.cli(
        "request-run", "summarize-notes", "--input", "notes", "--headless", "--session", "s-F"
    )
    assert code == 4 and broken["status"] == "failed" and "output" not in broken
    failed_run = next(r for r in store.read_routing().records if r.id == broken["routing_id"])
    assert failed_run.tokens_saved == 0 and failed_run.invocation_number is None

    # ---- the figures: every completed run counted once, the failed one apart ----------------
    local = [r for r in store.read_routing().records if r.is_decision and r.is_local]
    completed = [r for r in local if r.status == "completed"]
    code, totals = f.cli("report")
    assert totals["local_decisions"] == len(completed) == 3 + 3 + 16 + 1 + 1 + 1
    assert totals["by_ensemble"]["summarize-notes"]["failed_local_decisions"] == 1
    assert totals["by_ensemble"]["summarize-notes"]["local_decisions"] == 0
    assert totals["total_tokens_local"] == sum(r.total_tokens_local for r in local)
    assert totals["estimated_claude_tokens_saved"] == sum(r.tokens_saved for r in completed)
