"""Claude as planner and judge, through the official ``anthropic`` client (no Textual).

* :meth:`ClaudeProvider.plan` decomposes a meta-task with a **forced tool call** whose
  JSON schema is the plan (phases, subtasks with task type, delegability category,
  DAG-test answers, dependencies, expected repetitions, Claude-only criterion,
  preparation/judgment split).  The deterministic part (matching ensembles, gaps,
  thresholds, savings) is :mod:`conductor_tui.core.planner`.
* :meth:`ClaudeProvider.judge` evaluates an ensemble's output by the evaluation rubric with a
  forced tool whose properties are ordered ``reflection`` → ``score`` → ``failure_mode``.
  The tool input is streamed (``input_json_delta``) and parsed partially as it arrives,
  so the reflection is forwarded to ``on_reflection_delta`` **before** the score exists.

The ``anthropic`` package is imported lazily (first call), never at cockpit start-up.
Both methods are synchronous and blocking: call them from a thread worker
(``run_worker(..., thread=True)``) and marshal callbacks with ``call_from_thread``.

Every failure ends in :class:`ClaudeError` with a message a person can act on; the text
received before the failure is kept on the error (``partial``) together with the usage
known so far, so nothing is lost.  The client itself retries 429/529/5xx before the
stream starts (``max_retries``, honouring ``retry-after-ms``).

The parts: :mod:`~conductor_tui.providers.claude_records` (usage, verdict, error),
:mod:`~conductor_tui.providers.claude_tools` (tool schemas, system prompts),
:mod:`~conductor_tui.providers.claude_stream` (one streamed tool call) and
:mod:`~conductor_tui.providers.claude_errors` (exceptions → :class:`ClaudeError`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from conductor_tui.core.planner import PlannerOutput
from conductor_tui.core.records import FailureMode, Score, norm_token
from conductor_tui.providers.claude_errors import claude_error
from conductor_tui.providers.claude_records import ClaudeError, JudgeVerdict, Usage
from conductor_tui.providers.claude_records import short_message as _short
from conductor_tui.providers.claude_stream import parse_partial_json, stream_tool_call
from conductor_tui.providers.claude_tools import (
    CLAUDE_ONLY_CRITERIA,
    JUDGE_SYSTEM,
    JUDGE_TOOL,
    PLAN_TOOL,
    PLANNER_SYSTEM,
)

__all__ = [
    "CLAUDE_ONLY_CRITERIA",
    "DEFAULT_MODEL",
    "JUDGE_SYSTEM",
    "JUDGE_TOOL",
    "MODEL_ENV",
    "NO_KEY_MESSAGE",
    "PLANNER_SYSTEM",
    "PLAN_TOOL",
    "ClaudeError",
    "ClaudeProvider",
    "JudgeVerdict",
    "Usage",
    "parse_partial_json",
]

DEFAULT_MODEL = "claude-sonnet-4-6"
MODEL_ENV = "CONDUCTOR_CLAUDE_MODEL"
NO_KEY_MESSAGE = (
    "Claude is not configured: set ANTHROPIC_API_KEY to let Claude plan and judge. "
    "Everything local keeps working, and plans from files or the coding session are still accepted."
)


def _api_key_from_env() -> str | None:
    return os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or None


class ClaudeProvider:
    """Claude as planner and judge.  Cheap to construct (no import of ``anthropic`` until used)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        max_tokens_plan: int = 8192,
        max_tokens_judge: int = 2048,
    ) -> None:
        self._api_key = api_key or _api_key_from_env()
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.max_tokens_plan = max_tokens_plan
        self.max_tokens_judge = max_tokens_judge
        self._client: Any = None

    # ------------------------------------------------------------------ state
    @property
    def available(self) -> bool:
        return bool(self._api_key)

    @property
    def unavailable_reason(self) -> str | None:
        return None if self.available else NO_KEY_MESSAGE

    def __repr__(self) -> str:  # never show the key
        return f"ClaudeProvider(model={self.model!r}, base_url={self.base_url!r}, available={self.available})"

    def client(self) -> Any:
        if not self.available:
            raise ClaudeError(NO_KEY_MESSAGE, kind="unavailable")
        if self._client is None:
            import anthropic
            import httpx2

            self._client = anthropic.Anthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=httpx2.Timeout(self.timeout, connect=self.connect_timeout),
                max_retries=self.max_retries,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ calls
    def count_tokens(self, text: str, system: str | None = None) -> int:
        """Input tokens a prompt would cost (``/v1/messages/count_tokens``)."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": text}]}
        if system:
            kwargs["system"] = system
        try:
            return int(self.client().messages.count_tokens(**kwargs).input_tokens)
        except ClaudeError:
            raise
        except Exception as exc:
            raise self._error(exc, "", Usage()) from exc

    def plan(
        self,
        meta_task: str,
        context: str | dict[str, Any] | None = None,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[PlannerOutput, Usage]:
        """Claude's decomposition of ``meta_task`` (forced ``submit_plan`` tool), and its usage.

        ``context``: text or a mapping (available ensembles, task profiles, …) given to
        Claude verbatim as JSON.  ``on_progress(chars_received)`` is called as the plan streams.
        """
        if not meta_task.strip():
            raise ClaudeError("The meta-task is empty: describe what you want done.", kind="bad-request")
        prompt = f"Meta-task:\n{meta_task.strip()}"
        if context:
            ctx = context if isinstance(context, str) else json.dumps(context, indent=1, default=str)
            prompt += f"\n\nContext (available ensembles, task profiles, thresholds):\n{ctx}"
        raw, usage, tool_input = self.stream_tool(
            PLAN_TOOL,
            PLANNER_SYSTEM,
            prompt,
            self.max_tokens_plan,
            on_progress=(lambda buf: on_progress(len(buf))) if on_progress else None,
        )
        try:
            data = dict(tool_input or {})
            data.setdefault("meta_task", meta_task.strip())
            output = PlannerOutput.model_validate(data)
        except Exception as exc:
            raise ClaudeError(
                f"Claude's plan did not match the plan schema: {_short(exc)}",
                kind="bad-output",
                partial=raw,
                usage=usage,
            ) from exc
        if not output.subtasks:
            raise ClaudeError(
                "Claude returned a plan with no subtasks.", kind="bad-output", partial=raw, usage=usage
            )
        return output, usage

    def judge(
        self,
        task: str,
        input_summary: str,
        output: str,
        on_reflection_delta: Callable[[str], None] | None = None,
        *,
        ensemble: str | None = None,
        max_output_chars: int = 60_000,
    ) -> JudgeVerdict:
        """Evaluate ``output`` (reflection streamed to ``on_reflection_delta`` before the score)."""
        shown = output if len(output) <= max_output_chars else output[:max_output_chars] + "\n[… truncated]"
        prompt = (
            f"Task: {task}\n"
            + (f"Ensemble: {ensemble}\n" if ensemble else "")
            + f"Input summary: {input_summary}\n\n"
            + f"Ensemble output ({len(output)} characters):\n<output>\n{shown}\n</output>"
        )
        seen = {"reflection": ""}

        def progress(buffer: str) -> None:
            data = parse_partial_json(buffer)
            if not isinstance(data, dict):
                return
            text = data.get("reflection")
            if isinstance(text, str) and len(text) > len(seen["reflection"]):
                delta = text[len(seen["reflection"]) :]
                seen["reflection"] = text
                if on_reflection_delta is not None:
                    on_reflection_delta(delta)

        try:
            raw, usage, tool_input = self.stream_tool(
                JUDGE_TOOL, JUDGE_SYSTEM, prompt, self.max_tokens_judge, on_progress=progress
            )
        except ClaudeError as err:
            if seen["reflection"]:
                err.partial = seen["reflection"]
            raise
        data = tool_input if isinstance(tool_input, dict) else {}
        reflection = str(data.get("reflection") or seen["reflection"] or "").strip()
        score = _as_enum(Score, data.get("score"))
        if score is None:
            raise ClaudeError(
                f"Claude's evaluation has no valid score (got {data.get('score')!r}).",
                kind="bad-output",
                partial=reflection or raw,
                usage=usage,
            )
        failure = _as_enum(FailureMode, data.get("failure_mode")) if score is Score.POOR else None
        return JudgeVerdict(
            reflection=reflection, score=score, failure_mode=failure, usage=usage, model=self.model
        )

    def stream_tool(
        self,
        tool: dict[str, Any],
        system: str,
        prompt: str,
        max_tokens: int,
        *,
        on_progress: Callable[[str], None] | None = None,
    ) -> tuple[str, Usage, Any]:
        """Stream one forced tool call (``tool_choice`` = ``tool``); returns (raw JSON
        text of the tool input, usage, parsed input dict). ``on_progress(buffer)`` gets the
        JSON received so far after every delta. Blocking (call it from a worker thread).

        Raises :class:`ClaudeError` (with the partial text and usage so far) when the call
        fails, the stream stops before ``message_stop``, or Claude did not call the tool.
        Used by :meth:`plan`, :meth:`judge` and ``core.propose_judge.judge_with_claude``."""
        return stream_tool_call(
            self.client(),
            model=self.model,
            tool=tool,
            system=system,
            prompt=prompt,
            max_tokens=max_tokens,
            on_progress=on_progress,
            to_error=self._error,
        )

    _stream_tool = stream_tool  # the former private name, kept for existing callers

    # ------------------------------------------------------------------ internals
    def _error(self, exc: BaseException, partial: str, usage: Usage) -> ClaudeError:
        """Map client / transport exceptions onto one :class:`ClaudeError`."""
        return claude_error(
            exc, partial, usage, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries
        )


def _as_enum(enum_cls: Any, value: Any) -> Any:
    if isinstance(value, enum_cls):
        return value
    if not isinstance(value, str):
        return None
    key = norm_token(value)
    for member in enum_cls:
        if member.value == key or member.value.replace("-", "") == key.replace("-", ""):
            return member
    return None
