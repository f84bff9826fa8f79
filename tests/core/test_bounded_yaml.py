"""Bounded YAML: too deep, too big or an alias bomb is refused with file:line, fast and
small, and the other files keep working."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import yaml

from conductor_tui.core import safeyaml
from conductor_tui.core.store import ProjectStore, StoreError
from conductor_tui.engine.loader import check_runnable, load_catalog, load_profiles

GOOD = "name: good\ndescription: fine\nagents:\n  - name: a\n    model: qwen3:1.7b\n    provider: ollama\n"

ALIAS_BOMB = (
    "name: bomb\ndescription: x\nagents: []\noptions:\n"
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def deep_yaml(levels: int) -> str:
    return "name: deep\nvalue: " + "[" * levels + "]" * levels + "\n"


def test_check_bounds_refuses_depth_aliases_and_size_with_a_line() -> None:
    with pytest.raises(safeyaml.YamlLimitError, match="nested deeper") as deep:
        safeyaml.load(deep_yaml(100_000))
    assert deep.value.line == 2
    with pytest.raises(safeyaml.YamlLimitError, match="alias bomb") as bomb:
        safeyaml.load(ALIAS_BOMB)
    assert bomb.value.line is not None and bomb.value.line >= 8
    with pytest.raises(safeyaml.YamlLimitError, match="too large"):
        safeyaml.load("a: " + "x" * (safeyaml.MAX_YAML_BYTES + 10))
    with pytest.raises(safeyaml.YamlLimitError, match="more than 3 aliases"):
        safeyaml.check_bounds("a: &a 1\nb: [*a, *a, *a, *a]\n", max_aliases=3)


def test_normal_yaml_with_a_few_anchors_still_loads() -> None:
    data = safeyaml.load("base: &b {model: m, temperature: 0.2}\nx: *b\ny: {<<: *b, model: n}\n")
    assert data["x"]["model"] == "m" and data["y"]["model"] == "n"


def test_a_bomb_is_refused_quickly_and_small() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for text in (ALIAS_BOMB, deep_yaml(100_000)):
        with pytest.raises(safeyaml.YamlLimitError):
            safeyaml.load(text)
    elapsed = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert elapsed < 10  # generous: the point is "not minutes", measured in benchmarks/chaos.py
    assert grown_mb < 200


def test_one_bad_ensemble_is_reported_with_file_and_line_and_the_others_load(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    ens = project / ".llm-orc" / "ensembles"
    ens.mkdir(parents=True)
    (ens / "good.yaml").write_text(GOOD)
    (ens / "deep.yaml").write_text(deep_yaml(100_000))
    (ens / "bomb.yaml").write_text(ALIAS_BOMB)
    catalog = load_catalog(project, with_profiles=False)
    assert catalog.get("good") is not None and catalog.get("good").valid
    bad = {e.path.name: e.problems[0] for e in catalog.invalid}
    assert set(bad) == {"deep.yaml", "bomb.yaml"}
    assert "nested deeper" in bad["deep.yaml"].message and bad["deep.yaml"].line == 2
    assert "alias" in bad["bomb.yaml"].message and bad["bomb.yaml"].line
    assert str(bad["deep.yaml"]).startswith(str(ens / "deep.yaml") + ":2")


def test_a_bomb_in_a_profile_is_refused_and_the_advice_names_the_file(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".llm-orc" / "profiles").mkdir(parents=True)
    (project / ".llm-orc" / "ensembles").mkdir(parents=True)
    (project / ".llm-orc" / "profiles" / "fast.yaml").write_text(
        "name: fast\nmodel: qwen3:1.7b\nprovider: ollama\noptions:\n" + ALIAS_BOMB.split("options:\n", 1)[1]
    )
    (project / ".llm-orc" / "ensembles" / "uses-fast.yaml").write_text(
        "name: uses-fast\ndescription: d\nagents:\n  - name: a\n    model_profile: fast\n"
    )
    profiles = load_profiles(project)
    assert "fast" not in profiles.profiles
    assert any("alias" in p.message and p.path.name == "fast.yaml" for p in profiles.problems)
    catalog = load_catalog(project)
    problems = check_runnable(catalog.get("uses-fast").spec, None, profiles, project=project)
    [problem] = [p for p in problems if "fast" in p.message]
    assert "could not be read" in problem.message and "fast.yaml" in problem.message
    assert "create" not in (problem.fix or "")


def test_a_malformed_profile_yaml_gets_fix_this_file_advice(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".llm-orc" / "profiles").mkdir(parents=True)
    (project / ".llm-orc" / "ensembles").mkdir(parents=True)
    (project / ".llm-orc" / "profiles" / "fast.yaml").write_text("name: fast\nmodel: [unclosed\n")
    (project / ".llm-orc" / "ensembles" / "uses-fast.yaml").write_text(
        "name: uses-fast\ndescription: d\nagents:\n  - name: a\n    model_profile: fast\n"
    )
    profiles = load_profiles(project)
    catalog = load_catalog(project)
    problems = check_runnable(catalog.get("uses-fast").spec, None, profiles, project=project)
    fixes = " ".join(p.fix or "" for p in problems)
    assert "fast.yaml" in fixes and "create" not in fixes


def test_store_yaml_files_are_bounded_too(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "proj")
    store.root.mkdir(parents=True)
    store.config_path.write_text("version: 2\nrouting_thresholds: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(StoreError, match=r"routing-config.yaml:2: YAML nested deeper"):
        store.load_config()
    store.profiles_path.write_text(ALIAS_BOMB.replace("name: bomb\ndescription: x\nagents: []\n", ""))
    with pytest.raises(StoreError, match=r"task-profiles.yaml:\d+: YAML aliases expand"):
        store.load_task_profiles()


def test_pyyaml_itself_would_have_expanded_the_bomb() -> None:
    """The guard is needed: PyYAML builds the bomb as a shared graph without complaint."""
    data = yaml.safe_load(ALIAS_BOMB)
    assert len(data["options"]["i"]) == 9
