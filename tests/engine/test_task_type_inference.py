"""A run logged without an explicit task type gets the one the project already uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from conductor_tui.core.records import Delegability, TaskProfile, TaskProfiles
from conductor_tui.core.spec import EnsembleSpec
from conductor_tui.core.store import ProjectStore
from conductor_tui.engine.artifacts import infer_task_type


def _spec(name: str, raw: dict | None = None) -> EnsembleSpec:
    return EnsembleSpec(name=name, description="d", raw=raw or {})


def test_task_profile_mapping_wins(tmp_path: Path):
    store = ProjectStore(tmp_path)
    store.save_task_profiles(TaskProfiles(profiles={"extraction": TaskProfile(ensemble="my-extractor")}))
    assert (
        infer_task_type(store, _spec("my-extractor", {"conductor": {"task_type": "other"}})) == "extraction"
    )


def test_conductor_block_then_kit_never_the_name(tmp_path: Path):
    store = ProjectStore(tmp_path)
    assert (
        infer_task_type(store, _spec("x", {"conductor": {"task_type": "classification"}})) == "classification"
    )
    assert infer_task_type(store, _spec("fix-lint-violations")) == "mechanical-transform"
    assert infer_task_type(store, _spec("write-commit-message")) == "summarization"
    # an ensemble that declares nothing is logged untyped, never under its own name
    assert infer_task_type(store, _spec("something-else")) is None
    assert (
        infer_task_type(store, _spec("y", {"conductor": {"task_types": ["extraction", "classification"]}}))
        == "extraction"
    )


def test_malformed_task_profiles_do_not_stop_inference(tmp_path: Path):
    store = ProjectStore(tmp_path)
    store.profiles_path.parent.mkdir(parents=True, exist_ok=True)
    store.profiles_path.write_text("extraction: [unclosed\n", encoding="utf-8")
    assert infer_task_type(store, _spec("extract-code-patterns")) == "extraction"


def test_cli_run_logs_the_kit_task_type_and_category(tmp_path: Path, fake_ollama, monkeypatch, capsys):
    from conductor_tui.cli import main
    from conductor_tui.engine.kit import install_starter_kit

    install_starter_kit(tmp_path, ["write-commit-message"])
    # point every profile at a model the fake serves
    model = sorted(fake_ollama.models)[0]
    for prof in (tmp_path / ".llm-orc" / "profiles").glob("*.yaml"):
        data = yaml.safe_load(prof.read_text())
        data["model"] = model
        data.pop("fallback_model_profile", None)
        prof.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    rc = main(
        ["run", "write-commit-message", "--project", str(tmp_path), "--input", "diff --git a/x b/x", "--json"]
    )
    capsys.readouterr()
    entries = ProjectStore(tmp_path).read_routing().records
    decisions = [e for e in entries if e.is_decision]
    assert decisions, "the run must be logged"
    assert decisions[-1].task_type == "summarization"
    assert decisions[-1].delegability_category == Delegability.AGENT
    assert rc == (0 if decisions[-1].status == "completed" else 1)
