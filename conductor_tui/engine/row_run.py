"""Running one plan row (or one requested run) end to end — the engine's half of the
conductor loop, shared by the cockpit's Run screen, the headless runner and ``run``.

:class:`RowRunner.run` does, in order:

1. resolve the ensemble (a given spec — e.g. a role's — or the catalog's entry; a broken
   file is reported with its ``file:line`` problem);
2. ask :meth:`conductor_tui.core.loop.Conductor.admit` whether it may run now (a failed
   calibration or a session fallback refuses it with the reason — nothing runs);
3. build the input: a row with dependencies receives the earlier rows' deliverables under
   its context strategy (a distilled context runs the summarising ensemble first);
4. run it on the executor, streaming every engine event to ``on_event``;
5. a propose–judge ensemble with ``judge: claude`` is judged by Claude;
6. record it through :meth:`~conductor_tui.core.loop.Conductor.record_run` (the ONE
   sampling decision, invocation number, standing authorisation, reason) and mark the plan row.

Progress that is not an engine event goes to ``on_event`` as :class:`StageStarted` (a new
ensemble starts: the distiller, then the row's own) and :class:`StageNote` (context and
judge notes). No Textual.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor_tui.core.loop import Admission, Conductor
from conductor_tui.core.records import RowStatus, RunStatus, WorkflowPlan


@dataclass
class StageStarted:
    """A new ensemble run starts within this row (``label``: e.g. "step 1/2: distil …")."""

    spec: Any
    input_text: str
    label: str | None = None
    kind: str = "StageStarted"


@dataclass
class StageNote:
    """A line about the row's progress (context strategy, the Claude judge)."""

    text: str
    topic: str = "context"  # context | judge
    kind: str = "StageNote"


@dataclass
class RowJob:
    """What to run: an ensemble (by name, or a ready ``spec``) on an input, and where it
    belongs (task type, session, plan row, request)."""

    ensemble: str
    input_text: str
    spec: Any = None
    task_type: str | None = None
    task_summary: str | None = None
    session: str | None = None
    plan_id: str | None = None
    row_id: str | None = None
    role: str | None = None
    request_id: str | None = None
    use_plan_context: bool = True
    enforce: bool = True  # False: the person runs it by hand — a refusal is logged as an override


@dataclass
class RowOutcome:
    """How the row ended. ``status``: completed | failed | cancelled | refused."""

    status: str
    admission: Admission | None = None
    result: Any = None  # engine RunResult of the row's own run
    decision: Any = None  # the routing decision as written
    evaluation: Any = None  # rules.EvaluationDecision
    error: str | None = None
    context: Any = None  # core.context.ContextResult
    propose_judge: dict[str, Any] | None = None
    claude_judgement: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def deliverable(self) -> str | None:
        return getattr(self.result, "deliverable", None) if self.status == RunStatus.COMPLETED else None


