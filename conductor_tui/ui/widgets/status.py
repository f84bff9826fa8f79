"""The cockpit header: project, Ollama up/down + models loaded, GPU/VRAM, and the mode strip.

The values live on the app (``ollama_status``, ``gpu_samples``), refreshed by the
app's polling worker; every screen's header watches them, so all stay in sync and
nothing here touches the network.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

#: (mode, key, label) in the order the strip shows them.
MODE_KEYS: list[tuple[str, str, str]] = [
    ("home", "w", "Home"),
    ("plan", "p", "Plan"),
    ("run", "r", "Run"),
    ("evaluate", "e", "Evaluate"),
    ("lifecycle", "l", "Lifecycle"),
    ("models", "m", "Models"),
    ("savings", "s", "Savings"),
]


def _gb(value: float | int | None) -> float:
    """Bytes (or MiB for small numbers) → GiB (what nvidia-smi and Ollama call GB)."""
    if not value:
        return 0.0
    value = float(value)
    return value / 1024**3 if value > 1e6 else value / 1024


def _names(items: Any) -> list[str]:
    out = []
    for item in items or []:
        name = getattr(item, "name", None) or getattr(item, "model", None) or item
        out.append(str(name))
    return out


def ollama_text(status: Any) -> Text:
    """``● Ollama 0.6.3 · 4 models · loaded qwen3:1.7b (100% GPU)`` or why it is down."""
    if status is None:
        return Text("◌ Ollama: checking…", style="dim")
    if not getattr(status, "reachable", False):
        host = str(getattr(status, "host", "") or "").removeprefix("http://")
        text = Text("○ Ollama down", style="bold red")
        if host:
            text.append(f" at {host}", style="red")
        return text
    models = _names(getattr(status, "models", None))
    loaded = list(getattr(status, "loaded", None) or [])
    text = Text("● Ollama", style="bold green")
    version = getattr(status, "version", None)
    if version:
        text.append(f" {version}", style="green")
    text.append(f" · {len(models)} model{'s' if len(models) != 1 else ''}")
    if loaded:
        parts = []
        for model in loaded[:2]:
            fraction = getattr(model, "vram_fraction", None)
            label = str(getattr(model, "name", model))
            if isinstance(fraction, int | float):
                label += f" {round(fraction * 100)}% GPU"
            parts.append(label)
        more = f" +{len(loaded) - 2}" if len(loaded) > 2 else ""
        text.append(" · loaded ", style="dim")
        text.append(", ".join(parts) + more)
    else:
        text.append(" · none loaded", style="dim")
    return text


def hosts_text(statuses: Any) -> Text:
    """`` · hosts 2/3 up gpu-box:8000 ✗`` — the other configured hosts, compact (empty when none)."""
    if not statuses:
        return Text()
    up = sum(1 for s in statuses if s.reachable)
    text = Text(" · ", style="dim")
    text.append(f"hosts {up}/{len(statuses)} up", style="green" if up == len(statuses) else "yellow")
    down = [s for s in statuses if not s.reachable]
    for s in down[:2]:
        url = s.endpoint.url.split("://", 1)[-1].removesuffix("/v1")
        text.append(f" {url} ✗", style="red")
    if len(down) > 2:
        text.append(f" +{len(down) - 2}", style="red")
    return text


def gpu_text(samples: Any, kind: str | None = None) -> Text:
    """One line: ``GPU RTX 4090 · VRAM 5.1/24.0 GB · 12% · 51°C``."""
    if samples is None:
        return Text("GPU: checking…", style="dim")
    if not samples:
        return Text("no GPU detected", style="dim")
    first = samples[0]
    name = str(getattr(first, "name", "GPU")).replace("NVIDIA ", "").replace("GeForce ", "")
    used = sum(_gb(getattr(s, "memory_used", 0)) for s in samples)
    total = sum(_gb(getattr(s, "memory_total", 0)) for s in samples)
    text = Text(f"{name}" + (f" ×{len(samples)}" if len(samples) > 1 else ""), style="bold")
    if total:
        share = used / total
        style = "red" if share > 0.9 else "yellow" if share > 0.7 else ""
        text.append(f" · VRAM {used:.1f}/{total:.1f} GB", style=style)
    util = getattr(first, "utilization", None)
    if util is not None:
        text.append(f" · {util:.0f}%")
    temp = getattr(first, "temperature", None)
    if temp is not None:
        text.append(f" · {temp:.0f}°C")
    return text


class CockpitHeader(Vertical):
    """The two header lines: status (project · Ollama · GPU) and the mode strip."""

    DEFAULT_CSS = """
    CockpitHeader { height: 2; dock: top; }
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self._mode = mode

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield ModeStrip(self._mode)


class StatusBar(Horizontal):
    """Project · Ollama up/down + models loaded · GPU/VRAM (one line)."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar > #sb-project { width: auto; padding: 0 1; text-style: bold; color: $text; background: $primary-muted; }
    StatusBar > #sb-ollama { width: 1fr; padding: 0 1; }
    StatusBar > #sb-gpu { width: auto; max-width: 50%; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="sb-project")
        yield Static(id="sb-ollama")
        yield Static(id="sb-gpu")

    def on_mount(self) -> None:
        app = self.app
        services = getattr(app, "services", None)
        name = services.project.name if services is not None else "?"
        label = Text("◆ ", style="bold")
        label.append(name or str(services.project if services else ""))
        if services is not None and getattr(services, "demo", False):
            label.append(" [demo]", style="italic")
        self.query_one("#sb-project", Static).update(label)
        self.watch(app, "ollama_status", self._show_ollama)
        self.watch(app, "gpu_samples", self._show_gpu)
        if hasattr(app, "host_statuses"):
            self.watch(app, "host_statuses", self._show_hosts)

    def _show_ollama(self, status: Any) -> None:
        text = ollama_text(status)
        text.append_text(hosts_text(getattr(self.app, "host_statuses", None)))
        self.query_one("#sb-ollama", Static).update(text)

    def _show_hosts(self, _statuses: Any) -> None:
        self._show_ollama(getattr(self.app, "ollama_status", None))

    def _show_gpu(self, samples: Any) -> None:
        self.query_one("#sb-gpu", Static).update(gpu_text(samples))


class ModeStrip(Static):
    """The screens and their keys, the current one highlighted (clickable)."""

    DEFAULT_CSS = """
    ModeStrip { height: 1; background: $boost; padding: 0 1; }
    """

    def __init__(self, mode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current_mode = mode

    def on_mount(self) -> None:
        self.update(self._render_modes())

    def _render_modes(self) -> Text:
        text = Text()
        for mode, key, label in MODE_KEYS:
            if mode == self.current_mode:
                text.append(f" {key} {label} ", style="bold reverse")
            else:
                text.append(f" {key}", style="bold")
                text.append(f" {label} ", style="dim")
            text.append(" ")
        text.append("  F1 help · ctrl+p commands", style="dim italic")
        return text
