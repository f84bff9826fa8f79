"""The Evaluate screen's panels: the queue's rows and help line, the Run summary, the Judge
panel (a verdict, or Claude's reflection as it streams) and the rubric — Reflect first, then
Score, with its gate (see the glossary: evaluation).  Each renders itself; the screen routes
the selected run to them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Input, Markdown, RadioButton, RadioSet, Static

from conductor_tui.core.records import FailureMode, Score
from conductor_tui.core.review import QueueItem, ReviewState

REFLECT_PROMPT = "Complete? · Correct, as far as you can tell? · Right format? · Anything invented?"
SCORES = [Score.GOOD, Score.ACCEPTABLE, Score.POOR]
FAILURES = [
    FailureMode.HALLUCINATION,
    FailureMode.INCOMPLETE,
    FailureMode.WRONG_FORMAT,
    FailureMode.OFF_TOPIC,
]


def clear_radios(radio_set: RadioSet) -> None:
    """Un-press every button (RadioSet itself never lets the last one go)."""
    with radio_set.prevent(RadioButton.Changed):
        for button in radio_set.query(RadioButton).results(RadioButton):
            button.value = False
    radio_set._pressed_button = None
    radio_set._selected = None


def md_escape(text: str) -> str:
    """Judge text goes into Markdown as a plain paragraph: neutralise markup characters."""
    out = []
    for ch in text:
        if ch in "\\`*_{}[]<>()#+-!|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def per_model(evaluation: Any) -> dict[str, str]:
    """``{model: correct | incorrect}`` recorded on an evaluation (complementary ensembles)."""
    if evaluation is None:
        return {}
    from conductor_tui.core.designer import per_model_of

    try:
        return per_model_of(evaluation)
    except Exception:
        return {}


def queue_row(item: QueueItem) -> tuple[Text, Text]:
    """The queue's two cells for a run: ensemble #n over its summary, and why it is there."""
    return queue_cells(queue_data(item))


def queue_data(item: QueueItem) -> tuple:
    """What a run's queue row shows (equal data, the same row: ``table_sync.show_rows``)."""
    return (
        item.ensemble,
        item.invocation_number,
        item.run.task_summary or "",
        item.reason,
        item.judge is not None,
        bool(item.flagged),
    )


def queue_cells(data: tuple) -> tuple[Text, Text]:
    """The two cells of :func:`queue_data`."""
    ensemble, number, summary, reason, judged, flagged = data
    why = Text(reason)
    why.no_wrap = False
    if judged:
        why.stylize("bold")
    if flagged:
        why.stylize("red")
    run_cell = Text(f"{ensemble} #{number}", style="bold", no_wrap=True, overflow="ellipsis")
    run_cell.append("\n" + summary, style="dim")
    run_cell.no_wrap = True
    return run_cell, why


def queue_help(state: ReviewState, shown: int, *, show_all: bool, claude_missing: bool) -> Text:
    """Below the queue: skipped lines, problems, how much is shown, judge agreement, the keys."""
    help_text = Text()
    skipped = state.skipped_routing + state.skipped_evaluations
    if skipped:
        help_text.append(f"{skipped} corrupt log line(s) skipped\n", style="yellow")
    for problem in state.problems:
        help_text.append(problem + "\n", style="red")
    if not show_all and state.queue_total > shown:
        help_text.append(
            f"showing the newest {shown:,} of {state.queue_total:,} runs to evaluate\n", style="dim"
        )
    if show_all and state.total_runs > shown:
        help_text.append(f"showing the last {shown:,} of {state.total_runs:,} local runs\n", style="dim")
    rep = state.agreement
    if rep is not None and rep.by_ensemble:
        help_text.append("Judge agreement\n", style="bold")
        for name in sorted(rep.by_ensemble):
            low = name in rep.untrusted
            help_text.append(
                f" {name}: {rep.by_ensemble[name].label()}" + (" → back to you" if low else "") + "\n",
                style="red" if low else "dim",
            )
    if claude_missing:
        help_text.append("Claude judge: needs ANTHROPIC_API_KEY\n", style="yellow")
        help_text.append("v all runs · f flag · ctrl+s record", style="dim")
    else:
        help_text.append("v all · f flag · j judge · ctrl+s record", style="dim")
    return help_text


class RunSummary(Static):
    """The Run panel: the ensemble, invocation, phase, why it needs a verdict, what it was asked,
    the judge's agreement rate for the ensemble and, for a complementary ensemble, each model's
    correctness."""

    def show_empty(self, *, reading: bool = False) -> None:
        """No run to show: the logs are still being read, or nothing needs a verdict."""
        if reading:
            self.update(Text("Reading routing-log.jsonl and evaluations.jsonl…", style="dim"))
            return
        self.update(
            Text(
                "Nothing needs an evaluation right now. Press v to see every local run (and f to flag one).",
                style="dim",
            )
        )

    def show(self, item: QueueItem, state: ReviewState | None) -> None:
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
        rep = state.agreement if state is not None else None
        pair = rep.by_ensemble.get(item.ensemble) if rep is not None else None
        if rep is not None and pair is not None:
            low = item.ensemble in rep.untrusted
            text.append(
                f"\nJudge agreement for {item.ensemble}: {pair.label()}"
                + (f" — below {rep.min_rate:.0%}: the judge's verdicts come back to you" if low else ""),
                style="red" if low else "dim",
            )
        verdicts = per_model(item.judge)
        if verdicts:  # a complementary ensemble: each model's correctness
            text.append("\nPer model: ", style="bold")
            for i, (model, verdict) in enumerate(verdicts.items()):
                text.append(" · " if i else "")
                ok = verdict == "correct"
                text.append(f"{model} {'✓' if ok else '✗'} {verdict}", style="green" if ok else "red")
        self.update(text)


