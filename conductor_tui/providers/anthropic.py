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
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conductor_tui.core.planner import PlannerOutput
from conductor_tui.core.records import Delegability, FailureMode, Score, norm_token

DEFAULT_MODEL = "claude-sonnet-4-6"
MODEL_ENV = "CONDUCTOR_CLAUDE_MODEL"
NO_KEY_MESSAGE = (
    "Claude is not configured: set ANTHROPIC_API_KEY to let Claude plan and judge. "
    "Everything local keeps working, and plans from files or the coding session are still accepted."
)

CLAUDE_ONLY_CRITERIA = [
    "recursive-reconsideration",
    "interacting-constraints",
    "holistic-judgment",
    "novel-insight",
    "aesthetic-judgment",
]


# --------------------------------------------------------------------------- results


@dataclass
class Usage:
    """Tokens Claude billed for one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.calls + other.calls,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "total_tokens": self.total,
            "calls": self.calls,
        }

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        if usage is None:
            return cls()
        return cls(
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cache_creation_input_tokens=int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
            cache_read_input_tokens=int(getattr(usage, "cache_read_input_tokens", 0) or 0),
            calls=1,
        )


class ClaudeError(Exception):
    """A Claude call that did not produce its result.

    ``kind``: unavailable | auth | rate-limit | overloaded | server | bad-request |
    stream | cut | timeout | connection | bad-output.  ``partial`` is whatever text (the
    judge's reflection, or the raw tool JSON) arrived before the failure; ``usage`` the
    tokens known so far.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        partial: str = "",
        usage: Usage | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.partial = partial
        self.usage = usage or Usage()
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass
class JudgeVerdict:
    """The judge's evaluation: reflection first, then the score (see the glossary: evaluation)."""

    reflection: str
    score: Score
    failure_mode: FailureMode | None
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reflection": self.reflection,
            "score": self.score.value,
            "failure_mode": self.failure_mode.value if self.failure_mode else None,
            "usage": self.usage.to_dict(),
            "model": self.model,
        }


# --------------------------------------------------------------------------- schemas

_DAG_SCHEMA = {
    "type": "object",
    "description": "ADR-012 DAG decomposability test; null when not applied (agent-delegable).",
    "properties": {
        "dag": {"type": ["boolean", "null"], "description": "breaks into a DAG of agents, no cycles"},
        "script": {"type": ["boolean", "null"], "description": "non-LLM work absorbable by scripts"},
        "fanout": {
            "type": ["boolean", "null"],
            "description": "LLM work divides into bounded per-item tasks",
        },
        "synthesis": {"type": ["boolean", "null"], "description": "synthesis combines structured outputs"},
    },
    "required": ["dag", "script", "fanout", "synthesis"],
}

PLAN_TOOL = {
    "name": "submit_plan",
    "description": "Submit the workflow plan for the meta-task: phases and ordered subtasks.",
    "input_schema": {
        "type": "object",
        "properties": {
            "phases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "goal": {"type": "string"}},
                    "required": ["name"],
                },
            },
            "subtasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "short id, e.g. s1"},
                        "description": {"type": "string"},
                        "phase": {"type": "string"},
                        "task_type": {
                            "type": "string",
                            "description": "e.g. extraction, classification, summarization, template-fill, "
                            "mechanical-transform, boilerplate-generation, cross-file-analysis, "
                            "evidence-gathering, factual-knowledge-retrieval, tool-based-scanning, "
                            "architectural-design, debugging, judgment",
                        },
                        "delegability_category": {
                            "type": "string",
                            "enum": [d.value for d in Delegability],
                        },
                        "dag_test": _DAG_SCHEMA,
                        "depends_on": {"type": "array", "items": {"type": "string"}},
                        "expected_repetitions": {"type": "integer", "minimum": 1},
                        "claude_only_criterion": {
                            "type": ["string", "null"],
                            "enum": [*CLAUDE_ONLY_CRITERIA, None],
                        },
                        "prepares": {
                            "type": ["string", "null"],
                            "description": "for a preparation subtask: the id of the Claude-only "
                            "judgment subtask it prepares a structured brief for",
                        },
                        "estimated_claude_tokens": {"type": "integer", "minimum": 0},
                        "rationale": {"type": "string"},
                    },
                    "required": [
                        "id",
                        "description",
                        "task_type",
                        "delegability_category",
                        "depends_on",
                        "expected_repetitions",
                    ],
                },
            },
            "notes": {"type": "string"},
        },
        "required": ["phases", "subtasks"],
    },
}

