"""Regenerate the bundled demo project (deterministic): ``python tools/build_sample.py``.

A recorded conductor session: the PromotionHandler decomposition
(33 subtasks — 17 strongly delegable, 4 borderline, 12 Claude-only), plus two
earlier sessions that calibrated ``extract-code-patterns`` and failed a
``triage-issue-labels`` ensemble.  Every file is written with fixed timestamps,
so running the script twice gives identical bytes.  The generated files are
committed and ship in the wheel (``conductor_tui/demo/sample_project``); this script is for
maintainers and stays out of the wheel.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core.records import RoutingThresholds
from conductor_tui.core.rules import estimate_claude_tokens

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent / "conductor_tui" / "demo" / "sample_project"
LLM_ORC = ROOT / ".llm-orc"
EVALS = LLM_ORC / "evaluations"

META_TASK = "Build a PromotionHandler for llm-orc's MCP server (promote/demote ensembles across tiers)"
SESSION = "2026-11-19-promotion-handler"
# the routing config's default local → Claude token ratio (see the glossary: token savings)
RATIO = RoutingThresholds().local_to_claude_token_ratio


def ts(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- the plan
# (phase, description, task_type, category, handler planned, borderline, claude criterion)
ROWS: list[tuple[str, str, str, str, str, bool, str | None]] = [
    ("Research", "Extract handler signatures from handlers/invoke_handler.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Extract handler signatures from handlers/list_handler.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Extract handler signatures from handlers/validate_handler.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Extract MCP tool registration pattern from server.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Extract config access patterns from config/manager.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Extract fixture patterns from tests/handlers/test_invoke_handler.py", "extraction", "agent-delegable", "extract-code-patterns", False, None),
    ("Research", "Trace how ensembles resolve across local, library and global tiers", "cross-file-analysis", "ensemble-delegable", "create-ensemble", False, None),
    ("Design", "Design the PromotionHandler public API", "architectural-design", "claude-only", "claude", False, "aesthetic judgment (API shape)"),
    ("Design", "Design promotion data flow and error model", "architectural-design", "claude-only", "claude", False, "interacting constraints"),
    ("Build", "Implement promote_ensemble() core logic", "multi-constraint-code", "claude-only", "claude", False, "interacting constraints"),
    ("Build", "Implement profile dependency resolution for promotion", "dependency-resolution", "claude-only", "claude", False, "recursive reconsideration"),
    ("Build", "Implement script portability checks", "multi-constraint-code", "claude-only", "claude", False, "interacting constraints"),
    ("Build", "Decide where PromotionHandler hooks into the handler registry", "architectural-design", "claude-only", "claude", False, "holistic judgment"),
    ("Build", "Add PromotionHandler imports to server.py", "template-fill", "agent-delegable", "create-ensemble", False, None),
    ("Build", "Add _setup_promotion_handler() following the existing setup methods", "template-fill", "agent-delegable", "create-ensemble", False, None),
    ("Build", "Add promote/demote entries to the dispatch table", "template-fill", "agent-delegable", "create-ensemble", False, None),
    ("Build", "Register the promote_ensemble tool schema", "template-fill", "agent-delegable", "create-ensemble", False, None),
    ("Build", "Wire PromotionHandler into config reload", "template-fill", "agent-delegable", "create-ensemble", False, None),
    ("Build", "Decide demotion semantics for library ensembles", "architectural-design", "claude-only", "claude", False, "holistic judgment"),
    ("Build", "Fix lint violations in promotion_handler.py (E501, F401)", "mechanical-transform", "agent-delegable", "fix-lint-violations", False, None),
    ("Test", "Write the first 3 PromotionHandler tests (establish the pattern)", "test-design", "claude-only", "claude", False, "novel insight (establishes the pattern)"),
    ("Test", "Generate tests: promote to global tier (8 cases)", "boilerplate-generation", "agent-delegable", "generate-test-cases", True, None),
    ("Test", "Generate tests: missing profile dependencies (7 cases)", "boilerplate-generation", "agent-delegable", "generate-test-cases", True, None),
    ("Test", "Generate tests: script portability (8 cases)", "boilerplate-generation", "agent-delegable", "generate-test-cases", True, None),
    ("Test", "Generate tests: demotion and library tier (7 cases)", "boilerplate-generation", "agent-delegable", "generate-test-cases", True, None),
    ("Test", "Debug failing test_promote_overwrites_existing", "debugging", "claude-only", "claude", False, "recursive reconsideration"),
    ("Test", "Debug tier-resolution race in the tmp-home fixture", "debugging", "claude-only", "claude", False, "recursive reconsideration"),
    ("Test", "Fix lint violations in test_promotion_handler.py", "mechanical-transform", "agent-delegable", "fix-lint-violations", False, None),
    ("Release", "Write the CHANGELOG entry for 0.14.0", "summarization", "agent-delegable", "write-changelog", False, None),
    ("Release", "Write the commit message for the PromotionHandler feature", "summarization", "agent-delegable", "write-commit-message", False, None),
    ("Release", "Bump version to 0.14.0 in pyproject.toml and __init__.py", "mechanical-transform", "agent-delegable", "claude", False, None),
    ("Release", "Review the final diff for cross-cutting issues", "code-review", "claude-only", "claude", False, "holistic judgment"),
    ("Release", "Write release-note highlights for users", "release-notes", "claude-only", "claude", False, "aesthetic judgment"),
]  # fmt: skip

# How each row was actually handled: (routed_to, reason, local_tokens | None, claude_tokens | None)
# Local rows carry the ensemble's tokens; Claude rows their real Claude tokens.
ACTUAL: dict[int, tuple[str, str, int | None, int | None]] = {
    1: ("extract-code-patterns", "standing-auth", 1840, None),
    2: ("extract-code-patterns", "standing-auth", 1620, None),
    3: ("extract-code-patterns", "standing-auth", 1710, None),
    4: ("extract-code-patterns", "standing-auth", 2260, None),
    5: ("extract-code-patterns", "standing-auth", 1930, None),
    6: ("extract-code-patterns", "standing-auth", 2480, None),
    7: ("claude", "no-ensemble", None, 5200),
    8: ("claude", "competence-boundary", None, 6100),
    9: ("claude", "competence-boundary", None, 5400),
    10: ("claude", "competence-boundary", None, 9800),
    11: ("claude", "competence-boundary", None, 7300),
    12: ("claude", "competence-boundary", None, 6600),
    13: ("claude", "competence-boundary", None, 3900),
    14: ("claude", "no-ensemble", None, 900),
    15: ("claude", "no-ensemble", None, 1400),
    16: ("wire-handler-dispatch", "user-confirmed", 1380, None),
    17: ("wire-handler-dispatch", "user-confirmed", 1560, None),
    18: ("wire-handler-dispatch", "user-confirmed", 1490, None),
    19: ("claude", "competence-boundary", None, 4100),
    20: ("fix-lint-violations", "user-confirmed", 820, None),
    21: ("claude", "competence-boundary", None, 7900),
    22: ("generate-test-cases", "user-confirmed", 4620, None),
    23: ("generate-test-cases", "user-confirmed", 4150, None),
    24: ("generate-test-cases", "user-confirmed", 4380, None),
    25: ("claude", "calibration-fallback", None, 4700),
    26: ("claude", "competence-boundary", None, 6900),
    27: ("claude", "competence-boundary", None, 5800),
    28: ("fix-lint-violations", "user-confirmed", 960, None),
    29: ("write-changelog", "user-confirmed", 1240, None),
    30: ("write-commit-message", "user-confirmed", 1090, None),
    31: ("claude", "complexity-floor", None, 350),
    32: ("claude", "competence-boundary", None, 8200),
    33: ("claude", "competence-boundary", None, 2600),
}

# When each row ran (day, hour, minute).
WHEN: dict[int, tuple[int, int, int]] = {
    **{i: (19, 9, 10 + 6 * (i - 1)) for i in range(1, 7)},
    7: (19, 9, 50),
    8: (19, 10, 20),
    9: (19, 10, 55),
    10: (19, 13, 5),
    11: (19, 14, 10),
    12: (19, 15, 0),
    13: (19, 15, 40),
    14: (19, 16, 0),
    15: (19, 16, 12),
    16: (19, 16, 48),
    17: (19, 16, 55),
    18: (19, 17, 3),
    19: (19, 17, 30),
    20: (19, 17, 52),
    21: (20, 9, 5),
    22: (20, 9, 40),
    23: (20, 9, 58),
    24: (20, 10, 16),
    25: (20, 10, 45),
    26: (20, 11, 20),
    27: (20, 13, 15),
    28: (20, 14, 2),
    29: (20, 14, 30),
    30: (20, 14, 41),
    31: (20, 14, 50),
    32: (20, 15, 10),
    33: (20, 15, 40),
}

# Evaluations of this session's runs: row → (score, reasoning, failure_mode, feedback)
SESSION_EVALS: dict[int, tuple[str, str, str | None, str | None]] = {
    2: (
        "good",
        "All 9 public methods extracted with decorators and return types; matches the file.",
        None,
        None,
    ),
    5: (
        "acceptable",
        "Config access calls captured, but two indirect reads through _get_tier() were missed.",
        None,
        None,
    ),
    16: (
        "good",
        "Dispatch entries follow the table's existing shape exactly; both handlers reachable.",
        None,
        None,
    ),
    17: ("good", "Schema mirrors invoke_ensemble's; required fields and descriptions correct.", None, None),
    18: (
        "acceptable",
        "Reload hook correct; forgot to clear the handler's cached tier map (one-line fix).",
        None,
        None,
    ),
    20: (
        "good",
        "Minimal fixes: wrapped two long lines, removed the unused import. Nothing else touched.",
        None,
        None,
    ),
    22: ("good", "8 tests, each with arrange/act/assert in the established style; all pass.", None, None),
    23: (
        "acceptable",
        "7 tests follow the pattern; one asserts on a message string that should use the constant.",
        None,
        None,
    ),
    24: (
        "poor",
        "Only 5 of the 8 requested cases; the hard-coded-path and missing-interpreter cases are absent and the "
        "last test has no assertion.",
        "incomplete",
        "Missing the three cases I asked for — falling back to Claude for the rest of the tests.",
    ),
}

PRIOR_EXTRACT = [  # earlier sessions: invocations 1-6 of extract-code-patterns
    ((16, 10, 4), "Extract route handlers from api/routes.py", 1510, "good", "Every route with method, path and handler; no inventions."),
    ((16, 10, 31), "Extract dataclass fields from models/ensemble.py", 1320, "good", "All 14 fields with types and defaults."),
    ((16, 11, 2), "Extract CLI command signatures from cli/commands.py", 1980, "acceptable", "Signatures right; click option help texts truncated."),
    ((16, 14, 40), "Extract fixture names from tests/conftest.py", 1150, "good", "Complete list, scopes correct."),
    ((17, 9, 12), "Extract provider interface from models/base.py", 1420, "good", "Abstract methods and signatures exact."),
    ((17, 9, 48), "Extract error classes from core/errors.py", 990, None, None),
]  # fmt: skip

PRIOR_TRIAGE = [  # a failed calibration (2 poor in 5): triage-issue-labels returned to Design
    ((16, 15, 5), "Label issue #212 (flaky ollama timeout)", 640, "good", "Labels bug + provider, matching the maintainers' usage.", None),
    ((16, 15, 20), "Label issue #213 (windows path handling)", 590, "acceptable", "Right labels, but added 'help wanted' nobody asked for.", None),
    ((16, 15, 36), "Label issue #215 (docs typo in README)", 610, "poor", "Invented a 'documentation-critical' label that does not exist in the repo.", "hallucination"),
    ((17, 11, 5), "Label issue #218 (crash on empty ensemble)", 660, "good", "bug + core, correct.", None),
    ((17, 11, 36), "Label issue #219 (feature request: loop agents)", 700, "poor", "Answered with a summary of the issue instead of labels.", "off-topic"),
]  # fmt: skip

PRIOR_CLAUDE = [  # Claude-handled decisions from the earlier sessions
    ((16, 9, 30), "Plan the provider refactor", "architectural-design", "claude-only", "competence-boundary", 6400),
    ((16, 13, 10), "Debug ensemble timeout propagation", "debugging", "claude-only", "competence-boundary", 5100),
    ((17, 10, 2), "Trace how fan-out results are gathered across modules", "cross-file-analysis", "ensemble-delegable", "no-ensemble", 4300),
    ((17, 11, 52), "Label issue #221 (after triage-issue-labels failed calibration)", "classification", "agent-delegable", "calibration-fallback", 380),
]  # fmt: skip


# ----------------------------------------------------------------------------- artifacts

ARTIFACT_OUTPUTS: dict[str, str] = {
    "extract-6": json.dumps(
        {
            "fixtures": [
                {"name": "tmp_project", "scope": "function", "yields": "Path", "uses": ["tmp_path"]},
                {
                    "name": "config_manager",
                    "scope": "function",
                    "yields": "ConfigurationManager",
                    "uses": ["tmp_project"],
                },
                {
                    "name": "handler",
                    "scope": "function",
                    "yields": "InvokeHandler",
                    "uses": ["config_manager"],
                },
            ],
            "patterns": [
                "Each test builds a project with tmp_project and writes one ensemble YAML",
                "Handlers are constructed through their fixture, never directly in a test",
                "Async tests use pytest.mark.asyncio and await handler.handle(arguments)",
            ],
        },
        indent=2,
    ),
    "lint-2": (
        "--- a/tests/test_promotion_handler.py\n+++ b/tests/test_promotion_handler.py\n"
        "@@ -1,6 +1,5 @@\n import json\n-import os\n from pathlib import Path\n \n import pytest\n"
        '@@ -88,7 +87,9 @@\n-    assert result["error"] == "Ensemble \'missing\' not found in local tier; searched .llm-orc/ensembles"\n'
        '+    assert result["error"] == (\n'
        "+        \"Ensemble 'missing' not found in local tier; searched .llm-orc/ensembles\"\n"
        "+    )\n"
    ),
    "changelog-1": (
        "## [0.14.0] - 2026-11-20\n\n### Added\n"
        "- `promote_ensemble` and `demote_ensemble` MCP tools: move an ensemble between the local,\n"
        "  global and library tiers, copying the model profiles it needs.\n"
        "- Promotion checks that scripts carry no hard-coded project paths.\n\n### Fixed\n"
        "- Tier resolution no longer prefers a stale global copy over a newer local ensemble.\n"
    ),
    "commit-1": (
        "feat(mcp): add PromotionHandler for cross-tier ensemble promotion\n\n"
        "Adds promote_ensemble/demote_ensemble tools. Promotion copies the ensemble\n"
        "and any model profiles missing at the destination tier, and refuses scripts\n"
        "that reference the project directory by absolute path.\n\n"
        "36 tests cover global/library promotion, dependency copying and demotion.\n"
    ),
    "tests-3": (
        "```python\n"
        "async def test_promote_rejects_script_with_absolute_path(handler, tmp_project):\n"
        '    write_ensemble(tmp_project, "scan", script="/home/dev/proj/scripts/scan.py")\n'
        '    result = await handler.handle({"ensemble_name": "scan", "tier": "global"})\n'
        '    assert result["success"] is False\n\n\n'
        "async def test_promote_accepts_relative_script(handler, tmp_project):\n"
        '    write_ensemble(tmp_project, "scan", script="scripts/scan.py")\n'
        '    result = await handler.handle({"ensemble_name": "scan", "tier": "global"})\n'
        '    assert result["success"] is True\n\n\n'
        "async def test_promote_copies_script_file(handler, tmp_project, global_dir):\n"
        '    write_ensemble(tmp_project, "scan", script="scripts/scan.py")\n'
        '    await handler.handle({"ensemble_name": "scan", "tier": "global"})\n'
        '    assert (global_dir / "scripts" / "scan.py").exists()\n\n\n'
        "async def test_promote_inline_script_needs_no_copy(handler, tmp_project):\n"
        '    write_ensemble(tmp_project, "echo", script="echo \'[bold]hi[/bold]\'")\n'
        '    result = await handler.handle({"ensemble_name": "echo", "tier": "global"})\n'
        '    assert result["copied_scripts"] == []\n\n\n'
        "async def test_promote_script_missing_interpreter(handler, tmp_project):\n"
        '    write_ensemble(tmp_project, "scan", script="scripts/scan.rb")\n'
        '    result = await handler.handle({"ensemble_name": "scan", "tier": "global"})\n'
        "```\n"
    ),
    "extract-5": json.dumps(
        {
            "reads": [
                {"call": "config.get_ensembles_dirs()", "line": 41},
                {"call": "config.global_config_dir", "line": 58},
                {"call": "config.load_project_config()", "line": 77},
            ],
            "writes": [{"call": "config.save_project_config(data)", "line": 103}],
        },
        indent=2,
    ),
}


def execution_json(
    ensemble: str, when: datetime, input_text: str, output: str, tokens: int, agents: list[str]
) -> dict[str, Any]:
    """The llm-orc execution.json shape (results per agent + metadata.usage)."""
    per = tokens // len(agents)
    usage_agents = {}
    results = {}
    for i, name in enumerate(agents):
        share = per if i < len(agents) - 1 else tokens - per * (len(agents) - 1)
        usage_agents[name] = {
            "input_tokens": int(share * 0.7),
            "output_tokens": share - int(share * 0.7),
            "total_tokens": share,
            "duration_ms": 900 + 40 * i + share // 3,
            "model": "qwen2.5-coder:7b" if "code" in name or "test" in ensemble else "llama3.2:3b",
        }
        last = i == len(agents) - 1
        results[name] = {
            "response": output if last else f"(intermediate output of {name})",
            "status": "success",
        }
    total_ms = sum(a["duration_ms"] for a in usage_agents.values())
    return {
        "ensemble": ensemble,
        "status": "completed",
        "input": {"data": input_text},
        "results": results,
        "synthesis": None,
        "metadata": {
            "duration": f"{total_ms / 1000:.2f}s",
            "started_at": when.timestamp(),
            "completed_at": (when + timedelta(milliseconds=total_ms)).timestamp(),
            "agents_used": len(agents),
            "usage": {
                "agents": usage_agents,
                "totals": {
                    "total_tokens": tokens,
                    "total_input_tokens": sum(a["input_tokens"] for a in usage_agents.values()),
                    "total_output_tokens": sum(a["output_tokens"] for a in usage_agents.values()),
                    "agents_count": len(agents),
                },
            },
        },
    }


ENSEMBLE_AGENTS = {
    "extract-code-patterns": ["read-files", "extract-patterns"],
    "generate-test-cases": ["gather-pattern", "generate-test"],
    "fix-lint-violations": ["apply-fix"],
    "write-changelog": ["summarize-diff", "write-entry"],
    "write-commit-message": ["summarize-diff", "write-message"],
    "wire-handler-dispatch": ["find-anchor", "fill-template"],
    "triage-issue-labels": ["label"],
}


# ----------------------------------------------------------------------------- build


def build(root: Path | None = None) -> dict[str, int]:
    """Write the sample project under ``root`` (default: the packaged ``sample_project``)."""
    global ROOT, LLM_ORC, EVALS
    saved = (ROOT, LLM_ORC, EVALS)
    if root is not None:
        ROOT = Path(root)
        LLM_ORC = ROOT / ".llm-orc"
        EVALS = LLM_ORC / "evaluations"
    try:
        return _build()
    finally:
        ROOT, LLM_ORC, EVALS = saved


class _Log:
    """The routing decisions, evaluations and artifacts of the sample sessions, as they happen."""

    def __init__(self) -> None:
        self.routing: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.invocations: dict[str, int] = {}
        self.artifacts: dict[str, tuple[str, datetime, str, str, int]] = {}

    def local_decision(
        self,
        rid,
        when,
        ensemble,
        task_type,
        summary,
        tokens,
        reason,
        session,
        *,
        plan_row=None,
        artifact_key=None,
        extra=None,
    ):
        self.invocations[ensemble] = self.invocations.get(ensemble, 0) + 1
        est = estimate_claude_tokens(tokens, RATIO)
        rec: dict[str, Any] = {
            "id": rid,
            "timestamp": iso(when),
            "task_type": task_type,
            "delegability_category": "agent-delegable",
            "dag_test_result": None,
            "task_summary": summary,
            "routed_to": ensemble,
            "reason": reason,
            "evaluation_summary": None,
            "standing_auth": reason == "standing-auth",
            "total_tokens_local": tokens,
            "estimated_claude_tokens": est,
            "tokens_saved": est,
            "ensemble": ensemble,
            "status": "completed",
            "session": session,
            "invocation_number": self.invocations[ensemble],
        }
        if plan_row is not None:
            rec["plan_id"] = "plan-promotion-handler"
            rec["row_id"] = f"r-{plan_row:02d}"
        if artifact_key:
            stamp = (when + timedelta(seconds=2)).strftime("%Y%m%d-%H%M%S-000")
            rec["artifact"] = f".llm-orc/artifacts/{ensemble}/{stamp}"
            self.artifacts[rec["artifact"]] = (ensemble, when, summary, artifact_key, tokens)
        rec.update(extra or {})
        self.routing.append(rec)
        return rec

    def claude_decision(
        self,
        rid,
        when,
        task_type,
        category,
        summary,
        reason,
        tokens,
        session,
        *,
        plan_row=None,
        criterion=None,
    ):
        rec: dict[str, Any] = {
            "id": rid,
            "timestamp": iso(when),
            "task_type": task_type,
            "delegability_category": category,
            "dag_test_result": (
                {"dag": True, "script": True, "fanout": True, "synthesis": True}
                if category == "ensemble-delegable"
                else None
            ),
            "task_summary": summary,
            "routed_to": "claude",
            "reason": reason,
            "evaluation_summary": None,
            "standing_auth": False,
            "total_tokens_local": 0,
            "estimated_claude_tokens": tokens,
            "tokens_saved": 0,
            "claude_tokens": tokens,
            "status": "completed",
            "session": session,
        }
        if criterion:
            rec["claude_only_criterion"] = criterion
        if plan_row is not None:
            rec["plan_id"] = "plan-promotion-handler"
            rec["row_id"] = f"r-{plan_row:02d}"
        self.routing.append(rec)
        return rec

    def evaluate(self, rec, when, score, reasoning, failure=None, feedback=None, phase=None, **extra):
        ens = rec["routed_to"]
        n = rec["invocation_number"]
        ev = {
            "id": f"ev-{rec['id'][3:]}",
            "timestamp": iso(when),
            "routing_id": rec["id"],
            "ensemble": ens,
            "task_type": rec["task_type"],
            "invocation_number": n,
            "phase": phase or ("calibrate" if n <= 5 else "establish"),
            "score": score,
            "reasoning": reasoning,
            "failure_mode": failure,
            "input_summary": rec["task_summary"],
            "output_length": extra.pop("output_length", 300 + (rec["total_tokens_local"] or 0) // 4),
            "user_feedback": feedback,
            "evaluator": extra.pop("evaluator", "human"),
            "session": rec["session"],
        }
        ev.update(extra)
        self.evaluations.append(ev)
        return ev


def _build() -> dict[str, int]:
    if LLM_ORC.exists():
        shutil.rmtree(LLM_ORC)
    EVALS.mkdir(parents=True)
    log = _Log()
    _earlier_sessions(log)
    log.routing.sort(key=lambda r: r["timestamp"])
    row_records = _session_rows(log)
    _session_evaluations(log, row_records)
    log.routing.sort(key=lambda r: r["timestamp"])
    log.evaluations.sort(key=lambda e: e["timestamp"])

    # --- routing-log.jsonl / evaluations.jsonl
    write_jsonl(EVALS / "routing-log.jsonl", log.routing)
    write_jsonl(EVALS / "evaluations.jsonl", log.evaluations)

    # --- workflow-plans.jsonl: proposed → decided → adapted → complete
    write_jsonl(EVALS / "workflow-plans.jsonl", plan_revisions(row_records))
    _write_artifacts(log.artifacts)
    _write_configs()

    # --- task-profiles.yaml
    write_yaml(EVALS / "task-profiles.yaml", task_profiles(log.routing, log.evaluations))

    # --- ensembles + profiles
    write_ensembles()
    return {"routing": len(log.routing), "evaluations": len(log.evaluations), "artifacts": len(log.artifacts)}


def _earlier_sessions(log: _Log) -> None:
    """Two earlier sessions: extract-code-patterns calibrated, triage-issue-labels failed."""
    for k, (when, summary, tokens, score, reasoning) in enumerate(PRIOR_EXTRACT, start=1):
        rec = log.local_decision(f"rt-prior-x{k:02d}", ts(*when), "extract-code-patterns", "extraction", summary, tokens,
                             "user-confirmed", "2026-11-16-provider-refactor")  # fmt: skip
        if score:
            log.evaluate(rec, ts(*when) + timedelta(minutes=3), score, reasoning)
    for k, (when, summary, tokens, score, reasoning, failure) in enumerate(PRIOR_TRIAGE, start=1):
        sess = "2026-11-16-provider-refactor" if when[0] == 16 else "2026-11-17-issue-triage"
        rec = log.local_decision(f"rt-prior-t{k:02d}", ts(*when), "triage-issue-labels", "classification", summary, tokens,
                             "user-confirmed", sess)  # fmt: skip
        fb = "Fell back to Claude for the rest of the session." if failure else None
        log.evaluate(rec, ts(*when) + timedelta(minutes=2), score, reasoning, failure, fb)
    for k, (when, summary, task_type, category, reason, tokens) in enumerate(PRIOR_CLAUDE, start=1):
        log.claude_decision(f"rt-prior-c{k:02d}", ts(*when), task_type, category, summary, reason, tokens,
                        "2026-11-16-provider-refactor" if when[0] == 16 else "2026-11-17-issue-triage")  # fmt: skip
    # config change: standing authorisation granted after extract-code-patterns passed calibration
    log.routing.append({
        "id": "rt-cfg-0002", "timestamp": iso(ts(17, 18, 0)), "event": "config-change",
        "reason": "Granted standing authorisation: extraction → extract-code-patterns (calibration passed 5/5)",
        "config_version": 2,
    })  # fmt: skip


def _session_rows(log: _Log) -> dict[int, dict[str, Any]]:
    """The PromotionHandler session's routing decisions, one per plan row."""
    row_records: dict[int, dict[str, Any]] = {}
    artifact_keys = {
        5: "extract-5",
        6: "extract-6",
        24: "tests-3",
        28: "lint-2",
        29: "changelog-1",
        30: "commit-1",
    }
    for i, (_phase, desc, task_type, category, _planned, borderline, criterion) in enumerate(ROWS, start=1):
        routed, reason, local, claude = ACTUAL[i]
        when = ts(*WHEN[i])
        rid = f"rt-1119-{i:02d}" if WHEN[i][0] == 19 else f"rt-1120-{i:02d}"
        if local is not None:
            extra = (
                {"calibration_context": "pattern-from-observation"}
                if routed == "wire-handler-dispatch"
                else None
            )
            rec = log.local_decision(rid, when, routed, task_type, desc, local, reason, SESSION, plan_row=i,
                                 artifact_key=artifact_keys.get(i), extra=extra)  # fmt: skip
        else:
            rec = log.claude_decision(rid, when, task_type, category, desc, reason, claude, SESSION, plan_row=i,
                                  criterion=criterion)  # fmt: skip
        if borderline:
            rec["borderline"] = True
        row_records[i] = rec
    return row_records