class JudgePanel(Markdown):
    """The Judge panel: a recorded verdict with its reasoning, or Claude's reflection while it
    streams (the score comes after the reflection), or why judging stopped or failed."""

    def show_verdict(self, judge: Any) -> None:
        """A recorded judge evaluation: its score (and failure mode when poor) and reasoning."""
        verdict = judge.judge_score or judge.score
        verdict_text = verdict.value if isinstance(verdict, Score) else str(verdict)
        self.update(md_escape(judge.judge_reasoning or judge.reasoning or ""))
        mode = getattr(judge.failure_mode, "value", judge.failure_mode) if verdict_text == "poor" else None
        self.border_title = escape(
            f"Judge ({judge.evaluator or 'claude'}): {verdict_text}" + (f" ({mode})" if mode else "")
        )
        self.border_subtitle = f"{judge.judge_tokens:,} tokens" if judge.judge_tokens else ""
        self.display = True

    def start_stream(self, text_so_far: str) -> Any:
        """Show the reflection so far and return a stream for the rest."""
        self.display = True
        self.border_title = "Judge (claude): reflecting…"
        self.border_subtitle = "the score comes after the reflection"
        self.update(md_escape(text_so_far))
        return Markdown.get_stream(self)

    def show_done(self, text: str, score: str, mode: str | None) -> None:
        self.update(md_escape(text))
        self.border_title = escape(f"Judge (claude): {score}" + (f" ({mode})" if mode else ""))
        self.border_subtitle = ""

    def show_stopped(self) -> None:
        self.border_title = "Judge (claude): stopped — nothing recorded"
        self.border_subtitle = ""

    def show_failed(self, text: str) -> None:
        self.display = True
        self.update(md_escape(text) if text else "_(no reflection received)_")
        self.border_title = "Judge (claude): failed — partial reflection, nothing recorded"
        self.border_subtitle = ""


class Choices(RadioSet):
    """A RadioSet whose first choice is highlighted when it gets the focus with none
    highlighted (Textual's RadioSet highlights one when it is mounted, and the score is still
    locked then): Tab to it, then Enter or space picks, the arrows move."""

    def on_focus(self) -> None:
        if self._selected is None:
            self.action_next_button()


class ScorePanel(Vertical):
    """2 · Score: locked until a reflection exists; "poor" needs a failure mode; an optional
    comment kept as the person's feedback."""

    def compose(self) -> ComposeResult:
        yield Static(id="ev-gate")
        with Choices(id="ev-score"):
            for s in SCORES:
                yield RadioButton(s.value, name=s.value, id=f"ev-score-{s.value}")
        with Choices(id="ev-failure"):
            for m in FAILURES:
                yield RadioButton(m.value, name=m.value, id=f"ev-fail-{m.value}")
        yield Input(placeholder="comment / feedback (optional, kept as user_feedback)", id="ev-feedback")

    def reset(self) -> None:
        for radio_set in self.query(RadioSet).results(RadioSet):
            clear_radios(radio_set)
        self.query_one("#ev-feedback", Input).value = ""

    @property
    def feedback(self) -> str:
        return self.query_one("#ev-feedback", Input).value.strip()

    def selected_score(self) -> Score | None:
        pressed = self.query_one("#ev-score", RadioSet).pressed_button
        return Score(pressed.name) if pressed is not None and pressed.name else None

    def selected_failure(self) -> FailureMode | None:
        pressed = self.query_one("#ev-failure", RadioSet).pressed_button
        return FailureMode(pressed.name) if pressed is not None and pressed.name else None

    def update_gate(self, item: QueueItem | None, reflected: bool) -> None:
        """Lock or unlock the score for ``item`` and say what is missing before recording."""
        gate = self.query_one("#ev-gate", Static)
        score = self.query_one("#ev-score", RadioSet)
        failure = self.query_one("#ev-failure", RadioSet)
        if item is None:
            score.disabled = True
            failure.display = False
            gate.update("")
            return
        score.disabled = not reflected
        chosen = self.selected_score()
        failure.display = reflected and chosen is Score.POOR
        if not reflected:
            gate.update(Text("Score locked — write your reflection first.", style="bold"))
        elif chosen is None:
            gate.update(
                Text(
                    "Choose good, acceptable or poor."
                    + (" Or J to agree with the judge." if item.judge else "")
                )
            )
        elif chosen is Score.POOR and self.selected_failure() is None:
            gate.update(Text("Poor needs a failure mode →", style="bold"))
        else:
            gate.update(Text("ctrl+s to record", style="bold"))
