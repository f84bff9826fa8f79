"""Models & GPU: Ollama (reachable, version, installed and loaded models with VRAM share,
CPU spill and time to unload), each ensemble's runnability with its fix, the GPU(s) with
a short history, CPU and RAM.

Polling: one worker at a time — the next poll is scheduled only when the previous one
has finished (polls never overlap), and nothing is scheduled while the screen is hidden
(``on_screen_suspend`` / ``on_screen_resume``).  ``services.poll_interval == 0`` polls
once on mount (snapshots)."""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.timer import Timer
from textual.widgets import DataTable, Static

from conductor_tui.ui.screens.base import CockpitScreen
from conductor_tui.ui.widgets.charts import SparkChart
from conductor_tui.ui.widgets.fit import FitTable
from conductor_tui.ui.widgets.models_panels import (
    ensembles_layout,
    human_bytes,
    human_seconds,
    loaded_layout,
    ollama_panel_text,
    size_cell,
)
from conductor_tui.ui.widgets.panel_text import PanelText

__all__ = ["ModelsScreen", "SparkChart", "human_bytes", "human_seconds"]


STYLES = Path(__file__).resolve().parent.parent / "styles"
HISTORY = 60  # samples kept for the sparklines


class ModelsScreen(CockpitScreen):
    MODE = "models"
    HELP: ClassVar[str] = """
# Models & GPU

**Ollama:** reachable or not (with the fix), version, installed models, and the models
loaded right now — their size, the share in GPU memory (VRAM) and what spilled to the
CPU, and when Ollama will unload them.

**Ensembles:** whether each one can run here (models installed, profiles defined,
scripts present) and, when not, the fix.

**GPU:** through NVML, else `nvidia-smi`, else "no GPU detected" (Ollama's VRAM figures
still show): memory used / total, utilisation and temperature with a short history.
**CPU and RAM** from psutil.

Polls never overlap and pause while this screen is hidden. `ctrl+r` polls now.
"""
    BINDINGS = [Binding("ctrl+r", "poll_now", "Poll now", id="models.poll")]

    def __init__(self) -> None:
        super().__init__()
        self.gpu_history: dict[int, deque[float]] = {}
        self.mem_history: dict[int, deque[float]] = {}
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        self._timer: Timer | None = None
        self._suspended = False
        self._polling = False
        self.polls = 0
        self.in_flight = 0
        self.max_in_flight = 0  # stays 1: polls never overlap
        self.status: Any = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="md-body"):
            with Vertical(id="md-left"):
                ollama = PanelText(Text("Asking Ollama…", style="dim"), id="md-ollama", classes="cp-panel")
                ollama.border_title = "Ollama"
                yield ollama
                hosts = PanelText(id="md-hosts", classes="cp-panel")
                hosts.border_title = "Other hosts"
                hosts.display = False  # shown when profiles name hosts besides the default Ollama
                yield hosts
                models = FitTable(
                    id="md-models",
                    cursor_type="row",
                    zebra_stripes=True,
                    classes="cp-panel",
                    layout=lambda width: ({"params": 7, "quant": 8, "size": 8}, "model"),
                    minimum=20,
                )
                models.border_title = "Installed models"
                yield models
                loaded = FitTable(
                    id="md-loaded",
                    cursor_type="row",
                    classes="cp-panel",
                    layout=loaded_layout,
                    minimum=16,
                )
                loaded.border_title = "Loaded now"
                yield loaded
                ens = FitTable(
                    id="md-ensembles",
                    cursor_type="row",
                    zebra_stripes=True,
                    classes="cp-panel",
                    layout=ensembles_layout,
                    minimum=12,
                )
                ens.border_title = "Ensembles — can they run here?"
                yield ens
            with VerticalScroll(id="md-right"):
                gpu = Vertical(id="md-gpu", classes="cp-panel")
                gpu.border_title = "GPU"
                yield gpu
                system = Vertical(id="md-system", classes="cp-panel")
                system.border_title = "CPU · RAM"
                yield system

    def on_mount(self) -> None:
        widths = {
            "#md-models": (("model", 24), ("params", 7), ("quant", 8), ("size", 8)),
            "#md-loaded": (("model", 18), ("size", 7), ("VRAM", 15), ("CPU", 4), ("unloads in", 11)),
            "#md-ensembles": (("ensemble", 22), ("tier", 7), ("runs?", 5), ("fix", 23)),
        }
        for table_id, cols in widths.items():
            table = self.query_one(table_id, FitTable)
            table.add_columns_fitted(list(cols))
        self.query_one("#md-system", Vertical).mount(
            PanelText(id="md-cpu-text"),
            SparkChart([("cpu", self.cpu_history, "cyan")], id="md-cpu-spark", classes="md-spark"),
        )
        self.poll()

    # ------------------------------------------------------------------ polling

    def on_screen_suspend(self) -> None:
        self._suspended = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        if not self._suspended:
            return
        self._suspended = False
        if not self._polling and self.services.poll_interval > 0:
            self.poll()

    def action_poll_now(self) -> None:
        if not self._polling:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self.poll()

    @work(exclusive=True, group="models-poll", exit_on_error=False)
    async def poll(self) -> None:
        self._polling = True
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            services = self.services
            status_task = asyncio.ensure_future(self._ollama_status())
            hosts_task = asyncio.ensure_future(self._other_hosts())

            def hardware() -> tuple[Any, list[Any], Any]:
                probe = None
                samples: list[Any] = []
                try:
                    probe = services.gpu
                    samples = list(probe.sample() or [])
                except Exception:
                    samples = []
                try:
                    sampler = getattr(services, "system_sampler", None)
                    if sampler is None:
                        from conductor_tui.providers.system import system_sample

                        sampler = system_sample
                    sysinfo = sampler()
                except Exception:
                    sysinfo = None
                return probe, samples, sysinfo

            probe, samples, sysinfo = await asyncio.to_thread(hardware)
            if hasattr(self.app, "gpu_samples"):
                self.app.gpu_samples = samples
            status = await status_task
            others = await hosts_task
            if hasattr(self.app, "host_statuses"):
                self.app.host_statuses = others
            catalog = await asyncio.to_thread(self._catalog, status, others)
            self._show_ollama(status)
            self._show_hosts(others)
            self._show_ensembles(catalog)
            await self._show_gpu(probe, samples, status)
            self._show_system(sysinfo)
            self.polls += 1
        finally:
            self.in_flight -= 1
            self._polling = False
            interval = self.services.poll_interval
            if interval > 0 and not self._suspended and self.is_attached:
                self._timer = self.set_timer(interval, self.poll)

    async def _ollama_status(self) -> Any:
        try:
            return await self.services.ollama.status()
        except Exception as exc:  # the provider never raises; stay up if it does
            from types import SimpleNamespace

            return SimpleNamespace(
                reachable=False,
                host=self.services.ollama_host,
                version=None,
                models=[],
                loaded=[],
                error=str(exc),
                fix=None,
            )

    async def _other_hosts(self) -> list[Any]:
        from conductor_tui.ui.catalog import probe_other_hosts

        return await probe_other_hosts(self.services.project, self.services.ollama_host)

    def _catalog(self, status: Any, others: list[Any] | None = None) -> Any:
        try:
            from conductor_tui.ui.catalog import load_catalog

            return load_catalog(self.services.project, status, others)
        except Exception as exc:
            from types import SimpleNamespace

            return SimpleNamespace(ensembles={}, error=str(exc))

    # ------------------------------------------------------------------ rendering

    def _show_hosts(self, others: list[Any]) -> None:
        """One block per host the profiles name besides the default Ollama: up or down, its models
        and the profiles that use it, or the error and the exact fix."""
        box = self.query_one("#md-hosts", Static)
        box.display = bool(others)
        if not others:
            return
        text = Text()
        for i, h in enumerate(others):
            ep = h.endpoint
            if i:
                text.append("\n")
            kind = "Ollama" if ep.family == "ollama" else ep.provider
            if h.reachable and not h.error:
                text.append("● ", style="bold green")
                text.append(f"{kind} ", style="bold")
                text.append(ep.url, style="dim")
                models = ", ".join(h.models[:4]) + (f" +{len(h.models) - 4}" if len(h.models) > 4 else "")
                text.append(f"\n  {len(h.models)} model(s): {models or 'none'}")
            else:
                text.append("○ ", style="bold red")
                text.append(f"{kind} ", style="bold")
                text.append(ep.url, style="dim")
                text.append(f"\n  {h.error or 'not reachable'}")
                if h.fix:
                    text.append("\n  Fix: ", style="bold")
                    text.append(h.fix)
            if h.profiles:
                text.append(f"\n  profiles: {', '.join(h.profiles)}", style="dim")
        box.update(text)

    def _show_ollama(self, status: Any) -> None:
        self.status = status
        if hasattr(self.app, "ollama_status"):
            self.app.ollama_status = status  # the header shows the same, fresher, status
        self.query_one("#md-ollama", Static).update(ollama_panel_text(status))
        table = self.query_one("#md-models", DataTable)
        table.clear()
        for m in getattr(status, "models", []) or []:
            table.add_row(
                Text(str(m.name)),
                size_cell(m),
                Text(str(getattr(m, "quantization_level", "") or "")),
                Text(human_bytes(getattr(m, "size", 0)), justify="right"),
                key=str(m.name),
            )
        self._show_loaded(status)

    def _show_loaded(self, status: Any) -> None:
        """The models Ollama holds in memory: size, share in VRAM (the rest on the CPU), unload time."""
        loaded_table = self.query_one("#md-loaded", DataTable)
        loaded_table.clear()
        now = self.services.clock()
        for lm in getattr(status, "loaded", []) or []:
            vram = float(getattr(lm, "vram_fraction", 0.0))
            cpu = float(getattr(lm, "cpu_fraction", 0.0))
            try:
                left = lm.seconds_to_unload(now)
            except Exception:
                left = None
            loaded_table.add_row(
                Text(str(lm.name)),
                Text(human_bytes(lm.size), justify="right"),
                Text(
                    f"{vram:.0%} ({human_bytes(getattr(lm, 'size_vram', 0))})",
                    style="green" if vram >= 0.99 else "yellow",
                ),
                Text(f"{cpu:.0%}", style="red" if cpu > 0.01 else "dim"),
                Text(human_seconds(left)),
                key=str(lm.name),
            )
        if not (getattr(status, "loaded", None) or []):
            loaded_table.border_subtitle = "nothing loaded"
        else:
            loaded_table.border_subtitle = ""

    def _show_ensembles(self, catalog: Any) -> None:
        table = self.query_one("#md-ensembles", DataTable)
        table.clear()
        ensembles = getattr(catalog, "ensembles", {}) or {}
        for name in sorted(ensembles):
            info = ensembles[name]
            ok = bool(getattr(info, "runnable", False))
            fixes = list(getattr(info, "fixes", []) or []) or list(getattr(info, "problems", []) or [])
            if not getattr(self.status, "reachable", True):
                # one cause for all of them: say so briefly, keep the other fixes
                fixes = ["needs Ollama (see above)"] + [f for f in fixes if "ollama" not in str(f).lower()]
            table.add_row(
                Text(name),
                Text(str(getattr(info, "tier", "") or ""), style="dim"),
                Text("✓ yes" if ok else "✗ no", style="green" if ok else "bold red"),
                Text("" if ok else "; ".join(str(f) for f in fixes[:2]), no_wrap=True, overflow="ellipsis"),
                key=name,
            )
        err = getattr(catalog, "error", None)
        table.border_subtitle = escape(str(err)) if err else f"{len(ensembles)} ensembles"

    async def _show_gpu(self, probe: Any, samples: list[Any], status: Any) -> None:
        box = self.query_one("#md-gpu", Vertical)
        kind = str(getattr(probe, "kind", "none") or "none")
        box.border_title = escape(f"GPU  ·  {kind}") if samples else "GPU"
        await box.remove_children()
        widgets: list[Any] = []
        if not samples:
            text = Text()
            text.append("no GPU detected", style="bold")
            desc = getattr(probe, "description", None)
            if desc and desc != "no GPU detected":
                text.append(f" ({desc})", style="dim")
            loaded = list(getattr(status, "loaded", []) or [])
            if loaded:
                vram = sum(int(getattr(m, "size_vram", 0) or 0) for m in loaded)
                size = sum(int(getattr(m, "size", 0) or 0) for m in loaded)
                text.append(f"\nOllama reports {human_bytes(vram)} of {human_bytes(size)} loaded in VRAM")
                share = vram / size if size else 0
                text.append(f" ({share:.0%}); the rest runs on the CPU.", style="dim")
            else:
                text.append("\nOllama's VRAM figures appear here when a model is loaded.", style="dim")
            widgets.append(Static(text))
        for i, s in enumerate(samples):
            util = getattr(s, "utilization", None)
            hist = self.gpu_history.setdefault(i, deque(maxlen=HISTORY))
            mem_hist = self.mem_history.setdefault(i, deque(maxlen=HISTORY))
            if util is not None:
                hist.append(float(util))
            frac = getattr(s, "memory_fraction", None)
            if frac is not None:
                mem_hist.append(float(frac) * 100)
            text = Text()
            text.append(str(s.name), style="bold")
            used, total = getattr(s, "memory_used", None), getattr(s, "memory_total", None)
            text.append("\nmemory ")
            text.append(f"{human_bytes(used)} / {human_bytes(total)}")
            if frac is not None:
                text.append(
                    f" ({frac:.0%})", style="red" if frac > 0.9 else "yellow" if frac > 0.7 else "green"
                )
            text.append("  ·  utilisation ")
            text.append("—" if util is None else f"{util:.0f}%")
            temp = getattr(s, "temperature", None)
            text.append("  ·  ")
            text.append("—" if temp is None else f"{temp:.0f}°C", style="red" if temp and temp >= 85 else "")
            widgets.append(Static(text))
            widgets.append(
                SparkChart([("util", hist, "green"), ("memory", mem_hist, "magenta")], classes="md-spark")
            )
        await box.mount_all(widgets)

    def _show_system(self, sysinfo: Any) -> None:
        text = Text()
        if sysinfo is None:
            text.append("psutil unavailable", style="dim")
        else:
            cpu = float(getattr(sysinfo, "cpu_percent", 0.0))
            self.cpu_history.append(cpu)
            count = getattr(sysinfo, "cpu_count", 0)
            text.append(f"CPU {cpu:.0f}%" + (f" of {count} cores" if count else ""))
            used, total = getattr(sysinfo, "memory_used", 0), getattr(sysinfo, "memory_total", 0)
            text.append(f"  ·  RAM {human_bytes(used)} / {human_bytes(total)}")
            if total:
                text.append(f" ({used / total:.0%})")
        self.query_one("#md-cpu-text", Static).update(text)
        self.query_one("#md-cpu-spark", SparkChart).refresh()
