"""Promotion: readiness, dependency checks and the files copied (core, no Textual)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conductor_tui.core import locations
from conductor_tui.core.promotion import PromotionError, check_promotion, find_hardcoded_paths, promote
from conductor_tui.demo import copy_sample_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample_project(tmp_path)


def test_ready_ensemble_copies_ensemble_missing_profiles_and_scripts(project: Path) -> None:
    check = check_promotion(project, "extract-code-patterns", good_count=5)
    assert check.ok, check.problems
    assert [p.name for p in check.missing_profiles] == ["coder-local", "small-local"]
    result = promote(check)
    dest = locations.global_llm_orc_dir()
    copied = sorted(str(p.relative_to(dest)) for p in result.copied)
    assert copied == [
        "ensembles/extract-code-patterns.yaml",
        "profiles/coder-local.yaml",
        "profiles/small-local.yaml",
        "scripts/read_files.py",
    ]
    # a profile defined in config.yaml becomes a profile file with a top-level name
    small = yaml.safe_load((dest / "profiles/small-local.yaml").read_text())
    assert small == {
        "name": "small-local",
        "model": "llama3.2:3b",
        "provider": "ollama",
        "timeout_seconds": 90,
    }
    assert (dest / "ensembles/extract-code-patterns.yaml").read_bytes() == (
        project / ".llm-orc/ensembles/extract-code-patterns.yaml"
    ).read_bytes()
    # promoting again: profiles are present now, existing files are kept, not overwritten
    again = check_promotion(project, "extract-code-patterns", good_count=5)
    assert not again.missing_profiles
    assert promote(again).copied == []


def test_profile_already_at_destination_is_not_copied(project: Path) -> None:
    dest = locations.global_llm_orc_dir()
    (dest / "profiles").mkdir(parents=True)
    (dest / "config.yaml").write_text(
        "model_profiles:\n  small-local: {model: llama3.2:3b, provider: ollama}\n"
    )
    check = check_promotion(project, "write-changelog", good_count=3)
    assert check.ok
    assert check.missing_profiles == []
    result = promote(check)
    assert [p.name for p in result.copied] == ["write-changelog.yaml"]


def test_hard_coded_project_path_blocks_promotion(project: Path) -> None:
    check = check_promotion(project, "wire-handler-dispatch", good_count=5)
    assert check.ready and not check.ok
    assert any("/home/dev/src/llm-orc" in p for p in check.problems)
    with pytest.raises(PromotionError):
        promote(check)
    assert not (locations.global_llm_orc_dir() / "ensembles").exists()


def test_not_enough_good_evaluations(project: Path) -> None:
    check = check_promotion(project, "write-changelog", good_count=1)
    assert not check.ready and not check.ok
    assert "2 more good for global promotion" in check.readiness


def test_library_needs_a_directory_and_five_good(project: Path, tmp_path: Path) -> None:
    assert "No library directory" in " ".join(
        check_promotion(project, "write-changelog", destination="library", good_count=5).problems
    )
    lib = tmp_path / "library"
    short = check_promotion(project, "write-changelog", destination="library", good_count=4, library=lib)
    assert not short.ready
    unassessed = check_promotion(project, "write-changelog", destination="library", good_count=5, library=lib)
    assert not unassessed.ok and unassessed.gate == "generality"  # Invariant 6: a gate, not a warning
    assert "generality assessment" in unassessed.readiness
    ok = check_promotion(
        project,
        "write-changelog",
        destination="library",
        good_count=5,
        library=lib,
        generality_confirmed=True,
    )
    assert ok.ok and ok.gate is None
    promote(ok)
    assert (lib / "ensembles/write-changelog.yaml").is_file()
    assert (lib / "profiles/small-local.yaml").is_file()


def test_missing_script_and_unknown_profile_are_problems(project: Path) -> None:
    ens = project / ".llm-orc/ensembles/broken.yaml"
    ens.write_text(
        "name: broken\ndescription: x\nagents:\n"
        "  - {name: a, script: scripts/nowhere.py}\n"
        "  - {name: b, model_profile: ghost, depends_on: [a]}\n"
    )
    check = check_promotion(project, "broken", good_count=3)
    text = " ".join(check.problems)
    assert "nowhere.py" in text and "ghost" in text
    assert not check.ok


def test_find_hardcoded_paths(tmp_path: Path) -> None:
    code = (
        "#!/usr/bin/env python3\nBASE = '/Users/ann/proj'\nrel = 'data/x.json'\nother = 'C:\\\\work\\\\x'\n"
    )
    found = find_hardcoded_paths(code)
    assert [line for line, _ in found] == [2, 4]
    assert find_hardcoded_paths(f"p = '{tmp_path}/x'", tmp_path)[0][0] == 1


def test_unknown_ensemble(project: Path) -> None:
    check = check_promotion(project, "nope", good_count=9)
    assert not check.ok and "not found" in check.problems[0]
    shutil.rmtree(project / ".llm-orc/ensembles")
    assert not check_promotion(project, "nope", good_count=9).ok


@pytest.mark.parametrize("phase", [None, "calibrate", "establish", "trust", "promote", "design"])
@pytest.mark.parametrize("good", [0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("assessed", [False, True])
def test_promotion_check_readiness_is_the_rules_gate(
    project: Path, tmp_path: Path, phase, good, assessed
) -> None:
    """check_promotion decides readiness with rules.promotion_readiness (one home), with
    the project's own numbers — not defaults of its own."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import RoutingThresholds

    th = RoutingThresholds(promotion_global_good=2, promotion_library_good=4)
    verdict = rules.promotion_readiness(
        rules.ScoreCounts(good=good), th, generality_assessed=assessed, phase=rules.as_phase(phase)
    )
    for destination, expected, needed in (
        ("global", verdict.global_ready, 2),
        ("library", verdict.library_ready, 4),
    ):
        check = check_promotion(
            project,
            "write-changelog",
            destination=destination,
            good_count=good,
            thresholds=th,
            library=tmp_path / "library",
            generality_confirmed=assessed,
            phase=phase,
        )
        assert check.ready is expected, (destination, check.readiness)
        assert check.needed_good == needed
        assert check.readiness.startswith("Ready" if expected else "Not ready")
        if not expected:
            gated = phase in ("calibrate", "establish", "design")
            assert check.gate == ("phase" if gated else "good-count" if good < needed else "generality")
