"""Declarative workflow templates: phases in YAML that load as plan templates.

Where templates come from (:func:`list_templates`), the first of a name wins:

1. project ``<project>/.llm-orc/workflows/*.yaml``
2. global ``$XDG_CONFIG_HOME/llm-orc/workflows/*.yaml``
3. shipped with conductor-tui (``conductor_tui/templates/``: workshop, plan, feature-build)

Format::

    name: feature-build
    description: Build a feature end to end
    parameters:                 # optional; {name} placeholders in descriptions/outputs
      feature: short name of the feature     # (or {description: …, default: …})
    phases:
      - name: patterns
        type: ensemble          # ensemble | single | routed | parallel
        ensemble: extract-code-patterns
        description: Extract the code patterns around {feature}
        context: fresh          # full | scoped | distilled | fresh
      - name: plan
        type: ensemble
        ensemble: plan-review   # a propose–judge ensemble
        input: patterns.output  # input / inputs: phase, phase.output or phase.outputs
        context: distilled
        distill_with: distill-context
        output: docs/ai/{feature}/plan.md
      - name: implement
        type: single
        handler: claude         # single: exactly one of handler, role, ensemble
        inputs: [plan]
        context: scoped
        files: ["src/**/*.py"]
      - name: build
        type: routed            # one row per task, each routed by role
        tasks:
          - {name: api, role: backend, description: …}
        # or  routing: {frontend: frontend, backend: backend}  (category → role)
      - name: checks
        type: parallel          # rows that run side by side
        tasks:
          - {name: lint, ensemble: fix-lint-violations}
          - {name: changelog, ensemble: write-changelog}
        after: [build]          # ordering without passing outputs

``{task}`` is the meta-task. Every error names the file and line (YAML node marks).
:func:`instantiate` turns a template into a :class:`WorkflowPlan` (rows with handler, role,
phase, depends_on; context strategy, inputs, files, output and phase type as extra row
fields, which the store keeps). No Textual here.

Where it lives: ``model`` (the template's shape), ``parsing`` and ``phases`` (reading a file),
``library`` (discovery), ``checking`` (missing ensembles, cost), ``instantiate`` (a plan).
Every name is re-exported here.
"""

from __future__ import annotations

from conductor_tui.core.templates.checking import (
    check_template,
    plan_cost_warnings,
)
from conductor_tui.core.templates.instantiate import (
    instantiate,
)
from conductor_tui.core.templates.library import (
    SHIPPED_DIR,
    TemplateEntry,
    get_template,
    list_templates,
    shipped_dir,
    template_dirs,
)
from conductor_tui.core.templates.model import (
    PHASE_TYPES,
    SHIPPED_TEMPLATES,
    WORKFLOWS_DIR,
    PhaseTemplate,
    TaskTemplate,
    TemplateError,
    WorkflowTemplate,
)
from conductor_tui.core.templates.parsing import (
    load_template_file,
    load_template_text,
    parse_template,
)

__all__ = [
    "SHIPPED_DIR",
    "PHASE_TYPES",
    "PhaseTemplate",
    "SHIPPED_TEMPLATES",
    "TaskTemplate",
    "TemplateEntry",
    "TemplateError",
    "WORKFLOWS_DIR",
    "WorkflowTemplate",
    "check_template",
    "get_template",
    "instantiate",
    "list_templates",
    "load_template_file",
    "load_template_text",
    "parse_template",
    "plan_cost_warnings",
    "shipped_dir",
    "template_dirs",
]
