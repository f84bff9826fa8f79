"""The cockpit's own settings (theme …) in ``$XDG_CONFIG_HOME/conductor-tui/settings.json``.

Read tolerantly (a missing or broken file gives defaults), written atomically
(temporary file + fsync + rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conductor_tui.core.locations import app_config_dir


def settings_path(override: Path | None = None) -> Path:
    return override or app_config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> dict[str, Any]:
    try:
        data = json.loads(settings_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(values: dict[str, Any], path: Path | None = None) -> Path:
    """Merge ``values`` into the settings file (atomic write)."""
    from conductor_tui.core.store import atomic_write_text  # store (pydantic, yaml): not at launch

    target = settings_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = load_settings(target)
    data.update(values)
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return target
