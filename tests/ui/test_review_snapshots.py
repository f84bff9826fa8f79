"""SVG snapshots of the Evaluate, Lifecycle, Models and Savings screens in their main
states (120×36, fixed clock, no polling, fake GPU, demo data or small fixtures).

Regenerate with ``pytest tests/ui/test_review_snapshots.py --snapshot-update`` and look
at the SVGs before committing them."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.fakes.gpu import RTX_3060_LAPTOP, RTX_4090, FakeGpuProbe
from tests.fakes.ollama_server import FakeModel, FakeOllama
from tests.ui.review_support import SIZE, demo_app, empty_app, settle, type_text, write_jsonl


def _select(screen, table_id: str, predicate) -> None:
    table = screen.query_one(table_id, DataTable)
    items = getattr(screen, "items", None) or getattr(screen, "rows", [])
    table.move_cursor(row=next(i for i, it in enumerate(items) if predicate(it)))


# ----------------------------------------------------------------------------- Evaluate


def test_evaluate_populated(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "evaluate")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_evaluate_empty(snap_compare, tmp_path: Path) -> None:
    app, _ = empty_app(tmp_path, "evaluate")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_evaluate_judge_result_shown(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "evaluate")

    async def run_before(pilot) -> None:
        await settle(pilot)
        _select(pilot.app.screen, "#ev-queue", lambda it: it.judge is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_evaluate_poor_with_failure_mode(snap_compare, tmp_path: Path) -> None:
    """A poor calibration score recorded: the failure mode and the fallback to Claude."""
    app, _ = demo_app(tmp_path, "evaluate")

    async def run_before(pilot) -> None:
        await settle(pilot)
        _select(pilot.app.screen, "#ev-queue", lambda it: it.ensemble == "fix-lint-violations")
        await settle(pilot)
        await pilot.click("#ev-reflect")
        await type_text(pilot, "Removed the import but left the long line")
        await pilot.click("#ev-score-poor")
        await pilot.click("#ev-fail-incomplete")
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# ----------------------------------------------------------------------------- Lifecycle


def test_lifecycle_populated_promotion_ready(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "lifecycle")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_lifecycle_empty(snap_compare, tmp_path: Path) -> None:
    app, _ = empty_app(tmp_path, "lifecycle")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_lifecycle_design_rejected(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "lifecycle")

    async def run_before(pilot) -> None:
        await settle(pilot)
        _select(pilot.app.screen, "#lc-table", lambda r: r.design_rejected)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_lifecycle_promotion_confirmation(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/user/.config")  # a stable path in the dialog
    app, _ = demo_app(tmp_path, "lifecycle")

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# ----------------------------------------------------------------------------- Models


@pytest.fixture
def fixed_ollama():
    """A fake Ollama on a fixed port (the host is on screen) with one model loaded for good."""
    server = FakeOllama(
        [
            FakeModel("qwen2.5-coder:7b", parameter_size="7.6B", size=4_700_000_000, size_vram=3_900_000_000),
            FakeModel("llama3.2:3b", parameter_size="3.2B", size=2_000_000_000),
            FakeModel("qwen3:0.6b", parameter_size="751M", size=520_000_000),
        ],
        port=47311,
    ).start()
    server.preload("qwen2.5-coder:7b", keep_alive=-1)
    try:
        yield server
    finally:
        server.stop()


def test_models_gpu_present_ollama_up(snap_compare, tmp_path: Path, fixed_ollama) -> None:
    gpu = FakeGpuProbe(frames=[[RTX_4090], [RTX_4090]])
    app, _ = demo_app(tmp_path, "models", gpu=gpu, host="http://127.0.0.1:47311")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_models_no_gpu_ollama_down(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "models", gpu=FakeGpuProbe.none())
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_models_two_gpus(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "models", gpu=FakeGpuProbe([RTX_4090, RTX_3060_LAPTOP]))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


# ----------------------------------------------------------------------------- Savings


def test_savings_populated(snap_compare, tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path, "savings")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_savings_empty(snap_compare, tmp_path: Path) -> None:
    app, _ = empty_app(tmp_path, "savings")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_savings_corrupt_lines_counted(snap_compare, tmp_path: Path) -> None:
    app, project = demo_app(tmp_path, "savings")
    log = project / ".llm-orc/evaluations/routing-log.jsonl"
    with log.open("a") as fh:
        fh.write('{"timestamp": "2026-11-20T17:00:00Z", "task_type": "extr\n')
        fh.write("not json at all\n")
    write_jsonl(log, [{"timestamp": "2026-11-20T17:05:00Z", "task_type": "summarization", "routed_to": "write-changelog",
                       "delegability_category": "agent-delegable", "total_tokens_local": 1300}])  # fmt: skip

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.animation_level = "none"  # the tab underline would otherwise be mid-slide
        await pilot.click("#sv-tables Tab#--content-tab-sv-tab-ens")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
