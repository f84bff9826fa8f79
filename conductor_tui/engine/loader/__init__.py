"""Load ensembles and profiles from llm-orc's three tiers, validate them, and say
whether each one can run here.

Tiers, in precedence order (llm-orc ``ConfigurationManager.get_ensembles_dirs``):

1. project ``<project>/.llm-orc/ensembles/**/*.yaml|yml``
2. library ``$LLM_ORC_LIBRARY_PATH/ensembles``
3. global ``$XDG_CONFIG_HOME/llm-orc/ensembles``

The first ensemble with a given ``name`` wins; the others are recorded as shadowed.

Profiles (llm-orc ``get_model_profiles``, lowest to highest precedence): global
``config.yaml`` ``model_profiles``, global ``profiles/*.yaml`` (``*.local.yaml``
last), local ``config.yaml``, local ``profiles/*.yaml`` (``*.local.yaml`` last).
A profile file needs a top-level ``name`` (llm-orc ignores one without it).

Where each part lives:

* :mod:`.yaml_source` — ``read_yaml`` (keeps line numbers), ``EnsembleLoadError``.
* :mod:`.agents` — one agent's keys by kind (``parse_agent``, ``agent_kind``).
* :mod:`.ensembles` — one ensemble file (``parse_ensemble``, ``load_ensemble_file``,
  ``find_cycle``, ``ensemble_name_problem``).
* :mod:`.catalog` — discovery across the tiers (``load_catalog`` → ``EnsembleCatalog``).
* :mod:`.profiles` — ``load_profiles`` → ``ProfileSet``, ``resolve_agent_model``,
  ``fallback_chain``.
* :mod:`.scripts` — where a script agent's file is (``locate_script`` and friends).
* :mod:`.runnable` — ``check_runnable`` / ``is_runnable``; :mod:`.composition` judges
  ``ensemble`` / ``loop`` / ``dispatch`` agents for it.

Every name stays importable from ``conductor_tui.engine.loader``. No Textual here.
"""

from __future__ import annotations

from conductor_tui.core import locations
from conductor_tui.core.spec import AgentSpec, EnsembleSpec, Problem, Profile
from conductor_tui.engine.loader.agents import agent_kind, dep_name, parse_agent
from conductor_tui.engine.loader.catalog import (
    TIER_ORDER,
    EnsembleCatalog,
    EnsembleEntry,
    ensemble_dirs,
    load_catalog,
)
from conductor_tui.engine.loader.composition import check_composition, composition_target
from conductor_tui.engine.loader.ensembles import (
    ensemble_name_problem,
    find_cycle,
    load_ensemble_file,
    parse_ensemble,
)
from conductor_tui.engine.loader.profiles import (
    ProfileSet,
    ResolvedModel,
    fallback_chain,
    load_profiles,
    resolve_agent_model,
)
from conductor_tui.engine.loader.runnable import (
    check_runnable,
    is_runnable,
    model_installed,
    normalise_model,
)
from conductor_tui.engine.loader.scripts import (
    EXTERNAL_SCRIPTS_KEY,
    SCRIPT_EXTENSIONS,
    external_scripts_allowed,
    locate_script,
    looks_like_path,
    resolve_script,
    script_confined,
    script_roots,
    script_search_dirs,
)
from conductor_tui.engine.loader.yaml_source import EnsembleLoadError, read_yaml

__all__ = [
    "EXTERNAL_SCRIPTS_KEY",
    "SCRIPT_EXTENSIONS",
    "TIER_ORDER",
    "AgentSpec",
    "EnsembleCatalog",
    "EnsembleEntry",
    "EnsembleLoadError",
    "EnsembleSpec",
    "Problem",
    "Profile",
    "ProfileSet",
    "ResolvedModel",
    "agent_kind",
    "check_composition",
    "check_runnable",
    "composition_target",
    "dep_name",
    "ensemble_dirs",
    "ensemble_name_problem",
    "external_scripts_allowed",
    "fallback_chain",
    "find_cycle",
    "is_runnable",
    "load_catalog",
    "load_ensemble_file",
    "load_profiles",
    "locate_script",
    "locations",
    "looks_like_path",
    "model_installed",
    "normalise_model",
    "parse_agent",
    "parse_ensemble",
    "read_yaml",
    "resolve_agent_model",
    "resolve_script",
    "script_confined",
    "script_roots",
    "script_search_dirs",
]
