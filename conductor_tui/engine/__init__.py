"""Ensemble loading (llm-orc format), validation and the async executor. No Textual.

Public API (import the submodules; this package imports nothing on its own):

* :mod:`.loader` — ``load_catalog(project) -> EnsembleCatalog`` (three tiers, winner per
  name + shadowed, ``invalid`` entries with their problems, ``profiles``),
  ``load_ensemble_file(path)``, ``parse_ensemble(data)``, ``load_profiles(project)``,
  ``check_runnable(spec, installed_models, profiles, project=…) -> list[Problem]``,
  ``is_runnable(problems)``, ``resolve_script``, ``EnsembleLoadError(problems)``.
* :mod:`.spec` — ``EnsembleSpec``, ``AgentSpec``, ``Profile``, ``Problem``.
* :mod:`.events` — ``RunStarted``, ``AgentStarted``, ``TextDelta``, ``AgentNotice``,
  ``AgentFinished`` (with ``Usage``), ``AgentFailed``, ``AgentSkipped``, ``RunFinished``.
* :mod:`.executor` — ``Executor(provider=None, *, project, profiles, settings,
  write_artifacts=True)``; ``await executor.run(spec, input, on_event=cb) -> RunResult``;
  ``executor.cancel()``; ``stream_run(executor, spec, input)`` (async iterator of
  events); ``EngineSettings(max_concurrency, per_model_concurrency, default_timeout)``.
* :mod:`.artifacts` — ``write_execution_artifact``, ``read_execution``,
  ``list_executions``, ``record_run(store, result, task_type=…)``.
* :mod:`.kit` — ``kit_dir()``, ``KIT_NAMES``, ``install_starter_kit(project, names,
  overwrite=False, confirm=None) -> InstallResult``, ``installed_state(project)``.
"""
