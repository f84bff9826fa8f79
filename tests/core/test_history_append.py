"""A history continued over lines appended to the logs equals a history read from the start,
field by field, over many random append sequences (on one core and split in pieces); anything
but an append (a truncated or rewritten log, an edited config, a torn last line) reads it all
again; the remembered history is never changed; after evaluations only, only the ensembles they
touch are fed again; and a new evaluation naming an old run finds that run by its id without
building every run."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conductor_tui.core import history, history_build, history_scan
from conductor_tui.core.history import History, build_history
from conductor_tui.core.lifecycle import LifecycleTracker
from conductor_tui.core.store import ProjectStore

ENSEMBLES = ["extract-endpoints", "summarize-docs", " write-tests ", "fix-lint"]
SESSIONS = [None, "s1", "s2", ""]
CONFIG = "routing_thresholds:\n  calibration_period: 3\n  trusted_threshold_uses: 8\n"


class Writer:
    """Random routing and evaluation lines, appended to one project's logs."""

    def __init__(self, root: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.dir = root / ".llm-orc" / "evaluations"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "routing-config.yaml").write_text(CONFIG)
        self.routing = self.dir / "routing-log.jsonl"
        self.evaluations = self.dir / "evaluations.jsonl"
        self.routing.write_bytes(b"")
        self.evaluations.write_bytes(b"")
        self.ids: list[str] = []  # every local run's id, explicit or derived
        self.n = 0  # lines written
        self.e = 0  # evaluations written

    def _ts(self, i: int) -> str:
        return f"2026-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00" + self.rng.choice(
            ["Z", "+00:00", "+02:00", "", ".5Z"]
        )

    # long: one random routing line, kind by kind
    def routing_line(self) -> str:
        rng, i = self.rng, self.n
        self.n += 1
        ens = rng.choice(ENSEMBLES)
        kind = rng.random()
        if kind < 0.02:
            return '{"id": "broken", "routed_to": '  # corrupt
        if kind < 0.03:
            return rng.choice(["[1, 2]", "   ", ""])
        if kind < 0.06:
            return json.dumps(
                {"event": "lifecycle", "ensemble": ens, "to": "design", "ensemble_digest": f"d{i}"}
            )
        if kind < 0.2:
            rec: dict[str, Any] = {
                "id": f"rd-c{i}",
                "timestamp": self._ts(i),
                "task_type": rng.choice(["extraction", "review", None]),
                "routed_to": rng.choice(["claude", "Claude-opus", "a|b"]),
                "delegability_category": rng.choice(["agent-delegable", "ensemble-delegable", "claude-only"]),
                "session": rng.choice(SESSIONS),
            }
            if rng.random() < 0.3:
                rec["preparation_tokens_local"] = 100
            return json.dumps(rec)
        rec = {
            "timestamp": rng.choice([self._ts(i), self._ts(i), None, "ISO-8601"]),
            "task_type": rng.choice(["extraction", " review ", None]),
            "routed_to": ens,
            "status": rng.choice([None, "completed", "completed", "DONE", "failed", "cancelled", "success"]),
            "session": rng.choice(SESSIONS),
            "plan_id": rng.choice([None, "p1"]),
            "event": rng.choice([None, None, "routing-decision", "other"]),
        }
        if rng.random() < 0.5:
            rec["ensemble"] = ens
        if rng.random() < 0.95:  # some without: an id from the line's content
            rec["id"] = rng.choice([*[f"rd-{i}"] * 12, f"rd-{i // 2}", 12345 + i])  # dups, a number
        line = json.dumps(rec)
        if rec.get("event") != "other":
            rid = rec.get("id")
            self.ids.append(str(rid) if rid else history_scan.line_identity("rd-", line.encode()))
        return line

    def evaluation_line(self) -> str:
        rng, j = self.rng, self.e
        self.e += 1
        if rng.random() < 0.03:
            return "{not json"
        ev: dict[str, Any] = {
            "id": f"ev-{j}",
            "timestamp": f"2026-0{1 + j % 9}-{1 + j % 28:02d}T12:00:00Z",
            "ensemble": rng.choice([*ENSEMBLES, None, "never-ran"]),
            "score": rng.choice(["good", "good", "acceptable", "poor"]),
            "session": rng.choice(SESSIONS),
        }
        pick = rng.random()
        if pick < 0.55 and self.ids:  # often a run named again: the later verdict replaces the earlier
            ev["routing_id"] = rng.choice(self.ids[-40:] if rng.random() < 0.5 else self.ids)
        elif pick < 0.7:
            ev["invocation_number"] = rng.randint(1, 60)
        elif pick < 0.75:
            ev["routing_id"] = "rd-missing"
        return json.dumps(ev)  # else: linked by its timestamp only

    def append(self, routing: int, evaluations: int) -> None:
        if routing:
            with self.routing.open("a", encoding="utf-8") as fh:
                fh.write("".join(self.routing_line() + "\n" for _ in range(routing)))
        if evaluations:
            with self.evaluations.open("a", encoding="utf-8") as fh:
                fh.write("".join(self.evaluation_line() + "\n" for _ in range(evaluations)))


