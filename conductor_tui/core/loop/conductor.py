"""The :class:`Conductor`: the loop's parts, composed into the one service every caller uses."""

from __future__ import annotations

from conductor_tui.core.loop.claude_tasks import ClaudeTasks
from conductor_tui.core.loop.promotion_gate import PromotionGate
from conductor_tui.core.loop.recording import Recording


class Conductor(Recording, ClaudeTasks, PromotionGate):
    """The loop of one project (see :mod:`conductor_tui.core.loop`).

    ``now``: the clock (tests inject a fixed one); ``ensemble_file``: name → the ensemble's
    YAML path, to recognise a revision (default: the three tiers, file name = name);
    ``size_facts`` / ``capacity_facts``: ensemble → model-size / capacity facts (advice)."""
