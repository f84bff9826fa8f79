"""The engine's limits and defaults (concurrency overall, per model and per host; timeouts;
ensemble nesting depth), read from llm-orc's ``config.yaml`` ``performance`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conductor_tui.core.spec import DEFAULT_MAX_ENSEMBLE_DEPTH, DEFAULT_TIMEOUT_SECONDS
from conductor_tui.engine import loader
from conductor_tui.providers import endpoints


@dataclass
class EngineSettings:
    max_concurrency: int | None = None  # None / 0 = unlimited
    per_model_concurrency: int | None = None
    per_host_concurrency: int | None = None  # every host (an Ollama or an OpenAI-compatible server)
    host_concurrency: dict[str, int] = field(default_factory=dict)  # base URL → limit (wins)
    default_timeout: float = DEFAULT_TIMEOUT_SECONDS
    keep_alive: float | str | None = None
    max_ensemble_depth: int = DEFAULT_MAX_ENSEMBLE_DEPTH

    @classmethod
    def from_project(cls, project: Path | None) -> EngineSettings:
        """``performance.concurrency.max_concurrent_agents`` and
        ``performance.execution.default_timeout`` from config.yaml (global, then local)."""
        s = cls()
        from conductor_tui.core import locations

        paths = [locations.global_llm_orc_dir() / "config.yaml"]
        if project is not None:
            paths.append(locations.project_llm_orc_dir(project) / "config.yaml")
        for p in paths:
            if not p.is_file():
                continue
            try:
                data = loader.read_yaml(p).data
            except loader.EnsembleLoadError:
                continue
            perf = data.get("performance") if isinstance(data, dict) else None
            if not isinstance(perf, dict):
                continue
            conc = perf.get("concurrency") or {}
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_agents"), int):
                s.max_concurrency = conc["max_concurrent_agents"] or None
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_per_model"), int):
                s.per_model_concurrency = conc["max_concurrent_per_model"] or None
            if isinstance(conc, dict) and isinstance(conc.get("max_concurrent_per_host"), int):
                s.per_host_concurrency = conc["max_concurrent_per_host"] or None
            hosts = conc.get("hosts") if isinstance(conc, dict) else None
            if isinstance(hosts, dict):
                for url, n in hosts.items():
                    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                        s.host_concurrency[endpoints.normalise_url(str(url))] = n
            exe = perf.get("execution") or {}
            if isinstance(exe, dict) and isinstance(exe.get("default_timeout"), int | float):
                s.default_timeout = float(exe["default_timeout"])
            if isinstance(exe, dict) and isinstance(exe.get("max_ensemble_depth"), int):
                s.max_ensemble_depth = exe["max_ensemble_depth"]
        return s