def _tracker(tr: LifecycleTracker | None) -> dict:
    assert tr is not None
    return {slot: getattr(tr, slot) for slot in LifecycleTracker.__slots__ if slot != "t"}


def facts(hist: History) -> dict:
    """Everything a history answers, without building runs."""
    ensembles = [
        (
            name,
            eh.completed,
            eh.failed,
            eh.cancelled,
            list(eh.task_types.items()),
            eh.last_used,
            list(eh.run_times),
            [(e.id, e.score) for e in eh.evaluations],
            eh.failed_at,
            eh.failed_digest,
            eh.phase(),
            _tracker(eh.tracker),
            [hist.fallback(name, s) for s in ("s1", "s2", "day:2026-01-01")],
            hist.unlinked_number(name),
            hist.next_invocation(name),
        )
        for name, eh in hist.ensembles.items()
    ]
    return {
        "ensembles": ensembles,  # order included
        "claude": list(hist.claude_by_type.items()),
        "claude_session": list(hist.claude_by_type_session.items()),
        "prepared": list(hist.prepared_by_type.items()),
        "evaluation_of": {k: v.id for k, v in hist.evaluation_of.items()},
        "skipped": (hist.skipped_routing, hist.skipped_evaluations),
        "for": {t: hist.ensembles_for(t) for t in ("extraction", "review", " review ")},
    }


