"""Lifecycle: every task type and ensemble on the Design → Calibrate → Establish → Trust →
Promote ladder, with the evidence, what is needed next, interim Claude debt and design
rejections; promotion (readiness + dependency check + copy, after confirmation);
standing authorisations; thresholds (each edit a new config version) and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from conductor_tui.core.promotion import PromotionCheck
from conductor_tui.core.records import Phase
from conductor_tui.core.review import LifecycleRow, ReviewState, lifecycle_rows, load_review
from conductor_tui.ui.screens.base import CockpitScreen, logs_signature
from conductor_tui.ui.widgets.config_dialogs import ActionConfirm, RollbackDialog, ThresholdsDialog
from conductor_tui.ui.widgets.fit import FitTable

STYLES = Path(__file__).resolve().parent.parent / "styles"
LADDER = [Phase.DESIGN, Phase.CALIBRATE, Phase.ESTABLISH, Phase.TRUST, Phase.PROMOTE]
PHASE_STYLE = {
    Phase.DESIGN: "bold white on #6b4f9e",
    Phase.CALIBRATE: "bold black on #d9a53f",
    Phase.ESTABLISH: "bold black on #4aa3df",
    Phase.TRUST: "bold black on #4fbf72",
    Phase.PROMOTE: "bold black on #7fe0a0",
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


def _table_layout(width: int) -> tuple[dict[str, int], str]:
    """Below 100 columns "last used" and "next" collapse (the Selected panel shows them)."""
    fixed = {"ensemble": 23, "ladder": 11, "uses": 4, "g/a/p": 6, "debt": 4}
    if width < 100:
        return {**fixed, "last used": 0, "next": 0}, "task type"
    return {**fixed, "task type": 22, "last used": 11}, "next"


class LifecycleScreen(CockpitScreen):
    MODE = "lifecycle"
    HELP: ClassVar[str] = """
# Lifecycle

Each task type and its ensemble on the ladder **Design → Calibrate → Establish → Trust →
Promote** (see the glossary: lifecycle). The phase comes from the evaluations: five evaluated uses with no
poor pass calibration (one poor: a second window; two: back to Design); more than 20
uses with over 80 % acceptable-or-good earn Trust.

* **Evidence:** uses, good / acceptable / poor, last used. **Next:** what the next step
  needs. **Debt:** delegable subtasks Claude handled while no ensemble was ready.
* `g` promotes the selected ensemble to the **global** tier (`~/.config/llm-orc/`), `L` to
  the **library** (`$LLM_ORC_LIBRARY_PATH`): readiness (3 good for global, 5 + a
  generality check for the library) and dependencies (profiles at the destination,
  no hard-coded project paths in scripts) are checked and shown before anything is copied.
* `a` grants or revokes a standing authorisation for the task type + ensemble.
* **Designer handoff** (shown once there is one): ensemble requests and feedback written for the
  Ensemble Designer under `.llm-orc/conductor/designer/`, with their state; `D` hands the selected
  task type's proposed request to the designer (you gate the transition).
* `t` edits the thresholds (a new config version each time), `b` rolls back to a version.
* **Judge agreement:** how often Claude's verdicts matched yours for the ensemble (with a
  95 % interval); below `judge_agreement_min` its verdicts come back to you.
* `x` on a **LoRA candidate** exports its training data (input, output, score, reasoning
  per evaluated run, poor ones labelled by failure mode) with a manifest of counts.
