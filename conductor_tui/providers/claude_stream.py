"""One forced tool call streamed from Claude: the tool input arrives as ``input_json_delta``
pieces, is parsed partially as it grows, and is complete only after ``message_stop``
(no Textual)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conductor_tui.providers.claude_records import ClaudeError, Usage, merge_delta_usage


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


class ToolStream:
    """What the stream of one forced tool call has said so far: the tool input's JSON text,
    the usage, whether ``message_stop`` came, and the tool input it carried."""

    def __init__(self, tool_name: str, on_progress: Callable[[str], None] | None = None) -> None:
        self.tool_name = tool_name
        self.on_progress = on_progress
        self.buffer: list[str] = []
        self.usage = Usage()
        self.finished = False
        self.tool_input: Any = None

    @property
    def raw(self) -> str:
        return "".join(self.buffer)

    def feed(self, event: Any) -> None:
        """Take one stream event into account."""
        etype = getattr(event, "type", "")
        if etype == "message_start":
            self.usage = Usage.from_api(event.message.usage)
        elif etype == "content_block_delta" and getattr(event.delta, "type", "") == "input_json_delta":
            self.buffer.append(event.delta.partial_json)
            if self.on_progress is not None and event.delta.partial_json:
                self.on_progress(self.raw)
        elif etype == "message_delta":
            self.usage = merge_delta_usage(self.usage, event.usage)
        elif etype == "message_stop":
            self.finished = True
            message = event.message
            self.usage = Usage.from_api(message.usage)
            for block in message.content:
                if getattr(block, "type", "") == "tool_use" and block.name == self.tool_name:
                    self.tool_input = block.input

    def result(self) -> tuple[str, Usage, Any]:
        """(raw JSON text, usage, tool input dict) of a finished stream; :class:`ClaudeError`
        when it stopped before ``message_stop`` or Claude did not call the tool."""
        raw, usage = self.raw, self.usage
        if not self.finished:
            raise ClaudeError(
                "Claude's answer ended before it was complete (the stream stopped without message_stop).",
                kind="cut",
                partial=raw,
                usage=usage,
            )
        tool_input = self.tool_input
        if tool_input is None:
            tool_input = parse_partial_json(raw) if raw else None
        if not isinstance(tool_input, dict):
            raise ClaudeError(
                f"Claude did not call the {self.tool_name} tool.", kind="bad-output", partial=raw, usage=usage
            )
        return raw, usage, tool_input


def stream_tool_call(
    client: Any,
    *,
    model: str,
    tool: dict[str, Any],
    system: str,
    prompt: str,
    max_tokens: int,
    on_progress: Callable[[str], None] | None,
    to_error: Callable[[BaseException, str, Usage], ClaudeError],
) -> tuple[str, Usage, Any]:
    """Stream one forced tool call through ``client`` (blocking); ``to_error`` maps a client
    or transport exception, with the partial text and usage so far, onto a :class:`ClaudeError`."""
    state = ToolStream(tool["name"], on_progress)
    try:
        with client.messages.stream(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            tools=[tool],
            tool_choice={"type": "tool", "name": tool["name"]},
        ) as stream:
            for event in stream:
                state.feed(event)
    except ClaudeError:
        raise
    except Exception as exc:
        raise to_error(exc, state.raw, state.usage) from exc
    return state.result()
