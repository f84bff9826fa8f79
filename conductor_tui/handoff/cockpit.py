"""The cockpit's end of the handoff in one object (no Textual; call from a thread worker).

::

    link = CockpitLink(project)
    # every second, e.g. set_interval(1.0, lambda: self.run_worker(poll, thread=True)):
    update = link.tick()          # heartbeat + new/changed plans + run requests now claimed by us
    for plan in update.plans: …   # show / refresh (newest revision of each plan that changed)
    for req in update.requests:   # run req.ensemble on req.input, streaming in the cockpit
        link.started(req)
        …
        link.finished(req, run_result, decision)   # engine RunResult + routing decision
                                  # (marks the plan row running → done / failed too)
    link.close()                  # on exit: the session falls back to headless runs

Every call is a short, blocking file operation; nothing here holds a lock between calls.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core.records import WorkflowPlan
from conductor_tui.core.store import ProjectStore
from conductor_tui.handoff import protocol
from conductor_tui.handoff.protocol import RunEvent, RunRequest


@dataclass
class LinkUpdate:
    plans: list[WorkflowPlan] = field(default_factory=list)
    requests: list[RunRequest] = field(default_factory=list)
    skipped_lines: list[tuple[int, str]] = field(default_factory=list)  # corrupt plan lines (line, why)


class CockpitLink:
    """Heartbeat, plan tailing and request claiming for one open cockpit."""

    def __init__(self, project: str | os.PathLike[str], *, by: str = "cockpit", claim: bool = True) -> None:
        self.project = Path(project)
        self.by = by
        self.claim = claim
        self.store = ProjectStore(self.project)
        self._offset = 0
        self._line = 1
        self._started = time.time()
        self._closed = False
        # tick() runs on a worker thread, close() on the UI thread: a heartbeat written after the
        # close removed the file would announce a cockpit that is gone
        self._presence = threading.Lock()

    def tick(self) -> LinkUpdate:
        """Heartbeat, then the plans that changed since the last tick, then claim requests."""
        update = LinkUpdate()
        with self._presence:
            if self._closed:
                return update
            protocol.cockpit_heartbeat(self.project, started=self._started)
        result = self.store.read_plans(self._offset, first_line=self._line)
        self._offset, self._line = result.end_offset, result.next_line
        newest: dict[str, WorkflowPlan] = {}
        for plan in result.records:
            current = newest.get(plan.id)
            if current is None or plan.revision >= current.revision:
                newest[plan.id] = plan
        update.plans = list(newest.values())
        update.skipped_lines = list(result.errors)
        if self.claim:
            update.requests = protocol.claim_requests(self.project, by=self.by)
        return update

    def started(self, request: RunRequest) -> RunEvent:
        """Post ``running`` (and mark the plan row running when the request names one)."""
        protocol.mark_row(self.project, request.plan_id, request.row_id, "running", store=self.store)
        return protocol.post_result(self.project, request.id, "running", by=self.by)

    def finished(self, request: RunRequest, result: Any, decision: Any = None) -> RunEvent:
        """Post the final event from the engine's ``RunResult`` (and its routing decision)."""
        status = getattr(result, "status", "failed")
        final = "completed" if status == "completed" else "cancelled" if status == "cancelled" else "failed"
        error = getattr(result, "error", None)
        if final == "failed" and not error:
            failed = getattr(result, "failed_agents", [])
            error = f"agent {failed[0].name} failed: {failed[0].error}" if failed else f"run {status}"
        artifact = getattr(result, "artifact", None)
        protocol.mark_row(
            self.project,
            request.plan_id,
            request.row_id,
            "done" if final == "completed" else "failed",
            routing_id=getattr(decision, "id", None),
            store=self.store,
        )
        return protocol.post_result(
            self.project,
            request.id,
            final,
            by=self.by,
            output=getattr(result, "deliverable", None),
            error=error,
            total_tokens=getattr(result, "total_tokens", None),
            routing_id=getattr(decision, "id", None),
            artifact=str(artifact) if artifact else None,
            duration_ms=getattr(result, "duration_ms", None),
        )

    def report(self, request: RunRequest, outcome: Any) -> RunEvent:
        """Post the final event of a row run (:class:`~conductor_tui.engine.row_run.RowOutcome`;
        the runner has already marked the plan row)."""
        from conductor_tui.handoff.runner import outcome_fields

        fields = outcome_fields(outcome)
        return protocol.post_result(self.project, request.id, fields.pop("status"), by=self.by, **fields)

    def failed(self, request: RunRequest, error: str) -> RunEvent:
        protocol.mark_row(self.project, request.plan_id, request.row_id, "failed", store=self.store)
        return protocol.post_result(self.project, request.id, "failed", by=self.by, error=error)

    def close(self) -> None:
        with self._presence:
            if not self._closed:
                self._closed = True
                protocol.cockpit_closed(self.project)
