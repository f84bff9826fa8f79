"""Promotion that works where it lands (Invariants 6 and 11), end to end through the CLI.

A multi-stage starter-kit ensemble (a script agent importing the kit's shared ``_kit.py``,
a fan-out over a small model, a synthesiser; profiles with fallback chains) earns its
evidence in project A, is promoted with ``conductor-tui promote`` to the global tier and to
the library, and then runs from an EMPTY project B against the fake Ollama — at each tier on
its own. The gates are asserted too: phase, good count, generality, exit 4 naming the gate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core.loop import Conductor
from conductor_tui.core.records import RoutingDecision
from tests.fakes.ollama_server import FakeModel

ENSEMBLE = "extract-code-patterns"


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def _earn(project: Path, *, runs: int, good: int, poor_first: int = 0) -> Conductor:
    """Completed runs and evaluations recorded through the loop (what sessions would log)."""
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    clock = {"t": t0}
    conductor = Conductor(project, now=lambda: clock["t"])
    scores = ["poor"] * poor_first + ["good"] * good
    for i in range(runs):
        clock["t"] = t0 + timedelta(minutes=i)
        rec = conductor.record_run(
            RoutingDecision(
                id=f"rd-{i}",
                timestamp=clock["t"],
                task_type="extraction",
                routed_to=ENSEMBLE,
                ensemble=ENSEMBLE,
                status="completed",
                total_tokens_local=900,
                session=f"s{i}",
            )
        )
        if i < len(scores):
            conductor.record_evaluation(
                ENSEMBLE,
                scores[i],
                routing_id=rec.decision.id,
                reasoning="all signatures present" if scores[i] == "good" else "missed files",
                failure_mode="incomplete" if scores[i] == "poor" else None,
                input_summary=f"src/mod{i}.py",
            )
    return conductor


@pytest.fixture
def kit_project(tmp_path: Path, capsys) -> Path:
    project = tmp_path / "a"
    project.mkdir()
    assert cli.main(["starter-kit", "--project", str(project), "-y"]) == 0
    capsys.readouterr()
    return project


@pytest.fixture
def other_project(tmp_path: Path) -> Path:
    b = tmp_path / "b"
    (b / "src").mkdir(parents=True)
    (b / "src" / "handlers.py").write_text(
        "import json\n\n@route('/a')\ndef get_a(req):\n    return json.dumps({})\n\nclass H:\n    pass\n"
    )
    return b


@pytest.fixture
def ollama(fake_ollama_factory, monkeypatch):
    fake = fake_ollama_factory(
        [
            FakeModel("qwen3:1.7b", reply="### src/handlers.py\n**Imports:** json", tokens_per_second=5000),
            FakeModel("qwen3:4b", reply="## Summary\nOne handler module.", tokens_per_second=5000),
        ]
    )
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    return fake


def _run_from(project: Path, capsys) -> dict:
    code = cli.main(["run", ENSEMBLE, "--project", str(project), "--input", "src/*.py", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, result
    return result


def _script_output(project: Path) -> str:
    """The collect-files agent's response in the newest run artifact of ``project``."""
    runs = sorted((project / ".llm-orc/artifacts" / ENSEMBLE).glob("*/execution.json"))
    data = json.loads(runs[-1].read_text())
    agent = data["results"]["collect-files"]
    assert agent["status"] == "success" or not agent.get("error"), agent
    return json.dumps(agent["response"])


def test_promotion_gates_name_the_failing_gate(kit_project: Path, capsys) -> None:
    # Calibrate: no evidence yet → the phase gate.
    code, out = _cli(capsys, "promote", ENSEMBLE, "--to", "global", "--project", str(kit_project))
    assert code == 4 and out["gate"] == "phase" and "phase" in out["error"]
    # A failed calibration (2 poor) → Design: still refused, whatever comes later in that state.
    _earn(kit_project, runs=2, good=0, poor_first=2)
    code, out = _cli(capsys, "promote", ENSEMBLE, "--to", "global", "--project", str(kit_project))
    assert code == 4 and out["gate"] == "phase" and "Design" in out["readiness"]


