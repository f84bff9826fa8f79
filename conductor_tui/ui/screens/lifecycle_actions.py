"""The Lifecycle screen's actions: promotion (readiness and dependency check, then copy, after
confirmation), standing authorisations (see the glossary), the hand-off of an ensemble request
to the designer, LoRA training-data export, threshold edits (each a new routing config
version) and roll back.  :class:`LifecycleScreen` adds the table and panels on top."""

from __future__ import annotations

from typing import Any

from textual import work

from conductor_tui.core.promotion import PromotionCheck
from conductor_tui.core.review import LifecycleRow, ReviewState
from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.config_dialogs import ActionConfirm, RollbackDialog, ThresholdsDialog


class LifecycleActions(CockpitScreen):
    """Key actions on the selected task type + ensemble (``current``) and the routing config."""

    state: ReviewState | None
    current: LifecycleRow | None
    versions: list[tuple[int, Any]]
    designer_listing: Any

    def reload(self) -> None:  # pragma: no cover - the screen re-reads the logs
        raise NotImplementedError

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
            self.app.call_from_thread(self.notify, f"Export failed: {exc}", severity="error", markup=False)
            return
        self.last_export = result
        self.app.call_from_thread(
            self.notify, f"{result.summary()} — {result.data_file}", timeout=10, markup=False
        )

    def _proposed_request(self) -> Any:
        listing = self.designer_listing
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
            ActionConfirm(
                f"Hand '{art.subject}' to the Ensemble Designer?", lines, confirm="Approve request"
            ),
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
            "Library contribution needs a generality assessment:",
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
        if not row.ensemble:  # an authorisation names an ensemble; a task type without one has none
            self.notify(
                f"{row.task_type} has no ensemble to authorise yet.", severity="warning", markup=False
            )
            return
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
        for v, cfg in self.versions:
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
