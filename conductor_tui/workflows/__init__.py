"""Workflow templates shipped with conductor-tui (YAML; loaded by ``core.workflows``)."""
