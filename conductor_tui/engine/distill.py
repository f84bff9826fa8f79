"""Find the ensemble that runs a distilled context (:class:`core.context.DistillRequest`)."""

from __future__ import annotations

from typing import Any

from conductor_tui.core.context import DEFAULT_DISTILL_ENSEMBLE
from conductor_tui.engine import kit, loader


def find_distill_ensemble(name: str = DEFAULT_DISTILL_ENSEMBLE, catalog: Any = None) -> Any:
    """The ``EnsembleSpec`` that runs a :class:`DistillRequest`: the project's (``catalog``
    from ``engine.loader.load_catalog``) when it has one by that name, else the copy shipped
    with conductor-tui (``ensembles/workflows/distill-context.yaml``, profile
    ``starter-small``) for the default name. Raises ``LookupError`` when neither exists.
    """
    if catalog is not None:
        entry = catalog.get(name)
        spec = getattr(entry, "spec", entry) if entry is not None else None
        if spec is not None:
            return spec
    if name == DEFAULT_DISTILL_ENSEMBLE:
        try:
            path = kit.kit_dir() / "workflows" / f"{name}.yaml"
        except kit.KitError as exc:  # pragma: no cover - broken installation
            raise LookupError(str(exc)) from exc
        if path.is_file():
            return loader.load_ensemble_file(path, tier="kit")
    raise LookupError(f'no summarising ensemble "{name}" (install it under .llm-orc/ensembles/)')
