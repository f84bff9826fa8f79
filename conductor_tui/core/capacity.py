"""Will it run well right now? Capacity verdicts from measured facts (pure: no I/O).

The engine measures (``handoff/capacity.py``: Ollama's ``/api/ps``, the GPU probe, the
project's own in-flight records, llama-server's ``/slots``) and hands the facts here; the
loop (:class:`~conductor_tui.core.loop.Conductor`) flags plan rows with the verdict. A
verdict is advice: a flagged row is never re-routed by itself — the person may send it to
Claude with the reason recorded (``route_reason: "capacity: …"``, routing-log reason
``capacity``).

Per model on its host:

* **spill** — the share of the model that would sit in system RAM. Loaded: ``1 −
  size_vram / size`` (``/api/ps``). Not loaded, on this machine: ``1 − free VRAM / size``
  (the GPU probe). Expected slowdown = ``gpu_share + cpu_share × CPU_PENALTY``: a layer
  run on the CPU is taken to be :data:`CPU_PENALTY` (10) times slower than on the GPU (a
  documented rule of thumb: memory bandwidth of system RAM vs VRAM). Flagged from
  :data:`SPILL_MIN_CPU_SHARE` (5 %). A host with no GPU at all runs everything on the CPU:
  that is its normal speed, not a spill.
* **queue** — requests already in flight on the model against its parallel slots
  (Ollama's ``OLLAMA_NUM_PARALLEL``; llama-server's ``/slots``). With ``ahead ≥ slots``
  a new request waits ``ahead / slots`` runs; the run then takes ``1 + ahead / slots``
  times as long, and the wait is that multiple of the ensemble's typical run (median
  ``duration_ms`` of its completed runs in the routing log) when it has any.

An ensemble's verdict is its worst model (spill and queue factors multiply on one model).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CPU_PENALTY = 10.0  # a CPU-resident layer ≈ 10× slower than on the GPU
SPILL_MIN_CPU_SHARE = 0.05  # below 5 % on the CPU the slowdown is noise
OK, SPILL, QUEUE = "ok", "spill", "queue"


@dataclass(frozen=True)
class ModelLoad:
    """The measured facts about one model on one host."""

    model: str
    host: str  # display form, e.g. 127.0.0.1:11434
    size: int | None = None  # bytes (``/api/ps`` when loaded, ``/api/tags`` otherwise)
    loaded: bool = False
    size_vram: int | None = None  # bytes on the GPU when loaded (``/api/ps``)
    free_vram: int | None = None  # free GPU memory now (GPU probe; only for a local host)
    gpu: bool | None = None  # the host has a GPU (None: unknown, e.g. a remote host)
    slots: int = 1  # parallel slots for this model on the host
    in_flight: int = 0  # requests running or waiting on it now
    slots_source: str = "default"  # default | config | env | /slots
    in_flight_source: str = "records"  # records | /slots


@dataclass(frozen=True)
class ModelVerdict:
    load: ModelLoad
    cpu_share: float | None  # None: not measurable
    spill_factor: float  # ≥ 1
    queue_factor: float  # ≥ 1
    ahead: int

    @property
    def factor(self) -> float:
        return self.spill_factor * self.queue_factor

    @property
    def verdict(self) -> str:
        if self.factor <= 1.0:
            return OK
        return SPILL if self.spill_factor >= self.queue_factor else QUEUE


@dataclass(frozen=True)
class Capacity:
    """One ensemble's capacity verdict now."""

    ensemble: str
    verdict: str  # ok | spill | queue
    slowdown: float  # expected duration ÷ the unhindered duration (1.0 = ok)
    reason: str  # one line
    cpu_share: float | None = None
    ahead: int = 0
    slots: int | None = None
    wait_ms: int | None = None  # expected wait before the run starts (when a typical run is known)
    typical_ms: int | None = None
    models: tuple[ModelVerdict, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> bool:
        return self.verdict != OK

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "slowdown": round(self.slowdown, 2),
            "reason": self.reason,
            "cpu_share": None if self.cpu_share is None else round(self.cpu_share, 3),
            "requests_ahead": self.ahead,
            "slots": self.slots,
            "wait_ms": self.wait_ms,
            "typical_ms": self.typical_ms,
            "models": [
                {
                    "model": m.load.model,
                    "host": m.load.host,
                    "verdict": m.verdict,
                    "loaded": m.load.loaded,
                    "size": m.load.size,
                    "size_vram": m.load.size_vram,
                    "free_vram": m.load.free_vram,
                    "cpu_share": None if m.cpu_share is None else round(m.cpu_share, 3),
                    "slots": m.load.slots,
                    "slots_source": m.load.slots_source,
                    "in_flight": m.load.in_flight,
                    "in_flight_source": m.load.in_flight_source,
                    "factor": round(m.factor, 2),
                }
                for m in self.models
            ],
        }

    def row_flag(self) -> dict[str, Any]:
        """What a flagged plan row carries (``capacity`` on the row)."""
        return {"verdict": self.verdict, "slowdown": round(self.slowdown, 1), "reason": self.reason}


