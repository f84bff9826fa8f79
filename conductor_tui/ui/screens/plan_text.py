"""The Plan screen's texts: its help (F1), the empty state and the no-API-key notice."""

from __future__ import annotations

HELP = """
## Plan

A workflow plan splits a meta-task into subtasks, each routed to a local ensemble, to a
new ensemble still to be designed, or to Claude (see the glossary: meta-task).  Plans
arrive from the coding session through `.llm-orc/evaluations/workflow-plans.jsonl`, from
a file (`f`), or typed here (`t`).

Decide row by row.  **Every decision is written at once as a new revision of the plan**
(nothing is lost if the terminal closes) and the session reads it back.

Columns: **DAG** shows the four conditions of the decomposability test
(DAG-decomposable, script-absorbable, fan-out-parallelizable, structured-synthesizable:
✓ pass, ✗ fail, · unknown).  **Phase** is the lifecycle phase of that task type.
**Local / Claude** are estimated tokens.  ⚠ marks a handler that cannot run here; the
line under the table says how to fix it.  `*` marks an overridden handler.  `×4` marks an
ensemble that multiplies cost (propose–judge: every proposer plus the judge; `×n`: an LLM
agent fanned out once per item); the line under the table gives the figure.
⏳ capacity (under the table): the row's ensemble would spill to CPU or wait in a queue on
its host right now (measured: Ollama `/api/ps`, free VRAM, the runs in flight,
llama-server `/slots`), with the expected slowdown; `K` sends the row to Claude with that
reason recorded.
▲ marks an ensemble with a model above 7B, ✗ one above the 14B ceiling (refused
for delegation unless the ensemble sets `conductor: {allow_large_models: true}`).
Under the table: the routing reason and the repetition line of the selected row.

**Claude as planner (`M`).**  Type a meta-task; Claude (needs `ANTHROPIC_API_KEY`)
decomposes it, the cockpit matches the subtasks to your runnable ensembles, marks the
gaps and applies the repetition threshold.  The plan is saved with every row pending, for
you to decide row by row; the tokens Claude spent planning are counted.

**Workflow templates (`T`).**  Start from a declared workflow (shipped: workshop, plan,
feature-build; yours in `.llm-orc/workflows/*.yaml`).  Broken templates are listed with
the file and line of the problem.

**Roles.**  The handler picker (`o`) also offers the roles of
`.llm-orc/conductor/roles.yaml` (backend → starter-medium, …); a role that cannot run here
is shown greyed with the reason.
"""

NO_KEY_TEXT = (
    "Claude planning needs ANTHROPIC_API_KEY — plans from files and from your Claude Code session still work"
)

READING_TEXT = "Reading workflow-plans.jsonl…"

EMPTY_TEXT = """No workflow plan yet.

  t  type a plan here (one subtask per line, e.g. "Extract endpoints → extract-endpoints (agent)")
  f  load a plan from a file (JSON or YAML: a plan or a list of subtasks)
  c  choose another plan from workflow-plans.jsonl
  M  ask Claude to plan a meta-task (needs ANTHROPIC_API_KEY)
  T  start from a workflow template (workshop, plan, feature-build, yours)

Or let the coding session submit one: it lands in .llm-orc/evaluations/workflow-plans.jsonl
and shows up here on its own."""