JUDGE_TOOL = {
    "name": "record_evaluation",
    "description": "Record the evaluation. Write the reflection FIRST, then the score, then the failure mode.",
    "input_schema": {
        "type": "object",
        "properties": {
            "reflection": {
                "type": "string",
                "description": "Reason about completeness, correctness, format and hallucinations "
                "before choosing a score (1-4 sentences).",
            },
            "score": {"type": "string", "enum": [s.value for s in Score]},
            "failure_mode": {
                "type": ["string", "null"],
                "enum": [*(f.value for f in FailureMode), None],
                "description": "only when the score is poor",
            },
        },
        "required": ["reflection", "score", "failure_mode"],
    },
}

PLANNER_SYSTEM = """You are the LLM Conductor's workflow planner. Decompose the meta-task into an \
ordered list of subtasks (seed: WORKFLOW PLANNING, TASK TRIAGE AND ROUTING).
For each subtask give: task type; delegability category — agent-delegable (a single small model \
handles it: extraction, classification, summarization, template-fill, mechanical-transform, \
boilerplate-generation), ensemble-delegable (passes all four DAG decomposability conditions: \
dag, script, fanout, synthesis — answer each), or claude-only (fails the test; name the \
irreducible criterion: recursive-reconsideration, interacting-constraints, holistic-judgment, \
novel-insight, aesthetic-judgment); dependencies by id; expected repetitions of this pattern in \
the task; an estimate of the Claude tokens it would cost if Claude did it.
When a Claude-only subtask has a separable preparation phase that passes the DAG test, split it: \
a preparation subtask (ensemble-delegable, `prepares` = the judgment subtask's id) and the \
Claude-only judgment subtask that depends on it. When uncertain about decomposability, say so \
in the rationale. Answer only through the submit_plan tool."""

JUDGE_SYSTEM = """You evaluate the final output of a local LLM ensemble for the LLM Conductor \
(seed: Evaluation Protocol). Follow this exact order — reflection BEFORE verdict:
1. Reflect: is the output complete, correct (as far as verifiable), in an appropriate format, \
free of hallucinated content?
2. Score: good (correct, complete, usable as-is), acceptable (directionally correct, may need \
minor refinement), poor (incorrect, incomplete or unusable).
3. Failure mode, only when poor: hallucination, incomplete, wrong-format, off-topic; otherwise null.
Answer only through the record_evaluation tool, writing the reflection field first."""


# --------------------------------------------------------------------------- partial JSON


def parse_partial_json(buffer: str) -> Any:
    """Parse possibly truncated JSON (a streaming tool input); ``None`` if not parseable yet.

    Incomplete trailing strings are returned as far as they go, so a growing
    ``reflection`` can be shown while it streams.
    """
    if not buffer:
        return None
    from jiter import from_json  # a dependency of anthropic

    try:
        return from_json(buffer.encode(), partial_mode="trailing-strings")
    except ValueError:
        return None


