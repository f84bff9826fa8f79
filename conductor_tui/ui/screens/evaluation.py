"""Evaluate: the runs that need an evaluation, then Reflect, then Score (see the
glossary: evaluation).

Left: the queue (calibration runs, sampled Establish runs, flagged runs, runs the judge
scored and the person has not reviewed).  Right, for the selected run: what it was
asked, the output (plain text, scrollable — never markup), the judge's verdict when
there is one, the **Reflect** panel and only then the **Score** panel.  The score stays
disabled until a reflection exists; "poor" needs a failure mode.  Recording appends the
spec's record to ``evaluations.jsonl`` and shows the consequences at once.

Claude as judge: ``j`` asks Claude to judge the selected run.  The provider's
blocking ``judge`` call runs in a thread worker; its reflection deltas are buffered and
flushed into the judge panel's ``Markdown`` stream on a short timer (coalesced), so the
reflection is on screen **before** the score exists.  The verdict is then recorded with
:func:`conductor_tui.handoff.record_judge_verdict` (``evaluator="claude"``, ``judge_tokens``,
``review="pending"``) and the person agrees (``J``) or overrides.  A failed call keeps the
partial reflection visible, records no verdict (only the tokens it cost, as Claude
overhead) and says why.  Without ``ANTHROPIC_API_KEY`` the key is shown disabled with the
reason; the human reflect → score flow is unchanged.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Input, Markdown, RadioButton, RadioSet, Static, TextArea

from conductor_tui.core.records import FailureMode, Score
from conductor_tui.core.review import (
    Consequences,
    QueueItem,
    ReviewState,
    build_evaluation,
    evaluation_queue,
    flag_event,
    load_review,
    read_artifact,
)
from conductor_tui.ui.screens.base import CockpitScreen, logs_signature
from conductor_tui.ui.widgets.fit import FitTable

STYLES = Path(__file__).resolve().parent.parent / "styles"

REFLECT_PROMPT = "Complete? · Correct, as far as you can tell? · Right format? · Anything invented?"
SCORES = [Score.GOOD, Score.ACCEPTABLE, Score.POOR]
FAILURES = [
    FailureMode.HALLUCINATION,
    FailureMode.INCOMPLETE,
    FailureMode.WRONG_FORMAT,
    FailureMode.OFF_TOPIC,
]


class EvaluationScreen(CockpitScreen):
    MODE = "evaluate"
    HELP: ClassVar[str] = """
# Evaluate

Runs that need your verdict: **every** run while an ensemble calibrates (the first
five), the **sampled** runs once it is established, runs you **flagged** as
unsatisfactory, and runs the **judge** scored that you have not reviewed.

1. Read the input summary and the output.
2. **Reflect** first: completeness, correctness, format, hallucinations.
3. Then **Score**: good (usable as-is), acceptable (minor fixes), poor (unusable —
   pick a failure mode). The score is locked until a reflection exists.
4. `ctrl+s` records the evaluation in `evaluations.jsonl` and shows what it changed:
   the phase, the calibration outcome, and the fallback to Claude after a poor
   calibration score.

`j` asks **Claude to judge** the selected run (needs `ANTHROPIC_API_KEY`): its reflection
streams into the Judge panel first, then its score and failure mode; the verdict is
recorded as pending your review, and its token cost is subtracted from the savings.
`escape` stops a judge that is still reflecting (nothing is recorded).

