"""Nothing lost, nothing inflated: stable ids, one critical section per plan revision,
torn lines skipped and counted, temp files cleaned, config versions with their log line,
caches keyed on the content, bounded JSON, validated records."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core import fileio
from conductor_tui.core import store as store_mod
from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.records import PlanRow, RoutingDecision, WorkflowPlan
from conductor_tui.core.store import ProjectStore, StoreError, append_jsonl, read_jsonl
from conductor_tui.handoff import protocol

OLD = time.time() - 3600  # an mtime no writer is still working on


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc" / "evaluations").mkdir(parents=True)
    return p


# --------------------------------------------------------------------------- stable ids


def test_a_request_without_id_gets_the_same_id_on_every_read_and_is_claimed_once(project: Path) -> None:
    path = protocol.requests_path(project)
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"ensemble": "echo", "input": "a"})
        + "\n"
        + json.dumps({"ensemble": "echo", "input": "a"})
        + "\n"
    )
    first = [r.id for r in protocol.read_requests(project)]
    second = [r.id for r in protocol.read_requests(project)]
    assert first == second
    assert len(set(first)) == 2  # two identical lines are two requests (line number in the id)
    assert all(i.startswith("req-") for i in first)
    claimed = protocol.claim_requests(project)
    assert [r.id for r in claimed] == first
    for _ in range(5):  # the cockpit polls again and again: nothing new to claim or run
        assert protocol.claim_requests(project) == []
    claims = [e for e in protocol.read_events(project) if e.status == "claimed"]
    assert len(claims) == 2


# --------------------------------------------------------------------------- plan revisions


def _plan(rows: int) -> WorkflowPlan:
    return WorkflowPlan(
        meta_task="m",
        subtasks=[PlanRow(id=f"r{i}", description=f"row {i}", task_type="extraction") for i in range(rows)],
    )


def _decide(project: str, plan_id: str, rows: list[str], start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    for row in rows:
        protocol.decide_rows(project, plan_id, {row: "approved"})


def test_two_processes_deciding_one_plan_lose_nothing(project: Path) -> None:
    written = protocol.submit_plan(project, _plan(100), session="s")
    ids = [r.id for r in written.subtasks]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_decide, args=(str(project), written.id, ids[0::2], start)),
        ctx.Process(target=_decide, args=(str(project), written.id, ids[1::2], start)),
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    history = ProjectStore(project).plan_history(written.id)
    revisions = [p.revision for p in history]
    assert revisions == list(range(1, 102))  # 100 decisions, no duplicate revision number
    latest = history[-1]
    assert all(r.status.value == "approved" for r in latest.subtasks)  # all 100 kept
    assert protocol.is_plan_decided(latest)


def test_a_stale_revision_is_rebased_not_overwritten(project: Path) -> None:
    store = ProjectStore(project)
    base = protocol.submit_plan(project, _plan(2), session="s")
    protocol.decide_rows(project, base.id, {"r0": "approved"})  # someone else decided r0
    mine = base.model_copy(deep=True)
    mine.subtasks[1].status = "rejected"
    mine.revision = base.revision + 1  # made from the old revision
    written = protocol.append_revision(store, base, mine)
    assert written.revision == 3
    assert [r.status.value for r in written.subtasks] == ["approved", "rejected"]
    assert written.status == "decided"  # worked out from the merged rows


# --------------------------------------------------------------------------- torn lines


def test_a_torn_line_is_skipped_counted_and_never_merged(tmp_path: Path) -> None:
    path = tmp_path / "routing-log.jsonl"
    append_jsonl(path, {"task_type": "a"})
    with open(path, "ab") as fh:  # a writer killed mid-write
        fh.write(b'{"task_type": "torn", "task_summary": "' + b"x" * 40_000)
    os.utime(path, (OLD, OLD))
    res = read_jsonl(path, RoutingDecision)
    assert [r.task_type for r in res.records] == ["a"]
    assert res.skipped == [2] and "torn" in res.errors[0][1]
    assert res.end_offset == path.stat().st_size
    append_jsonl(path, {"task_type": "b"})  # starts on a new line
    full = read_jsonl(path, RoutingDecision)
    assert [r.task_type for r in full.records] == ["a", "b"]
    assert full.skipped == [2]
    more = read_jsonl(path, RoutingDecision, res.end_offset, first_line=res.next_line)
    assert [r.task_type for r in more.records] == ["b"] and more.skipped == []


def test_an_unterminated_line_a_writer_may_finish_is_left_pending(tmp_path: Path) -> None:
    path = tmp_path / "routing-log.jsonl"
    path.write_bytes(b'{"task_type": "a"}\n{"task_type": "tr')  # just written: mtime is now
    res = read_jsonl(path, RoutingDecision)
    assert res.skipped == [] and res.next_line == 2


def test_a_line_over_the_size_limit_is_skipped_and_counted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fileio, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "routing-log.jsonl"
    path.write_bytes(b'{"task_type": "a"}\n{"task_summary": "' + b"y" * 5000 + b'"}\n{"task_type": "b"}\n')
    res = read_jsonl(path, RoutingDecision)
    assert [r.task_type for r in res.records] == ["a", "b"]
    assert res.skipped == [2] and "too long" in res.errors[0][1]


def test_kill_9_during_big_appends_never_merges_lines(tmp_path: Path) -> None:
    """Real kills: a child appends ~1 MB lines and is SIGKILLed mid-stream; after every
    kill the next append starts on its own line, so each complete line is intact."""
    import signal

    path = tmp_path / "log.jsonl"
    payload = "z" * 1_000_000
    for _ in range(6):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                while True:
                    append_jsonl(path, {"task_type": "big", "task_summary": payload})
            finally:
                os._exit(0)
        time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        append_jsonl(path, {"task_type": "marker"})
    os.utime(path, (OLD, OLD))
    res = read_jsonl(path, RoutingDecision)
    kinds = [r.task_type for r in res.records]
    assert kinds.count("marker") == 6  # no marker was glued onto a torn line
    assert all(r.task_summary == payload for r in res.records if r.task_type == "big")
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    assert len(res.records) + len(res.skipped) == len([ln for ln in lines if ln.strip()])


# --------------------------------------------------------------------------- bounded JSON


def test_a_deeply_nested_line_is_skipped_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "routing-log.jsonl"
    path.write_bytes(
        b'{"task_type": "a"}\n' + b"[" * 100_000 + b"\n" + b'{"x": ' * 200 + b"1" + b"}" * 200 + b"\n"
    )
    res = read_jsonl(path, RoutingDecision)
    assert [r.task_type for r in res.records] == ["a"]
    assert res.skipped == [2, 3]


def test_nested_lines_do_not_take_down_report_plans_or_requests(project: Path, capsys) -> None:
    store = ProjectStore(project)
    bomb = b"[" * 100_000 + b"\n"
    store.append_routing(RoutingDecision(task_type="extraction", routed_to="e", total_tokens_local=10))
    for path in (
        store.routing_log_path,
        store.plans_path,
        protocol.requests_path(project),
        protocol.results_path(project),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(bomb)
    assert cli.main(["report", "--project", str(project), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["skipped_lines"] == 1 and data["total_tokens_local"] == 10
    assert cli.main(["plan", "list", "--project", str(project)]) == 0
    assert protocol.read_requests(project) == []
    assert protocol.claim_requests(project) == []


# --------------------------------------------------------------------------- validation


def test_absurd_token_counts_and_dates_are_skipped_and_counted(project: Path, capsys) -> None:
    store = ProjectStore(project)
    store.append_routing(
        RoutingDecision(task_type="t", routed_to="e", total_tokens_local=100, tokens_saved=50)
    )
    with open(store.routing_log_path, "ab") as fh:
        fh.write(b'{"task_type": "t", "routed_to": "e", "total_tokens_local": 1e27}\n')
        fh.write(b'{"task_type": "t", "routed_to": "e", "tokens_saved": 100000000000000000000000000000}\n')
        fh.write(b'{"task_type": "t", "routed_to": "e", "total_tokens_local": -5000000}\n')
        fh.write(b'{"task_type": "t", "routed_to": "e", "timestamp": "2025-02-30T10:00:00Z"}\n')
        fh.write(b'{"task_type": "t", "routed_to": "e", "timestamp": 1e30}\n')
        fh.write(b'{"task_type": "t", "routed_to": "e", "timestamp": "ISO-8601"}\n')  # the spec's placeholder
    res = store.read_routing()
    assert res.skipped == [2, 3, 4, 5, 6]
    assert len(res.records) == 2
    for _ in range(2):  # cold, then from the warm cache: never a crash
        assert cli.main(["report", "--project", str(project), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        # the report's fast path keeps a line whose only fault is its date, under "unknown"
        assert out["total_tokens_local"] == 100 and out["routing_decisions"] == 3
        assert out["skipped_lines"] == 4 and out["net_claude_tokens_saved"] >= 0
        assert "2025-02-30" not in out["by_day"] and "unknown" in out["by_day"]


def test_record_and_plan_submit_against_a_directory_are_one_line_exit_1(
    project: Path, tmp_path: Path, capsys
) -> None:
    store = ProjectStore(project)
    store.routing_log_path.mkdir(parents=True)
    store.plans_path.mkdir(parents=True)
    code = cli.main(["record", "claude-task", "--task-type", "t", "--tokens", "5", "--project", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "is a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"meta_task": "m", "subtasks": [{"description": "a", "task_type": "t"}]}))
    code = cli.main(["plan", "submit", str(plan_file), "--project", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "is a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_append_to_a_directory_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "log.jsonl").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        append_jsonl(tmp_path / "log.jsonl", {"a": 1})


# --------------------------------------------------------------------------- temp files + config log


def test_temp_files_of_killed_writers_are_swept(project: Path) -> None:
    store = ProjectStore(project)
    store.save_config(store.load_config(), "first")
    root = store.root
    dead = root / ".routing-config.yaml.999999999.abc123.tmp"  # no such pid
    backup_tmp = root / ".routing-config.v1.yaml.999999998.xyz.tmp"
    old_legacy = root / ".routing-config.yaml.q1w2e3.tmp"
    live = root / f".routing-config.yaml.{os.getpid()}.live.tmp"
    for p in (dead, backup_tmp, old_legacy, live):
        p.write_text("partial")
    os.utime(old_legacy, (OLD, OLD))
    store.save_config(store.load_config(), "second")
    assert not dead.exists() and not backup_tmp.exists() and not old_legacy.exists()
    assert live.exists()  # a writer that is alive (us) and recent keeps its temp file
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp") and p != live]


def test_a_config_version_without_its_log_line_is_found_and_repaired(project: Path) -> None:
    store = ProjectStore(project)
    cfg = store.save_config(store.load_config(), "v2")
    assert store.config_versions_without_log() == []
    # a writer killed between writing version 3 and logging it:
    store_mod.atomic_write_text(store.version_path(cfg.version), store.config_path.read_text())
    cfg.version += 1
    store_mod.atomic_write_text(store.config_path, store_mod._dump_yaml(store_mod.config_to_mapping(cfg)))
    assert store.config_versions_without_log() == [3]
    from conductor_tui.commands.check import discover

    assert discover(project)["config_versions_without_log"] == [3]  # check reports it
    store.update_thresholds("v4", repetition_threshold=5)  # the next write repairs it first
    assert store.config_versions_without_log() == []
    events = [(d.event, d.config_version) for d in store.read_routing().records]
    assert events == [("config-change", 2), ("config-change", 3), ("config-change", 4)]
    assert "recovered" in store.read_routing().records[1].reason


# --------------------------------------------------------------------------- caches


def test_an_in_place_edit_invalidates_the_warm_cache(tmp_path: Path) -> None:
    log = tmp_path / "routing-log.jsonl"
    append_jsonl(log, {"task_type": "t", "routed_to": "e", "total_tokens_local": 1111})
    cache = tmp_path / "cache.msgpack"
    agg = Aggregator()
    agg.feed_routing_log(log)
    agg.save_cache(cache)
    assert Aggregator().load_cache(cache)  # untouched: warm start
    data = log.read_bytes().replace(b"1111", b"2222")  # same size, other content
    with open(log, "r+b") as fh:
        fh.write(data)
    st = log.stat()
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not Aggregator().load_cache(cache)


def test_the_store_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(project: Path) -> None:
    import threading

    store = ProjectStore(project)
    plan = protocol.submit_plan(project, _plan(2), session="s")
    with store.lock(protocol.PLANS_LOCK):  # a caller's critical section around a helper that locks too
        protocol.decide_rows(project, plan.id, {"r0": "approved"})
        entered = threading.Event()

        def other() -> None:
            with store.lock(protocol.PLANS_LOCK):
                entered.set()

        t = threading.Thread(target=other)
        t.start()
        assert not entered.wait(0.2)  # another thread waits for us
    t.join(30)
    assert entered.is_set()
