"""The handoff file protocol, in process: plans, decisions, sessions, requests, claims, heartbeat."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from conductor_tui.core.records import PlanRow, RowStatus, WorkflowPlan
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import (
    HandoffError,
    HandoffTimeout,
    claim_requests,
    cockpit_alive,
    cockpit_closed,
    cockpit_heartbeat,
    decide_rows,
    get_plan,
    is_plan_decided,
    post_result,
    protocol,
    request_run,
    request_state,
    session_plans,
    submit_plan,
    try_claim,
    wait_for_decisions,
    wait_for_result,
)


def _plan(*descriptions: str, plan_id: str | None = None) -> WorkflowPlan:
    rows = [
        PlanRow(id=f"s{i}", description=d, status=RowStatus.APPROVED) for i, d in enumerate(descriptions, 1)
    ]
    plan = WorkflowPlan(meta_task="meta", subtasks=rows)
    if plan_id:
        plan.id = plan_id
    return plan


@pytest.fixture
def project(tmp_path):
    (tmp_path / ".llm-orc").mkdir()
    return tmp_path


def test_submit_persists_a_pending_session_plan(project):
    written = submit_plan(project, _plan("a", "b"), session="s-one")
    assert written.revision == 1 and written.session == "s-one" and written.source == "session"
    assert all(r.status == RowStatus.PENDING for r in written.subtasks)  # the person decides
    line = json.loads((project / ".llm-orc/evaluations/workflow-plans.jsonl").read_text().splitlines()[0])
    assert line["id"] == written.id and line["session"] == "s-one"
    assert get_plan(project, written.id).subtasks[1].description == "b"


def test_resubmitting_an_existing_id_never_merges_into_it(project):
    first = submit_plan(project, _plan("a", plan_id="plan-x"), session="s-one")
    second = submit_plan(project, _plan("b", plan_id="plan-x"), session="s-two")
    assert first.id == "plan-x" and second.id != "plan-x"
    assert get_plan(project, "plan-x").subtasks[0].description == "a"


def test_duplicate_row_ids_are_made_unique(project):
    plan = WorkflowPlan(subtasks=[PlanRow(id="r", description="a"), PlanRow(id="r", description="b")])
    written = submit_plan(project, plan)
    assert len({r.id for r in written.subtasks}) == 2


def test_decisions_append_revisions_and_wait_returns_when_all_decided(project):
    plan = submit_plan(project, _plan("a", "b", "c"), session="s1")
    with pytest.raises(HandoffTimeout) as err:
        wait_for_decisions(project, plan.id, timeout=0.05)
    assert err.value.state.revision == 1 and err.value.code == 3

    decide_rows(project, plan.id, {"s1": "approved"})
    with pytest.raises(HandoffTimeout, match="2 pending"):
        wait_for_decisions(project, plan.id, timeout=0.05)

    result: dict = {}

    def waiter():
        result["plan"] = wait_for_decisions(project, plan.id, timeout=10, poll=0.02)

    thread = threading.Thread(target=waiter)
    thread.start()
    decide_rows(
        project,
        plan.id,
        {
            "s2": {"status": "approved", "handler": "extract-endpoints"},
            "s3": {"status": "rejected", "note": "not now"},
        },
    )
    thread.join(timeout=10)
    decided = result["plan"]
    assert decided.revision == 3 and decided.status == "decided" and is_plan_decided(decided)
    s1, s2, s3 = decided.subtasks
    assert (s1.status, s2.status, s3.status) == (RowStatus.APPROVED, RowStatus.APPROVED, RowStatus.REJECTED)
    assert s2.handler == "extract-endpoints" and s3.note == "not now"
    assert len(ProjectStore(project).plan_history(plan.id)) == 3


def test_wait_on_unknown_plan_or_other_session_is_a_usage_error(project):
    plan = submit_plan(project, _plan("a"), session="s-a")
    with pytest.raises(HandoffError) as err:
        wait_for_decisions(project, "plan-nope", timeout=0.1)
    assert err.value.code == 2
    with pytest.raises(HandoffError, match="belongs to session") as err:
        wait_for_decisions(project, plan.id, session="s-b", timeout=0.1)
    assert err.value.code == 2


def test_two_sessions_do_not_mix_plans(project):
    a = submit_plan(project, _plan("a1", "a2"), session="s-a")
    b = submit_plan(project, _plan("b1"), session="s-b")
    decide_rows(project, b.id, {"s1": "approved"})
    assert [p.id for p in session_plans(project, "s-a")] == [a.id]
    assert [p.id for p in session_plans(project, "s-b")] == [b.id]
    with pytest.raises(HandoffTimeout):  # b's decision does not decide a
        wait_for_decisions(project, a.id, session="s-a", timeout=0.05)
    assert (
        wait_for_decisions(project, b.id, session="s-b", timeout=1).subtasks[0].status == RowStatus.APPROVED
    )


def test_abandoned_plan_counts_as_decided(project):
    plan = submit_plan(project, _plan("a"))
    store = ProjectStore(project)
    abandoned = plan.model_copy(update={"revision": 2, "status": "abandoned"})
    store.append_plan(abandoned)
    assert wait_for_decisions(project, plan.id, timeout=1).status == "abandoned"


def test_decide_unknown_row_is_refused(project):
    plan = submit_plan(project, _plan("a"))
    with pytest.raises(HandoffError, match="no row"):
        decide_rows(project, plan.id, {"zz": "approved"})


def test_wait_tolerates_a_corrupt_line_in_the_plans_log(project):
    plan = submit_plan(project, _plan("a"))
    with open(ProjectStore(project).plans_path, "a") as fh:
        fh.write('{"id": "broken", "subtasks": [\n')
    decide_rows(project, plan.id, {"s1": "rejected"})
    assert wait_for_decisions(project, plan.id, timeout=1).subtasks[0].status == RowStatus.REJECTED


# --------------------------------------------------------------------------- cockpit presence


def test_heartbeat_alive_stale_and_closed(project):
    assert cockpit_alive(project) is None
    cockpit_heartbeat(project)
    beat = cockpit_alive(project)
    assert beat is not None and beat["pid"] == os.getpid()
    assert cockpit_alive(project, stale_after=-1) is None  # stale
    cockpit_closed(project)
    assert cockpit_alive(project) is None and not protocol.cockpit_path(project).exists()


def test_heartbeat_of_a_dead_process_is_ignored(project):
    cockpit_heartbeat(project, pid=2**22 + 12345)
    assert cockpit_alive(project) is None
    cockpit_closed(project)  # not ours: left alone
    assert protocol.cockpit_path(project).exists()


def test_corrupt_heartbeat_file_means_no_cockpit(project):
    protocol.cockpit_path(project).parent.mkdir(parents=True, exist_ok=True)
    protocol.cockpit_path(project).write_text("{not json")
    assert cockpit_alive(project) is None


# --------------------------------------------------------------------------- requests


def test_cockpit_claims_requests_once_and_posts_results(project):
    r1 = request_run(project, "extract-endpoints", "server.py", session="s1", task_type="extraction")
    r2 = request_run(project, "summarize", "README", session="s1")
    claimed = claim_requests(project)
    assert [r.id for r in claimed] == [r1.id, r2.id]
    assert claimed[0].input == "server.py" and claimed[0].task_type == "extraction"
    assert claim_requests(project) == []  # never twice
    assert not try_claim(project, r1.id, "headless")
    post_result(project, r1.id, "running", by="cockpit")
    post_result(
        project, r1.id, "completed", by="cockpit", output="GET /a", total_tokens=42, routing_id="rd-1"
    )
    event = wait_for_result(project, r1.id, timeout=1)
    assert (event.status, event.output, event.total_tokens, event.routing_id) == (
        "completed",
        "GET /a",
        42,
        "rd-1",
    )
    assert request_state(project, r1.id)[0] == "cockpit"
    with pytest.raises(HandoffTimeout):
        wait_for_result(project, r2.id, timeout=0.05)


def test_concurrent_claims_have_exactly_one_winner(project):
    req = request_run(project, "e", "x")
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        wins.append(try_claim(project, req.id, f"claimer-{i}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    claims = [e for e in protocol.read_events(project, req.id) if e.status == "claimed"]
    assert len(claims) == 1


def test_request_needs_an_ensemble(project):
    with pytest.raises(HandoffError) as err:
        request_run(project, "  ", "x")
    assert err.value.code == 2


def test_wait_for_result_sees_events_appended_later(project):
    req = request_run(project, "e", "x")
    seen: list[str] = []

    def cockpit():
        time.sleep(0.05)
        post_result(project, req.id, "claimed", by="cockpit")
        post_result(project, req.id, "failed", by="cockpit", error="model missing")

    thread = threading.Thread(target=cockpit)
    thread.start()
    event = wait_for_result(project, req.id, timeout=5, poll=0.01, on_event=lambda e: seen.append(e.status))
    thread.join()
    assert event.status == "failed" and event.error == "model missing"
    assert seen == ["claimed", "failed"]


def test_handoff_and_session_verbs_import_neither_textual_nor_anthropic():
    import subprocess
    import sys

    code = (
        "import sys, conductor_tui.handoff, conductor_tui.handoff.runner, conductor_tui.commands.session, "
        "conductor_tui.core.planner, conductor_tui.providers.anthropic; "
        "bad = [m for m in ('textual', 'anthropic') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_closed_cockpit_link_never_beats_again(tmp_path):
    """close() on the UI thread while tick() runs on a worker: once close returns and the worker
    stops, no heartbeat is left behind (a session would wait on a cockpit that is gone)."""
    import threading

    from conductor_tui.handoff import CockpitLink

    project = tmp_path / "p"
    (project / ".llm-orc").mkdir(parents=True)
    for _ in range(20):
        link = CockpitLink(project, claim=False)
        link.tick()
        stop = threading.Event()

        def beat(link=link, stop=stop) -> None:
            while not stop.is_set():
                link.tick()

        worker = threading.Thread(target=beat)
        worker.start()
        link.close()
        stop.set()
        worker.join(30)
        assert protocol.cockpit_alive(project) is None