# --------------------------------------------------------------------------- provider


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
        client = self.client()
        buffer: list[str] = []
        usage = Usage()
        finished = False
        tool_input: Any = None
        try:
            with client.messages.stream(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                tools=[tool],
                tool_choice={"type": "tool", "name": tool["name"]},
            ) as stream:
                for event in stream:
                    etype = getattr(event, "type", "")
                    if etype == "message_start":
                        usage = Usage.from_api(event.message.usage)
                    elif (
                        etype == "content_block_delta"
                        and getattr(event.delta, "type", "") == "input_json_delta"
                    ):
                        buffer.append(event.delta.partial_json)
                        if on_progress is not None and event.delta.partial_json:
                            on_progress("".join(buffer))
                    elif etype == "message_delta":
                        usage = _merge_delta_usage(usage, event.usage)
                    elif etype == "message_stop":
                        finished = True
                        message = event.message
                        usage = Usage.from_api(message.usage)
                        for block in message.content:
                            if getattr(block, "type", "") == "tool_use" and block.name == tool["name"]:
                                tool_input = block.input
        except ClaudeError:
            raise
        except Exception as exc:
            raise self._error(exc, "".join(buffer), usage) from exc
        raw = "".join(buffer)
        if not finished:
            raise ClaudeError(
                "Claude's answer ended before it was complete (the stream stopped without message_stop).",
                kind="cut",
                partial=raw,
                usage=usage,
            )
        if tool_input is None:
            tool_input = parse_partial_json(raw) if raw else None
        if not isinstance(tool_input, dict):
            raise ClaudeError(
                f"Claude did not call the {tool['name']} tool.", kind="bad-output", partial=raw, usage=usage
            )
        return raw, usage, tool_input

    _stream_tool = stream_tool  # the former private name, kept for existing callers

    # ------------------------------------------------------------------ internals
    def _error(self, exc: BaseException, partial: str, usage: Usage) -> ClaudeError:
        """Map client / transport exceptions onto one :class:`ClaudeError`."""
        import anthropic
        import httpx2

        retries = f" after {self.max_retries} retries" if self.max_retries else ""
        where = self.base_url or "api.anthropic.com"
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            err_type, api_message = _error_body(exc.body)
            detail = api_message or getattr(exc, "message", "") or str(exc)
            if status < 400:
                # An `event: error` in the middle of a stream.
                return ClaudeError(
                    f"Claude's stream failed mid-way ({err_type or 'error'}: {detail}). "
                    "The partial answer was kept; try again.",
                    kind="overloaded" if err_type == "overloaded_error" else "stream",
                    partial=partial,
                    usage=usage,
                    status=status,
                )
            if status == 401:
                return ClaudeError(
                    "Claude rejected the API key (401): check ANTHROPIC_API_KEY.", kind="auth", status=status
                )
            if status == 403:
                return ClaudeError(f"Claude refused the request (403): {detail}", kind="auth", status=status)
            if status == 429:
                return ClaudeError(
                    f"Claude is rate-limiting this key (429){retries}: {detail}. "
                    "Wait a minute and try again.",
                    kind="rate-limit",
                    status=status,
                )
            if status == 529:
                return ClaudeError(
                    f"Claude is overloaded (529){retries}. Try again in a moment.",
                    kind="overloaded",
                    status=status,
                )
            if status >= 500:
                return ClaudeError(
                    f"Claude's server failed ({status}){retries}: {detail}", kind="server", status=status
                )
            return ClaudeError(
                f"Claude rejected the request ({status}): {detail}", kind="bad-request", status=status
            )
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return ClaudeError(
                f"Claude did not answer within {self.timeout:g} s (timeout). "
                + ("The partial answer was kept. " if partial else "")
                + "Try again.",
                kind="timeout",
                partial=partial,
                usage=usage,
            )
        if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
            return ClaudeError(
                "The connection to Claude was cut mid-answer. "
                + ("The partial answer was kept. " if partial else "")
                + "Try again.",
                kind="cut",
                partial=partial,
                usage=usage,
            )
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return ClaudeError(
                f"Cannot reach Claude at {where}: {_short(exc)}",
                kind="connection",
                partial=partial,
                usage=usage,
            )
        if isinstance(exc, ValueError):
            return ClaudeError(
                f"Claude's answer could not be parsed: {_short(exc)}",
                kind="bad-output",
                partial=partial,
                usage=usage,
            )
        return ClaudeError(
            f"Claude call failed: {type(exc).__name__}: {_short(exc)}", partial=partial, usage=usage
        )


def _merge_delta_usage(usage: Usage, delta_usage: Any) -> Usage:
    """``message_delta`` usage is cumulative: overwrite what it states."""
    if delta_usage is None:
        return usage
    out = Usage(
        **{
            k: getattr(usage, k)
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "calls",
            )
        }
    )
    for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        value = getattr(delta_usage, name, None)
        if value is not None:
            setattr(out, name, int(value))
    return out


def _error_body(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        inner = body.get("error")
        err: dict[Any, Any] = inner if isinstance(inner, dict) else body
        return err.get("type"), err.get("message")
    return None, None


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


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"
