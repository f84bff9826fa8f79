"""ProjectStore: safe appends, tolerant reads, versioned YAML (DESIGN.md §3, §8)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from conductor_tui.core.records import (
    Evaluation,
    PlanRow,
    RoutingConfig,
    RoutingDecision,
    Score,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
    WorkflowPlan,
)
from conductor_tui.core.store import (
    ProjectStore,
    StoreError,
    append_jsonl,
    atomic_write_text,
    read_jsonl,
)


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    (tmp_path / ".llm-orc").mkdir()
    return ProjectStore(tmp_path)


# --------------------------------------------------------------------------- layout


def test_paths_and_global_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = ProjectStore(tmp_path)
    assert s.root == tmp_path / ".llm-orc" / "evaluations"
    assert s.routing_log_path.name == "routing-log.jsonl"
    assert s.evaluations_path.name == "evaluations.jsonl"
    assert s.plans_path.name == "workflow-plans.jsonl"
    assert s.config_path.name == "routing-config.yaml"
    assert s.profiles_path.name == "task-profiles.yaml"
    assert s.project == tmp_path
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    g = ProjectStore(None)
    assert g.root == tmp_path / "xdg" / "llm-orc" / "evaluations"
    assert g.project is None
    assert ProjectStore(tmp_path, global_tier=True).root == g.root


def test_nothing_created_until_first_write(store: ProjectStore) -> None:
    assert not store.exists()
    assert store.read_routing().records == []
    assert store.load_config() == RoutingConfig()
    assert not store.root.exists()
    store.append_routing(RoutingDecision(task_type="extraction", routed_to="claude"))
    assert store.root.is_dir()
    assert store.exists()


# --------------------------------------------------------------------------- appends


def test_append_assigns_id_and_writes_one_line(store: ProjectStore) -> None:
    d = store.append_routing(RoutingDecision(task_type="summarization", task_summary="Résumé — 検証"))
    assert d.id and d.id.startswith("rd-")
    e = store.append_evaluation(Evaluation(ensemble="x", score="good", routing_id=d.id))
    assert e.id and e.id.startswith("ev-")
    raw = store.routing_log_path.read_bytes()
    assert raw.count(b"\n") == 1 and raw.endswith(b"\n")
    assert "Résumé — 検証".encode() in raw  # ensure_ascii=False
    back = store.read_routing().records
    assert back[0].id == d.id and back[0].task_summary == "Résumé — 検証"
    kept = RoutingDecision(id="mine", task_type="x")
    assert store.append_routing(kept).id == "mine"


def test_append_after_hand_written_line_without_newline(store: ProjectStore) -> None:
    store.root.mkdir(parents=True)
    store.routing_log_path.write_text('{"task_type": "extraction", "routed_to": "claude"}')
    store.append_routing(RoutingDecision(task_type="summarization", routed_to="write-changelog"))
    res = store.read_routing()
    assert [r.task_type for r in res.records] == ["extraction", "summarization"]
    assert res.skipped == []


def _append_worker(path: str, worker: int, n: int) -> None:
    for i in range(n):
        append_jsonl(path, {"worker": worker, "i": i, "pad": "x" * (50 + (i * 37) % 700), "txt": "é→✓"})


def test_four_processes_append_10000_intact_lines(tmp_path: Path) -> None:
    path = tmp_path / "evaluations" / "routing-log.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_worker, args=(str(path), w, 2500)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == 10_000
    seen = {(o["worker"], o["i"]) for o in map(json.loads, lines)}
    assert len(seen) == 10_000
    # and each worker's lines are in its own order
    per_worker: dict[int, list[int]] = {}
    for o in map(json.loads, lines):
        per_worker.setdefault(o["worker"], []).append(o["i"])
    assert all(v == list(range(2500)) for v in per_worker.values())


# --------------------------------------------------------------------------- tolerant reads


def test_tolerant_read_counts_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "routing-log.jsonl"
    content = (
        b"\xef\xbb\xbf"  # BOM
        + b'{"task_type": "extraction", "routed_to": "extract-endpoints"}\r\n'  # 1 CRLF
        + b"\n"  # 2 blank
        + b"   \r\n"  # 3 blank (whitespace)
        + b"this is not json\n"  # 4 corrupt
        + '{"task_type": "summarization", "task_summary": "Zusammenfassung — 要約 ✓"}\n'.encode()  # 5
        + b"[1, 2, 3]\n"  # 6 not an object
        + b'{"task_type": "x", "total_tokens_local": "many"}\n'  # 7 invalid field
        + b"\xff\xfe garbage\n"  # 8 not UTF-8
        + b'{"task_type": "classification", "phase": "Calibration", "extra_field": [1]}\n'  # 9
        + b'{"task_type": "trunc'  # 10 truncated last line
    )
    path.write_bytes(content)
    res = read_jsonl(path, RoutingDecision)
    assert [r.task_type for r in res.records] == ["extraction", "summarization", "classification"]
    assert res.skipped == [4, 6, 7, 8]
    assert [ln for ln, _ in res.errors] == [4, 6, 7, 8]
    assert "not JSON" in res.errors[0][1]
    assert res.records[1].task_summary == "Zusammenfassung — 要約 ✓"
    assert res.records[2].extras["extra_field"] == [1]  # unknown fields kept
    # the truncated last line is not consumed ...
    assert res.end_offset == len(content) - len(b'{"task_type": "trunc')
    assert res.next_line == 10
    # ... and is picked up once its writer completes it
    with open(path, "ab") as fh:
        fh.write(b'ated"}\n{"task_type": "next"}\n')
    more = read_jsonl(path, RoutingDecision, res.end_offset, first_line=res.next_line)
    assert [r.task_type for r in more.records] == ["truncated", "next"]
    assert more.skipped == []
    assert more.end_offset == path.stat().st_size
    assert read_jsonl(path, RoutingDecision, more.end_offset).records == []


def test_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "evaluations.jsonl"
    path.write_text('{"ensemble": "a", "score": "Good"}\n{"ensemble": "b", "score": "poor"}')
    res = read_jsonl(path, Evaluation)
    assert [e.score for e in res.records] == [Score.GOOD, Score.POOR]
    assert res.end_offset == path.stat().st_size


def test_unreadable_log_raises_store_error_naming_file(store: ProjectStore) -> None:
    store.routing_log_path.mkdir(parents=True)  # a directory where the log should be
    with pytest.raises(StoreError) as err:
        store.read_routing()
    assert err.value.path == store.routing_log_path
    assert str(store.routing_log_path) in str(err.value)


# --------------------------------------------------------------------------- plans


def test_plans_latest_and_history(store: ProjectStore) -> None:
    p1 = WorkflowPlan(id="plan-a", meta_task="Build handler", subtasks=[PlanRow(description="extract")])
    store.append_plan(p1)
    store.append_plan(WorkflowPlan(id="plan-b", meta_task="Other"))
    p2 = p1.model_copy(update={"revision": 2, "status": "decided", "change": "row 1 approved"})
    store.append_plan(p2)
    latest = store.latest_plans()
    assert set(latest) == {"plan-a", "plan-b"}
    assert latest["plan-a"].revision == 2 and latest["plan-a"].status == "decided"
    hist = store.plan_history("plan-a")
    assert [p.revision for p in hist] == [1, 2]
    assert hist[0].subtasks[0].description == "extract"
    assert store.plan_history("nope") == []


# --------------------------------------------------------------------------- routing config


def test_config_missing_comment_only_and_malformed(store: ProjectStore) -> None:
    assert store.load_config().routing_thresholds.calibration_period == 5
    store.root.mkdir(parents=True)
    store.config_path.write_text("# just a comment\n# another\n")
    assert store.load_config() == RoutingConfig()
    store.config_path.write_text("version: 3\nrouting_thresholds:\n  calibration_period: [5\n  x: 1\n")
    with pytest.raises(StoreError) as err:
        store.load_config()
    assert err.value.path == store.config_path
    assert err.value.line is not None and err.value.line >= 3
    assert f"{store.config_path}:{err.value.line}" in str(err.value)
    store.config_path.write_text("- a\n- b\n")
    with pytest.raises(StoreError, match="mapping"):
        store.load_config()


def test_save_config_versions_backups_and_logs(store: ProjectStore) -> None:
    cfg = store.grant_authorization("extraction", "extract-endpoints", reason="user granted")
    # no file before: the implied defaults were kept as v1, the change is v2
    assert cfg.version == 2
    assert store.config_versions() == [1, 2]
    assert yaml.safe_load(store.version_path(1).read_text())["standing_authorizations"] == []
    cfg3 = store.update_thresholds("sample more", sampling_rate_established=0.2)
    assert cfg3.version == 3
    assert store.version_path(2).exists()
    on_disk = yaml.safe_load(store.config_path.read_text())
    assert on_disk["version"] == 3
    assert on_disk["routing_thresholds"]["sampling_rate_established"] == 0.2
    # conductor-tui's extension thresholds are not written unless set
    assert "promotion_global_good" not in on_disk["routing_thresholds"]
    assert on_disk["standing_authorizations"][0]["ensemble"] == "extract-endpoints"
    events = [r for r in store.read_routing().records if not r.is_decision]
    assert [(e.event, e.reason) for e in events] == [
        ("config-change", "user granted"),
        ("config-change", "sample more"),
    ]
    assert events[1].config_version == 3 and events[1].previous_version == 2
    # granting twice is not a change
    assert store.grant_authorization("extraction", "extract-endpoints").version == 3
    assert store.config_versions() == [1, 2, 3]


def test_rollback_is_a_new_version(store: ProjectStore) -> None:
    store.update_thresholds("tune", repetition_threshold=4)  # v2
    store.update_thresholds("tune more", repetition_threshold=6)  # v3
    rolled = store.rollback_config(2, reason="quality dropped")
    assert rolled.version == 4
    assert rolled.routing_thresholds.repetition_threshold == 4
    assert store.load_config().routing_thresholds.repetition_threshold == 4
    assert store.load_config_version(3).routing_thresholds.repetition_threshold == 6
    assert store.config_versions() == [1, 2, 3, 4]
    last = store.read_routing().records[-1]
    assert last.event == "rollback" and last.reason == "quality dropped"
    assert last.rolled_back_to == 2 and not last.extras
    # default target: the previous version
    again = store.rollback_config(reason="undo")
    assert again.version == 5 and again.routing_thresholds.repetition_threshold == 6
    with pytest.raises(StoreError):
        store.load_config_version(42)


def test_revoke_and_threshold_validation(store: ProjectStore) -> None:
    store.grant_authorization("extraction", "extract-endpoints")
    store.grant_authorization("summarization", "write-changelog")
    cfg = store.revoke_authorization("extraction", "extract-endpoints", reason="quality dropped")
    assert [(a.task_type, a.ensemble) for a in cfg.standing_authorizations] == [
        ("summarization", "write-changelog")
    ]
    assert store.revoke_authorization("nothing", "here").version == cfg.version
    with pytest.raises(ValueError, match="unknown routing threshold"):
        store.update_thresholds("typo", calibraton_period=3)
    with pytest.raises(ValueError):
        store.update_thresholds("bad", calibration_period="many")
    assert store.load_config().version == cfg.version


def test_unknown_yaml_keys_survive_rewrite(store: ProjectStore) -> None:
    store.root.mkdir(parents=True)
    store.config_path.write_text(
        textwrap.dedent(
            """\
            version: 7
            starter_kit_offered: true
            my_team_note: keep me
            standing_authorizations:
              - task_type: extraction
                ensemble: extract-endpoints
                granted_date: "2025-06-01"
                granted_by: alice
            routing_thresholds:
              calibration_period: 5
              sampling_rate_established: 0.15
              trusted_threshold_uses: 20
              trusted_threshold_good_ratio: 0.8
              repetition_threshold: 3
              custom_knob: 11
            """
        )
    )
    cfg = store.update_thresholds("raise floor", repetition_threshold=4)
    assert cfg.version == 8
    data = yaml.safe_load(store.config_path.read_text())
    assert data["my_team_note"] == "keep me"
    assert data["routing_thresholds"]["custom_knob"] == 11
    assert data["routing_thresholds"]["repetition_threshold"] == 4
    assert data["standing_authorizations"][0]["granted_by"] == "alice"
    assert store.version_path(7).read_text().startswith("version: 7")


def test_hand_edited_config_without_version_bump_keeps_both(store: ProjectStore) -> None:
    store.update_thresholds("first", repetition_threshold=4)  # v2, v1 backup
    store.version_path(2).write_text("version: 2\nnote: old backup\n")  # pretend a backup exists
    store.update_thresholds("second", repetition_threshold=5)
    edited = list(store.root.glob("routing-config.v2.edited-*.yaml"))
    assert len(edited) == 1
    assert "repetition_threshold: 4" in edited[0].read_text()
    assert "old backup" in store.version_path(2).read_text()


_KILL_CHILD = textwrap.dedent(
    """
    import sys
    from conductor_tui.core.records import RoutingConfig, StandingAuthorization
    from conductor_tui.core.store import ProjectStore
    s = ProjectStore(sys.argv[1])
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        auths = [StandingAuthorization(task_type=f"type-{i}", ensemble=f"ens-{n}-{i}") for i in range(300)]
        blob = f"{n}:" + "x" * 2_000_000  # a large file: the write itself takes a while
        s.save_config(RoutingConfig(standing_authorizations=auths, blob=blob), reason=f"write {n}")
    """
)


def test_sigkill_during_config_writes_never_leaves_a_torn_file(tmp_path: Path) -> None:
    (tmp_path / ".llm-orc").mkdir()
    store = ProjectStore(tmp_path)
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    kills = 0
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", _KILL_CHILD, str(tmp_path)], stdout=subprocess.PIPE, env=env
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        # wait until at least one write landed, then kill at a random moment
        deadline = time.monotonic() + 20
        while not store.config_path.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        kills += 1
        cfg = store.load_config()  # parses: never torn
        auths = cfg.standing_authorizations
        assert len(auths) == 300
        tag = auths[0].ensemble.split("-")[1]
        assert all(a.ensemble.split("-")[1] == tag for a in auths)  # all from one write
        blob = cfg.extras["blob"]
        assert blob == f"{tag}:" + "x" * 2_000_000
        for v in store.config_versions():
            store.load_config_version(v)  # every backup parses too
        assert store.read_routing().skipped == []
    assert kills == 6


def test_atomic_write_text_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.yaml"
    atomic_write_text(target, "a: 1\n")
    assert target.read_text() == "a: 1\n"
    os.chmod(target, 0o600)
    atomic_write_text(target, "a: 2\n")
    assert target.read_text() == "a: 2\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["f.yaml"]


# --------------------------------------------------------------------------- task profiles


def test_task_profiles_round_trip(store: ProjectStore) -> None:
    assert store.load_task_profiles().profiles == {}
    store.root.mkdir(parents=True)
    store.profiles_path.write_text("# nothing yet\n")
    assert store.load_task_profiles().profiles == {}
    profiles = TaskProfiles(
        profiles={
            "extraction": TaskProfile(phase="Calibration", ensemble="extract-endpoints", good_count=2),
            "cross-file-analysis": TaskProfile(phase="design", interim_claude_count=2, note="hand"),
        }
    )
    store.save_task_profiles(profiles)
    back = store.load_task_profiles()
    assert back.profiles["extraction"].phase == "calibrate"
    assert back.profiles["cross-file-analysis"].interim_claude_count == 2
    assert back.profiles["cross-file-analysis"].extras["note"] == "hand"
    store.profiles_path.write_text("extraction: {phase: [\n")
    with pytest.raises(StoreError) as err:
        store.load_task_profiles()
    assert err.value.line == 1 or err.value.line == 2


def test_standing_authorization_lookup() -> None:
    cfg = RoutingConfig(
        standing_authorizations=[StandingAuthorization(task_type="extraction", ensemble="extract-endpoints")]
    )
    assert cfg.authorization_for("extraction") is not None
    assert cfg.authorization_for("extraction", "other") is None


def test_line_numbers_stay_right_after_a_consumed_unterminated_line(store: ProjectStore) -> None:
    store.root.mkdir(parents=True)
    store.routing_log_path.write_text('{"task_type": "a"}\n{"task_type": "b"}')  # hand-written, no final \n
    first = store.read_routing()
    assert [r.task_type for r in first.records] == ["a", "b"] and first.next_line == 3
    store.append_routing(RoutingDecision(task_type="c"))  # our writer adds the missing newline first
    with open(store.routing_log_path, "a", encoding="utf-8") as fh:
        fh.write("garbage\n")
    more = store.read_routing(first.end_offset, first_line=first.next_line)
    assert [r.task_type for r in more.records] == ["c"]
    assert more.skipped == [4]  # line 3 is "c", line 4 the garbage
    assert store.read_routing().skipped == [4]


def test_saving_over_a_malformed_config_keeps_its_bytes(store: ProjectStore) -> None:
    store.update_thresholds("first", repetition_threshold=4)  # v1 (defaults) + v2
    store.config_path.write_text("routing_thresholds: [oops\n")
    with pytest.raises(StoreError):
        store.load_config()
    cfg = store.save_config(RoutingConfig(), reason="repair")
    assert cfg.version == 3
    kept = list(store.root.glob("routing-config.unreadable-*.yaml"))
    assert len(kept) == 1 and kept[0].read_text() == "routing_thresholds: [oops\n"
    assert store.load_config().version == 3


def _grant_worker(project: str, worker: int, n: int) -> None:
    s = ProjectStore(project)
    for i in range(n):
        s.grant_authorization(f"type-{worker}-{i}", f"ens-{worker}", reason=f"w{worker} #{i}")


def test_concurrent_grants_lose_no_update(store: ProjectStore) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_grant_worker, args=(str(store.project), w, 5)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cfg = store.load_config()
    assert len(cfg.standing_authorizations) == 20
    assert cfg.version == 21  # v1 = the implied defaults, then one version per grant
    assert store.config_versions() == list(range(1, 22))
    changes = [r for r in store.read_routing().records if r.event == "config-change"]
    assert sorted(r.config_version for r in changes) == list(range(2, 22))


def test_helpers_refuse_to_modify_an_unreadable_config(store: ProjectStore) -> None:
    store.root.mkdir(parents=True)
    store.config_path.write_text("standing_authorizations: [oops\n")
    with pytest.raises(StoreError):
        store.grant_authorization("extraction", "x")
    assert store.config_path.read_text() == "standing_authorizations: [oops\n"
    assert not store.routing_log_path.exists()


def _profile_worker(project: str, n: int) -> None:
    s = ProjectStore(project)

    def bump(p: TaskProfiles) -> TaskProfiles:
        prof = p.profiles.setdefault("extraction", TaskProfile())
        prof.interim_claude_count += 1
        return p

    for _ in range(n):
        s.update_task_profiles(bump)


def test_update_task_profiles_under_lock(store: ProjectStore) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_profile_worker, args=(str(store.project), 10)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert store.load_task_profiles().profiles["extraction"].interim_claude_count == 30
    assert store.update_task_profiles(lambda p: None).profiles["extraction"].interim_claude_count == 30
