"""The whole review pass split by line range across the cores (``review_split``): the
pieces' run sequences stitched per ensemble and stepped in bulk between verdicts and flags
must give exactly what one process stepping every run gives — queue, "all runs", phases,
reasons, invocation numbers, counts, skipped lines, the ensembles' lifecycle state — on
random logs with many ensembles, verdicts (human and judge), flags, failed runs, recorded
sampling decisions and corrupt lines, with small limits so the queues are cut, and the
pass resumed over appended lines afterwards."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import logscan, review, review_pass, review_read, review_split, review_walk
from conductor_tui.core.store import ProjectStore

ENSEMBLES = [f"ens-{k:02d}" for k in range(14)]


def _write(project: Path, seed: int, runs: int, *, by_invocation: bool = False) -> None:
    rng = random.Random(seed)
    evals = project / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True, exist_ok=True)
    (evals / "routing-config.yaml").write_text(
        "routing_thresholds:\n  calibration_period: 3\n  sampling_rate_established: 0.3\n"
        "  trusted_threshold_uses: 12\n  trusted_threshold_good_ratio: 0.7\n"
    )
    quality = {e: rng.choice([0.98, 0.85, 0.5]) for e in ENSEMBLES}
    busy = rng.sample(ENSEMBLES, 4)  # a few ensembles carry most runs (long quiet stretches)
    lines: list[str] = []
    evaluations: list[dict] = []
    done: list[tuple[str, str]] = []
    counter: dict[str, int] = {}
    for i in range(runs):
        roll = rng.random()
        ts = f"2026-02-{1 + i * 27 // runs:02d}T10:{i % 60:02d}:{i % 59:02d}Z"
        if roll < 0.1:
            rec = {"id": f"c-{i}", "timestamp": ts, "task_type": rng.choice(["x", "y", None]),
                   "delegability_category": rng.choice(["agent-delegable", "claude-only", None, 7]),
                   "routed_to": rng.choice(["claude", "Claude-opus", ""])}  # fmt: skip
            if rng.random() < 0.3:
                rec["preparation_tokens_local"] = 50
            lines.append(json.dumps(rec))
            continue
        if roll < 0.12:
            lines.append(rng.choice(['{"task_type": "ext', "not json", "[1]", "", "  ", '{"id": 5}']))
            continue
        if roll < 0.13 and done:
            lines.append(json.dumps({"event": review.FLAG_EVENT, "routing_id": rng.choice(done)[0]}))
            continue
        ens = rng.choice(busy) if rng.random() < 0.7 else rng.choice(ENSEMBLES)
        rid = f"r-{i}"
        status = rng.choice(["failed", "cancelled", None]) if rng.random() < 0.06 else "completed"
        rec = {"id": rid, "timestamp": ts if rng.random() > 0.02 else None, "routed_to": ens,
               "task_type": rng.choice(["extraction", "summary", None]), "status": status}  # fmt: skip
        if rng.random() < 0.85:
            rec["ensemble"] = ens
        if rng.random() < 0.05:
            del rec["id"]  # the readers derive its id from the line
        if rng.random() < 0.15:
            rec["sampled_for_evaluation"] = rng.random() < 0.5
        lines.append(json.dumps(rec))
        if status == "completed":
            counter[ens] = counter.get(ens, 0) + 1
            if "id" in rec:
                done.append((rid, ens))
        if "id" in rec and rng.random() < (0.02 if ens in busy else 0.3):
            score = rng.choices(["good", "acceptable", "poor"], [quality[ens], 0.05, 1 - quality[ens]])[0]
            judge = rng.random() < 0.2
            ev = {"routing_id": rid, "ensemble": ens if rng.random() < 0.8 else None, "score": score,
                  "failure_mode": "incomplete" if score == "poor" else None, "reasoning": "r",
                  "evaluator": "claude" if judge else "human"}  # fmt: skip
            if judge:
                ev["judge_score"] = score
            if by_invocation and status == "completed" and rng.random() < 0.5:
                ev = {**ev, "routing_id": None, "ensemble": ens, "invocation_number": counter[ens]}
            evaluations.append(ev)
            if rng.random() < 0.1:  # the person overrides: the later verdict wins
                evaluations.append({**ev, "score": "good", "evaluator": "human"})
    (evals / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    (evals / "evaluations.jsonl").write_text("\n".join(json.dumps(e) for e in evaluations) + "\n")


def _items(items: list[review.QueueItem]) -> list[tuple]:
    return [
        (q.run.id, q.ensemble, q.invocation_number, q.phase, q.reason, q.judge is not None and q.judge.score,
         q.flagged)
        for q in items
    ]  # fmt: skip


def _fingerprint(store: ProjectStore) -> tuple:
    review._MEMO.clear()
    state = review.load_review(store)
    memo = review._MEMO[(str(store.routing_log_path), "full")]
    tracks = {
        ens: (t.counter, t.adds, list(t.tracker.window), t.tracker.scored, t.tracker.calibrating)
        for ens, t in memo.review.tracks.items()
    }
    rows = [
        (r.key, r.status.phase, r.status.invocations, r.last_used, r.debt)
        for r in review.lifecycle_rows(state)
    ]
    return (
        _items(state.queue_due), _items(state.queue_all), state.queue_total, state.total_runs,
        sorted(state.pairs.items()), state.debt, state.uses, state.last_used, state.skipped_routing,
        state.run_ensembles, sorted(state.linked), [d.id for d in state.decisions], tracks, rows,
        memo.review.offset, memo.review.tail, state.problems,
    )  # fmt: skip


def _limits(monkeypatch, queue: int, every: int) -> None:
    for module in (review_pass, review_walk):
        monkeypatch.setattr(module, "QUEUE_LIMIT", queue)
        monkeypatch.setattr(module, "ALL_RUNS_LIMIT", every)


@pytest.mark.parametrize(
    ("seed", "workers", "block", "limits"),
    [
        (11, 2, 1 << 20, None),
        (12, 3, 2048, (40, 25)),
        (13, 2, 600, (7, 3)),
        (14, 4, 5000, (200, 90)),
        (11, 1, 1 << 20, None),
        (13, 1, 600, (7, 3)),
    ],  # fmt: skip
)
def test_the_split_pass_matches_one_process(
    tmp_path: Path, monkeypatch, seed, workers, block, limits
) -> None:
    """… and so does one piece, stitched (one core, or a log too small to split: what a later
    verdict is stepped from): ``workers`` 1."""
    monkeypatch.setattr(review_read, "_BLOCK", block)
    if limits:
        _limits(monkeypatch, *limits)
    _write(tmp_path, seed, runs=4000)
    store = ProjectStore(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    one = _fingerprint(store)
    calls: list[int] = []
    real = review_walk._Walk.run
    monkeypatch.setattr(review_walk._Walk, "run", lambda self, *a: (calls.append(1), real(self, *a))[1])
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    if workers == 1:
        monkeypatch.setattr(review_split, "ONE_PIECE_BYTES", 1)
    split = _fingerprint(store)
    assert calls  # the split pass ran (not the one-process read)
    assert split == one
    queue, every, total = one[0], one[1], one[2]
    assert total > len(queue) > 0 and len(every) > 0  # the queues were cut
    assert {q[3] for q in every} >= {review.EvalPhase.CALIBRATE, review.EvalPhase.TRUST}
    assert one[8] > 0 and any(q[6] for q in queue)  # skipped lines and flagged runs


@pytest.mark.parametrize("workers", [2, 3])
def test_a_split_pass_resumes_like_one_process(tmp_path: Path, monkeypatch, workers: int) -> None:
    _limits(monkeypatch, 30, 20)
    _write(tmp_path, 21, runs=2500)
    store = ProjectStore(tmp_path)
    log = Path(store.routing_log_path)
    more = [json.dumps({"id": f"n-{i}", "routed_to": ENSEMBLES[i % 3], "ensemble": ENSEMBLES[i % 3],
                        "timestamp": "2026-03-01T00:00:00Z"}) for i in range(60)]  # fmt: skip
    results = []
    for n in ("1", str(workers)):
        monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", n)
        _fingerprint(store)  # the pass, remembered
        with log.open("a") as fh:
            fh.write("\n".join(more) + "\n")
        state = review.load_review(store)  # goes on over the appended lines
        results.append(
            (_items(state.queue_due), _items(state.queue_all), state.queue_total, state.total_runs)
        )
        log.write_text(log.read_text().removesuffix("\n".join(more) + "\n"))
    assert results[0] == results[1]


def test_evaluations_naming_an_invocation_keep_every_run_in_order(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, 31, runs=2500, by_invocation=True)
    store = ProjectStore(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    one = _fingerprint(store)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    assert _fingerprint(store) == one
    assert one[10]  # evaluations were linked to runs by invocation


@pytest.mark.parametrize("rate", [0.0, 1e-19, 0.1, 0.3, 0.5, 2 / 3, 0.999999, 1.0, 1.5, -0.2])
def test_the_draw_bound_samples_exactly_the_runs_the_stable_draw_does(rate: float) -> None:
    bound = review_walk.draw_bound(rate)
    rng = random.Random(7)
    ids = [f"rd-{rng.getrandbits(48):012x}" for _ in range(3000)]
    expected = sum(review.stable_fraction(r) < rate for r in ids)
    assert review_walk.count_drawn(ids, bound) == expected
    # digests whose first 8 bytes sit right at the bound (where the float division rounds)
    edge = min(int.from_bytes(bound[:8], "big"), (1 << 64) - 1) if len(bound) == 32 else (1 << 64) - 1
    for x in {max(0, min(edge + d, (1 << 64) - 1)) for d in range(-600, 600)} | {0, (1 << 64) - 1}:
        digest = x.to_bytes(8, "big") + rng.randbytes(24)
        assert (digest < bound) == (x / 2**64 < rate), x


def _write_flags(project: Path, seed: int) -> int:
    """A log whose few flags the pieces find themselves: flags of runs in an earlier piece,
    a flag before its run, a flagged run logged twice, a flagged failed run, flagged runs
    with a recorded sampling decision and one without an id (its derived id flagged), amid
    long quiet stretches in Establish (sampled), judged and re-evaluated runs and corrupt
    lines. Returns the flags written."""
    rng = random.Random(seed)
    evals = project / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True, exist_ok=True)
    (evals / "routing-config.yaml").write_text(
        "routing_thresholds:\n  calibration_period: 2\n  sampling_rate_established: 0.25\n"
        "  trusted_threshold_uses: 900\n"
    )
    lines: list[str] = []
    evaluations: list[dict] = []
    flags: list[str] = []
    chosen: list[str] = []
    for i in range(3000):
        ens = ENSEMBLES[i % 3]
        rec: dict = {"id": f"q-{i}", "timestamp": f"2026-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                     "routed_to": ens, "ensemble": ens, "task_type": "extraction"}  # fmt: skip
        if i % 97 == 5:
            rec["sampled_for_evaluation"] = i % 2 == 0
        if i % 211 == 7:
            rec["status"] = "failed"
        if i in (40, 41):
            rec["id"] = "twice"  # one id on two lines
        if i == 60:
            del rec["id"]  # derives its id from the line
        line = json.dumps(rec)
        lines.append(line)
        if i < 12:  # calibration verdicts (one judged, one overridden)
            ev = {"routing_id": rec["id"], "ensemble": ens, "score": "good", "reasoning": "r"}
            evaluations.append(ev if i else {**ev, "evaluator": "claude", "judge_score": "good"})
            if i == 3:
                evaluations.append({**ev, "score": "acceptable", "evaluator": "human"})
        if i in (1200, 1401, 211 * 5 + 7):
            chosen.append(rec["id"])
        if i == 60:
            chosen.append(review_pass.line_identity("rd-", line.encode()))
        if i in (40, 1203):
            chosen.append(rec.get("id", ""))
        if i % 500 == 17:
            lines.append(rng.choice(['{"task_type": "ext', "not json", "[1]", '{"id": 5}']))
    lines.insert(1000, json.dumps({"event": review.FLAG_EVENT, "routing_id": "q-1203"}))  # before its run
    for rid in chosen:
        if rid != "q-1203":
            lines.append(json.dumps({"event": review.FLAG_EVENT, "routing_id": rid}))
    flags = sorted(set(chosen))
    (evals / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    (evals / "evaluations.jsonl").write_text("\n".join(json.dumps(e) for e in evaluations) + "\n")
    return len(flags)


@pytest.mark.parametrize(("workers", "block"), [(2, 1 << 20), (3, 4096), (4, 900)])
def test_flags_found_by_the_pieces_queue_what_one_process_does(
    tmp_path: Path, monkeypatch, workers, block
) -> None:
    monkeypatch.setattr(review_read, "_BLOCK", block)
    _limits(monkeypatch, 60, 40)
    n_flags = _write_flags(tmp_path, 5)
    store = ProjectStore(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    one = _fingerprint(store)
    scans: list[int] = []
    real_scan = review_read._scan_flags
    monkeypatch.setattr(review_read, "_scan_flags", lambda path: (scans.append(1), real_scan(path))[1])
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    split = _fingerprint(store)
    assert not scans  # the pieces found the flags
    assert split == one
    state = review.load_review(store)
    assert len(state.flagged_ids) == n_flags
    flagged = [q for q in state.queue_due if q.flagged]
    # every flagged completed run is queued as flagged, the one logged twice on both lines
    assert sorted(q.routing_id for q in flagged).count("twice") == 2
    assert {q.routing_id for q in flagged} == state.flagged_ids - {"q-1062"}  # the failed run is none
    assert {q.phase for q in state.queue_due} >= {review.EvalPhase.ESTABLISH, review.EvalPhase.TRIGGERED}
    assert review.EvalPhase.TRUST in {q.phase for q in state.queue_all}


@pytest.mark.parametrize(("block", "workers"), [(700, 3), (4096, 2), (1 << 20, 4)])
def test_a_piece_read_into_one_buffer_feeds_what_the_pass_reader_feeds(
    tmp_path: Path, monkeypatch, block: int, workers: int
) -> None:
    """The pieces' reader (one buffer for every block) against ``review_read._read_routing``:
    the same blocks, records, skipped lines, offset and tail — with a BOM, a line longer than
    a block, blank and corrupt lines, a flag, and no final newline."""
    monkeypatch.setattr(review_read, "_BLOCK", block)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", str(workers))
    _write(tmp_path, 41, runs=1500)
    log = Path(ProjectStore(tmp_path).routing_log_path)
    lines = log.read_text().splitlines()
    lines.insert(300, json.dumps({"id": "long", "routed_to": "ens-00", "task_summary": "x" * 3000}))
    lines.insert(500, "   ")
    log.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())  # no final newline
    state = review.ReviewState(project=tmp_path)
    pass_ = review_pass._ReviewPass(state, set())
    events = {f"r-{i}" for i in range(0, 1500, 7)}
    ranges = review_read.split_ranges(log)
    assert len(ranges) == workers
    for start, end in [(0, None), *ranges]:
        one, other = review_split.Collect(pass_, events=events), review_split.Collect(pass_, events=events)
        read = review_split._read_piece(log, one, start, end)
        assert one.result(read, log) == other.result(review_read._read_routing(log, other, start, end), log)


def test_the_pieces_count_debt_as_one_process_on_odd_categories(tmp_path: Path, monkeypatch) -> None:
    """Interim Claude debt counted per block from the categories' distinct values: the same
    debt as one process with categories that are strings, null, numbers, booleans (which
    equal numbers), unhashable values, missing, and with and without a local preparation."""
    monkeypatch.setattr(review_read, "_BLOCK", 900)
    evals = tmp_path / ".llm-orc" / "evaluations"
    evals.mkdir(parents=True)
    rng = random.Random(5)
    cats = ["agent-delegable", "ensemble-delegable", "claude-only", "AGENT-DELEGABLE", None, 1, True, 0.5,
            [1], {"a": 1}, "", "nonsense"]  # fmt: skip
    lines = []
    for i in range(1500):
        if rng.random() < 0.6:
            rec: dict = {"id": f"c-{i}", "routed_to": rng.choice(["claude", "Claude", None]),
                         "task_type": rng.choice(["x", "y", None])}  # fmt: skip
            if rng.random() < 0.9:
                rec["delegability_category"] = rng.choice(cats[:5] if rng.random() < 0.8 else cats)
            if rng.random() < 0.3:
                rec["preparation_tokens_local"] = rng.choice([0, 50, None])
        else:
            rec = {"id": f"r-{i}", "routed_to": "ens-00", "ensemble": "ens-00", "task_type": "x"}
        lines.append(json.dumps(rec))
    (evals / "routing-log.jsonl").write_text("\n".join(lines) + "\n")
    (evals / "evaluations.jsonl").write_text(json.dumps({"routing_id": "r-1", "score": "good"}) + "\n")
    store = ProjectStore(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    one = _fingerprint(store)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    assert len(review_read.split_ranges(Path(store.routing_log_path))) == 2  # read in pieces
    split = _fingerprint(store)
    assert split == one
    assert one[5] and sum(one[5].values()) > 100  # debt counted


@pytest.mark.parametrize(
    ("block", "values", "expected"),
    [
        (b'{"a":1}\n{"b":2}\n', 2, True),
        (b'{"a":1}{"b":2}\n\n', 2, False),  # a blank line evens out a line of two
        (b'{"a":1}{"b":2}\n{"c":\n3}\n', 3, False),  # so does a record over two lines
        (b'{"a":1}\r\n{"b":2}\r\n', 2, True),  # CRLF: checked line by line
        (b'  {"a":1}\n{"b":2}  \n', 2, True),  # indented
        (b'{"a":1}\n   \n', 1, False),  # blanks
        (b'{"a":1}\n{"b":2}\n', 1, False),
        (b'{"a":1}\n', 2, False),
        (b'{"a":1} \t{"b":2}\n\n', 2, False),  # blanks between the two
        (b'{"a":"}{"}\n{"b":"} {"}\n', 2, True),  # such text inside strings: line by line
        (b'{"a":{"x":1}\n}\n', 1, False),  # one object over two lines
    ],
)
def test_one_record_per_line(block: bytes, values: int, expected: bool) -> None:
    assert logscan.one_record_per_line(block, values) is expected
    padded = bytearray(b"xx" + block + b"yy")  # a range of a reused buffer
    assert logscan.one_record_per_line(padded, values, lo=2, hi=2 + len(block)) is expected


@pytest.mark.parametrize("block", [1 << 20, 700])
def test_two_records_on_a_line_are_skipped_as_the_line_reader_skips_them(
    tmp_path: Path, monkeypatch, block: int
) -> None:
    """Blocks decoded at once (one process, or split across the cores) against every line
    read on its own: a line of two records is skipped even when a blank line, or a record
    written over two lines, gives the block as many records as lines."""
    monkeypatch.setattr(review_read, "_BLOCK", block)
    _write(tmp_path, 51, runs=1200)
    log = Path(ProjectStore(tmp_path).routing_log_path)
    lines = log.read_text().splitlines()
    two = json.dumps({"id": "t-1", "routed_to": "ens-00", "ensemble": "ens-00"})
    for at in (900, 600, 300):
        lines[at : at + 1] = [two + two.replace("t-1", "t-2"), ""]  # two records, then a blank line
    lines[100:101] = [
        two.replace("t-1", "t-3") + two.replace("t-1", "t-4"),
        '{"id": "t-5",',
        '"routed_to": "x"}',
    ]
    log.write_text("\n".join(lines) + "\n")
    store = ProjectStore(tmp_path)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    fast = _fingerprint(store)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    split = _fingerprint(store)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    monkeypatch.setattr(logscan, "one_record_per_line", lambda *a, **k: False)  # every line on its own
    slow = _fingerprint(store)
    assert fast == slow and split == slow
    assert not any(q[0].startswith("t-") for q in slow[1])  # none of them a run
