"""Capacity facts, measured: what is loaded, where it sits, and what is already running.

:func:`capacity_facts` returns ``ensemble name → core.capacity.Capacity`` for
:class:`~conductor_tui.core.loop.Conductor` (``capacity_facts=``), ``check`` and the Plan
screen — the verdict itself is core's (:mod:`conductor_tui.core.capacity`, pure). Measured,
not guessed:

* **loaded models and their GPU share** — Ollama's ``/api/ps`` (``size``, ``size_vram``);
  a model not loaded has its ``/api/tags`` size and, on this machine, the GPU probe's free
  VRAM (``memory_total − memory_used``, summed over GPUs). A remote host's free VRAM is not
  known here, so only its loaded models are judged for spill.
* **requests in flight** — the project's own records: session requests claimed or running
  (``conductor/results.jsonl``, no final event yet; a cockpit's claim only while its
  heartbeat lives) and plan rows marked ``running`` (the cockpit's active run), one per
  run and model (a row run through a request counts once). For llama-server, its ``/slots``
  endpoint (``is_processing``) replaces the records when it answers.
* **slots** — llama-server: the number of ``/slots``. Ollama's ``OLLAMA_NUM_PARALLEL`` is not
  visible over its API: the product takes **1** unless ``performance.concurrency.hosts``
  in ``config.yaml`` names a limit for that host URL, or ``OLLAMA_NUM_PARALLEL`` is set in
  the cockpit's environment (for an Ollama on the same machine).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conductor_tui.core import capacity as cap
from conductor_tui.engine.model_size import lookup_model
from conductor_tui.providers import endpoints

TIMEOUT = 2.0


@dataclass(frozen=True)
class HostLoad:
    """What one host says about its models now."""

    reachable: bool = False
    loaded: Mapping[str, tuple[int, int]] | None = None  # Ollama /api/ps: model → (size, size_vram)
    sizes: Mapping[str, int] | None = None  # Ollama /api/tags: model → size
    slots: int | None = None  # llama-server /slots
    processing: int | None = None  # llama-server /slots with is_processing


def ollama_load(url: str, *, timeout: float = TIMEOUT) -> HostLoad:
    """``/api/ps`` and ``/api/tags`` of one Ollama host (never raises)."""
    try:
        import ollama

        client = ollama.Client(host=url, timeout=timeout)
        ps = client.ps()
        loaded = {
            str(m.model or m.name or ""): (int(m.size or 0), int(m.size_vram or 0))
            for m in getattr(ps, "models", None) or []
        }
        tags = client.list()
        sizes = {str(m.model or ""): int(m.size or 0) for m in getattr(tags, "models", None) or [] if m.model}
    except Exception:
        return HostLoad()
    return HostLoad(True, loaded, sizes)


def llama_slots(url: str, *, timeout: float = TIMEOUT) -> HostLoad:
    """llama-server's ``GET /slots`` (at the server root, beside ``/v1``): a list of
    ``{id, is_processing, …}``. ``HostLoad()`` when the server has none (vLLM, disabled)."""
    import httpx

    root = url[: -len("/v1")] if url.endswith("/v1") else url
    try:
        resp = httpx.get(f"{root}/slots", timeout=timeout)
        data = resp.json() if resp.status_code == 200 else None
    except Exception:
        return HostLoad()
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        return HostLoad()
    busy = sum(1 for s in data if s.get("is_processing") is True)
    return HostLoad(True, slots=len(data), processing=busy)


def free_vram(probe: Any = None, samples: Any = None) -> tuple[bool | None, int | None]:
    """(has a GPU, free bytes) on this machine from the GPU probe (NVML → nvidia-smi → none),
    or from ``samples`` the caller already took (the cockpit's poll)."""
    try:
        if samples is None:
            if probe is None:
                from conductor_tui.providers.gpu import detect_gpu_probe

                probe = detect_gpu_probe()
            samples = probe.sample()
    except Exception:
        return None, None
    if not samples:
        return False, None
    free = [s.memory_total - s.memory_used for s in samples if s.memory_total and s.memory_used is not None]
    return True, (sum(free) if free else None)


def in_flight_runs(project: str | os.PathLike[str], store: Any = None) -> Counter[str]:
    """Ensemble → runs in flight now, from the project's records (see the module docstring)."""
    from conductor_tui.handoff import protocol

    out: Counter[str] = Counter()
    seen_rows: set[tuple[str, str]] = set()
    try:
        requests = protocol.read_requests(project)
        events = protocol.read_events(project)
    except Exception:
        requests, events = [], []
    last: dict[str, Any] = {}
    claimed_by: dict[str, str] = {}
    for e in events:
        last[e.request_id] = e
        if e.status == "claimed":
            claimed_by.setdefault(e.request_id, e.by or "unknown")
    cockpit = None
    for req in requests:
        event = last.get(req.id)
        if event is None or event.final:
            continue
        if claimed_by.get(req.id) == "cockpit":
            if cockpit is None:
                cockpit = protocol.cockpit_alive(project) is not None
            if not cockpit:
                continue  # the cockpit that claimed it is gone: nothing runs
        out[req.ensemble] += 1
        if req.plan_id and req.row_id:
            seen_rows.add((req.plan_id, req.row_id))
    try:
        if store is None:
            from conductor_tui.core.store import ProjectStore

            store = ProjectStore(Path(project))
        plans = store.latest_plans()
    except Exception:
        plans = {}
    from conductor_tui.core import plan as plan_ops

    for plan in plans.values():
        for row in plan.subtasks:
            if getattr(row.status, "value", row.status) != "running" or (plan.id, row.id) in seen_rows:
                continue
            handler = plan_ops.effective_handler(row)
            if plan_ops.handler_kind(handler) == "ensemble":
                out[handler] += 1
    return out


def typical_durations(store: Any) -> dict[str, int]:
    """Ensemble → median ``duration_ms`` of its completed runs in the routing log."""
    found: dict[str, list[float]] = {}
    try:
        records = store.read_routing().records
    except Exception:
        return {}
    for d in records:
        if d.event or d.status != "completed" or not d.ensemble:
            continue
        ms = d.duration_ms
        if isinstance(ms, int | float) and not isinstance(ms, bool):
            found.setdefault(d.ensemble, []).append(float(ms))
    return {k: v for k, v in ((k, cap.typical_duration_ms(v)) for k, v in found.items()) if v}


def ensemble_models(
    spec: Any, profiles: Any, *, ollama_host: str | None = None
) -> list[tuple[endpoints.Endpoint, str]]:
    """The distinct (endpoint, model) pairs an ensemble's LLM agents call."""
    from conductor_tui.engine.loader import resolve_agent_model

    out: list[tuple[endpoints.Endpoint, str]] = []
    for agent in getattr(spec, "agents", []) or []:
        if getattr(agent, "kind", "llm") != "llm":
            continue
        try:
            resolved = resolve_agent_model(agent, profiles, spec)
        except Exception:
            continue
        if not resolved.model:
            continue
        ep = endpoints.endpoint_for(resolved.provider, resolved.profile, ollama_host=ollama_host)
        if ep is None or (ep, resolved.model) in out:
            continue
        out.append((ep, resolved.model))
    return out


def _ollama_slots(url: str, host_limits: Mapping[str, int], env: Mapping[str, str]) -> tuple[int, str]:
    if host_limits.get(url):
        return host_limits[url], "config"
    raw = env.get("OLLAMA_NUM_PARALLEL", "")
    if raw.strip().isdigit() and int(raw) > 0 and endpoints.is_loopback(url):
        return int(raw), "env"
    return 1, "default"


def capacity_facts(
    project: str | os.PathLike[str] | None,
    *,
    catalog: Any = None,
    store: Any = None,
    gpu_probe: Any = None,
    env: Mapping[str, str] | None = None,
    in_flight: Mapping[str, int] | None = None,
    ollama_host: str | None = None,
    gpu_samples: Any = None,
    probe_gpu: bool = True,
) -> Callable[[str], cap.Capacity | None]:
    """``ensemble name → Capacity`` (``None`` for an unknown ensemble or one with no local
    model). Hosts are asked once, on first use, and the answers kept for the life of the
    returned function (call it again for a fresh measure)."""
    return _CapacityFacts(
        project,
        catalog=catalog,
        store=store,
        gpu_probe=gpu_probe,
        env=os.environ if env is None else env,
        in_flight=in_flight,
        ollama_host=ollama_host,
        gpu_samples=gpu_samples,
        probe_gpu=probe_gpu,
    )


class _CapacityFacts:
    """The function :func:`capacity_facts` returns: the project's catalog, in-flight runs,
    limits and GPU read once (on the first call), each host asked once, each answer memoised."""

    def __init__(
        self,
        project: str | os.PathLike[str] | None,
        *,
        catalog: Any,
        store: Any,
        gpu_probe: Any,
        env: Mapping[str, str],
        in_flight: Mapping[str, int] | None,
        ollama_host: str | None,
        gpu_samples: Any,
        probe_gpu: bool,
    ) -> None:
        self.project = project
        self.catalog = catalog
        self.given_store = store
        self.gpu_probe = gpu_probe
        self.env = env
        self.in_flight = in_flight
        self.ollama_host = ollama_host
        self.gpu_samples = gpu_samples
        self.probe_gpu = probe_gpu
        self.state: dict[str, Any] = {}
        self.hosts: dict[str, HostLoad] = {}
        self.memo: dict[str, cap.Capacity | None] = {}

    def __call__(self, name: str) -> cap.Capacity | None:
        if name in self.memo:
            return self.memo[name]
        if not self._prepared():
            return None
        pairs = self.state["pairs"].get(name)
        if not pairs:
            self.memo[name] = None
            return None
        loads = [m for m in (self._measure(ep, model) for ep, model in pairs) if m is not None]
        self.memo[name] = (
            cap.ensemble_capacity(name, loads, typical_ms=self.state["typical"].get(name)) if loads else None
        )
        return self.memo[name]

    def _path(self) -> Path | None:
        return Path(self.project) if self.project is not None else None

    def _store(self) -> Any:
        if self.given_store is not None:
            return self.given_store
        if "store" not in self.state:
            from conductor_tui.core.store import ProjectStore

            path = self._path()
            self.state["store"] = ProjectStore(path) if path is not None else None
        return self.state["store"]

    def _prepared(self) -> bool:
        from conductor_tui.engine import loader
        from conductor_tui.engine.executor import EngineSettings

        state = self.state
        if "pairs" in state:
            return state["pairs"] is not None
        if self.catalog is None:
            try:
                self.catalog = loader.load_catalog(self._path())
            except Exception:
                state["pairs"] = None
                return False
        profiles = self.catalog.profiles or loader.ProfileSet()
        pairs: dict[str, list[tuple[endpoints.Endpoint, str]]] = {}
        for entry in self.catalog.all_entries():
            if entry.spec is not None:
                pairs[entry.name] = ensemble_models(entry.spec, profiles, ollama_host=self.ollama_host)
        state["pairs"] = pairs
        st = self._store()
        state["typical"] = typical_durations(st) if st is not None else {}
        if self.in_flight is not None:
            runs: Mapping[str, int] = dict(self.in_flight)
        else:
            runs = in_flight_runs(self.project, st) if self.project is not None else {}
        busy: Counter[tuple[str, str]] = Counter()
        for name, n in runs.items():
            for ep, model in pairs.get(name, []):
                busy[(ep.key, model)] += n
        state["busy"] = busy
        state["limits"] = EngineSettings.from_project(self._path()).host_concurrency
        # the caller's GPU samples (the cockpit's poll), else the probe; neither → unknown
        wants_gpu = self.gpu_samples is not None or self.probe_gpu
        state["gpu"] = free_vram(self.gpu_probe, self.gpu_samples) if wants_gpu else (None, None)
        return True

    def _host(self, ep: endpoints.Endpoint) -> HostLoad:
        if ep.key not in self.hosts:
            if ep.family == endpoints.OLLAMA:
                self.hosts[ep.key] = ollama_load(ep.url)
            elif ep.provider == "llama-server" or endpoints.is_loopback(ep.url):
                self.hosts[ep.key] = llama_slots(ep.url)
            else:
                self.hosts[ep.key] = HostLoad()
        return self.hosts[ep.key]

    def _measure(self, ep: endpoints.Endpoint, model: str) -> cap.ModelLoad | None:
        h = self._host(ep)
        in_flight_n = self.state["busy"].get((ep.key, model), 0)
        where = endpoints.display_url(ep.url)
        if ep.family == endpoints.OLLAMA:
            return self._measure_ollama(ep, model, h, in_flight_n, where)
        if h.slots:  # llama-server: its own count of busy slots
            return cap.ModelLoad(
                model,
                where,
                slots=h.slots,
                in_flight=h.processing or 0,
                slots_source="/slots",
                in_flight_source="/slots",
            )
        limit = self.state["limits"].get(ep.url)
        if limit:
            return cap.ModelLoad(model, where, slots=limit, in_flight=in_flight_n, slots_source="config")
        return None  # a hosted API: no slots to measure

    def _measure_ollama(
        self, ep: endpoints.Endpoint, model: str, h: HostLoad, in_flight_n: int, where: str
    ) -> cap.ModelLoad:
        slots, source = _ollama_slots(ep.url, self.state["limits"], self.env)
        if not h.reachable:
            return cap.ModelLoad(model, where, slots=slots, in_flight=in_flight_n, slots_source=source)
        ps = lookup_model(model, h.loaded or {})
        size = ps[0] if ps else lookup_model(model, h.sizes or {})
        local = endpoints.is_loopback(ep.url)
        gpu, free = self.state["gpu"] if local else (None, None)
        return cap.ModelLoad(
            model,
            where,
            size=size or None,
            loaded=ps is not None,
            size_vram=ps[1] if ps else None,
            free_vram=None if ps else free,
            gpu=gpu,
            slots=slots,
            in_flight=in_flight_n,
            slots_source=source,
        )


def capacity_table(
    facts: Callable[[str], cap.Capacity | None], names: Iterable[str]
) -> dict[str, cap.Capacity]:
    """``{name: Capacity}`` for the ensembles that have one (a broken probe leaves one out)."""
    out: dict[str, cap.Capacity] = {}
    for name in names:
        try:
            c = facts(name)
        except Exception:
            continue
        if c is not None:
            out[name] = c
    return out
