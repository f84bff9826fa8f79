"""Evaluate: the runs that need an evaluation, then Reflect, then Score (see the
glossary: evaluation).

Left: the queue (calibration runs, sampled Establish runs, flagged runs, runs the judge
scored and the person has not reviewed).  Right, for the selected run: what it was
asked, the output (plain text, scrollable — never markup), the judge's verdict when
there is one, the **Reflect** panel and only then the **Score** panel.  The score stays
disabled until a reflection exists; "poor" needs a failure mode.  Recording appends the
spec's record to ``evaluations.jsonl`` and shows the consequences at once.

The panels live in ``ui/widgets/eval_panels.py``; Claude as judge (``j``, streamed
reflection, ``J`` to agree, ``escape`` to stop) in ``evaluation_judge.py``.  Without
``ANTHROPIC_API_KEY`` the key is hidden and the queue says why; the human reflect → score
flow is unchanged.
"""

from __future__ import annotations

from operator import is_
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, RadioSet, Static, TextArea

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
from conductor_tui.ui import warm
from conductor_tui.ui.collect_later import CollectionPause
from conductor_tui.ui.screens.base import logs_signature
from conductor_tui.ui.screens.evaluation_judge import JudgeFlow
from conductor_tui.ui.widgets.eval_panels import (
    FAILURES,
    REFLECT_PROMPT,
    SCORES,
    JudgePanel,
    RunSummary,
    ScorePanel,
    queue_cells,
    queue_data,
    queue_help,
)
from conductor_tui.ui.widgets.fit import FitTable
from conductor_tui.ui.widgets.table_sync import show_rows

__all__ = ["FAILURES", "REFLECT_PROMPT", "SCORES", "EvaluationScreen"]

STYLES = Path(__file__).resolve().parent.parent / "styles"
# the built record's fields the loop's record_evaluation takes as they are
_KEPT_FIELDS = frozenset(
    (
        "timestamp",
        "judge_score",
        "judge_reasoning",
        "judge_tokens",
        "judge_agreement",
        "calibration_context",
        "per_model",
    )
)


class EvaluationScreen(JudgeFlow):
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
        self._collect_pause = CollectionPause()  # the first load's (see ui/collect_later.py)

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
                run = RunSummary(id="ev-run", classes="cp-panel")
                run.border_title = "Run"
                yield run
                with VerticalScroll(id="ev-output-box", classes="cp-panel") as out:
                    out.border_title = "Output"
                    yield Static(id="ev-output")
                judge = JudgePanel(id="ev-judge", classes="cp-panel")
                judge.border_title = "Judge"
                judge.display = False
                yield judge
                with Vertical(id="ev-reflect-box", classes="cp-panel") as rb:
                    rb.border_title = "1 · Reflect"
                    yield Static(Text(REFLECT_PROMPT, style="italic"), classes="cp-muted")
                    yield TextArea(id="ev-reflect", soft_wrap=True, show_line_numbers=False)
                score_box = ScorePanel(id="ev-score-box", classes="cp-panel")
                score_box.border_title = "2 · Score"
                yield score_box
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
        if self.state is None:  # the first load: no collection until its rows are painted
            self._collect_pause.start()
        try:
            state = load_review(self.services.store)
            items = evaluation_queue(state, include_all=self.show_all)
            self.app.call_from_thread(self._apply, state, items, select)
        except BaseException:
            self._collect_pause.end()
            raise

    def on_unmount(self) -> None:
        self._collect_pause.end()

    def action_reload(self) -> None:
        self.reload()

    def _apply(self, state: ReviewState, items: list[QueueItem], select: str | None) -> None:
        try:
            self._show(state, items, select)
        finally:
            self._collect_pause.end_after_paint(self)

    def _show(self, state: ReviewState, items: list[QueueItem], select: str | None) -> None:
        # the remembered state of an unchanged project gives the very same entries
        same = state is self.state and len(items) == len(self.items) and all(map(is_, items, self.items))
        first, self.state = self.state is None, state
        self.items = items
        if first:
            warm.freeze_loaded()
        table = self.query_one("#ev-queue", DataTable)
        table.loading = False
        keep = select or (self.current.routing_id if self.current else None)
        if not same or not table.row_count:  # unchanged rows stay, built only when they change
            show_rows(table, [(item.routing_id, queue_data(item)) for item in items], queue_cells, height=2)
        box = self.query_one("#ev-queue-box")
        box.border_title = "All local runs" if self.show_all else f"Needs evaluation ({len(items)})"
        missing = bool(self.claude_unavailable())
        help_text = queue_help(state, len(items), show_all=self.show_all, claude_missing=missing)
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
        run_box = self.query_one("#ev-run", RunSummary)
        output = self.query_one("#ev-output", Static)
        judge = self.query_one("#ev-judge", JudgePanel)
        self.query_one("#ev-score-box", ScorePanel).reset()
        self.query_one("#ev-reflect", TextArea).text = ""
        if item is None:
            run_box.show_empty(reading=self.state is None)
            output.update("")
            judge.display = False
            self.output_text = ""
            self._update_gate()
            return
        run_box.show(item, self.state)
        self.input_text, self.output_text = read_artifact(self.services.project, item.run)
        output.update(Text(self.output_text))
        self.query_one("#ev-output-box", VerticalScroll).scroll_home(animate=False)
        reflect_box = self.query_one("#ev-reflect-box")
        if self.judging is not None and self.judging.routing_id == item.routing_id:
            self._show_judging(judge)
        elif item.judge is not None:
            judge.show_verdict(item.judge)
            reflect_box.border_title = "1 · Reflect (the judge's is above; write yours to override)"
        else:
            judge.display = False
            reflect_box.border_title = "1 · Reflect"
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
        return self.query_one("#ev-score-box", ScorePanel).selected_score()

    def selected_failure(self) -> FailureMode | None:
        return self.query_one("#ev-score-box", ScorePanel).selected_failure()

    def _update_gate(self) -> None:
        self.query_one("#ev-score-box", ScorePanel).update_gate(self.current, self.has_reflection())

    @on(TextArea.Changed, "#ev-reflect")
    def _reflect_changed(self) -> None:
        self._update_gate()
        if self.has_reflection():  # the person writes (not the panel cleared for a run)
            self.read_history_ahead()

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
        feedback = self.query_one("#ev-score-box", ScorePanel).feedback
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
        feedback = self.query_one("#ev-score-box", ScorePanel).feedback or own or "agreed with the judge"
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
        self._history.wait()  # a read ahead still running: recording reads the same history
        fields = record.to_json_dict()
        extra = {k: v for k, v in fields.items() if k in _KEPT_FIELDS and v is not None}
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
