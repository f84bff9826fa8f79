"""The Lifecycle screen's counts read block by block (``review_counts._CountPiece``: a
decoder of only the fields the counts read, a block's records grouped by key, a corrupt
block halved) give what the pass's own per-record loop gives over the same bytes — on a
log built to hit every edge: corrupt, blank and two-records-on-one-line lines, runs
without an id (named by an evaluation through their derived id), failed runs, flags and
other events, timestamps out of order, null or numeric, categories that are not text,
decisions an ensemble prepared, statuses and targets spelled by hand, a BOM and an
unterminated last line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core import review, review_counts, review_read
from conductor_tui.core.records import line_identity
from conductor_tui.core.review_pass import _ReviewPass
from conductor_tui.core.review_state import FLAG_EVENT, ReviewState
from conductor_tui.core.store import ProjectStore

ENSEMBLES = ["extract-a", "summarise-b", "classify-c", "scan-d"]
CATEGORIES = ["agent-delegable", "Agent Delegable", "ensemble-delegable", "claude-only", None, 3, ["x"]]


def _line(rng: random.Random, i: int) -> tuple[str, str | None, str | None]:
    """A routing-log line; (text, its run id when it is a local run, its ensemble)."""
    ts: object = f"2026-03-{1 + i % 27:02d}T{(i * 7) % 24:02d}:00:00Z"
    roll = rng.random()
    if roll < 0.03:
        ts = rng.choice([None, 1767225600, "", "not a time", {"t": 1}])
    elif roll < 0.08:
        ts = f"2025-12-{1 + i % 27:02d}T00:00:00Z"  # older than the lines before it
    kind = rng.random()
    if kind < 0.2:
        rec: dict = {
            "id": f"c-{i}",
            "timestamp": ts,
            "task_type": rng.choice(["extraction", "judgment", None, ""]),
            "delegability_category": rng.choice(CATEGORIES),
            "routed_to": rng.choice(["claude", "Claude ", "claude-sonnet", "", None]),
        }
        if rng.random() < 0.3:
            rec["preparation_tokens_local"] = rng.choice([120, 0, None, "40"])
        return json.dumps(rec), None, None
    if kind < 0.24:
        return (
            json.dumps({"event": rng.choice(["config-change", "rollback", "routing"]), "timestamp": ts}),
            None,
            None,
        )
    ens = rng.choice(ENSEMBLES)
    rec = {
        "timestamp": ts,
        "task_type": {"extract-a": "extraction", "summarise-b": "summarization"}.get(ens, "classification"),
        "routed_to": ens,
        "status": rng.choice(
            ["completed", "completed", "done", "success", "failed", "cancelled", None, "Completed"]
        ),
        "task_summary": f"run {i}",
    }
    if rng.random() < 0.5:
        rec["ensemble"] = ens if rng.random() < 0.8 else None
    if rng.random() < 0.85:
        rec["id"] = f"rt-{i}"
    elif rng.random() < 0.3:
        rec["id"] = rng.choice([7, ["rt"], ""])  # not text: the tolerant read decides
    text = json.dumps(rec)
    rid = rec.get("id") if isinstance(rec.get("id"), str) and rec.get("id") else line_identity("rd-", text)
    return text, rid, ens


def _write(project: Path, seed: int, n: int, *, ensembles: float = 0.3) -> None:
    rng = random.Random(seed)
    lines: list[str] = []
    runs: list[str] = []
    for i in range(n):
        if rng.random() < 0.02:
            lines.append(rng.choice(['{"task_type": "extr', "not json", "[1, 2]", "", "   ", "null"]))
            continue
        if rng.random() < 0.01:  # two records on one line: corrupt for every reader
            lines.append('{"routed_to": "extract-a", "id": "x"} {"routed_to": "extract-a"}')
            continue
        if rng.random() < 0.01:  # one record over two lines: two corrupt lines
            lines.append('{"routed_to": "extract-a", "status": "completed",\n "id": "y"}')
            continue
        if rng.random() < 0.01 and runs:
            lines.append(json.dumps({"event": FLAG_EVENT, "routing_id": rng.choice(runs)}))
            continue
        text, rid, _ens = _line(rng, i)
        lines.append(text)
        if rid is not None:
            runs.append(rid)
    folder = project / ".llm-orc" / "evaluations"
    folder.mkdir(parents=True)
    body = "\ufeff" + "\n".join(lines) + '\n{"routed_to": "extract-a", "id": "tail", "status": "completed"}'
    (folder / "routing-log.jsonl").write_text(body, encoding="utf-8")
    named = rng.sample(runs, min(len(runs), n // 8))
    evals = []
    for rid in named:  # ``ensembles``: the share of evaluations naming their ensemble
        ev = {"routing_id": rid, "score": rng.choice(["good", "acceptable", "poor"]), "reasoning": "r"}
        if rng.random() < ensembles:
            ev["ensemble"] = rng.choice(ENSEMBLES)
        if rng.random() < 0.3:  # the judge's verdict, then the person's
            judged = {**ev, "evaluator": "claude", "judge_score": rng.choice(["good", "poor"])}
            evals.append(judged)
            ev["evaluator"] = "human"
        evals.append(ev)
    (folder / "evaluations.jsonl").write_text("\n".join(json.dumps(e) for e in evals) + "\n")


def _reference(path: Path, need: set[str]) -> tuple:
    """The pass's own per-record loop over the whole file in one process."""
    state = ReviewState(project=path.parent)
    one = _ReviewPass(state, need)
    one.counts_only = True
    skipped = review_read._read_routing(path, one)
    return skipped, one.pairs, one.debt, one.total_runs, state.run_ensembles, one.offset, one.tail


