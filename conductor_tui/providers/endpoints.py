"""Which server an LLM agent talks to: provider families and endpoints. No Textual, no network.

llm-orc's profile format names the provider and, for OpenAI-compatible servers, the ``base_url``::

    model_profiles:
      vllm-qwen:
        model: Qwen/Qwen2.5-7B-Instruct
        provider: openai-compatible          # also scoped: openai-compatible/<scope>
        base_url: http://gpu-box:8000/v1
        api_key_env: VLLM_API_KEY            # conductor-tui: the *name* of the variable, never the key
      local-llama:
        model: smollm2
        provider: llama-server               # default base_url http://127.0.0.1:8080/v1
      remote-ollama:
        model: qwen3:1.7b
        provider: ollama
        base_url: http://gpu-box:11434       # conductor-tui: an Ollama host per profile

llm-orc keeps API keys in its encrypted credential store (``llm-orc auth add …``); conductor-tui never
reads that store and never writes a key anywhere: a profile may name the environment variable that
holds it (``api_key_env``; llm-orc ignores the field). With no ``base_url``, ``openai-compatible`` means
OpenAI's own ``https://api.openai.com/v1`` (as in llm-orc) with ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

OLLAMA = "ollama"
OPENAI = "openai"  # the OpenAI chat-completions wire protocol

LLAMA_SERVER_URL = "http://127.0.0.1:8080/v1"
OPENAI_URL = "https://api.openai.com/v1"
OPENAI_PROVIDERS = ("openai-compatible", "llama-server")


def provider_family(provider: str | None) -> str | None:
    """``"ollama"``, ``"openai"`` (openai-compatible, scoped ``openai-compatible/<x>``, llama-server)
    or ``None`` for a provider conductor-tui cannot call (anthropic-api, google-gemini, …)."""
    p = (provider or "").strip().lower()
    if p == "ollama":
        return OLLAMA
    if p in OPENAI_PROVIDERS or p.startswith("openai-compatible/"):
        return OPENAI
    return None


def normalise_url(url: str) -> str:
    """``host:port`` → ``http://host:port``; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def display_url(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc + parts.path.rstrip("/")) or url


def is_loopback(url: str) -> bool:
    host = (urlsplit(normalise_url(url)).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


@dataclass(frozen=True)
class Endpoint:
    """One server: its protocol family, the provider name that chose it, its URL and the name of the
    environment variable holding its API key (if any)."""

    family: str
    provider: str
    url: str
    api_key_env: str | None = None

    @property
    def key(self) -> str:
        """Identity of the host (one client, one concurrency limit, one status line per key)."""
        return f"{self.family} {self.url}"

    @property
    def label(self) -> str:
        return f"{'Ollama' if self.family == OLLAMA else self.provider} {display_url(self.url)}"

    def api_key(self, env: Any = None) -> str | None:
        env = os.environ if env is None else env
        return (env.get(self.api_key_env) or None) if self.api_key_env else None


def _field(source: Any, name: str) -> Any:
    if source is None:
        return None
    raw = getattr(source, "raw", None)
    if isinstance(raw, dict) and name in raw:
        return raw[name]
    if isinstance(source, dict):
        return source.get(name)
    return None


def endpoint_for(
    provider: str | None, profile: Any = None, *, ollama_host: str | None = None
) -> Endpoint | None:
    """The endpoint a provider + profile resolves to (``None``: not a provider conductor-tui can call).

    ``profile`` is a :class:`~conductor_tui.core.spec.Profile` (or a mapping) or ``None`` for an agent
    that names ``model`` + ``provider`` itself (llm-orc agents cannot carry ``base_url``)."""
    family = provider_family(provider)
    if family is None:
        return None
    prov = (provider or "").strip().lower()
    base = _field(profile, "base_url")
    base = base.strip() if isinstance(base, str) and base.strip() else None
    key_env = _field(profile, "api_key_env")
    key_env = key_env.strip() if isinstance(key_env, str) and key_env.strip() else None
    if family == OLLAMA:
        from conductor_tui.core import locations

        return Endpoint(OLLAMA, "ollama", normalise_url(base or ollama_host or locations.ollama_host()))
    if base is None:
        if prov == "llama-server":
            base = LLAMA_SERVER_URL
        else:
            base = OPENAI_URL
            key_env = key_env or "OPENAI_API_KEY"
    return Endpoint(OPENAI, prov, normalise_url(base), key_env)