"""
    BINDINGS = [
        Binding(
            "g",
            "promote('global')",
            "→ global",
            id="lifecycle.promote_global",
            tooltip="Promote the ensemble to the global tier",
        ),
        Binding(
            "L",
            "promote('library')",
            "→ library",
            id="lifecycle.promote_library",
            tooltip="Promote the ensemble to the library",
        ),
        Binding(
            "a",
            "toggle_auth",
            "Auth",
            id="lifecycle.authorize",
            tooltip="Grant or revoke standing authorisation",
        ),
        Binding(
            "D",
            "approve_request",
            "Approve request",
            id="lifecycle.approve_request",
            tooltip="Hand the proposed ensemble request of this task type to the designer",
        ),
        Binding("t", "thresholds", "Thresholds", id="lifecycle.thresholds"),
        Binding(
            "b",
            "rollback",
            "Roll back",
            id="lifecycle.rollback",
            tooltip="Roll back the routing config to an earlier version",
        ),
        Binding(
            "x",
            "export_training",
            "Export data",
            id="lifecycle.export_training",
            tooltip="Export the LoRA candidate's training data (evaluated runs with their input and output)",
        ),
        Binding("ctrl+r", "reload", "Reload", id="lifecycle.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._signature: tuple = ()  # logs_signature at the last load
        self.state: ReviewState | None = None
        self.rows: list[LifecycleRow] = []
        self.current: LifecycleRow | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="lc-body"):
            table = FitTable(
                id="lc-table", cursor_type="row", zebra_stripes=True, layout=_table_layout, minimum=12
            )
            table.border_title = "Task types and ensembles"
            yield table
            detail = Static(id="lc-detail", classes="cp-panel")
            detail.border_title = "Selected"
            yield detail
            config = Static(id="lc-config", classes="cp-panel")
            config.border_title = "Routing config"
            yield config
            designer = Static(id="lc-designer", classes="cp-panel")
            designer.border_title = "Designer handoff"
            designer.display = False  # shown once an artifact exists
            yield designer

    def on_mount(self) -> None:
        table = self.query_one("#lc-table", DataTable)
        assert isinstance(table, FitTable)
        table.add_columns_fitted(
            [
                ("task type", 22),
                ("ensemble", 23),
                ("ladder", 11),
                ("uses", 4),
                ("g/a/p", 6),
                ("last used", 11),
                ("next", 20),
                ("debt", 4),
            ]
        )
        self.reload()

    def on_screen_resume(self) -> None:
        # a visit re-reads the logs only when they changed (a 100,000-line log takes seconds)
        if self.state is not None and logs_signature(self.services.store) != self._signature:
            self.reload()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        """Re-read the logs and config in a thread worker (loading state on first load)."""
        self.query_one("#lc-table", DataTable).loading = self.state is None
        self._load()

    @work(thread=True, exclusive=True, group="lifecycle-load", exit_on_error=False)
    def _load(self) -> None:
        self._signature = logs_signature(self.services.store)  # before reading: never stale
        state = load_review(self.services.store)
        rows = lifecycle_rows(state)
        versions = []
        try:
            store = self.services.store
            for v in store.config_versions():
                try:
                    cfg = store.load_config_version(v)
                    versions.append((v, cfg))
                except Exception:
                    continue
        except Exception:
            pass
        try:
            from conductor_tui.core.loop import Conductor
            from conductor_tui.engine.row_run import candidates_for

            conductor = Conductor(self.services.project, store=self.services.store, now=self.services.clock)
            listing = conductor.design_artifacts(candidates_for(self.services.project))
        except Exception:
            listing = None
        self.app.call_from_thread(self._apply, state, rows, versions)
        self.app.call_from_thread(self._show_designer, listing)

    def _show_designer(self, listing: Any) -> None:
        """Ensemble requests and feedback for the Ensemble Designer, newest first, with state."""
        panel = self.query_one("#lc-designer", Static)
        self.designer_listing = listing
        if listing is None or not listing.artifacts:
            panel.display = False
            return
        panel.display = True
        text = Text()
        arts = list(reversed(listing.artifacts))
        proposed = sum(1 for a in arts if a.kind == "request" and a.state == "proposed")
        text.append(f"{len(listing.requests())} request(s), {len(listing.feedback())} feedback", style="bold")
        if proposed:
            text.append(
                f" · {proposed} proposed, awaiting you (D to approve for the selected task type)",
                style="yellow",
            )
        state_style = {
            "proposed": "yellow",
            "requested": "cyan",
            "answered": "green",
            "declined": "dim",
            "rejected": "red",
            "sent": "dim",
        }
        for a in arts[:6]:
            text.append("\n")
            text.append(f"{a.state:<9}", style=state_style.get(a.state, ""))
            text.append(f" {a.kind:<8} {a.type:<19} ")
            text.append(a.subject, style="bold")
            text.append(f"  {a.created[:16].replace('T', ' ')}  {a.path.name}", style="dim")
        if len(arts) > 6:
            text.append(f"\n… {len(arts) - 6} more (conductor-tui design list)", style="dim")
        for problem in listing.problems:
            text.append("\n" + problem, style="red")
        panel.update(text)

    def action_reload(self) -> None:
        self.reload()

    def _apply(self, state: ReviewState, rows: list[LifecycleRow], versions: list[tuple[int, Any]]) -> None:
        self.state = state
        self.rows = rows
        self.versions = versions
        table = self.query_one("#lc-table", DataTable)
        table.loading = False
        keep = self.current.key if self.current else None
        table.clear()
        for row in rows:
            st = row.status
            c = st.counts
            evidence = Text()
            evidence.append(str(c.good), style="green")
            evidence.append("/")
            evidence.append(str(c.acceptable), style="yellow")
            evidence.append("/")
            evidence.append(str(c.poor), style="red" if c.poor else "")
            nxt = Text(
                st.next_step if not row.design_rejected else "design rejected",
                overflow="ellipsis",
                no_wrap=True,
            )
            if st.promotion.global_ready and row.ensemble:
                nxt = Text("★ promote-ready · ", style="bold green") + nxt
            table.add_row(
                Text(row.task_type),
                Text(
                    (row.ensemble or "—") + (" ✓" if row.authorized else ""),
                    style="" if row.ensemble else "dim",
                    no_wrap=True,
                    overflow="ellipsis",
                ),
                ladder_text(st.phase),
                Text(str(st.invocations), justify="right"),
                evidence,
                Text(row.last_used.strftime("%m-%d %H:%M") if row.last_used else "—", style="dim"),
                nxt,
                Text(str(row.debt) if row.debt else "", style="bold yellow", justify="right"),
                key=row.key,
            )
        if not rows:
            self.current = None
            self.refresh_bindings()
            self.query_one("#lc-detail", Static).update(
                Text(
                    "No task types yet: the lifecycle starts with the first routing decision or task profile.",
                    style="dim",
                )
            )
        else:
            index = next((i for i, r in enumerate(rows) if r.key == keep), 0)
            table.move_cursor(row=index)
            self._show(rows[index])
        self._show_config()

    @on(DataTable.RowHighlighted, "#lc-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        row = next((r for r in self.rows if r.key == key), None)
        if row is not None:
            self._show(row)

    def _show(self, row: LifecycleRow) -> None:
        self.current = row
        self.refresh_bindings()
        st = row.status
        c = st.counts
        text = Text()
        text.append(f"{row.task_type}", style="bold")
        text.append(f"  ·  {row.ensemble or 'no ensemble'}\n", style="bold" if row.ensemble else "dim")
        text.append_text(ladder_text(st.phase, full=True))
        text.append("\nEvidence: ", style="bold")
        text.append(
            f"{st.invocations} uses · {c.good} good · {c.acceptable} acceptable · {c.poor} poor · last used {_when(row.last_used)}"
        )
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
        rep = self.state.agreement if self.state is not None else None
        pair = rep.by_ensemble.get(row.ensemble) if rep is not None and row.ensemble else None
        if pair is not None:
            low = row.ensemble in rep.untrusted
            text.append("\nJudge agreement: ", style="bold")
            text.append(
                pair.label() + (f" — below {rep.min_rate:.0%}: its verdicts come back to you" if low else ""),
                style="red" if low else "",
            )
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
        self.query_one("#lc-detail", Static).update(text)

    def _show_config(self) -> None:
        if self.state is None:
            return
        cfg = self.state.config
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
        older = [v for v, _ in getattr(self, "versions", []) if v != cfg.version]
        text.append("\nVersions: ", style="bold")
        text.append(
            ", ".join(f"v{v}" for v in older) + f" (current v{cfg.version})"
            if older
            else f"v{cfg.version} only"
        )
        for p in self.state.problems:
            text.append("\n" + p, style="red")
        self.query_one("#lc-config", Static).update(text)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("promote", "toggle_auth"):
            return self.current is not None and self.current.ensemble is not None
        if action == "export_training":
            lora = self.current.lora if self.current is not None else None
            return bool(lora is not None and lora.flag)
        if action == "approve_request":
            return self._proposed_request() is not None
        return True

    def action_export_training(self) -> None:
        row = self.current
        if row is None or row.lora is None or not row.lora.flag:
            return
        self.notify(f"Exporting training data for {row.task_type}…", markup=False)
        self._export(row.task_type)

    @work(thread=True, exclusive=True, group="lifecycle-export", exit_on_error=False)
    def _export(self, task_type: str) -> None:
        from conductor_tui.core.training import export_training_data

        try:
            result = export_training_data(self.services.store, task_type=task_type, now=self.services.clock())
        except Exception as exc:
            self.app.call_from_thread(
                self.notify, f"Export failed: {exc}", severity="error", markup=False
            )
            return
        self.last_export = result
        self.app.call_from_thread(
            self.notify, f"{result.summary()} — {result.data_file}", timeout=10, markup=False
        )

    def _proposed_request(self) -> Any:
        listing = getattr(self, "designer_listing", None)
        row = self.current
        if listing is None or row is None:
            return None
        for a in reversed(listing.requests()):
            if a.state == "proposed" and (
                a.subject == row.task_type or (row.ensemble and a.data.get("ensemble") == row.ensemble)
            ):
                return a
        return None

    def action_approve_request(self) -> None:
        art = self._proposed_request()
        if art is None:
            return
        lines = [
            f"{k}: {v}"
            for k, v in art.data.items()
            if k in ("request_type", "task_type", "repetition_count", "context")
        ]
        lines += [f"sample: {x}" for x in (art.data.get("sample_inputs") or [])[:3]]

        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            from conductor_tui.core.loop import Conductor

            try:
                Conductor(
                    self.services.project, store=self.services.store, now=self.services.clock
                ).set_request_state(art.id, "requested", note="approved in the cockpit")
            except Exception as exc:
                self.notify(f"Request not approved: {exc}", severity="error", markup=False)
                return
            self.notify(f"Ensemble request {art.id} handed to the designer.", markup=False)
            self.reload()

        self.app.push_screen(
            ActionConfirm(f"Hand '{art.subject}' to the Ensemble Designer?", lines, confirm="Approve request"),
            done,
        )

    def action_promote(self, destination: str) -> None:
        row = self.current
        if row is None or row.ensemble is None or self.state is None:
            return
        from conductor_tui.core.loop import Conductor

        conductor = Conductor(self.services.project, store=self.services.store, now=self.services.clock)
        dest = "library" if destination == "library" else "global"
        check = conductor.promotion_check(row.ensemble, dest)
        if check.gate == "generality" and not check.problems:
            self._confirm_generality(conductor, row.ensemble)
            return
        lines = check.summary_lines()
        title = f"Promote '{row.ensemble}' to the {check.destination} tier?"
        if not check.ok:
            title = f"'{row.ensemble}' cannot be promoted to the {check.destination} tier yet"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._do_promote(check)

        self.app.push_screen(ActionConfirm(title, lines, confirm="Copy files", allowed=check.ok), done)

    def _confirm_generality(self, conductor: Any, ensemble: str) -> None:
        """The library gate: the person records the generality assessment, then promotes."""
        lines = [
            "Library contribution needs a generality assessment (Invariant 6):",
            "is this ensemble useful beyond this project — no project names, paths or conventions baked in?",
            "Confirming records your assessment in the routing log, then checks the other gates.",
        ]

        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                conductor.record_generality(
                    ensemble, "confirmed general (not project-specific) by the person in the cockpit"
                )
            except Exception as exc:
                self.notify(f"Assessment not recorded: {exc}", severity="error", markup=False)
                return
            self.action_promote("library")

        self.app.push_screen(
            ActionConfirm(f"Is '{ensemble}' general enough for the library?", lines, confirm="It is general"),
            done,
        )

    def _do_promote(self, check: PromotionCheck) -> None:
        from conductor_tui.core.loop import Conductor

        try:
            check, result = Conductor(
                self.services.project, store=self.services.store, now=self.services.clock
            ).promote(
                check.ensemble,
                check.destination,
                library=check.dest_root if check.destination == "library" else None,
            )
        except Exception as exc:
            self.notify(f"Promotion failed: {exc}", severity="error", markup=False)
            return
        if result is None:
            self.notify(
                f"Promotion refused: {check.readiness} {' '.join(check.problems)}",
                severity="warning",
                markup=False,
            )
            return
        msg = f"Promoted '{check.ensemble}': {len(result.copied)} file(s) copied to {check.dest_root}"
        if result.skipped:
            msg += f"; {len(result.skipped)} already there (kept)"
        self.notify(msg, markup=False)
        self.reload()

    def action_toggle_auth(self) -> None:
        """Grant or revoke the standing authorisation — it changes routing, so ask first."""
        row = self.current
        if row is None or row.ensemble is None:
            return
        if row.authorized:
            title = f"Revoke the standing authorisation {row.task_type} → {row.ensemble}?"
            lines = [
                f"{row.task_type} tasks will need the person's approval again before they run on "
                f"{row.ensemble}.",
                "The routing config gets a new version (b rolls back).",
            ]
            confirm = "Revoke"
        else:
            title = f"Grant a standing authorisation {row.task_type} → {row.ensemble}?"
            lines = [
                f"{row.task_type} tasks will be routed to {row.ensemble} without asking each time.",
                "The routing config gets a new version (b rolls back).",
            ]
            confirm = "Grant"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._toggle_auth(row)

        self.app.push_screen(ActionConfirm(title, lines, confirm=confirm), done)

    def _toggle_auth(self, row: LifecycleRow) -> None:
        store = self.services.store
        try:
            if row.authorized:
                cfg = store.revoke_authorization(
                    row.task_type,
                    row.ensemble,
                    reason=f"revoked in the cockpit: {row.task_type} → {row.ensemble}",
                )
                self.notify(f"Standing authorisation revoked (config v{cfg.version}).", markup=False)
            else:
                cfg = store.grant_authorization(
                    row.task_type,
                    row.ensemble,
                    reason=f"granted in the cockpit: {row.task_type} → {row.ensemble}",
                )
                self.notify(f"Standing authorisation granted (config v{cfg.version}).", markup=False)
        except Exception as exc:
            self.notify(f"Could not change the routing config: {exc}", severity="error", markup=False)
            return
        self._reroute()
        self.reload()

    @work(thread=True, group="lifecycle-reroute", exit_on_error=False)
    def _reroute(self) -> None:
        """Open plans follow the authorisation at once: covered pending rows are approved by
        the rule; after a revocation, rows it approved (not yet run) are pending again."""
        from conductor_tui.core.loop import Conductor
        from conductor_tui.engine.row_run import candidates_for

        services = self.services
        conductor = Conductor(services.project, store=services.store, now=services.clock)
        moved = conductor.reroute_open_plans(conductor.history(), candidates_for(services.project))
        if moved:
            self.app.call_from_thread(
                self.notify, f"{len(moved)} open plan row(s) re-decided by the rule.", markup=False
            )

    def action_thresholds(self) -> None:
        if self.state is None:
            return
        cfg = self.state.config

        def done(result: dict[str, Any] | None) -> None:
            if not result:
                return
            try:
                new = self.services.store.update_thresholds(result["reason"], **result["changes"])
            except Exception as exc:
                self.notify(f"Thresholds not saved: {exc}", severity="error", markup=False)
                return
            self.notify(f"Thresholds saved as config v{new.version}.", markup=False)
            self.reload()

        self.app.push_screen(ThresholdsDialog(cfg.routing_thresholds, cfg.version), done)

    def action_rollback(self) -> None:
        if self.state is None:
            return
        current = self.state.config.version
        entries = []
        for v, cfg in getattr(self, "versions", []):
            th = cfg.routing_thresholds
            auths = len(cfg.standing_authorizations)
            entries.append(
                (
                    v,
                    f"sampling {th.sampling_rate_established:.0%} · calibration {th.calibration_period} · {auths} authorisation(s)",
                )
            )
        if len(entries) < 2:
            self.notify(
                "No earlier routing config version to roll back to.", severity="warning", markup=False
            )
            return

        def done(version: int | None) -> None:
            if version is None:
                return
            try:
                new = self.services.store.rollback_config(
                    version, reason=f"rolled back to v{version} in the cockpit"
                )
            except Exception as exc:
                self.notify(f"Rollback failed: {exc}", severity="error", markup=False)
                return
            self.notify(f"Restored v{version} as config v{new.version}.", markup=False)
            self.reload()

        self.app.push_screen(RollbackDialog(entries, current), done)