def _pieces(path: Path, need: set[str], monkeypatch, workers: str) -> tuple:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    state = ReviewState(project=path.parent)
    split = _ReviewPass(state, need)
    split.counts_only = True
    skipped = review_counts.read_counts_split(path, split)
    return skipped, split.pairs, split.debt, split.total_runs, state.run_ensembles, split.offset, split.tail


@pytest.mark.parametrize(("seed", "block"), [(1, 1 << 20), (2, 3000), (3, 700), (4, 20000)])
def test_count_pieces_match_the_per_record_loop(tmp_path: Path, monkeypatch, seed: int, block: int) -> None:
    monkeypatch.setattr(review_read, "_BLOCK", block)
    monkeypatch.setattr(review_counts, "_PER_LINE_BYTES", 256)
    _write(tmp_path, seed, 3000)
    path = Path(ProjectStore(tmp_path).routing_log_path)
    named = review_read.routing_ids_named(Path(ProjectStore(tmp_path).evaluations_path))
    assert named
    for need in (set(), named):
        ref = _reference(path, need)
        assert ref[0] > 0 and ref[2] and ref[3]  # skipped lines, debt, local runs
        if need:
            assert ref[4] and any(rid.startswith("rd-") for rid in ref[4])  # derived ids found
        for workers in ("1", "2", "3"):
            got = _pieces(path, need, monkeypatch, workers)
            assert got == ref, (workers, need and "need")


@pytest.mark.parametrize("ensembles", [0.3, 1.0])
def test_the_lifecycle_load_counts_what_the_full_pass_does(tmp_path: Path, monkeypatch, ensembles) -> None:
    """``load_review(queue=False)`` (ids read only for evaluations naming no ensemble; the
    walks and, when every evaluation names its ensemble, the pass built while the log is
    read) and the full pass agree on every count, the judge agreement and every row."""
    _write(tmp_path, 5, 4000, ensembles=ensembles)
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    review._MEMO.clear()
    full = review.load_review(ProjectStore(tmp_path))
    review._MEMO.clear()
    for workers in ("1", "2"):
        monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
        counts = review.load_review(ProjectStore(tmp_path), queue=False)
        review._MEMO.clear()
        if ensembles == 1.0:  # (the full pass links a verdict to its run's ensemble after it)
            assert counts.agreement.to_dict() == full.agreement.to_dict() and counts.agreement.by_ensemble
        for name in ("pairs", "debt", "total_runs", "uses", "last_used", "skipped_routing", "run_ensembles"):
            assert getattr(counts, name) == getattr(full, name), name
        rows = [(r.key, r.status, r.last_used, r.debt, r.lora) for r in review.lifecycle_rows(counts)]
        assert rows == [(r.key, r.status, r.last_used, r.debt, r.lora) for r in review.lifecycle_rows(full)]
        assert any(r.status.counts.evaluated for r in review.lifecycle_rows(counts))


def test_a_piece_reads_a_block_it_cannot_decode_at_once_in_halves(tmp_path: Path, monkeypatch) -> None:
    """One corrupt line in a big block: the block is decoded in halves, not line by line."""
    lines = [
        json.dumps({"id": f"r{i}", "routed_to": "extract-a", "timestamp": f"t{i:05d}"}) for i in range(4000)
    ]
    lines[2500] = "{broken"
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n")
    per_line: list[int] = []
    feed = review_counts._feed_per_line

    def spy(rv, piece, base):
        per_line.append(piece.count(b"\n"))
        return feed(rv, piece, base)

    monkeypatch.setattr(review_counts, "_feed_per_line", spy)
    piece = review_counts._CountPiece(_ReviewPass(ReviewState(project=tmp_path), set()))
    skipped, _offset, _tail, pairs, _debt, runs, _found = piece.counts(review_read._read_routing(path, piece))
    assert skipped == 1 and runs == 3999
    assert pairs == {("(untyped)", "extract-a"): [3999, "t03999"]}
    assert 0 < sum(per_line) < len(lines) // 10  # read one by one: a small piece around the corrupt line