class RowRunner:
    """Runs rows for one project. ``executor_factory()`` makes a fresh
    :class:`~conductor_tui.engine.executor.Executor`; ``claude``: a ClaudeProvider for
    ``judge: claude`` ensembles (created on demand when omitted)."""

    def __init__(
        self,
        project: str | os.PathLike[str],
        *,
        executor_factory: Callable[[], Any] | None = None,
        conductor: Conductor | None = None,
        claude: Any = None,
        host: str | None = None,
        profiles: Any = None,
    ) -> None:
        self.project = Path(project)
        if conductor is None:
            from conductor_tui.engine.model_size import size_facts

            conductor = Conductor(self.project, size_facts=size_facts(self.project))
        self.conductor = conductor
        self.store = self.conductor.store
        self.claude = claude
        self._host = host
        self._profiles = profiles
        self._factory = executor_factory or self._default_executor
        self.executor: Any = None
        self._cancelled = False

    def _default_executor(self) -> Any:
        from conductor_tui.engine.executor import Executor

        return Executor(project=self.project, host=self._host, profiles=self._profiles)

    def cancel(self) -> None:
        self._cancelled = True
        if self.executor is not None:
            self.executor.cancel()

    # ------------------------------------------------------------------ the row

    async def run(self, job: RowJob, on_event: Callable[[Any], None] | None = None) -> RowOutcome:
        emit = on_event or (lambda _e: None)
        self._cancelled = False
        spec, error = await asyncio.to_thread(self._resolve, job)
        if spec is None:
            outcome = RowOutcome(RunStatus.FAILED, error=error)
            await asyncio.to_thread(self._mark, job, RowStatus.FAILED, None)
            return outcome
        admission = await asyncio.to_thread(
            self.conductor.admit, spec.name, task_type=job.task_type, session=job.session
        )
        if not admission.allowed and job.enforce:
            return RowOutcome("refused", admission=admission, error=admission.message)
        await asyncio.to_thread(self._mark, job, RowStatus.RUNNING, None)
        self.executor = self._factory()
        outcome = RowOutcome(RunStatus.FAILED, admission=admission)
        try:
            text = job.input_text
            plan = await asyncio.to_thread(self._plan, job)
            if plan is not None:
                prepared = await self._prepare_context(plan, job, spec, outcome, emit)
                if prepared is None:
                    status = RowStatus.APPROVED if self._cancelled else RowStatus.FAILED
                    outcome.status = RunStatus.CANCELLED if self._cancelled else RunStatus.FAILED
                    await asyncio.to_thread(self._mark, job, status, None)
                    return outcome
                text = prepared
            emit(StageStarted(spec, text, None))
            result = await self.executor.run(spec, text, on_event=emit)
        except Exception as exc:  # the engine reports most failures in its result; this is the rest
            outcome.status, outcome.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(self._mark, job, RowStatus.FAILED, None)
            return outcome
        finally:
            self.executor = None
        outcome.result = result
        outcome.status = (
            result.status if result.status in (RunStatus.COMPLETED, RunStatus.CANCELLED) else RunStatus.FAILED
        )
        if outcome.status == RunStatus.FAILED:
            failed = result.failed_agents
            outcome.error = result.error or (
                f"agent {failed[0].name} failed: {failed[0].error}" if failed else f"run {result.status}"
            )
        shape = _propose_judge_shape(spec)
        if shape is not None and shape.claude_judge and result.status == RunStatus.COMPLETED:
            await self._claude_judge(shape, text, result, outcome, emit)
        if shape is not None:
            outcome.propose_judge = _propose_judge_record(shape, result, outcome.claude_judgement)
        await asyncio.to_thread(self._record, job, result, outcome)
        return outcome

    def _resolve(self, job: RowJob) -> tuple[Any, str | None]:
        if job.spec is not None:
            return job.spec, None
        entry, _catalog, error = find_ensemble(self.project, job.ensemble)
        if entry is None or entry.spec is None:
            return None, error or f'ensemble "{job.ensemble}" cannot be loaded'
        blocking = [p for p in entry.spec.problems if getattr(p, "blocking", False)]
        if blocking:
            return None, f"{entry.spec.name} cannot run here: " + "; ".join(str(p) for p in blocking)
        return entry.spec, None

    def _plan(self, job: RowJob) -> WorkflowPlan | None:
        if not (job.use_plan_context and job.plan_id and job.row_id):
            return None
        try:
            plan = self.store.latest_plan(job.plan_id)
        except Exception:
            return None
        if plan is None:
            return None
        row = next((r for r in plan.subtasks if r.id == job.row_id), None)
        return plan if row is not None and row.depends_on else None

    # ------------------------------------------------------------------ context

    def _dependency_outputs(self, plan: WorkflowPlan, row_id: str) -> dict[str, str]:
        """The deliverables of the rows ``row_id`` depends on (directly or not), from their
        routing-log entries' artifacts: the row's ``routing_id`` first, else the newest
        completed entry for the row. Rows with no readable deliverable are left out."""
        from conductor_tui.core.context import ancestors
        from conductor_tui.core.propose_judge import parse_verdict
        from conductor_tui.engine.artifacts import read_execution

        wanted = ancestors(plan, row_id)
        if not wanted:
            return {}
        rows = {r.id: r for r in plan.subtasks}
        by_id: dict[str, Any] = {}
        by_row: dict[str, Any] = {}
        for d in self.store.read_routing().records:
            if d.id:
                by_id[d.id] = d
            if d.plan_id == plan.id and d.row_id in wanted and d.status == RunStatus.COMPLETED and d.artifact:
                by_row[d.row_id] = d  # the newest wins
        outputs: dict[str, str] = {}
        for rid in wanted:
            routing_id = getattr(rows.get(rid), "routing_id", None)
            found: Any = by_id.get(routing_id) if routing_id else None
            if found is None or found.status != RunStatus.COMPLETED or not found.artifact:
                found = by_row.get(rid)
            if found is None or not found.artifact:
                continue
            d = found
            path = Path(d.artifact)
            if not path.is_absolute():
                path = self.project / path
            try:
                execution = read_execution(path)
            except (OSError, ValueError):
                continue
            text = execution.deliverable
            judged = d.propose_judge
            if text and isinstance(judged, dict):
                # a propose–judge row hands on the judged result, not the judge's JSON
                verdict = parse_verdict(text, list(judged.get("proposers") or []))
                text = verdict.result if verdict.parsed and verdict.result.strip() else text
            if text:
                outputs[rid] = text
        return outputs

    async def _prepare_context(
        self, plan: WorkflowPlan, job: RowJob, spec: Any, outcome: RowOutcome, emit: Callable[[Any], None]
    ) -> str | None:
        """The row's input under its strategy; a distilled one runs the summariser first.
        ``None`` when it could not be built (the reason is in ``outcome.error``)."""
        from conductor_tui.core import context as ctx_ops
        from conductor_tui.engine import loader
        from conductor_tui.engine.distill import find_distill_ensemble

        row = next(r for r in plan.subtasks if r.id == job.row_id)
        note = f"\n\nNote: {row.note}" if row.note else ""
        emit(StageNote("gathering the earlier rows' outputs…"))
        outputs = await asyncio.to_thread(self._dependency_outputs, plan, row.id)
        try:
            result = ctx_ops.row_context(plan, row.id, outputs, project=self.project)
        except ValueError as exc:
            outcome.error = f"context: {exc}"
            emit(StageNote(outcome.error))
            return None
        if result.distill is not None:
            request = result.distill
            try:
                catalog = await asyncio.to_thread(loader.load_catalog, self.project)
                distiller = find_distill_ensemble(request.ensemble, catalog)
            except LookupError as exc:
                outcome.error = str(exc)
                emit(StageNote(outcome.error))
                return None
            outcome.context = result
            label = f"step 1/2: {distiller.name} distils {', '.join(request.sources)} (~{request.input_tokens:,} tok in)"
            emit(StageStarted(distiller, request.input_text, label))
            done = await self.executor.run(distiller, request.input_text, on_event=emit)
            if done.status != RunStatus.COMPLETED or not (done.deliverable or "").strip():
                outcome.error = f"step 1/2: {distiller.name} {done.status} — the row did not run"
                if done.status != RunStatus.CANCELLED:
                    outcome.error += f" ({done.error or done.status})"
                emit(StageNote(outcome.error))
                return None
            result = ctx_ops.row_context(
                plan,
                row.id,
                outputs,
                project=self.project,
                summary=done.deliverable,
                summary_tokens_spent=done.total_tokens,
            )
            emit(StageNote(f"step 2/2 · summary by {distiller.name} ({done.total_tokens:,} local tok)"))
        outcome.context = result
        return result.text + note

    # ------------------------------------------------------------------ Claude as judge

    async def _claude_judge(
        self, shape: Any, task: str, result: Any, outcome: RowOutcome, emit: Callable[[Any], None]
    ) -> None:
        provider = self.claude
        if provider is None:
            from conductor_tui.providers.anthropic import ClaudeProvider

            provider = ClaudeProvider()
        if not getattr(provider, "available", False):
            emit(
                StageNote("Claude judge needs ANTHROPIC_API_KEY — the proposals are kept, unjudged", "judge")
            )
            return
        emit(StageNote("Claude is judging the proposals…", "judge"))
        from conductor_tui.core.propose_judge import judge_with_claude

        try:
            outcome.claude_judgement = await asyncio.to_thread(
                judge_with_claude, provider, shape, task, result
            )
        except Exception as exc:  # ClaudeError (rate limit, auth…) or nothing to judge
            emit(StageNote(f"Claude judge failed: {exc} — the proposals are kept", "judge"))
            return
        emit(StageNote("", "judge"))

    # ------------------------------------------------------------------ recording

    def _record(self, job: RowJob, result: Any, outcome: RowOutcome) -> None:
        from conductor_tui.engine.artifacts import build_decision

        extra: dict[str, Any] = {}
        if outcome.context is not None and outcome.context.ready:
            extra["context"] = outcome.context.to_json()
        if job.role:
            extra["role"] = job.role
        if outcome.propose_judge is not None:
            extra["propose_judge"] = outcome.propose_judge
        if job.request_id:
            extra["request_id"] = job.request_id
        adm = outcome.admission
        try:
            decision = build_decision(
                self.store,
                result,
                reason="user-override" if adm is not None and not adm.allowed else None,
                task_type=job.task_type,
                task_summary=job.task_summary,
                plan_id=job.plan_id,
                row_id=job.row_id,
                session=job.session,
                extra=extra,
            )
            record = self.conductor.record_run(decision)
            outcome.decision, outcome.evaluation = record.decision, record.evaluation
        except Exception as exc:  # never lose the result because the log could not be written
            outcome.notes.append(f"routing decision not recorded: {exc}")
        status = {RunStatus.COMPLETED: RowStatus.DONE, RunStatus.FAILED: RowStatus.FAILED}.get(
            result.status, RowStatus.APPROVED
        )
        self._mark(job, status, getattr(outcome.decision, "id", None))

    def _mark(self, job: RowJob, status: RowStatus, routing_id: str | None) -> None:
        if job.plan_id and job.row_id:
            try:
                self.conductor.mark_row(job.plan_id, job.row_id, status, routing_id=routing_id)
            except Exception:  # a plan that vanished must not fail the run
                pass


