"""The Claude Code skill: valid frontmatter, and every command it teaches parses with the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from conductor_tui import cli

SKILL = Path(__file__).resolve().parents[2] / "integrations/claude-code/skills/conductor-cockpit/SKILL.md"


def _commands(text: str) -> list[list[str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip()
            if not line.startswith("conductor-tui "):
                continue
            line = re.sub(r"<<'?\w+'?|<\s*\S+", "", line)  # heredocs and redirections
            out.append(shlex.split(line)[1:])
    return out


def test_frontmatter_has_name_and_description():
    text = SKILL.read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["name"] == "conductor-cockpit"
    assert "cockpit" in front["description"] and len(front["description"]) < 1024
    assert "Bash" in front["allowed-tools"]


def test_every_taught_command_parses(capsys):
    commands = _commands(SKILL.read_text())
    verbs = {argv[0] for argv in commands}
    assert {"plan", "request-run", "record"} <= verbs
    for argv in commands:
        name, rest = argv[0], argv[1:]
        assert name in cli.SUBCOMMANDS, argv
        args = cli._build_subparser(name).parse_args(rest)  # SystemExit on an unknown flag
        assert args.json, f"the skill should always use --json: {argv}"


def _json_examples(text: str) -> list[dict]:
    """Every JSON document the skill shows (heredoc bodies and inline objects in bash blocks)."""
    import json

    docs = []
    for body in re.findall(r"<<'?(\w+)'?\n(.*?)\n\1\n", text, re.S):
        docs.append(json.loads(body[1]))
    return docs


def test_every_json_example_is_a_valid_plan_with_known_keys():
    """The skill and the product cannot drift: every key a plan example uses is a field of the
    plan row model (or an alias the model accepts), and it validates."""
    from conductor_tui.core.plan import plan_from_data
    from conductor_tui.core.records import PlanRow, WorkflowPlan

    examples = _json_examples(SKILL.read_text())
    assert examples, "the skill shows at least one plan"
    aliases = {"dag_test"}  # the skill's name for the spec's dag_test_result
    for doc in examples:
        assert set(doc) <= set(WorkflowPlan.model_fields), set(doc) - set(WorkflowPlan.model_fields)
        for row in doc["subtasks"]:
            unknown = set(row) - set(PlanRow.model_fields) - aliases
            assert not unknown, f"skill example uses keys the product ignores: {unknown}"
        plan = plan_from_data(doc, source="session")
        for raw, row in zip(doc["subtasks"], plan.subtasks, strict=True):
            if "dag_test" in raw:
                assert row.dag_test_result is not None
                assert row.dag_test_result.model_dump(exclude_unset=False) == {
                    k: raw["dag_test"].get(k) for k in ("dag", "script", "fanout", "synthesis")
                }
            assert not row.extras, f"keys kept as unknown extras: {row.extras}"


def test_a_failed_dag_test_under_the_skill_key_routes_to_claude(tmp_path):
    from conductor_tui.core.loop import Conductor
    from conductor_tui.core.plan import plan_from_data

    plan = plan_from_data(
        {
            "meta_task": "m",
            "subtasks": [
                {
                    "id": "s1",
                    "description": "Reconcile the two config schemas",
                    "task_type": "cross-file-analysis",
                    "delegability_category": "ensemble-delegable",
                    "dag_test": {"dag": False, "script": True, "fanout": True, "synthesis": True},
                }
            ],
        },
        source="session",
    )
    routed = Conductor(tmp_path).route_plan(plan, lambda _t: ["analyse-files"])
    row = routed.subtasks[0]
    assert row.handler == "claude" and "DAG-decomposable" in (row.route_reason or "")
