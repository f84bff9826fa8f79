"""What a local model server's failure looks like to the rest of the cockpit, shared by the
Ollama and OpenAI-compatible adapters: one error type with a ``kind`` from one vocabulary
(``unreachable``, ``model-missing``, ``http``, ``stream``, ``timeout``, ``busy``, ``auth``),
a one-line message, and the fix where there is one; and the wording of the failures both
protocols share (no Textual)."""

from __future__ import annotations


class ProviderError(Exception):
    """A normalised failure of a model server. ``str(e)`` is a clear one-line message."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        fix: str | None = None,
        status: int | None = None,
        model: str | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fix = fix
        self.status = status
        self.model = model

    def __str__(self) -> str:
        return self.message


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cut_mid_response(name: str, where: str, detail: str) -> str:
    """The connection dropped while the server was answering."""
    return f"The connection to {name} at {where} was cut mid-response ({detail})"


def malformed_response(name: str, where: str, exc: BaseException) -> str:
    """The server sent something the client could not read."""
    return f"{name} at {where} sent a malformed response ({type(exc).__name__}: {first_line(exc)})"


def ended_early(name: str, where: str, model: str) -> str:
    """The stream closed before the server said it was done."""
    return f"{name} at {where} ended the response for {model} before it was done"
