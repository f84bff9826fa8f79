"""Evaluate: the runs that need an evaluation, then Reflect, then Score (seed 001,
EVALUATION AND REFLECTION).

Left: the queue (calibration runs, sampled Establish runs, flagged runs, runs the judge
scored and the person has not reviewed).  Right, for the selected run: what it was
asked, the output (plain text, scrollable — never markup), the judge's verdict when
there is one, the **Reflect** panel and only then the **Score** panel.  The score stays
disabled until a reflection exists; "poor" needs a failure mode.  Recording appends the
spec's record to ``evaluations.jsonl`` and shows the consequences at once.

Judge hook: a later issue streams Claude's reflection.  It should call
:meth:`EvaluationScreen.judge_stream` (a ``Markdown`` stream into the judge panel) and
then :meth:`EvaluationScreen.judge_finished` with the verdict; until a judge provider
exists, ``J`` explains that.
"""

from __future__ import annotations

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
    consequences,
    evaluation_queue,
    flag_event,
    load_review,
    profiles_after_evaluation,
    read_artifact,
)
from conductor_tui.ui.screens.base import CockpitScreen

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
    CSS_PATH = STYLES / "issue5.tcss"
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

With a judge verdict: `J` agrees with it (your reflection is kept as a comment), or pick
another score to override it — both verdicts are kept in the record.
"""
    BINDINGS = [
        Binding("ctrl+s", "record", "Record evaluation", id="evaluate.record", priority=True),
        Binding("J", "agree_judge", "Agree with judge", id="evaluate.agree_judge"),
        Binding("f", "flag", "Flag unsatisfactory", id="evaluate.flag"),
        Binding("v", "toggle_all", "All runs / queue", id="evaluate.toggle_all"),
        Binding("ctrl+r", "reload", "Reload", id="evaluate.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: ReviewState | None = None
        self.items: list[QueueItem] = []
        self.current: QueueItem | None = None
        self.show_all = False
        self.output_text = ""
        self.last_consequences: Consequences | None = None

    # ------------------------------------------------------------------ layout

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ev-body"):
            with Vertical(id="ev-queue-box", classes="i5-panel") as box:
                box.border_title = "Needs evaluation"
                yield DataTable(id="ev-queue", cursor_type="row", zebra_stripes=True)
                yield Static(id="ev-queue-help")
            with Vertical(id="ev-detail"):
                run = Static(id="ev-run", classes="i5-panel")
                run.border_title = "Run"
                yield run
                with VerticalScroll(id="ev-output-box", classes="i5-panel") as out:
                    out.border_title = "Output"
                    yield Static(id="ev-output")
                judge = Markdown(id="ev-judge", classes="i5-panel")
                judge.border_title = "Judge"
                judge.display = False
                yield judge
                with Vertical(id="ev-reflect-box", classes="i5-panel") as rb:
                    rb.border_title = "1 · Reflect"
                    yield Static(Text(REFLECT_PROMPT, style="italic"), classes="i5-muted")
                    yield TextArea(id="ev-reflect", soft_wrap=True, show_line_numbers=False)
                with Vertical(id="ev-score-box", classes="i5-panel") as sb:
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
                cons = Static(id="ev-consequences", classes="i5-panel")
                cons.border_title = "What changed"
                cons.display = False
                yield cons

    def on_mount(self) -> None:
        table = self.query_one("#ev-queue", DataTable)
        table.add_column("run", width=25, key="run")
        table.add_column("why", width=13, key="why")
        self.query_one("#ev-failure", RadioSet).display = False
        self._set_detail(None)
        self.reload()

    def on_screen_resume(self) -> None:
        if self.state is not None:
            self.reload()

    # ------------------------------------------------------------------ data

    def reload(self, select: str | None = None) -> None:
        """Re-read the logs in a thread worker (the queue shows a loading state meanwhile)."""
        self.query_one("#ev-queue", DataTable).loading = self.state is None
        self._load(select)

    @work(thread=True, exclusive=True, group="evaluate-load", exit_on_error=False)
    def _load(self, select: str | None = None) -> None:
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
        help_text.append("v all runs · f flag · ctrl+s record", style="dim")
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
        run_box.update(text)
        _input, out = read_artifact(self.services.project, run)
        self.output_text = out
        output.update(Text(out))
        self.query_one("#ev-output-box", VerticalScroll).scroll_home(animate=False)
        if item.judge is not None:
            j = item.judge
            verdict = j.judge_score or j.score
            verdict_text = verdict.value if isinstance(verdict, Score) else str(verdict)
            body = j.judge_reasoning or j.reasoning or ""
            judge.update(_md_escape(body))
            judge.border_title = escape(f"Judge ({j.evaluator or 'claude'}): {verdict_text}")
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
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

    def _save(
        self, item: QueueItem, score: Score, reasoning: str, failure: Any, feedback: str | None
    ) -> None:
        assert self.state is not None
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
        result = consequences(self.state, item, score)
        try:
            self.services.store.append_evaluation(record)
        except Exception as exc:
            self.notify(f"Could not write evaluations.jsonl: {exc}", severity="error", markup=False)
            return
        try:
            profiles = profiles_after_evaluation(self.state, item, record)
            if profiles is not None:
                self.services.store.save_task_profiles(profiles)
        except Exception as exc:  # the evaluation is safe on disk; the profile is derived data
            self.notify(f"task-profiles.yaml not updated: {exc}", severity="warning", markup=False)
        self.last_consequences = result
        head = (
            f"Recorded {score.value}"
            + (f" ({failure})" if failure else "")
            + f" for {item.ensemble} #{item.invocation_number}."
        )
        result.messages.insert(0, head)
        self._show_consequences(result, score)
        self.query_one("#ev-queue", DataTable).focus()
        # select the next item in the queue after reload
        idx = next((i for i, it in enumerate(self.items) if it.routing_id == item.routing_id), 0)
        following = self.items[idx + 1].routing_id if idx + 1 < len(self.items) else None
        self.current = None
        self.reload(following)

    def _show_consequences(self, result: Consequences, score: Score) -> None:
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

    # ------------------------------------------------------------------ judge hook

    def judge_stream(self):
        """A ``MarkdownStream`` into the judge panel, for the Claude judge (a later issue):
        ``stream = screen.judge_stream(); await stream.write(delta) …; await stream.stop()``,
        then :meth:`judge_finished`."""
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
