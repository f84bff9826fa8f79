"""``conductor-tui check`` for people: the discovery dict as text — Ollama, other hosts,
ensembles with their problems and fixes, the summary line, and what to do next. Names, paths
and errors come from files and servers, so every line goes through ``safe_text``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from conductor_tui.core.text import safe_text

Write = Callable[[str], None]


def size_text(n: int) -> str:
    """Bytes in decimal units (``1.2 GB``)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def print_text(data: dict[str, Any], out: Any = None) -> None:
    """Write ``data`` (from :func:`conductor_tui.commands.check.discover`) to ``out`` (stdout)."""
    out = out or sys.stdout

    def w(text: str) -> None:  # names, paths and errors come from files and the server
        out.write(safe_text(text))

    _ollama(data["ollama"], w)
    _other_hosts([h for h in data.get("hosts", []) if not h["default"]], w)
    _ensembles(data, w)
    w("\n" + data["summary"] + "\n")
    _next_steps(data, w)


def _ollama(o: dict[str, Any], w: Write) -> None:
    if o["reachable"]:
        w(f"Ollama: reachable at {o['host']} (version {o['version'] or '?'})\n")
        if o.get("error"):
            w(f"  warning: {o['error']}\n")
    else:
        w(f"Ollama: not reachable at {o['host']} — {o['error']}\n")
        if o.get("fix"):
            w(f"  fix: {o['fix']}\n")
    if o["models"]:
        w(f"  Installed models ({len(o['models'])}):\n")
        for m in o["models"]:
            w(
                f"    {m['name']:<28} {size_text(m['size']):>9}  {m['parameter_size']:<8} {m['quantization_level']}\n"
            )
    elif o["reachable"]:
        w("  No models installed — e.g. ollama pull qwen3:1.7b\n")
    if o["loaded"]:
        w(f"  Loaded now ({len(o['loaded'])}):\n")
        for m in o["loaded"]:
            gpu = round(m["vram_fraction"] * 100)
            secs = m["seconds_to_unload"]
            exp = "kept loaded" if secs is None else f"unloads in {int(secs // 60)}m{int(secs % 60):02d}s"
            w(f"    {m['name']:<28} {size_text(m['size']):>9}  {gpu}% GPU / {100 - gpu}% CPU  {exp}\n")


def _other_hosts(other_hosts: list[dict[str, Any]], w: Write) -> None:
    if not other_hosts:
        return
    w(f"\nOther hosts ({len(other_hosts)}):\n")
    for h in other_hosts:
        name = "Ollama" if h["family"] == "ollama" else h["provider"]
        used = f" (profiles: {', '.join(h['profiles'])})" if h["profiles"] else ""
        if h["reachable"] and not h["error"]:
            models = ", ".join(h["models"][:6]) + (" …" if len(h["models"]) > 6 else "")
            w(f"  ✓ {name} at {h['url']}{used} — {len(h['models'])} model(s): {models or 'none'}\n")
        else:
            w(f"  ✗ {name} at {h['url']}{used} — {h['error']}\n")
            if h.get("fix"):
                w(f"      fix: {h['fix']}\n")


def _ensembles(data: dict[str, Any], w: Write) -> None:
    w(f"\nEnsembles ({len(data['ensembles'])}):\n")
    for e in data["ensembles"]:
        mark = "✓" if e["runnable"] else "✗"
        w(f"  {mark} {e['name']:<28} [{e['tier']}] {e['path']}\n")
        for p in e["problems"]:
            fix = f" — fix: {p['fix']}" if p.get("fix") else ""
            loc = f" ({p['path']}:{p['line']})" if p.get("line") and p.get("path") else ""
            w(f"      {p['message']}{loc}{fix}\n")
        for p in e["warnings"]:
            w(f"      note: {p['message']}" + (f" — fix: {p['fix']}" if p.get("fix") else "") + "\n")
        for s in e["shadowed"]:
            w(f"      shadows [{s['tier']}] {s['path']}\n")
        cap = e.get("capacity")
        if cap and cap.get("verdict") in ("spill", "queue"):
            w(f"      capacity ({cap['verdict']}): {cap['reason']}\n")
    for p in data["profile_problems"]:
        w(f"  profile note: {p['path']}: {p['message']}\n")


def _next_steps(data: dict[str, Any], w: Write) -> None:
    seen: set[tuple[str, str]] = set()
    for e in data["ensembles"]:
        for p in e["problems"]:
            if p["code"] == "missing-model" and (e["name"], p["fix"]) not in seen:
                seen.add((e["name"], p["fix"]))
                model = p["fix"].removeprefix("ollama pull ")
                w(
                    f'Ensemble "{e["name"]}" requires {model} which is not installed.\nSuggested fix: {p["fix"]}\n'
                )
    if data.get("config_versions_without_log"):
        gaps = ", ".join(f"v{v}" for v in data["config_versions_without_log"])
        w(
            f"Routing config {gaps} has no config-change line in the routing log (a writer was "
            "interrupted); the next config change records it.\n"
        )
    tp = data["task_profiles"]
    if tp["error"]:
        w(f"Task profiles: could not be read — {tp['error']}\n")
    elif tp["count"]:
        w(f"Loaded {tp['count']} task profiles from prior sessions — routing will reference prior history.\n")
    else:
        w("No task profiles yet (none recorded in this project).\n")
    if data["local_ensembles"] == 0 and not data["starter_kit_offered"]:
        w(
            "No local ensembles found. Install the starter kit of 5 universal ensembles: conductor-tui starter-kit\n"
        )
