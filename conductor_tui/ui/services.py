"""What the cockpit is built from: every outside dependency injected (app factory pattern).

Tests, snapshots and the demo build the same app with other parts: a fake Ollama
URL, a fake GPU probe, a fixed clock, a temporary project.  Heavy imports happen
lazily so launching stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conductor_tui.core.store import ProjectStore
    from conductor_tui.providers.anthropic import ClaudeProvider
    from conductor_tui.providers.gpu import GpuProbe
    from conductor_tui.providers.ollama import OllamaProvider
    from conductor_tui.providers.system import SystemSample


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a screen may use.  Screens reach it as ``self.app.services``."""

    project: Path
    ollama_host: str | None = None  # None → locations.ollama_host()
    gpu_probe: GpuProbe | None = None  # None → detect_gpu_probe() lazily
    clock: Callable[[], datetime] = _now
    demo: bool = False  # label everything as demo data
    settings_path: Path | None = None  # None → locations.app_config_dir()/settings.json
    poll_interval: float = 2.0  # Ollama / GPU polling (seconds); 0 disables polling (snapshots)
    rng: Callable[[], float] | None = None  # sampling source for needs_evaluation (tests fix it)
    handoff: bool = True  # heartbeat + run the coding session's requests (needs poll_interval > 0)
    # the Models screen's system figures; None → psutil (providers.system)
    system_sampler: Callable[[], SystemSample] | None = None
    # the planner / judge; None → built from the environment
    claude: ClaudeProvider | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_llm_orc(self) -> bool:
        return (self.project / ".llm-orc").is_dir()

    @property
    def store(self) -> ProjectStore:
        """The project's ProjectStore (created on first use)."""
        if "store" not in self._cache:
            from conductor_tui.core.store import ProjectStore

            self._cache["store"] = ProjectStore(self.project)
        return self._cache["store"]

    @property
    def ollama(self) -> OllamaProvider:
        """The OllamaProvider (created on first use)."""
        if "ollama" not in self._cache:
            from conductor_tui.providers.ollama import OllamaProvider

            self._cache["ollama"] = OllamaProvider(self.ollama_host)
        return self._cache["ollama"]

    @property
    def gpu(self) -> GpuProbe:
        if self.gpu_probe is None:
            from conductor_tui.providers.gpu import detect_gpu_probe

            self.gpu_probe = detect_gpu_probe()
        return self.gpu_probe
