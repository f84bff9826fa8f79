"""Role-based routing: the roles file, its errors (file:line), resolution, the picker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conductor_tui.core import roles as r
from conductor_tui.core.records import PlanRow
from conductor_tui.engine.loader import load_profiles
from tests.engine.conftest import profiles


def write_roles(project: Path, text: str) -> Path:
    path = r.project_roles_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc").mkdir(parents=True)
    return p


ROLES = """\
    # roles for this project
    roles:
      planner: {handler: claude, description: plans}
      backend: starter-medium
      frontend:
        model: qwen2.5-coder:7b
        temperature: 0.3
      tests: {ensemble: generate-test-cases}
      quick: {profile: starter-small, system_prompt: Be terse.}
      reviewer: claude
"""


def test_roles_file_loads_every_kind(project: Path) -> None:
    path = write_roles(project, ROLES)
    cfg = r.load_roles(project)
    assert cfg.problems == [] and cfg.sources == [path] and not cfg.defaults_used
    assert cfg.names() == ["planner", "backend", "frontend", "tests", "quick", "reviewer"]
    assert cfg.get("planner").kind == "claude" and cfg.get("planner").handler == "claude"
    assert cfg.get("backend").kind == "profile" and cfg.get("backend").handler == "role:backend"
    front = cfg.get("frontend")
    assert (front.kind, front.target, front.provider, front.temperature) == (
        "model",
        "qwen2.5-coder:7b",
        "ollama",
        0.3,
    )
    assert cfg.get("tests").handler == "generate-test-cases"
    assert cfg.get("reviewer").kind == "claude"
    assert cfg.get("backend").where == f"{path}:4"


def test_defaults_when_no_file_and_project_overrides_global(project: Path) -> None:
    cfg = r.load_roles(project)
    assert cfg.defaults_used and {"planner", "backend", "frontend", "tests", "reviewer", "quick"} <= set(
        cfg.names()
    )
    glob = r.global_roles_path()
    glob.parent.mkdir(parents=True)
    glob.write_text("roles:\n  backend: global-profile\n  docs: starter-small\n", encoding="utf-8")
    write_roles(project, "roles:\n  backend: local-profile\n")
    cfg = r.load_roles(project)
    assert cfg.get("backend").target == "local-profile"
    assert cfg.get("docs").target == "starter-small"
    assert "planner" not in cfg  # a roles file replaces the defaults


ERRORS = [
    (
        "roles:\n  backend: {profile: a, model: b}\n",
        2,
        "exactly one of profile, model, ensemble, handler (has profile, model)",
    ),
    ("roles:\n  backend: {}\n", 2, "exactly one of"),
    ("roles:\n  backend:\n    profile: a\n    profle: b\n", 4, 'unknown key "profle"'),
    ("roles:\n  backend: {handler: gpt-4}\n", 2, 'handler "gpt-4" is not "claude"'),
    ("roles:\n  backend:\n    profile: a\n    provider: ollama\n", 4, "provider only goes with model"),
    ("roles:\n  backend:\n    model: m\n    temperature: hot\n", 4, "temperature must be a number"),
    ("roles:\n  backend: [a, b]\n", 2, "must be a profile name or a mapping"),
    ("roles:\n  'bad role': a\n", 2, "a role name is"),
    ("roles:\n  backend: ''\n", 2, "is empty"),
    ("roles: [a]\n", 1, "roles: must be a mapping"),
    ("routes:\n  a: b\n", 1, 'unknown top-level key "routes"'),
    ("roles:\n  backend: {profile: [x]}\n", 2, "profile must be a string"),
    ("roles:\n  a: b\n  c: [\n", 4, "YAML syntax error"),
    ("- a\n", 1, "must be a mapping with a roles: section"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS)
def test_roles_errors_name_file_and_line(project: Path, text: str, line: int, fragment: str) -> None:
    path = write_roles(project, text)
    cfg = r.load_roles(project)
    match = [p for p in cfg.problems if fragment in p.message]
    assert match, [str(p) for p in cfg.problems]
    assert match[0].path == path and match[0].line == line, str(match[0])


def test_a_bad_role_does_not_hide_the_good_ones(project: Path) -> None:
    write_roles(project, "roles:\n  good: starter-small\n  bad: {}\n")
    cfg = r.load_roles(project)
    assert cfg.names() == ["good"] and len(cfg.problems) == 1


def test_comment_only_file_is_empty(project: Path) -> None:
    write_roles(project, "# nothing yet\n")
    cfg = r.load_roles(project)
    assert cfg.roles == {} and cfg.problems == []


def test_resolve_against_profiles_and_ensembles(project: Path) -> None:
    path = write_roles(project, textwrap.dedent(ROLES) + "  typo: starter-mediun\n")
    cfg = r.load_roles(project)
    ps = profiles(**{"starter-medium": {"model": "qwen3:4b", "provider": "ollama"}, "starter-small": {}})
    backend = r.resolve_role("backend", cfg, ps)
    assert backend.ok and (backend.model, backend.provider, backend.profile) == (
        "qwen3:4b",
        "ollama",
        "starter-medium",
    )
    typo = r.resolve_role("typo", cfg, ps)
    assert not typo.ok
    assert typo.problems[0].fix == 'did you mean "starter-medium"?'
    assert (typo.problems[0].path, typo.problems[0].line) == (path, 11)
    assert r.resolve_role("tests", cfg, ps, ensembles={"generate-test-cases"}).ok
    missing = r.resolve_role("tests", cfg, ps, ensembles={"other"})
    assert "not found" in missing.problems[0].message
    assert r.resolve_role("frontend", cfg, ps).model == "qwen2.5-coder:7b"
    assert r.resolve_role("planner", cfg, ps).handler == "claude"
    assert r.resolve_role("nobody", cfg, ps) is None


def test_role_choices_for_the_handler_picker(project: Path) -> None:
    write_roles(project, ROLES)
    cfg = r.load_roles(project)
    ps = profiles(**{"starter-medium": {"model": "qwen3:4b", "provider": "ollama"}})
    choices = {c.role: c for c in r.role_choices(cfg, ps)}
    assert choices["backend"].available and choices["backend"].label == "backend → starter-medium"
    assert not choices["quick"].available and "starter-small" in choices["quick"].problem
    assert choices["planner"].label == "planner → Claude"
    assert choices["tests"].label == "tests → ensemble generate-test-cases"


def test_route_row_sets_role_and_handler(project: Path) -> None:
    write_roles(project, ROLES)
    cfg = r.load_roles(project)
    row = PlanRow(id="r1", description="Add the endpoint", handler="claude", custom="kept")
    routed = r.route_row(row, "backend", cfg)
    assert (routed.role, routed.handler) == ("backend", "role:backend")
    assert routed.extras["custom"] == "kept" and row.role is None
    assert r.role_of_handler(routed.handler) == "backend"
    assert r.role_of_handler("claude") is None
    with pytest.raises(KeyError):
        r.route_row(row, "designer", cfg)


def test_plan_row_role_field_round_trips() -> None:
    row = PlanRow.model_validate({"id": "a", "role": "tests", "handler": "role:tests"})
    assert row.role == "tests"
    assert PlanRow.model_validate(row.to_json_dict()).role == "tests"
    assert PlanRow.model_validate({"id": "b", "role": "null"}).role is None


def test_role_ensemble_is_a_valid_one_agent_ensemble(project: Path) -> None:
    write_roles(project, ROLES)
    cfg = r.load_roles(project)
    (project / ".llm-orc" / "profiles").mkdir()
    (project / ".llm-orc" / "profiles" / "small.yaml").write_text(
        "name: starter-small\nmodel: qwen3:1.7b\nprovider: ollama\n", encoding="utf-8"
    )
    ps = load_profiles(project)
    quick = r.role_ensemble(r.resolve_role("quick", cfg, ps))
    assert quick.name == "role-quick" and quick.problems == []
    (agent,) = quick.agents
    assert (agent.model_profile, agent.system_prompt) == ("starter-small", "Be terse.")
    front = r.role_ensemble(r.resolve_role("frontend", cfg, ps), system_prompt="Write React.")
    assert (front.agents[0].model, front.agents[0].provider, front.agents[0].temperature) == (
        "qwen2.5-coder:7b",
        "ollama",
        0.3,
    )
    assert front.agents[0].system_prompt == "Write React."
    with pytest.raises(ValueError):
        r.role_ensemble(r.resolve_role("planner", cfg, ps))
    # core builds the spec itself (it sits below the loader): the loader makes the same of it
    from conductor_tui.engine.loader import parse_ensemble

    for built in (quick, front):
        assert built == parse_ensemble(built.raw)


def test_assign_role_makes_a_new_plan_revision(project: Path) -> None:
    from conductor_tui.core.plan import PlanError
    from conductor_tui.core.records import WorkflowPlan

    write_roles(project, ROLES)
    cfg = r.load_roles(project)
    plan = WorkflowPlan(subtasks=[PlanRow(id="a", handler="extract-code-patterns"), PlanRow(id="b")])
    new = r.assign_role(plan, "a", "frontend", cfg)
    assert new.revision == plan.revision + 1 and plan.subtasks[0].role is None
    row = new.subtasks[0]
    assert (row.role, row.handler, row.original_handler) == (
        "frontend",
        "role:frontend",
        "extract-code-patterns",
    )
    assert new.change == "override #1: extract-code-patterns → role:frontend (role frontend)"
    again = r.assign_role(new, "a", "planner", cfg)
    assert (again.subtasks[0].handler, again.subtasks[0].role) == ("claude", "planner")
    assert again.subtasks[0].original_handler == "extract-code-patterns"
    with pytest.raises(KeyError):
        r.assign_role(plan, "a", "nobody", cfg)
    with pytest.raises(PlanError):
        r.assign_role(plan, "zzz", "frontend", cfg)