def find_ensemble(project: str | os.PathLike[str], name: str) -> tuple[Any, Any, str | None]:
    """(catalog entry, catalog, error): a broken file names itself with its problems
    (``cycle.yaml:4: dependency cycle: first → second → first``); an unknown name lists
    where it was looked for and the close matches."""
    import difflib

    from conductor_tui.engine import loader

    catalog = loader.load_catalog(Path(project))
    entry = catalog.get(name)
    if entry is not None:
        return entry, catalog, None
    broken = catalog.find_invalid(name)
    if broken:
        lines = [f'ensemble "{name}" cannot be loaded:']
        for e in broken:
            lines += [f"  {p}" for p in e.problems]
        return None, catalog, "\n".join(lines)
    close = difflib.get_close_matches(name, list(catalog.entries), n=3)
    where = ", ".join(f"{tier}: {d}" for tier, d in catalog.dirs)
    msg = f'ensemble "{name}" not found (looked in {where})'
    if close:
        msg += f"; did you mean {', '.join(close)}?"
    return None, catalog, msg


def available_ensembles(project: str | os.PathLike[str], catalog: Any = None) -> list[Any]:
    """The catalog as the planner's :class:`~conductor_tui.core.planner.AvailableEnsemble`
    list, each with its declared task types (``conductor:`` block, or the starter kit's)."""
    from conductor_tui.core.planner import AvailableEnsemble
    from conductor_tui.engine import loader
    from conductor_tui.engine.artifacts import declared_task_types

    if catalog is None:
        try:
            catalog = loader.load_catalog(Path(project), with_profiles=False)
        except TypeError:
            catalog = loader.load_catalog(Path(project))
    out = []
    seen: set[str] = set()
    for entry in catalog.all_entries():
        spec = getattr(entry, "spec", None)
        name = getattr(entry, "name", None) or getattr(spec, "name", None)
        if not name or name in seen or spec is None:
            continue
        seen.add(name)
        out.append(
            AvailableEnsemble(
                name=name,
                description=str(getattr(spec, "description", "") or ""),
                runnable=bool(getattr(entry, "valid", True)),
                task_types=tuple(declared_task_types(spec)),
            )
        )
    return out


