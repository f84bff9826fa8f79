"""The Lifecycle screen's table layout and panels: the ladder, one table row per task type +
ensemble, the Selected (evidence) panel, the Routing config panel and the Designer handoff
panel.  Each panel is a ``Static`` that renders itself from the review state (see the
glossary: lifecycle, standing authorisation, interim Claude / debt, designer)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from conductor_tui.core.records import Phase
from conductor_tui.core.review import LifecycleRow, ReviewState
from conductor_tui.ui.widgets.numbers import fit_count, fit_counts

LADDER = [Phase.DESIGN, Phase.CALIBRATE, Phase.ESTABLISH, Phase.TRUST, Phase.PROMOTE]
PHASE_STYLE = {
    Phase.DESIGN: "bold white on #6b4f9e",
    Phase.CALIBRATE: "bold black on #d9a53f",
    Phase.ESTABLISH: "bold black on #4aa3df",
    Phase.TRUST: "bold black on #4fbf72",
    Phase.PROMOTE: "bold black on #7fe0a0",
}
GAP_WIDTH = 6  # good/acceptable/poor ("12/3/1"); wider while a row's counts need it
GAP_MAX = 12  # "1085/325/153" whole; "13894/3949/1948" as "14k/4k/2k"
COLUMNS = [
    ("task type", 22),
    ("ensemble", 23),
    ("ladder", 11),
    ("uses", 4),
    ("g/a/p", GAP_WIDTH),
    ("last used", 11),
    ("next", 20),
    ("debt", 4),
]
DESIGNER_STATE_STYLE = {
    "proposed": "yellow",
    "requested": "cyan",
    "answered": "green",
    "declined": "dim",
    "rejected": "red",
    "sent": "dim",
}


def ladder_text(phase: Phase, *, full: bool = False) -> Text:
    """``D C [E] T P`` (compact) or ``Design → Calibrate → Establish → …`` with the current highlighted."""
    text = Text()
    for i, p in enumerate(LADDER):
        label = p.value.title() if full else p.value[0].upper()
        if i:
            text.append(" → " if full else " ", style="dim")
        if p is phase:
            text.append(f" {label} ", style=PHASE_STYLE[p])
        else:
            text.append(label, style="dim")
    return text


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "—"


def gap_width(rows: list[LifecycleRow]) -> int:
    """The g/a/p column's width for these rows: its usual 6, up to 11 when counts need it."""
    need = max(
        (len(f"{r.status.counts.good}/{r.status.counts.acceptable}/{r.status.counts.poor}") for r in rows),
        default=0,
    )
    return max(GAP_WIDTH, min(GAP_MAX, need))


def table_layout(width: int, gap: int = GAP_WIDTH) -> tuple[dict[str, int], str]:
    """Which columns stay whole at this width; the Selected panel shows every collapsed fact.

    Below 100 columns "last used" and "next" collapse and the task type takes the rest; below
    140 "uses" and "last used" collapse so "next" reads whole (39 columns of it at 120, with
    g/a/p at its usual width) and
    "debt" stays on screen; from 140 every column shows and "next" takes the rest (40 or more)."""
    fixed = {"ensemble": 23, "ladder": 11, "uses": 4, "g/a/p": gap, "debt": 4}
    if width < 100:  # a wider g/a/p takes its room from the ensemble first
        fixed["ensemble"] = max(16, 23 - (gap - GAP_WIDTH))
        return {**fixed, "last used": 0, "next": 0}, "task type"
    if width < 140:
        return {**fixed, "task type": 22, "uses": 0, "last used": 0}, "next"
    return {**fixed, "task type": 22, "last used": 11}, "next"


def row_cells(row: LifecycleRow, gap: int = GAP_MAX) -> list[Text]:
    """The table cells of one task type + ensemble, in :data:`COLUMNS` order."""
    st = row.status
    c = st.counts
    evidence = Text()
    counts = fit_counts((c.good, c.acceptable, c.poor), gap)
    for i, (part, style) in enumerate(
        zip(counts.split("/"), ("green", "yellow", "red" if c.poor else ""), strict=False)
    ):
        if i:
            evidence.append("/")
        evidence.append(part, style=style)
    nxt = Text(
        st.next_step if not row.design_rejected else "design rejected",
        overflow="ellipsis",
        no_wrap=True,
    )
    if st.promotion.global_ready and row.ensemble:
        nxt = Text("★ promote-ready · ", style="bold green") + nxt
    return [
        Text(row.task_type),
        Text(
            (row.ensemble or "—") + (" ✓" if row.authorized else ""),
            style="" if row.ensemble else "dim",
            no_wrap=True,
            overflow="ellipsis",
        ),
        ladder_text(st.phase),
        Text(fit_count(st.invocations, 4, grouped=False), justify="right"),
        evidence,
        Text(row.last_used.strftime("%m-%d %H:%M") if row.last_used else "—", style="dim"),
        nxt,
        Text(fit_count(row.debt, 4, grouped=False) if row.debt else "", style="bold yellow", justify="right"),
    ]