def test_good_evidence_before_a_failed_calibration_does_not_count(tmp_path: Path) -> None:
    conductor = Conductor(tmp_path)
    for score in ["good", "poor", "poor", "good", "good", "good"]:  # fail at the 2nd poor, then revised
        conductor.record_evaluation(ENSEMBLE, score, failure_mode="incomplete" if score == "poor" else None)
    hist = conductor.history()
    assert hist.ensembles[ENSEMBLE].tracker.good == 4
    assert conductor.good_since_failure(ENSEMBLE, hist) == 3  # the good before the failure is not evidence


def test_global_then_library_promotion_runs_from_an_empty_project(
    kit_project: Path, other_project: Path, tmp_path: Path, ollama, capsys, monkeypatch
) -> None:
    # 21 uses, 5 good evaluations: calibration passed, Trust earned, promotion-ready.
    _earn(kit_project, runs=21, good=5)
    code, out = _cli(capsys, "promote", ENSEMBLE, "--to", "global", "--project", str(kit_project), "--check")
    assert code == 0 and out["gates_passed"], out
    assert any(h.endswith("_kit.py") for h in out["helpers"])  # the shared helper travels too
    assert {p["name"] for p in out["profiles"]} >= {"starter-small", "starter-medium", "starter-llama"}

    code, out = _cli(capsys, "promote", ENSEMBLE, "--to", "global", "--project", str(kit_project))
    assert code == 0, out
    global_dir = Path(out["destination_dir"])
    assert (global_dir / "scripts/starter-kit/_kit.py").is_file()
    assert (global_dir / "profiles/starter-llama.yaml").is_file()  # the fallback chain's end

    # Project B knows nothing: the ensemble, its script, helper and profiles come from global.
    result = _run_from(other_project, capsys)
    assert result["status"] == "completed", result
    agents = result["results"] if "results" in result else result["agents"]
    assert "collect-files" in json.dumps(agents)
    assert str(global_dir) in json.dumps(result)  # loaded from the global tier
    assert "handlers.py" in _script_output(other_project)  # the script (and _kit) ran in B

    # Library: 5 good is enough evidence, but not without a generality assessment.
    library = tmp_path / "library"
    monkeypatch.setenv("LLM_ORC_LIBRARY_PATH", str(library))
    code, out = _cli(capsys, "promote", ENSEMBLE, "--to", "library", "--project", str(kit_project))
    assert code == 4 and out["gate"] == "generality", out
    code, out = _cli(
        capsys,
        "promote",
        ENSEMBLE,
        "--to",
        "library",
        "--project",
        str(kit_project),
        "--generality",
        "Works on any Python code base: no project names, paths or conventions baked in.",
    )
    assert code == 0, out
    assert (library / "scripts/starter-kit/_kit.py").is_file()

    # Demote from global: the project still holds its copy, so this is allowed …
    code, out = _cli(capsys, "demote", ENSEMBLE, "--from", "global", "--project", str(kit_project))
    assert code == 0 and not (global_dir / "ensembles" / f"{ENSEMBLE}.yaml").exists()
    # … and B now runs it from the library tier alone (its profiles and scripts included).
    result = _run_from(other_project, capsys)
    assert result["status"] == "completed", result
    assert str(library) in json.dumps(result)
    assert "handlers.py" in _script_output(other_project)

    # Demoting what B does not hold (from B's point of view) is refused: the last copy.
    code, out = _cli(capsys, "demote", ENSEMBLE, "--from", "library", "--project", str(other_project))
    assert code == 4 and out["gate"] == "last-copy"


def test_undeclared_third_party_import_is_warned(kit_project: Path, capsys) -> None:
    scripts = kit_project / ".llm-orc/scripts/starter-kit"
    (scripts / "score.py").write_text("import sys\nimport numpy as np\nimport _kit\nprint(np.zeros(1))\n")
    ens = kit_project / ".llm-orc/ensembles/scorer.yaml"
    ens.write_text(
        "name: scorer\ndescription: scores\nagents:\n  - name: s\n    script: scripts/starter-kit/score.py\n"
    )
    code, out = _cli(capsys, "promote", "scorer", "--to", "global", "--project", str(kit_project), "--check")
    assert code == 4  # not earned yet …
    assert out["third_party_imports"] == {"numpy": ["score.py"]}
    assert any("Undeclared third-party import 'numpy'" in w for w in out["warnings"])
    ens.write_text(ens.read_text() + "conductor:\n  requires: [numpy]\n")
    code, out = _cli(capsys, "promote", "scorer", "--to", "global", "--project", str(kit_project), "--check")
    assert not any("Undeclared" in w for w in out["warnings"])