def _session_evaluations(log: _Log, row_records: dict[int, dict[str, Any]]) -> None:
    """The session's evaluations, sampling marks, the Claude judge's score and a config change."""
    for i, (score, reasoning, failure, feedback) in SESSION_EVALS.items():
        rec = row_records[i]
        extra: dict[str, Any] = {}
        if rec["routed_to"] == "wire-handler-dispatch":
            extra["calibration_context"] = "pattern-from-observation"
        log.evaluate(rec, ts(*WHEN[i]) + timedelta(minutes=4), score, reasoning, failure, feedback, **extra)
    # Establish-phase sampling decision recorded on the run (row 5 sampled & evaluated, row 6 sampled & pending)
    row_records[2]["sampled_for_evaluation"] = True
    row_records[5]["sampled_for_evaluation"] = True
    row_records[6]["sampled_for_evaluation"] = True
    # the judge (Claude) already scored the commit message; the person has not reviewed it yet
    rec = row_records[30]
    log.evaluate(
        rec, ts(20, 14, 43), "good",
        "Subject follows conventional commits, body explains why and what, mentions test coverage. "
        "No fabricated details: every claim is in the diff.",
        evaluator="claude", judge_score="good",
        judge_reasoning=(
            "Completeness: subject, body and test summary present. Correctness: every claim matches the diff "
            "(promote/demote tools, profile copying, path check). Format: conventional-commit subject under 72 "
            "characters, wrapped body. Hallucinations: none found."
        ),
        judge_tokens=412, output_length=len(ARTIFACT_OUTPUTS["commit-1"]),
    )  # fmt: skip
    # config change on day 2: sampling rate raised after the poor test batch
    log.routing.append({
        "id": "rt-cfg-0003", "timestamp": iso(ts(20, 16, 5)), "event": "config-change",
        "reason": "Raised establish sampling 0.15 → 0.2 after generate-test-cases scored poor",
        "config_version": 3,
    })  # fmt: skip


