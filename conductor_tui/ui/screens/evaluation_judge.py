"""Claude as judge on the Evaluate screen (see the glossary: evaluation).

``j`` asks Claude to judge the selected run.  The provider's blocking ``judge`` call runs in a
thread worker; its reflection deltas are buffered and flushed into the Judge panel's
``Markdown`` stream on a short timer (coalesced), so the reflection is on screen **before**
the score exists.  The verdict is then recorded with
:func:`conductor_tui.handoff.record_judge_verdict` (``evaluator="claude"``, ``judge_tokens``,
``review="pending"``) and the person agrees (``J``) or overrides.  A failed call keeps the
partial reflection visible, records no verdict (only the tokens it cost, as Claude overhead)
and says why.  ``escape`` stops a judge that is still reflecting."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, cast

from textual import work
from textual.widgets import Markdown

from conductor_tui.core.review import QueueItem
from conductor_tui.ui.history_warm import HistoryWarm
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.eval_panels import JudgePanel, md_escape


class JudgeFlow(CockpitScreen):
    """The judge's state (``judging``, ``judge_text``, ``judge_verdict``, ``judge_error``), its
    worker and its stream; :class:`EvaluationScreen` adds the queue and the rubric."""

    current: QueueItem | None
    input_text: str | None
    output_text: str

    def __init__(self) -> None:
        super().__init__()
        self.judging: QueueItem | None = None
        self.judge_text = ""
        self.judge_verdict: Any = None
        self.judge_error: Any = None
        self._judge_pending: list[str] = []
        self._judge_lock = threading.Lock()
        self._judge_stream: Any = None
        self._judge_timer: Any = None
        self._claude_provider: Any = None
        self._judge_gen = 0  # bumped by every judge start and stop: stale results are ignored
        self._history = HistoryWarm()  # the loop's history, read ahead once a verdict starts

    def reload(self, select: str | None = None) -> None:  # pragma: no cover - the screen re-reads
        raise NotImplementedError

    def read_history_ahead(self) -> None:
        """A verdict is coming (a reflection typed, the judge asked): the loop that records
        it reads the history of a big log ahead (:mod:`~conductor_tui.ui.history_warm`)."""
        self._history.start(self, self.services.store)

    def claude(self) -> Any:
        """The ClaudeProvider (``services.claude`` when injected, else from the environment)."""
        provider = getattr(self.services, "claude", None)
        if provider is None:
            provider = self._claude_provider
        if provider is None:
            from conductor_tui.providers.anthropic import ClaudeProvider

            provider = self._claude_provider = ClaudeProvider()
        return provider

    def claude_unavailable(self) -> str | None:
        """Why Claude cannot judge (no API key), or ``None``."""
        provider = self.claude()
        if getattr(provider, "available", False):
            return None
        return (
            getattr(provider, "unavailable_reason", None) or "Claude is not configured (ANTHROPIC_API_KEY)."
        )

    def action_judge(self) -> None:
        item = self.current
        if item is None:
            return
        reason = self.claude_unavailable()
        if reason:
            self.notify(reason, severity="warning", markup=False)
            return
        if self.judging is not None:
            self.notify("Claude is already judging a run.", severity="warning", markup=False)
            return
        self.judging = item
        self.read_history_ahead()  # agreeing records the verdict through the loop
        self._judge_gen += 1
        self.judge_text = ""
        self.judge_verdict = None
        self.judge_error = None
        with self._judge_lock:
            self._judge_pending.clear()
        self._show_judging(self.query_one("#ev-judge", JudgePanel))
        self._judge_timer = self.set_interval(1 / 20, self._flush_judge)
        self.refresh_bindings()
        run = item.run
        task = run.task_summary or f"{item.ensemble} run"
        input_summary = (self.input_text or run.task_summary or "")[:4000]
        self._judge_worker(item, task, input_summary, self.output_text, self.claude(), self._judge_gen)

    def _show_judging(self, panel: JudgePanel) -> None:
        """Point the judge panel at the run being judged: its text so far, then the stream."""
        self._judge_stream = panel.start_stream(self.judge_text)
        self.query_one("#ev-reflect-box").border_title = "1 · Reflect"

    def _on_reflection_delta(self, delta: str, gen: int) -> None:
        """Called on the worker's thread: buffer (the UI flushes on a timer)."""
        with self._judge_lock:
            if gen == self._judge_gen:
                self._judge_pending.append(delta)

    async def _flush_judge(self) -> None:
        with self._judge_lock:
            pending = "".join(self._judge_pending)
            self._judge_pending.clear()
        if not pending:
            return
        self.judge_text += pending
        if (
            self._judge_stream is not None
            and self.judging is not None
            and self.current is not None
            and self.current.routing_id == self.judging.routing_id
        ):
            await self._judge_stream.write(md_escape(pending))
            panel = self.query_one("#ev-judge", Markdown)
            if panel.max_scroll_y - panel.scroll_y <= 2:
                panel.scroll_end(animate=False)

    @work(thread=True, exclusive=True, group="evaluate-judge", exit_on_error=False)
    def _judge_worker(
        self, item: QueueItem, task: str, input_summary: str, output: str, provider: Any, gen: int
    ) -> None:
        from conductor_tui.handoff import record_claude_overhead, record_judge_verdict
        from conductor_tui.providers.anthropic import ClaudeError

        store = self.services.store
        project = store.project
        if project is None:  # no project, nowhere to record a verdict
            return

        def overhead(usage: Any) -> None:
            try:  # the call cost tokens even though it produced no verdict
                if usage is not None and usage.total:
                    record_claude_overhead(project, "judging", usage, store=store)
            except Exception:
                pass

        try:
            verdict = provider.judge(
                task,
                input_summary,
                output,
                lambda delta: self._on_reflection_delta(delta, gen),
                ensemble=item.ensemble,
            )
        except ClaudeError as err:
            overhead(err.usage)
            if gen == self._judge_gen:
                self._call_async(self._judge_failed, item, err.message, err.partial)
            return
        except Exception as exc:  # never leave the screen in the judging state
            if gen == self._judge_gen:
                self._call_async(self._judge_failed, item, f"{type(exc).__name__}: {exc}", "")
            return
        if gen != self._judge_gen:  # stopped by the person: no verdict, only its cost
            overhead(verdict.usage)
            return
        try:
            evaluation = record_judge_verdict(
                project,
                verdict,
                ensemble=item.ensemble,
                store=store,
                routing_id=item.routing_id,
                input_summary=item.run.task_summary,
                output_length=len(output),
                task_type=item.run.task_type,
                invocation_number=item.invocation_number,
                phase=item.phase.value,
            )
        except Exception as exc:
            self._call_async(
                self._judge_failed, item, f"could not write evaluations.jsonl: {exc}", verdict.reflection
            )
            return
        self._call_async(self._judge_done, item, verdict, evaluation, gen)

    def _call_async(self, callback: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a coroutine method on the UI thread from the worker and wait for it."""
        self.app.call_from_thread(cast(Any, callback), *args)

    async def _end_stream(self) -> None:
        if self._judge_timer is not None:
            self._judge_timer.stop()
            self._judge_timer = None
        await self._flush_judge()
        stream, self._judge_stream = self._judge_stream, None
        if stream is not None:
            await stream.stop()

    async def _judge_done(self, item: QueueItem, verdict: Any, evaluation: Any, gen: int) -> None:
        if gen != self._judge_gen:  # stopped just as the verdict was written: show it anyway
            self.judge_finished(evaluation)
            return
        await self._end_stream()
        self.judging = None
        self.judge_verdict = verdict
        self.judge_text = verdict.reflection or self.judge_text
        score = getattr(verdict.score, "value", verdict.score)
        mode = getattr(verdict.failure_mode, "value", verdict.failure_mode)
        if self.current is not None and self.current.routing_id == item.routing_id:
            self.query_one("#ev-judge", JudgePanel).show_done(self.judge_text, score, mode)
        tokens = getattr(getattr(verdict, "usage", None), "total", 0)
        self.notify(
            f"Claude judged {item.ensemble} #{item.invocation_number}: {score}"
            + (f" ({mode})" if mode else "")
            + f" · {tokens:,} tokens. J agrees, or pick your own score to override.",
            markup=False,
        )
        self.refresh_bindings()
        self.judge_finished(evaluation)

    async def action_cancel_judge(self) -> None:
        item = self.judging
        if item is None:
            return
        with self._judge_lock:
            self._judge_gen += 1  # the worker's late deltas and result are ignored
            self._judge_pending.clear()
        await self._end_stream()
        self.judging = None
        self.judge_error = "stopped"
        if self.current is not None and self.current.routing_id == item.routing_id:
            self.query_one("#ev-judge", JudgePanel).show_stopped()
        self.notify(
            f"Stopped judging {item.ensemble} #{item.invocation_number}: no verdict is recorded "
            "(the tokens Claude already spent are counted as overhead).",
            severity="warning",
            markup=False,
        )
        self.refresh_bindings()

    async def _judge_failed(self, item: QueueItem, message: str, partial: str) -> None:
        await self._end_stream()
        self.judging = None
        self.judge_error = message
        if partial and len(partial) >= len(self.judge_text):
            self.judge_text = partial
        if self.current is not None and self.current.routing_id == item.routing_id:
            self.query_one("#ev-judge", JudgePanel).show_failed(self.judge_text)
        self.notify(
            f"Claude could not judge {item.ensemble} #{item.invocation_number}: {message} "
            "Nothing was recorded; the partial reflection stays in the Judge panel.",
            severity="error",
            markup=False,
            timeout=10,
        )
        self.refresh_bindings()

    def judge_stream(self):
        """A ``MarkdownStream`` into the judge panel (``await stream.write(delta) …;
        await stream.stop()``), then :meth:`judge_finished`."""
        panel = self.query_one("#ev-judge", Markdown)
        panel.display = True
        panel.update("")
        return Markdown.get_stream(panel)

    def judge_finished(self, evaluation: Any) -> None:
        """Call with the judge's appended :class:`Evaluation`: the queue reloads and shows it."""
        self.reload(getattr(evaluation, "routing_id", None))
