"""Shared helpers for the starter kit's script agents (standard library only).

llm-orc's script contract: a JSON request on stdin — ``{"input", "parameters",
"context"}`` for a first agent, ``{"agent_name", "input_data", "dependencies":
{name: {"response", "status"}}}`` after other agents — and one JSON object on
stdout: ``{"success": bool, "data": ..., "error": str}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, NoReturn


def read_request() -> dict[str, Any]:
    raw = sys.stdin.read()
    if not raw.strip():
        raw = os.environ.get("INPUT_DATA", "")
    try:
        req = json.loads(raw) if raw.strip() else {}
    except ValueError:
        req = {"input": raw}
    return req if isinstance(req, dict) else {"input": req}


def input_text(req: dict[str, Any]) -> str:
    value = req.get("input_data", req.get("input", ""))
    return value if isinstance(value, str) else json.dumps(value)


def parameters(req: dict[str, Any]) -> dict[str, Any]:
    params = req.get("parameters")
    if isinstance(params, dict):
        return params
    try:
        params = json.loads(os.environ.get("AGENT_PARAMETERS") or "{}")
    except ValueError:
        params = {}
    return params if isinstance(params, dict) else {}


def dependency(req: dict[str, Any], name: str | None = None) -> str:
    """The response text of dependency ``name`` (or of the first one)."""
    deps = req.get("dependencies") or {}
    if not isinstance(deps, dict) or not deps:
        return ""
    entry = deps.get(name) if name else next(iter(deps.values()))
    if isinstance(entry, dict):
        entry = entry.get("response", "")
    if entry is None:
        return ""
    return entry if isinstance(entry, str) else json.dumps(entry)


def project_dir() -> str:
    return os.environ.get("LLM_ORC_PROJECT_DIR") or os.getcwd()


def git(*args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=project_dir(), capture_output=True, text=True, timeout=60, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def ok(data: Any, **extra: Any) -> NoReturn:
    print(json.dumps({"success": True, "data": data, **extra}, ensure_ascii=False))
    sys.exit(0)


def fail(message: str) -> NoReturn:
    print(json.dumps({"success": False, "error": message}, ensure_ascii=False))
    sys.exit(0)


def strip_fences(text: str) -> str:
    """The body of the first fenced code block, or the text without stray fences."""
    import re

    text = re.sub(r"<think>.*?</think>", "", text, flags=re.S).strip()
    match = re.search(r"```[\w+-]*[ \t]*\n(.*?)```", text, flags=re.S)
    if match:
        return match.group(1).rstrip() + "\n"
    return text.replace("```", "").strip() + "\n"