class EvidencePanel(Static):
    """The Selected panel: the row's ladder, evidence, next step, calibration, promotion,
    LoRA candidacy, judge agreement, debt, design rejection and standing authorisation."""

    def show_empty(self) -> None:
        self.update(
            Text(
                "No task types yet: the lifecycle starts with the first routing decision or task profile.",
                style="dim",
            )
        )

    def show(self, row: LifecycleRow, state: ReviewState | None) -> None:
        text = Text()
        self._head(text, row)
        self._progress(text, row)
        self._lora(text, row)
        self._agreement(text, row, state)
        if row.debt:
            text.append("\nInterim Claude debt: ", style="bold")
            text.append(f"{row.debt} delegable subtask(s) handled by Claude", style="yellow")
        if row.design_rejected:
            text.append("\nDesign rejected: ", style="bold red")
            text.append(row.rejection_reason or "(no reason recorded)")
        if row.ensemble:
            text.append("\nStanding authorisation: ", style="bold")
            text.append(
                "granted (a to revoke)" if row.authorized else "none (a to grant)",
                style="green" if row.authorized else "dim",
            )
        self.update(text)

    @staticmethod
    def _head(text: Text, row: LifecycleRow) -> None:
        st = row.status
        c = st.counts
        text.append(f"{row.task_type}", style="bold")
        text.append(f"  ·  {row.ensemble or 'no ensemble'}\n", style="bold" if row.ensemble else "dim")
        text.append_text(ladder_text(st.phase, full=True))
        text.append("\nEvidence: ", style="bold")
        text.append(
            f"{st.invocations} uses · {c.good} good · {c.acceptable} acceptable · {c.poor} poor · last used {_when(row.last_used)}"
        )

    @staticmethod
    def _progress(text: Text, row: LifecycleRow) -> None:
        st = row.status
        text.append("\nNext: ", style="bold")
        if row.design_rejected:
            text.append("none — Claude-only until new models or verification scripts make a design possible")
        else:
            text.append(st.next_step)
        if st.calibration is not None:
            text.append("\nCalibration: ", style="bold")
            text.append(st.calibration.message)
            if row.fallback_this_session:
                text.append("  (a poor score triggered the fallback to Claude this session)", style="yellow")
        if row.ensemble:
            text.append("\nPromotion: ", style="bold")
            promo = st.promotion
            text.append(
                ("ready for global — " if promo.global_ready else "not yet — ") + promo.next_step,
                style="green" if promo.global_ready else "",
            )

    @staticmethod
    def _lora(text: Text, row: LifecycleRow) -> None:
        lora = row.lora
        if lora is not None and lora.poor:
            text.append("\nLoRA candidate: ", style="bold")
            mode = getattr(lora.dominant_failure_mode, "value", lora.dominant_failure_mode)
            if lora.flag:
                text.append(
                    f"yes — {lora.poor} poor, mostly {mode}; recommend a fine-tune to the designer",
                    style="magenta",
                )
            else:
                text.append(
                    f"no — {lora.poor} poor" + (f", mostly {mode}" if mode else ", no single failure mode"),
                    style="dim",
                )
        if lora is not None and lora.flag:
            text.append("  (x exports its training data)", style="dim")

    @staticmethod
    def _agreement(text: Text, row: LifecycleRow, state: ReviewState | None) -> None:
        rep = state.agreement if state is not None else None
        if rep is None or not row.ensemble:
            return
        pair = rep.by_ensemble.get(row.ensemble)
        if pair is None:
            return
        low = row.ensemble in rep.untrusted
        text.append("\nJudge agreement: ", style="bold")
        text.append(
            pair.label() + (f" — below {rep.min_rate:.0%}: its verdicts come back to you" if low else ""),
            style="red" if low else "",
        )


class ConfigPanel(Static):
    """The Routing config panel: the current version's thresholds, standing authorisations,
    the other versions (for roll back) and the config's problems."""

    def show(self, state: ReviewState, versions: list[tuple[int, Any]]) -> None:
        cfg = state.config
        th = cfg.routing_thresholds
        text = Text()
        text.append(f"v{cfg.version}", style="bold")
        text.append(
            f"  calibration {th.calibration_period} · sampling {th.sampling_rate_established:.0%} · trust >{th.trusted_threshold_uses} uses "
            f"& >{th.trusted_threshold_good_ratio:.0%} · repetition {th.repetition_threshold} · promote {th.promotion_global_good}/{th.promotion_library_good} good"
        )
        auths = ", ".join(f"{a.task_type} → {a.ensemble}" for a in cfg.standing_authorizations) or "none"
        text.append("\nStanding authorisations: ", style="bold")
        text.append(auths)
        older = [v for v, _ in versions if v != cfg.version]
        text.append("\nVersions: ", style="bold")
        text.append(
            ", ".join(f"v{v}" for v in older) + f" (current v{cfg.version})"
            if older
            else f"v{cfg.version} only"
        )
        for p in state.problems:
            text.append("\n" + p, style="red")
        self.update(text)


class DesignerPanel(Static):
    """Ensemble requests and feedback for the Ensemble Designer, newest first, with state;
    hidden until one exists."""

    def show(self, listing: Any) -> None:
        if listing is None or not listing.artifacts:
            self.display = False
            return
        self.display = True
        text = Text()
        arts = list(reversed(listing.artifacts))
        proposed = sum(1 for a in arts if a.kind == "request" and a.state == "proposed")
        text.append(f"{len(listing.requests())} request(s), {len(listing.feedback())} feedback", style="bold")
        if proposed:
            text.append(
                f" · {proposed} proposed, awaiting you (D to approve for the selected task type)",
                style="yellow",
            )
        for a in arts[:6]:
            text.append("\n")
            text.append(f"{a.state:<9}", style=DESIGNER_STATE_STYLE.get(a.state, ""))
            text.append(f" {a.kind:<8} {a.type:<19} ")
            text.append(a.subject, style="bold")
            text.append(f"  {a.created[:16].replace('T', ' ')}  {a.path.name}", style="dim")
        if len(arts) > 6:
            text.append(f"\n… {len(arts) - 6} more (conductor-tui design list)", style="dim")
        for problem in listing.problems:
            text.append("\n" + problem, style="red")
        self.update(text)