def candidates_for(project: str | os.PathLike[str], catalog: Any = None) -> Callable[[str], list[str]]:
    """task type → the runnable ensembles that fit it (declared types first), for
    :meth:`~conductor_tui.core.loop.Conductor.route_plan`."""
    from conductor_tui.core.planner import matching_ensembles

    try:
        ensembles = available_ensembles(project, catalog)
    except Exception:  # a broken catalog routes nothing locally; the rows say so
        ensembles = []
    return lambda task_type: matching_ensembles(task_type or "", ensembles)


def _propose_judge_shape(spec: Any) -> Any:
    from conductor_tui.core.propose_judge import detect_propose_judge

    try:
        found = detect_propose_judge(spec)
    except Exception:
        return None
    return found if found is not None and found.explicit and len(found.proposers) >= 2 else None


def _propose_judge_record(shape: Any, result: Any, claude: Any) -> dict[str, Any]:
    """What the routing log keeps of a propose–judge run: who, the verdict, the cost."""
    from conductor_tui.core.propose_judge import outcome

    done = outcome(shape, result, claude)
    verdict = done.verdict
    return {
        "proposers": list(shape.proposers),
        "judge": shape.judge,
        "verdict": verdict.verdict if verdict else None,
        "picked": verdict.picked if verdict else None,
        "reasoning": verdict.reasoning if verdict else None,
        "proposer_tokens": done.cost.proposer_tokens,
        "judge_tokens": done.cost.judge.total_tokens,
        "total_tokens": done.cost.total_tokens,
        **(
            {"claude_judge_tokens": done.cost.judge.total_tokens, "claude_model": claude.model}
            if claude is not None
            else {}
        ),
    }
