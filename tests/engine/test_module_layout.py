"""The engine's split modules keep their old import paths: every name other areas use from
``engine.loader``, ``engine.executor`` and ``engine.artifacts`` is still there, and is the same
object as in the module that now holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conductor_tui.engine import artifacts, executor, loader

# what the cockpit, the commands, handoff, benchmarks and tests import through the facades
LOADER_NAMES = (
    "EXTERNAL_SCRIPTS_KEY EnsembleCatalog EnsembleEntry EnsembleLoadError Profile ProfileSet "
    "check_runnable ensemble_name_problem external_scripts_allowed fallback_chain is_runnable "
    "load_catalog load_ensemble_file load_profiles locate_script locations looks_like_path "
    "normalise_model parse_ensemble read_yaml resolve_agent_model resolve_script"
).split()
EXECUTOR_NAMES = (
    "AgentResult EngineSettings Executor RunResult SCRIPT_OUTPUT_LIMIT evaluate_when parse_array "
    "script_environment stream_run"
).split()
ARTIFACT_NAMES = (
    "build_decision declared_task_types infer_task_type list_executions read_execution record_run "
    "write_execution_artifact"
).split()


@pytest.mark.parametrize(
    ("facade", "names"),
    [(loader, LOADER_NAMES), (executor, EXECUTOR_NAMES), (artifacts, ARTIFACT_NAMES)],
    ids=["loader", "executor", "artifacts"],
)
def test_the_old_import_paths_still_reach_every_name(facade, names) -> None:
    missing = [n for n in names if not hasattr(facade, n)]
    assert not missing, f"{facade.__name__} lost {missing}"
    exported = getattr(facade, "__all__", [])
    assert [n for n in exported if not hasattr(facade, n)] == []


def test_a_re_exported_name_is_the_object_its_home_module_defines() -> None:
    from conductor_tui.engine.executor.scheduler import Executor
    from conductor_tui.engine.loader.catalog import EnsembleCatalog, load_catalog
    from conductor_tui.engine.routing import record_run

    assert loader.load_catalog is load_catalog and loader.EnsembleCatalog is EnsembleCatalog
    assert executor.Executor is Executor and artifacts.record_run is record_run


def test_the_engine_catalog_has_its_own_name(tmp_path: Path) -> None:
    """Two unrelated classes were called ``Catalog`` (this one and the cockpit's view)."""
    assert not hasattr(loader, "Catalog")
    assert type(loader.load_catalog(tmp_path, with_profiles=False)).__name__ == "EnsembleCatalog"
