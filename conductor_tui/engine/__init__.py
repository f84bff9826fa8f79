"""Ensemble loading (llm-orc format), validation and the async executor. No Textual.

Public API (import the submodules; this package imports nothing on its own):

* :mod:`.loader` (a package; its docstring lists the parts) —
  ``load_catalog(project) -> EnsembleCatalog`` (three tiers, winner per
  name + shadowed, ``invalid`` entries with their problems, ``profiles``),
  ``load_ensemble_file(path)``, ``parse_ensemble(data)``, ``load_profiles(project)``,
  ``check_runnable(spec, installed_models, profiles, project=…) -> list[Problem]``,
  ``is_runnable(problems)``, ``resolve_script``, ``EnsembleLoadError(problems)``.
  The specs themselves (``EnsembleSpec``, ``AgentSpec``, ``Profile``, ``Problem``) are
  :mod:`conductor_tui.core.spec`.
* :mod:`.events` — ``RunStarted``, ``AgentStarted``, ``TextDelta``, ``AgentNotice``,
  ``AgentFinished`` (with ``Usage``), ``AgentFailed``, ``AgentSkipped``, ``RunFinished``.
* :mod:`.executor` (a package; its docstring lists the parts) — ``Executor(provider=None, *,
  project, profiles, settings, write_artifacts=True)``; ``await executor.run(spec, input,
  on_event=cb) -> RunResult``; ``executor.cancel()``; ``stream_run(executor, spec, input)``
  (async iterator of events); ``EngineSettings(max_concurrency, per_model_concurrency,
  default_timeout)``. :mod:`.results` holds ``RunResult`` / ``AgentResult``.
* :mod:`.artifacts` — ``write_execution_artifact``, ``read_execution``,
  ``list_executions``; :mod:`.routing` — ``record_run(store, result, task_type=…)``,
  ``build_decision`` (both also importable from :mod:`.artifacts`).
* :mod:`.row_run` — ``RowRunner``: one plan row run end to end (admit, run, record).
* :mod:`.kit` — ``kit_dir()``, ``KIT_NAMES``, ``install_starter_kit(project, names,
  overwrite=False, confirm=None) -> InstallResult``, ``installed_state(project)``.
"""
