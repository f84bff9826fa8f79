"""Engine test helpers: ensembles from dicts, a project folder, an executor on the fake Ollama."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conductor_tui.core.spec import EnsembleSpec, Profile
from conductor_tui.engine.loader import ProfileSet, parse_ensemble


def ensemble(
    agents: list[dict[str, Any]], name: str = "t", external_scripts: bool | None = None
) -> EnsembleSpec:
    """An ensemble from agent dicts. Script files written by :func:`script` live in the
    test's tmp folder, outside the scripts folders: such an ensemble opts in with
    ``allow_external_scripts: true`` (unless ``external_scripts`` says otherwise)."""
    data: dict[str, Any] = {"name": name, "description": "test", "agents": agents}
    if external_scripts is None:
        external_scripts = any(str(a.get("script", "")).startswith("/") for a in agents)
    if external_scripts:
        data["allow_external_scripts"] = True
    return parse_ensemble(data)


def llm(name: str, model: str = "qwen3:1.7b", **kw: Any) -> dict[str, Any]:
    return {"name": name, "model": model, "provider": "ollama", **kw}


def profiles(**named: dict[str, Any]) -> ProfileSet:
    ps = ProfileSet()
    for name, data in named.items():
        ps.profiles[name] = Profile.from_mapping(name, data, None)
    return ps


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc" / "ensembles").mkdir(parents=True)
    return p


def script(path: Path, body: str) -> str:
    """Write a python script agent file; return its path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("import json, os, sys, time\n" + body, encoding="utf-8")
    return str(path)