def same_runs(hist: History, ref: History, *, by_id: bool = True, every: bool = True) -> None:
    """Every run of ``ref`` answered alike by ordinal, by id (``by_id``: an id without text
    builds every run), and all at once (``every``)."""
    for key, run in ref.by_invocation.items():
        assert hist.run_at(*key) == run
    for rid, run in ref.runs.items() if by_id else ():
        assert hist.run(rid) == run
    if every:
        assert hist.runs == ref.runs and list(hist.runs) == list(ref.runs)
        assert hist.by_invocation == ref.by_invocation


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the reads from the start that build_history makes."""
    history._MEMO.clear()
    count: list[int] = []
    real = history._read_history

    def counted(store: Any) -> History:
        count.append(1)
        return real(store)

    monkeypatch.setattr(history_build, "_read_history", counted)
    yield count
    history._MEMO.clear()


_REAL = history._read_history  # a read from the start, not counted


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("block", [2048, 1 << 20])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_continued_history_equals_a_read_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int], workers: str, block: int, seed: int
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    monkeypatch.setattr(history_scan, "_CHUNK", block)
    w = Writer(tmp_path, seed)
    w.append(400, 60)
    store = ProjectStore(tmp_path)
    hist = build_history(store)
    rng = random.Random(seed * 7)
    partial: list[bool] = []  # evaluations only appended: derived for the touched ensembles only?
    real_go_on = history_build.go_on

    def go_on(*args: Any) -> Any:
        got = real_go_on(*args)
        partial.append(got is not None)
        return got

    monkeypatch.setattr(history_build, "go_on", go_on)
    lazy = 0
    for step in range(20):
        w.append(rng.choice([0, 0, 1, 3, 40]), rng.choice([0, 1, 1, 2, 12]))
        before = facts(hist)
        new = build_history(store)
        assert facts(hist) == before  # the remembered one is only read
        ref = _REAL(store)
        assert facts(new) == facts(ref), step
        lazy += new._source is not None  # not every run built (the runs new evaluations name found by id)
        same_runs(new, ref, by_id=step % 3 == 2, every=step % 5 == 4)  # the next goes on from that
        hist = new
    assert reads == [1]  # only the first was read from the start
    assert lazy >= 5
    assert partial.count(True) >= 3, partial
    assert any(eh.evaluations for eh in hist.ensembles.values()) and hist.skipped_routing
    assert any(eh.failed_at for eh in hist.ensembles.values())  # the trackers were exercised


def _routing_with_runs(w: Writer, n: int) -> None:
    """``n`` completed runs with ids, one per line (so the runs are found by their text)."""
    with w.routing.open("a", encoding="utf-8") as fh:
        for i in range(n):
            ens = ENSEMBLES[i % 3]
            fh.write(
                json.dumps(
                    {
                        "id": f"rd-x{i}",
                        "timestamp": w._ts(i),
                        "routed_to": ens,
                        "ensemble": ens,
                        "task_type": "t",
                    }
                )
                + "\n"
            )
        fh.write(
            json.dumps({"id": "rd-x3", "routed_to": "claude", "delegability_category": "claude-only"}) + "\n"
        )
        fh.write(json.dumps({"routed_to": "fix-lint", "task_type": "t"}) + "\n")  # an id from its content


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_new_evaluation_of_an_old_run_finds_it_by_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int], workers: str
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", workers)
    monkeypatch.setattr(history_scan, "_CHUNK", 1024)
    w = Writer(tmp_path, 5)
    _routing_with_runs(w, 300)
    store = ProjectStore(tmp_path)
    build_history(store)
    with w.evaluations.open("a") as fh:  # rd-x3: the later line with that id is Claude's, not a run
        for k, rid in enumerate(["rd-x7", "rd-x250", "rd-x3", "rd-x7"]):
            fh.write(
                json.dumps({"id": f"ev-{k}", "routing_id": rid, "score": "good", "timestamp": w._ts(k)})
                + "\n"
            )
    hist = build_history(store)
    assert hist._source is not None  # found by their ids: not every run was built
    ref = _REAL(store)
    assert facts(hist) == facts(ref)
    assert hist.evaluation_of["rd-x250"].id == "ev-1" and hist.evaluation_of["rd-x7"].id == "ev-3"
    assert hist.run("rd-x250") == ref.runs["rd-x250"] and hist.run("rd-x250").invocation == 84  # type: ignore[union-attr]
    assert reads == [1]
    derived = history_scan.line_identity("rd-", b'{"routed_to": "fix-lint", "task_type": "t"}')
    with w.evaluations.open("a") as fh:  # an id without text: every run is built, as before
        fh.write(
            json.dumps({"id": "ev-9", "routing_id": derived, "score": "poor", "timestamp": w._ts(9)}) + "\n"
        )
    hist = build_history(store)
    assert hist._source is None
    assert facts(hist) == facts(_REAL(store)) and hist.evaluation_of[derived].id == "ev-9"


def test_find_run_and_ordinal_at_agree_with_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_scan, "_CHUNK", 1500)
    w = Writer(tmp_path, 11)
    w.append(600, 0)
    path = w.routing
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a BOM before the first line
    store = ProjectStore(tmp_path)
    hist = _REAL(store)
    text = path.read_bytes()
    found = 0
    for rid, run in hist.runs.items():
        hit = history_scan.find_run(path, rid, path.stat().st_size)
        if hit is None:  # only ids not spelled as a string: numbers, ids from a line's content
            assert f'"{rid}"'.encode() not in text
            continue
        fields, start = hit
        assert fields[1] == rid
        if run.invocation is not None:
            assert (
                history_scan.ordinal_at(path, hist.ensembles[run.ensemble].offsets, start) == run.invocation
            )
        found += 1
    assert found > 100


@pytest.mark.parametrize(
    "change",
    [
        "truncate routing",
        "rewrite prefix",
        "edit config",
        "truncate evaluations",
        "replace routing",
        "torn line",
    ],
)
def test_anything_but_an_append_reads_it_all_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int], change: str
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "2")
    w = Writer(tmp_path, 9)
    w.append(300, 50)
    store = ProjectStore(tmp_path)
    build_history(store)
    if change == "truncate routing":
        data = w.routing.read_bytes()
        w.routing.write_bytes(data[: data.rfind(b"\n", 0, len(data) // 2) + 1])
    elif change == "rewrite prefix":  # same length, other bytes
        data = w.routing.read_bytes()
        w.routing.write_bytes(data.replace(b'"fix-lint"', b'"fix-list"', 3))
        w.append(2, 0)
    elif change == "edit config":
        (w.dir / "routing-config.yaml").write_text(CONFIG.replace("3", "4", 1))
        w.append(1, 1)
    elif change == "truncate evaluations":
        lines = w.evaluations.read_bytes().splitlines(keepends=True)
        w.evaluations.write_bytes(b"".join(lines[:-5]))
    elif change == "replace routing":  # another file, as long, ending otherwise
        data = w.routing.read_bytes()
        w.routing.unlink()
        w.routing.write_bytes(data[: data.rfind(b"\n", 0, len(data) - 1) + 1] + b"\n" * 5000)
    else:  # the log's last line written without its newline, then more appended to it
        with w.routing.open("a") as fh:
            fh.write('{"id": "rd-torn", "routed_to": "fix-lint"')
        build_history(store)
        with w.routing.open("a") as fh:
            fh.write(', "status": "completed"}\n')
    hist = build_history(store)
    assert len(reads) == 2
    ref = _REAL(store)
    assert facts(hist) == facts(ref)
    same_runs(hist, ref, every=True)


def test_evaluations_written_for_the_first_time_are_read_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int]
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    w = Writer(tmp_path, 4)
    w.evaluations.unlink()
    w.append(200, 0)
    store = ProjectStore(tmp_path)
    first = build_history(store)
    assert not first.evaluation_of
    w.append(3, 0)
    assert facts(build_history(store)) == facts(_REAL(store))
    w.append(0, 20)  # the file is created
    hist = build_history(store)
    assert reads == [1]
    assert facts(hist) == facts(_REAL(store)) and hist.evaluation_of


@pytest.fixture
def adds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scores fed to any lifecycle tracker (each effective evaluation fed once)."""
    count: list[int] = []
    real = LifecycleTracker.add

    def counted(self: LifecycleTracker, *args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LifecycleTracker, "add", counted)
    return count


