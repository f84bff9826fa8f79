"""Every path and address the product uses, resolved in one place (no Textual).

* project: the nearest directory at or above the start that holds ``.llm-orc/``
  (like llm-orc), else the start directory itself;
* global llm-orc tier: ``$XDG_CONFIG_HOME/llm-orc`` (default ``~/.config/llm-orc``);
* library: ``$LLM_ORC_LIBRARY_PATH`` (its ``ensembles/`` folder);
* conductor-tui's own settings: ``$XDG_CONFIG_HOME/conductor-tui/settings.json``;
* Ollama: ``$OLLAMA_HOST`` (default ``http://127.0.0.1:11434``).
"""

from __future__ import annotations

import os
from pathlib import Path

LLM_ORC_DIR = ".llm-orc"
EVALUATIONS_DIR = "evaluations"
ROUTING_LOG = "routing-log.jsonl"  # in the evaluations folder
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def find_project(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest ancestor of ``start`` (inclusive) holding ``.llm-orc/``, else ``start``."""
    here = Path(start or os.getcwd()).expanduser().resolve()
    for candidate in (here, *here.parents):
        if (candidate / LLM_ORC_DIR).is_dir():
            return candidate
    return here


def xdg_config_home() -> Path:
    value = os.environ.get("XDG_CONFIG_HOME")
    return Path(value).expanduser() if value else Path.home() / ".config"


def global_llm_orc_dir() -> Path:
    """The global llm-orc tier (``~/.config/llm-orc``)."""
    return xdg_config_home() / "llm-orc"


def library_dir() -> Path | None:
    value = os.environ.get("LLM_ORC_LIBRARY_PATH")
    return Path(value).expanduser() if value else None


def project_llm_orc_dir(project: str | os.PathLike[str]) -> Path:
    return Path(project) / LLM_ORC_DIR


def evaluations_dir(project: str | os.PathLike[str] | None, *, global_tier: bool = False) -> Path:
    """``<project>/.llm-orc/evaluations`` or the global ``~/.config/llm-orc/evaluations``."""
    if global_tier or project is None:
        return global_llm_orc_dir() / EVALUATIONS_DIR
    return project_llm_orc_dir(project) / EVALUATIONS_DIR


def app_config_dir() -> Path:
    """conductor-tui's own settings folder (theme, …)."""
    return xdg_config_home() / "conductor-tui"


def ollama_host() -> str:
    """The Ollama address from ``OLLAMA_HOST`` in the forms Ollama accepts
    (``host``, ``host:port``, ``:port``, with or without scheme)."""
    raw = (os.environ.get("OLLAMA_HOST") or "").strip()
    if not raw:
        return DEFAULT_OLLAMA_HOST
    scheme = "http"
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
    raw = raw.rstrip("/")
    host, _, port = raw.rpartition(":") if ":" in raw and not raw.endswith("]") else (raw, "", "")
    if not _:
        host, port = raw, ""
    host = host or "127.0.0.1"
    if host in {"0.0.0.0", "::", "[::]"}:
        host = "127.0.0.1"
    port = port or ("443" if scheme == "https" else "11434")
    return f"{scheme}://{host}:{port}"


def aggregate_cache_path(evaluations_dir: str | os.PathLike[str]) -> Path:
    """Where the report's warm-start cache for one evaluations folder lives:
    ``$XDG_CACHE_HOME/conductor-tui/aggregates/<hash>.msgpack`` (never inside ``.llm-orc/``)."""
    import hashlib

    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    key = hashlib.blake2b(str(Path(evaluations_dir).resolve()).encode(), digest_size=10).hexdigest()
    return root / "conductor-tui" / "aggregates" / f"{key}.msgpack"