def _write_artifacts(artifacts: dict[str, tuple[str, datetime, str, str, int]]) -> None:
    for rel, (ensemble, when, summary, key, tokens) in artifacts.items():
        folder = ROOT / rel
        folder.mkdir(parents=True, exist_ok=True)
        data = execution_json(
            ensemble, when, summary, ARTIFACT_OUTPUTS[key], tokens, ENSEMBLE_AGENTS[ensemble]
        )
        (folder / "execution.json").write_text(json.dumps(data, indent=2) + "\n")


def _write_configs() -> None:
    """routing-config.yaml (v3) and its backups v1, v2."""
    base_thresholds = {
        "calibration_period": 5,
        "sampling_rate_established": 0.15,
        "trusted_threshold_uses": 20,
        "trusted_threshold_good_ratio": 0.8,
        "repetition_threshold": 3,
    }
    auth = [
        {"task_type": "extraction", "ensemble": "extract-code-patterns", "granted_date": iso(ts(17, 18, 0))}
    ]
    v1 = {
        "version": 1,
        "starter_kit_offered": True,
        "standing_authorizations": [],
        "routing_thresholds": base_thresholds,
    }
    v2 = {**v1, "version": 2, "standing_authorizations": auth}
    v3 = {**v2, "version": 3, "routing_thresholds": {**base_thresholds, "sampling_rate_established": 0.2}}
    write_yaml(EVALS / "routing-config.v1.yaml", v1)
    write_yaml(EVALS / "routing-config.v2.yaml", v2)
    write_yaml(EVALS / "routing-config.yaml", v3)


