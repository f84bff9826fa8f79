"""Every configured model host, and whether each answers: the default Ollama (``$OLLAMA_HOST``), any
Ollama host a profile names with ``base_url``, and every OpenAI-compatible server (``/v1/models``).
No Textual; the ``openai`` client is imported only when an OpenAI-compatible host is probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conductor_tui.providers import endpoints
from conductor_tui.providers.endpoints import Endpoint


@dataclass
class HostStatus:
    endpoint: Endpoint
    reachable: bool
    models: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None
    version: str | None = None
    profiles: list[str] = field(default_factory=list)  # the profiles that use this host
    default: bool = False  # the default Ollama host ($OLLAMA_HOST)
    ollama_status: Any = None  # the full OllamaStatus for Ollama hosts

    @property
    def known_models(self) -> list[str] | None:
        """What :func:`~conductor_tui.engine.loader.check_runnable` needs: the models, or ``None``."""
        return list(self.models) if self.reachable and not self.error else None

    def to_json(self) -> dict[str, Any]:
        ep = self.endpoint
        return {
            "key": ep.key,
            "family": ep.family,
            "provider": ep.provider,
            "url": ep.url,
            "default": self.default,
            "api_key_env": ep.api_key_env,  # the variable's name only, never its value
            "reachable": self.reachable,
            "version": self.version,
            "models": list(self.models),
            "error": self.error,
            "fix": self.fix,
            "profiles": list(self.profiles),
        }


def configured_endpoints(
    profiles: Any = None, agents: Iterable[Any] = (), *, ollama_host: str | None = None
) -> list[tuple[Endpoint, list[str]]]:
    """(endpoint, profile names) for the default Ollama host first, then every other host the
    profiles (and agents that name ``model`` + ``provider`` themselves) point at, in first-seen order."""
    default = endpoints.endpoint_for("ollama", None, ollama_host=ollama_host)
    assert default is not None
    found: dict[str, tuple[Endpoint, list[str]]] = {default.key: (default, [])}
    for prof in sorted(getattr(profiles, "profiles", {}).values(), key=lambda p: p.name):
        ep = endpoints.endpoint_for(prof.provider, prof, ollama_host=ollama_host)
        if ep is None:
            continue
        found.setdefault(ep.key, (ep, []))[1].append(prof.name)
    for agent in agents:
        if getattr(agent, "kind", None) == "llm" and not agent.model_profile and agent.provider:
            ep = endpoints.endpoint_for(agent.provider, None, ollama_host=ollama_host)
            if ep is not None:
                found.setdefault(ep.key, (ep, []))
    return list(found.values())


async def probe_one(
    ep: Endpoint, profiles: list[str], *, default: bool = False, timeout: float = 5.0
) -> HostStatus:
    if ep.family == endpoints.OLLAMA:
        from conductor_tui.providers.ollama import OllamaProvider

        provider = OllamaProvider(ep.url, status_timeout=timeout)
        try:
            st = await provider.status()
        finally:
            await provider.aclose()
        return HostStatus(
            ep,
            st.reachable,
            [m.name for m in st.models],
            st.error,
            st.fix,
            st.version,
            profiles,
            default,
            st,
        )
    from conductor_tui.providers.openai_compat import OpenAICompatProvider

    oprov = OpenAICompatProvider(
        ep.url, api_key=ep.api_key(), api_key_env=ep.api_key_env, provider=ep.provider, status_timeout=timeout
    )
    try:
        ost = await oprov.status()
    finally:
        await oprov.aclose()
    fix = ost.fix
    if ep.api_key_env and not ep.api_key() and ost.kind == "auth":
        fix = f"export {ep.api_key_env}=<key>"
    return HostStatus(ep, ost.reachable, ost.models, ost.error, fix, None, profiles, default)


async def probe_hosts(
    configured: list[tuple[Endpoint, list[str]]], *, timeout: float = 5.0, default_first: bool = True
) -> list[HostStatus]:
    """Ask every host at once; never raises. With ``default_first`` the first entry is the default
    Ollama host (as :func:`configured_endpoints` returns it)."""
    results = await asyncio.gather(
        *(
            probe_one(ep, names, default=default_first and i == 0, timeout=timeout)
            for i, (ep, names) in enumerate(configured)
        ),
        return_exceptions=True,
    )
    out: list[HostStatus] = []
    for (ep, names), r in zip(configured, results, strict=True):
        if isinstance(r, asyncio.CancelledError):
            raise r
        if isinstance(r, BaseException):
            out.append(HostStatus(ep, False, error=f"{ep.label}: {type(r).__name__}: {r}", profiles=names))
        else:
            out.append(r)
    return out


def endpoint_models(statuses: Iterable[HostStatus]) -> dict[str, list[str] | None]:
    """``check_runnable``'s ``endpoint_models`` from probed hosts."""
    return {s.endpoint.key: s.known_models for s in statuses}
