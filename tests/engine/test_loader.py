"""Loading ensembles and profiles in llm-orc's format: tiers, precedence, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conductor_tui.engine import loader
from conductor_tui.engine.loader import (
    EnsembleLoadError,
    check_runnable,
    load_catalog,
    load_ensemble_file,
    load_profiles,
    parse_ensemble,
)
from tests.engine.conftest import ensemble, llm, profiles, write_yaml


def problems_of(path: Path) -> list:
    with pytest.raises(EnsembleLoadError) as info:
        load_ensemble_file(path)
    return info.value.problems


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path):
    path = write_yaml(
        tmp_path / "bad.yaml",
        "name: bad\ndescription: x\nagents:\n  - name: a\n    model_profile: p\n  - name: b\n    depends_on: [a\n",
    )
    [p] = problems_of(path)
    assert p.path == path
    assert p.line is not None and p.line >= 7
    assert f"{path}:{p.line}" in str(p)
    assert "YAML syntax error" in p.message


def test_cycle_is_reported_as_a_path(tmp_path: Path):
    path = write_yaml(
        tmp_path / "cyc.yaml",
        {
            "name": "cyc",
            "description": "d",
            "agents": [
                llm("a", depends_on=["c"]),
                llm("b", depends_on=["a"]),
                llm("c", depends_on=["b"]),
            ],
        },
    )
    [p] = [p for p in problems_of(path) if p.code == "cycle"]
    assert p.message == "dependency cycle: a → c → b → a"
    assert p.line == 4  # where agent "a" starts


def test_missing_dependency_and_unknown_key_are_named_with_lines(tmp_path: Path):
    path = write_yaml(
        tmp_path / "x.yaml",
        "name: x\ndescription: d\nagents:\n"
        "  - name: extract\n    model_profile: small\n    temprature: 0.2\n"
        "  - name: merge\n    model_profile: small\n    depends_on: [extrat]\n",
    )
    probs = problems_of(path)
    unknown = next(p for p in probs if p.code == "unknown-key")
    assert 'unknown key "temprature"' in unknown.message and unknown.line == 6
    assert unknown.fix == 'did you mean "temperature"?'
    missing = next(p for p in probs if p.code == "missing-dependency")
    assert '"merge" depends on "extrat"' in missing.message
    assert missing.fix == 'did you mean "extract"?'


def test_script_agent_keys_differ_from_llm_keys(tmp_path: Path):
    # temperature is an LLM key; llm-orc's script agent model forbids it
    path = write_yaml(
        tmp_path / "s.yaml",
        {"name": "s", "description": "d", "agents": [{"name": "a", "script": "echo {}", "temperature": 1}]},
    )
    [p] = problems_of(path)
    assert p.code == "unknown-key" and "script agent" in p.message


def test_llm_agent_model_rules_match_llm_orc():
    with pytest.raises(EnsembleLoadError, match="provider is required"):
        parse_ensemble({"name": "a", "description": "d", "agents": [{"name": "x", "model": "m"}]})
    with pytest.raises(EnsembleLoadError, match="mutually exclusive"):
        parse_ensemble(
            {
                "name": "a",
                "description": "d",
                "agents": [{"name": "x", "model": "m", "provider": "ollama", "model_profile": "p"}],
            }
        )
    with pytest.raises(EnsembleLoadError, match="model_profile, or model"):
        parse_ensemble({"name": "a", "description": "d", "agents": [{"name": "x"}]})
    with pytest.raises(EnsembleLoadError, match="fan_out: true needs depends_on"):
        parse_ensemble({"name": "a", "description": "d", "agents": [llm("x", fan_out=True)]})
    with pytest.raises(EnsembleLoadError, match='missing required key "description"'):
        parse_ensemble({"name": "a", "agents": [llm("x")]})


def test_everything_llm_orc_accepts_loads():
    spec = ensemble(
        [
            {"name": "split", "script": "scripts/split.py", "parameters": {"n": 3}, "timeout_seconds": 5},
            llm(
                "each",
                depends_on=[{"agent_name": "split"}],
                fan_out=True,
                input_key="data",
                system_prompt="s",
                temperature=0.1,
                max_tokens=50,
                options={"num_ctx": 4096},
                ollama_format="json",
                output_format="json",
                fallback_model_profile="fb",
            ),
            {
                "name": "judge",
                "model_profile": "p",
                "depends_on": ["each"],
                "when": "${split.ok} == true",
                "input_scope": "dependencies",
            },
        ]
    )
    each = spec.agent("each")
    assert each.depends_on == ["split"] and each.fan_out and each.input_key == "data"
    assert each.options == {"num_ctx": 4096} and each.ollama_format == "json" and each.max_tokens == 50
    assert spec.agent("split").parameters == {"n": 3} and spec.agent("split").kind == "script"
    assert spec.agent("judge").when == "${split.ok} == true"
    assert spec.problems == []


def test_ensemble_loop_and_dispatch_agents_are_reported_by_name():
    spec = ensemble(
        [
            llm("a"),
            {"name": "sub", "ensemble": "other", "depends_on": ["a"]},
            {"name": "again", "loop": {"body": "other", "until": "${x.done}", "max_iterations": 3}},
            {"name": "route", "dispatch": "${a.target}", "depends_on": ["a"]},
        ]
    )
    # they run now (tests/engine/test_composition.py); check judges their targets
    assert spec.problems == []
    assert [a.kind for a in spec.agents] == ["llm", "ensemble", "loop", "dispatch"]
    problems = check_runnable(spec, ["qwen3:1.7b"], profiles(), ensembles={})
    missing = {p.agent: p for p in problems if p.code == "missing-ensemble"}
    assert set(missing) == {"sub", "again"}  # the dispatch target is only known at run time
    assert 'runs ensemble "other", which is not found' in missing["sub"].message
    assert [p.code for p in problems if not p.blocking] == ["dynamic-dispatch"]
    assert not loader.is_runnable(problems)


def test_tiers_first_match_by_name_wins_and_shadowed_are_recorded(tmp_path: Path, project: Path, monkeypatch):
    lib = tmp_path / "lib"
    monkeypatch.setenv("LLM_ORC_LIBRARY_PATH", str(lib))
    glob_dir = loader.locations.global_llm_orc_dir() / "ensembles"
    body = lambda d: {"name": "summarize", "description": d, "agents": [llm("a")]}  # noqa: E731
    p_proj = write_yaml(project / ".llm-orc/ensembles/nested/summarize.yaml", body("project"))
    p_lib = write_yaml(lib / "ensembles/summarize.yml", body("library"))
    p_glob = write_yaml(glob_dir / "summarize.yaml", body("global"))
    write_yaml(
        glob_dir / "only-global.yaml", {"name": "only-global", "description": "g", "agents": [llm("a")]}
    )
    write_yaml(lib / "ensembles/broken.yaml", "name: [")

    cat = load_catalog(project)
    entry = cat.get("summarize")
    assert entry.tier == "project" and entry.path == p_proj and entry.spec.description == "project"
    assert entry.shadowed == [("library", p_lib), ("global", p_glob)]
    assert entry.spec.relative_path == "nested"
    assert cat.get("nested/summarize") is entry
    assert cat.get("only-global").tier == "global"
    [broken] = cat.invalid
    assert broken.tier == "library" and broken.problems[0].line == 1


def test_profile_precedence_matches_llm_orc(project: Path):
    g = loader.locations.global_llm_orc_dir()
    local = project / ".llm-orc"
    write_yaml(
        g / "config.yaml",
        {
            "model_profiles": {
                "p": {"model": "g-config", "provider": "ollama"},
                "only-g": {"model": "x", "provider": "ollama"},
            }
        },
    )
    write_yaml(g / "profiles/p.yaml", {"name": "p", "model": "g-file", "provider": "ollama"})
    write_yaml(local / "config.yaml", {"model_profiles": {"p": {"model": "l-config", "provider": "ollama"}}})
    write_yaml(local / "profiles/a.local.yaml", {"name": "p", "model": "l-local-file", "provider": "ollama"})
    write_yaml(local / "profiles/z.yaml", {"name": "p", "model": "l-file", "provider": "ollama"})
    write_yaml(local / "profiles/many.yaml", {"model_profiles": {"q": {"model": "m"}}})
    ps = load_profiles(project)
    assert ps.get("p").model == "l-local-file"  # *.local.yaml loads last
    assert ps.get("p").source == local / "profiles/a.local.yaml"
    assert ps.get("only-g").model == "x"
    assert "q" not in ps  # llm-orc ignores a profile file without a top-level name
    assert any(p.code == "profile-name" for p in ps.problems)


def test_check_runnable_gives_exact_fixes(project: Path):
    spec = ensemble(
        [
            llm("a", model="qwen3:4b"),
            {"name": "b", "model_profile": "nope", "depends_on": ["a"]},
            {"name": "c", "script": "scripts/missing.py"},
            {"name": "d", "script": "echo '{}'"},  # inline: fine
        ]
    )
    probs = check_runnable(
        spec,
        ["qwen3:1.7b", "llama3.2:3b"],
        profiles(nop={"model": "x", "provider": "ollama"}),
        project=project,
    )
    by_code = {p.code: p for p in probs}
    assert by_code["missing-model"].fix == "ollama pull qwen3:4b"
    assert "requires qwen3:4b which is not installed" in by_code["missing-model"].message
    assert by_code["missing-profile"].message == 'profile "nope" not found (agent "b")'
    assert by_code["missing-script"].agent == "c"
    assert "d" not in {p.agent for p in probs}


def test_check_runnable_fallback_installed_is_only_a_warning_and_latest_tag_matches(project: Path):
    ps = profiles(
        big={"model": "qwen3:4b", "provider": "ollama", "fallback_model_profile": "small"},
        small={"model": "llama3.2", "provider": "ollama"},
    )
    spec = ensemble([{"name": "a", "model_profile": "big"}])
    probs = check_runnable(spec, ["llama3.2:latest"], ps, project=project)
    assert [p.severity for p in probs] == ["warning"]
    assert loader.is_runnable(probs)


def test_ollama_down_is_one_problem(project: Path):
    spec = ensemble([llm("a"), llm("b")])
    probs = check_runnable(spec, None, profiles(), project=project, ollama_host="http://127.0.0.1:9")
    assert [p.code for p in probs] == ["ollama-down"]
    assert "127.0.0.1:9" in probs[0].message and probs[0].fix


def test_newer_llm_orc_keys_load():
    spec = ensemble(
        [
            llm("a", response_format={"type": "object"}),
            llm("b", depends_on=["a"], on_dependency_failure="run"),
        ]
    )
    assert spec.agent("a").ollama_format == {"type": "object"}
    assert spec.agent("b").on_dependency_failure == "run"
    with pytest.raises(EnsembleLoadError, match="on_dependency_failure: run requires depends_on"):
        ensemble([llm("a", on_dependency_failure="run")])
    with pytest.raises(EnsembleLoadError, match="mean the same"):
        ensemble([llm("a", response_format="json", ollama_format="json")])