def _plan_row(
    row_records: dict[int, dict[str, Any]],
    i: int,
    status: str,
    handler: str,
    note: str | None = None,
    original: str | None = None,
    decided=None,
):
    """Plan row ``i`` (1-based) in one revision."""
    phase, desc, task_type, category, planned, borderline, criterion = ROWS[i - 1]
    local_est = {"extraction": 1900, "template-fill": 1450, "mechanical-transform": 900,
                 "boilerplate-generation": 4400, "summarization": 1200, "cross-file-analysis": 5600}.get(task_type)  # fmt: skip
    out: dict[str, Any] = {
        "id": f"r-{i:02d}",
        "description": desc,
        "task_type": task_type,
        "delegability_category": category,
        "dag_test_result": (
            {"dag": True, "script": True, "fanout": True, "synthesis": True}
            if category == "ensemble-delegable"
            else None
        ),
        "phase": phase,
        "handler": handler,
        "claude_only_criterion": criterion,
        "depends_on": [] if i == 1 else [f"r-{i - 1:02d}"] if phase != ROWS[i - 2][0] else [],
        "expected_repetitions": {"extraction": 6, "template-fill": 5, "boilerplate-generation": 4}.get(
            task_type
        ),
        "estimated_local_tokens": local_est if category != "claude-only" else None,
        "estimated_claude_tokens": estimate_claude_tokens(local_est, RATIO)
        if local_est and category != "claude-only"
        else None,
        "status": status,
        "note": note,
        "original_handler": original,
        "decided_at": decided,
        "routing_id": row_records[i]["id"] if status == "done" else None,
    }
    if borderline:
        out["borderline"] = True
    return out


