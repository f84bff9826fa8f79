"""Artifacts and scripts stay inside the project: ensemble names are validated, script
files resolve only inside the tiers' scripts folders unless the ensemble opts in, and a
script agent runs with an allow-listed environment, bounded output and a timeout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor_tui.engine.executor import SCRIPT_OUTPUT_LIMIT, Executor, script_environment
from conductor_tui.engine.loader import EnsembleLoadError, check_runnable, load_catalog, parse_ensemble
from tests.engine.conftest import profiles, script


@pytest.mark.parametrize("name", ["../../../X", "a/b", "..", "/etc/x", "a\\b", "bad\x1bname"])
def test_an_ensemble_name_that_is_a_path_is_refused_at_load(name: str) -> None:
    with pytest.raises(EnsembleLoadError) as exc:
        parse_ensemble({"name": name, "description": "d", "agents": [{"name": "a", "model": "m"}]})
    assert any(p.code == "bad-name" for p in exc.value.problems)


def test_a_traversing_name_in_a_file_lands_in_invalid_with_its_line(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    ens = project / ".llm-orc" / "ensembles"
    ens.mkdir(parents=True)
    (ens / "escape.yaml").write_text("description: d\nname: ../../../X\nagents:\n  - name: a\n    model: m\n")
    catalog = load_catalog(project, with_profiles=False)
    [entry] = catalog.invalid
    assert entry.problems[0].line == 2 and "path separator" in entry.problems[0].message


def test_no_artifact_is_written_for_a_bad_name(tmp_path: Path) -> None:
    from conductor_tui.core.spec import EnsembleSpec
    from conductor_tui.engine.artifacts import write_execution_artifact
    from conductor_tui.engine.executor import RunResult

    project = tmp_path / "deep" / "proj"
    project.mkdir(parents=True)
    spec = EnsembleSpec(name="../../../X", description="d")
    with pytest.raises(ValueError, match="no artifact written"):
        write_execution_artifact(project, RunResult(run_id="r", ensemble=spec, input="i"))
    assert not (tmp_path / "X").exists() and not (tmp_path / "deep" / "X").exists()


def _spec(script_ref: str, *, opt_in: bool = False) -> object:
    data = {"name": "s", "description": "d", "agents": [{"name": "a", "script": script_ref}]}
    if opt_in:
        data["allow_external_scripts"] = True
    return parse_ensemble(data)


async def _run(project: Path, spec) -> object:
    return await Executor(None, project=project, profiles=profiles(), write_artifacts=False).run(spec, "in")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc" / "scripts").mkdir(parents=True)
    return p


async def test_a_script_outside_the_scripts_folders_does_not_run(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    outside = script(
        tmp_path / "outside.py",
        f"open({str(marker)!r}, 'w').write('x')\nprint(json.dumps({{'success': True, 'data': 'ok'}}))",
    )
    for ref in (outside, "../../outside.py", "../outside.py"):
        result = await _run(project, _spec(ref))
        assert result.status != "completed"
        assert "outside the scripts folders" in result.failed_agents[0].error
    assert not marker.exists()
    problems = check_runnable(_spec(outside), None, profiles(), project=project)
    assert any(p.code == "script-outside" and "allow_external_scripts" in (p.fix or "") for p in problems)


async def test_the_opt_in_lets_an_outside_script_run(project: Path, tmp_path: Path) -> None:
    outside = script(tmp_path / "outside.py", "print(json.dumps({'success': True, 'data': 'ok'}))")
    result = await _run(project, _spec(outside, opt_in=True))
    assert result.status == "completed"


async def test_a_script_inside_the_scripts_folder_runs(project: Path) -> None:
    script(project / ".llm-orc" / "scripts" / "ok.py", "print(json.dumps({'success': True, 'data': 'ok'}))")
    result = await _run(project, _spec("ok.py"))
    assert result.status == "completed"
    # a symlink inside the folder that points outside is outside
    (project / ".llm-orc" / "scripts" / "link.py").symlink_to("/etc/hostname")
    result = await _run(project, _spec("link.py"))
    assert result.status != "completed"


async def test_script_agents_never_see_secrets(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-SECRET")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_SECRET")
    monkeypatch.setenv("PYTHON_API_KEY", "SECRET")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    script(
        project / ".llm-orc" / "scripts" / "env.py",
        "print(json.dumps({'success': True, 'data': json.dumps(dict(os.environ))}))",
    )
    result = await _run(project, _spec("env.py"))
    env = json.loads(json.loads(result.agents["a"].response)["data"])
    assert "SECRET" not in json.dumps(env)
    assert not {"ANTHROPIC_API_KEY", "GITHUB_TOKEN", "PYTHON_API_KEY", "AWS_SECRET_ACCESS_KEY"} & set(env)
    assert {"PATH", "HOME", "LC_ALL", "INPUT_DATA", "AGENT_PARAMETERS"} <= set(env)
    assert script_environment({"OPENAI_API_KEY": "x", "PATH": "/bin"}) == {"PATH": "/bin"}


async def test_a_script_printing_too_much_is_stopped_with_a_clear_failure(project: Path) -> None:
    script(
        project / ".llm-orc" / "scripts" / "flood.py",
        f"sys.stdout.write('x' * {SCRIPT_OUTPUT_LIMIT * 50})\nsys.stdout.flush()",
    )
    result = await _run(project, _spec("flood.py"))
    assert result.status != "completed"
    assert "printed more than" in result.failed_agents[0].error


async def test_a_hanging_script_times_out(project: Path) -> None:
    script(project / ".llm-orc" / "scripts" / "hang.py", "time.sleep(60)")
    spec = parse_ensemble(
        {
            "name": "s",
            "description": "d",
            "agents": [{"name": "a", "script": "hang.py", "timeout_seconds": 1}],
        }
    )
    result = await _run(project, spec)
    assert result.status != "completed" and "timed out" in result.failed_agents[0].error


async def test_a_script_printing_deeply_nested_json_fails_clearly(project: Path) -> None:
    script(project / ".llm-orc" / "scripts" / "deep.py", "sys.stdout.write('[' * 100000)")
    result = await _run(project, _spec("deep.py"))
    assert result.status != "completed"
    assert "invalid JSON" in result.failed_agents[0].error
