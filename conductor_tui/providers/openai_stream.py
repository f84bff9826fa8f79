"""Reading an OpenAI-compatible chat stream: the content and reasoning deltas of each chunk,
and the final numbers — the server's ``usage`` when it sends one (else one token per content
chunk and ~4 characters a prompt token), llama.cpp's ``timings`` when present, durations
measured here (no Textual)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conductor_tui.providers.ollama import ChatChunk, ChatUsage


@dataclass
class OpenAIUsage(ChatUsage):
    """:class:`ChatUsage` plus what only this protocol tells: time to first token, where the token
    counts came from (``"server"`` or ``"estimated"``) and llama.cpp's own ``timings`` if sent."""

    time_to_first_token_ns: int = 0
    usage_source: str = "server"
    server_timings: dict[str, Any] | None = None


def _delta_pieces(choice: Any) -> tuple[str, str]:
    """(content, reasoning) of one choice's delta; reasoning servers name it either way."""
    delta = choice.delta
    if delta is None:
        return "", ""
    text = getattr(delta, "content", None) or ""
    delta_extra = getattr(delta, "model_extra", None) or {}
    thinking = delta_extra.get("reasoning_content") or delta_extra.get("reasoning") or ""
    return text, thinking if isinstance(thinking, str) else ""


class StreamTally:
    """What a chat stream has told so far, and when: the served model, the server's usage and
    timings, the finish reason, how many content chunks came and the times of the first and last."""

    def __init__(self, model: str) -> None:
        self.t0 = time.perf_counter_ns()
        self.t_first = 0
        self.t_last = 0
        self.chunks = 0
        self.usage: Any = None
        self.timings: dict[str, Any] | None = None
        self.finish: str | None = None
        self.served_model = model

    @property
    def incomplete(self) -> bool:
        """The stream ended with neither a finish reason nor a usage chunk."""
        return self.finish is None and self.usage is None

    def feed(self, chunk: Any) -> list[ChatChunk]:
        """Take one streamed chunk into account; the non-empty pieces of output it carries."""
        self.served_model = getattr(chunk, "model", None) or self.served_model
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        extra_fields = getattr(chunk, "model_extra", None) or {}
        if isinstance(extra_fields.get("timings"), dict):
            self.timings = extra_fields["timings"]
        out: list[ChatChunk] = []
        for choice in getattr(chunk, "choices", None) or []:
            text, thinking = _delta_pieces(choice)
            if choice.finish_reason:
                self.finish = choice.finish_reason
            if text or thinking:
                now = time.perf_counter_ns()
                if not self.t_first:
                    self.t_first = now
                self.t_last = now
                self.chunks += 1
                out.append(ChatChunk(text=text, thinking=thinking))
        return out

    def final_usage(self, messages: Sequence[Mapping[str, Any]]) -> OpenAIUsage:
        """The numbers of the finished stream (``messages`` for the prompt estimate)."""
        t_end = time.perf_counter_ns()
        usage, chunks, t0 = self.usage, self.chunks, self.t0
        if usage is not None:
            prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        else:  # e.g. llama-cpp-python ignores include_usage: ~4 characters a token, +4 per message
            prompt_tokens = sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)
        output_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else chunks
        ttft = (self.t_first or t_end) - t0
        if chunks > 1:  # n chunks span n-1 intervals: scale to n tokens' worth of generation
            eval_ns = int((self.t_last - self.t_first) * chunks / (chunks - 1))
        else:
            eval_ns = max(t_end - (self.t_first or t0), 0)
        prompt_ns = ttft
        if self.timings:
            with contextlib.suppress(TypeError, ValueError):
                prompt_ns = int(float(self.timings.get("prompt_ms", 0)) * 1e6) or prompt_ns
                eval_ns = int(float(self.timings.get("predicted_ms", 0)) * 1e6) or eval_ns
        return OpenAIUsage(
            model=self.served_model,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            total_duration_ns=t_end - t0,
            load_duration_ns=0,
            prompt_eval_duration_ns=prompt_ns,
            eval_duration_ns=eval_ns,
            done_reason=self.finish,
            time_to_first_token_ns=ttft,
            usage_source="server" if usage is not None else "estimated",
            server_timings=self.timings,
        )