def cpu_share(load: ModelLoad) -> float | None:
    """The share of the model in system RAM, or ``None`` when it cannot be measured."""
    if not load.size or load.size <= 0:
        return None
    if load.loaded and load.size_vram is not None:
        if load.size_vram <= 0 and load.gpu is not True:
            return None  # all on the CPU of a host without a (known) GPU: its normal speed
        return max(0.0, min(1.0, 1.0 - load.size_vram / load.size))
    if load.gpu is False:
        return None
    if load.free_vram is None:
        return None
    return max(0.0, min(1.0, 1.0 - max(0, load.free_vram) / load.size))


def spill_factor(share: float | None, penalty: float = CPU_PENALTY) -> float:
    if share is None or share < SPILL_MIN_CPU_SHARE:
        return 1.0
    return (1.0 - share) + share * penalty


def queue_factor(in_flight: int, slots: int) -> float:
    slots = max(1, slots)
    if in_flight < slots:
        return 1.0
    return 1.0 + in_flight / slots


def judge_model(load: ModelLoad, *, penalty: float = CPU_PENALTY) -> ModelVerdict:
    share = cpu_share(load)
    ahead = max(0, load.in_flight)
    return ModelVerdict(load, share, spill_factor(share, penalty), queue_factor(ahead, load.slots), ahead)


def typical_duration_ms(durations: Iterable[int | float | None]) -> int | None:
    """The median of the completed runs' ``duration_ms`` (``None`` without any)."""
    values = [float(d) for d in durations if isinstance(d, int | float) and d > 0]
    return int(statistics.median(values)) if values else None


def _pct(share: float) -> str:
    return f"{round(share * 100)} %"


def times(factor: float) -> str:
    """``3`` for 3.0, ``4.4`` for 4.38 (the "~N×" of a reason)."""
    return f"{round(factor)}" if abs(factor - round(factor)) < 0.05 else f"{factor:.1f}"


def _seconds(ms: int) -> str:
    s = ms / 1000
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def ensemble_capacity(
    ensemble: str,
    loads: Sequence[ModelLoad],
    *,
    typical_ms: int | None = None,
    penalty: float = CPU_PENALTY,
) -> Capacity:
    """The ensemble's verdict: its worst model (see the module docstring)."""
    judged = tuple(judge_model(load, penalty=penalty) for load in loads)
    if not judged:
        return Capacity(ensemble, OK, 1.0, "no local model to measure", typical_ms=typical_ms)
    worst = max(judged, key=lambda m: m.factor)
    if worst.factor <= 1.0:
        return Capacity(
            ensemble, OK, 1.0, "fits: on the GPU with a free slot", typical_ms=typical_ms, models=judged
        )
    load = worst.load
    parts: list[str] = []
    wait_ms = None
    if worst.spill_factor > 1.0 and worst.cpu_share is not None:
        where = "runs" if load.loaded else "would run"
        parts.append(f"{load.model} {where} {_pct(worst.cpu_share)} on CPU")
    if worst.queue_factor > 1.0:
        plural = "request" if worst.ahead == 1 else "requests"
        slots = "slot" if load.slots == 1 else "slots"
        parts.append(f"{worst.ahead} {plural} ahead on {load.host} ({load.slots} {slots})")
        if typical_ms:
            wait_ms = int(typical_ms * worst.ahead / max(1, load.slots))
    what = "slower" if worst.spill_factor > 1.0 and worst.queue_factor <= 1.0 else "longer"
    reason = "; ".join(parts) + f" — ~{times(worst.factor)}× {what}"
    if wait_ms:
        reason += f" (~{_seconds(wait_ms)} wait)"
    return Capacity(
        ensemble,
        worst.verdict,
        worst.factor,
        reason,
        cpu_share=worst.cpu_share,
        ahead=worst.ahead,
        slots=load.slots,
        wait_ms=wait_ms,
        typical_ms=typical_ms,
        models=judged,
    )
