"""Claude's failures in words a person can act on: every exception the ``anthropic`` client
or its transport raises becomes one :class:`~conductor_tui.providers.claude_records.ClaudeError`
with a ``kind``, keeping the partial answer and usage known so far (no Textual)."""

from __future__ import annotations

from typing import Any

from conductor_tui.providers.claude_records import ClaudeError, Usage, short_message


def claude_error(
    exc: BaseException,
    partial: str,
    usage: Usage,
    *,
    base_url: str | None,
    timeout: float,
    max_retries: int,
) -> ClaudeError:
    """Map client / transport exceptions onto one :class:`ClaudeError`."""
    import anthropic
    import httpx2

    if isinstance(exc, anthropic.APIStatusError):
        retries = f" after {max_retries} retries" if max_retries else ""
        return _status_error(exc, partial, usage, retries)
    kept = "The partial answer was kept. " if partial else ""
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        message = f"Claude did not answer within {timeout:g} s (timeout). {kept}Try again."
        return ClaudeError(message, kind="timeout", partial=partial, usage=usage)
    if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
        message = f"The connection to Claude was cut mid-answer. {kept}Try again."
        return ClaudeError(message, kind="cut", partial=partial, usage=usage)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        where = base_url or "api.anthropic.com"
        message = f"Cannot reach Claude at {where}: {short_message(exc)}"
        return ClaudeError(message, kind="connection", partial=partial, usage=usage)
    if isinstance(exc, ValueError):
        message = f"Claude's answer could not be parsed: {short_message(exc)}"
        return ClaudeError(message, kind="bad-output", partial=partial, usage=usage)
    return ClaudeError(
        f"Claude call failed: {type(exc).__name__}: {short_message(exc)}", partial=partial, usage=usage
    )


def _status_error(exc: Any, partial: str, usage: Usage, retries: str) -> ClaudeError:
    """An HTTP status from the API, or an ``event: error`` in the middle of a stream."""
    status = exc.status_code
    err_type, api_message = error_body(exc.body)
    detail = api_message or getattr(exc, "message", "") or str(exc)
    if status < 400:  # an `event: error` in the middle of a stream
        return ClaudeError(
            f"Claude's stream failed mid-way ({err_type or 'error'}: {detail}). "
            "The partial answer was kept; try again.",
            kind="overloaded" if err_type == "overloaded_error" else "stream",
            partial=partial,
            usage=usage,
            status=status,
        )
    if status == 401:
        message = "Claude rejected the API key (401): check ANTHROPIC_API_KEY."
        return ClaudeError(message, kind="auth", status=status)
    if status == 403:
        return ClaudeError(f"Claude refused the request (403): {detail}", kind="auth", status=status)
    if status == 429:
        message = f"Claude is rate-limiting this key (429){retries}: {detail}. Wait a minute and try again."
        return ClaudeError(message, kind="rate-limit", status=status)
    if status == 529:
        message = f"Claude is overloaded (529){retries}. Try again in a moment."
        return ClaudeError(message, kind="overloaded", status=status)
    if status >= 500:
        message = f"Claude's server failed ({status}){retries}: {detail}"
        return ClaudeError(message, kind="server", status=status)
    return ClaudeError(f"Claude rejected the request ({status}): {detail}", kind="bad-request", status=status)


def error_body(body: Any) -> tuple[str | None, str | None]:
    """(type, message) of an API error body ``{"error": {"type", "message"}}``."""
    if isinstance(body, dict):
        inner = body.get("error")
        err: dict[Any, Any] = inner if isinstance(inner, dict) else body
        return err.get("type"), err.get("message")
    return None, None
