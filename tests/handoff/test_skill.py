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