def _decided_handler(i: int) -> tuple[str, str | None, str | None]:
    planned = ROWS[i - 1][4]
    if i == 31:
        return "claude", "Trivial — below the complexity floor, just do it.", planned
    return planned, None, None


def plan_revisions(row_records: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    t0 = iso(ts(19, 8, 40))
    t1 = iso(ts(19, 8, 55))
    t2 = iso(ts(19, 16, 30))
    t3 = iso(ts(20, 10, 40))
    t4 = iso(ts(20, 15, 55))
    proposed = [_plan_row(row_records, i, "pending", ROWS[i - 1][4]) for i in range(1, 34)]

    decided = []
    for i in range(1, 34):
        handler, note, original = _decided_handler(i)
        decided.append(_plan_row(row_records, i, "approved", handler, note, original, t1))
    adapted = []
    for i in range(1, 34):
        handler, note, original = _decided_handler(i)
        status = "done" if i <= 15 else "approved"
        if 16 <= i <= 18:
            handler, note, original = (
                "wire-handler-dispatch",
                "Designed after Claude did rows 14-15 (pattern-from-observation).",
                "create-ensemble",
            )
        if i in (7, 14, 15):
            handler, note, original = (
                "claude",
                "Interim — ensemble requested from the designer.",
                "create-ensemble",
            )
        adapted.append(_plan_row(row_records, i, status, handler, note, original, t1))
    complete = []
    for i in range(1, 34):
        r = dict(adapted[i - 1])
        r["status"] = "done"
        r["routing_id"] = row_records[i]["id"]
        if i == 25:
            r["handler"] = "claude"
            r["original_handler"] = "generate-test-cases"
            r["note"] = "generate-test-cases scored poor during calibration — falling back to Claude."
        complete.append(r)
    base = {"id": "plan-promotion-handler", "meta_task": META_TASK, "session": SESSION, "source": "session"}
    return [
        {**base, "revision": 1, "timestamp": t0, "status": "proposed", "subtasks": proposed,
         "change": "Proposed: 33 subtasks — 17 strongly delegable, 4 borderline, 12 Claude-only"},
        {**base, "revision": 2, "timestamp": t1, "status": "decided", "subtasks": decided,
         "change": "Approved all rows; row 31 (version bump) overridden to Claude"},
        {**base, "revision": 3, "timestamp": t2, "status": "running", "subtasks": adapted,
         "change": "Rows 16-18 assigned to the new wire-handler-dispatch ensemble; rows 7, 14, 15 handled by Claude (interim)"},
        {**base, "revision": 4, "timestamp": t3, "status": "running", "subtasks": [
            {**r, "status": "done" if i <= 24 else r["status"], "routing_id": row_records[i]["id"] if i <= 24 else r["routing_id"]}
            | ({"handler": "claude", "original_handler": "generate-test-cases",
                "note": "generate-test-cases scored poor during calibration — falling back to Claude."} if i == 25 else {})
            for i, r in enumerate(adapted, start=1)],
         "change": "Row 25 reassigned to Claude after generate-test-cases scored poor (calibration fallback)"},
        {**base, "revision": 5, "timestamp": t4, "status": "complete", "subtasks": complete,
         "change": "All 33 subtasks done"},
    ]  # fmt: skip


def task_profiles(routing: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    def counts(ensemble: str) -> dict[str, Any]:
        uses = [r for r in routing if r.get("routed_to") == ensemble]
        evs = [e for e in evaluations if e["ensemble"] == ensemble and e.get("evaluator") == "human"]
        return {
            "ensemble": ensemble,
            "invocation_count": len(uses),
            "good_count": sum(e["score"] == "good" for e in evs),
            "acceptable_count": sum(e["score"] == "acceptable" for e in evs),
            "poor_count": sum(e["score"] == "poor" for e in evs),
            "last_used": max(r["timestamp"] for r in uses),
        }

    return {
        "extraction": {"phase": "establish", **counts("extract-code-patterns"), "delegability_category": "agent-delegable"},
        "template-fill": {"phase": "calibrate", **counts("wire-handler-dispatch"), "delegability_category": "agent-delegable",
                          "design_requested": iso(ts(19, 16, 5)), "interim_claude_count": 2},
        "boilerplate-generation": {"phase": "calibrate", **counts("generate-test-cases"), "delegability_category": "agent-delegable",
                                   "interim_claude_count": 1},
        "mechanical-transform": {"phase": "calibrate", **counts("fix-lint-violations"), "delegability_category": "agent-delegable",
                                 "interim_claude_count": 1},
        "summarization": {"phase": "calibrate", **counts("write-changelog"), "delegability_category": "agent-delegable"},
        "cross-file-analysis": {"phase": "design", "ensemble": None, "delegability_category": "ensemble-delegable",
                                "design_requested": iso(ts(17, 10, 5)), "interim_claude_count": 2},
        "classification": {"phase": "design", **counts("triage-issue-labels"), "delegability_category": "agent-delegable",
                           "interim_claude_count": 1},
        "dependency-resolution": {"phase": "design", "ensemble": None, "delegability_category": "claude-only",
                                  "design_rejected": True,
                                  "rejection_reason": "Resolving profile chains needs backtracking when a fallback profile is "
                                                      "itself missing — violates the DAG constraint."},
    }  # fmt: skip


ENSEMBLES: dict[str, dict[str, Any]] = {
    "extract-code-patterns": {
        "name": "extract-code-patterns",
        "description": "Read code files and extract structural patterns (signatures, decorators, imports) as JSON.",
        "agents": [
            {"name": "read-files", "script": "scripts/read_files.py", "parameters": {"max_bytes": 60000}},
            {"name": "extract-patterns", "depends_on": ["read-files"], "model_profile": "coder-local",
             "system_prompt": "Extract function/class signatures, decorators and imports. Answer with JSON only.",
             "ollama_format": "json"},
        ],
    },
    "generate-test-cases": {
        "name": "generate-test-cases",
        "description": "Given a test pattern, a method signature and the expected behaviour, write one pytest case per item.",
        "agents": [
            {"name": "gather-pattern", "script": "scripts/gather_pattern.py"},
            {"name": "generate-test", "depends_on": ["gather-pattern"], "fan_out": True, "model_profile": "coder-local",
             "system_prompt": "Write one pytest test following the given pattern exactly. Code only."},
        ],
    },
    "fix-lint-violations": {
        "name": "fix-lint-violations",
        "description": "Given file, line, rule and violation, produce the minimal fix as a unified diff.",
        "agents": [
            {"name": "apply-fix", "model_profile": "micro-local",
             "system_prompt": "Produce the smallest unified diff that fixes the violation. Change nothing else."},
        ],
    },
    "write-changelog": {
        "name": "write-changelog",
        "description": "Given a diff, write a CHANGELOG entry in the project's Keep a Changelog format.",
        "agents": [
            {"name": "summarize-diff", "model_profile": "small-local", "system_prompt": "List the user-visible changes."},
            {"name": "write-entry", "depends_on": ["summarize-diff"], "model_profile": "small-local",
             "system_prompt": "Write a Keep a Changelog entry (Added/Changed/Fixed) from the list."},
        ],
    },
    "write-commit-message": {
        "name": "write-commit-message",
        "description": "Given a staged diff, write a conventional-commit message.",
        "agents": [
            {"name": "summarize-diff", "model_profile": "small-local", "system_prompt": "Summarise what changed and why."},
            {"name": "write-message", "depends_on": ["summarize-diff"], "model_profile": "small-local",
             "system_prompt": "Write a conventional-commit message: subject under 72 characters, wrapped body."},
        ],
    },
    "wire-handler-dispatch": {
        "name": "wire-handler-dispatch",
        "description": "Fill server wiring (imports, setup method, dispatch entry, tool schema) following existing handlers.",
        "agents": [
            {"name": "find-anchor", "script": "scripts/find_anchor.py"},
            {"name": "fill-template", "depends_on": ["find-anchor"], "model_profile": "coder-local",
             "system_prompt": "Fill the wiring snippet following the anchor's pattern. Code only."},
        ],
    },
    "triage-issue-labels": {
        "name": "triage-issue-labels",
        "description": "Suggest labels for a GitHub issue from the repository's label set.",
        "agents": [{"name": "label", "model_profile": "micro-local", "system_prompt": "Pick labels from the given set."}],
    },
}  # fmt: skip

SCRIPTS = {
    "read_files.py": (
        '#!/usr/bin/env python3\n"""Read the files named in the input and pass their text on (llm-orc script agent)."""\n\n'
        "import json\nimport sys\nfrom pathlib import Path\n\n"
        'payload = json.load(sys.stdin)\nlimit = payload.get("parameters", {}).get("max_bytes", 60000)\n'
        'names = [n for n in str(payload.get("input", "")).split() if Path(n).is_file()]\n'
        'files = {n: Path(n).read_text(errors="replace")[:limit] for n in names}\n'
        'print(json.dumps({"success": True, "data": files, "error": None}))\n'
    ),
    "gather_pattern.py": (
        '#!/usr/bin/env python3\n"""Collect the first tests of a file as the pattern to follow."""\n\n'
        "import json\nimport sys\n\npayload = json.load(sys.stdin)\n"
        'items = [line for line in str(payload.get("input", "")).splitlines() if line.strip()]\n'
        'print(json.dumps({"success": True, "data": items, "error": None}))\n'
    ),
    # Deliberately not portable: a hard-coded project path (the promotion check flags it).
    "find_anchor.py": (
        '#!/usr/bin/env python3\n"""Find the wiring anchor in the MCP server."""\n\n'
        "import json\nimport sys\nfrom pathlib import Path\n\n"
        'SERVER = Path("/home/dev/src/llm-orc/src/llm_orc/mcp/server.py")\n'
        "payload = json.load(sys.stdin)\ntext = SERVER.read_text()\n"
        'anchor = text.index("_setup_invoke_handler")\n'
        'print(json.dumps({"success": True, "data": text[anchor : anchor + 2000], "error": None}))\n'
    ),
}


def write_ensembles() -> None:
    ens_dir = LLM_ORC / "ensembles"
    ens_dir.mkdir(parents=True, exist_ok=True)
    for name, data in ENSEMBLES.items():
        write_yaml(ens_dir / f"{name}.yaml", data)
    scripts = LLM_ORC / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    for name, text in SCRIPTS.items():
        (scripts / name).write_text(text)
    write_yaml(
        LLM_ORC / "config.yaml",
        {
            "model_profiles": {
                "micro-local": {"model": "qwen3:0.6b", "provider": "ollama", "timeout_seconds": 60},
                "small-local": {"model": "llama3.2:3b", "provider": "ollama", "timeout_seconds": 90},
            }
        },
    )
    profiles = LLM_ORC / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    write_yaml(
        profiles / "coder-local.yaml",
        {
            "name": "coder-local",
            "model": "qwen2.5-coder:7b",
            "provider": "ollama",
            "timeout_seconds": 120,
            "options": {"temperature": 0.2, "num_ctx": 8192},
            "fallback_model_profile": "small-local",
        },
    )


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    print(build())
