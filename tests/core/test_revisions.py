"""Reading the newest revision of each plan validates only the winning lines, and gives
what reading every line and keeping the newest gave (the reference below)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conductor_tui.core.jsonl import read_jsonl, read_newest_revisions, read_revisions
from conductor_tui.core.records import WorkflowPlan


def _reference_newest(path: Path) -> dict[str, WorkflowPlan]:
    out: dict[str, WorkflowPlan] = {}
    for plan in read_jsonl(path, WorkflowPlan).records:
        current = out.get(plan.id)
        if current is None or plan.revision >= current.revision:
            out[plan.id] = plan
    return out


def _reference_history(path: Path, plan_id: str) -> list[WorkflowPlan]:
    return sorted(
        (p for p in read_jsonl(path, WorkflowPlan).records if p.id == plan_id), key=lambda p: p.revision
    )


def _line(pid: str | None, rev: object, meta: str, **extra: object) -> str:
    obj: dict[str, object] = {
        "revision": rev,
        "timestamp": "2026-11-30T01:00:00Z",
        "meta_task": meta,
        "subtasks": [{"id": "r1", "description": "d"}],
    }
    if pid is not None:
        obj["id"] = pid
    obj.update(extra)
    return json.dumps(obj)


LINES = [
    _line("a", 1, "a1"),
    _line("b", 1, "b1"),
    _line("a", 2, "a2"),
    "{not json",
    "",
    _line("a", "3", "a3 as a string revision"),  # pydantic reads "3" as 3
    _line("b", 2, "b2 tie, earlier"),
    _line("b", 2, "b2 tie, later wins"),
    _line("c", 5, "c5 newest but invalid", subtasks="not a list"),
    _line("c", 4, "c4"),
    _line("d", 1, "d1", status=7),  # invalid: falls back to nothing for d
    "[1, 2]",
    _line("e", 2.0, "e2 float revision"),
    _line("a", 3, "a3 later tie"),
]


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    path = tmp_path / "workflow-plans.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(LINES).encode() + b"\n")
    return path


def _dump(plans: dict[str, WorkflowPlan]) -> dict[str, dict]:
    return {k: v.model_dump() for k, v in plans.items()}


def test_newest_revisions_match_reading_every_line(plans: Path) -> None:
    got = read_newest_revisions(plans, WorkflowPlan)
    assert _dump(got) == _dump(_reference_newest(plans))
    assert got["a"].meta_task == "a3 later tie"
    assert got["b"].meta_task == "b2 tie, later wins"
    assert got["c"].meta_task == "c4"  # the invalid newest line yields to the next newest
    assert "d" not in got
    assert got["e"].revision == 2


@pytest.mark.parametrize("pid", ["a", "b", "c", "d", "e", "nope"])
def test_history_and_one_plan_match_reading_every_line(plans: Path, pid: str) -> None:
    assert [p.model_dump() for p in read_revisions(plans, WorkflowPlan, pid)] == [
        p.model_dump() for p in _reference_history(plans, pid)
    ]
    one = read_newest_revisions(plans, WorkflowPlan, pid).get(pid)
    ref = _reference_newest(plans).get(pid)
    assert (one.model_dump() if one else None) == (ref.model_dump() if ref else None)


def test_an_unterminated_last_line_counts_once_complete(tmp_path: Path) -> None:
    path = tmp_path / "workflow-plans.jsonl"
    path.write_text(_line("a", 1, "a1") + "\n" + _line("a", 2, "a2 no newline"))
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert read_newest_revisions(path, WorkflowPlan)["a"].meta_task == "a2 no newline"
    path.write_text(_line("a", 1, "a1") + "\n" + _line("a", 2, "a2")[:-5])  # torn
    os.utime(path, (old, old))
    assert read_newest_revisions(path, WorkflowPlan)["a"].meta_task == "a1"


def test_a_missing_log_reads_as_no_plans(tmp_path: Path) -> None:
    assert read_newest_revisions(tmp_path / "none.jsonl", WorkflowPlan) == {}
    assert read_revisions(tmp_path / "none.jsonl", WorkflowPlan, "a") == []
