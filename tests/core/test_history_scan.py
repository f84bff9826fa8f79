"""The history read on every core, with runs built on demand, equals the sequential
reference pass line for line: on a log with a BOM, corrupt lines, id-less lines, lifecycle
events, Claude decisions, every run status and a last line without its newline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import history_scan
from conductor_tui.core.history import History, _read_history
from conductor_tui.core.store import ProjectStore

ENSEMBLES = ["extract-endpoints", "summarize-docs", " write-tests ", "fix-lint"]


def _reference(store: ProjectStore) -> History:
    """The sequential pass (the reader before the parallel scan)."""
    hist = History(store.load_config().routing_thresholds)
    for line, raw in history_scan._iter_lines(Path(store.routing_log_path)):
        if line is None:
            hist.skipped_routing += 1
            continue
        event = history_scan._s(line.event)
        if event == history_scan.LIFECYCLE_EVENT:
            hist.add_lifecycle_event(line)
            continue
        if event not in history_scan._DECISION_EVENTS:
            continue
        if history_scan._local(line.routed_to):
            hist.add_run(line, history_scan._run_id(line, raw))
        else:
            hist.add_claude(line)
    for eh in hist.ensembles.values():
        eh.run_times.sort()
    read = store.read_evaluations(0)
    hist.skipped_evaluations = len(read.skipped)
    hist.apply_evaluations(list(read.records))
    return hist


# long: one generated log, line kind by line kind
def _write_project(root: Path, seed: int, *, clean: bool = False) -> None:
    """``clean``: only well-formed lines with ids (the blocks are decoded whole)."""
    rng = random.Random(seed)
    d = root / ".llm-orc" / "evaluations"
    d.mkdir(parents=True)
    lines: list[str] = []
    ids: list[str] = []
    for i in range(3000):
        ens = rng.choice(ENSEMBLES)
        kind = rng.random()
        ts = f"2026-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00" + rng.choice(
            ["Z", "+00:00", "+02:00", "", ".5Z", "z"]
        )
        if clean and kind < 0.05:
            kind = 0.5
        if kind < 0.02:
            lines.append('{"id": "broken", "routed_to": ')  # corrupt
            continue
        if kind < 0.03:
            lines.append(rng.choice(["[1, 2]", '"text"', "   ", ""]))
            continue
        if kind < 0.05:
            lines.append(
                json.dumps(
                    {"event": "lifecycle", "ensemble": ens, "to": "design", "ensemble_digest": f"d{i}"}
                )
            )
            continue
        if kind < 0.2:
            rec = {
                "timestamp": ts,
                "task_type": rng.choice(["extraction", "review", None]),
                "routed_to": rng.choice(["claude", "Claude-opus", "a|b"]),
                "delegability_category": rng.choice(["agent-delegable", "ensemble-delegable", "claude-only"]),
                "session": rng.choice([None, "s1", "s2"]),
            }
            if rng.random() < 0.3:
                rec["preparation_tokens_local"] = 100
            lines.append(json.dumps(rec))
            continue
        rec = {
            "timestamp": rng.choice([ts, ts, ts, None, "ISO-8601", 1767225600, " " + ts]),
            "task_type": rng.choice(["extraction", " review ", None, 7]),
            "routed_to": ens,
            "status": rng.choice([None, "completed", "DONE", "failed", "cancelled", "error", "success"]),
            "session": rng.choice([None, "s1", "s2", ""]),
            "plan_id": rng.choice([None, "p1"]),
            "row_id": rng.choice([None, "r1"]),
            "sampled_for_evaluation": rng.choice([None, True, False, "yes"]),
            "event": rng.choice([None, None, "routing-decision", "routing", "other"]),
        }
        if rng.random() < 0.5:
            rec["ensemble"] = ens
        if clean or rng.random() < 0.8:
            rec["id"] = rng.choice(
                [f"rd-{i}", f"rd-{i}", f"rd-{i // 2}", *([] if clean else [12345 + i, ""])]
            )
        line = json.dumps(rec)
        if rec.get("id"):
            ids.append(str(rec["id"]).strip())
        else:
            ids.append(history_scan.line_identity("rd-", line.encode()))
        lines.append(line if clean or rng.random() < 0.9 else "  " + line + " \r")
    text = "\ufeff" + "\n".join(lines)  # a BOM, and no newline after the last line
    (d / "routing-log.jsonl").write_text(text, encoding="utf-8")
    evals = []
    for j in range(400):
        ev = {
            "id": f"ev-{j}",
            "timestamp": f"2026-0{1 + j % 9}-{1 + j % 28:02d}T12:00:00Z",
            "ensemble": rng.choice([*ENSEMBLES, None, "never-ran"]),
            "score": rng.choice(["good", "acceptable", "poor"]),
            "phase": "calibrate",
        }
        pick = rng.random()
        if pick < 0.5 and ids:
            ev["routing_id"] = rng.choice(ids)
        elif pick < 0.7:
            ev["invocation_number"] = rng.randint(1, 400)
        elif pick < 0.8:
            ev["routing_id"] = "rd-missing"
        evals.append(json.dumps(ev))
    evals.insert(5, "{not json")
    (d / "evaluations.jsonl").write_text("\n".join(evals) + "\n")


def _facts(hist: History) -> dict:
    ensembles = {
        name: (
            eh.completed,
            eh.failed,
            eh.cancelled,
            list(eh.task_types.items()),
            eh.last_used,
            eh.run_times,
            [e.id for e in eh.evaluations],
            eh.failed_at,
            eh.failed_digest,
            eh.phase(),
        )
        for name, eh in hist.ensembles.items()
    }
    return {
        "ensembles": list(ensembles.items()),  # order included
        "claude": list(hist.claude_by_type.items()),
        "claude_session": list(hist.claude_by_type_session.items()),
        "prepared": list(hist.prepared_by_type.items()),
        "evaluation_of": {k: v.id for k, v in hist.evaluation_of.items()},
        "skipped": (hist.skipped_routing, hist.skipped_evaluations),
    }


@pytest.mark.parametrize("workers", ["1", "3"])
@pytest.mark.parametrize(("seed", "clean"), [(1, False), (2, False), (4, True)])
@pytest.mark.parametrize("block", [4096, 1 << 20])
def test_parallel_lazy_history_equals_the_sequential_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str, seed: int, clean: bool, block: int
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    monkeypatch.setattr(history_scan, "_CHUNK", block)
    _write_project(tmp_path, seed, clean=clean)
    store = ProjectStore(tmp_path)
    ref = _reference(store)
    fast = _read_history(store)
    assert (ref.skipped_routing == 0) is clean and ref.evaluation_of  # the log exercises what it should
    assert _facts(fast) == _facts(ref)
    # runs built on demand: by ordinal first (one line each), then all of them
    for key, run in ref.by_invocation.items():
        assert fast._run_at(*key) == run
    assert fast.runs == ref.runs and list(fast.runs) == list(ref.runs)
    assert fast.by_invocation == ref.by_invocation


def test_runs_asked_for_before_any_lookup_are_all_there(tmp_path: Path) -> None:
    _write_project(tmp_path, 3)
    store = ProjectStore(tmp_path)
    fast, ref = _read_history(store), _reference(store)
    assert fast.by_invocation == ref.by_invocation
    assert fast.runs == ref.runs


@pytest.mark.parametrize("blank", [False, True])
def test_a_line_with_two_records_is_skipped_as_the_reference_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: bool
) -> None:
    """Two records written on one line (two writers interleaved; ``{…}{…}``), alone or
    with a blank line in the same block: one corrupt line, as the sequential pass reads it,
    not two runs."""
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    d = tmp_path / ".llm-orc" / "evaluations"
    d.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "id": f"rd-{i}",
                "timestamp": f"2026-01-{1 + i % 28:02d}T10:00:00Z",
                "task_type": "extraction",
                "routed_to": ENSEMBLES[i % 4],
                "status": "completed",
            }
        )
        for i in range(60)
    ]
    lines[10:12] = [lines[10] + lines[11]]
    if blank:
        lines.insert(20, "")
    (d / "routing-log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = ProjectStore(tmp_path)
    ref = _reference(store)
    assert ref.skipped_routing == 1
    fast = _read_history(store)
    assert _facts(fast) == _facts(ref)
    assert fast.runs == ref.runs
