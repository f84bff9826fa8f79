"""Script agents, with llm-orc's contract: the payload as JSON on stdin (and in
``INPUT_DATA``), ``{"success", "data", "error"}`` as JSON on stdout; a path-like script must be
found inside the scripts folders unless the ensemble opts out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from conductor_tui.core.spec import AgentSpec
from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFinished, Usage
from conductor_tui.engine.executor.base import Emit, ExecutorBase
from conductor_tui.engine.executor.processes import (
    SCRIPT_OUTPUT_LIMIT,
    OutputTooLarge,
    communicate_bounded,
    interpreter,
    kill_group,
    script_environment,
    stderr_tail,
)
from conductor_tui.engine.results import SUCCESS, AgentFailure, AgentResult


def script_env(
    agent: AgentSpec,
    payload: dict[str, Any],
    stdin: bytes,
    *,
    name: str,
    base_input: str,
    instance: tuple[int, int] | None,
    project: Path | None,
) -> dict[str, str]:
    """The allow-listed environment plus llm-orc's variables (``INPUT_DATA``, ``INPUT_TEXT``,
    ``AGENT_PARAMETERS``, ``AGENT_NAME``, ``LLM_ORC_PROJECT_DIR``)."""
    env = script_environment(os.environ)
    if instance is not None:
        item = payload.get("input")
        env["INPUT_DATA"] = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
    elif "dependencies" in payload:
        env["INPUT_DATA"] = stdin.decode()
    else:
        env["INPUT_DATA"] = base_input
    env["INPUT_TEXT"] = base_input
    env["AGENT_PARAMETERS"] = json.dumps(agent.parameters, ensure_ascii=False)
    env["AGENT_NAME"] = name
    if project is not None:
        env["LLM_ORC_PROJECT_DIR"] = str(project)
    return env


def script_response(res: AgentResult, returncode: int | None, out: bytes, err: bytes) -> str:
    """The script's stdout when it kept the contract; else an :class:`AgentFailure` saying how
    it broke it (its stdout stays on ``res``)."""
    stdout = out.decode("utf-8", "replace").strip()
    tail = stderr_tail(err.decode("utf-8", "replace"))
    if returncode != 0:
        res.response = stdout or None
        raise AgentFailure(
            f"script exited with code {returncode}" + (f": {tail}" if tail else ""),
            "infrastructure",
        )
    if not stdout:
        raise AgentFailure(
            'script printed nothing (expected JSON {"success", "data", "error"})'
            + (f"; stderr: {tail}" if tail else ""),
            "infrastructure",
        )
    try:
        parsed = json.loads(stdout)
    except (ValueError, RecursionError) as exc:
        res.response = stdout
        where = (
            f"{exc.msg} at line {exc.lineno} col {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "nested too deeply"
        )
        raise AgentFailure(
            f"script printed invalid JSON ({where}): {stdout[:120]!r}", "infrastructure"
        ) from None
    if isinstance(parsed, dict) and (not parsed.get("success", True) or parsed.get("error")):
        res.response = stdout
        raise AgentFailure(
            f"script reported failure: {parsed.get('error') or 'success: false'}", "infrastructure"
        )
    return stdout


class ScriptAgents(ExecutorBase):
    """Runs script agents as subprocesses (each in its own process group)."""

    async def _run_script(
        self,
        agent: AgentSpec,
        payload: dict[str, Any],
        res: AgentResult,
        emit: Emit,
        *,
        base_input: str,
        instance: tuple[int, int] | None,
    ) -> None:
        self._started(agent, res, emit, None, instance)
        argv = self._script_argv(agent.script or "")
        stdin = json.dumps(payload, ensure_ascii=False).encode()
        env = script_env(
            agent,
            payload,
            stdin,
            name=res.name,
            base_input=base_input,
            instance=instance,
            project=self.project,
        )
        returncode, out, err = await self._exec_script(argv, stdin, env, self._timeout_for(agent))
        res.finished = self._now()
        res.usage = Usage(duration_ms=res.duration_ms)
        stdout = script_response(res, returncode, out, err)
        res.response = stdout
        res.status = SUCCESS
        emit(AgentFinished(self._run_id(), res.finished, res.name, stdout, res.usage))

    def _script_argv(self, script: str) -> list[str]:
        """A found script file with its interpreter, or an inline command for bash."""
        if not loader.looks_like_path(script):
            return ["/bin/bash", "-c", script]
        path, why = loader.locate_script(
            script, self.project, allow_external=getattr(self, "_external_scripts", False)
        )
        if path is None and why == "outside":
            raise AgentFailure(
                f"script {script} is outside the scripts folders; not running it",
                "infrastructure",
                f"move it into .llm-orc/scripts/, or set {loader.EXTERNAL_SCRIPTS_KEY}: true "
                "at the top of the ensemble",
            )
        if path is None:
            raise AgentFailure(
                f"script not found: {script}",
                "infrastructure",
                "put it in .llm-orc/scripts/ or fix the path",
            )
        return [*interpreter(path), str(path)]

    async def _exec_script(
        self, argv: list[str], stdin: bytes, env: dict[str, str], timeout: float
    ) -> tuple[int | None, bytes, bytes]:
        """(exit code, stdout, stderr) of one run; its process group is killed on timeout,
        cancellation or too much output."""
        async with self._slot(None):
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=str(self.project) if self.project else None,
                    start_new_session=True,
                )
            except OSError as exc:
                raise AgentFailure(
                    f"cannot start {argv[0]}: {exc.strerror or exc}", "infrastructure"
                ) from exc
            self._procs.add(proc)
            try:
                async with asyncio.timeout(timeout):
                    out, err = await communicate_bounded(proc, stdin, SCRIPT_OUTPUT_LIMIT)
            except OutputTooLarge:
                await _stop(proc, Exception)
                raise AgentFailure(
                    f"script printed more than {SCRIPT_OUTPUT_LIMIT // 1_000_000} MB; stopped it",
                    "infrastructure",
                    "make the script print less (its output becomes a prompt)",
                ) from None
            except TimeoutError:
                await _stop(proc, Exception)
                raise AgentFailure(
                    f"script timed out after {timeout:g} s",
                    "infrastructure",
                    "raise timeout_seconds for this agent",
                ) from None
            except asyncio.CancelledError:
                await _stop(proc, BaseException)
                raise
            finally:
                if proc.returncode is not None:
                    self._procs.discard(proc)
        return proc.returncode, out, err


async def _stop(proc: asyncio.subprocess.Process, suppress: type[BaseException]) -> None:
    """Kill the process group, then reap it, drain and close the pipes (at most 2 s)."""
    kill_group(proc)
    with contextlib.suppress(suppress):
        await asyncio.wait_for(proc.communicate(), 2)
