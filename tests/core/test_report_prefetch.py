"""A cold ``report`` starts reading the routing log on every core before its other modules
load (:func:`~conductor_tui.core.aggregate_scan.start_routing_scan`); the aggregator takes
those workers' results only for the file and offset they read. The figures are those of a
serial read, whether the workers are used, or the log changed under them and they are not;
workers nobody uses are stopped (:class:`~conductor_tui.core.logscan.ForkJob`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from conductor_tui.cli import main
from conductor_tui.core import logscan
from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.aggregate_scan import start_routing_scan


@pytest.fixture(autouse=True)
def _split_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "3")  # the parallel read even on a small log


def _write_log(path: Path, seed: int, n: int, *, bom: bool = False) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        if rng.random() < 0.02:
            lines.append(rng.choice(['{"task_type": "extr', "[1, 2]", "", '{"total_tokens_local": "45"}']))
            continue
        local = rng.random() < 0.6
        rec: dict[str, Any] = {
            "id": f"rd-{i}",
            "timestamp": f"2025-0{rng.randint(1, 3)}-1{rng.randint(0, 9)}T10:00:00Z",
            "task_type": rng.choice(["extraction", "summarization", "Extraction "]),
            "routed_to": rng.choice(["extract-x", "write-changelog"]) if local else "claude",
            "delegability_category": rng.choice(["agent-delegable", "claude-only"]),
            "status": rng.choice([None, "completed", "failed"]),
            "standing_auth": rng.random() < 0.2,
        }
        if local:
            rec["ensemble"] = rec["routed_to"]
            rec["total_tokens_local"] = rng.randint(1, 4000)
            rec["tokens_saved"] = rng.choice([None, rng.randint(0, 3000)])
        else:
            rec["claude_tokens"] = rng.randint(1, 5000)
        lines.append(json.dumps(rec))
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


def _serial(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    agg = Aggregator()
    agg.feed_file(path, "routing")
    out = agg.snapshot().to_dict()
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "3")
    return out


@pytest.mark.parametrize("bom", [False, True])
def test_prefetched_workers_give_the_serial_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bom: bool
) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, 1, 900, bom=bom)
    reference = _serial(log, monkeypatch)
    prefetch = start_routing_scan(log)
    assert prefetch is not None and prefetch.job is not None
    agg = Aggregator()
    agg.adopt(prefetch)
    agg.feed_file(log, "routing")
    assert prefetch.job is None  # taken by the read
    assert agg.snapshot().to_dict() == reference
    assert reference["skipped_lines"] > 0


def test_a_log_rewritten_under_the_workers_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, 2, 900)
    prefetch = start_routing_scan(log)
    assert prefetch is not None
    _write_log(log, 3, 400)  # shorter, same file: the workers' lines are gone
    agg = Aggregator()
    agg.adopt(prefetch)
    agg.feed_file(log, "routing")
    assert prefetch.job is None
    assert agg.snapshot().to_dict() == _serial(log, monkeypatch)


def test_workers_of_another_file_are_left_then_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, 4, 900)
    prefetch = start_routing_scan(log)
    assert prefetch is not None and prefetch.job is not None
    pids = [child[0] for child in prefetch.job.children if child is not None]
    assert pids
    replaced = tmp_path / "other.jsonl"
    _write_log(replaced, 5, 700)
    os.replace(replaced, log)  # another file at the same path
    agg = Aggregator()
    agg.adopt(prefetch)
    agg.feed_file(log, "routing")
    assert prefetch.job is not None  # not its file: left alone
    assert agg.snapshot().to_dict() == _serial(log, monkeypatch)
    agg.drop_prefetched()
    assert prefetch.job is None
    for pid in pids:  # reaped: no such child any more
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_cancel_stops_a_child_that_never_finishes() -> None:
    rfd, wfd = os.pipe()

    def wait_forever(_item: int) -> int:
        os.read(rfd, 1)  # nothing is ever written
        return 0

    job = logscan.ForkJob(wait_forever, [1, 2])
    pids = [child[0] for child in job.children if child is not None]
    assert len(pids) == 2
    job.cancel()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    os.close(rfd)
    os.close(wfd)


def _report_json(project: Path) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["report", "--project", str(project), "--json"]) == 0
    return json.loads(buf.getvalue())


def test_report_cold_warm_and_serial_print_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p"
    evals = project / ".llm-orc" / "evaluations"
    _write_log(evals / "routing-log.jsonl", 6, 1200)
    (evals / "evaluations.jsonl").write_text(
        "".join(
            json.dumps({"routing_id": f"rd-{i}", "ensemble": "extract-x", "score": "good"}) + "\n"
            for i in range(0, 300, 3)
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    monkeypatch.setenv("CONDUCTOR_TUI_NO_CACHE", "1")
    serial = _report_json(project)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    assert _report_json(project) == serial  # cold, workers started first
    monkeypatch.delenv("CONDUCTOR_TUI_NO_CACHE")
    assert _report_json(project) == serial  # writes the cache (cold: workers started first)
    assert _report_json(project) == serial  # warm: no workers, the cache
    assert serial["routing_decisions"] > 1000 and serial["evaluations"]["good"] == 100


def test_a_dashboard_feeding_the_store_reads_what_a_serial_read_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conductor_tui.core.store import ProjectStore

    project = tmp_path / "p"
    store = ProjectStore(project)
    _write_log(store.routing_log_path, 8, 900)
    store.evaluations_path.write_text(
        json.dumps({"routing_id": "rd-1", "ensemble": "extract-x", "score": "poor"}) + "\n", encoding="utf-8"
    )
    agg = Aggregator()
    assert agg.feed_store(store) > 900  # workers started first, evaluations read meanwhile
    with open(store.routing_log_path, "a", encoding="utf-8") as fh:  # then appends: read here
        fh.write(json.dumps({"task_type": "extraction", "routed_to": "claude", "claude_tokens": 9}) + "\n")
    assert agg.feed_store(store) == 1
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    serial = Aggregator()
    serial.feed_file(store.routing_log_path)
    serial.feed_file(store.evaluations_path)
    assert agg.snapshot() == serial.snapshot()
    assert agg.snapshot().evaluations["poor"] == 1


def test_a_cold_read_starts_workers_and_a_warm_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start_cold_scan`` (what ``report`` and the Savings dashboard call first): workers
    only when the read will start from the beginning — no offset cache, or caching off —;
    the dashboard's read takes them and ends where a serial read does."""
    from conductor_tui.core import locations
    from conductor_tui.core.aggregate_scan import start_cold_scan
    from conductor_tui.core.store import ProjectStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONDUCTOR_TUI_NO_CACHE", raising=False)
    store = ProjectStore(tmp_path / "p")
    _write_log(store.routing_log_path, 9, 700)
    store.evaluations_path.write_text("", encoding="utf-8")
    prefetch = start_cold_scan(store.root)
    assert prefetch is not None and prefetch.job is not None
    agg = Aggregator()
    assert agg.feed_store(store, prefetch) == 700
    assert prefetch.job is None  # taken by the read
    got, serial = agg.snapshot().to_dict(), _serial(store.routing_log_path, monkeypatch)
    assert (
        got.pop("lines_read")[str(store.routing_log_path)]
        == serial.pop("lines_read")[str(store.routing_log_path)]
    )
    assert got == serial

    cache = locations.aggregate_cache_path(store.root)
    agg.save_cache(cache)
    assert start_cold_scan(store.root) is None  # a warm start reads from the cache's offset
    monkeypatch.setenv("CONDUCTOR_TUI_NO_CACHE", "1")
    prefetch = start_cold_scan(store.root)
    assert prefetch is not None
    prefetch.cancel()
    assert start_cold_scan(tmp_path / "nowhere") is None  # no log: nothing to start
