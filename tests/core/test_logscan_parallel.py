"""The parallel routing-log read (core/logscan.py + Aggregator) gives the serial result and
the pydantic reference's, on generated logs with corrupt lines, a BOM, CRLF, an unterminated
last line and lines split exactly at block and piece boundaries; load_review's remembered
state resumes on appended lines with the result of a fresh read."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import aggregate, aggregate_scan, logscan, review
from conductor_tui.core.aggregate import Aggregator, _tolerant
from conductor_tui.core.records import RoutingDecision
from conductor_tui.core.store import ProjectStore

TYPES = ["extraction", "summarization", "Classification ", "holistic-judgment", "cross-file-analysis"]
ENSEMBLES = ["extract-x", "write-changelog", "cross-file-deps"]
CATEGORIES = ["agent-delegable", "Agent Delegable", "ensemble-delegable", "claude-only", None]


def _line(rng: random.Random, i: int) -> str:
    roll = rng.random()
    day = f"2025-0{1 + i % 9}-{1 + i % 28:02d}"
    ts = rng.choice([f"{day}T10:00:00Z", f"{day}T11:30:00+02:00", f"{day} 09:00:00"])
    if roll < 0.03:
        return rng.choice(['{"task_type": "extr', "not json", "[1, 2]", "", "   ", '"a string"', "{}"])
    if roll < 0.06:
        return json.dumps({"timestamp": ts, "event": "config-change", "reason": "threshold"})
    if roll < 0.08:
        return json.dumps(
            {
                "timestamp": ts,
                "event": "claude-overhead",
                "task_type": rng.choice(["planning", "judging"]),
                "claude_tokens": rng.randint(100, 900),
            }
        )
    tt = rng.choice(TYPES)
    if roll < 0.4:
        rec: dict = {
            "id": f"c-{i}",
            "timestamp": ts,
            "task_type": tt,
            "delegability_category": rng.choice(CATEGORIES),
            "routed_to": rng.choice(["claude", "Claude", "claude-opus"]),
            "reason": rng.choice(["no-ensemble", "competence-boundary", None]),
            "claude_tokens": rng.choice([None, rng.randint(100, 5000)]),
        }
        if rng.random() < 0.2:  # ensemble-prepared Claude
            rec["preparation_tokens_local"] = rng.randint(100, 2000)
            rec["estimated_full_claude_tokens"] = rng.randint(2000, 6000)
            rec["judgment_tokens_claude"] = rng.randint(100, 900)
        return json.dumps(rec, ensure_ascii=False)
    ens = rng.choice(ENSEMBLES)
    rec = {
        "id": f"rt-{i}",
        "timestamp": ts if rng.random() > 0.01 else 1735725600,  # a numeric timestamp: slow path
        "task_type": tt,
        "delegability_category": rng.choice(CATEGORIES),
        "routed_to": ens,
        "ensemble": rng.choice([ens, None]),
        "reason": "task-profile",
        "standing_auth": rng.random() < 0.2,
        "total_tokens_local": rng.randint(100, 3000),
        "task_summary": "Résumé — 検証 " * rng.randint(0, 3),
    }
    if rng.random() < 0.5:
        rec["estimated_claude_tokens"] = rng.randint(100, 2500)
    if rng.random() < 0.2:
        rec["tokens_saved"] = rng.randint(100, 2500)
    if rng.random() < 0.02:
        rec["total_tokens_local"] = str(rec["total_tokens_local"])  # "450": tolerated by pydantic
    if rng.random() < 0.05:
        rec["propose_judge"] = {"claude_judge_tokens": rng.randint(10, 500)}
    return json.dumps(rec, ensure_ascii=False)


def _write_log(
    path: Path, seed: int, n: int, *, bom: bool = False, crlf: bool = False, tail: str = ""
) -> None:
    rng = random.Random(seed)
    eol = "\r\n" if crlf else "\n"
    text = eol.join(_line(rng, i) for i in range(n)) + eol + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def _snapshot(path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    agg = Aggregator()
    agg.feed_file(path, "routing")
    return agg.snapshot().to_dict()


def _pydantic_reference(path: Path) -> dict:
    """Every line through json + the pydantic record (the tolerant slow path), folded by
    the same arithmetic — no msgspec, no blocks, no workers."""
    agg = Aggregator()
    state = aggregate._FileState(kind="routing")
    agg._files[str(path)] = state
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    groups: dict = {}
    for n, line in enumerate(complete, 1):
        text = line.strip()
        if not text:
            continue
        rec = _tolerant(text, "routing")
        if rec is None:
            state.skipped += 1
            state.skipped_lines.append(n)
        else:
            agg._add_routes([rec], groups)
    state.lines = len(complete)
    if tail.strip() and (rec := _tolerant(tail.strip(), "routing")) is not None:
        agg._add_routes([rec], groups)
        state.lines += 1
    agg._merge_routes(groups)
    return agg.snapshot().to_dict()


@pytest.mark.parametrize(
    ("seed", "bom", "crlf", "tail"),
    [
        (1, False, False, ""),
        (2, True, True, ""),
        (
            3,
            True,
            False,
            json.dumps({"task_type": "extraction", "routed_to": "extract-x", "total_tokens_local": 7}),
        ),
        (4, False, True, '{"task_type": "extraction", "routed_to": "extr'),  # cut mid-line: not read yet
    ],
)
@pytest.mark.parametrize("block", [1 << 20, 997])
def test_parallel_equals_serial_and_the_pydantic_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, bom: bool, crlf: bool, tail: str, block: int
) -> None:
    monkeypatch.setattr(aggregate_scan, "BLOCK_SIZE", block)  # 997: lines cross every block boundary
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, seed, 1500, bom=bom, crlf=crlf, tail=tail)
    serial = _snapshot(log, 1, monkeypatch)
    assert serial["skipped_lines"] > 0 and serial["routing_decisions"] > 1000
    for workers in (2, 3, 7):
        assert _snapshot(log, workers, monkeypatch) == serial, workers
    reference = _pydantic_reference(log)
    assert serial == reference
    # and a few totals straight from the pydantic records, independent of the folding code
    decisions = local = tokens = 0
    body = log.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n")
    for line in body if tail.endswith("}") else body[:-1]:
        try:
            d = RoutingDecision.model_validate(json.loads(line))
        except Exception:
            continue
        if d.event in (None, ""):
            decisions += 1
            local += d.is_local
            tokens += (d.total_tokens_local if d.is_local else d.preparation_tokens_local) or 0
    assert (serial["routing_decisions"], serial["local_decisions"]) == (decisions, local)
    assert serial["total_tokens_local"] == tokens


def test_parallel_read_then_appends_continue_from_the_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "routing-log.jsonl"
    _write_log(log, 9, 1200)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "3")
    agg = Aggregator()
    agg.feed_file(log)
    rng = random.Random(10)
    extra = "\n".join(_line(rng, 5000 + i) for i in range(300)) + "\n"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(extra)
    agg.feed_file(log)  # the appended lines (serial or parallel, whatever their size)
    whole = _snapshot(log, 1, monkeypatch)
    assert agg.snapshot().to_dict() == whole


def test_line_ranges_cut_only_after_newlines() -> None:
    lines = [b"x" * n + b"\n" for n in (0, 1, 5, 2, 9, 0, 3, 40, 1, 7)]
    data = b"".join(lines)
    boundaries = {0}
    pos = 0
    for ln in lines:
        pos += len(ln)
        boundaries.add(pos)
    fh = io.BytesIO(data)
    for n in range(1, 12):
        ranges = logscan.line_ranges(fh, 0, len(data), n)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a < b for a, b in ranges)
        assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:], strict=False))
        assert {b for _, b in ranges} <= boundaries, n
    # a guess that lands exactly on a line start cuts there, not one line later
    exact = b"aaaa\nbbbb\ncccc\ndddd\n"
    assert logscan.line_ranges(io.BytesIO(exact), 0, len(exact), 2) == [(0, 10), (10, 20)]


def test_iter_blocks_yields_whole_lines_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "f"
    lines = [f"{i}:" + "y" * (i % 13) for i in range(200)]
    path.write_bytes(("\n".join(lines) + "\ntail-without-newline").encode())
    end = path.stat().st_size - len("tail-without-newline")
    for block in (1, 7, 16, 64, 1 << 20):
        seen: list[str] = []
        with open(path, "rb", buffering=0) as fh:
            for piece, first, n in logscan.iter_blocks(fh, 0, end, block):
                got = bytes(piece).decode().split("\n")[:-1]
                assert first == len(seen) + 1 and n == len(got)
                seen.extend(got)
        assert seen == lines, block


def test_fork_map_results_in_order_and_failures_redone_here() -> None:
    calls: list[int] = []

    def square(x: int) -> int:
        calls.append(x)  # only the in-process calls are visible here
        return x * x

    assert logscan.fork_map(square, [1, 2, 3, 4]) == [1, 4, 9, 16]
    if hasattr(__import__("os"), "fork"):
        assert calls == [4]  # 1-3 were computed by forked children

    def unpicklable(x: int):
        return (lambda: x) if x < 3 else x  # a lambda cannot travel back through the pipe

    out = logscan.fork_map(unpicklable, [1, 2, 3])
    assert out[2] == 3 and callable(out[0]) and out[0]() == 1  # redone in this process


# --------------------------------------------------------------------------- load_review memo


def _review_log(project: Path, seed: int, n: int) -> None:
    rng = random.Random(seed)
    evals = project / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True, exist_ok=True)
    lines = [_review_line(rng, i) for i in range(n)]
    (evals / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    ev = [
        {
            "routing_id": f"rt-{i}",
            "ensemble": "extract-x",
            "score": rng.choice(["good", "good", "poor"]),
            "failure_mode": "incomplete",
            "reasoning": "r",
            "evaluator": "human",
        }
        for i in range(0, n, 3)
    ]
    (evals / "evaluations.jsonl").write_text("\n".join(json.dumps(e) for e in ev) + "\n")


def _review_line(rng: random.Random, i: int) -> str:
    if rng.random() < 0.03:
        return "not json"
    if rng.random() < 0.2:
        return json.dumps(
            {
                "id": f"c-{i}",
                "task_type": "extraction",
                "routed_to": "claude",
                "delegability_category": "agent-delegable",
            }
        )
    ens = rng.choice(["extract-x", "write-changelog"])
    return json.dumps(
        {
            "id": f"rt-{i}",
            "timestamp": f"2026-01-{1 + i % 28:02d}T10:00:00Z",
            "task_type": "extraction",
            "routed_to": ens,
            "ensemble": ens,
            "task_summary": f"run {i}",
            "status": "completed",
        }
    )


def _facts(state: review.ReviewState) -> tuple:
    return (
        state.total_runs,
        state.uses,
        state.pairs,
        state.debt,
        state.skipped_routing,
        state.queue_total,
        [(q.routing_id, q.invocation_number, q.phase, q.reason) for q in state.queue_due],
        [(q.routing_id, q.invocation_number, q.phase, q.reason) for q in state.queue_all],
        [d.id for d in state.decisions],
        [(r.task_type, r.ensemble, r.status.phase, r.debt) for r in review.lifecycle_rows(state)],
    )


def _fresh(store: ProjectStore) -> review.ReviewState:
    review._MEMO.clear()
    try:
        return review.load_review(store)
    finally:
        review._MEMO.clear()


def test_load_review_remembers_and_resumes_on_appends(tmp_path: Path) -> None:
    _review_log(tmp_path, 1, 400)
    store = ProjectStore(tmp_path)
    first = review.load_review(store)
    assert review.load_review(store) is first  # unchanged project: the same state
    rng = random.Random(2)
    log = store.routing_log_path
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("\n".join(_review_line(rng, 1000 + i) for i in range(120)) + "\n")
    resumed = review.load_review(store)
    assert resumed is not first and resumed.total_runs > first.total_runs
    assert _facts(resumed) == _facts(_fresh(store))
    before = _facts(first)
    assert _facts(first) == before  # the earlier state did not change under its reader


@pytest.mark.parametrize("change", ["flag", "evaluation", "rewrite", "unterminated"])
def test_load_review_reads_everything_again_when_a_resume_would_be_wrong(tmp_path: Path, change: str) -> None:
    _review_log(tmp_path, 3, 300)
    store = ProjectStore(tmp_path)
    log = store.routing_log_path
    if change == "unterminated":
        with open(log, "ab") as fh:
            fh.write(_review_line(random.Random(4), 900).encode())  # no newline yet
    review.load_review(store)
    if change == "flag":  # a flag may point back at an earlier run
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": review.FLAG_EVENT, "routing_id": "rt-5"}) + "\n")
    elif change == "evaluation":
        with open(store.evaluations_path, "a", encoding="utf-8") as fh:
            fh.write(
                json.dumps(
                    {
                        "routing_id": "rt-1",
                        "ensemble": "extract-x",
                        "score": "poor",
                        "failure_mode": "incomplete",
                        "reasoning": "r",
                    }
                )
                + "\n"
            )
    elif change == "rewrite":  # same size or longer, other bytes near the start
        data = log.read_bytes()
        log.write_bytes(data.replace(b'"rt-1"', b'"rt-X"', 1) + b"\n")
    else:
        with open(log, "ab") as fh:
            fh.write(b"\n")  # the unterminated line now ends
    again = review.load_review(store)
    assert _facts(again) == _facts(_fresh(store))


@pytest.mark.parametrize(
    ("block", "values", "expected"),
    [
        (b'{"a":1}\n{"b":2}\n', 2, True),
        (b'{"a":1}\r\n{"b":2}\r\n', 2, True),  # CRLF
        (b'{"a":1}\n{"b":2}', 2, True),  # an unterminated last line
        (b'{"a":1}\n{"b":2}\n  ', 2, True),  # blanks after the last newline
        (b'{"a":1}{"b":2}\n', 2, False),  # two values on one line
        (b'{"a":1}{"b":2}\n\n{"c":3}\n', 3, False),  # ... hidden by a blank line
        (b'{"a":1}{"b":2}\n \t\r\n{"c":3}\n', 3, False),  # ... or a line of blanks
        (b'{"a":1}\n\n{"c":3}\n', 2, False),  # a blank line alone: read line by line
        (b'{"a":\n1}\n{"b":2}{"c":3}\n', 2, False),  # a record over two lines hides two on one
        (b'{"a":\n{"b":1}}\n{"b":2}{"c":3}\n', 2, False),  # ... even when its second line opens with {
        (b'  {"a":1} \n\t{"b":2}\n', 2, True),  # indented lines, trailing blanks
        (b'[1]\n{"b":2}\n', 2, False),  # not an object: read line by line
    ],
)
def test_one_value_per_line(block: bytes, values: int, expected: bool) -> None:
    assert logscan.one_value_per_line(block, values) is expected
    if block.endswith(b"\n") and not block.startswith(b"["):  # whole lines of objects: the fast check agrees
        lines = block.count(b"\n")
        assert logscan.one_record_per_line(block, values, lines) is (expected and values == lines)
        assert logscan.one_record_per_line(memoryview(block), values, lines) is (expected and values == lines)