def _evaluate(w: Writer, *records: dict[str, Any]) -> None:
    with w.evaluations.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps({"score": "good", "timestamp": w._ts(w.e), **rec}) + "\n")
            w.e += 1


# long: one project walked through each kind of append, checking what was fed again after each
def test_only_the_ensembles_appended_evaluations_touch_are_fed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[int], adds: list[int]
) -> None:
    monkeypatch.setenv("CONDUCTOR_TUI_WORKERS", "1")
    w = Writer(tmp_path, 6)
    _routing_with_runs(w, 300)  # rd-x<i>: a run of extract-endpoints, summarize-docs, write-tests by i % 3
    runs = {0: "extract-endpoints", 1: "summarize-docs", 2: "write-tests"}
    _evaluate(
        w,
        *(
            {
                "id": f"ev-{i}",
                "routing_id": f"rd-x{i}",
                "ensemble": runs[i % 3],
                "score": ["good", "poor"][i % 7 == 0],
            }
            for i in range(90)
        ),
        {"id": "ev-alone", "ensemble": "never-ran"},  # no run: keyed by itself
    )
    store = ProjectStore(tmp_path)
    old = build_history(store)
    ens = old.ensembles
    fed_now: list[int] = []

    def step(*records: dict[str, Any]) -> History:
        nonlocal old
        before = facts(old)
        adds.clear()
        _evaluate(w, *records)
        new = build_history(store)
        fed_now[:] = adds  # the continuation's, not the reference read's
        assert facts(old) == before  # nothing shared was changed
        assert facts(new) == facts(_REAL(store))
        old = new
        return new

    def fed(hist: History, *names: str) -> int:
        return sum(len(hist.ensembles[n].evaluations) for n in names)

    # a verdict on a run no evaluation named yet: one score fed, on a copy of its ensemble's tracker
    new = step({"id": "ev-a", "routing_id": "rd-x150", "ensemble": "extract-endpoints"})
    assert len(fed_now) == 1
    assert new.ensembles["extract-endpoints"].tracker is not ens["extract-endpoints"].tracker
    for name in ("summarize-docs", "write-tests", "fix-lint", "never-ran"):
        assert new.ensembles[name].tracker is ens[name].tracker  # carried over
    assert new.ensembles["extract-endpoints"].evaluations[-1].id == "ev-a"
    # a later verdict on an evaluated run, in another ensemble's name: it leaves the first
    # (extract-endpoints, rd-x3) and takes its place in the second: both fed again, no other
    prev = new
    new = step({"id": "ev-b", "routing_id": "rd-x3", "ensemble": "summarize-docs", "score": "poor"})
    assert len(fed_now) == fed(new, "extract-endpoints", "summarize-docs")
    assert [e.id for e in new.ensembles["summarize-docs"].evaluations][:3] == ["ev-1", "ev-b", "ev-4"]
    assert new.evaluation_of["rd-x3"].id == "ev-b"
    for name in ("write-tests", "fix-lint", "never-ran"):
        assert new.ensembles[name].tracker is prev.ensembles[name].tracker
    # linked by invocation number (write-tests' 5th run, rd-x14, evaluated as ev-14): replaced
    new = step({"id": "ev-c", "ensemble": "write-tests", "invocation_number": 5})
    assert new.evaluation_of["rd-x14"].id == "ev-c" and len(fed_now) == fed(new, "write-tests")
    # two new runs' verdicts and an ensemble no run names: one score each
    new = step(
        {"id": "ev-d", "routing_id": "rd-x200", "ensemble": "summarize-docs"},
        {"id": "ev-e", "routing_id": "rd-x201", "ensemble": "write-tests"},
        {"id": "ev-f", "ensemble": "also-never-ran"},
    )
    assert len(fed_now) == 3 and list(new.ensembles)[-2:] == ["never-ran", "also-never-ran"]
    # the same run twice in one append: the later verdict only
    new = step(
        {"id": "ev-g", "routing_id": "rd-x210", "ensemble": "summarize-docs", "score": "poor"},
        {"id": "ev-h", "routing_id": "rd-x210", "ensemble": "write-tests"},
    )
    assert len(fed_now) == 1 and new.evaluation_of["rd-x210"].id == "ev-h"
    # a verdict of an ensemble no run names replaced (same id): everything fed again
    new = step({"id": "ev-alone", "ensemble": "fix-lint", "score": "poor"})
    total = sum(len(eh.evaluations) for eh in new.ensembles.values())
    assert len(fed_now) == total and "never-ran" not in new.ensembles  # its only verdict left it
    # routing lines appended: every evaluation is fed again (a new run can change a link)
    with w.routing.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "rd-y", "routed_to": "fix-lint", "ensemble": "fix-lint"}) + "\n")
    new = step({"id": "ev-i", "routing_id": "rd-y", "ensemble": "fix-lint"})
    assert len(fed_now) == sum(len(eh.evaluations) for eh in new.ensembles.values())
    assert reads == [1]