With a judge verdict: `J` agrees with it (your reflection is kept as a comment), or pick
another score to override it — both verdicts are kept in the record.
"""
    BINDINGS = [
        Binding(
            "ctrl+s",
            "record",
            "Record",
            id="evaluate.record",
            priority=True,
            tooltip="Record the evaluation (reflection, score, failure mode, feedback)",
        ),
        Binding(
            "j",
            "judge",
            "Judge",
            id="evaluate.judge",
            tooltip="Claude reflects on the selected run, then scores it (needs ANTHROPIC_API_KEY)",
        ),
        Binding(
            "J", "agree_judge", "Agree", id="evaluate.agree_judge", tooltip="Agree with the judge's verdict"
        ),
        Binding("escape", "cancel_judge", "Stop judge", id="evaluate.cancel_judge", tooltip="Stop judging"),
        Binding("f", "flag", "Flag", id="evaluate.flag", tooltip="Flag the run as unsatisfactory"),
        Binding(
            "v",
            "toggle_all",
            "All runs",
            id="evaluate.toggle_all",
            tooltip="Switch between the queue and all runs",
        ),
        Binding("ctrl+r", "reload", "Reload", id="evaluate.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._signature: tuple = ()  # logs_signature at the last load
        self.state: ReviewState | None = None
        self.items: list[QueueItem] = []
        self.current: QueueItem | None = None
        self.show_all = False
        self.output_text = ""
        self.input_text: str | None = None
        self.last_consequences: Consequences | None = None
        # Claude as judge: the run being judged, its reflection so far, the verdict
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

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ev-body"):
            with Vertical(id="ev-queue-box", classes="cp-panel") as box:
                box.border_title = "Needs evaluation"
                yield FitTable(
                    id="ev-queue",
                    cursor_type="row",
                    zebra_stripes=True,
                    layout=lambda width: ({"why": 12}, "run"),
                    minimum=14,
                )
                yield Static(id="ev-queue-help")
            with VerticalScroll(id="ev-detail"):  # scrolls to the focused field (Tab)
                run = Static(id="ev-run", classes="cp-panel")
                run.border_title = "Run"
                yield run
                with VerticalScroll(id="ev-output-box", classes="cp-panel") as out:
                    out.border_title = "Output"
                    yield Static(id="ev-output")
                judge = Markdown(id="ev-judge", classes="cp-panel")
                judge.border_title = "Judge"
                judge.display = False
                yield judge
                with Vertical(id="ev-reflect-box", classes="cp-panel") as rb:
                    rb.border_title = "1 · Reflect"
                    yield Static(Text(REFLECT_PROMPT, style="italic"), classes="cp-muted")
                    yield TextArea(id="ev-reflect", soft_wrap=True, show_line_numbers=False)
                with Vertical(id="ev-score-box", classes="cp-panel") as sb:
                    sb.border_title = "2 · Score"
                    yield Static(id="ev-gate")
                    with RadioSet(id="ev-score"):
                        for s in SCORES:
                            yield RadioButton(s.value, name=s.value, id=f"ev-score-{s.value}")
                    with RadioSet(id="ev-failure"):
                        for m in FAILURES:
                            yield RadioButton(m.value, name=m.value, id=f"ev-fail-{m.value}")
                    yield Input(
                        placeholder="comment / feedback (optional, kept as user_feedback)", id="ev-feedback"
                    )
                cons = Static(id="ev-consequences", classes="cp-panel")
                cons.border_title = "What changed"
                cons.display = False
                yield cons

    def on_mount(self) -> None:
        table = self.query_one("#ev-queue", DataTable)
        assert isinstance(table, FitTable)
        table.add_columns_fitted([("run", 25), ("why", 12)])
        self.query_one("#ev-failure", RadioSet).display = False
        self._set_detail(None)
        self.reload()

    def on_screen_resume(self) -> None:
        # a visit re-reads the logs only when they changed (a 100,000-line log takes seconds)
        if self.state is not None and logs_signature(self.services.store) != self._signature:
            self.reload()

    # ------------------------------------------------------------------ data

    def reload(self, select: str | None = None) -> None:
        """Re-read the logs in a thread worker (the queue shows a loading state meanwhile)."""
        self.query_one("#ev-queue", DataTable).loading = self.state is None
        self._load(select)

    @work(thread=True, exclusive=True, group="evaluate-load", exit_on_error=False)
    def _load(self, select: str | None = None) -> None:
        self._signature = logs_signature(self.services.store)  # before reading: never stale
        state = load_review(self.services.store)
        items = evaluation_queue(state, include_all=self.show_all)
        self.app.call_from_thread(self._apply, state, items, select)

    def action_reload(self) -> None:
        self.reload()

    def _apply(self, state: ReviewState, items: list[QueueItem], select: str | None) -> None:
        self.state = state
        self.items = items
        table = self.query_one("#ev-queue", DataTable)
        table.loading = False
        keep = select or (self.current.routing_id if self.current else None)
        table.clear()
        for item in items:
            why = Text(item.reason)
            why.no_wrap = False
            if item.judge is not None:
                why.stylize("bold")
            if item.flagged:
                why.stylize("red")
            run_cell = Text(
                f"{item.ensemble} #{item.invocation_number}", style="bold", no_wrap=True, overflow="ellipsis"
            )
            run_cell.append("\n" + (item.run.task_summary or ""), style="dim")
            run_cell.no_wrap = True
            table.add_row(
                run_cell,
                why,
                height=2,
                key=item.routing_id,
            )
        box = self.query_one("#ev-queue-box")
        box.border_title = "All local runs" if self.show_all else f"Needs evaluation ({len(items)})"
        help_text = Text()
        skipped = state.skipped_routing + state.skipped_evaluations
        if skipped:
            help_text.append(f"{skipped} corrupt log line(s) skipped\n", style="yellow")
        for problem in state.problems:
            help_text.append(problem + "\n", style="red")
        if not self.show_all and state.queue_total > len(items):
            help_text.append(
                f"showing the newest {len(items):,} of {state.queue_total:,} runs to evaluate\n", style="dim"
            )
        if self.show_all and state.total_runs > len(items):
            help_text.append(
                f"showing the last {len(items):,} of {state.total_runs:,} local runs\n", style="dim"
            )
        rep = state.agreement
        if rep is not None and rep.by_ensemble:
            help_text.append("Judge agreement\n", style="bold")
            for name in sorted(rep.by_ensemble):
                low = name in rep.untrusted
                help_text.append(
                    f" {name}: {rep.by_ensemble[name].label()}" + (" → back to you" if low else "") + "\n",
                    style="red" if low else "dim",
                )
        if self.claude_unavailable():
            help_text.append("Claude judge: needs ANTHROPIC_API_KEY\n", style="yellow")
            help_text.append("v all runs · f flag · ctrl+s record", style="dim")
        else:
            help_text.append("v all · f flag · j judge · ctrl+s record", style="dim")
        self.query_one("#ev-queue-help", Static).update(help_text)
        if not items:
            self._set_detail(None)
            return
        index = next((i for i, it in enumerate(items) if it.routing_id == keep), 0)
        table.move_cursor(row=index)
        self._set_detail(items[index])

    @on(DataTable.RowHighlighted, "#ev-queue")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        item = next((it for it in self.items if it.routing_id == key), None)
        if item is not None and (self.current is None or item.routing_id != self.current.routing_id):
            self._set_detail(item)

    def _set_detail(self, item: QueueItem | None) -> None:
        self.current = item
        self.refresh_bindings()
        run_box = self.query_one("#ev-run", Static)
        output = self.query_one("#ev-output", Static)
        judge = self.query_one("#ev-judge", Markdown)
        reflect = self.query_one("#ev-reflect", TextArea)
        for radio_set in self.query(RadioSet).results(RadioSet):
            _clear_radios(radio_set)
        self.query_one("#ev-feedback", Input).value = ""
        reflect.text = ""
        if item is None:
            run_box.update(
                Text(
                    "Nothing needs an evaluation right now. Press v to see every local run (and f to flag one).",
                    style="dim",
                )
            )
            output.update("")
            judge.display = False
            self.output_text = ""
            self._update_gate()
            return
        run = item.run
        text = Text()
        text.append(item.ensemble, style="bold")
        text.append(" ")
        text.append(
            f" invocation #{item.invocation_number}  ·  {item.phase.value}"
            + (f"  ·  {item.reason}" if not item.reason.startswith(item.phase.value) else ""),
            style="dim",
        )
        text.append("\nInput: ", style="bold")
        text.append(run.task_summary or "(no summary)")
        meta = []
        if run.task_type:
            meta.append(f"task type {run.task_type}")
        if run.total_tokens_local:
            meta.append(f"{run.total_tokens_local:,} local tokens")
        if meta:
            text.append("\n" + " · ".join(meta), style="dim")
        rep = self.state.agreement if self.state is not None else None
        pair = rep.by_ensemble.get(item.ensemble) if rep is not None else None
        if pair is not None:
            low = item.ensemble in rep.untrusted
            text.append(
                f"\nJudge agreement for {item.ensemble}: {pair.label()}"
                + (f" — below {rep.min_rate:.0%}: the judge's verdicts come back to you" if low else ""),
                style="red" if low else "dim",
            )
        verdicts = _per_model(item.judge)
        if verdicts:  # a complementary ensemble: each model's correctness
            text.append("\nPer model: ", style="bold")
            for i, (model, verdict) in enumerate(verdicts.items()):
                text.append(" · " if i else "")
                ok = verdict == "correct"
                text.append(f"{model} {'✓' if ok else '✗'} {verdict}", style="green" if ok else "red")
        run_box.update(text)
        _input, out = read_artifact(self.services.project, run)
        self.input_text = _input
        self.output_text = out
        output.update(Text(out))
        self.query_one("#ev-output-box", VerticalScroll).scroll_home(animate=False)
        if self.judging is not None and self.judging.routing_id == item.routing_id:
            self._show_judging(judge)
        elif item.judge is not None:
            j = item.judge
            verdict = j.judge_score or j.score
            verdict_text = verdict.value if isinstance(verdict, Score) else str(verdict)
            body = j.judge_reasoning or j.reasoning or ""
            judge.update(_md_escape(body))
            mode = getattr(j.failure_mode, "value", j.failure_mode) if verdict_text == "poor" else None
            judge.border_title = escape(
                f"Judge ({j.evaluator or 'claude'}): {verdict_text}" + (f" ({mode})" if mode else "")
            )
            judge.border_subtitle = f"{j.judge_tokens:,} tokens" if j.judge_tokens else ""
            judge.display = True
            rb = self.query_one("#ev-reflect-box")
            rb.border_title = "1 · Reflect (the judge's is above; write yours to override)"
        else:
            judge.display = False
            self.query_one("#ev-reflect-box").border_title = "1 · Reflect"
        self._update_gate()

    # ------------------------------------------------------------------ the gate

    def has_reflection(self) -> bool:
        if self.current is None:
            return False
        if self.current.judge is not None and (
            self.current.judge.judge_reasoning or self.current.judge.reasoning
        ):
            return True
        return bool(self.query_one("#ev-reflect", TextArea).text.strip())

    def selected_score(self) -> Score | None:
        pressed = self.query_one("#ev-score", RadioSet).pressed_button
        return Score(pressed.name) if pressed is not None and pressed.name else None

    def selected_failure(self) -> FailureMode | None:
        pressed = self.query_one("#ev-failure", RadioSet).pressed_button
        return FailureMode(pressed.name) if pressed is not None and pressed.name else None

    def _update_gate(self) -> None:
        gate = self.query_one("#ev-gate", Static)
        score = self.query_one("#ev-score", RadioSet)
        failure = self.query_one("#ev-failure", RadioSet)
        if self.current is None:
            score.disabled = True
            failure.display = False
            gate.update("")
            return
        ok = self.has_reflection()
        score.disabled = not ok
        chosen = self.selected_score()
        failure.display = ok and chosen is Score.POOR
        if not ok:
            gate.update(Text("Score locked — write your reflection first.", style="bold"))
        elif chosen is None:
            gate.update(
                Text(
                    "Choose good, acceptable or poor."
                    + (" Or J to agree with the judge." if self.current.judge else "")
                )
            )
        elif chosen is Score.POOR and self.selected_failure() is None:
            gate.update(Text("Poor needs a failure mode →", style="bold"))
        else:
            gate.update(Text("ctrl+s to record", style="bold"))

    @on(TextArea.Changed, "#ev-reflect")
    def _reflect_changed(self) -> None:
        self._update_gate()

    @on(RadioSet.Changed)
    def _radio_changed(self) -> None:
        self._update_gate()

    def disabled_reason(self, action: str) -> str | None:
        """Why a greyed key cannot act now (the palette shows it)."""
        if action == "judge" and self.judging is not None:
            return "Claude is already judging a run: one judge at a time (Esc stops it)."
        if action in ("record", "agree_judge") and self._judging_current():
            return "Claude's verdict for this run is on its way: wait for it, then agree (J) or override."
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "judge":
            if self.current is None:
                return False
            if self.claude_unavailable():
                return False  # no Claude here: hidden (the queue help says how to enable it)
            if self.judging is not None:
                return None  # shown, disabled: one judge at a time
            return True
        if action == "cancel_judge":
            return self.judging is not None
        if action in ("record", "agree_judge") and self._judging_current():
            return None  # the judge's verdict for this run is on its way
        if action == "agree_judge":
            return self.current is not None and self.current.judge is not None
        if action in ("record", "flag"):
            return self.current is not None
        return True

    # ------------------------------------------------------------------ actions

    def action_record(self) -> None:
        item = self.current
        if item is None:
            return
        if not self.has_reflection():
            self.notify(
                "Reflect first: the score is refused until a reflection exists.",
                severity="error",
                markup=False,
            )
            return
        score = self.selected_score()
        if score is None:
            self.notify("Choose a score (good, acceptable or poor).", severity="warning", markup=False)
            return
        failure = self.selected_failure() if score is Score.POOR else None
        if score is Score.POOR and failure is None:
            self.notify("A poor score needs a failure mode.", severity="error", markup=False)
            return
        reflection = self.query_one("#ev-reflect", TextArea).text.strip()
        feedback = self.query_one("#ev-feedback", Input).value.strip()
        if item.judge is not None and not reflection:
            reflection = item.judge.judge_reasoning or item.judge.reasoning or ""
        self._save(item, score, reflection, failure, feedback or None)

    def action_agree_judge(self) -> None:
        item = self.current
        if item is None or item.judge is None:
            return
        verdict = item.judge.judge_score or item.judge.score
        if verdict is None:
            self.notify("The judge left no score.", severity="warning", markup=False)
            return
        own = self.query_one("#ev-reflect", TextArea).text.strip()
        reasoning = item.judge.judge_reasoning or item.judge.reasoning or ""
        feedback = self.query_one("#ev-feedback", Input).value.strip() or own or "agreed with the judge"
        self._save(item, Score(verdict), reasoning, item.judge.failure_mode, feedback)

    def _judging_current(self) -> bool:
        return (
            self.judging is not None
            and self.current is not None
            and self.current.routing_id == self.judging.routing_id
        )

    def _save(
        self, item: QueueItem, score: Score, reasoning: str, failure: Any, feedback: str | None
    ) -> None:
        assert self.state is not None
        if self.judging is not None and self.judging.routing_id == item.routing_id:
            self.notify(
                "Claude is judging this run: wait for its verdict, then agree (J) or override it.",
                severity="warning",
                markup=False,
            )
            return
        try:
            record = build_evaluation(
                item,
                score=score,
                reasoning=reasoning,
                failure_mode=failure,
                user_feedback=feedback,
                output_length=len(self.output_text),
                now=self.services.clock(),
            )
        except ValueError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self._record_worker(item, record, score, failure)

    @work(thread=True, exclusive=True, group="evaluate-record", exit_on_error=False)
    def _record_worker(self, item: QueueItem, record: Any, score: Score, failure: Any) -> None:
        """Record through the conductor loop (invocation number, phase, lifecycle change,
        fallback re-routing, task profiles — the same path as ``record evaluation``)."""
        from conductor_tui.core.loop import Conductor
        from conductor_tui.engine.row_run import candidates_for

        services = self.services
        fields = record.to_json_dict()
        extra = {
            k: v
            for k, v in fields.items()
            if k
            in (
                "timestamp",
                "judge_score",
                "judge_reasoning",
                "judge_tokens",
                "judge_agreement",
                "calibration_context",
                "per_model",
            )
            and v is not None
        }
        try:
            outcome = Conductor(services.project, store=services.store, now=services.clock).record_evaluation(
                item.ensemble,
                score,
                reasoning=record.reasoning,
                failure_mode=failure,
                routing_id=item.routing_id,
                input_summary=record.input_summary,
                output_length=record.output_length,
                task_type=record.task_type,
                evaluator="human",
                phase=getattr(record.phase, "value", record.phase),
                user_feedback=record.user_feedback,
                session=getattr(item.run, "session", None),
                extra=extra,
                candidates_for=candidates_for(services.project),
            )
        except Exception as exc:
            self.app.call_from_thread(
                self.notify, f"Could not record the evaluation: {exc}", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self._recorded, item, outcome, score, failure)

    def _recorded(self, item: QueueItem, result: Any, score: Score, failure: Any) -> None:
        self.last_consequences = result
        head = (
            f"Recorded {score.value}"
            + (f" ({failure})" if failure else "")
            + f" for {item.ensemble} #{item.invocation_number}."
        )
        result.messages.insert(0, head)
        if result.rerouted:
            result.messages.append(f"{len(result.rerouted)} open plan row(s) re-routed to Claude.")
        self._show_consequences(result, score)
        self.query_one("#ev-queue", DataTable).focus()
        # select the next item in the queue after reload
        idx = next((i for i, it in enumerate(self.items) if it.routing_id == item.routing_id), 0)
        following = self.items[idx + 1].routing_id if idx + 1 < len(self.items) else None
        self.current = None
        self.reload(following)
        self.cockpit.signals.project_changed.publish(None)

    def _show_consequences(self, result: Any, score: Score) -> None:
        box = self.query_one("#ev-consequences", Static)
        text = Text()
        for i, line in enumerate(result.messages):
            style = "bold red" if "falling back" in line else "dim" if i == 0 else "bold" if i == 1 else ""
            text.append(("\n" if i else "") + line, style=style)
        box.update(text)
        box.set_class(result.fallback, "-poor")
        box.display = True

    def action_flag(self) -> None:
        item = self.current
        if item is None:
            return
        try:
            self.services.store.append_routing(flag_event(item.run, now=self.services.clock()))
        except Exception as exc:
            self.notify(f"Could not write routing-log.jsonl: {exc}", severity="error", markup=False)
            return
        self.notify(
            f"Flagged {item.ensemble} #{item.invocation_number} as unsatisfactory — it is in the queue.",
            markup=False,
        )
        self.show_all = False
        self.reload(item.routing_id)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.reload()

    # ------------------------------------------------------------------ Claude as judge

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
        self._judge_gen += 1
        self.judge_text = ""
        self.judge_verdict = None
        self.judge_error = None
        with self._judge_lock:
            self._judge_pending.clear()
        panel = self.query_one("#ev-judge", Markdown)
        self._show_judging(panel)
        self._judge_timer = self.set_interval(1 / 20, self._flush_judge)
        self.refresh_bindings()
        run = item.run
        task = run.task_summary or f"{item.ensemble} run"
        input_summary = (self.input_text or run.task_summary or "")[:4000]
        self._judge_worker(item, task, input_summary, self.output_text, self.claude(), self._judge_gen)

    def _show_judging(self, panel: Markdown) -> None:
        """Point the judge panel at the run being judged: its text so far, then the stream."""
        panel.display = True
        panel.border_title = "Judge (claude): reflecting…"
        panel.border_subtitle = "the score comes after the reflection"
        panel.update(_md_escape(self.judge_text))
        self._judge_stream = Markdown.get_stream(panel)
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
            await self._judge_stream.write(_md_escape(pending))
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

        def overhead(usage: Any) -> None:
            try:  # the call cost tokens even though it produced no verdict
                if usage is not None and usage.total:
                    record_claude_overhead(store.project, "judging", usage, store=store)
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
                self.app.call_from_thread(self._judge_failed, item, err.message, err.partial)
            return
        except Exception as exc:  # never leave the screen in the judging state
            if gen == self._judge_gen:
                self.app.call_from_thread(self._judge_failed, item, f"{type(exc).__name__}: {exc}", "")
            return
        if gen != self._judge_gen:  # stopped by the person: no verdict, only its cost
            overhead(verdict.usage)
            return
        try:
            evaluation = record_judge_verdict(
                store.project,
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
            self.app.call_from_thread(
                self._judge_failed, item, f"could not write evaluations.jsonl: {exc}", verdict.reflection
            )
            return
        self.app.call_from_thread(self._judge_done, item, verdict, evaluation, gen)

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
            panel = self.query_one("#ev-judge", Markdown)
            panel.update(_md_escape(self.judge_text))
            panel.border_title = escape(f"Judge (claude): {score}" + (f" ({mode})" if mode else ""))
            panel.border_subtitle = ""
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
            panel = self.query_one("#ev-judge", Markdown)
            panel.border_title = "Judge (claude): stopped — nothing recorded"
            panel.border_subtitle = ""
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
            panel = self.query_one("#ev-judge", Markdown)
            panel.display = True
            panel.update(_md_escape(self.judge_text) if self.judge_text else "_(no reflection received)_")
            panel.border_title = "Judge (claude): failed — partial reflection, nothing recorded"
            panel.border_subtitle = ""
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


def _clear_radios(radio_set: RadioSet) -> None:
    """Un-press every button (RadioSet itself never lets the last one go)."""
    with radio_set.prevent(RadioButton.Changed):
        for button in radio_set.query(RadioButton).results(RadioButton):
            button.value = False
    radio_set._pressed_button = None
    radio_set._selected = None


def _md_escape(text: str) -> str:
    """Judge text goes into Markdown as a plain paragraph: neutralise markup characters."""
    out = []
    for ch in text:
        if ch in "\\`*_{}[]<>()#+-!|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _per_model(evaluation: Any) -> dict[str, str]:
    """``{model: correct | incorrect}`` recorded on an evaluation (complementary ensembles)."""
    if evaluation is None:
        return {}
    from conductor_tui.core.designer import per_model_of

    try:
        return per_model_of(evaluation)
    except Exception:
        return {}
