"""The bundled demo project is realistic and readable by the store, rules and review."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

from conductor_tui.core.aggregate import Aggregator
from conductor_tui.core.records import Phase
from conductor_tui.core.review import evaluation_queue, lifecycle_rows, load_review, read_artifact
from conductor_tui.core.store import ProjectStore
from conductor_tui.demo import copy_sample_project, sample_project_path


def test_sample_reads_cleanly(tmp_path: Path) -> None:
    project = copy_sample_project(tmp_path)
    store = ProjectStore(project)
    for result in (store.read_routing(0), store.read_evaluations(0), store.read_plans(0)):
        assert result.skipped == []
    assert store.load_config().version == 3
    assert store.config_versions() == [1, 2, 3]
    assert "extraction" in store.load_task_profiles().profiles


def test_plan_is_seed_000_decomposition(tmp_path: Path) -> None:
    store = ProjectStore(copy_sample_project(tmp_path))
    history = store.plan_history("plan-promotion-handler")
    assert [p.revision for p in history] == [1, 2, 3, 4, 5]
    final = history[-1]
    assert len(final.subtasks) == 33
    borderline = sum(1 for r in final.subtasks if r.extras.get("borderline"))
    cats = Counter(str(r.delegability_category) for r in final.subtasks)
    claude_only = cats["claude-only"]
    strongly = len(final.subtasks) - claude_only - borderline
    assert (strongly, borderline, claude_only) == (17, 4, 12)  # 52% / 12% / 36%
    assert all(r.status == "done" and r.routing_id for r in final.subtasks)


def test_review_state_has_every_screen_state(tmp_path: Path) -> None:
    project = copy_sample_project(tmp_path)
    state = load_review(ProjectStore(project))
    queue = evaluation_queue(state)
    reasons = {q.ensemble: q for q in queue}
    assert reasons["fix-lint-violations"].phase == "calibrate"
    assert reasons["extract-code-patterns"].phase == "establish"  # a sampled run
    assert reasons["write-commit-message"].judge is not None  # judge scored, not reviewed
    for item in queue:
        _inp, out = read_artifact(project, item.run)
        assert not out.startswith("("), out
    rows = {r.ensemble or r.task_type: r for r in lifecycle_rows(state)}
    # 5 good but only 12 uses: Establish — promotion waits for Trust (the spec's gate)
    extract = rows["extract-code-patterns"].status
    assert extract.phase is Phase.ESTABLISH and extract.promotion.good >= 3
    assert not extract.promotion.global_ready and "reach Trust" in extract.promotion.next_step
    assert rows["triage-issue-labels"].status.phase is Phase.DESIGN  # failed calibration
    assert rows["dependency-resolution"].design_rejected
    assert rows["generate-test-cases"].status.counts.poor == 1


def test_savings_numbers(tmp_path: Path) -> None:
    agg = Aggregator()
    agg.feed_store(ProjectStore(copy_sample_project(tmp_path)))
    snap = agg.snapshot()
    assert snap.skipped_lines == 0
    assert snap.local_decisions == 27 and snap.routing_decisions == 48
    assert snap.total_tokens_local > 40_000
    assert len(snap.by_day) == 4


def test_sample_ships_inside_the_package() -> None:
    root = sample_project_path()
    assert root.is_relative_to(Path(__file__).resolve().parents[2] / "conductor_tui")
    assert (root / ".llm-orc/evaluations/routing-log.jsonl").is_file()
    assert len(list((root / ".llm-orc/artifacts").rglob("execution.json"))) == 6


def _generator() -> ModuleType:
    """``tools/build_sample.py`` (outside the package), imported by its path."""
    path = Path(__file__).resolve().parents[2] / "tools" / "build_sample.py"
    spec = importlib.util.spec_from_file_location("build_sample", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_sample_matches_its_generator(tmp_path: Path) -> None:
    """The shipped files are exactly what ``tools/build_sample.py`` writes (deterministic)."""
    counts = _generator().build(tmp_path / "gen")
    assert counts == {"routing": 50, "evaluations": 20, "artifacts": 6}
    shipped = sample_project_path()
    generated = tmp_path / "gen"
    files = sorted(
        p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert files == sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    for rel in files:
        assert (shipped / rel).read_bytes() == (generated / rel).read_bytes(), rel


def test_workflow_wrapup_of_the_promotion_handler_session(tmp_path: Path) -> None:
    from conductor_tui.core.review import workflow_wrapup

    wrap = workflow_wrapup(ProjectStore(copy_sample_project(tmp_path)), uses={"extract-code-patterns": 12})
    assert wrap is not None
    lines = wrap.lines()
    assert lines[0] == "Workflow complete. 16/33 subtasks handled locally."
    assert lines[1] == "Local: 33,530 tokens | Claude savings: ~27,940 tokens"
    assert lines[-1] == "Interim Claude debt: 5 delegable tasks handled by Claude"
    progression = {p.task_type: p for p in wrap.progression}
    assert progression["extraction"].after is Phase.ESTABLISH
    assert (progression["template-fill"].before, progression["template-fill"].after) == (
        Phase.DESIGN,
        Phase.CALIBRATE,
    )
    assert "poor → Claude" in progression["boilerplate-generation"].line()
    assert progression["cross-file-analysis"].ensemble is None


def test_workflow_wrapup_without_a_plan(tmp_path: Path) -> None:
    from conductor_tui.core.review import workflow_wrapup

    (tmp_path / ".llm-orc").mkdir()
    assert workflow_wrapup(ProjectStore(tmp_path)) is None


def test_lora_candidate_after_consistent_poor_scores(tmp_path: Path) -> None:
    project = copy_sample_project(tmp_path)
    store = ProjectStore(project)
    rows = {r.ensemble: r for r in lifecycle_rows(load_review(store))}
    assert not rows["triage-issue-labels"].lora.flag  # 2 poor, two different modes
    from conductor_tui.core.records import Evaluation

    for n in (4, 5):
        store.append_evaluation(
            Evaluation(ensemble="generate-test-cases", routing_id=f"rt-x{n}", invocation_number=n, phase="calibrate",
                       score="poor", failure_mode="incomplete", reasoning="cases missing")
        )  # fmt: skip
    lora = {r.ensemble: r for r in lifecycle_rows(load_review(store))}["generate-test-cases"].lora
    assert lora.flag and lora.poor == 3 and lora.dominant_failure_mode == "incomplete"
