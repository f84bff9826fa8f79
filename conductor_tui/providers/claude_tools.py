"""What Claude is asked: the forced tools' JSON schemas (the plan, the evaluation) and the
planner's and judge's system prompts (no Textual)."""

from __future__ import annotations

from conductor_tui.core.records import Delegability, FailureMode, Score

CLAUDE_ONLY_CRITERIA = [
    "recursive-reconsideration",
    "interacting-constraints",
    "holistic-judgment",
    "novel-insight",
    "aesthetic-judgment",
]


_DAG_SCHEMA = {
    "type": "object",
    "description": "DAG decomposability test; null when not applied (agent-delegable).",
    "properties": {
        "dag": {"type": ["boolean", "null"], "description": "breaks into a DAG of agents, no cycles"},
        "script": {"type": ["boolean", "null"], "description": "non-LLM work absorbable by scripts"},
        "fanout": {
            "type": ["boolean", "null"],
            "description": "LLM work divides into bounded per-item tasks",
        },
        "synthesis": {"type": ["boolean", "null"], "description": "synthesis combines structured outputs"},
    },
    "required": ["dag", "script", "fanout", "synthesis"],
}

PLAN_TOOL = {
    "name": "submit_plan",
    "description": "Submit the workflow plan for the meta-task: phases and ordered subtasks.",
    "input_schema": {
        "type": "object",
        "properties": {
            "phases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "goal": {"type": "string"}},
                    "required": ["name"],
                },
            },
            "subtasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "short id, e.g. s1"},
                        "description": {"type": "string"},
                        "phase": {"type": "string"},
                        "task_type": {
                            "type": "string",
                            "description": "e.g. extraction, classification, summarization, template-fill, "
                            "mechanical-transform, boilerplate-generation, cross-file-analysis, "
                            "evidence-gathering, factual-knowledge-retrieval, tool-based-scanning, "
                            "architectural-design, debugging, judgment",
                        },
                        "delegability_category": {
                            "type": "string",
                            "enum": [d.value for d in Delegability],
                        },
                        "dag_test": _DAG_SCHEMA,
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                        "expected_repetitions": {"type": "integer", "minimum": 1},
                        "claude_only_criterion": {
                            "type": ["string", "null"],
                            "enum": [*CLAUDE_ONLY_CRITERIA, None],
                        },
                        "prepares": {
                            "type": ["string", "null"],
                            "description": "for a preparation subtask: the id of the Claude-only "
                            "judgment subtask it prepares a structured brief for",
                        },
                        "estimated_claude_tokens": {"type": "integer", "minimum": 0},
                        "rationale": {"type": "string"},
                    },
                    "required": [
                        "id",
                        "description",
                        "task_type",
                        "delegability_category",
                        "depends_on",
                        "expected_repetitions",
                    ],
                },
            },
            "notes": {"type": "string"},
        },
        "required": ["phases", "subtasks"],
    },
}

JUDGE_TOOL = {
    "name": "record_evaluation",
    "description": "Record the evaluation. Write the reflection FIRST, then the score, then the failure mode.",
    "input_schema": {
        "type": "object",
        "properties": {
            "reflection": {
                "type": "string",
                "description": "Reason about completeness, correctness, format and hallucinations "
                "before choosing a score (1-4 sentences).",
            },
            "score": {"type": "string", "enum": [s.value for s in Score]},
            "failure_mode": {
                "type": ["string", "null"],
                "enum": [*(f.value for f in FailureMode), None],
                "description": "only when the score is poor",
            },
        },
        "required": ["reflection", "score", "failure_mode"],
    },
}

PLANNER_SYSTEM = """You are the LLM Conductor's workflow planner. Decompose the meta-task into an \
ordered list of subtasks (seed: WORKFLOW PLANNING, TASK TRIAGE AND ROUTING).
For each subtask give: task type; delegability category — agent-delegable (a single small model \
handles it: extraction, classification, summarization, template-fill, mechanical-transform, \
boilerplate-generation), ensemble-delegable (passes all four DAG decomposability conditions: \
dag, script, fanout, synthesis — answer each), or claude-only (fails the test; name the \
irreducible criterion: recursive-reconsideration, interacting-constraints, holistic-judgment, \
novel-insight, aesthetic-judgment); dependencies by id; expected repetitions of this pattern in \
the task; an estimate of the Claude tokens it would cost if Claude did it.
When a Claude-only subtask has a separable preparation phase that passes the DAG test, split it: \
a preparation subtask (ensemble-delegable, `prepares` = the judgment subtask's id) and the \
Claude-only judgment subtask that depends on it. When uncertain about decomposability, say so \
in the rationale. Answer only through the submit_plan tool."""

JUDGE_SYSTEM = """You evaluate the final output of a local LLM ensemble for the LLM Conductor \
(seed: Evaluation Protocol). Follow this exact order — reflection BEFORE verdict:
1. Reflect: is the output complete, correct (as far as verifiable), in an appropriate format, \
free of hallucinated content?
2. Score: good (correct, complete, usable as-is), acceptable (directionally correct, may need \
minor refinement), poor (incorrect, incomplete or unusable).
3. Failure mode, only when poor: hallucination, incomplete, wrong-format, off-topic; otherwise null.
Answer only through the record_evaluation tool, writing the reflection field first."""
