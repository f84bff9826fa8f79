"""The async ensemble executor. No Textual.

* Every agent is one task that waits for *its own* dependencies (not for a
  level), so a fast branch never waits for a slow sibling.
* LLM agents stream through the provider their profile names: ``ollama``
  (:class:`~conductor_tui.providers.ollama.OllamaProvider`, one per host) or an
  OpenAI-compatible server (``openai-compatible``, ``llama-server``:
  :class:`~conductor_tui.providers.openai_compat.OpenAICompatProvider`, one per
  ``base_url``); every delta becomes a :class:`TextDelta`.
* Script agents run as subprocesses with llm-orc's JSON stdin/stdout contract.
* ``fan_out`` runs an agent once per item of its first dependency's JSON array
  (or ``{"data": [...]}``), in parallel; results are gathered in order.
* Concurrency is limited overall, per model and per host; cancelling stops every agent,
  kills subprocesses (their whole process group) and closes HTTP streams.

Failure semantics (as llm-orc): a dependent runs with the dependencies that
succeeded; when none of them did, it is skipped ("upstream failed"). A ``when``
that is false skips the agent, and an agent whose dependencies were all skipped is
skipped too. The run is ``failed`` when any agent failed.

Where each part lives:

* :mod:`.scheduler` — ``Executor`` (the DAG schedule, cancelling, the run's result) and
  ``stream_run``; it combines one part per agent kind:
  :mod:`.llm` (LLM agents), :mod:`.scripts` (script agents; process plumbing in
  :mod:`.processes`), :mod:`.fan_out`, :mod:`.composition` (ensemble / loop / dispatch),
  all built on :mod:`.base` (clock, events of an agent's life, concurrency slots, clients).
* :mod:`.inputs` — what an agent receives; :mod:`.outputs` — the deliverable.
* :mod:`.expressions` — ``${agent.field}`` references, ``when`` / ``until`` guards.
* :mod:`.settings` — ``EngineSettings`` from ``config.yaml``.

Every name stays importable from ``conductor_tui.engine.executor``.
"""

from __future__ import annotations

from conductor_tui.engine.executor.base import EventCallback
from conductor_tui.engine.executor.expressions import (
    evaluate_on,
    evaluate_when,
    parse_array,
    resolve_in,
    resolve_reference,
)
from conductor_tui.engine.executor.outputs import deliverable_of
from conductor_tui.engine.executor.processes import SCRIPT_OUTPUT_LIMIT, script_environment
from conductor_tui.engine.executor.scheduler import Executor, stream_run
from conductor_tui.engine.executor.settings import EngineSettings
from conductor_tui.engine.results import AgentFailure, AgentResult, RunResult, RunStatus

__all__ = [
    "SCRIPT_OUTPUT_LIMIT",
    "AgentFailure",
    "AgentResult",
    "EngineSettings",
    "EventCallback",
    "Executor",
    "RunResult",
    "RunStatus",
    "deliverable_of",
    "evaluate_on",
    "evaluate_when",
    "parse_array",
    "resolve_in",
    "resolve_reference",
    "script_environment",
    "stream_run",
]
