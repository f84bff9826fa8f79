"""Workflow templates: the shipped ones load and instantiate; every error says file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conductor_tui.core import templates as tpl
from conductor_tui.core.records import Delegability
from conductor_tui.core.roles import default_roles
from conductor_tui.engine.loader import load_ensemble_file

ROOT = Path(__file__).resolve().parents[2]


def kit_specs() -> dict:
    return {
        p.stem: load_ensemble_file(p)
        for p in (ROOT / "ensembles").rglob("*.yaml")
        if "profiles" not in p.parts
    }


# --------------------------------------------------------------------------- shipped


def test_shipped_templates_load_and_are_listed() -> None:
    entries = {e.name: e for e in tpl.list_templates(None)}
    assert set(tpl.SHIPPED_TEMPLATES) <= set(entries)
    for name in tpl.SHIPPED_TEMPLATES:
        entry = entries[name]
        assert entry.valid, entry.problems
        assert entry.tier == "shipped"
        assert entry.path.parent == tpl.shipped_dir()
        assert entry.template.description


def test_shipped_templates_use_every_phase_type_and_only_known_ensembles() -> None:
    specs = kit_specs()
    types = set()
    for name in tpl.SHIPPED_TEMPLATES:
        template = tpl.get_template(name, None)
        types |= {p.type for p in template.phases}
        problems = tpl.check_template(template, ensembles=specs, roles=default_roles())
        blocking = [p for p in problems if p.severity != "warning"]
        assert blocking == [], blocking
        assert all(p.code == "cost" for p in problems), problems
    assert types == set(tpl.PHASE_TYPES)


def test_feature_build_instantiates_as_a_coding_plan() -> None:
    template = tpl.get_template("feature-build", None)
    plan = tpl.instantiate(
        template, "Add rate limiting to the API", {"feature": "rate-limit"}, roles=default_roles()
    )
    rows = {r.id: r for r in plan.subtasks}
    assert list(rows) == [
        "patterns",
        "plan",
        "implement",
        "verify.tests",
        "verify.lint",
        "audit",
        "changelog",
        "commit",
    ]
    assert rows["patterns"].handler == "extract-code-patterns"
    assert rows["plan"].handler == "plan-review" and rows["plan"].depends_on == ["patterns"]
    assert rows["plan"].output == "docs/ai/rate-limit/plan.md"
    assert rows["implement"].handler == "claude"
    assert rows["implement"].delegability_category == Delegability.CLAUDE
    assert rows["implement"].context_strategy == "distilled"
    # parallel rows share their dependencies and do not depend on each other
    assert rows["verify.tests"].depends_on == rows["verify.lint"].depends_on == ["implement"]
    # inputs (data) vs after (ordering)
    assert rows["audit"].depends_on == ["plan", "implement", "verify.tests", "verify.lint"]
    assert rows["audit"].inputs == ["plan", "implement"]
    assert rows["audit"].role == "reviewer" and rows["audit"].handler == "claude"
    assert rows["changelog"].inputs == []
    assert plan.source == "template:feature-build"
    assert all(r.phase for r in plan.subtasks)
    assert "Add rate limiting to the API" in rows["implement"].description


def test_routed_rows_carry_roles_and_resolve_through_the_roles_config() -> None:
    template = tpl.get_template("plan", None)
    plan = tpl.instantiate(template, "Export reports as CSV", roles=default_roles())
    routed = [r for r in plan.subtasks if r.phase_type == "routed"]
    assert [r.role for r in routed] == ["backend", "frontend", "tests"]
    assert all(r.handler == f"role:{r.role}" for r in routed)
    assert all(r.delegability_category == Delegability.AGENT for r in routed)
    decompose = next(r for r in plan.subtasks if r.id == "decompose")
    assert decompose.role == "planner" and decompose.handler == "claude"
    # without a roles config, the role handler is kept
    plain = tpl.instantiate(template, "Export reports as CSV")
    assert next(r for r in plain.subtasks if r.id == "decompose").handler == "role:planner"
    # a missing parameter becomes the slug of the task
    assert next(r for r in plain.subtasks if r.id == "propose").output == (
        "docs/ai/export-reports-as-csv/plan.md"
    )


def test_plan_round_trips_through_json_with_its_extra_fields() -> None:
    from conductor_tui.core.records import WorkflowPlan

    plan = tpl.instantiate(tpl.get_template("workshop", None), "Name the product")
    again = WorkflowPlan.model_validate(plan.to_json_dict())
    assert [r.context_strategy for r in again.subtasks] == ["fresh", "fresh", "distilled"]
    assert again.subtasks[0].role == "quick"


def test_project_template_wins_by_name_and_broken_files_are_listed(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    wdir = project / ".llm-orc" / "workflows"
    wdir.mkdir(parents=True)
    (wdir / "plan.yaml").write_text(
        "name: plan\ndescription: my own plan\nphases:\n  - {name: only, type: single, handler: claude}\n",
        encoding="utf-8",
    )
    (wdir / "broken.yaml").write_text("name: broken\ndescription: x\nphases:\n  - name: a\n    type: solo\n")
    entries = {e.name: e for e in tpl.list_templates(project)}
    assert entries["plan"].tier == "project" and entries["plan"].template.description == "my own plan"
    assert entries["plan"].shadowed == [tpl.shipped_dir() / "plan.yaml"]
    assert entries["feature-build"].tier == "shipped"
    broken = entries["broken"]
    assert not broken.valid and str(broken.problems[0]).startswith(f"{wdir / 'broken.yaml'}:5:")
    with pytest.raises(tpl.TemplateError):
        tpl.get_template("broken", project)
    with pytest.raises(KeyError):
        tpl.get_template("nope", project)


def test_check_template_reports_missing_ensembles_and_roles_with_lines() -> None:
    template = tpl.load_template_text(
        textwrap.dedent(
            """\
            name: t
            description: d
            phases:
              - name: a
                type: ensemble
                ensemble: not-installed
              - name: b
                type: single
                role: designer
              - name: c
                type: ensemble
                ensemble: plan-review
            """
        ),
        Path("t.yaml"),
    )
    problems = tpl.check_template(template, ensembles=kit_specs(), roles=default_roles())
    by_code = {p.code: p for p in problems}
    assert by_code["missing-ensemble"].line == 4 and "not-installed" in by_code["missing-ensemble"].message
    assert by_code["missing-role"].line == 7 and by_code["missing-role"].severity == "warning"
    assert by_code["cost"].line == 10 and "3 proposers + judge ≈ 4×" in by_code["cost"].message


def test_plan_cost_warnings_flag_multiplying_rows() -> None:
    plan = tpl.instantiate(tpl.get_template("feature-build", None), "x")
    warnings = tpl.plan_cost_warnings(plan, kit_specs())
    assert warnings["plan"].factor == 4 and warnings["plan"].proposers == 3
    assert warnings["patterns"].fan_out
    assert "implement" not in warnings and "commit" not in warnings


# --------------------------------------------------------------------------- errors with file:line

HEAD = "name: t\ndescription: d\nphases:\n"

ERRORS = [
    # (id, text, line, fragment)
    ("yaml-syntax", HEAD + "  - name: a\n    type: [single\n", 6, "YAML syntax error"),
    ("not-mapping", "- a\n- b\n", 1, "must be a mapping"),
    ("empty-file", "# nothing\n", 1, "this one is empty"),
    ("missing-phases", "name: t\ndescription: d\n", 1, 'missing required key "phases"'),
    (
        "unknown-top-key",
        HEAD + "  - {name: a, type: single, handler: claude}\nstages: []\n",
        5,
        'unknown top-level key "stages"',
    ),
    ("phases-empty", "name: t\ndescription: d\nphases: []\n", 3, "phases is empty"),
    (
        "bad-name",
        "name: 'my plan!'\ndescription: d\nphases:\n  - {name: a, type: single, handler: claude}\n",
        1,
        "name must be",
    ),
    ("phase-not-mapping", HEAD + "  - just-text\n", 4, "phase #1 must be a mapping"),
    ("phase-no-name", HEAD + "  - type: single\n    handler: claude\n", 4, "phase #1 needs a name"),
    ("unknown-phase-type", HEAD + "  - name: a\n    type: swarm\n", 5, 'unknown phase type "swarm"'),
    ("missing-type", HEAD + "  - name: a\n    handler: claude\n", 4, 'phase "a" has no type'),
    (
        "unknown-phase-key",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    contxt: fresh\n",
        7,
        'unknown key "contxt"',
    ),
    (
        "unknown-input",
        HEAD
        + "  - {name: a, type: single, handler: claude}\n  - name: b\n    type: single\n    handler: claude\n    input: plan.output\n",
        8,
        'input "plan.output" is not a phase',
    ),
    (
        "unknown-input-list-item",
        HEAD
        + "  - {name: a, type: single, handler: claude}\n  - name: b\n    type: single\n    handler: claude\n    inputs:\n      - a\n      - nope\n",
        10,
        '"nope" is not a phase',
    ),
    (
        "later-input",
        HEAD
        + "  - name: a\n    type: single\n    handler: claude\n    input: b\n  - {name: b, type: single, handler: claude}\n",
        7,
        "refers to a later phase",
    ),
    (
        "self-input",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    input: a.output\n",
        7,
        "lists itself",
    ),
    (
        "unknown-after",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    after: [zzz]\n",
        7,
        'after "zzz" is not a phase',
    ),
    (
        "input-not-string",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    input: {x: 1}\n",
        7,
        "input must be a phase name",
    ),
    (
        "duplicate-phase",
        HEAD
        + "  - {name: a, type: single, handler: claude}\n  - name: a\n    type: single\n    handler: claude\n",
        5,
        'two phases are named "a"',
    ),
    (
        "unknown-context",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    context: everything\n",
        7,
        'unknown context strategy "everything"',
    ),
    ("ensemble-without-name", HEAD + "  - name: a\n    type: ensemble\n", 4, "needs ensemble: <name>"),
    (
        "ensemble-with-role",
        HEAD + "  - name: a\n    type: ensemble\n    ensemble: x\n    role: backend\n",
        7,
        "role does not go with an ensemble phase",
    ),
    (
        "single-two-targets",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    role: backend\n",
        4,
        "exactly one of handler, role, ensemble (has handler, role)",
    ),
    (
        "single-no-target",
        HEAD + "  - name: a\n    type: single\n",
        4,
        "exactly one of handler, role, ensemble",
    ),
    (
        "routed-without-tasks",
        HEAD + "  - name: a\n    type: routed\n",
        4,
        "needs tasks: (each with a role) or routing:",
    ),
    (
        "routed-task-without-role",
        HEAD + "  - name: a\n    type: routed\n    tasks:\n      - name: api\n        handler: claude\n",
        7,
        'task "api" needs a role',
    ),
    (
        "routing-not-mapping",
        HEAD + "  - name: a\n    type: routed\n    routing: [backend]\n",
        6,
        "routing must map a category to a role",
    ),
    (
        "routing-empty-role",
        HEAD + "  - name: a\n    type: routed\n    routing:\n      backend: ''\n",
        7,
        'routing "backend" must name a role',
    ),
    (
        "parallel-one-task",
        HEAD + "  - name: a\n    type: parallel\n    tasks:\n      - {name: x, handler: claude}\n",
        6,
        "parallel phase with one task",
    ),
    (
        "parallel-task-two-targets",
        HEAD
        + "  - name: a\n    type: parallel\n    tasks:\n      - {name: x, handler: claude, ensemble: e}\n      - {name: y, handler: claude}\n",
        7,
        'task "x" needs exactly one',
    ),
    (
        "task-unknown-key",
        HEAD
        + "  - name: a\n    type: parallel\n    tasks:\n      - name: x\n        handler: claude\n        model: llama\n      - {name: y, handler: claude}\n",
        9,
        'unknown key "model"',
    ),
    (
        "duplicate-task",
        HEAD
        + "  - name: a\n    type: parallel\n    tasks:\n      - {name: x, handler: claude}\n      - {name: x, handler: claude}\n",
        8,
        'two tasks are named "x"',
    ),
    (
        "tasks-on-single",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    tasks: []\n",
        7,
        "tasks: belongs to a routed or parallel phase",
    ),
    (
        "files-not-list",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    files: {a: 1}\n",
        7,
        "files must be a list",
    ),
    (
        "unknown-placeholder",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    description: Build {feature}\n",
        7,
        'unknown placeholder "{feature}"',
    ),
    (
        "bad-placeholder",
        HEAD + "  - name: a\n    type: single\n    handler: claude\n    output: docs/{}/x.md\n",
        7,
        "empty {} placeholder",
    ),
    (
        "param-reserved",
        "name: t\ndescription: d\nparameters:\n  task: x\nphases:\n  - {name: a, type: single, handler: claude}\n",
        4,
        '"task" is reserved',
    ),
    (
        "param-unknown-key",
        "name: t\ndescription: d\nparameters:\n  feature:\n    descripton: x\nphases:\n  - {name: a, type: single, handler: claude}\n",
        5,
        'unknown key "descripton"',
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_every_template_error_names_file_and_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "tpl.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(tpl.TemplateError) as info:
        tpl.load_template_file(path)
    problems = info.value.problems
    match = [p for p in problems if fragment in p.message]
    assert match, [str(p) for p in problems]
    assert match[0].path == path
    assert match[0].line == line, str(match[0])
    assert str(match[0]).startswith(f"{path}:{line}: ")


def test_an_error_in_one_phase_does_not_hide_the_others(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  - name: a\n    type: swarm\n  - name: b\n    type: single\n    handler: claude\n    input: a\n    context: nope\n"
    )
    with pytest.raises(tpl.TemplateError) as info:
        tpl.load_template_text(text, Path("x.yaml"))
    messages = [p.message for p in info.value.problems]
    assert any("swarm" in m for m in messages) and any('"nope"' in m for m in messages)
    # "a" failed to load: b's input on it is not reported again as a later/unknown phase
    assert not any('input "a"' in m for m in messages)


def test_unknown_phase_suggests_the_close_name() -> None:
    text = (
        HEAD
        + "  - {name: research, type: single, handler: claude}\n  - name: b\n    type: single\n    handler: claude\n    input: reserch.output\n"
    )
    with pytest.raises(tpl.TemplateError) as info:
        tpl.load_template_text(text, Path("x.yaml"))
    assert info.value.problems[0].fix == 'did you mean "research"?'


def test_a_file_that_cannot_be_read_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(tpl.TemplateError) as info:
        tpl.load_template_file(bad)
    assert info.value.problems[0].path == bad and "UTF-8" in info.value.problems[0].message
