"""A run's artifact (llm-orc's ``execution.json``): where it is and what it says — the input
and the output Evaluate shows (plain text; never markup)."""

from __future__ import annotations

import json
from pathlib import Path

from conductor_tui.core.records import RoutingDecision


def artifact_dir(project: Path, run: RoutingDecision) -> Path | None:
    ref = run.artifact
    if not ref:
        return None
    p = Path(ref)
    if not p.is_absolute():
        p = project / p
    if p.name == "execution.json":
        p = p.parent
    return p


def read_artifact(project: Path, run: RoutingDecision) -> tuple[str | None, str]:
    """(input text, output text) from the run's ``execution.json``; the output says why
    when it cannot be read.  Reads llm-orc's shape (``results`` per agent, ``synthesis``)."""
    folder = artifact_dir(project, run)
    if folder is None:
        return None, "(no artifact recorded for this run)"
    path = folder / "execution.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"(artifact not found: {path})"
    except (OSError, ValueError) as exc:
        return None, f"(artifact unreadable: {path}: {exc})"
    if not isinstance(data, dict):
        return None, f"(artifact is not a JSON object: {path})"
    inp = data.get("input")
    if isinstance(inp, dict):
        inp = inp.get("data", inp.get("input"))
    input_text = inp if isinstance(inp, str) else (json.dumps(inp, indent=2) if inp is not None else None)
    synthesis = data.get("synthesis")
    if isinstance(synthesis, str) and synthesis.strip():
        return input_text, synthesis
    results = data.get("results")
    if isinstance(results, dict) and results:
        last = list(results.values())[-1]
        if isinstance(last, dict):
            resp = last.get("response", last.get("output", last.get("result")))
            if resp is None and last.get("error"):
                return input_text, f"(agent failed: {last.get('error')})"
            if isinstance(resp, str):
                return input_text, resp
            if resp is not None:
                return input_text, json.dumps(resp, indent=2)
    agents = data.get("agents")
    if isinstance(agents, list) and agents:
        last = agents[-1]
        if isinstance(last, dict) and isinstance(last.get("result"), str):
            return input_text, last["result"]
    for key in ("output", "result", "response"):
        if isinstance(data.get(key), str):
            return input_text, data[key]
    return input_text, "(no output found in the artifact)"
