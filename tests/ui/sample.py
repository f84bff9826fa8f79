"""Fixed sample data for the cockpit's tests, snapshots, screenshots and benchmarks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from conductor_tui.core.records import DagTestResult, Delegability, PlanRow, WorkflowPlan

FIXED_NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


ENSEMBLES = {
    "extract-endpoints": """
name: extract-endpoints
description: Extract HTTP endpoints (method, path, handler) from source files
agents:
  - name: extractor
    model: qwen3:1.7b
    provider: ollama
    system_prompt: List every HTTP endpoint as a markdown table.
""",
    "summarize-files": """
name: summarize-files
description: Summarize files in parallel, then merge the summaries
agents:
  - name: skim-a
    model: qwen3:1.7b
    provider: ollama
    system_prompt: Summarize the first half.
  - name: skim-b
    model: gemma3:1b
    provider: ollama
    system_prompt: Summarize the second half.
  - name: merge
    model: qwen3:1.7b
    provider: ollama
    depends_on: [skim-a, skim-b]
    system_prompt: Merge the two summaries.
""",
    "classify-issues": """
name: classify-issues
description: Label issues bug / feature / question
agents:
  - name: classifier
    model: llama3.1:70b
    provider: ollama
    system_prompt: Label the issue.
""",
}


def make_project(root: Path, *, ensembles: bool = True, plan: WorkflowPlan | None = None) -> Path:
    """A project with ``.llm-orc/`` (ensembles, and a plan in workflow-plans.jsonl)."""
    llm_orc = root / ".llm-orc"
    (llm_orc / "evaluations").mkdir(parents=True, exist_ok=True)
    if ensembles:
        folder = llm_orc / "ensembles"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in ENSEMBLES.items():
            (folder / f"{name}.yaml").write_text(text.lstrip(), encoding="utf-8")
    if plan is not None:
        with (llm_orc / "evaluations" / "workflow-plans.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(plan.to_json_dict()) + "\n")
    return root


def dag(*marks: bool | None) -> DagTestResult:
    return DagTestResult(dag=marks[0], script=marks[1], fanout=marks[2], synthesis=marks[3])


def mixed_plan() -> WorkflowPlan:
    """The spec's example shape: agent-, ensemble-delegable and Claude-only rows."""
    rows = [
        PlanRow(
            id="r-01",
            description="Extract the HTTP endpoints from server.py and routes/*.py",
            task_type="extraction",
            delegability_category=Delegability.AGENT,
            handler="extract-endpoints",
            expected_repetitions=6,
            estimated_local_tokens=4200,
            estimated_claude_tokens=3500,
        ),
        PlanRow(
            id="r-02",
            description="Summarize each module touched by the promotion flow",
            task_type="summarization",
            delegability_category=Delegability.AGENT,
            handler="summarize-files",
            expected_repetitions=4,
            estimated_local_tokens=9600,
            estimated_claude_tokens=8000,
        ),
        PlanRow(
            id="r-03",
            description="Cross-file analysis: where is PromotionHandler state mutated?",
            task_type="cross-file-analysis",
            delegability_category=Delegability.ENSEMBLE,
            dag_test_result=dag(True, True, True, True),
            handler="create-ensemble",
            expected_repetitions=3,
            estimated_local_tokens=14000,
        ),
        PlanRow(
            id="r-04",
            description="Label the 40 open issues as bug / feature / question",
            task_type="classification",
            delegability_category=Delegability.AGENT,
            handler="classify-issues",
            expected_repetitions=40,
            estimated_local_tokens=12000,
            estimated_claude_tokens=10000,
        ),
        PlanRow(
            id="r-05",
            description="Design the PromotionHandler API (interacting constraints)",
            task_type="architectural-design",
            delegability_category=Delegability.CLAUDE,
            dag_test_result=dag(False, None, False, True),
            handler="claude",
            claude_only_criterion="interacting constraints",
            expected_repetitions=1,
            estimated_claude_tokens=6000,
        ),
        PlanRow(
            id="r-06",
            description="Review the test plan for gaps",
            task_type="holistic-review",
            delegability_category=Delegability.CLAUDE,
            handler="claude",
            preparation_ensemble="summarize-files",
            claude_only_criterion="holistic judgment",
            expected_repetitions=1,
            estimated_local_tokens=3000,
            estimated_claude_tokens=2500,
        ),
        PlanRow(
            id="r-07",
            description="Generate boilerplate tests for the new handler",
            task_type="boilerplate-generation",
            delegability_category=Delegability.AGENT,
            handler="create-ensemble",
            expected_repetitions=8,
            estimated_local_tokens=7000,
        ),
    ]
    return WorkflowPlan(
        id="plan-promotion",
        revision=1,
        timestamp=FIXED_NOW,
        meta_task="Build the PromotionHandler",
        session="session-42",
        source="session",
        subtasks=rows,
    )


def big_plan(rows: int = 500) -> WorkflowPlan:
    base = mixed_plan().subtasks
    out = []
    for index in range(rows):
        row = base[index % len(base)].model_copy(deep=True)
        row.id = f"r-{index:04d}"
        row.description = f"{row.description} (part {index})"
        out.append(row)
    return WorkflowPlan(
        id="plan-big", timestamp=FIXED_NOW, meta_task="A big plan", source="session", subtasks=out
    )
