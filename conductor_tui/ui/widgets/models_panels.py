"""The Models screen's pieces: byte and time formats, the responsive layouts of the Loaded
now and Ensembles tables, the Ollama panel's text and the model-size cell (flagged against
the model-size ceiling)."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def human_bytes(n: float | int | None) -> str:
    if not n:
        return "—"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit in ("GB", "TB") else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_seconds(s: float | None) -> str:
    if s is None:
        return "kept loaded"
    s = int(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def loaded_layout(width: int) -> tuple[dict[str, int], str]:
    """Loaded now: between 100 and 120 columns (the left column is narrowest there) "size" and
    "CPU" collapse — the size is in Installed models, the CPU share is what VRAM leaves."""
    if 100 <= width < 120:
        return {"size": 0, "VRAM": 15, "CPU": 0, "unloads in": 11}, "model"
    return {"size": 7, "VRAM": 15, "CPU": 4, "unloads in": 11}, "model"


def ensembles_layout(width: int) -> tuple[dict[str, int], str]:
    """Ensembles: between 100 and 120 columns "tier" collapses so "runs?" and the fix stay on
    screen (the fix takes what is left, at least 12 columns)."""
    if 100 <= width < 120:
        return {"ensemble": 22, "tier": 0, "runs?": 5}, "fix"
    return {"ensemble": 22, "tier": 7, "runs?": 5}, "fix"


def ollama_panel_text(status: Any) -> Text:
    """The Ollama panel: reachable (host, version, installed and loaded counts) or not, with
    the error and the exact fix."""
    text = Text()
    host = str(getattr(status, "host", "") or "")
    if getattr(status, "reachable", False):
        text.append("● reachable", style="bold green")
        text.append(f"  {host}", style="dim")
        if getattr(status, "version", None):
            text.append(f"  ·  version {status.version}")
        models = list(getattr(status, "models", []) or [])
        loaded = list(getattr(status, "loaded", []) or [])
        text.append(f"  ·  {len(models)} installed · {len(loaded)} loaded")
        if getattr(status, "error", None):
            text.append(f"\n{status.error}", style="yellow")
        return text
    text.append("○ not reachable", style="bold red")
    text.append(f"  {host}", style="dim")
    if getattr(status, "error", None):
        text.append(f"\n{status.error}")
    fix = getattr(status, "fix", None)
    text.append("\nFix: ", style="bold")
    text.append(fix or "start Ollama (`ollama serve`) or set OLLAMA_HOST")
    text.append(
        "\nLocal ensembles cannot run until Ollama answers; everything else keeps working.",
        style="dim",
    )
    return text


def size_cell(model: object) -> Text:
    """The parameter count, flagged against the model-size ceiling: ▲ above 7B (reserved for synthesis),
    ✗ above the 14B ceiling (refused for delegation unless an ensemble overrides it)."""
    from conductor_tui.core import rules
    from conductor_tui.core.records import RoutingThresholds

    raw = str(getattr(model, "parameter_size", "") or "")
    size = rules.model_size("", str(getattr(model, "name", "")), raw, RoutingThresholds())
    if size.level == "over-ceiling":
        return Text(f"✗ {raw}", style="bold red")
    if size.level == "large":
        return Text(f"▲ {raw}", style="yellow")
    return Text(raw)
